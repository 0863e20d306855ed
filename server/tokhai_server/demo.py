"""`tokhai demo`: the whole workflow of the directive, through the public API.

Venues of every kind in one province register and get QR codes; thousands
of synthetic people check in over a few days from all three apps; cases are
confirmed and traced to F1 and F2; the venues where they were get alerts;
F1 are ordered into home quarantine and report their health; the province
sees its line lists and counts.
"""

from __future__ import annotations

import random
import time
from pathlib import Path

import grpc
from rich.console import Console
from rich.markup import escape
from rich.progress import Progress
from rich.table import Table

from tokhai.v1 import care_pb2 as H
from tokhai.v1 import checkins_pb2 as C
from tokhai.v1 import common_pb2 as K
from tokhai.v1 import reports_pb2 as R
from tokhai.v1 import tracing_pb2 as T
from tokhai.v1 import venues_pb2 as V

from .client import Client

PROVINCE, DISTRICTS = "79", ("760", "761", "764", "765", "766", "769")
APPS = {K.SOURCE_APP_TO_KHAI_Y_TE: "Tờ khai y tế", K.SOURCE_APP_NCOVI: "NCOVI", K.SOURCE_APP_BLUEZONE: "Bluezone"}
KINDS = {
    V.VENUE_KIND_AGENCY: ("UBND phường", 2),
    V.VENUE_KIND_HOSPITAL: ("Bệnh viện", 1),
    V.VENUE_KIND_SCHOOL: ("Trường THCS", 3),
    V.VENUE_KIND_COMPANY: ("Công ty TNHH", 6),
    V.VENUE_KIND_SUPERMARKET: ("Siêu thị", 3),
    V.VENUE_KIND_HOTEL: ("Khách sạn", 2),
    V.VENUE_KIND_LODGING: ("Nhà nghỉ", 2),
    V.VENUE_KIND_RESTAURANT: ("Nhà hàng", 5),
    V.VENUE_KIND_EATERY: ("Quán ăn", 8),
    V.VENUE_KIND_CAFE: ("Quán cà phê", 8),
    V.VENUE_KIND_PUBLIC_TRANSPORT: ("Xe buýt tuyến", 3),
    V.VENUE_KIND_OTHER: ("Chợ", 2),
}


def _local(t: int) -> str:
    """Day and time in Vietnam (UTC+7)."""
    return time.strftime("%d/%m %H:%M", time.gmtime(t + 7 * 3_600))


def run(channel: grpc.Channel, keys: dict[str, str], out: Path, *, venues: int, people: int, days: int, cases: int, seed: int, console: Console) -> None:
    """`keys` by role: admin, operator, tracer, analyst, and one app backend per app (app1..app3)."""
    rng = random.Random(seed)
    operator, tracer, analyst = (Client(channel, keys[r]) for r in ("operator", "tracer", "analyst"))
    apps = {app: Client(channel, keys[f"app{app}"]) for app in APPS}
    out.mkdir(parents=True, exist_ok=True)
    now = int(time.time())

    # 1. Venues of every kind, in proportion, with codes.
    weights = [w for _, w in KINDS.values()]
    registered: list[tuple[V.Venue, str]] = []
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task("Registering venues", total=venues)
        for i in range(venues):
            kind = rng.choices(list(KINDS), weights)[0]
            district = rng.choice(DISTRICTS)
            venue = operator.venues.RegisterVenue(
                V.RegisterVenueRequest(
                    request_id=f"demo-venue-{seed}-{i}",
                    name=f"{KINDS[kind][0]} {i + 1}",
                    kind=kind,
                    address=V.Address(province_code=PROVINCE, district_code=district, ward_code=f"{26000 + rng.randrange(1_000):05d}"),
                ),
                metadata=operator.md,
                timeout=30,
            )
            code = operator.venues.IssueVenueCode(V.IssueVenueCodeRequest(venue_id=venue.id), metadata=operator.md, timeout=30) if i == 0 else None
            if code is not None:
                (out / "poster.png").write_bytes(code.poster_png)
                (out / "qr.svg").write_bytes(code.svg)
            registered.append((venue, code.payload if code else ""))
            progress.advance(task)
    console.print(f"[bold]{len(registered)}[/] venues in Thành phố Hồ Chí Minh; a poster: {escape(str(out / 'poster.png'))}")

    # 2. People check in from the three apps over `days` days (bulk forwarding).
    refs = [f"phone:09{rng.randrange(10**8):08d}" for _ in range(people)]
    popularity = [1 / (k + 1) ** 0.7 for k in range(len(registered))]
    per_app = {app: ([], [], [], []) for app in APPS}
    app_of = {ref: rng.choice(list(APPS)) for ref in refs}
    for ref, app in app_of.items():
        cols = per_app[app]
        for d in range(days):
            for _ in range(rng.choice((1, 2, 3, 3, 4))):
                venue = rng.choices(registered, popularity)[0][0]
                t_in = now - (days - d) * 86_400 + rng.randrange(6 * 3_600, 21 * 3_600)
                cols[0].append(ref)
                cols[1].append(venue.id)
                cols[2].append(t_in)
                cols[3].append(t_in + rng.randrange(600, 7_200))
    total = 0
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task("Checking in", total=sum(len(c[0]) for c in per_app.values()))
        for app, (p, v, a, b) in per_app.items():
            batches = [
                C.IngestBatch(batch_id=i, source=app, person_refs=p[i : i + 5_000], venue_ids=v[i : i + 5_000], t_in=a[i : i + 5_000], t_out=b[i : i + 5_000])
                for i in range(0, len(p), 5_000)
            ]
            for ack in apps[app].checkins.IngestCheckins(iter(batches), metadata=apps[app].md, timeout=120):
                total += len(ack.stay_ids)
                progress.advance(task, len(ack.stay_ids))
    console.print(f"[bold]{total:,}[/] check-ins by {people:,} people over {days} days, from {', '.join(APPS.values())}")

    # 3. Cases are confirmed and traced.
    confirmed = rng.sample(refs, cases)
    as_ref = lambda ref: K.PersonRef(phone=ref.split(":", 1)[1])  # noqa: E731
    traced = tracer.tracing.Trace(
        T.TraceRequest(
            cases=[T.Case(person=as_ref(r), province_code=PROVINCE, start=now - days * 86_400, end=now) for r in confirmed],
            hops=2,
            min_overlap_seconds=900,
            purpose="demo: ca bệnh xác nhận",
        ),
        metadata=tracer.md,
        timeout=120,
    )
    hops = {h: list(traced.people.hop).count(h) for h in (0, 1, 2)}
    table = Table(title="Trace: confirmed cases, 15 minutes, two hops")
    for column in ("F0", "F1", "F2", "exposure sites"):
        table.add_column(column, justify="right")
    table.add_row(*(f"{hops[h]:,}" for h in (0, 1, 2)), f"{len(traced.sites):,}")
    console.print(table)
    sites = sorted(traced.sites, key=lambda s: -s.people_exposed)[:5]
    table = Table(title="Busiest exposure sites")
    for column in ("venue", "from", "to", "F1 there"):
        table.add_column(column)
    for s in sites:
        table.add_row(s.venue_name, _local(s.start), _local(s.end), str(s.people_exposed))
    console.print(table)

    # 4. Alerts for the sites; quarantine for F1; their daily reports. A
    # call takes a few thousand of each: a large trace's take a few calls.
    sites = [H.VenueAlert(venue_id=s.venue_id, start=s.start, end=s.end, level=H.ALERT_LEVEL_GET_TESTED, message="Liên hệ y tế địa phương") for s in traced.sites]
    alerts = [
        alert
        for at in range(0, len(sites), 2_000)
        for alert in tracer.care.PublishAlerts(H.PublishAlertsRequest(alerts=sites[at : at + 2_000], purpose="demo: cảnh báo địa điểm"), metadata=tracer.md, timeout=60).alerts
    ]
    f1 = [p for p, hop in zip(traced.people.person_id, traced.people.hop, strict=True) if hop == 1]
    orders = [
        order
        for at in range(0, len(f1), 10_000)
        for order in tracer.care.OrderQuarantine(
            H.OrderQuarantineRequest(
                person_ids=f1[at : at + 10_000], kind=H.QUARANTINE_KIND_HOME, province_code=PROVINCE, place="26740", start=now, planned_end=now + 14 * 86_400, purpose="demo: cách ly F1"
            ),
            metadata=tracer.md,
            timeout=60,
        ).orders
    ]
    reported = 0
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task("Daily health reports", total=len(refs))
        for ref in refs:
            progress.advance(task)
            app = app_of[ref]
            stub = apps[app]
            if rng.random() < 0.2:  # some forget to report
                continue
            fever = rng.random() < 0.1
            report = H.ReportHealthRequest(
                person=as_ref(ref), time=now, source=app, temperature_c=38.8 if fever else 36.8, spo2_percent=95 if fever else 98, breathing_difficulty=fever
            )
            # Apps send everyone's reports; those under an order are kept.
            reported += stub.care.ReportHealth(report, metadata=stub.md, timeout=30).under_quarantine
    missing = tracer.care.ListLineList(H.LineListRequest(list=H.LINE_LIST_NOT_REPORTED_TODAY, province_code=PROVINCE, place="26740", purpose="demo: giám sát"), metadata=tracer.md)
    warning = tracer.care.ListLineList(H.LineListRequest(list=H.LINE_LIST_WARNING_SIGNS, province_code=PROVINCE, place="26740", purpose="demo: giám sát"), metadata=tracer.md)
    table = Table(title="Follow-up")
    for column in ("venue alerts", "F1 in home quarantine", "reported today", "not reported", "warning signs"):
        table.add_column(column, justify="right")
    table.add_row(str(len(alerts)), str(len(orders)), str(reported), str(len(missing.entries)), str(len(warning.entries)))
    console.print(table)

    # 5. What the province sees.
    counts = analyst.reports.CheckinCounts(R.CountsRequest(province_code=PROVINCE, by=R.LEVEL_DISTRICT, start=now - days * 86_400, end=now), metadata=analyst.md, timeout=60)
    table = Table(title="Check-ins per district per day (Sở Y tế)")
    table.add_column("district")
    day_starts = sorted({r.day for r in counts.rows})
    for d in day_starts:
        table.add_column(time.strftime("%d/%m", time.gmtime(d + 7 * 3_600)), justify="right")
    by_key: dict[str, dict[int, int]] = {}
    for r in counts.rows:
        by_key.setdefault(r.key, {})[r.day] = r.count
    for key in sorted(by_key):
        table.add_row(key, *(f"{by_key[key].get(d, 0):,}" for d in day_starts))
    console.print(table)
