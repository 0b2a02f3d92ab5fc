"""Inbox benchmarks: server time of the pages staff use all day, and a bulk classification.

``inbox_benchmarks()`` is registered with the bench command (a name -> function
registry) and runs against whatever database DATABASE_URL points at, e.g.
after ``seed_demo --conversations 200000``. Requests go through Django's test
client in-process, so the figures are server time without network.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from urllib.parse import quote

from django.contrib.auth import get_user_model
from django.db import transaction
from django.http import QueryDict
from django.test import override_settings

from conversations.benchmarks import bench_client
from conversations.filters import encode_cursor, filtered_conversations
from conversations.models import Conversation
from conversations.services import record_classification, undo_classification_batch
from kommunikation.models import BusinessEntity

Row = tuple[str, float, float, int]  # name, median ms, p95 ms, n

REQUESTS = 50
BULK_SIZE = 10_000
SEARCH_TERMS = ["Rechnung", "Wallbox", "Lieferung", "Angebot", "Termin", "Installation",
                "Frage", "Bestellung", "Reklamation", "Zahlung"]  # fmt: skip
HTMX = {"HX-Request": "true"}


def _bench_user():
    """A staff member of every brand (created once, kept for the next run)."""
    user, _created = get_user_model().objects.get_or_create(
        username="bench-inbox", defaults={"is_staff": True, "is_superuser": True}
    )
    return user


def _measure(name: str, calls: list[Callable[[], object]]) -> Row:
    timings = []
    for call in calls:
        start = time.perf_counter()
        response = call()
        timings.append((time.perf_counter() - start) * 1000)
        status = getattr(response, "status_code", 200)
        if status != 200:
            raise RuntimeError(f"{name}: HTTP {status}")
    timings.sort()
    p95 = timings[max(0, round(0.95 * len(timings)) - 1)]
    return (name, round(statistics.median(timings), 1), round(p95, 1), len(timings))


def inbox_benchmarks(requests: int = REQUESTS, bulk_size: int = BULK_SIZE) -> list[Row]:
    """Measured as in production: with DEBUG on, every query would be logged (and
    kept) on the connection, which adds to each request and is not what staff see."""
    with override_settings(DEBUG=False):
        return _inbox_benchmarks(requests, bulk_size)


def _inbox_benchmarks(requests: int, bulk_size: int) -> list[Row]:
    user = _bench_user()
    client = bench_client()
    client.force_login(user)

    def get(url, **headers):
        return lambda: client.get(
            url, headers={**HTMX, **headers} if headers else None, secure=True
        )

    rows: list[Row] = []
    client.get("/", secure=True)  # warm up connections and template caches
    rows.append(_measure("Posteingang: Liste (ganze Seite)", [get("/")] * requests))
    rows.append(
        _measure(
            "Posteingang: gefilterte Liste",
            [
                get("/?ohne=1&zeitraum=30", **{"HX-Target": "list-body"}),
                get("/?ungelesen=1&kanal=email", **{"HX-Target": "list-body"}),
            ]
            * (requests // 2),
        )  # fmt: skip
    )
    total = Conversation.objects.count()
    if total > 100:
        # a page nine tenths down the list: keyset paging costs what the first page costs
        deep = Conversation.objects.order_by("last_message_at", "id")[total // 10]
        rows.append(
            _measure(
                "Posteingang: Seite weit hinten (Keyset)",
                [get(f"/?status=alle&nach={quote(encode_cursor(deep))}")] * requests,
            )
        )
    rows.append(
        _measure(
            "Suche",
            [
                get(f"/?q={SEARCH_TERMS[i % len(SEARCH_TERMS)]}", **{"HX-Target": "list-body"})
                for i in range(requests)
            ],
        )  # fmt: skip
    )
    # issue 10 §3: the sort orders (walks of their own indexes) and the searches by customer
    # number, phone number (national form) and invoice number
    rows.append(
        _measure(
            "Posteingang: sortiert (fällig, Priorität)",
            [
                get("/?sortierung=faellig", **{"HX-Target": "list-body"}),
                get("/?sortierung=prioritaet", **{"HX-Target": "list-body"}),
            ]
            * (requests // 2),
        )  # fmt: skip
    )
    rows.append(
        _measure(
            "Suche: Kundennummer, Telefon, Rechnungsnummer",
            [
                get(f"/?q={quote(term)}", **{"HX-Target": "list-body"})
                for term in ["K-10083", "0171 2345678", "RE-2026-0042"]
            ]
            * (requests // 3),
        )  # fmt: skip
    )
    read_ids = list(
        Conversation.objects.filter(unread=False).order_by("-last_message_at")
        .values_list("pk", flat=True)[:requests]
    )  # fmt: skip
    if read_ids:
        rows.append(
            _measure(
                "Konversation öffnen",
                [get(f"/konversationen/{pk}/", **{"HX-Target": "detail"}) for pk in read_ids],
            )
        )
    rows.extend(_bulk(user, bulk_size))
    return rows


def _bulk(user, size: int) -> list[Row]:
    """Classify ``size`` conversations chosen by a filter in one call, then undo it (timed too)."""
    matches = filtered_conversations(user, QueryDict("status=alle"))
    ids = matches.order_by("-last_message_at", "-id").values("pk")[:size]
    selection = Conversation.objects.filter(pk__in=list(ids.values_list("pk", flat=True)))
    start = time.perf_counter()
    batch = record_classification(conversations=selection, classification="advertising", actor=user)
    classify_ms = (time.perf_counter() - start) * 1000
    start = time.perf_counter()
    with transaction.atomic():
        undo_classification_batch(batch=batch.id, actor=user, brands=BusinessEntity.objects.all())
    undo_ms = (time.perf_counter() - start) * 1000
    return [
        (f"Bulk-Klassifizierung ({batch.changed} Konversationen)", round(classify_ms, 1),
         round(classify_ms, 1), 1),
        (f"Rückgängig ({batch.changed} Konversationen)", round(undo_ms, 1), round(undo_ms, 1), 1),
    ]  # fmt: skip
