"""ReportService: aggregates for ministries and provinces, within the
caller's scope, and exports of them (CSV, Parquet) with a stated purpose."""

from __future__ import annotations

import csv
import hashlib
import hmac
import io
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator

import numpy as np
import sqlalchemy as sa

from tokhai_engine import MAX_TIME, MIN_TIME

from tokhai.v1 import reports_pb2 as pb
from tokhai.v1 import reports_pb2_grpc

from .. import db
from ..auth import Principal, Role
from ..errors import Exhausted, Invalid, PermissionDenied
from ..provinces import PROVINCES
from ..state import State
from .care import in_force_on, local_day
from .context import principal
from .tracing import LOCAL, purpose_of

DAY = 86_400
#: The longest window a count covers: a month (stays are kept 28 days).
MAX_DAYS = 31
CHUNK = 1 << 20
#: Health counts (symptoms, quarantine) from 1 to this less one are withheld
#: from analysts: a count of one or two in a ward or a facility points at
#: people. Tracers and admins, who act on the people, see them whole.
SMALL_CELL = 5
#: What a spreadsheet would run as a formula (OWASP's list).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def scope(who: Principal, province: str) -> str | None:
    """The province a request may see; None for the whole country."""
    if province:
        if province not in PROVINCES:
            raise Invalid(f"province_code {province!r} is not an official province code")
        who.require_province(province, "the request")
        return province
    if who.provincial:
        raise PermissionDenied(f"{who.name} sees province {who.province} only: give province_code")
    return None


def withheld(who: Principal, counts: dict[str, int], *together: tuple[str, ...]) -> dict[str, int | None]:
    """`counts` as `who` may see them: for analysts, those from 1 to
    SMALL_CELL - 1 are None, and so is each group in `together` of which
    one is (the others would give it away)."""
    if who.role is not Role.ANALYST:
        return dict(counts)
    small = {k for k, n in counts.items() if 0 < n < SMALL_CELL}
    for group in together:
        if small & set(group):
            small |= set(group)
    return {k: None if k in small else n for k, n in counts.items()}


Area = tuple[str, ...]


def area_totals(wards: dict[tuple[str, str, str], int]) -> Counter[Area]:
    """The counts of each ward (province, district, ward), and their sums
    per (province, district) and (province,)."""
    totals: Counter[Area] = Counter()
    for (province, district, ward), n in wards.items():
        for area in ((province,), (province, district), (province, district, ward)):
            totals[area] += n
    return totals


def withheld_areas(totals: Counter[Area], rank: Callable[[Area], bytes]) -> set[Area]:
    """The areas of `area_totals` whose count analysts do not see: those
    from 1 to SMALL_CELL - 1, and with them those that would tell one by
    subtraction, the counts shown of an area's parts taken from its total.

    An analyst who takes the parts shown from an area's total is left with
    the sum of those withheld, each at least its number of wards listed
    (a ward is listed when it has a count). In an area shown, the parts
    withheld are none, or two or more whose sum leaves each of them at
    least SMALL_CELL - 1 values: other parts are withheld with the small
    ones, in the order of `rank` (a keyed hash, so that which were picked
    tells nothing of their counts), and when even all of them would not
    do, the area is withheld too. In an area withheld, all its parts are.
    Whatever level a request asks for, it gets the same decisions."""
    withheld = {area for area, n in totals.items() if 0 < n < SMALL_CELL}
    wards = Counter(area[:length] for area, n in totals.items() if len(area) == 3 and n > 0 for length in (1, 2, 3))
    parts: defaultdict[Area, list[Area]] = defaultdict(list)
    for area, n in totals.items():
        if len(area) > 1 and n > 0:
            parts[area[:-1]].append(area)
    for some in parts.values():
        some.sort(key=rank)

    def hides(hidden: set[Area]) -> bool:
        # The sum less each one's least: the room each one's value has.
        room = sum(totals[a] - wards[a] for a in hidden)
        return len(hidden) >= 2 and room >= SMALL_CELL - 2

    # An area withheld for its parts changes what its own area must withhold:
    # again until nothing changes (withholding only grows).
    changed = True
    while changed:
        changed = False
        for whole, some in sorted(parts.items(), key=lambda item: len(item[0])):
            hidden = {area for area in some if area in withheld}
            if whole in withheld:
                hidden = set(some)
            elif hidden:
                others = (area for area in some if area not in hidden)
                while not hides(hidden):
                    more = next(others, None)
                    if more is None:
                        hidden.add(whole)
                        break
                    hidden.add(more)
            if not hidden <= withheld:
                withheld |= hidden
                changed = True
    return withheld


def _keyed(mac: hmac.HMAC, area: Area) -> bytes:
    mac = mac.copy()
    mac.update("-".join(area).encode())
    return mac.digest()


def days(request: pb.CountsRequest) -> list[int]:
    """Start of each local day the request covers."""
    if request.end <= request.start:
        raise Invalid(f"window [{request.start}, {request.end}) is empty")
    if not (MIN_TIME <= request.start and request.end <= MAX_TIME):
        raise Invalid(f"window [{request.start}, {request.end}) is not within 2000-01-01..2100-01-01")
    first = (request.start + LOCAL) // DAY * DAY - LOCAL
    count = -(-(request.end - first) // DAY)
    if count > MAX_DAYS:
        raise Invalid(f"the window spans {count:,} days; at most {MAX_DAYS}")
    return list(range(first, request.end, DAY))


def escape(cell: object) -> object:
    if isinstance(cell, str) and cell.startswith(FORMULA_STARTS):
        return "'" + cell
    return cell


class ReportServicer(reports_pb2_grpc.ReportServiceServicer):
    def __init__(self, state: State) -> None:
        self.state = state

    # --- aggregates -----------------------------------------------------------

    def _checkin_days(self, request: pb.CountsRequest) -> Iterator[list[tuple[str, int, int]]]:
        """The rows of each day in turn, the request checked first: a month
        of a nation's venues is tens of millions of rows, which an export
        writes a day at a time."""
        province = scope(principal(), request.province_code)
        if request.by not in (pb.LEVEL_PROVINCE, pb.LEVEL_DISTRICT, pb.LEVEL_WARD, pb.LEVEL_VENUE):
            raise Invalid("by must be PROVINCE, DISTRICT, WARD or VENUE")
        covered = days(request)
        v = db.venues.c
        query = sa.select(v.id, v.province, v.district, v.ward).order_by(v.id)
        if province is not None:
            query = query.where(v.province == province)
        with self.state.db.connect() as conn:
            venues = conn.execute(query).all()
        ids = np.array([r.id for r in venues], dtype=np.uint64)
        column = {pb.LEVEL_PROVINCE: 1, pb.LEVEL_DISTRICT: 2, pb.LEVEL_WARD: 3}.get(request.by)
        keys = np.array([str(r.id) if column is None else "-".join(r[1 : column + 1]) for r in venues], dtype=object)

        def of(day: int) -> list[tuple[str, int, int]]:
            venue, count = self.state.engine.checkins_per_venue(day, day + DAY)
            at = np.searchsorted(ids, venue).clip(max=max(len(ids) - 1, 0))
            mine = (ids[at] == venue) if len(ids) else np.zeros(len(venue), bool)
            if not mine.any():
                return []
            labels, where = np.unique(keys[at[mine]].astype(str), return_inverse=True)
            totals = np.bincount(where, weights=count[mine]).astype(np.int64)
            return [(str(k), day, int(n)) for k, n in zip(labels, totals, strict=True)]

        return map(of, covered)

    def CheckinCounts(self, request, context):  # noqa: N802, ANN001
        # Sized as it grows, a day at a time: a month of a nation's venues,
        # tens of millions of rows, would take gigabytes before the
        # transport's limit refused it (an export writes them instead).
        limit, size, rows = self.state.settings.max_message_bytes, 0, []
        for day in self._checkin_days(request):
            for k, d, n in day:
                row = pb.CountRow(key=k, day=d, count=n)
                length = row.ByteSize()
                size += 1 + (1 if length < 128 else 2) + length  # with its tag and length
                rows.append(row)
            if size > limit:
                raise Exhausted(f"the answer is over the {limit:,}-byte message limit by its day {d}: ask for fewer days or a coarser level, or Export it")
        return pb.CountsResponse(rows=rows)

    def _symptom_rows(self, request: pb.CountsRequest) -> list[tuple[str, int, int | None]]:
        who = principal()
        province = scope(who, request.province_code)
        level = {pb.LEVEL_PROVINCE: 1, pb.LEVEL_DISTRICT: 2, pb.LEVEL_WARD: 3}.get(request.by)
        if level is None:
            raise Invalid("by must be PROVINCE, DISTRICT or WARD")
        covered = days(request)
        d = db.declarations.c
        day = (d.at + LOCAL) // DAY
        # People, not declarations: one who declares symptoms at five
        # check-ins is one person, placed by their last declaration of the
        # day, or a count of 5 would show what the rule withholds. Last by
        # when it was made: an offline app's upload comes in after later ones.
        latest = sa.func.row_number().over(partition_by=(d.person_id, day), order_by=(d.at.desc(), d.id.desc()))
        ranked = (
            sa.select(d.id, latest.label("k"))
            .where(d.symptoms != "", d.at >= covered[0], d.at < covered[-1] + DAY)
            .subquery()
        )
        # By ward whatever the level asked: what analysts may see is decided
        # over every level at once.
        query = (
            sa.select(d.province, d.district, d.ward, day.label("day"), sa.func.count().label("n"))
            .select_from(db.declarations.join(ranked, sa.and_(d.id == ranked.c.id, ranked.c.k == 1)))
            .group_by(d.province, d.district, d.ward, day)
        )
        if province is not None:
            query = query.where(d.province == province)
        by_day: defaultdict[int, dict[tuple[str, str, str], int]] = defaultdict(dict)
        with self.state.db.connect() as conn:
            for r in conn.execute(query):
                by_day[int(r.day)][(r.province, r.district, r.ward)] = int(r.n)
        rows = []
        for local_day, wards in by_day.items():
            totals = area_totals(wards)
            hidden: set[Area] = set()
            if who.role is Role.ANALYST:
                # The same order at every call for a day, which analysts cannot work out.
                mac = hmac.new(self.state.withhold_key, str(local_day).encode(), hashlib.sha256)
                hidden = withheld_areas(totals, lambda area: _keyed(mac, area))
            start = local_day * DAY - LOCAL
            # Declarations that gave no place are one row at every level, "".
            rows += [("-".join(area) if area[0] else "", start, None if area in hidden else n) for area, n in totals.items() if len(area) == level]
        return sorted(rows, key=lambda r: (r[1], r[0]))

    def SymptomCounts(self, request, context):  # noqa: N802, ANN001
        rows = self._symptom_rows(request)
        return pb.CountsResponse(rows=[pb.CountRow(key=k, day=d, count=n or 0, withheld=n is None) for k, d, n in rows])

    def _venue_rows(self, province_code: str) -> list[tuple[str, int, int, int]]:
        province = scope(principal(), province_code)
        v, s = db.venues.c, db.safety_assessments.c
        latest = sa.select(s.venue_id, sa.func.max(s.id).label("id")).group_by(s.venue_id).subquery()
        level = sa.func.coalesce(s.level, 0)
        query = (
            sa.select(v.province, v.kind, level.label("level"), sa.func.count().label("n"))
            .select_from(db.venues.outerjoin(latest, latest.c.venue_id == v.id).outerjoin(db.safety_assessments, s.id == latest.c.id))
            .where(v.active.is_(True))
            .group_by(v.province, v.kind, level)
            .order_by(v.province, v.kind, level)
        )
        if province is not None:
            query = query.where(v.province == province)
        with self.state.db.connect() as conn:
            return [(r.province, r.kind, r.level, r.n) for r in conn.execute(query)]

    def VenueCounts(self, request, context):  # noqa: N802, ANN001
        rows = self._venue_rows(request.province_code)
        return pb.VenueCountsResponse(rows=[pb.VenueCountRow(province_code=p, kind=k, safety_level=lv, count=n) for p, k, lv, n in rows])

    def _quarantine_rows(self, province_code: str, t: int) -> list[tuple[str, str, int | None, int | None, int | None, int | None]]:
        who = principal()
        province = scope(who, province_code)
        if t and not MIN_TIME <= t < MAX_TIME:
            raise Invalid(f"day {t} is not within 2000-01-01..2100-01-01")
        day = local_day(t or int(time.time()))
        o, r = db.quarantine_orders.c, db.health_reports.c
        query = (
            sa.select(
                o.province,
                o.place,
                sa.func.count(sa.distinct(o.person_id)).label("active"),
                sa.func.count(sa.distinct(r.person_id)).label("reported"),
                sa.func.count(sa.distinct(sa.case((r.warning.is_(True), r.person_id)))).label("warning"),
            )
            .select_from(db.quarantine_orders.outerjoin(db.health_reports, (r.person_id == o.person_id) & (r.day == day)))
            .where(in_force_on(day))
            .group_by(o.province, o.place)
            .order_by(o.province, o.place)
        )
        if province is not None:
            query = query.where(o.province == province)
        with self.state.db.connect() as conn:
            found = conn.execute(query).all()
        rows = []
        for x in found:
            counts = {"active": x.active, "reported": x.reported, "warning": x.warning, "not_reported": x.active - x.reported}
            if x.active >= SMALL_CELL:
                shown = withheld(who, counts, ("reported", "not_reported"))
                # No more warnings than reports: beside the pair withheld, a
                # count of warnings shown bounds it (5 of 6 under an order
                # warned: so 5 reported, and 1 did not).
                if shown["reported"] is None:
                    shown["warning"] = None
            else:
                # Few under an order there: every count of the place is about them.
                shown = withheld(who, counts, tuple(counts))
            rows.append((x.province, x.place, *shown.values()))
        return rows

    def QuarantineCounts(self, request, context):  # noqa: N802, ANN001
        names = ("active", "reported", "warning", "not_reported")
        out = pb.QuarantineCountsResponse()
        for province, place, *counts in self._quarantine_rows(request.province_code, request.day):
            row = out.rows.add(province_code=province, place=place, **{k: n or 0 for k, n in zip(names, counts, strict=True)})
            row.withheld.extend(k for k, n in zip(names, counts, strict=True) if n is None)
        return out

    # --- exports ----------------------------------------------------------------

    def Export(self, request, context):  # noqa: N802, ANN001
        who = principal()
        purpose = purpose_of(request.purpose)
        counts = request.counts
        if request.format not in (pb.FORMAT_CSV, pb.FORMAT_PARQUET):
            raise Invalid("format must be CSV or PARQUET")
        match request.dataset:
            case pb.DATASET_CHECKINS_PER_DAY:
                header, parts = ("key", "day", "checkins"), self._checkin_days(counts)
            case pb.DATASET_SYMPTOMS_PER_DAY:
                header, parts = ("key", "day", "people_with_symptoms"), [self._symptom_rows(counts)]
            case pb.DATASET_VENUES:
                header, parts = ("province", "kind", "safety_level", "venues"), [self._venue_rows(counts.province_code)]
            case pb.DATASET_QUARANTINE:
                header, parts = ("province", "place", "active", "reported", "warning", "not_reported"), [self._quarantine_rows(counts.province_code, counts.start)]
            case _:
                raise Invalid("dataset is required")
        # Audited once the request is known to be good, before any of it is sent.
        self.state.audit.record(
            who, "Export", purpose, 0, {"dataset": pb.Dataset.Name(request.dataset), "format": pb.Format.Name(request.format), "province": counts.province_code}
        )
        write = _csv if request.format == pb.FORMAT_CSV else _parquet
        for data in write(header, parts):
            yield pb.ExportChunk(data=data)


class _Pending(io.RawIOBase):
    """A file that is written to and handed on in CHUNK-byte pieces."""

    def __init__(self) -> None:
        self.data, self.written = bytearray(), 0

    def writable(self) -> bool:
        return True

    def write(self, b) -> int:  # noqa: ANN001 - bytes-like
        self.data += b
        self.written += len(b)
        return len(b)

    def tell(self) -> int:
        return self.written

    def take(self, everything: bool = False) -> Iterator[bytes]:
        while len(self.data) >= CHUNK or (everything and self.data):
            yield bytes(self.data[:CHUNK])
            del self.data[:CHUNK]


def _csv(header: tuple[str, ...], parts: Iterable[list[tuple]]) -> Iterator[bytes]:
    """The CSV file of `parts`' rows, written a part (a day) at a time."""
    out, text = _Pending(), io.StringIO()
    csv.writer(text).writerow(header)
    for rows in parts:
        csv.writer(text).writerows([escape(c) for c in row] for row in rows)
        out.write(text.getvalue().encode())
        text.seek(0)
        text.truncate()
        yield from out.take()
    out.write(text.getvalue().encode())
    yield from out.take(everything=True)


def _parquet(header: tuple[str, ...], parts: Iterable[list[tuple]]) -> Iterator[bytes]:
    """The Parquet file of `parts`' rows, a row group a part (a day)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    out, writer = _Pending(), None
    for rows in parts:
        if rows:
            table = pa.table({name: [row[i] for row in rows] for i, name in enumerate(header)})
            writer = writer or pq.ParquetWriter(out, table.schema, compression="zstd")
            writer.write_table(table, row_group_size=len(rows))
            yield from out.take()
    if writer is None:  # no rows: the columns, empty
        pq.write_table(pa.table({name: [] for name in header}), out, compression="zstd")
    else:
        writer.close()
    yield from out.take(everything=True)
