"""Benchmarks of rendering: emails per second, one letter PDF, a 100-letter batch.

``benchmark_rows()`` returns (name, value, unit, goal) tuples for the ``bench`` command.
Needs a database (it creates and then rolls back its templates).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import time
from decimal import Decimal

from django.db import transaction

from kommunikation.events.catalogue import EVENT_TYPES
from templates_app.letters import Letter, render_letter, render_letters_batch
from templates_app.models import MessageTemplate, TemplateVariant, create_version
from templates_app.plain import SAMPLE_BRAND, SAMPLE_CUSTOMER
from templates_app.rendering import common_context, render_version

EMAILS = 10_000
LETTERS = 100


class _Rollback(Exception):
    pass


def _letter(i: int) -> Letter:
    return Letter(
        brand=SAMPLE_BRAND,
        customer={**SAMPLE_CUSTOMER, "last_name": f"Müller{i}", "number": f"K-{i}"},
        subject="1. Mahnung zur Rechnung RE-2025-1000",
        body_html="<p>Sehr geehrte Frau Müller,</p>"
        + "<p>leider konnten wir zu unserer Rechnung noch keinen Zahlungseingang feststellen. "
        "Bitte überweisen Sie den offenen Betrag von 1.234,56 € bis zum 21. Juli 2025.</p>"
        * 3
        + "<p>Mit freundlichen Grüßen<br>Ihr Team</p>",
        date=dt.date(2025, 7, 7),
        reference=[("Rechnungsnr.", "RE-2025-1000")],
    )


def bench_emails(n: int = EMAILS) -> float:
    """Emails per second: subject, HTML in the brand layout with inlined CSS, text."""
    return measure_emails(n)[0]


def measure_emails(n: int = EMAILS) -> tuple[float, float]:
    """(emails per second of wall-clock time, emails per second of this process's CPU time).

    The CPU figure stays meaningful when other processes load the machine.
    """
    rate = cpu_rate = 0.0
    try:
        with transaction.atomic():
            template = MessageTemplate.objects.create(
                key="bench_order",
                event_type="order.created",
                category="transactional",
                channel="email",
            )
            variant = TemplateVariant.objects.create(template=template)
            import yaml

            from templates_app.loading import LIBRARY_DIR

            entry = next(
                e
                for e in yaml.safe_load((LIBRARY_DIR / "orders.yaml").read_text())["templates"]
                if e["key"] == "order_confirmation"
            )
            version = create_version(variant=variant, content=entry["content"]["de"])
            event = EVENT_TYPES["order.created"]
            payload = dict(event.example)
            start, cpu_start = time.perf_counter(), time.process_time()
            for i in range(n):
                customer = {**SAMPLE_CUSTOMER, "id": i, "last_name": f"Müller{i}"}
                context = {
                    **common_context(
                        customer=customer,
                        brand=SAMPLE_BRAND,
                        language="de",
                        links={"unsubscribe": f"https://example.org/u/{i}"},
                        today=dt.date(2025, 6, 16),
                    ),
                    **event.builder({**payload, "order_total": Decimal(i) / 100}),
                }
                render_version(
                    version, channel="email", language="de", context=context, brand=SAMPLE_BRAND
                )
            rate = n / (time.perf_counter() - start)
            cpu_rate = n / (time.process_time() - cpu_start)
            raise _Rollback
    except _Rollback:
        pass
    return rate, cpu_rate


def bench_letter(**options) -> float:
    render_letter(_letter(0), **options)  # warm-up: fontconfig, CSS parsing
    runs = 5
    start = time.perf_counter()
    for i in range(runs):
        render_letter(_letter(i), **options)
    return (time.perf_counter() - start) / runs


def bench_letter_fonttools() -> float:
    """The same letter with weasyprint's fallback subsetter (as without libharfbuzz-subset0)."""
    from weasyprint.pdf import fonts

    saved = fonts.harfbuzz_subset
    fonts.harfbuzz_subset = None
    try:
        import logging

        logging.getLogger("weasyprint").setLevel(logging.ERROR)
        return bench_letter()
    finally:
        fonts.harfbuzz_subset = saved


def bench_batch(n: int = LETTERS) -> float:
    return measure_batch(n)[0]


def measure_batch(n: int = LETTERS) -> tuple[float, float]:
    """(seconds of wall-clock time, seconds of CPU time) for one PDF of n letters."""
    start, cpu_start = time.perf_counter(), time.process_time()
    render_letters_batch([_letter(i) for i in range(n)])
    return time.perf_counter() - start, time.process_time() - cpu_start


def bench_batch_pypdf(n: int = LETTERS) -> float:
    """For comparison: render each letter to PDF and concatenate with pypdf."""
    import io

    from pypdf import PdfWriter

    start = time.perf_counter()
    writer = PdfWriter()
    for i in range(n):
        writer.append(io.BytesIO(render_letter(_letter(i))))
    out = io.BytesIO()
    writer.write(out)
    return time.perf_counter() - start


def benchmark_rows() -> list[tuple[str, float, str, str]]:
    from weasyprint.pdf import fonts

    hb = (
        "harfbuzz-subset"
        if fonts.harfbuzz_subset is not None
        else "fontTools (libharfbuzz-subset0 fehlt)"
    )
    emails, emails_cpu = measure_emails()
    rows = [
        (
            f"templates: {EMAILS} E-Mails rendern (HTML+CSS inline+Text)",
            round(emails, 0),
            "E-Mails/s",
            ">= 2000",
        ),
        (
            "templates: dieselben E-Mails je Sekunde CPU-Zeit dieses Prozesses",
            round(emails_cpu, 0),
            "E-Mails/s",
            "Vergleich",
        ),
        (f"templates: 1 Brief-PDF ({hb})", round(bench_letter(), 3), "s", "< 0.15"),
        (
            "templates: 1 Brief-PDF (fontTools-Subsetting)",
            round(bench_letter_fonttools(), 3),
            "s",
            "Vergleich",
        ),
        (
            "templates: 1 Brief-PDF (ohne Subsetting, full_fonts)",
            round(bench_letter(full_fonts=True), 3),
            "s",
            "Vergleich",
        ),
    ]
    batch, batch_cpu = measure_batch()
    rows += [
        (f"templates: {LETTERS} Briefe als ein PDF", round(batch, 2), "s", "< 10"),
        (f"templates: {LETTERS} Briefe, CPU-Zeit", round(batch_cpu, 2), "s", "Vergleich"),
    ]
    with contextlib.suppress(ImportError):  # pypdf is a dev dependency
        rows.append(
            (
                f"templates: {LETTERS} Briefe, pypdf-Zusammenführung",
                round(bench_batch_pypdf(), 2),
                "s",
                "Vergleich",
            )
        )
    return rows
