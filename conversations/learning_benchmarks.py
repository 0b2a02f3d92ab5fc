"""``make bench`` "learning": how much mail is classified correctly on arrival (seed 001's
KPI: more than 95 %), on a simulated four-week stream.

The stream: about 1,000 mails from about 360 senders, Zipf-like (a few send a lot, many
once): customers of the brand writing from a known address, from a new address on their
company's domain, from a new freemail address, and a few customers' own newsletters;
suppliers' people and their systems (``rechnung@`` with Auto-Submitted); colleagues;
newsletters; cold advertising (some with List-Unsubscribe). Every sender has a true
classification (and customer); the brand's CRM knows the customers and one address of
each company.

Each day's mail goes through the real ingestion, the brand's first-contact model is
retrained at night (``train_brand``, as the nightly schedule does), and at the end of each
week an agent classifies what is left and corrects wrong automatic classifications through
``record_classification``, as a real user would: the customer named for Kunde/Lieferant,
"Absender merken: Adresse" for Newsletter and Werbung. Measured per mail, right after
its day's ingestion: correct (classification and, for Kunde/Lieferant, the customer),
automatic but wrong, unclassified. Run once with the Admin's auto-apply threshold off and
once on.
"""

from __future__ import annotations

import random
import uuid
from collections import Counter
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import format_datetime

import time_machine
from django.db.models import Q
from django.utils import timezone

from conversations.benchmarks import BenchOptions, BenchRow, delete_brand_data
from conversations.ingest import IngestContext, ingest_raw_emails
from conversations.learning import train_brand
from conversations.models import Classification, Conversation, Message, SenderModel, SenderRule
from conversations.services import REMEMBER_ADDRESS, record_classification
from kommunikation import demo
from kommunikation.models import BusinessEntity, ContactPoint, Customer, CustomerKind

START = timezone.datetime(2026, 11, 2, 8, 0, tzinfo=demo.BERLIN)  # a Monday
DAYS = 28
C = Classification


@dataclass
class Sender:
    address: str
    name: str
    kind: str  # what mail it writes (see _mail)
    classification: str
    customer: Customer | None = None


class _Values(dict):
    def __missing__(self, key):
        return "…"


def _text(rng: random.Random, template: str, **extra) -> str:
    values = _Values(
        order=f"B-2026-{rng.randint(10000, 99999)}",
        invoice=f"RE-2026-{rng.randint(1000, 9999)}",
        quote=f"AN-2026-{rng.randint(1000, 9999)}",
        date=f"{rng.randint(1, 28):02d}.12.2026",
        time=f"{rng.randint(8, 17)}:00",
        product=rng.choice(demo.PRODUCTS),
        car=rng.choice(demo.CARS),
        city=rng.choice(demo.CITIES)[1],
        amount=f"{rng.randint(300, 4000)},00 €",
        kw=str(rng.randint(1, 52)),
        year="2027",
        brand="LaderThuis",
        domain="laderthuis.example",
        **extra,
    )
    return template.format_map(values)


def _senders(rng: random.Random, brand: BusinessEntity, own: str) -> list[Sender]:
    """The 360 senders and the CRM the brand starts with."""
    senders: list[Sender] = []
    names = iter(rng.sample([(f, la) for f in demo.FEMALE + demo.MALE for la in demo.LAST], 200))
    for n in range(40):  # companies: one known address, often a second one, a few newsletters
        first, last = next(names)
        company = Customer.objects.create(
            brand=brand, is_company=True, company_name=f"{last} Haustechnik {n} GmbH"
        )
        domain = f"{demo.ascii_slug(last)}-haustechnik{n}.de"
        known = f"{demo.ascii_slug(first)}.{demo.ascii_slug(last)}@{domain}"
        ContactPoint.objects.create(customer=company, channel="email", value=known)
        senders.append(Sender(known, f"{first} {last}", "customer", C.CUSTOMER, company))
        if n % 5 < 3:
            senders.append(Sender(f"buero@{domain}", company.company_name, "customer",
                                  C.CUSTOMER, company))  # fmt: skip
        if n % 8 == 0:
            senders.append(Sender(f"news@{domain}", company.company_name, "customer_news",
                                  C.CUSTOMER, company))  # fmt: skip
    for n in range(90):  # people: 60 write from the known address, 30 from a new freemail one
        first, last = next(names)
        person = Customer.objects.create(brand=brand, first_name=first, last_name=last)
        provider = rng.choice(demo.MAIL_PROVIDERS)
        known = f"{demo.ascii_slug(first)}.{demo.ascii_slug(last)}{n}@{provider}"
        ContactPoint.objects.create(customer=person, channel="email", value=known)
        address = known if n < 60 else f"{demo.ascii_slug(last)}{n}.privat@{provider}"
        senders.append(Sender(address, f"{first} {last}", "customer", C.CUSTOMER, person))
    for n in range(20):  # suppliers: a buyer's contact, and their systems
        _first, last = next(names)
        supplier = Customer.objects.create(
            brand=brand, kind=CustomerKind.SUPPLIER, is_company=True,
            company_name=f"{last} Elektrogroßhandel {n} GmbH",
        )  # fmt: skip
        domain = f"{demo.ascii_slug(last)}-grosshandel{n}.de"
        ContactPoint.objects.create(customer=supplier, channel="email", value=f"vertrieb@{domain}")
        senders.append(Sender(f"vertrieb@{domain}", supplier.company_name, "supplier",
                              C.SUPPLIER, supplier))  # fmt: skip
        for system in ("rechnung", "auftrag")[: 1 + n % 2]:
            senders.append(Sender(f"{system}@{domain}", supplier.company_name, "supplier_system",
                                  C.SUPPLIER, supplier))  # fmt: skip
    for n in range(10):
        first, last = next(names)
        senders.append(Sender(f"{demo.ascii_slug(first)}{n}@{own}", f"{first} {last}",
                              "internal", C.INTERNAL))  # fmt: skip
    for n in range(80):
        senders.append(Sender(f"newsletter@news-portal{n}.de", f"Fachportal {n} Newsletter",
                              "newsletter", C.NEWSLETTER))  # fmt: skip
    while len(senders) < 360:
        n = len(senders)
        senders.append(Sender(f"vertrieb{n}@leadagentur{n}.de", f"Agentur {n}",
                              "advertising", C.ADVERTISING))  # fmt: skip
    return senders


def _mail(rng: random.Random, sender: Sender, *, to: str, at, n: int) -> bytes:
    msg = EmailMessage()
    msg["From"] = f"{sender.name} <{sender.address}>"
    msg["To"] = to
    msg["Date"] = format_datetime(at)
    msg["Message-ID"] = f"<learn.{n}.{uuid.uuid4().hex[:8]}@bench.example>"
    kind = sender.kind
    if kind == "customer":
        if rng.random() < 0.7:
            scenario = rng.choice(demo.CUSTOMER_SCENARIOS)
            subject, body = scenario["subject"], scenario["open"]
        else:
            subject = rng.choice(demo.UNCLASSIFIED_SUBJECTS)
            body = rng.choice(demo.UNCLASSIFIED_BODIES)
        body = f"Guten Tag,\n\n{body}\n\nViele Grüße\n{sender.name}"
    elif kind in ("supplier", "supplier_system"):
        scenario = rng.choice(demo.SUPPLIER_SCENARIOS)
        subject, body = scenario["subject"], f"Sehr geehrte Damen und Herren,\n\n{scenario['open']}"
        if kind == "supplier_system":
            msg["Auto-Submitted"] = "auto-generated"
            body += "\n\nDiese E-Mail wurde automatisch erstellt."
    elif kind == "internal":
        subject, body = rng.choice(demo.INTERNAL_SCENARIOS)
        body = f"Hallo zusammen,\n\n{body}"
    elif kind in ("newsletter", "customer_news"):
        subject = rng.choice(demo.NEWSLETTER_SUBJECTS)
        body = (
            f"{subject}\n\nAlle Neuigkeiten der Woche im Überblick. Jetzt entdecken.\n\n"
            "Sie erhalten diesen Newsletter, weil Sie sich angemeldet haben. "
            "Newsletter abbestellen: hier abmelden."
        )
        msg["List-Id"] = f"<news.{sender.address.partition('@')[2]}>"
        msg["List-Unsubscribe"] = f"<mailto:unsubscribe@{sender.address.partition('@')[2]}>"
        msg["Precedence"] = "bulk"
    else:  # advertising: cold acquisition, a third of it sent by a mailing tool
        subject = rng.choice(demo.COLD_SUBJECTS)
        body = (
            f"Sehr geehrte Damen und Herren,\n\n{rng.choice(demo.COLD_BODIES)}\n\n"
            "Gern sende ich Ihnen ein unverbindliches Angebot. Kostenlos und ohne Risiko."
        )
        if rng.random() < 0.35:
            msg["List-Unsubscribe"] = f"<mailto:abmelden@{sender.address.partition('@')[2]}>"
    msg["Subject"] = _text(rng, subject) + f" [{n}]"
    msg.set_content(_text(rng, body))
    return msg.as_bytes()


def _stream(rng: random.Random, senders: list[Sender], mails: int) -> list[list[Sender]]:
    """Per day the senders of its mails: Zipf-like over a random ranking of the senders."""
    ranked = senders[:]
    rng.shuffle(ranked)
    weights = [1 / (rank + 1) ** 0.9 for rank in range(len(ranked))]
    picks = rng.choices(ranked, weights=weights, k=mails)
    days: list[list[Sender]] = [[] for _ in range(DAYS)]
    for sender in picks:
        days[rng.randrange(DAYS)].append(sender)
    return days


def _correct(sender: Sender, classification: str, customer_id: int | None) -> bool:
    if classification != sender.classification:
        return False
    return sender.customer is None or customer_id == sender.customer.pk


def _agent_week(brand: BusinessEntity, truth: dict[str, Sender]) -> int:
    """What is left, classified; wrong automatic ones, corrected. Returns the actions."""
    actions = 0
    todo = Conversation.objects.filter(brand=brand).filter(
        Q(classification="") | Q(classified_automatically=True)
    )
    for pk, counterpart, classification, customer_id in todo.values_list(
        "pk", "counterpart", "classification", "customer_id"
    ).order_by("last_message_at"):
        sender = truth[counterpart]
        if classification and _correct(sender, classification, customer_id):
            continue  # a right automatic classification: the agent leaves it
        remember = (
            REMEMBER_ADDRESS if sender.classification in (C.NEWSLETTER, C.ADVERTISING) else None
        )
        record_classification(
            conversations=Conversation.objects.filter(pk=pk),
            classification=sender.classification,
            customer=sender.customer,
            actor=None,
            remember_sender=remember,
        )
        actions += 1
    return actions


def _day(brand, truth, day, day_senders, per_week, rng, own, *, first: int) -> int:
    """One day's mail through ingestion, measured on arrival; on the last day of a week
    the agent's session. Returns the agent's actions."""
    at = timezone.now()
    raws = []
    for i, sender in enumerate(day_senders):
        when = at + timezone.timedelta(minutes=7 * i)
        raw = _mail(rng, sender, to=f"support@{own}", at=when, n=first + i + 1)
        raws.append((raw, "bench"))
    results = list(ingest_raw_emails(raws, brand=brand, context=IngestContext()))
    ids = [r.message.pk for r in results if r.message is not None]
    week = per_week[day // 7 + 1]
    for sender_address, classification, customer_id, automatic in Message.objects.filter(
        pk__in=ids
    ).values_list(
        "sender_address",
        "conversation__classification",
        "conversation__customer_id",
        "conversation__classified_automatically",
    ):
        sender = truth[sender_address]
        week["mails"] += 1
        if not classification:
            week["unclassified"] += 1
            continue
        week["automatic"] += automatic
        if _correct(sender, classification, customer_id):
            week["correct"] += 1
        else:
            week["wrong"] += 1
            week["wrong_automatic"] += automatic
    return _agent_week(brand, truth) if day % 7 == 6 else 0


def learning_stream(*, mails: int = 1000, seed: int = 42, threshold: int | None = None) -> dict:
    """One run of the stream; the figures as a dict (shares in %)."""
    rng = random.Random(f"learning:{seed}")
    tag = uuid.uuid4().hex[:6]
    own = f"bench-learn-{tag}.example"
    brand = BusinessEntity.objects.create(
        name=f"Bench Lernen {tag}", slug=f"bench-learn-{tag}", domains=[own],
        support_email=f"support@{own}",
    )  # fmt: skip
    try:
        senders = _senders(rng, brand, own)
        truth = {s.address: s for s in senders}
        SenderModel.objects.create(brand=brand, auto_apply_percent=threshold)
        days = _stream(rng, senders, mails)
        per_week: dict[int, Counter] = {week: Counter() for week in range(1, 5)}
        n = 0
        actions = 0
        for day, day_senders in enumerate(days):
            at = START + timezone.timedelta(days=day)
            # the clock of the simulated day: "created" and "a week ago" mean that day
            with time_machine.travel(at, tick=False):
                actions += _day(brand, truth, day, day_senders, per_week, rng, own, first=n)
            n += len(day_senders)
            with time_machine.travel(at + timezone.timedelta(hours=18), tick=False):
                train_brand(brand)  # the nightly training
        total = sum(per_week.values(), Counter())

        def share(counter: Counter, key: str, of: str = "mails") -> float:
            return round(100 * counter[key] / counter[of], 1) if counter[of] else 0.0

        return {
            "mails": total["mails"],
            "senders": len({m for m in truth if m}),
            "week1_correct": share(per_week[1], "correct"),
            "week4_correct": share(per_week[4], "correct"),
            "week4_unclassified": share(per_week[4], "unclassified"),
            "all_correct": share(total, "correct"),
            "automatic_wrong": share(total, "wrong_automatic", "automatic"),
            "agent_actions": actions,
        }
    finally:
        # customers are protected by their conversations and rules: those go first
        Conversation.objects.filter(brand=brand).delete()
        SenderRule.objects.filter(brand=brand).delete()
        Customer.objects.filter(brand=brand).delete()
        delete_brand_data(brand)


def learning_benchmark(options: BenchOptions) -> list[BenchRow]:
    rows = []
    mails = min(options.messages, 1000)
    for label, threshold in (("Schwelle aus", None), ("Schwelle 90 %", 90)):
        result = learning_stream(mails=mails, seed=options.seed, threshold=threshold)
        units = {"mails": "", "senders": "", "agent_actions": ""}
        for key, value in result.items():
            rows.append(BenchRow("learning", f"{key} ({label})", value, units.get(key, "%")))
    return rows
