"""WhatsApp inbound webhooks per second into threads (issue 11: >= 300/s on PostgreSQL).

Signed POSTs in Meta's shape go to a throwaway brand's number, into conversations of a
pool of customers, a tenth of them unknown numbers, as in production: ``web`` web
processes (forked, each with its own database connection) answer them through Django's
handler (the test client in-process: server time, no network), each request doing what
production does (signature check, raw body stored, the processing task queued on the
ORM broker after the commit when no earlier delivery waits), while this process is the
cluster's worker: it runs the queued WhatsApp tasks as they come (unpacked from the
broker and called), looking again after the broker's poll interval when there is none.
The clock runs from the first request until every message is in its thread. The tasks
the messages start beyond their threads (``message.received`` events and the rules) run
afterwards, timed on their own. The brand and its data go afterwards.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import time
import uuid

from django.db import connection, connections
from django.db.models import Max
from django.test import override_settings
from django.utils.module_loading import import_string
from django_q.models import OrmQ
from django_q.signing import SignedPackage

from conversations.benchmarks import bench_client
from conversations.models import Conversation, Message, WebhookDelivery
from conversations.whatsapp import ESP
from kommunikation.automation.benchmarks import QueryCounter, ServerCPU
from kommunikation.models import BusinessEntity, ContactPoint, Customer, WhatsAppNumber

# the ORM broker's look for new tasks when it found none (django-q2's default "poll")
POLL_SECONDS = 0.2
# what a run may take before the bench gives up (a delivery no task took)
TIMEOUT_SECONDS = 120


def _run_queued(after: int, *, whatsapp: bool) -> int:
    """Run the queued tasks (since ``after``) of the WhatsApp processing (``whatsapp``) or
    all the others, as the cluster's worker would; returns how many ran."""
    ran = 0
    for row in OrmQ.objects.filter(id__gt=after).order_by("id"):
        task = SignedPackage.loads(row.payload)
        if task["func"].startswith("conversations.whatsapp.") != whatsapp:
            continue
        import_string(task["func"])(*task.get("args", ()), **task.get("kwargs", {}))
        row.delete()
        ran += 1
    return ran


def _body(n: int, *, number_id: str, phone: str) -> bytes:
    return json.dumps({
        "object": "whatsapp_business_account",
        "entry": [{"id": "bench-waba", "changes": [{"field": "messages", "value": {
            "messaging_product": "whatsapp",
            "metadata": {"display_phone_number": "31600000000", "phone_number_id": number_id},
            "contacts": [{"profile": {"name": f"Kunde {phone[-4:]}"}, "wa_id": phone.lstrip("+")}],
            "messages": [{"from": phone.lstrip("+"), "id": f"wamid.bench.{number_id}.{n}",
                          "timestamp": str(1795604400 + n), "type": "text",
                          "text": {"body": f"Frage Nummer {n}: wann kommt meine Wallbox?"}}],
        }}]}],
    }).encode()  # fmt: skip


def _answer(signed: list[tuple[bytes, str]], url: str, go, results) -> None:
    """One web process: answer its share of the webhooks, report and leave."""
    try:
        client = bench_client()
        queries = QueryCounter()
        server = ServerCPU()  # this process's own connection's backend
        go.wait()
        server.start()
        started, cpu_started = time.perf_counter(), time.process_time()
        with connection.execute_wrapper(queries):
            for data, signature in signed:
                response = client.post(
                    url, data=data, content_type="application/json",
                    headers={"X-Hub-Signature-256": signature},
                )  # fmt: skip
                if response.status_code != 200:
                    raise RuntimeError(f"HTTP {response.status_code}: {response.content[:200]!r}")
        results.put({
            "seconds": time.perf_counter() - started, "cpu": time.process_time() - cpu_started,
            "server_cpu": server.stop(), "queries": queries.count, "error": "",
        })  # fmt: skip
    except Exception as exc:  # reported to the bench, which raises it
        results.put({"error": repr(exc)})
    finally:
        connections.close_all()
        results.close()
        results.join_thread()
        os._exit(0)  # not the parent's atexit handlers


def whatsapp_inbound(n: int = 2000, *, web: int = 2) -> dict:
    import hashlib
    import hmac

    from django_q.conf import Conf

    slug = f"bench-wa-{uuid.uuid4().hex[:8]}"
    secret = uuid.uuid4().hex
    brand = BusinessEntity.objects.create(name="Benchmark WhatsApp", slug=slug)
    number = WhatsAppNumber.objects.create(
        brand=brand, display_number="+31600000000", phone_number_id=slug, app_secret=secret
    )
    phones = [f"+3161{i:07d}" for i in range(max(10, n // 10))]
    customers = Customer.objects.bulk_create(
        [Customer(brand=brand, last_name=f"Kunde {i}") for i in range(len(phones))]
    )
    ContactPoint.objects.bulk_create(
        [
            ContactPoint(customer=c, channel="phone", value=p, type="mobile")
            for c, p in zip(customers, phones, strict=True)
            if int(p[-1]) != 7  # a tenth write from a number no customer has
        ]
    )
    bodies = [_body(i, number_id=slug, phone=phones[i % len(phones)]) for i in range(n)]
    signed = [
        (b, "sha256=" + hmac.new(secret.encode(), b, hashlib.sha256).hexdigest()) for b in bodies
    ]
    url = f"/webhooks/whatsapp/{slug}/"
    queued_before = OrmQ.objects.aggregate(last=Max("id"))["last"] or 0
    sync_before = Conf.SYNC
    Conf.SYNC = False  # as in production: the request queues the task on the broker
    tasks = 0
    queries = QueryCounter()
    context = multiprocessing.get_context("fork")
    go, results = context.Event(), context.Queue()
    try:
        with override_settings(DEBUG=False):
            connections.close_all()  # every web process opens its own connection
            processes = [
                context.Process(target=_answer, args=(signed[i::web], url, go, results))
                for i in range(web)
            ]
            for process in processes:
                process.start()
            reports = []
            server = ServerCPU()
            with connection.execute_wrapper(queries):
                server.start()
                started = time.perf_counter()
                cpu_started = time.process_time()
                go.set()
                while True:
                    ran = _run_queued(queued_before, whatsapp=True)
                    tasks += ran
                    while not results.empty():
                        reports.append(results.get())
                    if len(reports) == web and not ran and not _waiting_deliveries(brand):
                        break
                    if time.perf_counter() - started > TIMEOUT_SECONDS:
                        raise RuntimeError("the webhooks were not all processed in time")
                    if not ran:
                        time.sleep(POLL_SECONDS)
                seconds = time.perf_counter() - started
                cpu = time.process_time() - cpu_started
                server_cpu = server.stop()
                for process in processes:
                    process.join()
                errors = [r["error"] for r in reports if r["error"]]
                if errors:
                    raise RuntimeError(errors[0])
                # what the ingested messages start beyond their threads (message.received
                # events, the rules): another subsystem's work, timed on its own
                events_started = time.perf_counter()
                _run_queued(queued_before, whatsapp=False)
                events = time.perf_counter() - events_started
        messages = Message.objects.filter(conversation__brand=brand).count()
        threads = Conversation.objects.filter(brand=brand).count()
        if messages != n:
            raise RuntimeError(f"{messages} of {n} messages in threads")
        answering = max(r["seconds"] for r in reports)
        web_cpu = sum(r["cpu"] for r in reports)
        servers = [server_cpu, *(r["server_cpu"] for r in reports)]
        database_cpu = None if None in servers else sum(servers)
        return {
            "webhooks": n,
            "web_processes": web,
            "per_second": round(n / seconds, 1),
            "answered_per_second": round(n / answering, 1),
            "tasks": tasks,
            "events_per_second": round(n / events, 1) if events else 0,
            "queries_per_webhook": round(
                (queries.count + sum(r["queries"] for r in reports)) / n, 2
            ),
            # the web processes' and the worker's CPU (not PostgreSQL's)
            "cpu_ms_per_webhook": round((web_cpu + cpu) * 1000 / n, 2),
            "worker_cpu_ms_per_webhook": round(cpu * 1000 / n, 2),
            # PostgreSQL's backends of those processes (None off PostgreSQL)
            "database_cpu_ms_per_webhook": (
                None if database_cpu is None else round(database_cpu * 1000 / n, 2)
            ),
            "threads": threads,
            "seconds": round(seconds, 2),
        }
    finally:
        Conf.SYNC = sync_before
        OrmQ.objects.filter(id__gt=queued_before).delete()  # the bench's queued tasks
        WebhookDelivery.objects.filter(esp=ESP, brand=brand).delete()
        Conversation.objects.filter(brand=brand).delete()
        brand.events.all().delete()
        number.delete()
        Customer.objects.filter(brand=brand).delete()
        brand.delete()


def _waiting_deliveries(brand: BusinessEntity) -> bool:
    return WebhookDelivery.objects.filter(
        esp=ESP,
        brand=brand,
        state__in=[WebhookDelivery.State.RECEIVED, WebhookDelivery.State.PROCESSING],
    ).exists()
