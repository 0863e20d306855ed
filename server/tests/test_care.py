"""What follows a trace: declarations and entry advice, quarantine orders
from a trace, daily reports and line lists, exposure alerts, retention."""

from __future__ import annotations

import hashlib
import json
import random
import time

import grpc
import pytest
import sqlalchemy as sa

from tokhai.v1 import care_pb2 as H
from tokhai.v1 import checkins_pb2 as C
from tokhai.v1 import common_pb2 as K
from tokhai.v1 import tracing_pb2 as T
from tokhai_server import audit, db, retention

NCOVI = K.SOURCE_APP_NCOVI


def refusal(call, *args, **kwargs) -> tuple[grpc.StatusCode, str]:
    try:
        call(*args, timeout=10, **kwargs)
    except grpc.RpcError as e:
        return e.code(), e.details()
    raise AssertionError("the call succeeded")


def status(call, *args, **kwargs) -> grpc.StatusCode:
    return refusal(call, *args, **kwargs)[0]


def phone(n: int) -> K.PersonRef:
    return K.PersonRef(phone=f"09{n:08d}")


def check_in(app, payload, who, t, **kw) -> C.CheckInResponse:
    return app.checkins.CheckIn(C.CheckInRequest(person=who, venue_payload=payload, time=t, source=NCOVI, **kw), metadata=app.md, timeout=10)


def test_declarations_give_entry_advice(service, now):
    admin = service.client("admin")
    app = service.client("app_backend", app=NCOVI)
    _, payload = service.venue(admin)
    assert check_in(app, payload, phone(1), now - 600).advice.advice == H.ADVICE_ALLOW

    coughing = H.Declaration(symptoms=[H.SYMPTOM_COUGH, H.SYMPTOM_FEVER], vaccine_doses=2)
    declared = app.care.Declare(H.DeclareRequest(person=phone(2), time=now, source=NCOVI, declaration=coughing), metadata=app.md)
    assert declared.advice.advice == H.ADVICE_REFER_TO_SCREENING and declared.advice.reasons == ["declared symptoms"]
    assert check_in(app, payload, phone(2), now).advice.advice == H.ADVICE_REFER_TO_SCREENING

    exposed = H.Declaration(case_contact=H.CASE_CONTACT_CONFIRMED)
    advice = check_in(app, payload, phone(3), now, declaration=exposed).advice
    assert advice.reasons == ["declared contact with a case"]

    bad = H.Declaration(symptoms=[42])
    assert status(app.care.Declare, H.DeclareRequest(person=phone(4), time=now, source=NCOVI, declaration=bad), metadata=app.md) is grpc.StatusCode.INVALID_ARGUMENT
    assert status(app.care.Declare, H.DeclareRequest(person=phone(4), time=now, source=K.SOURCE_APP_BLUEZONE), metadata=app.md) is grpc.StatusCode.PERMISSION_DENIED
    # No declaration at all is not an all-clear: refused, and the fever stands.
    assert status(app.care.Declare, H.DeclareRequest(person=phone(2), time=now + 1, source=NCOVI), metadata=app.md) is grpc.StatusCode.INVALID_ARGUMENT
    assert check_in(app, payload, phone(2), now + 2).advice.advice == H.ADVICE_REFER_TO_SCREENING


def test_trace_to_quarantine_to_daily_reports_and_line_lists(service, now):
    admin = service.client("admin")
    app = service.client("app_backend", app=NCOVI)
    venue, payload = service.venue(admin, province="79")
    for n in range(4):  # person 0 is the case; 1..3 shared the venue with them
        check_in(app, payload, phone(n), now - 3_600 + n)
    with service.server.state.db.begin() as conn:
        person_3 = service.server.state.people.of_ref(phone(3))[0]
        conn.execute(db.contacts.insert().values(person_id=person_3, name="Lê Văn C", phone="0933333333", updated_at=now))

    tracer = service.client("tracer", province="79")
    traced = tracer.tracing.Trace(
        T.TraceRequest(cases=[T.Case(person=phone(0), province_code="79", start=now - 7_200, end=now)], hops=1, min_overlap_seconds=60, purpose="ổ dịch chợ"),
        metadata=tracer.md,
    )
    f1 = [p for p, hop in zip(traced.people.person_id, traced.people.hop, strict=True) if hop == 1]
    assert len(f1) == 3
    ordered = tracer.care.OrderQuarantine(
        H.OrderQuarantineRequest(
            person_ids=f1, kind=H.QUARANTINE_KIND_HOME, province_code="79", place="26740", start=now, planned_end=now + 14 * 86_400, purpose="F1 của ổ dịch chợ"
        ),
        metadata=tracer.md,
    )
    assert sorted(o.person.id for o in ordered.orders) == sorted(f1) and all(o.active for o in ordered.orders)
    assert check_in(app, payload, phone(1), now).advice.reasons == ["under an active quarantine order"]

    report = H.ReportHealthRequest(person=phone(1), time=now, source=NCOVI, temperature_c=37.0, spo2_percent=98)
    assert app.care.ReportHealth(report, metadata=app.md).under_quarantine
    worse = H.ReportHealthRequest(person=phone(1), time=now + 1, source=NCOVI, temperature_c=38.9, spo2_percent=94)
    again = app.care.ReportHealth(worse, metadata=app.md)
    assert again.replaced and again.warning, "one report a day counts: the later one replaces it"
    # Signs seen once that day stay for the staff, whatever comes after (from this app or another).
    bluezone = service.client("app_backend", name="bluezone", app=K.SOURCE_APP_BLUEZONE)
    better = H.ReportHealthRequest(person=phone(1), time=now + 2, source=K.SOURCE_APP_BLUEZONE, temperature_c=36.9, spo2_percent=98)
    assert not bluezone.care.ReportHealth(better, metadata=bluezone.md).replaced
    app.care.ReportHealth(H.ReportHealthRequest(person=phone(2), time=now, source=NCOVI, temperature_c=36.8), metadata=app.md)
    assert status(app.care.ReportHealth, H.ReportHealthRequest(person=phone(2), time=now, source=NCOVI, temperature_c=80), metadata=app.md) is grpc.StatusCode.INVALID_ARGUMENT

    def line_list(kind, who=tracer, province="79"):
        return who.care.ListLineList(H.LineListRequest(list=kind, province_code=province, place="26740", day=now, purpose="giám sát hằng ngày"), metadata=who.md)

    missing = line_list(H.LINE_LIST_NOT_REPORTED_TODAY)
    assert [e.order.person.id for e in missing.entries] == [person_3] and missing.entries[0].contact.phone == "0933333333"
    warning = line_list(H.LINE_LIST_WARNING_SIGNS)
    assert len(warning.entries) == 1 and warning.entries[0].spo2_percent == 94
    with service.server.state.db.connect() as conn:
        read = conn.execute(sa.select(db.audit_log).order_by(db.audit_log.c.seq.desc()).limit(2)).all()
    assert [(r.action, r.purpose, r.people) for r in read] == [("ListLineList", "giám sát hằng ngày", 1)] * 2, "each line list read is audited"
    hanoi = service.client("tracer", province="01")
    assert status(hanoi.care.ListLineList, H.LineListRequest(list=H.LINE_LIST_WARNING_SIGNS, province_code="79", purpose="xem"), metadata=hanoi.md) is grpc.StatusCode.PERMISSION_DENIED
    ward_staff = service.client("health_staff", province="79", place="26740")
    assert len(line_list(H.LINE_LIST_WARNING_SIGNS, who=ward_staff).entries) == 1
    other_ward = H.LineListRequest(list=H.LINE_LIST_WARNING_SIGNS, province_code="79", place="26741", purpose="xem")
    assert status(ward_staff.care.ListLineList, other_ward, metadata=ward_staff.md) is grpc.StatusCode.PERMISSION_DENIED
    assert status(tracer.care.ListLineList, H.LineListRequest(list=H.LINE_LIST_WARNING_SIGNS, province_code="79"), metadata=tracer.md) is grpc.StatusCode.INVALID_ARGUMENT

    # Ending an order stops monitoring: no line list, no reports kept.
    order_1 = next(o for o in ordered.orders if o.person.id == service.server.state.people.of_ref(phone(1))[0])
    ended = tracer.care.EndQuarantine(H.EndQuarantineRequest(order_id=order_1.id, reason="hết 14 ngày, xét nghiệm âm tính"), metadata=tracer.md)
    assert not ended.active and ended.end_reason.startswith("hết")
    with service.server.state.db.connect() as conn:
        record = conn.execute(sa.select(db.audit_log).order_by(db.audit_log.c.seq.desc())).first()
    assert record.action == "EndQuarantine" and "âm tính" not in record.purpose, "a health outcome is no purpose kept for good"
    assert json.loads(record.detail)["reason"] == ended.end_reason, "it is in the detail, which retention wipes"
    assert not app.care.ReportHealth(report, metadata=app.md).under_quarantine
    assert [e.order.id for e in line_list(H.LINE_LIST_WARNING_SIGNS).entries] == []
    # Another province's order is refused as a missing one is: alike, so
    # that the refusal does not tell where its person is quarantined.
    other = next(o for o in ordered.orders if o.id != order_1.id)
    elsewhere = refusal(hanoi.care.EndQuarantine, H.EndQuarantineRequest(order_id=other.id, reason="x"), metadata=hanoi.md)
    missing = refusal(hanoi.care.EndQuarantine, H.EndQuarantineRequest(order_id=10**9, reason="x"), metadata=hanoi.md)
    assert elsewhere[0] is grpc.StatusCode.NOT_FOUND and elsewhere[1].replace(str(other.id), "N") == missing[1].replace(str(10**9), "N")
    assert tracer.care.EndQuarantine(H.EndQuarantineRequest(order_id=other.id, reason="x"), metadata=tracer.md).end_reason == "x", "its province's tracer ends it"
    assert list(audit.verify(service.server.state.db)) == []


def test_retention_wipes_audit_details_and_the_chain_still_holds(service, now, monkeypatch):
    from tokhai_server.auth import Principal, Role

    monkeypatch.setattr(db, "BATCH", 2)
    state = service.server.state
    tracer = Principal(7, "Tracer", Role.TRACER, "79", None)
    for _ in range(2):
        state.audit.record(tracer, "Trace", "ổ dịch chợ", 2, {"cases": ["bí-danh-1", "bí-danh-2"]})
    # A record from before details were chained by their hash keeps its detail.
    a = db.audit_log.c
    with state.db.begin() as conn:
        prev = conn.execute(sa.select(a.hash).order_by(a.seq.desc()).limit(1)).scalar()
        legacy = {"at": int(time.time()), "principal_id": 7, "principal": "Tracer", "role": "tracer", "action": "VenueLog", "purpose": "x", "people": 1, "detail": "{}"}
        conn.execute(db.audit_log.insert().values(**legacy, prev_hash=prev, hash=audit._digest(prev, legacy)))
    assert list(audit.verify(state.db)) == []

    retention.run(state, now=int(time.time()) + 29 * 86_400)  # every record so far is past the period
    with state.db.connect() as conn:
        rows = conn.execute(sa.select(db.audit_log).order_by(a.seq)).all()
    traces = [r for r in rows if r.action == "Trace"]
    assert len(traces) == 2 and all(r.detail == audit.WIPED and r.detail_salt is None and r.people == 2 and r.purpose == "ổ dịch chợ" for r in traces)
    assert not any("bí-danh" in r.detail for r in rows), "the pseudonyms are gone"
    assert next(r for r in rows if r.action == "VenueLog").detail == "{}", "a legacy record keeps its detail (its hash covers it)"
    last = rows[-1]
    assert last.action == "Retention" and json.loads(last.detail)["audit_details_wiped"] >= 2
    assert list(audit.verify(state.db)) == []
    assert {seq for seq, _ in audit.verify(state.db, wiped_before=0)} >= {r.seq for r in traces}, "wiped inside the period: flagged"

    # The detail is still checked while it is held: by its own hash.
    with state.db.begin() as conn:
        conn.execute(db.audit_log.update().where(a.seq == last.seq).values(detail='{"orders_ended": 0}'))
    assert [what for _, what in audit.verify(state.db)] == ["its detail was altered (it does not match its hash)"]
    # ... and the chain covers that hash, and which way the record is chained.
    for forged in ({"detail_hash": "0" * 64}, {"detail_hash": None}):
        with state.db.begin() as conn:
            conn.execute(db.audit_log.update().where(a.seq == last.seq).values(detail=last.detail, **forged))
        assert [seq for seq, _ in audit.verify(state.db)] == [last.seq], forged
    if state.db.dialect.name == "sqlite":  # the hourly wipe reads the records not wiped yet, not the whole log
        with state.db.connect() as conn:
            plan = conn.exec_driver_sql("EXPLAIN QUERY PLAN SELECT rowid FROM audit_log WHERE detail_hash IS NOT NULL AND detail != '' AND at < 5").all()
        assert "ix_audit_log_unwiped" in str(plan)


def test_exposure_alerts_reach_the_people_who_were_there(service, now):
    admin = service.client("admin")
    app = service.client("app_backend", app=NCOVI)
    venue, payload = service.venue(admin, province="79")
    other, other_payload = service.venue(admin, province="79", name="Quán khác")
    check_in(app, payload, phone(1), now - 7_000)
    check_in(app, other_payload, phone(2), now - 7_000)
    tracer = service.client("tracer", province="79")
    published = tracer.care.PublishAlerts(
        H.PublishAlertsRequest(alerts=[H.VenueAlert(venue_id=venue.id, start=now - 7_200, end=now - 3_600, level=H.ALERT_LEVEL_GET_TESTED, message="Liên hệ y tế")], purpose="ổ dịch"),
        metadata=tracer.md,
    )
    alert = published.alerts[0]
    assert alert.venue_name == venue.name and alert.expires_at > now

    seen = app.care.ListExposures(H.ListExposuresRequest(person=phone(1)), metadata=app.md)
    assert [e.alert.id for e in seen.exposures] == [alert.id] and seen.exposures[0].start == now - 7_000
    assert app.care.ListExposures(H.ListExposuresRequest(person=phone(2)), metadata=app.md).exposures == []
    assert [a.id for a in app.care.ListVenueAlerts(H.ListVenueAlertsRequest(), metadata=app.md).alerts] == [alert.id]
    assert "exposure alert" in check_in(app, other_payload, phone(1), now).advice.reasons[0]

    hanoi = service.client("tracer", province="01")
    assert status(hanoi.care.RetractAlert, H.RetractAlertRequest(alert_id=alert.id), metadata=hanoi.md) is grpc.StatusCode.PERMISSION_DENIED
    tracer.care.RetractAlert(H.RetractAlertRequest(alert_id=alert.id), metadata=tracer.md)
    assert app.care.ListExposures(H.ListExposuresRequest(person=phone(1)), metadata=app.md).exposures == []
    assert app.care.ListVenueAlerts(H.ListVenueAlertsRequest(), metadata=app.md).alerts == []
    empty = H.PublishAlertsRequest(alerts=[H.VenueAlert(venue_id=venue.id, start=now, end=now, level=1)], purpose="x-check")
    assert status(tracer.care.PublishAlerts, empty, metadata=tracer.md) is grpc.StatusCode.INVALID_ARGUMENT


def test_retention_deletes_old_data_from_the_store_and_the_database(service, now):
    admin = service.client("admin")
    app = service.client("app_backend", app=NCOVI)
    _, payload = service.venue(admin)
    state = service.server.state
    old = now - 27 * 86_400
    # Sent late, by an app that was offline: its contact details go with it.
    check_in(app, payload, phone(1), old, declaration=H.Declaration(symptoms=[H.SYMPTOM_COUGH]), contact=K.ContactDetails(name="A", phone="0900000001"))
    check_in(app, payload, phone(2), now - 60, contact=K.ContactDetails(name="B", phone="0900000002"))
    check_in(app, payload, phone(2), old, contact=K.ContactDetails(name="B cũ", phone="0900000009"))  # older details change nothing
    assert len(state.engine) == 3
    removed = retention.run(state, now=now + 2 * 86_400)  # two days on, the first check-ins are past 28 days
    assert removed["stays"] == 2 and removed["declarations"] == 1 and removed["contacts"] == 1
    assert len(state.engine) == 1
    with state.db.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(db.declarations)).scalar_one() == 0
        assert conn.execute(sa.select(db.contacts.c.person_id, db.contacts.c.phone)).all() == [(state.people.of_ref(phone(2))[0], "0900000002")]
        last = conn.execute(sa.select(db.audit_log).order_by(db.audit_log.c.seq.desc())).first()
    assert last.action == "Retention" and last.people == sum(removed.values())
    stays_dir = service.data_dir / "stays"
    person_1 = state.people.of_ref(phone(1))[0].to_bytes(8, "little")
    assert not any(person_1 in p.read_bytes() for p in stays_dir.iterdir() if p.is_file()), "gone from the store's files"
    wal = service.data_dir / "tokhai.db-wal"
    if state.db.dialect.name == "sqlite":  # the deleted rows' old pages are not left in SQLite's log
        assert wal.stat().st_size == 0

    # Orders: one whose release was never recorded, and one under way.
    tracer = service.client("tracer", province="79")
    service.resident(phone(3), phone(4))
    for person, planned_end in ((phone(3), now + 86_400), (phone(4), now + 40 * 86_400)):
        order = H.OrderQuarantineRequest(people=[person], kind=H.QUARANTINE_KIND_HOME, province_code="79", place="26740", start=now, planned_end=planned_end, purpose="F1 ổ dịch")
        tracer.care.OrderQuarantine(order, metadata=tracer.md)
    later = now + 30 * 86_400  # the first order's planned end is 29 days past
    assert state.risk.reasons(state.people.of_ref(phone(3))[0], later) == ["under an active quarantine order"]
    removed = retention.run(state, now=later)
    o = db.quarantine_orders.c
    with state.db.connect() as conn:
        assert conn.execute(sa.select(o.active, o.end_reason).order_by(o.id)).all() == [(False, retention.FORGOTTEN), (True, None)]
        last = conn.execute(sa.select(db.audit_log).order_by(db.audit_log.c.seq.desc())).first()
    assert json.loads(last.detail)["orders_ended"] == 1 and last.people == sum(removed.values()), "ended, not counted as deleted"
    assert state.risk.reasons(state.people.of_ref(phone(3))[0], later) == []
    assert state.risk.reasons(state.people.of_ref(phone(4))[0], later) == ["under an active quarantine order"]
    assert retention.run(state, now=later + 29 * 86_400)["quarantine_orders"] == 1, "deleted a period after it was ended"


def test_a_retention_run_whose_store_fails_says_its_count_of_stays_is_unknown(service, now, monkeypatch):
    """The store may have expired stays before it failed (a file it could
    not delete yet): a count of 0 would say nothing was deleted."""
    from tokhai_engine import StoreError

    state = service.server.state

    def failing(engine, cutoff: int) -> int:  # noqa: ANN001
        raise StoreError("delete part-1.tkp: read-only file system")

    monkeypatch.setattr(type(state.engine), "expire_before", failing)  # the class: its instances take no attributes
    with pytest.raises(StoreError):
        retention.run(state, now=now)
    monkeypatch.undo()
    with state.db.connect() as conn:
        last = conn.execute(sa.select(db.audit_log).order_by(db.audit_log.c.seq.desc())).first()
    assert last.action == "Retention" and json.loads(last.detail)["stays"] == "unknown: delete part-1.tkp: read-only file system"


def test_retention_deletes_alerts_nobody_is_shown_and_those_past_the_period(service, now):
    admin = service.client("admin")
    app = service.client("app_backend", app=NCOVI)
    tracer = service.client("tracer", province="79")
    venue, _ = service.venue(admin, province="79")
    state = service.server.state

    def publish(start: int, expires_at: int = 0) -> int:
        alert = H.VenueAlert(venue_id=venue.id, start=start, end=start + 3_600, level=H.ALERT_LEVEL_MONITOR, expires_at=expires_at)
        return tracer.care.PublishAlerts(H.PublishAlertsRequest(alerts=[alert], purpose="ổ dịch"), metadata=tracer.md).alerts[0].id

    publish(now - 27 * 86_400, expires_at=now + 20 * 86_400)  # live for weeks, its window past the period in three days
    retracted = publish(now - 7_200)
    publish(now - 7_200, expires_at=now + 2 * 86_400)  # expired in three days
    kept = publish(now - 7_200)
    tracer.care.RetractAlert(H.RetractAlertRequest(alert_id=retracted), metadata=tracer.md)
    assert retention.run(state, now=now + 86_400)["alerts"] == 0, "a retraction is answered again for two days"
    removed = retention.run(state, now=now + 3 * 86_400)
    assert removed["alerts"] == 3
    with state.db.connect() as conn:
        assert conn.execute(sa.select(db.alerts.c.id)).scalars().all() == [kept]
    assert [a.id for a in app.care.ListVenueAlerts(H.ListVenueAlertsRequest(), metadata=app.md).alerts] == [kept], "nor held in memory"


def test_retention_deletes_a_batch_at_a_time(service, now, monkeypatch):
    """Exactly the rows past their time go (or change), a batch at a time,
    from tables keyed by one column and by two."""
    monkeypatch.setattr(db, "BATCH", 3)
    database = service.server.state.db
    service.client("admin")  # a principal, whose kept answers these are
    with database.begin() as conn:
        principal = conn.execute(sa.select(db.principals.c.id)).scalars().first()
        conn.execute(db.requests.insert(), [{"principal_id": principal, "request_id": f"r{k}", "method": "CheckIn", "response": b"", "created_at": now - k} for k in range(10)])
        alerts = [{"venue_id": 1, "start": 0, "end": 1, "level": 1, "message": "", "published_by": 1, "published_at": 0, "expires_at": now - k} for k in range(8)]
        conn.execute(db.alerts.insert(), alerts)
    assert db.in_batches(database, db.requests.delete(), db.requests.c.created_at < now - 2) == 7
    assert db.in_batches(database, db.alerts.delete(), db.alerts.c.expires_at <= now - 6) == 2
    assert db.in_batches(database, db.alerts.update().values(message="hết hạn"), (db.alerts.c.expires_at <= now - 1) & (db.alerts.c.message != "hết hạn")) == 5
    with database.connect() as conn:
        assert sorted(conn.execute(sa.select(db.requests.c.request_id)).scalars()) == ["r0", "r1", "r2"]
        assert sorted(conn.execute(sa.select(db.alerts.c.expires_at)).scalars()) == [now - k for k in range(5, -1, -1)]
        assert [m for (m,) in conn.execute(sa.select(db.alerts.c.message).order_by(db.alerts.c.expires_at))] == ["hết hạn"] * 5 + [""]


def test_entry_advice_survives_a_restart(service, now, database_url):
    from harness import Client, start

    admin = service.client("admin")
    app = service.client("app_backend", app=NCOVI)
    tracer = service.client("tracer", province="79")
    _, payload = service.venue(admin)
    app.care.Declare(H.DeclareRequest(person=phone(1), time=now - 100, source=NCOVI, declaration=H.Declaration(symptoms=[H.SYMPTOM_FEVER])), metadata=app.md)
    app.care.Declare(H.DeclareRequest(person=phone(2), time=now - 200, source=NCOVI, declaration=H.Declaration(symptoms=[H.SYMPTOM_FEVER])), metadata=app.md)
    app.care.Declare(H.DeclareRequest(person=phone(2), time=now - 100, source=NCOVI, declaration=H.Declaration()), metadata=app.md)
    service.resident(phone(3))
    tracer.care.OrderQuarantine(
        H.OrderQuarantineRequest(people=[phone(3)], kind=H.QUARANTINE_KIND_HOME, province_code="79", place="26740", start=now, planned_end=now + 86_400, purpose="F1 ổ dịch"),
        metadata=tracer.md,
    )
    # Alerts: one live where person 4 was, one retracted where person 5 was.
    market, market_payload = service.venue(admin, name="Chợ đêm")
    check_in(app, market_payload, phone(4), now - 3_000)
    check_in(app, market_payload, phone(5), now - 9_000)
    window = {"venue_id": market.id, "level": H.ALERT_LEVEL_MONITOR}
    live, gone = tracer.care.PublishAlerts(
        H.PublishAlertsRequest(alerts=[H.VenueAlert(start=now - 3_600, end=now - 1_800, **window), H.VenueAlert(start=now - 10_000, end=now - 8_000, **window)], purpose="ổ dịch"),
        metadata=tracer.md,
    ).alerts
    tracer.care.RetractAlert(H.RetractAlertRequest(alert_id=gone.id), metadata=tracer.md)
    service.channel.close()
    service.server.stop(grace=1)
    again = start(service.data_dir, database_url)
    try:
        app2 = Client(again.channel, app.key)
        assert check_in(app2, payload, phone(1), now).advice.reasons == ["declared symptoms"]
        assert check_in(app2, payload, phone(2), now).advice.advice == H.ADVICE_ALLOW, "the later, clean declaration counts"
        assert check_in(app2, payload, phone(3), now).advice.reasons == ["under an active quarantine order"]
        assert check_in(app2, payload, phone(4), now).advice.reasons == ["an exposure alert names a venue the person was at"]
        assert check_in(app2, payload, phone(5), now).advice.advice == H.ADVICE_ALLOW, "a retracted alert stays retracted"
        assert [e.alert.id for e in app2.care.ListExposures(H.ListExposuresRequest(person=phone(4)), metadata=app2.md).exposures] == [live.id]
    finally:
        again.channel.close()
        again.server.stop(grace=1)
    service.server = again.server


def test_venue_safety_levels_history_and_alert_flags(service, now):
    from tokhai.v1 import venues_pb2 as V

    operator = service.client("venue_operator", province="79")
    venue, _ = service.venue(operator, province="79")
    weak = V.SafetyChecklist(masks=True, qr_checkin_at_entrance=True)
    first = operator.venues.SubmitSafetyAssessment(V.SubmitSafetyAssessmentRequest(venue_id=venue.id, checklist=weak), metadata=operator.md)
    assert (first.score, first.level) == (35, V.SAFETY_LEVEL_HIGH_RISK)
    full = V.SafetyChecklist(**{f.name: True for f in V.SafetyChecklist.DESCRIPTOR.fields})
    second = operator.venues.SubmitSafetyAssessment(V.SubmitSafetyAssessmentRequest(venue_id=venue.id, checklist=full), metadata=operator.md)
    assert (second.score, second.level) == (100, V.SAFETY_LEVEL_SAFE)
    history = operator.venues.SafetyHistory(V.SafetyHistoryRequest(venue_id=venue.id), metadata=operator.md).assessments
    assert [a.score for a in history] == [35, 100] and history[0].checklist == weak

    tracer = service.client("tracer", province="79")
    listed = tracer.venues.ListVenueSafety(V.ListVenueSafetyRequest(province_code="79"), metadata=tracer.md).venues
    assert [(v.venue_id, v.assessment.level, v.under_alert) for v in listed] == [(venue.id, V.SAFETY_LEVEL_SAFE, False)]

    assert tracer.venues.ListVenueSafety(V.ListVenueSafetyRequest(province_code="79", level=V.SAFETY_LEVEL_RISK), metadata=tracer.md).venues == []
    tracer.care.PublishAlerts(
        H.PublishAlertsRequest(alerts=[H.VenueAlert(venue_id=venue.id, start=now - 600, end=now, level=H.ALERT_LEVEL_MONITOR)], purpose="ổ dịch"), metadata=tracer.md
    )
    assert tracer.venues.ListVenueSafety(V.ListVenueSafetyRequest(province_code="79"), metadata=tracer.md).venues[0].under_alert
    hanoi = service.client("tracer", province="01")
    assert status(hanoi.venues.ListVenueSafety, V.ListVenueSafetyRequest(province_code="79"), metadata=hanoi.md) is grpc.StatusCode.PERMISSION_DENIED
    stranger = service.client("venue_operator", name="stranger")
    request = V.SubmitSafetyAssessmentRequest(venue_id=venue.id, checklist=full)
    assert status(stranger.venues.SubmitSafetyAssessment, request, metadata=stranger.md) is grpc.StatusCode.PERMISSION_DENIED

    # More venues, here and in another province, each assessed a few times:
    # each of the province's venues with its latest, by id.
    rng = random.Random(5)
    latest = {venue.id: V.SAFETY_LEVEL_SAFE}
    names = [f.name for f in V.SafetyChecklist.DESCRIPTOR.fields]
    for k in range(8):
        province = "79" if k % 3 else "01"
        owner = operator if province == "79" else service.client("venue_operator", province="01", name=f"op{k}")
        other, _ = service.venue(owner, province=province)
        for _ in range(rng.randint(1, 3)):
            checklist = V.SafetyChecklist(**{n: rng.random() < 0.6 for n in names})
            made = owner.venues.SubmitSafetyAssessment(V.SubmitSafetyAssessmentRequest(venue_id=other.id, checklist=checklist), metadata=owner.md)
            if province == "79":
                latest[other.id] = made.level
    whole = tracer.venues.ListVenueSafety(V.ListVenueSafetyRequest(province_code="79"), metadata=tracer.md)
    assert [(v.venue_id, v.assessment.level) for v in whole.venues] == sorted(latest.items()) and whole.next_after_venue_id == 0
    # A page at a time: the same venues, each once, in the same order.
    pages, after = [], 0
    while True:
        page = tracer.venues.ListVenueSafety(V.ListVenueSafetyRequest(province_code="79", after_venue_id=after, page_size=2), metadata=tracer.md)
        pages.append([v.venue_id for v in page.venues])
        if not page.next_after_venue_id:
            break
        assert page.next_after_venue_id == page.venues[-1].venue_id
        after = page.next_after_venue_id
    assert [v for p in pages for v in p] == sorted(latest) and [len(p) for p in pages] == [2, 2, 2]
    high = [v for v, level in sorted(latest.items()) if level == V.SAFETY_LEVEL_HIGH_RISK]
    by_level = tracer.venues.ListVenueSafety(V.ListVenueSafetyRequest(province_code="79", level=V.SAFETY_LEVEL_HIGH_RISK, page_size=1), metadata=tracer.md)
    assert [v.venue_id for v in by_level.venues] == high[:1] and by_level.next_after_venue_id == (high[0] if len(high) > 1 else 0)
    past = V.ListVenueSafetyRequest(province_code="79", after_venue_id=2**63)
    assert status(tracer.venues.ListVenueSafety, past, metadata=tracer.md) is grpc.StatusCode.INVALID_ARGUMENT


def test_the_demo_runs_the_whole_workflow(service, tmp_path):
    from rich.console import Console

    from tokhai_server import demo

    keys = {
        "admin": service.client("admin").key,
        "operator": service.client("venue_operator", province="79").key,
        "tracer": service.client("tracer", province="79").key,
        "analyst": service.client("analyst").key,
        **{f"app{a}": service.client("app_backend", app=a).key for a in demo.APPS},
    }
    screen = Console(record=True, width=120)
    demo.run(service.channel, keys, tmp_path, venues=24, people=150, days=2, cases=2, seed=3, console=screen)
    text = screen.export_text()
    assert "F1" in text and "Check-ins per district" in text
    assert (tmp_path / "poster.png").read_bytes().startswith(b"\x89PNG")
    state = service.server.state
    assert len(state.engine) > 150 and list(audit.verify(state.db)) == []


def test_refusals_found_in_review_store_nothing_and_say_why(service, now):
    from tokhai.v1 import reports_pb2 as R
    from tokhai.v1 import venues_pb2 as V

    admin = service.client("admin")
    app = service.client("app_backend", app=NCOVI)
    tracer = service.client("tracer", province="79")
    venue, payload = service.venue(admin, province="79")
    admin.venues.DeactivateVenue(V.DeactivateVenueRequest(venue_id=venue.id), metadata=admin.md)
    request = C.CheckInRequest(
        person=phone(1), venue_payload=payload, time=now, source=NCOVI,
        contact=K.ContactDetails(name="A", phone="0900000001"), declaration=H.Declaration(symptoms=[H.SYMPTOM_COUGH]),
    )
    assert status(app.checkins.CheckIn, request, metadata=app.md) is grpc.StatusCode.FAILED_PRECONDITION
    with service.server.state.db.connect() as conn:
        for table in (db.contacts, db.declarations):
            assert conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one() == 0, f"{table.name} written by a refused call"

    assert status(admin.venues.GetVenue, V.GetVenueRequest(venue_id=2**64 - 1), metadata=admin.md) is grpc.StatusCode.NOT_FOUND
    assert status(app.checkins.CheckIn, C.CheckInRequest(person=phone(1), venue_payload="TKH1.².1.x", time=now, source=NCOVI), metadata=app.md) is grpc.StatusCode.INVALID_ARGUMENT
    nul = H.OrderQuarantineRequest(people=[phone(2)], kind=H.QUARANTINE_KIND_HOME, province_code="79", place="26740", start=now, planned_end=now + 9, purpose="x\x00yz")
    assert status(tracer.care.OrderQuarantine, nul, metadata=tracer.md) is grpc.StatusCode.INVALID_ARGUMENT
    analyst = service.client("analyst")
    huge = R.CountsRequest(by=R.LEVEL_PROVINCE, start=0, end=2**48)
    assert status(analyst.reports.CheckinCounts, huge, metadata=analyst.md) is grpc.StatusCode.INVALID_ARGUMENT

    # Ending an order twice: the second is refused, and a second order still counts.
    service.resident(phone(3))
    two = [
        tracer.care.OrderQuarantine(
            H.OrderQuarantineRequest(people=[phone(3)], kind=H.QUARANTINE_KIND_HOME, province_code="79", place="26740", start=now, planned_end=now + 99, purpose="F1 lần " + n),
            metadata=tracer.md,
        ).orders[0]
        for n in ("1", "2")
    ]
    tracer.care.EndQuarantine(H.EndQuarantineRequest(order_id=two[0].id, reason="xong"), metadata=tracer.md)
    again = H.EndQuarantineRequest(order_id=two[0].id, reason="xong")
    assert status(tracer.care.EndQuarantine, again, metadata=tracer.md) is grpc.StatusCode.FAILED_PRECONDITION
    person_3 = service.server.state.people.of_ref(phone(3))[0]
    assert service.server.state.risk.reasons(person_3, now) == ["under an active quarantine order"]
    # With a request id, a retry gets the first answer: the caller learns it ended the order.
    with_id = H.EndQuarantineRequest(request_id="e-1", order_id=two[1].id, reason="xong")
    ended = tracer.care.EndQuarantine(with_id, metadata=tracer.md)
    assert not ended.active and tracer.care.EndQuarantine(with_id, metadata=tracer.md) == ended
    assert service.server.state.risk.reasons(person_3, now) == []


def test_a_bulk_check_out_closes_the_open_stay(service, now):
    admin = service.client("admin")
    app = service.client("app_backend", app=NCOVI)
    _, payload = service.venue(admin)
    stay = check_in(app, payload, phone(1), now - 600)
    close = C.IngestBatch(batch_id=1, source=NCOVI, checkout_stay_ids=[stay.stay_id], checkout_person_refs=["phone:0900000001"], checkout_t_out=[now - 300])
    list(app.checkins.IngestCheckins(iter([close]), metadata=app.md, timeout=10))
    back = check_in(app, payload, phone(1), now - 200)
    assert not back.repeated and back.stay_id != stay.stay_id, "a closed stay is not open any more"
    stays = service.server.state.engine.stays_between(now - 3_600, now + 3_600)
    assert dict(zip(stays.stay_id.tolist(), stays.t_out.tolist()))[stay.stay_id] == now - 300, "and its real end is kept"


def test_more_refusals_found_in_review(service, now):
    """Second review: each of these was stored, wrongly, or refused with
    the wrong status."""
    admin = service.client("admin")
    app = service.client("app_backend", app=NCOVI)
    tracer = service.client("tracer", province="79")
    venue, payload = service.venue(admin, province="79")
    # An alert window in the future: refused (it broke every check-in's advice).
    ahead = H.VenueAlert(venue_id=venue.id, start=now + 3_600, end=now + 7_200, level=H.ALERT_LEVEL_MONITOR)
    assert status(tracer.care.PublishAlerts, H.PublishAlertsRequest(alerts=[ahead], purpose="ổ dịch"), metadata=tracer.md) is grpc.StatusCode.INVALID_ARGUMENT
    lasting = H.VenueAlert(venue_id=venue.id, start=now - 60, end=now, level=H.ALERT_LEVEL_MONITOR, expires_at=now + 400 * 86_400)
    assert status(tracer.care.PublishAlerts, H.PublishAlertsRequest(alerts=[lasting], purpose="ổ dịch"), metadata=tracer.md) is grpc.StatusCode.INVALID_ARGUMENT
    # A request id with a control character: refused on every database.
    assert status(app.checkins.CheckIn, C.CheckInRequest(person=phone(1), venue_payload=payload, time=now, source=NCOVI, request_id="a\x00b"), metadata=app.md) is grpc.StatusCode.INVALID_ARGUMENT
    # A check-out that has not happened yet, in a bulk batch.
    future = C.IngestBatch(batch_id=7, source=NCOVI, person_refs=["cccd:001200000001"], venue_ids=[venue.id], t_in=[now - 60], t_out=[now + 60 * 86_400])
    assert status(lambda *a, **k: list(app.checkins.IngestCheckins(iter([future]), **k)), metadata=app.md) is grpc.StatusCode.INVALID_ARGUMENT
    assert len(service.server.state.engine) == 0
    # An order ended at a time in milliseconds would never expire.
    service.resident(phone(3))
    order = tracer.care.OrderQuarantine(
        H.OrderQuarantineRequest(people=[phone(3)], kind=H.QUARANTINE_KIND_HOME, province_code="79", place="26740", start=now - 60, planned_end=now + 99, purpose="F1 tại nhà"),
        metadata=tracer.md,
    ).orders[0]
    millis = H.EndQuarantineRequest(order_id=order.id, reason="xong", time=now * 1_000)
    assert status(tracer.care.EndQuarantine, millis, metadata=tracer.md) is grpc.StatusCode.INVALID_ARGUMENT
    # An order not begun yet (made before starts were checked) can be called off.
    with service.server.state.db.begin() as conn:
        conn.execute(db.quarantine_orders.update().where(db.quarantine_orders.c.id == order.id).values(start=now * 1_000))
    assert not tracer.care.EndQuarantine(H.EndQuarantineRequest(order_id=order.id, reason="nhầm"), metadata=tracer.md).active
    # A malformed reference is not repeated back (errors reach logs).
    try:
        check_in(app, payload, K.PersonRef(phone="84912345678"), now)
    except grpc.RpcError as e:
        assert e.code() is grpc.StatusCode.INVALID_ARGUMENT and "84912345678" not in e.details()
    else:
        raise AssertionError("a phone without 0 or +84 was taken")


def test_a_late_scan_does_not_close_the_open_stay(service, now):
    """A scan forwarded late (an app offline for a while) is an earlier
    stay, over by the time the open one began."""
    admin = service.client("admin")
    app = service.client("app_backend", app=NCOVI)
    a, payload_a = service.venue(admin)
    b, payload_b = service.venue(admin)
    open_ = check_in(app, payload_a, phone(1), now - 100)
    late = check_in(app, payload_b, phone(1), now - 1_000)
    assert late.provisional_t_out == now - 100 and not late.repeated
    assert check_in(app, payload_a, phone(1), now - 50).repeated, "the stay at A is still the open one"
    # Uploaded after the open stay's provisional end, a scan made during it still closes it.
    old = check_in(app, payload_a, phone(2), now - 3 * 3_600)  # open until 2 h ago
    check_in(app, payload_b, phone(2), now - int(2.5 * 3_600))
    stays = service.server.state.engine.stays_between(now - 4 * 3_600, now)
    assert dict(zip(stays.stay_id.tolist(), stays.t_out.tolist()))[old.stay_id] == now - int(2.5 * 3_600)
    app.checkins.CheckOut(C.CheckOutRequest(person_at_venue=C.PersonAtVenue(person=phone(1), venue_id=a.id), time=now - 10), metadata=app.md)
    stays = service.server.state.engine.stays_between(now - 3_600, now + 3_600)
    assert sorted(zip(stays.venue.tolist(), stays.t_in.tolist(), stays.t_out.tolist())) == sorted([(a.id, now - 100, now - 10), (b.id, now - 1_000, now - 100)])


def test_reads_of_a_persons_data_are_audited_by_pseudonym(service, now):
    admin = service.client("admin")
    app = service.client("app_backend", app=NCOVI)
    tracer = service.client("tracer", province="79")
    venue, payload = service.venue(admin, province="79")
    check_in(app, payload, phone(1), now - 600)
    alert = H.VenueAlert(venue_id=venue.id, start=now - 900, end=now - 300, level=H.ALERT_LEVEL_MONITOR)
    tracer.care.PublishAlerts(H.PublishAlertsRequest(alerts=[alert], purpose="ổ dịch"), metadata=tracer.md)
    assert app.care.ListExposures(H.ListExposuresRequest(person=phone(1)), metadata=app.md).exposures
    case = T.Case(person=phone(1), province_code="79", start=now - 3_600, end=now)
    tracer.tracing.Trace(T.TraceRequest(cases=[case], hops=1, purpose="ca F0"), metadata=tracer.md)
    pseudonym = service.server.state.people.of_ref(phone(1))[1]
    with service.server.state.db.connect() as conn:
        rows = {r.action: r for r in conn.execute(sa.select(db.audit_log))}
    assert pseudonym in rows["ListExposures"].detail and pseudonym in rows["Trace"].detail
    assert "0900000001" not in rows["Trace"].detail


def test_answers_kept_for_retries_go_after_two_days(service, now):
    admin = service.client("admin")
    app = service.client("app_backend", app=NCOVI)
    _, payload = service.venue(admin)
    state = service.server.state
    first = check_in(app, payload, phone(1), now - 60, request_id="r-1")
    assert retention.run(state, now=now + 86_400)["kept_answers"] == 0
    assert check_in(app, payload, phone(1), now - 60, request_id="r-1") == first
    assert retention.run(state, now=now + 3 * 86_400)["kept_answers"] == 1


def test_care_findings_of_the_third_review(service, now):
    """Orders, reports, declarations and line lists, as a late-arriving or
    mistyped call could break them."""
    admin = service.client("admin")
    app = service.client("app_backend", app=NCOVI)
    tracer = service.client("tracer", province="79")
    venue, payload = service.venue(admin, province="79")

    def order(*who, start=now - 600, planned_end=now + 14 * 86_400, **kw):
        service.resident(*who)
        request = H.OrderQuarantineRequest(people=list(who), kind=H.QUARANTINE_KIND_HOME, province_code="79", place="26740", start=start, planned_end=planned_end, purpose="F1 tại nhà", **kw)
        return tracer.care.OrderQuarantine(request, metadata=tracer.md)

    # Impossible dates: a start in milliseconds, a 1970 order, a year-long one.
    for start, end in [(now * 1_000, now * 1_000 + 9), (1, 2), (now, now + 400 * 86_400)]:
        assert status(tracer.care.OrderQuarantine, H.OrderQuarantineRequest(people=[phone(9)], kind=H.QUARANTINE_KIND_HOME, province_code="79", place="26740", start=start, planned_end=end, purpose="F1 tại nhà"), metadata=tracer.md) is grpc.StatusCode.INVALID_ARGUMENT
    # An alert's end in milliseconds.
    alert = H.VenueAlert(venue_id=venue.id, start=now - 3_600, end=now * 1_000, level=H.ALERT_LEVEL_MONITOR)
    assert status(tracer.care.PublishAlerts, H.PublishAlertsRequest(alerts=[alert], purpose="ổ dịch"), metadata=tracer.md) is grpc.StatusCode.INVALID_ARGUMENT

    # Two orders for one person: one line-list entry.
    order(phone(1))
    order(phone(1), start=now - 300)
    entries = tracer.care.ListLineList(H.LineListRequest(list=H.LINE_LIST_NOT_REPORTED_TODAY, province_code="79", place="26740", day=now, purpose="giám sát"), metadata=tracer.md).entries
    assert [e.order.person.id for e in entries] == [service.server.state.people.of_ref(phone(1))[0]]
    # A day before the orders began: nobody was under one.
    before = H.LineListRequest(list=H.LINE_LIST_NOT_REPORTED_TODAY, province_code="79", place="26740", day=now - 3 * 86_400, purpose="giám sát")
    assert list(tracer.care.ListLineList(before, metadata=tracer.md).entries) == []

    # The day's later report stands when an earlier one arrives late.
    later = H.ReportHealthRequest(person=phone(1), time=now, source=NCOVI, temperature_c=39.2, spo2_percent=91)
    assert app.care.ReportHealth(later, metadata=app.md).warning
    earlier = H.ReportHealthRequest(person=phone(1), time=now - 60, source=NCOVI, temperature_c=36.8, spo2_percent=98)
    assert not app.care.ReportHealth(earlier, metadata=app.md).replaced
    warnings = tracer.care.ListLineList(H.LineListRequest(list=H.LINE_LIST_WARNING_SIGNS, province_code="79", place="26740", day=now, purpose="giám sát"), metadata=tracer.md)
    assert len(warnings.entries) == 1 and warnings.entries[0].spo2_percent == 91
    breathless = H.ReportHealthRequest(person=phone(1), time=now + 1, source=NCOVI, temperature_c=36.8, symptoms=[H.SYMPTOM_SHORTNESS_OF_BREATH])
    assert app.care.ReportHealth(breathless, metadata=app.md).warning
    # Signs measured offline at dawn, uploaded after a clean report of noon:
    # they are what the line list shows.
    order(phone(3))
    noon = H.ReportHealthRequest(person=phone(3), time=now, source=NCOVI, temperature_c=36.8, spo2_percent=98)
    assert not app.care.ReportHealth(noon, metadata=app.md).warning
    dawn = H.ReportHealthRequest(person=phone(3), time=now - 60, source=NCOVI, temperature_c=36.9, spo2_percent=90)
    assert app.care.ReportHealth(dawn, metadata=app.md).replaced
    warnings = tracer.care.ListLineList(H.LineListRequest(list=H.LINE_LIST_WARNING_SIGNS, province_code="79", place="26740", day=now, purpose="giám sát"), metadata=tracer.md)
    assert sorted(e.spo2_percent for e in warnings.entries) == [0, 90]  # phone(1)'s breathless report measured none

    # The advice follows the latest declaration, not the last to arrive.
    clean = H.DeclareRequest(person=phone(2), time=now - 60, source=NCOVI, declaration=H.Declaration(vaccine_doses=2))
    app.care.Declare(clean, metadata=app.md)
    late = H.DeclareRequest(person=phone(2), time=now - 3 * 86_400, source=NCOVI, declaration=H.Declaration(symptoms=[H.SYMPTOM_COUGH]))
    assert app.care.Declare(late, metadata=app.md).advice.advice == H.ADVICE_ALLOW
    assert check_in(app, payload, phone(2), now).advice.reasons == []


def test_declarations_at_once_leave_the_advice_on_the_latest(service, now, monkeypatch):
    """A late risky declaration and a newer clean one, at once: the risky
    one is held up between reading itself as the latest and the advice
    taking it; the clean one must not overtake it."""
    import threading

    app = service.client("app_backend", app=NCOVI)
    risk = service.server.state.risk
    declared, held_up = risk.declared, threading.Event()

    def slow(person, at, reasons):  # noqa: ANN001
        if reasons:
            held_up.set()
            time.sleep(0.3)
        declared(person, at, reasons)

    monkeypatch.setattr(risk, "declared", slow)
    late = H.DeclareRequest(person=phone(5), time=now - 3_600, source=NCOVI, declaration=H.Declaration(symptoms=[H.SYMPTOM_COUGH]))
    clean = H.DeclareRequest(person=phone(5), time=now, source=NCOVI, declaration=H.Declaration())
    first = threading.Thread(target=app.care.Declare, args=(late,), kwargs={"metadata": app.md, "timeout": 10})
    first.start()
    assert held_up.wait(10)
    app.care.Declare(clean, metadata=app.md, timeout=10)
    first.join()
    assert risk.reasons(service.server.state.people.of_ref(phone(5))[0], now) == []


def test_a_retry_after_the_answer_failed_to_keep_stores_nothing_twice(service, now, monkeypatch):
    """The changes and the answer kept for retries commit together: when
    keeping the answer fails, nothing is stored, and the retry stores it once."""
    from tokhai.v1 import venues_pb2 as V
    from tokhai_server import state as state_module

    operator = service.client("venue_operator", province="79")
    tracer = service.client("tracer", province="79")
    app = service.client("app_backend", app=NCOVI)
    venue, payload = service.venue(operator)
    database = service.server.state.db
    risky = H.Declaration(travelled_through_case_areas=True)
    service.resident(phone(1))
    calls = [
        (app.care.Declare, H.DeclareRequest(request_id="d-1", person=phone(2), time=now - 60, source=NCOVI, declaration=risky), app.md, db.declarations),
        (
            app.checkins.CheckIn,
            C.CheckInRequest(request_id="c-1", person=phone(3), venue_payload=payload, time=now - 60, source=NCOVI, declaration=risky),
            app.md,
            db.declarations,
        ),
        (
            operator.venues.RegisterVenue,
            V.RegisterVenueRequest(request_id="v-1", name="Quán mới", kind=V.VENUE_KIND_CAFE, address=V.Address(province_code="79", district_code="760", ward_code="26740")),
            operator.md,
            db.venues,
        ),
        (
            tracer.care.OrderQuarantine,
            H.OrderQuarantineRequest(
                request_id="o-1", people=[phone(1)], kind=H.QUARANTINE_KIND_HOME, province_code="79", place="26740", start=now, planned_end=now + 86_400, purpose="F1 ổ dịch"
            ),
            tracer.md,
            db.quarantine_orders,
        ),
        (
            app.care.ReportHealth,
            H.ReportHealthRequest(request_id="r-1", person=phone(1), time=now, source=NCOVI, temperature_c=37.0, spo2_percent=97),
            app.md,
            db.health_reports,
        ),
        (
            tracer.care.PublishAlerts,
            H.PublishAlertsRequest(request_id="a-1", alerts=[H.VenueAlert(venue_id=venue.id, start=now - 600, end=now, level=H.ALERT_LEVEL_MONITOR)], purpose="ổ dịch"),
            tracer.md,
            db.alerts,
        ),
    ]

    def rows(table) -> int:  # noqa: ANN001
        with database.connect() as conn:
            return conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()

    for call, request, md, table in calls:
        before, records = rows(table), audit.count(database)
        with monkeypatch.context() as m:
            m.setattr(state_module, "_KEEP_ANSWER", sa.text("INSERT INTO no_such_table VALUES (1)"))
            status(call, request, metadata=md)  # fails
        assert (rows(table), audit.count(database)) == (before, records), f"{table.name}: nothing stored, nothing audited"
        first = call(request, metadata=md, timeout=10)
        assert call(request, metadata=md, timeout=10) == first
        assert rows(table) == before + 1, f"{table.name}: stored once"
        if table is db.declarations:
            assert first.advice.advice == H.ADVICE_REFER_TO_SCREENING, "the answer kept has the advice of the declaration it stored"
    assert not list(audit.verify(database))


def test_api_bounds_found_in_review(service, now):
    from tokhai.v1 import reports_pb2 as R
    from tokhai.v1 import venues_pb2 as V

    admin = service.client("admin")
    app = service.client("app_backend", app=NCOVI)
    tracer = service.client("tracer", province="79")
    analyst = service.client("analyst")
    venue, payload = service.venue(admin, province="79")
    other, _ = service.venue(admin, province="79", name="Quán khác")
    check_in(app, payload, phone(1), now - 600)
    # Entry advice looks up the person's venues among the alerts: many
    # alerts elsewhere change nothing, one where they were refers them.
    elsewhere = [H.VenueAlert(venue_id=other.id, start=now - 9_000 + k, end=now - 300, level=H.ALERT_LEVEL_MONITOR) for k in range(2_000)]
    tracer.care.PublishAlerts(H.PublishAlertsRequest(alerts=elsewhere, purpose="ổ dịch khác"), metadata=tracer.md)
    assert check_in(app, payload, phone(1), now - 500).advice.advice == H.ADVICE_ALLOW
    # Read by apps a page at a time.
    seen, after = [], 0
    while True:
        page = app.care.ListVenueAlerts(H.ListVenueAlertsRequest(after_id=after, page_size=700), metadata=app.md)
        assert len(page.alerts) <= 700
        seen += [a.id for a in page.alerts]
        if not page.next_after_id:
            break
        after = page.next_after_id
    assert len(seen) == 2_000 and seen == sorted(set(seen))
    assert app.care.ListVenueAlerts(H.ListVenueAlertsRequest(after_id=2**64 - 1), metadata=app.md).alerts == []
    # Long messages: a page stops at its byte budget, under a client's default 4 MiB.
    long = [H.VenueAlert(venue_id=other.id, start=now - 9_000 + k, end=now - 300, level=H.ALERT_LEVEL_MONITOR, message="ệ" * 1_000) for k in range(1_200)]
    tracer.care.PublishAlerts(H.PublishAlertsRequest(alerts=long, purpose="ổ dịch khác"), metadata=tracer.md)
    first = app.care.ListVenueAlerts(H.ListVenueAlertsRequest(), metadata=app.md)
    assert first.next_after_id and first.ByteSize() < 4 << 20 and len(first.alerts) < 3_500
    here = H.VenueAlert(venue_id=venue.id, start=now - 900, end=now - 300, level=H.ALERT_LEVEL_MONITOR)
    tracer.care.PublishAlerts(H.PublishAlertsRequest(alerts=[here], purpose="ổ dịch"), metadata=tracer.md)
    assert check_in(app, payload, phone(1), now - 400).advice.advice == H.ADVICE_REFER_TO_SCREENING

    refused = [
        (app.checkins.CheckIn, C.CheckInRequest(person=phone(2), venue_payload="TKH1." + "9" * 5_000 + ".1." + "A" * 86, time=now, source=NCOVI), app),
        (admin.venues.ListVenueSafety, V.ListVenueSafetyRequest(province_code="79", level=99), admin),
        (analyst.reports.SymptomCounts, R.CountsRequest(by=R.LEVEL_PROVINCE, start=-(2**63), end=-(2**63) + 86_400), analyst),
        (tracer.care.ListLineList, H.LineListRequest(list=H.LINE_LIST_WARNING_SIGNS, province_code="79", day=2**63 - 1, purpose="giám sát"), tracer),
        (tracer.care.OrderQuarantine, H.OrderQuarantineRequest(person_ids=list(range(1, 20_002)), kind=H.QUARANTINE_KIND_HOME, province_code="79", place="26740", start=now, planned_end=now + 9, purpose="F1 tại nhà"), tracer),
    ]
    for call, request, who in refused:
        assert status(call, request, metadata=who.md) is grpc.StatusCode.INVALID_ARGUMENT, type(request).__name__
    # Orders whose answer would not fit in a message: refused before anything is stored.
    wide = H.OrderQuarantineRequest(person_ids=list(range(1, 20_001)), kind=H.QUARANTINE_KIND_FACILITY, province_code="79", place="ệ" * 300, start=now, planned_end=now + 9, purpose="F1 tập trung")
    assert status(tracer.care.OrderQuarantine, wide, metadata=tracer.md) is grpc.StatusCode.INVALID_ARGUMENT
    with service.server.state.db.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(db.quarantine_orders)).scalar_one() == 0
    # Line lists take any second of a day, today's last too.
    tracer.care.ListLineList(H.LineListRequest(list=H.LINE_LIST_WARNING_SIGNS, province_code="79", day=now + 80_000, purpose="giám sát"), metadata=tracer.md)


def test_line_lists_come_a_page_at_a_time(service, now):
    tracer = service.client("tracer", province="79")
    people = [phone(n) for n in range(5)]
    service.resident(*people)
    for start in (now - 600, now - 300):  # two orders each: still one entry a person
        request = H.OrderQuarantineRequest(people=people, kind=H.QUARANTINE_KIND_HOME, province_code="79", place="26740", start=start, planned_end=now + 9_999, purpose="F1 tại nhà")
        tracer.care.OrderQuarantine(request, metadata=tracer.md)
    seen, after, pages = [], 0, 0
    while True:
        request = H.LineListRequest(list=H.LINE_LIST_NOT_REPORTED_TODAY, province_code="79", day=now, purpose="giám sát", after_person_id=after, page_size=2)
        page = tracer.care.ListLineList(request, metadata=tracer.md)
        pages += 1
        assert len(page.entries) <= 2
        seen += [e.order.person.id for e in page.entries]
        if not page.next_after_person_id:
            break
        after = page.next_after_person_id
    ids = sorted(service.server.state.people.of_ref(p)[0] for p in people)
    assert seen == ids and pages == 3


def test_a_retraction_during_a_publish_is_kept(service, now, monkeypatch):
    """A retraction of an alert whose publish has committed but not yet
    reached the live index waits for it, then takes it out."""
    import threading

    from tokhai_server import alerts

    admin = service.client("admin")
    app = service.client("app_backend", app=NCOVI)
    tracer = service.client("tracer", province="79")
    venue, payload = service.venue(admin, province="79")
    check_in(app, payload, phone(1), now - 7_000)
    committed, retracted = threading.Event(), threading.Event()
    published = alerts.LiveAlerts.published

    def slow(self, rows):  # noqa: ANN001
        committed.set()
        retracted.wait(1)  # a retraction, were it let in now
        published(self, rows)

    monkeypatch.setattr(alerts.LiveAlerts, "published", slow)
    request = H.PublishAlertsRequest(alerts=[H.VenueAlert(venue_id=venue.id, start=now - 7_200, end=now - 3_600, level=H.ALERT_LEVEL_GET_TESTED)], purpose="ổ dịch")
    publishing = threading.Thread(target=tracer.care.PublishAlerts, args=(request,), kwargs={"metadata": tracer.md, "timeout": 20})
    publishing.start()
    assert committed.wait(10)
    [alert] = app.care.ListVenueAlerts(H.ListVenueAlertsRequest(), metadata=app.md).alerts  # in the database already
    tracer.care.RetractAlert(H.RetractAlertRequest(alert_id=alert.id), metadata=tracer.md, timeout=20)
    retracted.set()
    publishing.join()
    assert app.care.ListExposures(H.ListExposuresRequest(person=phone(1)), metadata=app.md).exposures == []
    assert check_in(app, payload, phone(1), now).advice.advice == H.ADVICE_ALLOW


def test_findings_of_the_fourth_review(service, now, monkeypatch):
    from tokhai.v1 import reports_pb2 as R

    app = service.client("app_backend", app=NCOVI)
    tracer = service.client("tracer", province="79")
    operator = service.client("venue_operator", province="79")
    admin = service.client("admin")
    mine, _ = service.venue(operator)
    theirs, _ = service.venue(admin, name="Chợ khác")

    # A venue operator lists the alerts at their own venues; an app, all.
    alerts = [H.VenueAlert(venue_id=v.id, start=now - 900, end=now - 300, level=H.ALERT_LEVEL_MONITOR) for v in (mine, theirs)]
    tracer.care.PublishAlerts(H.PublishAlertsRequest(alerts=alerts, purpose="ổ dịch"), metadata=tracer.md)
    def listed(who) -> list[int]:  # noqa: ANN001 - a harness Client
        return [a.venue_id for a in who.care.ListVenueAlerts(H.ListVenueAlertsRequest(), metadata=who.md).alerts]

    assert listed(operator) == [mine.id] and sorted(listed(app)) == sorted([mine.id, theirs.id])

    # Counts of quarantine for a past day: the orders in force that day, as its line list has them.
    def order(n: int, place: str, start: int) -> H.QuarantineOrder:
        service.resident(phone(n))
        request = H.OrderQuarantineRequest(people=[phone(n)], kind=H.QUARANTINE_KIND_HOME, province_code="79", place=place, start=start, planned_end=start + 14 * 86_400, purpose="F1 của ổ dịch")
        return tracer.care.OrderQuarantine(request, metadata=tracer.md).orders[0]

    ended = order(1, "26740", now - 2 * 86_400)
    tracer.care.EndQuarantine(H.EndQuarantineRequest(order_id=ended.id, reason="chuyển viện", time=now), metadata=tracer.md)
    order(2, "26741", now)
    yesterday = tracer.reports.QuarantineCounts(R.QuarantineCountsRequest(province_code="79", day=now - 86_400), metadata=tracer.md).rows
    assert [(r.place, r.active) for r in yesterday] == [("26740", 1)]
    today = tracer.reports.QuarantineCounts(R.QuarantineCountsRequest(province_code="79", day=now), metadata=tracer.md).rows
    assert [(r.place, r.active) for r in today] == [("26741", 1)]

    # Orders and their audit record are stored together or not at all.
    def broken(conn, row, salt):  # noqa: ANN001
        raise RuntimeError("the audit log is unavailable")

    before = audit.count(service.server.state.db)
    with monkeypatch.context() as m:
        m.setattr(audit.AuditLog, "_append", staticmethod(broken))
        request = H.OrderQuarantineRequest(people=[phone(3)], kind=H.QUARANTINE_KIND_HOME, province_code="79", place="26740", start=now, planned_end=now + 86_400, purpose="F1 của ổ dịch")
        assert status(tracer.care.OrderQuarantine, request, metadata=tracer.md) is grpc.StatusCode.INTERNAL
    with service.server.state.db.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(db.quarantine_orders)).scalar_one() == 2
    assert audit.count(service.server.state.db) == before

    # A reference sent the wrong way round: the error does not repeat the number.
    batch = C.IngestBatch(batch_id=1, source=NCOVI, person_refs=["0912345678:phone"], venue_ids=[mine.id], t_in=[now - 60], t_out=[0])
    try:
        list(app.checkins.IngestCheckins(iter([batch]), metadata=app.md, timeout=10))
        raise AssertionError("the batch was taken")
    except grpc.RpcError as e:
        assert e.code() is grpc.StatusCode.INVALID_ARGUMENT and "0912345678" not in e.details()


def test_an_order_ended_before_its_start_is_counted_leaves_no_one_flagged(service, now):
    """An order's end may report to the entry advice before its start (the
    calls committed in one order, report in the other)."""
    risk = service.server.state.risk
    risk.ordered(7, -1)
    assert risk.reasons(7, now) == []
    risk.ordered(7, +1)
    assert risk.reasons(7, now) == [], "not flagged by an order already ended"
    risk.ordered(7, +1)
    assert risk.reasons(7, now) == ["under an active quarantine order"]


def test_refusals_name_the_row_at_fault(service, now):
    admin = service.client("admin")
    tracer = service.client("tracer")
    venue, _ = service.venue(admin)
    bad_ref = H.OrderQuarantineRequest(
        people=[phone(1), K.PersonRef(phone="12")], kind=H.QUARANTINE_KIND_HOME, province_code="79", place="26740", start=now, planned_end=now + 9, purpose="F1 tại nhà"
    )
    with pytest.raises(grpc.RpcError) as refused:
        tracer.care.OrderQuarantine(bad_ref, metadata=tracer.md, timeout=10)
    assert refused.value.code() is grpc.StatusCode.INVALID_ARGUMENT and refused.value.details().startswith("people[1]: ")
    alerts = [H.VenueAlert(venue_id=v, start=now - 600, end=now, level=H.ALERT_LEVEL_MONITOR) for v in (venue.id, venue.id + 99)]
    with pytest.raises(grpc.RpcError) as refused:
        tracer.care.PublishAlerts(H.PublishAlertsRequest(alerts=alerts, purpose="ổ dịch"), metadata=tracer.md, timeout=10)
    assert refused.value.code() is grpc.StatusCode.NOT_FOUND and refused.value.details().startswith("alerts[1]: ")


def test_answers_that_tell_of_someones_health_are_audited(service, now):
    admin = service.client("admin")
    app = service.client("app_backend", app=NCOVI)
    tracer = service.client("tracer")
    _, payload = service.venue(admin)
    database = service.server.state.db

    def last_action() -> str:
        with database.connect() as conn:
            return conn.execute(sa.select(db.audit_log.c.action).order_by(db.audit_log.c.seq.desc()).limit(1)).scalar_one()

    def report(who: K.PersonRef) -> H.ReportHealthResponse:
        return app.care.ReportHealth(H.ReportHealthRequest(person=who, time=now, source=NCOVI, temperature_c=36.6), metadata=app.md, timeout=10)

    before = audit.count(database)
    assert not report(phone(1)).under_quarantine and audit.count(database) == before, "nothing of theirs held, nothing read"
    assert check_in(app, payload, phone(1), now - 60).advice.advice == H.ADVICE_ALLOW and audit.count(database) == before
    order = H.OrderQuarantineRequest(people=[phone(1)], kind=H.QUARANTINE_KIND_HOME, province_code="79", place="26740", start=now - 600, planned_end=now + 86_400, purpose="F1 tại nhà")
    tracer.care.OrderQuarantine(order, metadata=tracer.md, timeout=10)
    before = audit.count(database)
    assert report(phone(1)).under_quarantine and (audit.count(database), last_action()) == (before + 1, "ReportHealth")
    referred = check_in(app, payload, phone(1), now - 30, request_id="c-1").advice
    assert referred.advice == H.ADVICE_REFER_TO_SCREENING and (audit.count(database), last_action()) == (before + 2, "CheckIn")
    # A retry's kept answer is read again: audited again (the first record may have failed).
    assert check_in(app, payload, phone(1), now - 30, request_id="c-1").advice == referred
    assert (audit.count(database), last_action()) == (before + 3, "CheckIn")


def test_an_order_ended_with_a_backdated_time_is_kept_its_full_period(service, now):
    tracer = service.client("tracer")
    state = service.server.state
    order = H.OrderQuarantineRequest(people=[phone(1)], kind=H.QUARANTINE_KIND_HOME, province_code="79", place="26740", start=now - 27 * 86_400, planned_end=now + 86_400, purpose="F1 tại nhà")
    made = tracer.care.OrderQuarantine(order, metadata=tracer.md, timeout=10).orders[0]
    # Released 27 days ago, recorded now: by the release alone, the next
    # retention run would delete it at once.
    tracer.care.EndQuarantine(H.EndQuarantineRequest(order_id=made.id, reason="ra viện", time=now - 27 * 86_400 + 60), metadata=tracer.md, timeout=10)
    assert retention.run(state, now=now + 2 * 86_400)["quarantine_orders"] == 0, "kept a period from when the end was recorded"
    assert retention.run(state, now=now + 29 * 86_400)["quarantine_orders"] == 1


def test_a_request_id_sent_again_with_another_request_is_refused(service, now):
    """Not answered with the first request's answer: a declaration of one
    person got another's advice, and was never stored."""
    app = service.client("app_backend", app=NCOVI)
    first = H.DeclareRequest(request_id="d-7", person=phone(1), time=now - 60, source=NCOVI, declaration=H.Declaration(vaccine_doses=2))
    answer = app.care.Declare(first, metadata=app.md)
    assert app.care.Declare(first, metadata=app.md) == answer
    other = H.DeclareRequest(request_id="d-7", person=phone(2), time=now - 60, source=NCOVI, declaration=H.Declaration(symptoms=[H.SYMPTOM_COUGH]))
    code = status(app.care.Declare, other, metadata=app.md)
    assert code is grpc.StatusCode.INVALID_ARGUMENT
    with service.server.state.db.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(db.declarations)).scalar_one() == 1


def test_a_kept_request_s_digest_gives_no_number_away(service, now):
    """The request holds the person's phone in clear, and the declaration's
    row all its other fields: a plain hash of it, kept, would be matched by
    hashing every phone number there is."""
    app = service.client("app_backend", app=NCOVI)
    request = H.DeclareRequest(request_id="d-8", person=phone(3), time=now - 60, source=NCOVI, declaration=H.Declaration(vaccine_doses=1))
    answer = app.care.Declare(request, metadata=app.md)
    with service.server.state.db.connect() as conn:
        kept = conn.execute(sa.select(db.requests.c.request_digest).where(db.requests.c.request_id == "d-8")).scalar_one()
    plain = request.SerializeToString(deterministic=True)
    assert kept not in {hashlib.blake2b(plain, digest_size=16).digest(), hashlib.sha256(plain).digest()[:16]}
    assert app.care.Declare(request, metadata=app.md) == answer  # a retry still matches it
    # Kept before digests were keyed (an older server's, for their two days): still matched.
    with service.server.state.db.begin() as conn:
        conn.execute(db.requests.update().where(db.requests.c.request_id == "d-8").values(request_digest=hashlib.blake2b(plain, digest_size=16).digest()))
    assert app.care.Declare(request, metadata=app.md) == answer
    other = H.DeclareRequest(request_id="d-8", person=phone(4), time=now - 60, source=NCOVI, declaration=H.Declaration(vaccine_doses=1))
    assert status(app.care.Declare, other, metadata=app.md) is grpc.StatusCode.INVALID_ARGUMENT
