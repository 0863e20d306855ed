"""Aggregates and exports for ministries and provinces, within scope."""

from __future__ import annotations

import csv
import hashlib
import io
import itertools

import grpc
import numpy as np
import pyarrow.parquet as pq
from hypothesis import example, given, settings
from hypothesis import strategies as st

from tokhai.v1 import care_pb2 as H
from tokhai.v1 import checkins_pb2 as C
from tokhai.v1 import common_pb2 as K
from tokhai.v1 import reports_pb2 as R
from tokhai.v1 import venues_pb2 as V
from tokhai_server import audit
from tokhai_server.services import reports

NCOVI = K.SOURCE_APP_NCOVI
LOCAL = 7 * 3_600


def export(who, **kw) -> bytes:
    return b"".join(c.data for c in who.reports.Export(R.ExportRequest(**kw), metadata=who.md, timeout=30))


def test_counts_match_the_data_and_respect_scope(service, now, monkeypatch):
    admin = service.client("admin")
    app = service.client("app_backend", app=NCOVI)
    hcm = [service.venue(admin, name=f"HCM {i}", province="79") for i in range(3)]
    hanoi_venue, hanoi_payload = service.venue(admin, name="Hà Nội", province="01")
    rng = np.random.default_rng(3)
    day0 = (now + LOCAL) // 86_400 * 86_400 - LOCAL - 2 * 86_400  # two local days ago
    expected: dict[tuple[str, int], int] = {}
    for n in range(60):
        venue, payload = hcm[int(rng.integers(3))]
        t = day0 + int(rng.integers(0, 2 * 86_400))
        app.checkins.CheckIn(C.CheckInRequest(person=K.PersonRef(phone=f"09{n:08d}"), venue_payload=payload, time=t, source=NCOVI), metadata=app.md)
        day = (t + LOCAL) // 86_400 * 86_400 - LOCAL
        expected[(str(venue.id), day)] = expected.get((str(venue.id), day), 0) + 1
    app.checkins.CheckIn(C.CheckInRequest(person=K.PersonRef(phone="0900000999"), venue_payload=hanoi_payload, time=day0 + 100, source=NCOVI), metadata=app.md)

    analyst = service.client("analyst", province="79")
    window = R.CountsRequest(province_code="79", by=R.LEVEL_VENUE, start=day0, end=day0 + 2 * 86_400)
    got = analyst.reports.CheckinCounts(window, metadata=analyst.md).rows
    assert {(r.key, r.day): r.count for r in got} == expected, "per venue and day, Hà Nội's not among them"
    # Exports are written a day at a time (a row group a day) and sent in
    # pieces (small here, so that a file takes many): the same rows.
    monkeypatch.setattr(reports, "CHUNK", 100)
    for fmt in (R.FORMAT_CSV, R.FORMAT_PARQUET):
        nothing = export(analyst, dataset=R.DATASET_CHECKINS_PER_DAY, format=fmt, counts=R.CountsRequest(province_code="79", by=R.LEVEL_VENUE, start=day0 - 9 * 86_400, end=day0 - 8 * 86_400), purpose="báo cáo Sở")
        assert nothing == b"key,day,checkins\r\n" if fmt == R.FORMAT_CSV else pq.read_table(io.BytesIO(nothing)).column_names == ["key", "day", "checkins"]
        data = export(analyst, dataset=R.DATASET_CHECKINS_PER_DAY, format=fmt, counts=window, purpose="báo cáo Sở")
        if fmt == R.FORMAT_CSV:
            table = list(csv.reader(io.StringIO(data.decode())))
            assert table[0] == ["key", "day", "checkins"]
            rows = {(k, int(d)): int(n) for k, d, n in table[1:]}
        else:
            parquet = pq.ParquetFile(io.BytesIO(data))
            assert parquet.metadata.num_row_groups == len({d for _, d in expected})
            rows = {(k, d): n for k, d, n in zip(*parquet.read().to_pydict().values(), strict=True)}
        assert rows == expected
    by_ward = analyst.reports.CheckinCounts(R.CountsRequest(province_code="79", by=R.LEVEL_WARD, start=day0, end=day0 + 2 * 86_400), metadata=analyst.md).rows
    assert {r.key for r in by_ward} == {"79-760-26740"} and sum(r.count for r in by_ward) == 60

    for request, code in [
        (R.CountsRequest(province_code="01", by=R.LEVEL_WARD, start=day0, end=now), grpc.StatusCode.PERMISSION_DENIED),
        (R.CountsRequest(by=R.LEVEL_WARD, start=day0, end=now), grpc.StatusCode.PERMISSION_DENIED),
        (R.CountsRequest(province_code="79", start=day0, end=now), grpc.StatusCode.INVALID_ARGUMENT),
        (R.CountsRequest(province_code="79", by=R.LEVEL_WARD, start=now, end=day0), grpc.StatusCode.INVALID_ARGUMENT),
    ]:
        try:
            analyst.reports.CheckinCounts(request, metadata=analyst.md, timeout=10)
            raise AssertionError(f"{request} was answered")
        except grpc.RpcError as e:
            assert e.code() is code
    national = service.client("analyst", name="Bộ Y tế")
    everywhere = national.reports.CheckinCounts(R.CountsRequest(by=R.LEVEL_PROVINCE, start=day0, end=day0 + 2 * 86_400), metadata=national.md).rows
    assert {r.key: 0 for r in everywhere}.keys() == {"79", "01"} and sum(r.count for r in everywhere) == 61
    admin_of_01 = service.client("admin", province="01")  # admins act everywhere, whatever their key says
    assert admin_of_01.reports.CheckinCounts(R.CountsRequest(by=R.LEVEL_PROVINCE, start=day0, end=day0 + 2 * 86_400), metadata=admin_of_01.md).rows == everywhere


def possible_counts(totals: dict[tuple[str, ...], int], withheld: set[tuple[str, ...]]) -> dict[tuple[str, ...], set[int]]:
    """Every count each withheld area could have, for all an analyst can
    tell from every level's answers: the counts shown, each area's total
    being the sum of its parts, and each ward listed having 1 or more. By
    brute force, a province at a time (its wards withheld get every split
    of what its total leaves them)."""
    possible: dict[tuple[str, ...], set[int]] = {a: set() for a in withheld}
    wards = [a for a, n in totals.items() if len(a) == 3 and n > 0]
    for province in {(w[0],) for w in wards}:
        mine = [w for w in wards if w[0] == province[0]]
        unknown = [w for w in mine if w in withheld]
        if province in withheld or not unknown:
            assert province not in withheld or set(unknown) == set(mine), "all of a withheld area's parts are withheld"
            for a in withheld:  # unbounded above: as good as anything
                if a[0] == province[0]:
                    possible[a] |= set(range(1, 100))
            continue
        left = totals[province] - sum(totals[w] for w in mine if w not in withheld)
        for cuts in itertools.combinations(range(1, left), len(unknown) - 1):
            split = dict(zip(unknown, np.diff((0, *cuts, left)).tolist(), strict=True))
            value = {**{w: totals[w] for w in mine}, **split}
            sums = {a: sum(v for w, v in value.items() if w[: len(a)] == a) for a in totals if a[0] == province[0]}
            if all(sums[a] == totals[a] for a in sums if a not in withheld):
                for a in sums:
                    if a in withheld:
                        possible[a].add(sums[a])
    return possible


@settings(max_examples=300, deadline=None)
@given(
    st.dictionaries(st.tuples(st.sampled_from("12"), st.sampled_from("ab"), st.sampled_from("xy")), st.integers(0, 9), max_size=8),
    st.binary(max_size=4),
)
# Two districts, 2 and 3, could be shown to hide each other; but their four
# wards, each at least 1, leave each district 2 or 3: the province goes too.
@example({("1", "a", "x"): 1, ("1", "a", "y"): 1, ("1", "b", "x"): 1, ("1", "b", "y"): 2}, b"")
def test_no_withheld_symptom_count_comes_back_from_the_others(wards, salt):
    """Against every level at once, brute force: small counts are withheld,
    and none withheld (small or not) is narrowed to fewer than 4 values by
    what is shown."""
    totals = reports.area_totals(wards)
    withheld = reports.withheld_areas(totals, lambda area: hashlib.sha256(salt + "-".join(area).encode()).digest())
    assert {a for a, n in totals.items() if 0 < n < reports.SMALL_CELL} <= withheld
    assert not any(totals[a] == 0 for a in withheld), "nothing to hide in a zero"
    for area, values in possible_counts(totals, withheld).items():
        assert totals[area] in values
        assert len(values) >= reports.SMALL_CELL - 1, (area, sorted(values))


def test_symptom_counts_count_each_person_once_a_day_where_they_last_declared(service, now):
    """One person declaring symptoms at five check-ins is one person: a
    count of 5 would let the small-cell rule show them to analysts."""
    app = service.client("app_backend", app=NCOVI)

    def declare(phone: str, ward: str, at: int) -> None:
        fever = H.Declaration(symptoms=[H.SYMPTOM_FEVER], province_code="79", district_code="761" if ward == "26800" else "760", ward_code=ward)
        app.care.Declare(H.DeclareRequest(person=K.PersonRef(phone=phone), time=at, source=NCOVI, declaration=fever), metadata=app.md)

    for k in range(5):
        declare("0900000001", "26800", now - 50 + k)
    declare("0900000002", "26800", now - 40)  # then moved on: counted where last declared
    declare("0900000002", "26740", now - 30)
    declare("0900000002", "26800", now - 45)  # made before both, uploaded late by an offline app
    wards = R.CountsRequest(province_code="79", by=R.LEVEL_WARD, start=now - 60, end=now + 60)
    tracer, analyst = service.client("tracer", province="79"), service.client("analyst", province="79")
    assert {r.key: r.count for r in tracer.reports.SymptomCounts(wards, metadata=tracer.md).rows} == {"79-761-26800": 1, "79-760-26740": 1}
    rows = analyst.reports.SymptomCounts(wards, metadata=analyst.md).rows
    assert {r.key: (r.count, r.withheld) for r in rows} == {"79-761-26800": (0, True), "79-760-26740": (0, True)}


def test_symptoms_venues_and_quarantine_counts(service, now):
    admin = service.client("admin")
    app = service.client("app_backend", app=NCOVI)
    operator = service.client("venue_operator", province="79")
    venue, payload = service.venue(operator, province="79", kind=V.VENUE_KIND_CAFE)
    operator.venues.SubmitSafetyAssessment(V.SubmitSafetyAssessmentRequest(venue_id=venue.id, checklist=V.SafetyChecklist(masks=True)), metadata=operator.md)
    service.venue(admin, province="79", kind=V.VENUE_KIND_CAFE, name="chưa tự đánh giá")
    fever = H.Declaration(symptoms=[H.SYMPTOM_FEVER], province_code="79", district_code="761", ward_code="26800")
    for n in range(3):
        app.care.Declare(H.DeclareRequest(person=K.PersonRef(phone=f"09{n:08d}"), time=now, source=NCOVI, declaration=fever), metadata=app.md)
    app.checkins.CheckIn(  # a declaration with a check-in: the venue's ward
        C.CheckInRequest(person=K.PersonRef(phone="0911111111"), venue_payload=payload, time=now, source=NCOVI, declaration=H.Declaration(symptoms=[H.SYMPTOM_COUGH])),
        metadata=app.md,
    )
    analyst = service.client("analyst", province="79")
    tracer = service.client("tracer", province="79")
    wards = R.CountsRequest(province_code="79", by=R.LEVEL_WARD, start=now - 60, end=now + 60)
    rows = tracer.reports.SymptomCounts(wards, metadata=tracer.md).rows
    assert {r.key: (r.count, r.withheld) for r in rows} == {"79-761-26800": (3, False), "79-760-26740": (1, False)}
    # So few people in a ward could be told apart: analysts see that there were some.
    rows = analyst.reports.SymptomCounts(wards, metadata=analyst.md).rows
    assert {r.key: (r.count, r.withheld) for r in rows} == {"79-761-26800": (0, True), "79-760-26740": (0, True)}
    for n in range(3, 5):
        app.care.Declare(H.DeclareRequest(person=K.PersonRef(phone=f"09{n:08d}"), time=now, source=NCOVI, declaration=fever), metadata=app.md)
    # Ward 26800's 5 could be shown, but not beside the province's 6, which
    # less district 761's 5 would give district 760's 1: 761 is withheld
    # with it, and so are all their wards, whatever level is asked for.
    by = {
        level: {r.key: (r.count, r.withheld) for r in analyst.reports.SymptomCounts(R.CountsRequest(province_code="79", by=level, start=now - 60, end=now + 60), metadata=analyst.md).rows}
        for level in (R.LEVEL_PROVINCE, R.LEVEL_DISTRICT, R.LEVEL_WARD)
    }
    assert by == {
        R.LEVEL_PROVINCE: {"79": (6, False)},
        R.LEVEL_DISTRICT: {"79-761": (0, True), "79-760": (0, True)},
        R.LEVEL_WARD: {"79-761-26800": (0, True), "79-760-26740": (0, True)},
    }

    # A declaration that gave no place: one row, "", at every level.
    app.care.Declare(H.DeclareRequest(person=K.PersonRef(phone="0922222222"), time=now, source=NCOVI, declaration=H.Declaration(symptoms=[H.SYMPTOM_FEVER])), metadata=app.md)
    national = service.client("tracer", name="Bộ Y tế")
    for level in (R.LEVEL_PROVINCE, R.LEVEL_DISTRICT, R.LEVEL_WARD):
        rows = national.reports.SymptomCounts(R.CountsRequest(by=level, start=now - 60, end=now + 60), metadata=national.md).rows
        assert {r.key: r.count for r in rows}[""] == 1 and sum(r.count for r in rows) == 7

    venues = analyst.reports.VenueCounts(R.VenueCountsRequest(province_code="79"), metadata=analyst.md).rows
    assert {(r.kind, r.safety_level): r.count for r in venues} == {(V.VENUE_KIND_CAFE, V.SAFETY_LEVEL_HIGH_RISK): 1, (V.VENUE_KIND_CAFE, 0): 1}

    facility = "=HYPERLINK(\"http://evil\",\"Khu cách ly A\")"
    service.resident(*(K.PersonRef(phone=f"0{k}{n:08d}") for k in (8, 9) for n in range(4)))
    tracer.care.OrderQuarantine(
        H.OrderQuarantineRequest(
            people=[K.PersonRef(phone=f"09{n:08d}") for n in range(3)], kind=H.QUARANTINE_KIND_FACILITY, province_code="79", place=facility,
            start=now, planned_end=now + 86_400, purpose="F0 sốt",
        ),
        metadata=tracer.md,
    )
    app.care.ReportHealth(H.ReportHealthRequest(person=K.PersonRef(phone="0900000000"), time=now, source=NCOVI, temperature_c=39.0), metadata=app.md)
    q = tracer.reports.QuarantineCounts(R.QuarantineCountsRequest(province_code="79", day=now), metadata=tracer.md).rows
    assert [(r.place, r.active, r.reported, r.warning, r.not_reported, list(r.withheld)) for r in q] == [(facility, 3, 1, 1, 2, [])]
    q = analyst.reports.QuarantineCounts(R.QuarantineCountsRequest(province_code="79", day=now), metadata=analyst.md).rows
    assert [(r.place, r.active, list(r.withheld)) for r in q] == [(facility, 0, ["active", "reported", "warning", "not_reported"])], "three people: all withheld"
    tracer.care.OrderQuarantine(
        H.OrderQuarantineRequest(
            people=[K.PersonRef(phone=f"08{n:08d}") for n in range(4)], kind=H.QUARANTINE_KIND_FACILITY, province_code="79", place=facility,
            start=now, planned_end=now + 86_400, purpose="F1 cách ly",
        ),
        metadata=tracer.md,
    )
    q = analyst.reports.QuarantineCounts(R.QuarantineCountsRequest(province_code="79", day=now), metadata=analyst.md).rows
    assert [(r.active, r.reported, r.warning, r.not_reported, list(r.withheld)) for r in q] == [(7, 0, 0, 0, ["reported", "warning", "not_reported"])], (
        "one reported (so six did not): both withheld, as each gives the other"
    )
    for n in range(1, 3):  # four reported, all warned: the warning count alone is not small
        app.care.ReportHealth(H.ReportHealthRequest(person=K.PersonRef(phone=f"09{n:08d}"), time=now, source=NCOVI, temperature_c=39.0), metadata=app.md)
    app.care.ReportHealth(H.ReportHealthRequest(person=K.PersonRef(phone="0800000000"), time=now, source=NCOVI, temperature_c=39.0), metadata=app.md)
    assert [(r.reported, r.warning) for r in tracer.reports.QuarantineCounts(R.QuarantineCountsRequest(province_code="79", day=now), metadata=tracer.md).rows] == [(4, 4)]
    app.care.ReportHealth(H.ReportHealthRequest(person=K.PersonRef(phone="0800000001"), time=now, source=NCOVI, temperature_c=39.0), metadata=app.md)
    q = analyst.reports.QuarantineCounts(R.QuarantineCountsRequest(province_code="79", day=now), metadata=analyst.md).rows
    assert [(r.active, r.warning, list(r.withheld)) for r in q] == [(7, 0, ["reported", "warning", "not_reported"])], (
        "5 warned of 7, shown, would leave 5 or 6 reported: 1 or 2 did not"
    )

    # Exports: formulas cannot run in a spreadsheet; withheld counts are empty; Parquet reads back; all audited.
    before = audit.count(service.server.state.db)
    text = export(analyst, dataset=R.DATASET_QUARANTINE, format=R.FORMAT_CSV, counts=R.CountsRequest(province_code="79", start=now), purpose="báo cáo Sở").decode()
    table = list(csv.reader(io.StringIO(text)))
    assert table[0] == ["province", "place", "active", "reported", "warning", "not_reported"]
    assert table[1][1] == "'" + facility and table[1][2:] == ["7", "", "", ""]
    text = export(tracer, dataset=R.DATASET_QUARANTINE, format=R.FORMAT_CSV, counts=R.CountsRequest(province_code="79", start=now), purpose="báo cáo Sở").decode()
    assert list(csv.reader(io.StringIO(text)))[1][2:] == ["7", "5", "5", "2"]
    parquet = export(analyst, dataset=R.DATASET_VENUES, format=R.FORMAT_PARQUET, counts=R.CountsRequest(province_code="79"), purpose="báo cáo Sở")
    assert pq.read_table(io.BytesIO(parquet)).column("venues").to_pylist() == [1, 1]
    assert audit.count(service.server.state.db) == before + 3
    try:
        export(analyst, dataset=R.DATASET_VENUES, format=R.FORMAT_CSV, counts=R.CountsRequest(province_code="79"))
        raise AssertionError("an export without a purpose was answered")
    except grpc.RpcError as e:
        assert e.code() is grpc.StatusCode.INVALID_ARGUMENT
