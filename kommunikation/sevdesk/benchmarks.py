"""The sevDesk bench: a sync of N invoices and N/5 contacts from a local fake sevDesk API.

Three runs against the fake (kommunikation.sevdesk.fake on a http.server thread, real HTTP
over loopback): the first sync (everything, no events), an incremental sync with no change
(the goal: one request per resource) and one after 1 % of the invoices were paid (the events
it makes). Runs on a throwaway brand that is deleted with all its data afterwards.
"""

from __future__ import annotations

import datetime as dt
import random
import time
import uuid

from kommunikation.models import BusinessEntity, Customer, Event
from kommunikation.sevdesk.fake import FakeSevdesk, serve
from kommunikation.sevdesk.models import SevdeskConnection, SevdeskSnapshot
from kommunikation.sevdesk.sync import sync_connection

STATUSES = ["200"] * 3 + ["750"] + ["1000"] * 6


def build_fake(invoices: int, contacts: int, seed: int = 42) -> FakeSevdesk:
    rng = random.Random(seed)
    fake = FakeSevdesk()
    # updates spread over the last days, as in a real account (all at one instant, every
    # object would fall into the next sync's overlap window)
    total = contacts * 3 + invoices
    fake.now = dt.datetime.now(dt.UTC) - dt.timedelta(hours=1, seconds=30 * total)
    step = dt.timedelta(seconds=30)
    put = fake.put

    def spread(resource, obj):
        fake.now += step
        return put(resource, obj)

    fake.put = spread
    for n in range(1, contacts + 1):
        if n % 2:
            fake.contact(n, surename=f"Vorname{n}", familyname=f"Nachname{n}",
                         customerNumber=f"KD-{n}", birthday="1980-05-17")  # fmt: skip
        else:
            fake.contact(n, name=f"Firma {n} GmbH", customerNumber=f"KD-{n}")
        fake.way(2 * n, n, "EMAIL", f"kontakt{n}@example.org", main="1")
        fake.way(2 * n + 1, n, "MOBILE", f"0171 {1000000 + n}", key="4")
    for n in range(1, invoices + 1):
        status = rng.choice(STATUSES)
        day = dt.date(2025, 1, 1) + dt.timedelta(days=rng.randrange(0, 420))
        gross = rng.randrange(5000, 500000) / 100
        fake.invoice(
            n,
            rng.randrange(1, contacts + 1),
            invoiceDate=f"{day.isoformat()}T00:00:00+01:00",
            status=status,
            sumNet=f"{gross / 1.19:.2f}",
            sumGross=f"{gross:.2f}",
            paidAmount=f"{gross:.2f}" if status == "1000" else "0",
        )
    fake.put = put
    return fake


def sevdesk_sync(invoices: int = 10_000, contacts: int = 2_000) -> list[tuple[str, float, str]]:
    """(metric, value, unit) rows."""
    fake = build_fake(invoices, contacts)
    server, base_url = serve(fake)
    slug = f"bench-sevdesk-{uuid.uuid4().hex[:8]}"
    brand = BusinessEntity.objects.create(name="Bench sevDesk", slug=slug)
    connection = SevdeskConnection.objects.create(brand=brand, base_url=base_url, token=fake.token)
    rows: list[tuple[str, float, str]] = []
    label = f"{invoices} Rechnungen, {contacts} Kontakte"
    try:
        started = time.perf_counter()
        first = sync_connection(connection, sleep=lambda s: None)
        rows.append((f"Erstabgleich {label} [Ziel < 60 s]", time.perf_counter() - started, "s"))
        rows.append(("Erstabgleich: Anfragen", first.requests, ""))
        rows.append(("Erstabgleich: Ereignisse [Ziel 0]", first.events, ""))
        if first.error:
            raise RuntimeError(first.error)

        fake.requests.clear()
        started = time.perf_counter()
        quiet = sync_connection(connection, sleep=lambda s: None)
        rows.append(("ohne Änderung", time.perf_counter() - started, "s"))
        rows.append(("ohne Änderung: Anfragen [Ziel 4, eine je Ressource]", quiet.requests, ""))

        fake.now = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)
        open_ids = [k for k, v in fake.objects["Invoice"].items() if v["status"] == "200"]
        for ext_id in open_ids[: max(1, invoices // 100)]:
            gross = fake.objects["Invoice"][ext_id]["sumGross"]
            contact = fake.objects["Invoice"][ext_id]["contact"]["id"]
            fake.invoice(ext_id, contact, status="1000", paidAmount=gross)
        started = time.perf_counter()
        changed = sync_connection(connection, sleep=lambda s: None)
        rows.append(
            (
                f"{len(open_ids[: max(1, invoices // 100)])} bezahlt",
                time.perf_counter() - started,
                "s",
            )
        )
        rows.append(("bezahlt: Ereignisse", changed.events, ""))
        rows.append(("bezahlt: Anfragen", changed.requests, ""))
    finally:
        server.shutdown()
        Event.objects.filter(brand=brand).delete()
        SevdeskSnapshot.objects.filter(brand=brand).delete()
        Customer.objects.filter(brand=brand).delete()
        brand.delete()
    return rows
