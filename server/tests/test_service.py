"""Every RPC over a real channel, with every class of bad input, on SQLite
and PostgreSQL."""

from __future__ import annotations

import base64
import json
import time
import unicodedata
from xml.etree import ElementTree

import grpc
import numpy as np
import pytest
import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from tokhai.v1 import checkins_pb2 as C
from tokhai.v1 import common_pb2 as K
from tokhai.v1 import tracing_pb2 as T
from tokhai.v1 import venues_pb2 as V
from tokhai_server import audit

from harness import Slowed

NCOVI, BLUEZONE = K.SOURCE_APP_NCOVI, K.SOURCE_APP_BLUEZONE


def status(call, *args, **kwargs) -> tuple[grpc.StatusCode, str]:
    with pytest.raises(grpc.RpcError) as info:
        call(*args, timeout=10, **kwargs)
    return info.value.code(), info.value.details()


def phone(n: int) -> K.PersonRef:
    return K.PersonRef(phone=f"09{n:08d}")


def check_in(app, payload, who, t, request_id="", **kw):
    request = C.CheckInRequest(request_id=request_id, person=who, venue_payload=payload, time=t, source=NCOVI, **kw)
    return app.checkins.CheckIn(request, metadata=app.md, timeout=10)


def test_every_call_needs_a_valid_key_and_a_role_that_may_make_it(service):
    admin = service.client("admin")
    anonymous = type(admin)(service.channel, "tk_nothing_here")
    code, detail = status(anonymous.venues.ListSigningKeys, V.ListSigningKeysRequest(), metadata=anonymous.md)
    assert code is grpc.StatusCode.UNAUTHENTICATED and "unknown API key" in detail
    code, _ = status(admin.venues.ListSigningKeys, V.ListSigningKeysRequest())  # no metadata at all
    assert code is grpc.StatusCode.UNAUTHENTICATED

    app = service.client("app_backend", app=NCOVI)
    code, detail = status(app.venues.RegisterVenue, V.RegisterVenueRequest(name="x"), metadata=app.md)
    assert code is grpc.StatusCode.PERMISSION_DENIED and "app_backend" in detail
    tracer = service.client("tracer", province="01")
    code, _ = status(tracer.checkins.CheckIn, C.CheckInRequest(), metadata=tracer.md)
    assert code is grpc.StatusCode.PERMISSION_DENIED

    from tokhai_server import auth

    revoked = service.client("analyst")
    auth.revoke_key(service.server.state.db, revoked.key.split("_")[1])
    code, detail = status(revoked.venues.ListSigningKeys, V.ListSigningKeysRequest(), metadata=revoked.md)
    assert code is grpc.StatusCode.UNAUTHENTICATED and "revoked" in detail


def test_venues_register_update_deactivate(service):
    operator = service.client("venue_operator", province="79")
    decomposed = unicodedata.normalize("NFD", "Nhà hàng Phở Hòa")
    venue, payload = service.venue(operator, name=decomposed, kind=V.VENUE_KIND_RESTAURANT)
    assert venue.name == unicodedata.normalize("NFC", decomposed) and venue.dwell_seconds == 5_400 and venue.active

    bad = [
        V.RegisterVenueRequest(name="", kind=V.VENUE_KIND_CAFE, address=V.Address(province_code="79", district_code="760", ward_code="26740")),
        V.RegisterVenueRequest(name="A", kind=99, address=V.Address(province_code="79", district_code="760", ward_code="26740")),
        V.RegisterVenueRequest(name="A", kind=V.VENUE_KIND_CAFE, address=V.Address(province_code="03", district_code="760", ward_code="26740")),
        V.RegisterVenueRequest(name="A", kind=V.VENUE_KIND_CAFE, address=V.Address(province_code="79", district_code="7", ward_code="26740")),
        V.RegisterVenueRequest(
            name="A", kind=V.VENUE_KIND_CAFE, address=V.Address(province_code="79", district_code="760", ward_code="26740"), latitude=95, longitude=1
        ),
        V.RegisterVenueRequest(
            name="A", kind=V.VENUE_KIND_CAFE, address=V.Address(province_code="79", district_code="760", ward_code="26740"), dwell_seconds=5
        ),
    ]
    for request in bad:
        assert status(operator.venues.RegisterVenue, request, metadata=operator.md)[0] is grpc.StatusCode.INVALID_ARGUMENT
    # An operator of one province cannot register a venue in another.
    elsewhere = V.RegisterVenueRequest(name="A", kind=V.VENUE_KIND_CAFE, address=V.Address(province_code="01", district_code="001", ward_code="00001"))
    assert status(operator.venues.RegisterVenue, elsewhere, metadata=operator.md)[0] is grpc.StatusCode.PERMISSION_DENIED

    # A new kind brings its default dwell, unless the venue has its own.
    hotel = operator.venues.UpdateVenue(V.UpdateVenueRequest(venue_id=venue.id, kind=V.VENUE_KIND_HOTEL), metadata=operator.md)
    assert (hotel.kind, hotel.dwell_seconds) == (V.VENUE_KIND_HOTEL, 43_200)
    updated = operator.venues.UpdateVenue(V.UpdateVenueRequest(venue_id=venue.id, dwell_seconds=1_800), metadata=operator.md)
    assert updated.dwell_seconds == 1_800 and updated.name == venue.name
    cafe = operator.venues.UpdateVenue(V.UpdateVenueRequest(venue_id=venue.id, kind=V.VENUE_KIND_CAFE), metadata=operator.md)
    assert (cafe.kind, cafe.dwell_seconds) == (V.VENUE_KIND_CAFE, 1_800)
    both = operator.venues.UpdateVenue(V.UpdateVenueRequest(venue_id=venue.id, kind=V.VENUE_KIND_RESTAURANT, dwell_seconds=600), metadata=operator.md)
    assert (both.kind, both.dwell_seconds) == (V.VENUE_KIND_RESTAURANT, 600)
    other = service.client("venue_operator", name="other operator")
    code, _ = status(other.venues.UpdateVenue, V.UpdateVenueRequest(venue_id=venue.id, dwell_seconds=60), metadata=other.md)
    assert code is grpc.StatusCode.PERMISSION_DENIED
    assert status(other.venues.GetVenue, V.GetVenueRequest(venue_id=999), metadata=other.md)[0] is grpc.StatusCode.NOT_FOUND
    # Moved by an admin to another province, it is no longer the provincial operator's to run.
    admin = service.client("admin")
    moved, _ = service.venue(operator, name="Quán dời đi")
    admin.venues.UpdateVenue(V.UpdateVenueRequest(venue_id=moved.id, address=V.Address(province_code="01", district_code="001", ward_code="00001")), metadata=admin.md)
    for call, request in [
        (operator.venues.UpdateVenue, V.UpdateVenueRequest(venue_id=moved.id, dwell_seconds=60)),
        (operator.venues.DeactivateVenue, V.DeactivateVenueRequest(venue_id=moved.id)),
        (operator.venues.IssueVenueCode, V.IssueVenueCodeRequest(venue_id=moved.id)),
        (operator.venues.SubmitSafetyAssessment, V.SubmitSafetyAssessmentRequest(venue_id=moved.id)),
        (operator.venues.SafetyHistory, V.SafetyHistoryRequest(venue_id=moved.id)),
        (operator.checkins.ScanPerson, C.ScanPersonRequest(venue_id=moved.id, person_payload="x", time=service_now())),
    ]:
        assert status(call, request, metadata=operator.md)[0] is grpc.StatusCode.PERMISSION_DENIED, call

    app = service.client("app_backend", app=NCOVI)
    check_in(app, payload, phone(1), service_now())
    assert not operator.venues.DeactivateVenue(V.DeactivateVenueRequest(venue_id=venue.id), metadata=operator.md).active
    code, detail = status(app.checkins.CheckIn, C.CheckInRequest(person=phone(2), venue_payload=payload, time=service_now(), source=NCOVI), metadata=app.md)
    assert code is grpc.StatusCode.FAILED_PRECONDITION and "deactivated" in detail


def test_an_update_at_the_time_of_a_deactivation_leaves_the_venue_deactivated(service, monkeypatch):
    """The update commits first but reaches the venue cache last: it must
    not put back the active venue the deactivation just replaced."""
    import threading
    import time

    operator = service.client("venue_operator", province="79")
    venue, payload = service.venue(operator)
    state = service.server.state
    cache_venue, held_up = state.cache_venue, threading.Event()

    def slow(row, *, read=False):  # noqa: ANN001
        if row.active and not read:
            held_up.set()
            time.sleep(0.3)
        return cache_venue(row, read=read)

    monkeypatch.setattr(state, "cache_venue", slow)
    update = threading.Thread(
        target=operator.venues.UpdateVenue, args=(V.UpdateVenueRequest(venue_id=venue.id, name="Quán mới"),), kwargs={"metadata": operator.md, "timeout": 10}
    )
    update.start()
    assert held_up.wait(10)
    operator.venues.DeactivateVenue(V.DeactivateVenueRequest(venue_id=venue.id), metadata=operator.md, timeout=10)
    update.join()
    assert not operator.venues.GetVenue(V.GetVenueRequest(venue_id=venue.id), metadata=operator.md).active
    app = service.client("app_backend", app=NCOVI)
    code, _ = status(app.checkins.CheckIn, C.CheckInRequest(person=phone(3), venue_payload=payload, time=service_now(), source=NCOVI), metadata=app.md)
    assert code is grpc.StatusCode.FAILED_PRECONDITION


def test_a_deactivation_as_a_venue_is_registered_leaves_it_deactivated(service, monkeypatch):
    """The registration commits first but reaches the venue cache last: its
    id is known once committed, and a deactivation may come in between."""
    import threading
    import time

    import sqlalchemy as sa

    from tokhai_server import db

    operator = service.client("venue_operator", province="79")
    state = service.server.state
    cache_venue, held_up = state.cache_venue, threading.Event()

    def slow(row, *, read=False):  # noqa: ANN001
        if row.name == "Quán mới mở" and not held_up.is_set():  # the registration's
            held_up.set()
            time.sleep(0.3)
        return cache_venue(row, read=read)

    monkeypatch.setattr(state, "cache_venue", slow)
    address = V.Address(province_code="79", district_code="760", ward_code="26740")
    register = threading.Thread(
        target=operator.venues.RegisterVenue,
        args=(V.RegisterVenueRequest(name="Quán mới mở", kind=V.VENUE_KIND_CAFE, address=address),),
        kwargs={"metadata": operator.md, "timeout": 10},
    )
    register.start()
    assert held_up.wait(10)
    with state.db.connect() as conn:
        venue_id = conn.execute(sa.select(db.venues.c.id).where(db.venues.c.name == "Quán mới mở")).scalar_one()
    operator.venues.DeactivateVenue(V.DeactivateVenueRequest(venue_id=venue_id), metadata=operator.md, timeout=10)
    register.join()
    assert not state.venue(venue_id).active


def service_now() -> int:
    import time

    return int(time.time())


def test_venue_codes_verify_offline_rotate_and_revoke(service, now):
    admin = service.client("admin")
    app = service.client("app_backend", app=NCOVI)
    venue, old = service.venue(admin)
    code = admin.venues.IssueVenueCode(V.IssueVenueCodeRequest(venue_id=venue.id), metadata=admin.md)
    assert code.svg.startswith(b"<?xml") and code.png.startswith(b"\x89PNG") and code.poster_png.startswith(b"\x89PNG")

    # What an app backend does offline: verify with the listed public key.
    keys = {k.key_id: k.public_key for k in app.venues.ListSigningKeys(V.ListSigningKeysRequest(), metadata=app.md).keys}
    body, signature = code.payload.rsplit(".", 1)
    Ed25519PublicKey.from_public_bytes(keys[code.key_id]).verify(base64.urlsafe_b64decode(signature + "=="), body.encode())

    new_key = admin.venues.RotateSigningKey(V.RotateSigningKeyRequest(), metadata=admin.md)
    new = admin.venues.IssueVenueCode(V.IssueVenueCodeRequest(venue_id=venue.id), metadata=admin.md).payload
    assert new_key.key_id != code.key_id and f".{new_key.key_id}." in new
    check_in(app, old, phone(1), now)  # old codes keep working
    admin.venues.RevokeSigningKey(V.RevokeSigningKeyRequest(key_id=code.key_id), metadata=admin.md)
    code_, detail = status(app.checkins.CheckIn, C.CheckInRequest(person=phone(2), venue_payload=old, time=now, source=NCOVI), metadata=app.md)
    assert code_ is grpc.StatusCode.INVALID_ARGUMENT and "revoked" in detail
    check_in(app, new, phone(2), now)
    assert status(app.venues.RotateSigningKey, V.RotateSigningKeyRequest(), metadata=app.md)[0] is grpc.StatusCode.PERMISSION_DENIED


def test_revoked_signing_keys_stay_revoked_across_reloads_and_restarts(tmp_path):
    import threading
    import time
    from types import SimpleNamespace

    from tokhai_server import db
    from tokhai_server.codes import Codes
    from tokhai_server.errors import FailedPrecondition, Invalid

    engine = db.connect(f"sqlite:///{tmp_path / 'codes.db'}")
    codes = Codes(engine, bytes(32))
    old = codes.venue_code(1)
    # A rotation reads the keys, then a revocation commits and reloads,
    # then the rotation publishes what it read: it must not win.
    aead, read = codes._aead, threading.Event()  # noqa: SLF001

    def decrypt(*args):  # noqa: ANN002
        if threading.current_thread().name == "rotating":
            read.set()
            time.sleep(0.3)
        return aead.decrypt(*args)

    codes._aead = SimpleNamespace(decrypt=decrypt, encrypt=aead.encrypt)  # noqa: SLF001
    rotating = threading.Thread(target=codes.rotate, name="rotating")
    rotating.start()
    assert read.wait(10)
    codes.revoke(1)
    rotating.join()
    with pytest.raises(Invalid, match="revoked"):
        codes.verify_venue(old)
    # A revocation stored whose reload then fails is enforced all the same.
    current = codes.venue_code(1)
    reload = codes.reload
    codes.reload = lambda: (_ for _ in ()).throw(RuntimeError("database locked"))
    with pytest.raises(RuntimeError):
        codes.revoke(2)
    with pytest.raises(Invalid, match="revoked"):
        codes.verify_venue(current)
    with pytest.raises(FailedPrecondition):
        codes.venue_code(1)
    codes.reload = reload
    # A restart does not make a key of its own: an admin rotates.
    with pytest.raises(FailedPrecondition, match="every signing key is revoked"):
        Codes(engine, bytes(32)).venue_code(1)
    engine.dispose()


def test_check_in_rules_and_refusals_store_nothing(service, now):
    admin = service.client("admin")
    app = service.client("app_backend", app=NCOVI)
    a, pa = service.venue(admin, name="A")
    b, pb_ = service.venue(admin, name="B")
    engine = service.server.state.engine

    first = check_in(app, pa, phone(1), now - 3_000, request_id="r1")
    assert first.venue_name == "A" and first.provisional_t_out == now - 3_000 + a.dwell_seconds and not first.repeated
    again = check_in(app, pa, K.PersonRef(phone="+84 90 000 0001"), now - 2_900)  # same person, spelled otherwise
    assert again.repeated and again.stay_id == first.stay_id
    retry = check_in(app, pa, phone(1), now - 3_000, request_id="r1")
    assert retry == first and len(engine) == 1

    moved = check_in(app, pb_, phone(1), now - 2_000)
    assert moved.stay_id != first.stay_id
    stays = engine.stays_between(now - 86_400, now + 86_400)
    assert dict(zip(stays.stay_id.tolist(), stays.t_out.tolist()))[first.stay_id] == now - 2_000, "closed when the person moved on"

    count = len(engine)
    refusals = [
        (C.CheckInRequest(person=phone(3), venue_payload=pa[:-2] + ("A" if pa[-2] != "A" else "B") + pa[-1], time=now, source=NCOVI), "INVALID_ARGUMENT"),
        (C.CheckInRequest(person=phone(3), venue_payload="TKH1.1.999.AAAA", time=now, source=NCOVI), "NOT_FOUND"),
        (C.CheckInRequest(person=phone(3), venue_payload="hello", time=now, source=NCOVI), "INVALID_ARGUMENT"),
        (C.CheckInRequest(person=phone(3), venue_payload=pa, time=now + 3_600, source=NCOVI), "INVALID_ARGUMENT"),
        (C.CheckInRequest(person=phone(3), venue_payload=pa, time=now - 40 * 86_400, source=NCOVI), "INVALID_ARGUMENT"),
        (C.CheckInRequest(person=K.PersonRef(phone="12345"), venue_payload=pa, time=now, source=NCOVI), "INVALID_ARGUMENT"),
        (C.CheckInRequest(person=K.PersonRef(citizen_id="12AB"), venue_payload=pa, time=now, source=NCOVI), "INVALID_ARGUMENT"),
        (C.CheckInRequest(venue_payload=pa, time=now, source=NCOVI), "INVALID_ARGUMENT"),
        (C.CheckInRequest(person=phone(3), venue_payload=pa, time=now, source=BLUEZONE), "PERMISSION_DENIED"),
        (C.CheckInRequest(person=phone(3), venue_payload=pa, time=now, source=0), "INVALID_ARGUMENT"),
        (C.CheckInRequest(request_id="x" * 200, person=phone(3), venue_payload=pa, time=now, source=NCOVI), "INVALID_ARGUMENT"),
    ]
    for request, want in refusals:
        code, detail = status(app.checkins.CheckIn, request, metadata=app.md)
        assert code.name == want, (request, detail)
    assert len(engine) == count, "refused check-ins stored nothing"


def test_check_out_by_stay_and_by_person_at_venue(service, now):
    admin = service.client("admin")
    app = service.client("app_backend", app=NCOVI)
    venue, payload = service.venue(admin)
    stay = check_in(app, payload, phone(1), now - 3_600)
    # A stay id alone is easy to guess: another person's stay is refused as
    # one not held is (ids are not probed), and changes nothing.
    code, detail = status(app.checkins.CheckOut, C.CheckOutRequest(stay=C.PersonStay(person=phone(9), stay_id=stay.stay_id), time=now - 1_800), metadata=app.md)
    unknown = C.CheckOutRequest(stay=C.PersonStay(person=phone(9), stay_id=stay.stay_id + 999), time=now - 1_800)
    assert (code, detail.replace(str(stay.stay_id), "ID")) == (grpc.StatusCode.NOT_FOUND, status(app.checkins.CheckOut, unknown, metadata=app.md)[1].replace(str(stay.stay_id + 999), "ID"))
    assert service.server.state.engine.stays_by_id([stay.stay_id]).t_out[0] == stay.provisional_t_out
    out = app.checkins.CheckOut(C.CheckOutRequest(stay=C.PersonStay(person=phone(1), stay_id=stay.stay_id), time=now - 1_800), metadata=app.md)
    assert (out.stay_id, out.t_out) == (stay.stay_id, now - 1_800)
    check_in(app, payload, phone(2), now - 600)
    by_person = C.CheckOutRequest(person_at_venue=C.PersonAtVenue(person=phone(2), venue_id=venue.id), time=now - 60)
    assert app.checkins.CheckOut(by_person, metadata=app.md).t_out == now - 60
    assert status(app.checkins.CheckOut, by_person, metadata=app.md)[0] is grpc.StatusCode.NOT_FOUND, "no open stay any more"
    # A check-out before the check-in gets the answer of someone elsewhere:
    # no probe of where a person is, or since when.
    here = check_in(app, payload, phone(3), now - 600)
    for who in (phone(3), phone(4)):
        early = C.CheckOutRequest(person_at_venue=C.PersonAtVenue(person=who, venue_id=venue.id), time=now - 86_400)
        code, detail = status(app.checkins.CheckOut, early, metadata=app.md)
        assert code is grpc.StatusCode.NOT_FOUND and str(here.t_in) not in detail
    assert service.server.state.engine.stays_by_id([here.stay_id]).t_out[0] == here.provisional_t_out

    code, detail = status(app.checkins.CheckOut, C.CheckOutRequest(stay=C.PersonStay(person=phone(1), stay_id=stay.stay_id), time=now - 7_200), metadata=app.md)
    assert code is grpc.StatusCode.INVALID_ARGUMENT and "not after" in detail
    unknown = C.CheckOutRequest(stay=C.PersonStay(person=phone(1), stay_id=stay.stay_id + 999), time=now)
    assert status(app.checkins.CheckOut, unknown, metadata=app.md)[0] is grpc.StatusCode.NOT_FOUND
    nobody = C.CheckOutRequest(stay=C.PersonStay(stay_id=stay.stay_id), time=now)
    assert status(app.checkins.CheckOut, nobody, metadata=app.md)[0] is grpc.StatusCode.INVALID_ARGUMENT
    assert status(app.checkins.CheckOut, C.CheckOutRequest(time=now), metadata=app.md)[0] is grpc.StatusCode.INVALID_ARGUMENT


def test_personal_codes_let_venue_staff_check_people_in(service, now):
    operator = service.client("venue_operator")
    app = service.client("app_backend", app=NCOVI)
    venue, _ = service.venue(operator)
    personal = app.checkins.IssuePersonalCode(C.IssuePersonalCodeRequest(person=K.PersonRef(citizen_id="001099012345")), metadata=app.md)
    assert personal.payload.startswith("TKP1.") and personal.png.startswith(b"\x89PNG")
    scanned = operator.checkins.ScanPerson(C.ScanPersonRequest(venue_id=venue.id, person_payload=personal.payload, time=now), metadata=operator.md)
    assert scanned.venue_id == venue.id
    # The same person by app: the open stay is the same.
    payload = operator.venues.IssueVenueCode(V.IssueVenueCodeRequest(venue_id=venue.id), metadata=operator.md).payload
    assert check_in(app, payload, K.PersonRef(citizen_id="001099012345"), now + 10).stay_id == scanned.stay_id

    stranger = service.client("venue_operator", name="stranger")
    code, _ = status(stranger.checkins.ScanPerson, C.ScanPersonRequest(venue_id=venue.id, person_payload=personal.payload, time=now), metadata=stranger.md)
    assert code is grpc.StatusCode.PERMISSION_DENIED
    forged = personal.payload.replace("TKP1.", "TKP1.1", 1)
    code, _ = status(operator.checkins.ScanPerson, C.ScanPersonRequest(venue_id=venue.id, person_payload=forged, time=now), metadata=operator.md)
    assert code is grpc.StatusCode.INVALID_ARGUMENT
    # Printed, the code is an SVG picture too; and it stops working when it expires.
    assert ElementTree.fromstring(personal.svg).tag.endswith("svg")
    brief = app.checkins.IssuePersonalCode(C.IssuePersonalCodeRequest(person=phone(7), valid_seconds=1), metadata=app.md)
    time.sleep(max(0, brief.expires_at + 1.1 - time.time()))
    code, detail = status(operator.checkins.ScanPerson, C.ScanPersonRequest(venue_id=venue.id, person_payload=brief.payload, time=now), metadata=operator.md)
    assert code is grpc.StatusCode.INVALID_ARGUMENT and "expired" in detail


def test_codes_are_read_strictly_and_each_as_its_own_kind(service, now):
    operator = service.client("venue_operator")
    app = service.client("app_backend", app=NCOVI)
    venue, payload = service.venue(operator)
    personal = app.checkins.IssuePersonalCode(C.IssuePersonalCodeRequest(person=phone(1)), metadata=app.md).payload
    body, signature = payload.rsplit(".", 1)
    altered = [payload + "==", f"{body}.{signature[:40]}!!!!{signature[40:]}", f"{body}.{signature[:-1]}{chr(ord(signature[-1]) ^ 1)}"]
    for bad in altered:
        code, detail = status(app.checkins.CheckIn, C.CheckInRequest(person=phone(2), venue_payload=bad, time=now, source=NCOVI), metadata=app.md)
        assert code is grpc.StatusCode.INVALID_ARGUMENT, (bad, detail)
    assert check_in(app, " " + payload + "\n", phone(2), now).venue_id == venue.id  # a scanner's spaces are not part of it
    # A personal code is never a venue's, nor a venue code a person's, however often either was seen.
    operator.checkins.ScanPerson(C.ScanPersonRequest(venue_id=venue.id, person_payload=personal, time=now), metadata=operator.md)
    code, detail = status(app.checkins.CheckIn, C.CheckInRequest(person=phone(3), venue_payload=personal, time=now, source=NCOVI), metadata=app.md)
    assert code is grpc.StatusCode.INVALID_ARGUMENT and "not a Tokhai venue code" in detail
    code, detail = status(operator.checkins.ScanPerson, C.ScanPersonRequest(venue_id=venue.id, person_payload=payload, time=now), metadata=operator.md)
    assert code is grpc.StatusCode.INVALID_ARGUMENT and "not a Tokhai personal code" in detail
    # Digits are ASCII digits: one person, one pseudonym; one ward, one code.
    wide = K.PersonRef(phone="0\uff19\uff11\uff12\uff13\uff14\uff15\uff16\uff17\uff18")
    assert status(app.checkins.CheckIn, C.CheckInRequest(person=wide, venue_payload=payload, time=now, source=NCOVI), metadata=app.md)[0] is grpc.StatusCode.INVALID_ARGUMENT
    address = V.Address(province_code="79", district_code="760", ward_code="\uff12\uff16\uff17\uff14\uff10")
    register = V.RegisterVenueRequest(name="Quán cà phê", kind=V.VENUE_KIND_CAFE, address=address)
    assert status(operator.venues.RegisterVenue, register, metadata=operator.md)[0] is grpc.StatusCode.INVALID_ARGUMENT
    invisible = V.RegisterVenueRequest(name="\u200b", kind=V.VENUE_KIND_CAFE, address=V.Address(province_code="79", district_code="760", ward_code="26740"))
    assert status(operator.venues.RegisterVenue, invisible, metadata=operator.md)[0] is grpc.StatusCode.INVALID_ARGUMENT


def test_bulk_ingest_acknowledges_whole_batches(service, now):
    admin = service.client("admin")
    app = service.client("app_backend", app=NCOVI)
    venue, _ = service.venue(admin)
    engine = service.server.state.engine
    n = 2_000

    def batch(i: int, **over) -> C.IngestBatch:
        fields = dict(
            batch_id=i,
            source=NCOVI,
            person_refs=[f"cccd:{i:03d}{k:09d}" for k in range(n)],
            venue_ids=[venue.id] * n,
            t_in=[now - 5_000 + k for k in range(n)],
            t_out=[0 if k % 2 else now - 4_000 + k for k in range(n)],
        )
        return C.IngestBatch(**(fields | over))

    acks = list(app.checkins.IngestCheckins(iter([batch(1), batch(2)]), metadata=app.md, timeout=30))
    assert [a.batch_id for a in acks] == [1, 2] and all(len(a.stay_ids) == n for a in acks)
    assert len(engine) == 2 * n
    stays = engine.stays_between(now - 86_400, now + 86_400)
    assert set((stays.t_out - stays.t_in).tolist()) >= {1_000, venue.dwell_seconds}

    bad = [
        (batch(3, venue_ids=[venue.id] * (n - 1)), "INVALID_ARGUMENT", "one value per row"),
        (batch(4, t_out=[now - 6_000] * n), "INVALID_ARGUMENT", "batch 4: row 0"),
        (batch(5, venue_ids=[venue.id + 50] * n), "NOT_FOUND", f"venue {venue.id + 50}"),
        (batch(6, person_refs=["nobody"] * n), "INVALID_ARGUMENT", "person_refs[0]"),
        (batch(7, source=BLUEZONE), "PERMISSION_DENIED", "app"),
        (batch(8, t_in=[now + 9_999] * n), "INVALID_ARGUMENT", "t_in[0]"),
    ]
    for request, want, words in bad:
        code, detail = status(lambda r, **kw: list(app.checkins.IngestCheckins(iter([r]), **kw)), request, metadata=app.md)
        assert code.name == want and words in detail, detail
    assert len(engine) == 2 * n, "refused batches stored nothing"

    # Check-outs in bulk: whole batches too.
    owners = batch(1).person_refs[:10]
    closing = C.IngestBatch(batch_id=9, source=NCOVI, checkout_stay_ids=acks[0].stay_ids[:10], checkout_person_refs=owners, checkout_t_out=[now - 100] * 10)
    assert next(app.checkins.IngestCheckins(iter([closing]), metadata=app.md, timeout=30)).checked_out == 10
    stays = engine.stays_between(now - 86_400, now + 86_400)
    assert (stays.t_out[np.isin(stays.stay_id, acks[0].stay_ids[:10])] == now - 100).all()
    unknown = C.IngestBatch(batch_id=10, source=NCOVI, checkout_stay_ids=[acks[0].stay_ids[11], 12345], checkout_person_refs=owners[:2], checkout_t_out=[now - 50] * 2)
    code, detail = status(lambda r, **kw: list(app.checkins.IngestCheckins(iter([r]), **kw)), unknown, metadata=app.md)
    assert code is grpc.StatusCode.NOT_FOUND and "batch 10" in detail
    # Each stay with its person: one row of another's refuses the batch.
    strangers = C.IngestBatch(batch_id=10, source=NCOVI, checkout_stay_ids=acks[0].stay_ids[10:13], checkout_person_refs=batch(1).person_refs[10:12] + [owners[0]], checkout_t_out=[now - 50] * 3)
    code, detail = status(lambda r, **kw: list(app.checkins.IngestCheckins(iter([r]), **kw)), strangers, metadata=app.md)
    assert code is grpc.StatusCode.NOT_FOUND and "checkout_stay_ids[2]" in detail, detail
    unnamed = C.IngestBatch(batch_id=10, source=NCOVI, checkout_stay_ids=acks[0].stay_ids[10:13], checkout_t_out=[now - 50] * 3)
    code, detail = status(lambda r, **kw: list(app.checkins.IngestCheckins(iter([r]), **kw)), unnamed, metadata=app.md)
    assert code is grpc.StatusCode.INVALID_ARGUMENT and "checkout_person_refs" in detail, detail
    stays = engine.stays_between(now - 86_400, now + 86_400)
    assert not (stays.t_out == now - 50).any(), "the refused batch changed nothing"
    mixed = C.IngestBatch(batch_id=11, source=NCOVI, checkout_stay_ids=[acks[0].stay_ids[12]], checkout_person_refs=[batch(1).person_refs[12]], checkout_t_out=[now - 50], t_in=[now])
    assert status(lambda r, **kw: list(app.checkins.IngestCheckins(iter([r]), **kw)), mixed, metadata=app.md)[0] is grpc.StatusCode.INVALID_ARGUMENT

    # A batch sent again with its request id (after a broken stream, say) is
    # acknowledged as the first time and not stored twice.
    first = next(app.checkins.IngestCheckins(iter([batch(12, request_id="ncovi-12")]), metadata=app.md, timeout=30))
    again = next(app.checkins.IngestCheckins(iter([batch(12, request_id="ncovi-12", batch_id=13)]), metadata=app.md, timeout=30))
    assert again.batch_id == 13 and list(again.stay_ids) == list(first.stay_ids)
    assert len(engine) == 3 * n
    # The same check-ins with check-out times filled in since: the same batch.
    filled = batch(12, request_id="ncovi-12", batch_id=14, t_out=[now - 4_000 + k for k in range(n)])
    assert list(next(app.checkins.IngestCheckins(iter([filled]), metadata=app.md, timeout=30)).stay_ids) == list(first.stay_ids)
    # Another batch with that id is refused, not answered as that one was.
    code, detail = status(lambda r, **kw: list(app.checkins.IngestCheckins(iter([r]), **kw)), batch(13, request_id="ncovi-12"), metadata=app.md)
    assert code is grpc.StatusCode.INVALID_ARGUMENT and "already used for another IngestCheckins request" in detail, detail
    assert len(engine) == 3 * n

    # Stored, but its answer not kept (the database refused it, or the
    # server died in between): the retry finds the stays, stores none again.
    from tokhai_server import state as state_module

    with pytest.MonkeyPatch.context() as m:
        m.setattr(state_module, "_ANSWER_PENDING", sa.text("UPDATE no_such_table SET x = 1"))
        code, _ = status(lambda r, **kw: list(app.checkins.IngestCheckins(iter([r]), **kw)), batch(14, request_id="ncovi-14"), metadata=app.md)
    assert code is not grpc.StatusCode.OK and len(engine) == 4 * n, "stored, unanswered"
    retry = next(app.checkins.IngestCheckins(iter([batch(14, request_id="ncovi-14", batch_id=15)]), metadata=app.md, timeout=30))
    assert len(engine) == 4 * n, "not stored twice"
    held = engine.stays_between(now - 6_000, now)
    assert sorted(retry.stay_ids) == sorted(set(held.stay_id.tolist()) - {s for a in (*acks, first) for s in a.stay_ids})
    assert next(app.checkins.IngestCheckins(iter([batch(14, request_id="ncovi-14", batch_id=16)]), metadata=app.md, timeout=30)).stay_ids == retry.stay_ids
    # A batch refused stored nothing: its id is free for another batch.
    refused = batch(17, request_id="ncovi-17", t_in=[now + 9_999] * n)
    assert status(lambda r, **kw: list(app.checkins.IngestCheckins(iter([r]), **kw)), refused, metadata=app.md)[0] is grpc.StatusCode.INVALID_ARGUMENT
    checkouts = C.IngestBatch(batch_id=18, request_id="ncovi-17", source=NCOVI, checkout_stay_ids=[retry.stay_ids[0]], checkout_person_refs=batch(14).person_refs[:1], checkout_t_out=[now - 10])
    assert next(app.checkins.IngestCheckins(iter([checkouts]), metadata=app.md, timeout=30)).checked_out == 1
    assert len(engine) == 4 * n


def test_a_key_revoked_while_its_stream_is_open_stops_the_stream(service, now):
    import queue

    from tokhai_server import auth

    admin = service.client("admin")
    app = service.client("app_backend", app=NCOVI)
    venue, _ = service.venue(admin)
    batches: queue.Queue = queue.Queue()

    def batch(i: int) -> C.IngestBatch:
        return C.IngestBatch(batch_id=i, source=NCOVI, person_refs=[f"cccd:{i:012d}"], venue_ids=[venue.id], t_in=[now - 600], t_out=[now - 60])

    stream = app.checkins.IngestCheckins(iter(batches.get, None), metadata=app.md, timeout=30)
    batches.put(batch(1))
    assert next(stream).batch_id == 1
    assert auth.revoke_key(service.server.state.db, app.key.split("_")[1])
    service.server.state.keys._cache.clear()  # noqa: SLF001 - as the cache's few seconds passing
    batches.put(batch(2))
    with pytest.raises(grpc.RpcError) as info:
        next(stream)
    assert info.value.code() is grpc.StatusCode.UNAUTHENTICATED
    batches.put(None)
    assert len(service.server.state.engine) == 1, "the batch after the revocation is not stored"


def test_a_key_holds_two_streams_at_most(service, now):
    """So that one key's idle streams (health watches, say) cannot keep the
    app backends' ingest streams out."""
    import queue

    admin = service.client("admin")
    app = service.client("app_backend", app=NCOVI)
    venue, _ = service.venue(admin)
    feeds = [queue.Queue() for _ in range(3)]
    open_ = [app.checkins.IngestCheckins(iter(feed.get, None), metadata=app.md, timeout=30) for feed in feeds[:2]]
    for k, (feed, stream) in enumerate(zip(feeds, open_)):
        feed.put(C.IngestBatch(batch_id=k, source=NCOVI, person_refs=[f"cccd:{k:012d}"], venue_ids=[venue.id], t_in=[now - 600], t_out=[now - 60]))
        assert next(stream).batch_id == k
    third = app.checkins.IngestCheckins(iter(feeds[2].get, None), metadata=app.md, timeout=30)
    feeds[2].put(None)
    with pytest.raises(grpc.RpcError) as info:
        next(third)
    assert info.value.code() is grpc.StatusCode.RESOURCE_EXHAUSTED and "close one first" in info.value.details()
    other = service.client("app_backend", app=NCOVI, name="another backend")
    assert list(other.checkins.IngestCheckins(iter([]), metadata=other.md, timeout=30)) == [], "another key is served"
    feeds[0].put(None)
    assert list(open_[0]) == []
    again = app.checkins.IngestCheckins(iter([]), metadata=app.md, timeout=30)
    assert list(again) == [], "a stream closed gives its share back"
    feeds[1].put(None)


def test_a_check_in_that_failed_to_store_leaves_the_stay_it_closed_closed(service, now, monkeypatch):
    from tokhai_engine import StoreError

    admin = service.client("admin")
    app = service.client("app_backend", app=NCOVI)
    _, here = service.venue(admin)
    _, there = service.venue(admin, name="Quán khác")
    first = check_in(app, here, phone(1), now - 600)
    engine = service.server.state.engine

    def full(*args):  # noqa: ANN002
        raise StoreError("no space left on device")

    with monkeypatch.context() as m:
        m.setattr(type(engine), "add_stays", full)  # the class: its instances take no attributes
        assert status(app.checkins.CheckIn, C.CheckInRequest(person=phone(1), venue_payload=there, time=now - 300, source=NCOVI), metadata=app.md)[0] is grpc.StatusCode.UNAVAILABLE
    again = check_in(app, here, phone(1), now - 200)
    assert not again.repeated and again.stay_id != first.stay_id, "the first stay was closed in the store: not taken as open"


def test_trace_equals_the_engine_and_is_audited(service, now):
    from tokhai_engine import Engine, synth

    admin = service.client("admin")
    app = service.client("app_backend", app=NCOVI)
    venues = [service.venue(admin, name=f"Venue {i}")[0].id for i in range(20)]
    data = synth.generate(20_000, days=2, people=800, venues=20, start=now - 3 * 86_400, seed=5)
    refs = [f"cccd:{int(p):012d}" for p in data.persons]
    ids = np.array(service.server.state.people.ids_of_refs(refs), dtype=np.uint64)
    venue_ids = np.array(venues, dtype=np.uint64)[data.venues.astype(np.int64) % 20]
    request = C.IngestBatch(
        batch_id=1, source=NCOVI, person_refs=refs, venue_ids=venue_ids.tolist(), t_in=data.t_in.tolist(), t_out=data.t_out.tolist()
    )
    list(app.checkins.IngestCheckins(iter([request]), metadata=app.md, timeout=60))
    reference = Engine()
    reference.add_stays(ids, venue_ids, data.t_in, data.t_out)

    # Two cases; contact details for one of their contacts.
    with service.server.state.db.begin() as conn:
        from tokhai_server import db

        conn.execute(db.contacts.insert().values(person_id=int(ids[1]), name="Trần Thị B", phone="0911111111", updated_at=now))
    tracer = service.client("tracer", province="79")
    cases = [T.Case(person=K.PersonRef(citizen_id=refs[i][5:]), province_code="79", start=now - 3 * 86_400, end=now) for i in (0, 1)]
    got = tracer.tracing.Trace(T.TraceRequest(cases=cases, hops=2, min_overlap_seconds=900, purpose="ổ dịch 42"), metadata=tracer.md, timeout=60)
    want = reference.trace(ids[:2], now - 3 * 86_400, now, hops=2, min_overlap=900)
    people = got.people
    assert list(people.person_id) == want.person.tolist()
    assert list(people.hop) == want.hop.tolist()
    assert list(people.exposure_seconds) == want.exposure.tolist()
    assert list(people.exposed_at) == want.exposed_at.tolist()
    assert list(people.source_person_id) == want.source.tolist()
    assert len(people.person_id) > 2
    sites = reference.exposure_sites(ids[:2], now - 3 * 86_400, now)
    assert [(s.venue_id, s.start, s.end) for s in got.sites] == list(zip(sites.venue.tolist(), sites.start.tolist(), sites.end.tolist(), strict=True))
    assert [(c.person_id, c.contact.phone) for c in got.contacts] == [(int(ids[1]), "0911111111")]
    for site in got.sites:  # the case's contacts present at the site during its window, by brute force
        case = int(site.case_person_id)
        contacts = reference.contacts(case, now - 3 * 86_400, now, min_overlap=900).person
        there = reference.overlaps(site.venue_id, site.start, site.end).person
        assert site.people_exposed == len(np.setdiff1d(np.intersect1d(there, contacts), ids[:2]))
    assert sum(s.people_exposed for s in got.sites) > 0
    one = tracer.tracing.Trace(T.TraceRequest(cases=cases[:1], hops=1, min_overlap_seconds=900, purpose="ổ dịch 42"), metadata=tracer.md, timeout=60)
    contacts = reference.contacts(ids[0], now - 3 * 86_400, now, min_overlap=900).person
    for site in one.sites:  # one case: its contacts are the first hop
        there = reference.overlaps(site.venue_id, site.start, site.end).person
        assert site.people_exposed == len(np.intersect1d(there, contacts))

    # A case whose window ended two days ago: its contacts' windows still
    # run until now, whatever other cases share the call.
    early = T.Case(person=cases[0].person, province_code="79", start=now - 3 * 86_400, end=now - 2 * 86_400)
    alone = tracer.tracing.Trace(T.TraceRequest(cases=[early], hops=2, min_overlap_seconds=900, latency_seconds=3_600, purpose="ổ dịch 42"), metadata=tracer.md, timeout=60)
    want = reference.trace(ids[:1], now - 3 * 86_400, now - 2 * 86_400, hops=2, min_overlap=900, latency=3_600, until=now + 86_400)
    assert list(alone.people.person_id) == want.person.tolist() and list(alone.people.exposed_at) == want.exposed_at.tolist()
    assert (want.hop == 2).any() and len(want) > len(reference.trace(ids[:1], now - 3 * 86_400, now - 2 * 86_400, hops=2, min_overlap=900, latency=3_600))
    until = now - 36 * 3_600  # or as the tracer says
    bounded = tracer.tracing.Trace(
        T.TraceRequest(cases=[early], hops=2, min_overlap_seconds=900, latency_seconds=3_600, until=until, purpose="ổ dịch 42"), metadata=tracer.md, timeout=60
    )
    want = reference.trace(ids[:1], now - 3 * 86_400, now - 2 * 86_400, hops=2, min_overlap=900, latency=3_600, until=until)
    assert list(bounded.people.person_id) == want.person.tolist() and list(bounded.people.exposed_at) == want.exposed_at.tolist()

    # Refusals: no purpose, another province's case, bad windows, repeated cases.
    for request, want_code in [
        (T.TraceRequest(cases=cases, hops=2), "INVALID_ARGUMENT"),
        (T.TraceRequest(cases=[T.Case(person=cases[0].person, province_code="01", start=now - 99, end=now)], hops=1, purpose="x-check"), "PERMISSION_DENIED"),
        (T.TraceRequest(cases=[T.Case(person=cases[0].person, province_code="79", start=now, end=now)], hops=1, purpose="x-check"), "INVALID_ARGUMENT"),
        (T.TraceRequest(cases=[cases[0], cases[0]], hops=1, purpose="x-check"), "INVALID_ARGUMENT"),
        (T.TraceRequest(cases=[T.Case(person=cases[0].person, province_code="79", start=-(2**63), end=now)], hops=1, purpose="x-check"), "INVALID_ARGUMENT"),
        (T.TraceRequest(cases=[T.Case(person=cases[0].person, province_code="79", start=now, end=now + 86_400)], hops=1, purpose="x-check"), "INVALID_ARGUMENT"),
        (T.TraceRequest(cases=cases, hops=9, purpose="x-check"), "INVALID_ARGUMENT"),
        (T.TraceRequest(cases=cases, hops=2, until=-5, purpose="x-check"), "INVALID_ARGUMENT"),
        (T.TraceRequest(hops=1, purpose="x-check"), "INVALID_ARGUMENT"),
        # A purpose naming someone by phone: purposes are kept for good.
        (T.TraceRequest(cases=cases, hops=1, purpose="F1 của 0912345678"), "INVALID_ARGUMENT"),
    ]:
        assert status(tracer.tracing.Trace, request, metadata=tracer.md)[0].name == want_code

    state = service.server.state
    assert audit.count(state.db) == 4 and list(audit.verify(state.db)) == []
    with state.db.begin() as conn:
        from tokhai_server import db

        conn.execute(db.audit_log.update().values(people=0))
    assert [seq for seq, _ in audit.verify(state.db)] == [1, 2, 3, 4], "altered records break the chain"


@pytest.mark.parametrize(
    "purpose",
    [
        *("F1 (091) 234 5678", "F1 0912 - 345 - 678", "+84 (912) 345 678", "sdt0912 345 678", "sđt84 912 345 678", "F1 0084912345678", "028 3823 4567"),
        *("001 234 567 890", "cccd079 123 456 789", "cmnd 123 456 789", "F1 1234567890"),
        *("Liên hệ F1 0912.34.56.78", "F1 SĐT 0912-34-56-78", "F1 0912 34.56.78", "SĐT091-234-5678", "028.38.23.45.67", "CCCD 079.201.23.45.67"),
        *("(028)38234567", "ĐT (0274)3822 123", "(+84)91 234 5678", "+84 (0)91 234 5678", "+84 903 000 123", "F1 079 201 000 567"),
        *("cmnd 123.456.789", "84.912.345.678", "0903 123.456"),
        *("0912\u2013345\u2013678", "0912\u00a0345\u00a0678", "0912\n345\n678", "\uff10\uff19\uff11\uff12 \uff13\uff14\uff15 \uff16\uff17\uff18", "\u0301\u0301\u0301"),
    ],
)
def test_a_purpose_naming_someone_by_number_however_written_is_refused(purpose):
    """Purposes are kept for good, past the retention period: a phone or
    citizen id number in one, however grouped, would outlive the data."""
    from tokhai_server.errors import Invalid
    from tokhai_server.services.tracing import purpose_of

    with pytest.raises(Invalid):
        purpose_of(purpose)


@pytest.mark.parametrize(
    "purpose",
    [
        *("ổ dịch chợ Bình Điền 15-07-2021 08:00", "ổ dịch ngày 15-07-2021 8h", "chợ 15.07.2021 7h30", "ngày 05-07-2021 14:00", "ổ dịch 2021-07-15 9h"),
        *("F1 F2 ổ dịch BN 12345", "BN 1234 - 12345", "ổ dịch 79-760-26740", "phường 84-842-28918", "01-001-00004", "ca 2.500 người, 12.000 liều"),
        *("hỗ trợ 1.500.000 - 3.000.000 đồng", "mua 120.000.000 đồng vật tư", "kinh phí 125.350.000 đồng", "tổ 01 - 02 - 03 - 04 - 05", "xã 00004 - 00007"),
        *("BN8451 - 8452 - 8453", "từ 07.30 - 11.30 và 13.30 - 17.00", "lúc 8.30 ngày 15.07.2021"),
        *("ngày 15.07 08.30 - 10.30", "01.07 - 07.07 - 14.07", "Công văn 1234/BYT-MT", "hotline 1900 9095 - 1800 1234"),
    ],
)
def test_a_purpose_with_dates_and_codes_is_taken(purpose):
    from tokhai_server.services.tracing import purpose_of

    assert purpose_of(purpose) == purpose


def test_a_provincial_tracer_traces_only_cases_its_province_has_a_claim_on(service, now):
    """The case's province is the caller's word: the server checks it
    against the stays, declarations and orders it holds."""
    from tokhai.v1 import care_pb2 as H

    admin = service.client("admin")
    app = service.client("app_backend", app=NCOVI)
    _, in_hcmc = service.venue(admin, province="79")
    _, in_hanoi = service.venue(admin, province="01", name="Hồ Gươm")
    for n in (1, 2):  # 1 and 2 met in Ho Chi Minh City, 3 and 4 in Hanoi
        check_in(app, in_hcmc, phone(n), now - 7_200)
    for n in (3, 4):
        check_in(app, in_hanoi, phone(n), now - 7_200)
    hanoi = service.client("tracer", province="01")

    def trace(n: int) -> T.TraceRequest:
        return T.TraceRequest(cases=[T.Case(person=phone(n), province_code="01", start=now - 86_400, end=now)], hops=1, purpose="ổ dịch")

    code, message = status(hanoi.tracing.Trace, trace(1), metadata=hanoi.md)
    assert code is grpc.StatusCode.PERMISSION_DENIED and "cases[0]" in message
    assert status(hanoi.tracing.Trace, trace(9), metadata=hanoi.md)[0] is grpc.StatusCode.PERMISSION_DENIED, "nor anyone it holds nothing of"
    both = T.TraceRequest(cases=[trace(3).cases[0], trace(2).cases[0]], hops=1, purpose="ổ dịch")
    code, message = status(hanoi.tracing.Trace, both, metadata=hanoi.md)
    assert code is grpc.StatusCode.PERMISSION_DENIED and "cases[1]" in message, "the case not linked is named"
    # A refusal tells of each case up to the refused one whether it was
    # linked to the province: audited as a read of those people.
    from tokhai_server import db

    with service.server.state.db.connect() as conn:
        records = conn.execute(db.audit_log.select().order_by(db.audit_log.c.seq)).all()
    assert [(r.action, r.people, json.loads(r.detail)["refused"]) for r in records] == [("Trace", 1, "cases[0]"), ("Trace", 1, "cases[0]"), ("Trace", 2, "cases[1]")]
    # A request refused for its parameters is refused before the province's
    # check: alike for a case in the province (3) and one not (1), unaudited.
    for n in (1, 3):
        bad = trace(n)
        bad.min_overlap_seconds = -1
        assert status(hanoi.tracing.Trace, bad, metadata=hanoi.md)[0] is grpc.StatusCode.INVALID_ARGUMENT
    with service.server.state.db.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(db.audit_log)).scalar_one() == 3
    assert len(hanoi.tracing.Trace(trace(3), metadata=hanoi.md).people.person_id) == 2, "a case at one of its venues"
    outside = T.TraceRequest(cases=[T.Case(person=phone(3), province_code="01", start=now - 3_600, end=now)], hops=1, purpose="ổ dịch")
    assert status(hanoi.tracing.Trace, outside, metadata=hanoi.md)[0] is grpc.StatusCode.PERMISSION_DENIED, "a stay outside the window links nothing"
    # A declared residence in Hanoi links case 1 to it: its contacts are followed wherever they are.
    app.care.Declare(H.DeclareRequest(person=phone(1), time=now - 60, source=NCOVI, declaration=H.Declaration(province_code="01", district_code="001", ward_code="00001")), metadata=app.md)
    assert len(hanoi.tracing.Trace(trace(1), metadata=hanoi.md).people.person_id) == 2
    # So does one of its quarantine orders in force during the window. But
    # the province may not order someone it has no claim on, or an order of
    # its own, backdated, would claim anyone; a national tracer may.
    assert status(hanoi.tracing.Trace, trace(2), metadata=hanoi.md)[0] is grpc.StatusCode.PERMISSION_DENIED
    order = H.OrderQuarantineRequest(people=[phone(2)], kind=H.QUARANTINE_KIND_HOME, province_code="01", place="00001", start=now - 27 * 86_400, planned_end=now + 86_400, purpose="F1 ổ dịch")
    # A facility's name that would be refused is refused before the claims are read.
    bad_place = H.OrderQuarantineRequest(people=[phone(2)], kind=H.QUARANTINE_KIND_FACILITY, province_code="01", place="Khu cách ly\x00", start=now - 600, planned_end=now + 86_400, purpose="F1 ổ dịch")
    assert status(hanoi.care.OrderQuarantine, bad_place, metadata=hanoi.md)[0] is grpc.StatusCode.INVALID_ARGUMENT
    code, message = status(hanoi.care.OrderQuarantine, order, metadata=hanoi.md)
    assert code is grpc.StatusCode.PERMISSION_DENIED and "people[0]" in message
    with service.server.state.db.connect() as conn:
        last = conn.execute(db.audit_log.select().order_by(db.audit_log.c.seq.desc()).limit(1)).one()
    assert (last.action, last.people, json.loads(last.detail)["refused"]) == ("OrderQuarantine", 1, "people[0]"), "the refusal is a read of that person"
    assert status(hanoi.tracing.Trace, trace(2), metadata=hanoi.md)[0] is grpc.StatusCode.PERMISSION_DENIED, "the refused order claims nothing"
    national = service.client("tracer")
    national.care.OrderQuarantine(order, metadata=national.md)
    assert len(hanoi.tracing.Trace(trace(2), metadata=hanoi.md).people.person_id) == 2
    # A stay at one of its venues is a claim for ordering too (3 was in
    # Hanoi); by id, the refusal names the id's place.
    people = service.server.state.people
    ids = [people.of_ref(phone(n))[0] for n in (3, 9)]
    by_id = H.OrderQuarantineRequest(person_ids=ids, kind=H.QUARANTINE_KIND_HOME, province_code="01", place="00001", start=now - 600, planned_end=now + 86_400, purpose="F1 ổ dịch")
    code, message = status(hanoi.care.OrderQuarantine, by_id, metadata=hanoi.md)
    assert code is grpc.StatusCode.PERMISSION_DENIED and message.startswith("person_ids[1] ")
    del by_id.person_ids[1]
    assert len(hanoi.care.OrderQuarantine(by_id, metadata=hanoi.md).orders) == 1
    assert len(national.tracing.Trace(trace(4), metadata=national.md).people.person_id) == 2


def test_venue_log_for_the_operator_and_the_provinces_tracer(service, now):
    operator = service.client("venue_operator")
    app = service.client("app_backend", app=NCOVI)
    venue, payload = service.venue(operator, province="79")
    for n in range(3):
        check_in(app, payload, phone(n), now - 600 + n)
    log = operator.tracing.VenueLog(T.VenueLogRequest(venue_id=venue.id, day=now, purpose="kiểm soát ra vào"), metadata=operator.md)
    assert len(log.entries) == 3 and all(e.left_at > e.entered_at for e in log.entries)
    assert status(operator.tracing.VenueLog, T.VenueLogRequest(venue_id=venue.id, day=now), metadata=operator.md)[0] is grpc.StatusCode.INVALID_ARGUMENT
    unset = T.VenueLogRequest(venue_id=venue.id, purpose="kiểm soát ra vào")  # day 0: 1970, long past retention
    assert status(operator.tracing.VenueLog, unset, metadata=operator.md)[0] is grpc.StatusCode.INVALID_ARGUMENT
    # Any second of today names today, its last too (hours ahead of the clock).
    last_second = (now + 7 * 3_600) // 86_400 * 86_400 - 7 * 3_600 + 86_399
    today = T.VenueLogRequest(venue_id=venue.id, day=last_second, purpose="kiểm soát ra vào")
    assert operator.tracing.VenueLog(today, metadata=operator.md) == log
    other = service.client("venue_operator", name="other")
    assert status(other.tracing.VenueLog, T.VenueLogRequest(venue_id=venue.id, day=now, purpose="curious"), metadata=other.md)[0] is grpc.StatusCode.PERMISSION_DENIED
    hanoi = service.client("tracer", province="01")
    assert status(hanoi.tracing.VenueLog, T.VenueLogRequest(venue_id=venue.id, day=now, purpose="trace"), metadata=hanoi.md)[0] is grpc.StatusCode.PERMISSION_DENIED
    hcmc = service.client("tracer", province="79")
    traced = hcmc.tracing.VenueLog(T.VenueLogRequest(venue_id=venue.id, day=now, purpose="trace"), metadata=hcmc.md)
    assert len(traced.entries) == 3
    assert audit.count(service.server.state.db) == 3
    # The tracer gets the national ids; the operator ids of its venue's day
    # alone: the same person's twice, but no one else's, nor another day's.
    people = service.server.state.people
    assert sorted(e.person.id for e in traced.entries) == sorted(people.of_ref(phone(n))[0] for n in range(3))
    _, elsewhere = service.venue(operator, name="Quán bên cạnh")
    check_in(app, elsewhere, phone(0), now - 300)  # closes the first stay
    check_in(app, payload, phone(0), now - 30)
    today = (now + 7 * 3_600) // 86_400 * 86_400 - 7 * 3_600  # Vietnam's midnight
    check_in(app, payload, phone(0), today - 43_200)  # scans uploaded late: yesterday's,
    check_in(app, payload, phone(5), today - 1_800)  # and one across midnight (an hour's dwell),
    check_in(app, payload, phone(5), today - 40_000)  # after an entry earlier that day

    def log(day: int) -> list[T.VenueLogEntry]:
        return list(operator.tracing.VenueLog(T.VenueLogRequest(venue_id=venue.id, day=day, purpose="kiểm soát ra vào"), metadata=operator.md).entries)

    ids = [e.person.id for e in log(now)]
    assert len(ids) == 5 and len(set(ids)) == 4 and not set(ids) & {e.person.id for e in traced.entries}
    earlier = log(today - 43_200)
    assert not {e.person.id for e in earlier} & set(ids)
    # Cut at midnight for the operator, under an id of its own: the two
    # halves of a night meet at midnight, and would join the days' entries.
    by_time = {(e.entered_at, e.left_at): e.person.id for e in earlier}
    assert (today - 1_800, today) in by_time and (today, today + 1_800) in {(e.entered_at, e.left_at) for e in log(now)}
    assert by_time[(today - 1_800, today)] != by_time[(today - 40_000, today - 40_000 + 3_600)]
    # A day not begun is refused, as is one past the retention period.
    tomorrow = T.VenueLogRequest(venue_id=venue.id, day=today + 86_400, purpose="kiểm soát ra vào")
    assert status(operator.tracing.VenueLog, tomorrow, metadata=operator.md) == (grpc.StatusCode.INVALID_ARGUMENT, f"day {today + 86_400} has not begun (its midnight, UTC+7, is after the server's clock)")


def test_stays_survive_a_restart(service, now, tmp_path, database_url):
    from harness import start

    admin = service.client("admin")
    app = service.client("app_backend", app=NCOVI)
    _, payload = service.venue(admin)
    stay = check_in(app, payload, phone(1), now - 100, request_id="keep")
    service.channel.close()
    service.server.stop(grace=1)
    again = start(service.data_dir, database_url)
    try:
        app2 = type(app)(again.channel, app.key)
        assert check_in(app2, payload, phone(1), now - 100, request_id="keep") == stay, "retries are answered alike after a restart"
        assert check_in(app2, payload, phone(1), now - 50).repeated, "open stays are rebuilt"
        assert len(again.server.state.engine) == 1
    finally:
        again.channel.close()
        again.server.stop(grace=1)
    service.server = again.server  # the fixture's teardown stops it again, harmlessly


def test_ingested_stays_still_open_are_open_stays_before_and_after_a_restart(service, now, database_url):
    from harness import start

    admin = service.client("admin")
    app = service.client("app_backend", app=NCOVI)
    x, x_payload = service.venue(admin)
    y, _ = service.venue(admin)

    def at_x_then_ingested_at_y(n):
        """Checked in at X, then a stay at Y forwarded in bulk, still open."""
        check_in(app, x_payload, phone(n), now - 600)
        batch = C.IngestBatch(batch_id=n, source=NCOVI, person_refs=[f"phone:09{n:08d}"], venue_ids=[y.id], t_in=[now - 300], t_out=[0])
        return list(app.checkins.IngestCheckins(iter([batch]), metadata=app.md, timeout=10))[0].stay_ids[0]

    def moves_on(client, state, n, at_y):
        """A check-in at X now is a new stay, and closes the one at Y."""
        again_at_x = check_in(client, x_payload, phone(n), now - 60)
        stays = state.engine.stays_between(now - 86_400, now + 86_400)
        return not again_at_x.repeated and stays.t_out[stays.stay_id == at_y].tolist() == [now - 60]

    assert moves_on(app, service.server.state, 1, at_x_then_ingested_at_y(1))
    at_y = at_x_then_ingested_at_y(2)
    service.channel.close()
    service.server.stop(grace=1)
    again = start(service.data_dir, database_url)
    try:
        assert moves_on(type(app)(again.channel, app.key), again.server.state, 2, at_y), "alike after a restart"
    finally:
        again.channel.close()
        again.server.stop(grace=1)
    service.server = again.server


def test_a_check_in_elsewhere_in_the_same_second_ends_the_open_stay(service, now):
    admin = service.client("admin")
    app = service.client("app_backend", app=NCOVI)
    _, here = service.venue(admin)
    _, there = service.venue(admin)
    first = check_in(app, here, phone(1), now - 60)
    check_in(app, there, phone(1), now - 60)
    stays = service.server.state.engine.stays_between(now - 3_600, now + 86_400)
    assert stays.t_out[stays.stay_id == first.stay_id].tolist() == [now - 59]


def test_a_request_lock_and_a_person_lock_never_collide(service):
    # A check-in holds its request id's lock while it takes its person's; if
    # both came from one pool, some pairs would deadlock on the same lock.
    state = service.server.state
    for n in range(5_000):
        with state.lock("request", 1, f"r{n}"):
            assert state.lock("person", n).acquire(timeout=1), f"request r{n} and person {n} share a lock"
            state.lock("person", n).release()


def test_concurrent_check_ins_of_the_same_people_stay_consistent(service, now):
    """Many clients, few people and venues: no deadlock, and every open stay
    the service holds is a stay of that person, still open, in the store."""
    import random
    import threading

    admin = service.client("admin")
    app = service.client("app_backend", app=NCOVI)
    venues = [service.venue(admin, name=f"V{i}") for i in range(3)]
    errors: list[BaseException] = []

    def client(k: int) -> None:
        rng = random.Random(k)
        try:
            for n in range(40):
                who = phone(rng.randrange(5))
                venue, payload = rng.choice(venues)
                t = now - 3_000 + n * 60 + rng.randrange(30)
                if rng.random() < 0.2:
                    request = C.CheckOutRequest(person_at_venue=C.PersonAtVenue(person=who, venue_id=venue.id), time=t + 30)
                    try:
                        app.checkins.CheckOut(request, metadata=app.md, timeout=10)
                    except grpc.RpcError as e:
                        assert e.code() is grpc.StatusCode.NOT_FOUND, e.details()
                else:
                    check_in(app, payload, who, t, request_id=f"{k}-{n}")
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=client, args=(k,)) for k in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads), "a client hangs"
    assert not errors, errors[0]
    state = service.server.state
    stays = state.engine.stays_between(now - 86_400, now + 86_400)
    held = {sid: (p, t_out) for sid, p, t_out in zip(stays.stay_id.tolist(), stays.person.tolist(), stays.t_out.tolist(), strict=True)}
    for person, open_ in state.open_stays.items():
        assert held[open_.stay_id][0] == person
        assert held[open_.stay_id][1] == open_.until, "an open stay is not closed in the store"


def test_idle_streams_leave_threads_for_other_calls(service):
    """A stream holds a worker thread while it waits for its client; a few
    idle ingest streams must not stop every other call, health checks too."""
    import threading
    import time

    from grpc_health.v1 import health_pb2, health_pb2_grpc

    app = service.client("app_backend", app=NCOVI)
    guard = service.server.guard
    release = threading.Event()

    def idle():
        release.wait(30)
        yield from ()

    backends = [service.client("app_backend", app=NCOVI, name=f"backend {k}") for k in range(guard.streams)]  # a stream each
    held = [b.checkins.IngestCheckins(idle(), metadata=b.md, timeout=30) for b in backends]
    try:
        deadline = time.monotonic() + 20
        while guard.streams_open() < guard.streams and time.monotonic() < deadline:
            time.sleep(0.01)
        assert guard.streams_open() == guard.streams
        code, detail = status(lambda *a, **k: next(app.checkins.IngestCheckins(idle(), *a, **k)), metadata=app.md)
        assert code is grpc.StatusCode.RESOURCE_EXHAUSTED and "streams are open" in detail
        app.venues.ListSigningKeys(V.ListSigningKeysRequest(), metadata=app.md, timeout=5)
        health = health_pb2_grpc.HealthStub(app.channel).Check(health_pb2.HealthCheckRequest(), timeout=5)
        assert health.status == health_pb2.HealthCheckResponse.SERVING
    finally:
        release.set()
        for call in held:
            call.cancel()


def test_health_watches_and_reflection_keep_off_the_ingest_streams_threads(service):
    """Streams not of the API share one slot of their own: a few keys'
    idle health watches do not shut the app backends' ingest out."""
    import threading

    from grpc_health.v1 import health_pb2, health_pb2_grpc

    from tokhai_server.app import OTHER_STREAMS

    operators = [service.client("venue_operator", name=f"operator {k}") for k in range(OTHER_STREAMS + 1)]
    guard = service.server.guard
    watches = [health_pb2_grpc.HealthStub(o.channel).Watch(health_pb2.HealthCheckRequest(), metadata=o.md, timeout=30) for o in operators[:-1]]
    try:
        assert all(next(watch).status == health_pb2.HealthCheckResponse.SERVING for watch in watches)
        code, detail = status(lambda *a, **k: next(health_pb2_grpc.HealthStub(operators[-1].channel).Watch(*a, **k)), health_pb2.HealthCheckRequest(), metadata=operators[-1].md)
        assert code is grpc.StatusCode.RESOURCE_EXHAUSTED and "health or reflection streams are open" in detail
        release = threading.Event()

        def idle():
            release.wait(30)
            yield from ()

        backends = [service.client("app_backend", app=NCOVI, name=f"backend {k}") for k in range(guard.streams)]
        held = [b.checkins.IngestCheckins(idle(), metadata=b.md, timeout=30) for b in backends]
        try:
            deadline = time.monotonic() + 20
            while guard.streams_open() < guard.streams and time.monotonic() < deadline:
                time.sleep(0.01)
            assert guard.streams_open() == guard.streams, "every ingest stream opened beside the watch"
        finally:
            release.set()
            for call in held:
                call.cancel()
    finally:
        for watch in watches:
            watch.cancel()


def test_a_check_out_is_never_undone_by_a_check_in_at_the_same_time(service, now):
    """A check-out and the person's check-in elsewhere, at once: whichever
    goes first, the accepted check-out time stands (the check-in finds the
    stay no longer open), and the check-in is a stay of its own."""
    import threading

    admin = service.client("admin")
    app = service.client("app_backend", app=NCOVI)
    (a, payload_a), (b, payload_b) = service.venue(admin, name="A"), service.venue(admin, name="B")
    engine = service.server.state.engine
    for round_ in range(60):
        who = phone(1000 + round_)
        t0 = now - 3_000
        stay = check_in(app, payload_a, who, t0)
        out = C.CheckOutRequest(stay=C.PersonStay(person=who, stay_id=stay.stay_id), time=t0 + 600) if round_ % 2 else C.CheckOutRequest(person_at_venue=C.PersonAtVenue(person=who, venue_id=a.id), time=t0 + 600)
        checked_out = []

        def check_out() -> None:
            try:
                app.checkins.CheckOut(out, metadata=app.md, timeout=10)
                checked_out.append(True)
            except grpc.RpcError as e:  # the check-in went first: no open stay at A by then
                assert e.code() is grpc.StatusCode.NOT_FOUND, e.details()

        calls = [threading.Thread(target=check_out), threading.Thread(target=lambda: check_in(app, payload_b, who, t0 + 1_200))]
        for call in calls:
            call.start()
        for call in calls:
            call.join()
        stays = engine.stays_between(t0, t0 + 1)
        ended = dict(zip(stays.stay_id.tolist(), stays.t_out.tolist()))[stay.stay_id]
        assert ended == (t0 + 600 if checked_out else t0 + 1_200), f"round {round_}: the check-out {'was' if checked_out else 'was not'} accepted"


def test_a_stay_is_open_until_its_provisional_end(service, now):
    admin = service.client("admin")
    app = service.client("app_backend", app=NCOVI)
    venue, payload = service.venue(admin)
    state = service.server.state
    stay = check_in(app, payload, phone(1), now - venue.dwell_seconds - 60)  # its provisional end has passed
    assert stay.provisional_t_out < now
    out = C.CheckOutRequest(person_at_venue=C.PersonAtVenue(person=phone(1), venue_id=venue.id), time=now)
    assert status(app.checkins.CheckOut, out, metadata=app.md)[0] is grpc.StatusCode.NOT_FOUND
    check_in(app, payload, phone(2), now - venue.dwell_seconds - 60)
    check_in(app, payload, phone(3), now - 60)
    assert state.forget_ended(now) == 1, "those in a venue now are held, not everyone's latest stay"
    assert list(state.open_stays) == [state.people.of_ref(phone(3))[0]]


def test_the_load_benchmarks_bulk_batches_are_taken(service):
    """bench/service.py's ingest, small: its batches stay valid as the
    service's rules change (a check-out ahead of the clock is refused)."""
    import queue
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).parents[2] / "bench"))
    import service as load_bench

    admin = service.client("admin")
    venues = [service.venue(admin, name=f"Quán {n}")[0].id for n in range(3)]
    app = service.client("app_backend", app=NCOVI)
    done: queue.Queue = queue.Queue()
    load_bench.ingest_worker(service.server.port, app.key, len(venues), 2, 500, 0, done)
    assert done.get()[0] == 1_000 and venues == [1, 2, 3]


def test_refusals_at_their_bounds_across_provinces_and_for_deactivated_venues(service, now):
    """The limits where they are (300 s ahead, 28 days back), a code whose
    venue id was changed under its signature, another province's tracer on
    every call that names a province, and a deactivated venue everywhere."""
    from tokhai.v1 import care_pb2 as H
    from tokhai.v1 import reports_pb2 as R

    admin = service.client("admin")
    app = service.client("app_backend", app=NCOVI)
    operator = service.client("venue_operator", province="79")
    venue, payload = service.venue(operator, province="79")
    other, _ = service.venue(operator, province="79", name="Quán khác")

    def checkin(t: int, code: str = payload) -> grpc.StatusCode:
        try:
            app.checkins.CheckIn(C.CheckInRequest(person=phone(1), venue_payload=code, time=t, source=NCOVI), metadata=app.md, timeout=10)
        except grpc.RpcError as e:
            return e.code()
        return grpc.StatusCode.OK

    assert checkin(now + 400) is grpc.StatusCode.INVALID_ARGUMENT
    assert checkin(now - 28 * 86_400 - 400) is grpc.StatusCode.INVALID_ARGUMENT
    assert checkin(now - 28 * 86_400 + 400) is grpc.StatusCode.OK
    assert checkin(now + 200) is grpc.StatusCode.OK
    prefix, _, key, signature = payload.split(".")
    moved = f"{prefix}.{other.id}.{key}.{signature}"  # another venue, the same signature
    assert checkin(now, moved) is grpc.StatusCode.INVALID_ARGUMENT
    assert checkin(now, f"{prefix}.{venue.id}.{int(key) + 99}.{signature}") is grpc.StatusCode.NOT_FOUND

    hanoi = service.client("tracer", province="01")
    denied = [
        (hanoi.care.OrderQuarantine, H.OrderQuarantineRequest(people=[phone(2)], kind=H.QUARANTINE_KIND_HOME, province_code="79", place="26740", start=now, planned_end=now + 86_400, purpose="F1 ổ dịch")),
        (hanoi.care.PublishAlerts, H.PublishAlertsRequest(alerts=[H.VenueAlert(venue_id=venue.id, start=now - 600, end=now, level=H.ALERT_LEVEL_MONITOR)], purpose="ổ dịch")),
        (hanoi.venues.SafetyHistory, V.SafetyHistoryRequest(venue_id=venue.id)),
        (hanoi.reports.SymptomCounts, R.CountsRequest(province_code="79", by=R.LEVEL_WARD, start=now - 60, end=now)),
        (hanoi.reports.VenueCounts, R.VenueCountsRequest(province_code="79")),
        (hanoi.reports.QuarantineCounts, R.QuarantineCountsRequest(province_code="79")),
        (hanoi.care.ListLineList, H.LineListRequest(list=H.LINE_LIST_NOT_REPORTED_TODAY, province_code="79", purpose="theo dõi")),
    ]
    for call, request in denied:
        assert status(call, request, metadata=hanoi.md)[0] is grpc.StatusCode.PERMISSION_DENIED, call
    with service.server.state.db.connect() as conn:
        from tokhai_server import db

        assert conn.execute(sa.select(sa.func.count()).select_from(db.quarantine_orders)).scalar_one() == 0
        assert conn.execute(sa.select(sa.func.count()).select_from(db.alerts)).scalar_one() == 0

    # Deactivated: refused for check-ins however they come, and for new codes.
    operator.venues.DeactivateVenue(V.DeactivateVenueRequest(venue_id=venue.id), metadata=operator.md)
    code = app.checkins.IssuePersonalCode(C.IssuePersonalCodeRequest(person=phone(3)), metadata=app.md).payload
    refused = [
        (operator.checkins.ScanPerson, C.ScanPersonRequest(venue_id=venue.id, person_payload=code, time=now), operator.md),
        (operator.venues.IssueVenueCode, V.IssueVenueCodeRequest(venue_id=venue.id), operator.md),
        (lambda r, **kw: list(app.checkins.IngestCheckins(iter([r]), **kw)), C.IngestBatch(batch_id=1, source=NCOVI, person_refs=["cccd:000000000004"], venue_ids=[venue.id], t_in=[now - 60], t_out=[now]), app.md),
    ]
    stays = len(service.server.state.engine)
    for call, request, md in refused:
        assert status(call, request, metadata=md)[0] is grpc.StatusCode.FAILED_PRECONDITION, call
    assert len(service.server.state.engine) == stays


def test_retries_of_scans_check_outs_and_check_out_batches_change_nothing(service, now):
    app = service.client("app_backend", app=NCOVI)
    operator = service.client("venue_operator")
    venue, payload = service.venue(operator)
    engine = service.server.state.engine
    code = app.checkins.IssuePersonalCode(C.IssuePersonalCodeRequest(person=phone(1)), metadata=app.md).payload
    scan = C.ScanPersonRequest(request_id="s-1", venue_id=venue.id, person_payload=code, time=now - 900)
    first = operator.checkins.ScanPerson(scan, metadata=operator.md)
    assert operator.checkins.ScanPerson(scan, metadata=operator.md) == first and len(engine) == 1
    out = C.CheckOutRequest(request_id="o-1", stay=C.PersonStay(person=phone(1), stay_id=first.stay_id), time=now - 600)
    assert app.checkins.CheckOut(out, metadata=app.md) == app.checkins.CheckOut(out, metadata=app.md)
    # Another check-out under the same request id is refused (as payment
    # services refuse a key reused): the first time stands.
    later = C.CheckOutRequest(request_id="o-1", stay=C.PersonStay(person=phone(1), stay_id=first.stay_id), time=now - 300)
    assert status(app.checkins.CheckOut, later, metadata=app.md)[0] is grpc.StatusCode.INVALID_ARGUMENT
    assert engine.stays_between(now - 1_000, now).t_out.tolist() == [now - 600]
    other = check_in(app, payload, phone(2), now - 800)
    batch = C.IngestBatch(batch_id=1, request_id="b-1", source=NCOVI, checkout_stay_ids=[other.stay_id], checkout_person_refs=["phone:0900000002"], checkout_t_out=[now - 100])
    acks = [list(app.checkins.IngestCheckins(iter([batch]), metadata=app.md, timeout=10))[0] for _ in range(2)]
    assert acks[0] == acks[1] and acks[0].checked_out == 1 and len(engine) == 2
    assert sorted(engine.stays_between(now - 1_000, now).t_out.tolist()) == [now - 600, now - 100]
    # The scanned code's key revoked since: the scan's retry still gets its answer.
    codes = service.server.state.codes
    signer = codes.keys[0].id
    codes.rotate()
    codes.revoke(signer)
    assert operator.checkins.ScanPerson(scan, metadata=operator.md) == first and len(engine) == 2


def test_a_retry_after_a_failure_midway_takes_up_what_the_first_try_stored(service, now, monkeypatch):
    """A check-in or check-out is stored in the engine before the rest of its
    call (contact details, the answer kept for retries) is in the database: a
    retry after a failure between the two takes up what the first try
    stored, and stores nothing twice."""
    from tokhai_server import db
    from tokhai_server.services.checkins import CheckinServicer

    app = service.client("app_backend", app=NCOVI)
    operator = service.client("venue_operator")
    (a, a_payload), (b, b_payload) = service.venue(operator), service.venue(operator)
    state = service.server.state
    engine = state.engine
    locked = sa.exc.OperationalError("UPDATE contacts", {}, Exception("database is locked"))

    def fails(*args, **kwargs) -> None:  # noqa: ANN002, ANN003
        raise locked

    # In at b now; a check-in at a an hour ago, uploaded late by an offline
    # app, is an earlier stay: not the open one, so only the store knows it.
    check_in(app, b_payload, phone(1), now - 600)
    late = C.CheckInRequest(request_id="c-1", person=phone(1), venue_payload=a_payload, time=now - 3_600, source=NCOVI, contact=K.ContactDetails(phone="0900000001"))
    with monkeypatch.context() as m:
        m.setattr(CheckinServicer, "_keep_contact", fails)
        assert status(app.checkins.CheckIn, late, metadata=app.md)[0] is grpc.StatusCode.UNAVAILABLE
    assert len(engine) == 2, "the stay was stored before the failure"
    first = app.checkins.CheckIn(late, metadata=app.md)
    assert len(engine) == 2 and engine.stays_by_id([first.stay_id]).venue.tolist() == [a.id], "taken up, not stored again"
    assert app.checkins.CheckIn(late, metadata=app.md) == first

    # So when the venue was deactivated in between: the check-in was taken
    # before; a new one there is refused.
    gone, gone_payload = service.venue(operator)
    lost = C.CheckInRequest(request_id="c-2", person=phone(2), venue_payload=gone_payload, time=now - 1_800, source=NCOVI, contact=K.ContactDetails(phone="0900000002"))
    with monkeypatch.context() as m:
        m.setattr(CheckinServicer, "_keep_contact", fails)
        assert status(app.checkins.CheckIn, lost, metadata=app.md)[0] is grpc.StatusCode.UNAVAILABLE
    operator.venues.DeactivateVenue(V.DeactivateVenueRequest(venue_id=gone.id), metadata=operator.md)
    taken = app.checkins.CheckIn(lost, metadata=app.md)
    assert len(engine) == 3 and engine.stays_by_id([taken.stay_id]).venue.tolist() == [gone.id]
    new = C.CheckInRequest(request_id="c-3", person=phone(4), venue_payload=gone_payload, time=now - 1_800, source=NCOVI)
    assert status(app.checkins.CheckIn, new, metadata=app.md)[0] is grpc.StatusCode.FAILED_PRECONDITION and len(engine) == 3

    # A repeated scan stores nothing a retry could find by its time: its
    # answer is noted, and the retry gives it though the stay was checked
    # out meanwhile, rather than store a stay that never was.
    stay = check_in(app, b_payload, phone(5), now - 600).stay_id
    repeated = C.CheckInRequest(request_id="c-4", person=phone(5), venue_payload=b_payload, time=now - 300, source=NCOVI, contact=K.ContactDetails(phone="0900000005"))
    with monkeypatch.context() as m:
        m.setattr(CheckinServicer, "_keep_contact", fails)
        assert status(app.checkins.CheckIn, repeated, metadata=app.md)[0] is grpc.StatusCode.UNAVAILABLE
    app.checkins.CheckOut(C.CheckOutRequest(person_at_venue=C.PersonAtVenue(person=phone(5), venue_id=b.id), time=now - 200), metadata=app.md)
    held = len(engine)
    again = app.checkins.CheckIn(repeated, metadata=app.md)
    assert (again.stay_id, again.repeated, len(engine)) == (stay, True, held)

    # A check-out by person and venue, lost after it was stored: the retry
    # gives its answer, though the stay is open no more.
    out = C.CheckOutRequest(request_id="o-1", person_at_venue=C.PersonAtVenue(person=phone(1), venue_id=b.id), time=now - 60)
    with monkeypatch.context() as m:
        m.setattr(state, "forget_open", fails)
        assert status(app.checkins.CheckOut, out, metadata=app.md)[0] is grpc.StatusCode.UNAVAILABLE
    answer = app.checkins.CheckOut(out, metadata=app.md)
    assert answer.t_out == now - 60 and engine.stays_by_id([answer.stay_id]).t_out.tolist() == [now - 60]
    assert app.checkins.CheckOut(out, metadata=app.md) == answer

    # A check-out noted, whose change failed: before its retry, a check-in
    # elsewhere closed the stay earlier, which the retry does not undo.
    check_in(app, b_payload, phone(3), now - 600)

    class Failing:
        def __getattr__(self, name: str):  # noqa: ANN204
            return getattr(engine, name)

        def set_checkout(self, *args, **kwargs):  # noqa: ANN002, ANN003, ANN201
            raise locked

    out = C.CheckOutRequest(request_id="o-2", person_at_venue=C.PersonAtVenue(person=phone(3), venue_id=b.id), time=now - 60)
    with monkeypatch.context() as m:
        m.setattr(state, "engine", Failing())
        assert status(app.checkins.CheckOut, out, metadata=app.md)[0] is grpc.StatusCode.UNAVAILABLE
    elsewhere = check_in(app, a_payload, phone(3), now - 90)
    answer = app.checkins.CheckOut(out, metadata=app.md)
    assert answer.t_out == now - 90 and engine.stays_by_id([answer.stay_id]).t_out.tolist() == [now - 90]
    assert engine.stays_by_id([elsewhere.stay_id]).t_in.tolist() == [now - 90]

    # A check-in with a request id commits once: the answer, no mark.
    with state.db.connect() as conn:
        kept = conn.execute(sa.select(db.requests.c.pending).where(db.requests.c.request_id == "c-1")).scalar_one()
    assert kept is None, "answered, not pending"



def test_a_retry_takes_up_its_stored_stay_though_the_code_s_key_was_revoked_since(service, now, monkeypatch):
    """A first try that stored its stay and failed before it answered was
    taken with a code then good: a retry after the key's revocation takes
    up that stay, where a new request with the code is refused."""
    from tokhai_server.services import care
    from tokhai_server.services.checkins import CheckinServicer

    app = service.client("app_backend", app=NCOVI)
    operator = service.client("venue_operator")
    (a, a_payload), (b, _) = service.venue(operator), service.venue(operator, name="Chợ Lớn")
    state = service.server.state
    engine = state.engine
    locked = sa.exc.OperationalError("UPDATE contacts", {}, Exception("database is locked"))

    def fails(*args, **kwargs) -> None:  # noqa: ANN002, ANN003
        raise locked

    code = app.checkins.IssuePersonalCode(C.IssuePersonalCodeRequest(person=phone(1)), metadata=app.md).payload
    scan = C.ScanPersonRequest(request_id="s-1", venue_id=b.id, person_payload=code, time=now - 900)
    visit = C.CheckInRequest(request_id="c-1", person=phone(2), venue_payload=a_payload, time=now - 900, source=NCOVI, contact=K.ContactDetails(phone="0900000002"))
    with monkeypatch.context() as m:
        m.setattr(care, "advice", fails)
        assert status(operator.checkins.ScanPerson, scan, metadata=operator.md)[0] is grpc.StatusCode.UNAVAILABLE
    with monkeypatch.context() as m:
        m.setattr(CheckinServicer, "_keep_contact", fails)
        assert status(app.checkins.CheckIn, visit, metadata=app.md)[0] is grpc.StatusCode.UNAVAILABLE
    assert len(engine) == 2, "both stored before the failure"
    signer = state.codes.keys[0].id
    state.codes.rotate()
    state.codes.revoke(signer)
    scanned, visited = operator.checkins.ScanPerson(scan, metadata=operator.md), app.checkins.CheckIn(visit, metadata=app.md)
    assert len(engine) == 2 and engine.stays_by_id([scanned.stay_id, visited.stay_id]).venue.tolist() == [b.id, a.id], "taken up"
    again = C.ScanPersonRequest(request_id="s-2", venue_id=b.id, person_payload=code, time=now - 600)
    assert "revoked" in status(operator.checkins.ScanPerson, again, metadata=operator.md)[1]
    other = C.CheckInRequest(request_id="c-2", person=phone(3), venue_payload=a_payload, time=now - 600, source=NCOVI)
    assert "revoked" in status(app.checkins.CheckIn, other, metadata=app.md)[1]
    assert len(engine) == 2


def test_a_retried_batch_of_check_ins_takes_the_check_outs_filled_in_since(service, now, monkeypatch):
    """An outbox that lost a batch's ack sends it again with the check-out
    times it has learnt since: the same batch, its stays not stored twice,
    and its check-outs taken (but for a stay a check-in elsewhere closed
    earlier), whether the ack was kept or the first try failed after it
    stored the stays."""
    app = service.client("app_backend", app=NCOVI)
    operator = service.client("venue_operator")
    (a, _), (b, b_payload) = service.venue(operator), service.venue(operator, name="Chợ Lớn")
    state = service.server.state
    engine = state.engine

    def batch(request_id: str, people: list[int], t_out: list[int], t_in: int = now - 1_200) -> C.IngestBatch:
        n = len(people)
        refs = [f"phone:09{p:08d}" for p in people]
        return C.IngestBatch(batch_id=1, request_id=request_id, source=NCOVI, person_refs=refs, venue_ids=[a.id] * n, t_in=[t_in] * n, t_out=t_out)

    def ingest(b: C.IngestBatch) -> C.IngestAck:
        return list(app.checkins.IngestCheckins(iter([b]), metadata=app.md, timeout=10))[0]

    first = ingest(batch("b-1", [1, 2], [0, 0]))
    check_in(app, b_payload, phone(2), now - 600)  # closes 2's stay at a
    again = ingest(batch("b-1", [1, 2], [now - 900, now - 300]))
    assert again.stay_ids == first.stay_ids and len(engine) == 3
    assert engine.stays_by_id(first.stay_ids).t_out.tolist() == [now - 900, now - 600]

    def fails(*args, **kwargs) -> None:  # noqa: ANN002, ANN003
        raise sa.exc.OperationalError("UPDATE requests", {}, Exception("database is locked"))

    with monkeypatch.context() as m:
        m.setattr(state, "note_open", fails)
        with pytest.raises(grpc.RpcError):
            ingest(batch("b-2", [3], [0]))
    assert len(engine) == 4, "stored before the failure"
    taken = ingest(batch("b-2", [3], [now - 1_000]))
    assert len(engine) == 4 and engine.stays_by_id(taken.stay_ids).t_out.tolist() == [now - 1_000]

    # A check-out after the provisional end (the venue's dwell, passed)
    # ends the stay later; times that could not be stored are refused.
    ended = ingest(batch("b-3", [4], [0], t_in=now - 3 * a.dwell_seconds))
    assert engine.stays_by_id(ended.stay_ids).t_out.tolist() == [now - 2 * a.dwell_seconds]
    for bad, what in (([now - 4 * a.dwell_seconds], "t_out[0]"), ([now + 3_600], "t_out[0]"), ([0, 0], "one value per row")):
        code, detail = status(lambda r, **kw: ingest(r), batch("b-3", [4], bad, t_in=now - 3 * a.dwell_seconds))
        assert code is grpc.StatusCode.INVALID_ARGUMENT and what in detail, detail
    ingest(batch("b-3", [4], [now - 60], t_in=now - 3 * a.dwell_seconds))
    assert engine.stays_by_id(ended.stay_ids).t_out.tolist() == [now - 60] and len(engine) == 5
    # So even once the venue's dwell has changed: the end its first try
    # stored is kept with its answer.
    moved = ingest(batch("b-5", [5], [0], t_in=now - 3 * a.dwell_seconds))
    operator.venues.UpdateVenue(V.UpdateVenueRequest(venue_id=a.id, dwell_seconds=a.dwell_seconds // 2), metadata=operator.md)
    ingest(batch("b-5", [5], [now - 120], t_in=now - 3 * a.dwell_seconds))
    assert engine.stays_by_id(moved.stay_ids).t_out.tolist() == [now - 120] and len(engine) == 6
    # A check-out the first try gave is no provisional end: a later one sent again is not taken.
    given = ingest(batch("b-6", [8], [now - 1_000]))
    ingest(batch("b-6", [8], [now - 500]))
    assert engine.stays_by_id(given.stay_ids).t_out.tolist() == [now - 1_000] and len(engine) == 7

    # A stay expired since is gone; the batch's others still take theirs.
    old = batch("b-4", [6], [0], t_in=now - 20 * 86_400)
    old.person_refs.append("phone:0900000007"), old.venue_ids.append(a.id), old.t_in.append(now - 1_200), old.t_out.append(0)
    both = ingest(old)
    engine.expire_before(now - 19 * 86_400)
    del old.t_out[:]
    old.t_out.extend([now - 20 * 86_400 + 60, now - 1_000])
    assert ingest(old).stay_ids == both.stay_ids
    assert engine.stays_by_id(both.stay_ids[1:]).t_out.tolist() == [now - 1_000]


def test_a_late_scan_does_not_tell_venue_staff_when_the_person_came_in_elsewhere(service, now):
    """A scan uploaded late ends where the person's open stay elsewhere
    began; the venue's staff are answered the venue's dwell uncut."""
    app = service.client("app_backend", app=NCOVI)
    operator = service.client("venue_operator")
    (a, a_payload), (b, _) = service.venue(operator), service.venue(operator, name="Chợ Lớn")
    engine = service.server.state.engine
    check_in(app, a_payload, phone(1), now - 600)
    code = app.checkins.IssuePersonalCode(C.IssuePersonalCodeRequest(person=phone(1)), metadata=app.md).payload
    late = operator.checkins.ScanPerson(C.ScanPersonRequest(venue_id=b.id, person_payload=code, time=now - 1_800), metadata=operator.md)
    assert engine.stays_by_id([late.stay_id]).t_out.tolist() == [now - 600], "stored as cut"
    assert late.provisional_t_out == now - 1_800 + b.dwell_seconds != now - 600


def test_a_new_request_with_an_old_personal_code_is_refused_though_its_scan_was_stored(service, now):
    """Only the retry of a scan that was stored skips the code's expiry: a
    new request with a code kept from then is refused, and does not learn
    the person's entry decision of today."""
    app = service.client("app_backend", app=NCOVI)
    operator = service.client("venue_operator")
    venue, _ = service.venue(operator)
    code = app.checkins.IssuePersonalCode(C.IssuePersonalCodeRequest(person=phone(1), valid_seconds=2), metadata=app.md).payload
    scan = C.ScanPersonRequest(request_id="s-1", venue_id=venue.id, person_payload=code, time=now - 60)
    first = operator.checkins.ScanPerson(scan, metadata=operator.md)
    time.sleep(3)  # the code expires
    assert operator.checkins.ScanPerson(scan, metadata=operator.md) == first, "the retry gets its answer"
    again = C.ScanPersonRequest(request_id="s-2", venue_id=venue.id, person_payload=code, time=now - 60)
    code_, detail = status(operator.checkins.ScanPerson, again, metadata=operator.md)
    assert code_ is grpc.StatusCode.INVALID_ARGUMENT and "expired" in detail


def two_met(service, now):  # noqa: ANN001, ANN201
    """Two people who met an hour ago, and a tracer's request for the first one's contacts."""
    admin = service.client("admin")
    app = service.client("app_backend", app=NCOVI)
    _, payload = service.venue(admin)
    check_in(app, payload, phone(1), now - 3_600)
    check_in(app, payload, phone(2), now - 3_590)
    request = T.TraceRequest(cases=[T.Case(person=phone(1), province_code="79", start=now - 7_200, end=now)], hops=1, purpose="ổ dịch")
    return service.client("tracer"), request


def test_a_trace_past_its_deadline_stops_and_reads_nothing_more(service, now, monkeypatch):
    tracer, request = two_met(service, now)
    state = service.server.state
    before = audit.count(state.db)
    slowed = Slowed(state.engine, "trace", 1.5)
    monkeypatch.setattr(state, "engine", slowed)
    with pytest.raises(grpc.RpcError) as info:
        tracer.tracing.Trace(request, metadata=tracer.md, timeout=0.5)
    assert info.value.code() is grpc.StatusCode.DEADLINE_EXCEEDED
    time.sleep(2)  # the handler's trace ends meanwhile
    assert "trace" in slowed.calls and "present_many" not in slowed.calls, "no work after the deadline"
    assert audit.count(state.db) == before, "nobody read the answer: nothing to audit"
    monkeypatch.undo()
    answered = tracer.tracing.Trace(request, metadata=tracer.md, timeout=10)
    assert len(answered.people.person_id) == 2 and audit.count(state.db) == before + 1


def test_a_refusal_past_its_deadline_is_not_audited(service, now, monkeypatch):
    """A provincial tracer's case linked to another province: the refusal,
    which tells whether the case was linked, is a read only once it leaves."""
    _, request = two_met(service, now)
    hanoi = service.client("tracer", province="01")
    request.cases[0].province_code = "01"
    state = service.server.state
    before = audit.count(state.db)
    monkeypatch.setattr(state, "engine", Slowed(state.engine, "exposure_sites", 1.5))
    with pytest.raises(grpc.RpcError) as info:
        hanoi.tracing.Trace(request, metadata=hanoi.md, timeout=0.5)
    assert info.value.code() is grpc.StatusCode.DEADLINE_EXCEEDED
    time.sleep(2)  # the handler's refusal comes meanwhile
    assert audit.count(state.db) == before
    monkeypatch.undo()
    assert status(hanoi.tracing.Trace, request, metadata=hanoi.md)[0] is grpc.StatusCode.PERMISSION_DENIED
    assert audit.count(state.db) == before + 1


def test_a_trace_whose_call_ends_is_given_up_inside_the_engine(service, now, monkeypatch):
    """A trace of thousands of cases works for seconds of both cores: once
    its call ends, the engine is told to give up, and does."""
    import threading

    tracer, request = two_met(service, now)
    state = service.server.state
    engine = state.engine
    told, gave_up = threading.Event(), threading.Event()

    class Waiting:
        """The engine, with a trace that runs until it is told to stop."""

        def __getattr__(self, name: str):  # noqa: ANN204
            return getattr(engine, name)

        def trace(self, *args, cancel, **kwargs):  # noqa: ANN002, ANN003, ANN201
            deadline = time.monotonic() + 10
            while not cancel.is_set() and time.monotonic() < deadline:
                time.sleep(0.01)
            told.set()
            try:
                return engine.trace(*args, cancel=cancel, **kwargs)
            except Exception:
                gave_up.set()
                raise

    monkeypatch.setattr(state, "engine", Waiting())
    before = audit.count(state.db)
    with pytest.raises(grpc.RpcError) as info:
        tracer.tracing.Trace(request, metadata=tracer.md, timeout=0.5)
    assert info.value.code() is grpc.StatusCode.DEADLINE_EXCEEDED
    assert told.wait(5) and gave_up.wait(5), "the engine's trace was told to stop, and stopped"
    time.sleep(0.2)
    assert audit.count(state.db) == before


def test_contact_details_sent_with_a_check_in_reach_tracers(service, now):
    admin = service.client("admin")
    app = service.client("app_backend", app=NCOVI)
    _, payload = service.venue(admin)
    check_in(app, payload, phone(1), now - 3_600)
    check_in(app, payload, phone(2), now - 3_590, contact=K.ContactDetails(name="Trần Thị B", phone="0911111111"))
    tracer = service.client("tracer", province="79")
    got = tracer.tracing.Trace(
        T.TraceRequest(cases=[T.Case(person=phone(1), province_code="79", start=now - 7_200, end=now)], hops=1, min_overlap_seconds=900, purpose="ổ dịch"),
        metadata=tracer.md,
        timeout=10,
    )
    contact = service.server.state.people.of_ref(phone(2))[0]
    assert contact in got.people.person_id
    assert [(c.person_id, c.contact.name, c.contact.phone) for c in got.contacts] == [(contact, "Trần Thị B", "0911111111")]


def test_venue_staff_learn_a_referral_and_it_is_audited(service, now):
    from tokhai.v1 import care_pb2 as H

    operator = service.client("venue_operator")
    app = service.client("app_backend", app=NCOVI)
    venue, _ = service.venue(operator)
    code = app.checkins.IssuePersonalCode(C.IssuePersonalCodeRequest(person=phone(1)), metadata=app.md).payload
    db = service.server.state.db

    def scan(t: int) -> C.CheckInResponse:
        return operator.checkins.ScanPerson(C.ScanPersonRequest(venue_id=venue.id, person_payload=code, time=t), metadata=operator.md, timeout=10)

    before = audit.count(db)
    assert scan(now - 60).advice.advice == H.ADVICE_ALLOW and audit.count(db) == before, "everyone's default: nothing of theirs read"
    fever = H.Declaration(symptoms=[H.SYMPTOM_FEVER])
    app.care.Declare(H.DeclareRequest(person=phone(1), time=now - 30, source=NCOVI, declaration=fever), metadata=app.md)
    assert audit.count(db) == before + 1, "the app learns the reasons: a read too"
    before += 1
    referred = scan(now)
    assert referred.advice.advice == H.ADVICE_REFER_TO_SCREENING and not referred.advice.reasons, "the decision, not the health behind it"
    with db.connect() as conn:
        from tokhai_server import db as tables

        last = conn.execute(sa.select(tables.audit_log).order_by(tables.audit_log.c.seq.desc()).limit(1)).one()
    assert audit.count(db) == before + 1 and (last.action, last.principal, last.people) == ("ScanPerson", "venue_operator", 1)
    assert json.loads(last.detail) == {"person_id": service.server.state.people.of_ref(phone(1))[0], "venue": venue.id}
    # A day late at most: a code once scanned does not place its holder at the door weeks ago.
    held = len(service.server.state.engine)
    late = C.ScanPersonRequest(venue_id=venue.id, person_payload=code, time=now - 2 * 86_400)
    code_, detail = status(operator.checkins.ScanPerson, late, metadata=operator.md)
    assert code_ is grpc.StatusCode.INVALID_ARGUMENT and "within 86400 s" in detail and len(service.server.state.engine) == held
