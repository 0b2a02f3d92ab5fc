"""Benchmarks for ``manage.py bench``: a registry of named functions returning result rows.

A benchmark is ``fn(options: BenchOptions) -> list[BenchRow]``; add one with
``@benchmark("name")``. They run against the database DATABASE_URL points to and clean
up after themselves (a throwaway brand that is deleted with all its data at the end).

``ingest``: generates realistic raw RFC 5322 emails in memory (plain, HTML, replies
with In-Reply-To to earlier ones, PDF attachments, newsletters) and feeds them through
``ingest_raw_emails`` with one IngestContext in batches of ``batch_size`` (as the
``ingest_email`` command and the IMAP fetch do), or with ``batch_size=0`` through
``ingest_raw_email`` one call per message (as the webhook does). Rate is wall clock over
the ingest loop only (the Python process's CPU time is reported beside it, since a busy
machine slows the wall clock); memory is the growth of the process's peak resident set
size (``ru_maxrss``) during that loop, so the in-memory corpus built beforehand does not
count (nor does the DEBUG query log, emptied as it goes).
"""

from __future__ import annotations

import base64
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path

from django.conf import settings
from django.core.files.storage import default_storage
from django.db import connection, reset_queries
from django.utils import timezone

from conversations.ingest import (
    BATCH_SIZE,
    IngestContext,
    IngestStats,
    ingest_raw_email,
    ingest_raw_emails,
)
from conversations.models import Attachment, Conversation, Mailbox, RawEmail, SenderRule
from kommunikation.demo import generator as demo
from kommunikation.models import BusinessEntity


def bench_client():
    """A test client that speaks to a host the settings allow: the benches run outside the
    test runner (which would allow "testserver"), against the real ALLOWED_HOSTS."""
    from django.test import Client

    hosts = [h for h in settings.ALLOWED_HOSTS if h and "*" not in h and not h.startswith(".")]
    return Client(HTTP_HOST=hosts[0] if hosts else "localhost")


@dataclass
class BenchOptions:
    messages: int = 10_000
    seed: int = 42
    batch_size: int = BATCH_SIZE  # 0: one message at a time (the webhook's path)
    events: int = 2_000  # the rules bench (100000 for the figure of issue 9)
    latency_events: int = 200  # the event -> outbox row bench


@dataclass
class BenchRow:
    benchmark: str
    metric: str
    value: float
    unit: str


BENCHMARKS: dict[str, Callable[[BenchOptions], list[BenchRow]]] = {}


def benchmark(name: str):
    def register(fn: Callable[[BenchOptions], list[BenchRow]]):
        BENCHMARKS[name] = fn
        return fn

    return register


def database_label() -> str:
    return f"{connection.vendor} {'.'.join(map(str, connection.Database.sqlite_version_info)) if connection.vendor == 'sqlite' else connection.pg_version}"


def run_benchmarks(names: list[str], options: BenchOptions) -> list[BenchRow]:
    rows: list[BenchRow] = []
    for name in names:
        rows.extend(BENCHMARKS[name](options))
    return rows


def rows_as_dicts(rows: list[BenchRow]) -> list[dict]:
    return [asdict(row) for row in rows]


# --- the email corpus --------------------------------------------------------------------------


def generate_emails(count: int, *, seed: int, domain: str) -> list[bytes]:
    """``count`` raw emails to ``support@<domain>``, the same for a seed (but for Date).

    Mix: about 45 % new plain-text enquiries, 25 % replies (In-Reply-To and References to
    an earlier message of the corpus, "AW:" subject), 12 % HTML (multipart/alternative),
    10 % newsletters (List-Unsubscribe, Precedence: bulk), 8 % with a PDF attachment.
    Senders repeat (a pool of count/5 people), as in a real inbox.
    """
    rng = random.Random(f"bench:{seed}")
    now = timezone.now()
    people = []
    for _ in range(max(10, count // 5)):
        first = rng.choice(demo.FEMALE + demo.MALE)
        last = rng.choice(demo.LAST)
        address = (
            f"{demo.ascii_slug(first)}.{demo.ascii_slug(last)}{rng.randint(1, 999)}"
            f"@{rng.choice(demo.MAIL_PROVIDERS)}"
        )
        people.append((f"{first} {last}", address))
    sent: list[tuple[str, str, str, str]] = []  # (message-id, subject, from name, from address)
    out: list[bytes] = []
    for n in range(count):
        at = now - timezone.timedelta(seconds=(count - n) * 30)
        roll = rng.random()
        msg = EmailMessage()
        msg["To"] = f"support@{domain}"
        msg["Date"] = format_datetime(at)
        msg["Message-ID"] = f"<bench.{seed}.{n}@{domain}>"
        scenario = rng.choice(demo.CUSTOMER_SCENARIOS)
        ctx = {
            "order": f"B-2025-{rng.randint(10000, 99999)}",
            "invoice": f"RE-2025-{rng.randint(1000, 9999)}",
            "quote": f"AN-2025-{rng.randint(1000, 9999)}",
            "date": "12.03.2025",
            "time": "10:00",
            "product": rng.choice(demo.PRODUCTS),
            "car": rng.choice(demo.CARS),
            "city": rng.choice(demo.CITIES)[1],
            "brand": "Bench",
            "amount": "1.249,00 €",
            "kw": str(rng.randint(1, 52)),
            "first": "Anna",
            "last": "Müller",
            "year": "2025",
            "domain": domain,
        }
        body = scenario["open"].format(**ctx)
        if roll < 0.10:
            name, address, list_id = rng.choice(demo.NEWSLETTERS)
            subject = rng.choice(demo.NEWSLETTER_SUBJECTS).format(**ctx)
            msg["From"] = f"{name} <{address}>"
            msg["Subject"] = subject
            msg["List-Id"] = f"<newsletter.{list_id}>"
            msg["List-Unsubscribe"] = f"<https://{list_id}/abmelden?u={n}>"
            msg["Precedence"] = "bulk"
            msg.set_content(
                f"{subject}\n\nDiese Woche im Überblick …\n\nAbmelden: https://{list_id}/abmelden"
            )
            msg.add_alternative(
                f'<html><body><h1>{subject}</h1><img src="https://{list_id}/banner.png">'
                f"<p>Diese Woche im Überblick: neue Produkte und Termine.</p>"
                f'<p><a href="https://{list_id}/abmelden">Abmelden</a></p></body></html>',
                subtype="html",
            )
        elif roll < 0.35 and sent:
            parent_id, parent_subject, name, address = rng.choice(sent[-200:])
            msg["From"] = f"{name} <{address}>"
            msg["Subject"] = f"AW: {parent_subject}"
            msg["In-Reply-To"] = parent_id
            msg["References"] = parent_id
            follow = rng.choice(scenario["follow"]).format(**ctx)
            msg.set_content(
                f"{follow}\n\nViele Grüße\n{name}\n\n> {body[:200]}\n> Mit freundlichen Grüßen"
            )
        else:
            name, address = rng.choice(people)
            subject = scenario["subject"].format(**ctx)
            msg["From"] = f"{name} <{address}>"
            msg["Subject"] = subject
            text = f"Guten Tag,\n\n{body}\n\nMit freundlichen Grüßen\n{name}"
            msg.set_content(text)
            if roll < 0.47:
                paragraphs = "".join(f"<p>{p}</p>" for p in text.split("\n\n"))
                msg.add_alternative(
                    f'<html><body style="font-family:Calibri">{paragraphs}</body></html>',
                    subtype="html",
                )
            if rng.random() < 0.08:
                pdf = demo.tiny_pdf([f"Kaufbeleg {ctx['order']}", name, "Bench-Daten"])
                msg.add_attachment(
                    pdf,
                    maintype="application",
                    subtype="pdf",
                    filename=f"Kaufbeleg_{ctx['order']}.pdf",
                )
            sent.append((msg["Message-ID"], subject, name, address))
        out.append(msg.as_bytes())
    return out


def delete_brand_data(brand: BusinessEntity) -> None:
    """Everything the bench brand accumulated, files of attachments only it used included."""
    shas = set(
        Attachment.objects.filter(message__conversation__brand=brand).values_list(
            "sha256", flat=True
        )
    )
    Conversation.objects.filter(brand=brand).delete()
    RawEmail.objects.filter(brand=brand).delete()
    SenderRule.objects.filter(brand=brand).delete()
    Mailbox.objects.filter(brand=brand).delete()
    # the events kommunikation recorded for the ingested mail (append-only, but the bench
    # brand goes entirely); through the reverse relation, no import of kommunikation's
    brand.events.all().delete()
    brand.delete()
    still_used = set(Attachment.objects.filter(sha256__in=shas).values_list("sha256", flat=True))
    for sha in shas - still_used:
        default_storage.delete(f"attachments/{sha[:2]}/{sha}")


def _maxrss_kib() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux


@benchmark("ingest")
def ingest_benchmark(options: BenchOptions) -> list[BenchRow]:
    slug = f"bench-{uuid.uuid4().hex[:8]}"
    domain = f"{slug}.example"
    emails = generate_emails(options.messages, seed=options.seed, domain=domain)
    brand = BusinessEntity.objects.create(
        name="Benchmark", slug=slug, domains=[domain], support_email=f"support@{domain}"
    )
    SenderRule.objects.create(
        brand=brand,
        kind=SenderRule.Kind.DOMAIN,
        pattern=demo.NEWSLETTERS[0][2],
        classification="newsletter",
    )
    try:
        context = IngestContext()
        stats = IngestStats()
        rss_before = _maxrss_kib()
        started = time.perf_counter()
        cpu_started = time.process_time()
        if options.batch_size:
            items = ((raw, "bench") for raw in emails)
            results = ingest_raw_emails(
                items, brand=brand, context=context, batch_size=options.batch_size
            )
        else:
            results = (
                ingest_raw_email(raw, brand=brand, source="bench", context=context)
                for raw in emails
            )
        for result in results:
            stats.add(result)
            # with DEBUG the query log would keep the SQL of every bulk insert (raw
            # emails included); production runs without it, so the bench does too
            reset_queries()
        seconds = time.perf_counter() - started
        cpu_seconds = time.process_time() - cpu_started
        rss_growth = _maxrss_kib() - rss_before
        threaded = stats.threaded
        conversations = Conversation.objects.filter(brand=brand).count()
    finally:
        delete_brand_data(brand)
    total = len(emails)
    return [
        BenchRow("ingest", "messages", total, "Nachrichten"),
        BenchRow("ingest", "batch_size", options.batch_size, "Nachrichten je Stapel"),
        BenchRow("ingest", "seconds", round(seconds, 2), "s"),
        BenchRow("ingest", "rate", round(total / seconds, 1), "Nachrichten/s"),
        # CPU of this process only (not the database server): robust against a busy machine
        BenchRow("ingest", "cpu_seconds", round(cpu_seconds, 2), "s CPU (Python)"),
        BenchRow("ingest", "cpu_per_message", round(cpu_seconds * 1000 / total, 2), "ms CPU"),
        BenchRow("ingest", "peak_rss_growth", round(rss_growth / 1024, 1), "MiB (ru_maxrss)"),
        BenchRow("ingest", "peak_rss", round(_maxrss_kib() / 1024, 1), "MiB (ru_maxrss)"),
        BenchRow("ingest", "threaded", threaded, "Antworten einsortiert"),
        BenchRow("ingest", "flagged", stats.flagged, "markiert"),
        BenchRow("ingest", "conversations", conversations, "Konversationen"),
    ]


# --- one large mail: the memory it takes ------------------------------------------------------


def large_email(*, domain: str, attachment_bytes: int = 21 * 1024 * 1024, seed: int = 42) -> bytes:
    """One mail of about 30 MB to ``support@<domain>``: a text and an HTML body, a
    ``attachment_bytes`` PDF (base64, so 4/3 of that on the wire) and three small files.
    Written by hand, line by line, so building it costs no more than the result."""
    rng = random.Random(f"large:{seed}")
    boundary = "----=_Part_large_0"
    alternative = "----=_Part_large_1"

    def b64(data: bytes) -> bytes:
        return base64.encodebytes(data).replace(b"\n", b"\r\n")

    head = (
        "From: Grosser Anhang <gross@kunde.example>\r\n"
        f"To: support@{domain}\r\n"
        "Subject: Pläne und Fotos der Baustelle\r\n".encode()
        + f"Date: {format_datetime(timezone.now())}\r\n"
        f"Message-ID: <large-{seed}-{rng.getrandbits(64):x}@kunde.example>\r\n"
        "MIME-Version: 1.0\r\n"
        f'Content-Type: multipart/mixed; boundary="{boundary}"\r\n\r\n'
        f"--{boundary}\r\n"
        f'Content-Type: multipart/alternative; boundary="{alternative}"\r\n\r\n'
        f"--{alternative}\r\nContent-Type: text/plain; charset=utf-8\r\n"
        "Content-Transfer-Encoding: 8bit\r\n\r\n"
        "Guten Tag,\r\n\r\nanbei die Pläne.\r\n\r\n".encode()
        + f"--{alternative}\r\nContent-Type: text/html; charset=utf-8\r\n\r\n"
        "<p>Guten Tag,</p><p>anbei die <b>Pläne</b>.</p>\r\n".encode()
        + f"--{alternative}--\r\n".encode()
    )
    parts = [head]
    files = [
        ("Baustelle_Plan_gesamt.pdf", "application/pdf", attachment_bytes),
        ("Foto 1.jpg", "image/jpeg", 600_000),
        ("Foto 2.jpg", "image/jpeg", 400_000),
        ("Leistungsverzeichnis.xlsx", "application/vnd.ms-excel", 80_000),
    ]
    for filename, content_type, size in files:
        parts.append(
            f'--{boundary}\r\nContent-Type: {content_type}; name="{filename}"\r\n'
            f'Content-Disposition: attachment; filename="{filename}"\r\n'
            "Content-Transfer-Encoding: base64\r\n\r\n".encode()
        )
        chunk = 57 * 16 * 1024  # whole base64 lines
        for start in range(0, size, chunk):
            parts.append(b64(rng.randbytes(min(chunk, size - start))))
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts)


def large_mail_child() -> None:
    """In a fresh process (see ``large_mail_benchmark``): ingest the mail in the file named
    by argv[1] and print the growth of the peak resident set size as JSON. Run as
    ``python -c "import django; django.setup(); ...; large_mail_child()" FILE``."""
    import gc

    raw = Path(sys.argv[1]).read_bytes()
    slug = f"bench-{uuid.uuid4().hex[:8]}"
    brand = BusinessEntity.objects.create(
        name="Benchmark",
        slug=slug,
        domains=[f"{slug}.example"],
        support_email=f"support@{slug}.example",
    )
    try:
        gc.collect()
        before = _reset_peak_rss_kib()
        started = time.perf_counter()
        result = ingest_raw_email(raw, brand=brand, source="bench")
        seconds = time.perf_counter() - started
        growth = _peak_rss_kib() - before
        attachments = Attachment.objects.filter(message=result.message).count()
    finally:
        delete_brand_data(brand)
    print(
        json.dumps(
            {
                "size": len(raw),
                "growth_kib": growth,
                "seconds": seconds,
                "outcome": result.outcome,
                "attachments": attachments,
            }
        )
    )


def _status_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    raise LookupError(field)


def _reset_peak_rss_kib() -> int:
    """The resident set size now, with the peak reset to it where Linux allows. Not
    ``ru_maxrss``: across fork and exec it keeps the peak of the parent (a test runner
    of some hundred MB), so a child's growth below that would read as nothing."""
    try:
        Path("/proc/self/clear_refs").write_text("5")  # resets VmHWM to VmRSS
        return _status_kib("VmRSS")
    except (OSError, LookupError):
        return _peak_rss_kib()


def _peak_rss_kib() -> int:
    try:
        return _status_kib("VmHWM")
    except (OSError, LookupError):
        return _maxrss_kib()


_CHILD = "import django; django.setup(); from conversations.benchmarks import large_mail_child; large_mail_child()"


def _child_database_url(tmp: Path) -> str:
    """The database the child ingests into: this one, or for an in-memory SQLite (the
    test suite) a migrated SQLite file of its own."""
    db = connection.settings_dict
    if connection.vendor == "postgresql":
        return (
            f"postgres://{db['USER']}:{db['PASSWORD'] or ''}@{db['HOST'] or '127.0.0.1'}:"
            f"{db['PORT'] or 5432}/{db['NAME']}"
        )
    if connection.vendor == "sqlite" and not connection.is_in_memory_db():
        return f"sqlite:///{db['NAME']}"
    url = f"sqlite:///{tmp / 'bench.sqlite3'}"
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--no-input", "-v", "0"],
        cwd=settings.BASE_DIR,
        env=_child_env(url, tmp),
        check=True,
        capture_output=True,
    )
    return url


def _child_env(database_url: str, tmp: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings",
        DATABASE_URL=database_url,
        SECRET_KEY=settings.SECRET_KEY,
        DEBUG="false",  # as in production: no query log holding the 30 MB insert
        MEDIA_ROOT=str(tmp / "media"),
        LOG_LEVEL="WARNING",
    )
    return env


@benchmark("largemail")
def large_mail_benchmark(options: BenchOptions) -> list[BenchRow]:
    """Peak memory of ingesting one 30 MB mail (a 21 MiB PDF, base64, and three small
    files), in a fresh process so nothing measured before counts: the growth of its peak
    resident set size (VmHWM) over the ingest call, and that as a multiple of the
    mail's size (the goal: at most 4)."""
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        path = tmp / "large.eml"
        path.write_bytes(large_email(domain="bench.example", seed=options.seed))
        url = _child_database_url(tmp)
        done = subprocess.run(
            [sys.executable, "-c", _CHILD, str(path)],
            cwd=settings.BASE_DIR,
            env=_child_env(url, tmp),
            check=True,
            capture_output=True,
            text=True,
        )
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    size_mib = figures["size"] / 2**20
    growth_mib = figures["growth_kib"] / 1024
    return [
        BenchRow("largemail", "size", round(size_mib, 1), "MiB"),
        BenchRow("largemail", "peak_rss_growth", round(growth_mib, 1), "MiB (VmHWM)"),
        BenchRow("largemail", "ratio", round(growth_mib / size_mib, 2), "x Größe [Ziel <= 4]"),
        BenchRow("largemail", "seconds", round(figures["seconds"], 2), "s"),
        BenchRow("largemail", "attachments", figures["attachments"], "Anhänge"),
        BenchRow("largemail", "outcome", figures["outcome"], ""),
    ]
