"""Demo data: the inbox of a German SMB with the five brands of the ChargeCars seed.

``seed_demo(conversations=600, seed=42)`` creates (or reuses) the five brands with
their addresses, mailboxes and sender rules, a few staff members per brand,
customers and suppliers with contact points, and conversations across every
classification: email threads with replies and internal notes, WhatsApp chats,
newsletters, cold acquisition, and a share left unclassified for the morning triage.

Everything is computed in Python from one ``random.Random(seed)`` and written with
``bulk_create`` in batches: no per-row ``save()``, no signals. The same seed on an
empty database gives the same data (only the timestamps move with "now"), and
200,000 conversations take minutes, which makes this the data set for benchmarks.
"""

from __future__ import annotations

import hashlib
import random
import re
import time
import zoneinfo
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone

from conversations.models import (
    REPLY_OWED_CLASSIFICATIONS,
    Attachment,
    Channel,
    Classification,
    ClassificationChange,
    Conversation,
    Direction,
    Mailbox,
    Message,
    Priority,
    SenderRule,
    Status,
    StatusChange,
)
from conversations.threading import normalize_subject
from kommunikation.contact import format_phone
from kommunikation.demo.data import (
    ATTACHMENT_CHANCE,
    BRANDS,
    CARS,
    CITIES,
    COLD_BODIES,
    COLD_SENDERS,
    COLD_SUBJECTS,
    COMPANY_PATTERNS,
    CUSTOMER_SCENARIOS,
    FEMALE,
    INTERNAL_SCENARIOS,
    LAST,
    MAIL_PROVIDERS,
    MALE,
    NEWSLETTER_SUBJECTS,
    NEWSLETTERS,
    PRODUCTS,
    SEGMENTS,
    SMS_IN,
    SMS_OUT,
    SMS_OUT_ANSWERS,
    STREETS,
    SUPPLIER_PATTERNS,
    SUPPLIER_SCENARIOS,
    UNCLASSIFIED_BODIES,
    UNCLASSIFIED_SUBJECTS,
    WHATSAPP_IN,
    WHATSAPP_OUT,
)
from kommunikation.models import BusinessEntity, ContactPoint, Customer, WhatsAppNumber
from kommunikation.roles import AGENT, TEAM_LEAD

BERLIN = zoneinfo.ZoneInfo("Europe/Berlin")
DAY = 86_400


@dataclass
class DemoSummary:
    brands: int = 0
    staff: int = 0
    customers: int = 0
    suppliers: int = 0
    conversations: int = 0
    messages: int = 0
    attachments: int = 0
    seconds: float = 0.0

    def line(self) -> str:
        return (
            f"{self.brands} Marken, {self.staff} Mitarbeitende, {self.customers} Kunden, "
            f"{self.suppliers} Lieferanten, {self.conversations} Konversationen, "
            f"{self.messages} Nachrichten, {self.attachments} Anhänge in {self.seconds:.1f} s"
        )


# --- small helpers --------------------------------------------------------------------------

_ASCII = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss", "Ä": "Ae", "Ö": "Oe",
                        "Ü": "Ue", "ı": "i", "ą": "a", "é": "e", "Š": "S", "š": "s", " ": "",
                        "&": "", ",": "", "(": "", ")": "", "'": ""})  # fmt: skip


_ASCII_WORDS = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss", "Ä": "Ae", "Ö": "Oe",
                              "Ü": "Ue", "ı": "i", "ą": "a"})  # fmt: skip


def ascii_slug(value: str) -> str:
    return value.translate(_ASCII).lower().replace(".", "")


def snippet(text: str) -> str:
    """The inbox preview: the body without the salutation line and quoted text."""
    lines = [
        line.strip() for line in text.splitlines() if line.strip() and not line.startswith(">")
    ]
    if len(lines) > 1 and lines[0].endswith(","):
        lines = lines[1:]
    return " ".join(" ".join(lines).split())[:200]


_LEGAL_FORMS = {"gmbh", "co", "kg", "ek", "eg", "partg", "mbb", "ggmbh", "inh", "zur", "dr", "und"}


def company_domain(company: str) -> str:
    """elektro-schneider.de for "Elektro Schneider GmbH": the name without its legal form."""
    words = re.split(r"[^a-z0-9]+", company.split(",")[0].translate(_ASCII_WORDS).lower())
    kept = [w for w in words if w and w not in _LEGAL_FORMS]
    return "-".join(kept[:3]) + ".de"


def german_date(value: date) -> str:
    return value.strftime("%d.%m.%Y")


def _pdf_escape(line: str) -> bytes:
    raw = line.encode("cp1252", "replace")
    return raw.replace(b"\\", b"\\\\").replace(b"(", b"\\(").replace(b")", b"\\)")


def tiny_pdf(lines: list[str]) -> bytes:
    """A valid one-page A4 PDF (Helvetica, WinAnsi for umlauts) with the given lines."""
    text = (
        b"BT /F1 11 Tf 14 TL 56 780 Td "
        + b" ".join(b"(" + _pdf_escape(line) + b") Tj T*" for line in lines)
        + b" ET"
    )
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] "
        b"/Resources << /Font << /F1 5 0 R >> >> /Contents 4 0 R >>",
        b"<< /Length %d >>\nstream\n" % len(text) + text + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
    ]
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for offset in offsets:
        out += b"%010d 00000 n \n" % offset
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(out)


def store_attachment_bytes(data: bytes) -> tuple[str, str]:
    """Content-addressed like the ingest code: attachments/<sha[:2]>/<sha>; stored once."""
    sha = hashlib.sha256(data).hexdigest()
    name = f"attachments/{sha[:2]}/{sha}"
    if not default_storage.exists(name):
        name = default_storage.save(name, ContentFile(data))
    return sha, name


@dataclass
class Person:
    """A customer or supplier as the generator needs it, before and after insert."""

    customer: Customer
    name: str
    email: str
    phone: str
    salutation: str
    signature: str
    id: int = 0


@dataclass
class BrandData:
    brand: BusinessEntity
    mailbox_support: Mailbox
    agents: list = field(default_factory=list)
    lead: object = None
    customers: list[Person] = field(default_factory=list)
    suppliers: list[Person] = field(default_factory=list)


# --- the generator ---------------------------------------------------------------------------


class DemoGenerator:
    def __init__(
        self,
        *,
        seed: int,
        offset: int = 0,
        batch_size: int = 2000,
        progress: Callable[[str], None] | None = None,
    ) -> None:
        self.rng = random.Random(f"kundenkommunikation-demo:{seed}:{offset}")
        self.seed = seed
        self.offset = offset
        self.batch_size = batch_size
        self.progress = progress or (lambda text: None)
        self.now = timezone.now().replace(microsecond=0)
        self.today = timezone.localdate()
        self.summary = DemoSummary()
        self.used_emails: set[str] = set()

    # -- brands, staff, mailboxes, rules --

    def setup_brands(self) -> list[BrandData]:
        result = []
        User = get_user_model()
        groups = {g.name: g for g in Group.objects.filter(name__in=[AGENT, TEAM_LEAD])}
        staff_rng = random.Random(f"kundenkommunikation-staff:{self.seed}")
        for spec in BRANDS:
            values = {k: v for k, v in spec.items() if k not in ("slug", "weight")}
            brand, _created = BusinessEntity.objects.get_or_create(
                slug=spec["slug"], defaults=values
            )
            support, _created = Mailbox.objects.get_or_create(
                brand=brand, name="Support", defaults={"address": brand.support_email}
            )
            Mailbox.objects.get_or_create(
                brand=brand, name="Vertrieb", defaults={"address": brand.sales_email}
            )
            if brand.whatsapp_number:
                # seed 002's numbers; ids and tokens are Meta's to give (the admin enters
                # them), the demo only shows the number and its webhook
                WhatsAppNumber.objects.get_or_create(
                    brand=brand,
                    defaults={
                        "display_number": brand.whatsapp_number,
                        "phone_number_id": f"demo-{brand.whatsapp_number.lstrip('+')}",
                        "verify_token": f"demo-verify-{brand.slug}",
                    },
                )
            data = BrandData(brand=brand, mailbox_support=support)
            names: set[str] = set()
            for index in range(4):
                username = ""
                while not username or username in names:
                    female = staff_rng.random() < 0.5
                    first = staff_rng.choice(FEMALE if female else MALE)
                    last = staff_rng.choice(LAST)
                    username = f"{ascii_slug(first)}.{ascii_slug(last)}.{spec['slug'][:4]}"
                names.add(username)
                user, created = User.objects.get_or_create(
                    username=username,
                    defaults={
                        "first_name": first,
                        "last_name": last,
                        "email": f"{ascii_slug(first)}.{ascii_slug(last)}@{brand.domains[0]}",
                        "is_staff": True,
                    },
                )
                if created:
                    user.set_unusable_password()  # seeded staff cannot log in; demo_setup prints the one login
                    user.save(update_fields=["password"])
                role = TEAM_LEAD if index == 0 else AGENT
                if role in groups:
                    user.groups.add(groups[role])
                user.brands.add(brand)
                if index == 0:
                    data.lead = user
                else:
                    data.agents.append(user)
            rules = [
                SenderRule(
                    brand=brand,
                    kind=SenderRule.Kind.DOMAIN,
                    pattern=list_id,
                    classification=Classification.NEWSLETTER,
                )
                for _name, _address, list_id in NEWSLETTERS[:3]
            ]
            rules.append(
                SenderRule(
                    brand=brand,
                    kind=SenderRule.Kind.ADDRESS,
                    pattern=COLD_SENDERS[1][1],
                    classification=Classification.ADVERTISING,
                )
            )
            SenderRule.objects.bulk_create(rules, ignore_conflicts=True)
            result.append(data)
        self.summary.brands = len(result)
        self.summary.staff = sum(1 + len(d.agents) for d in result)
        return result

    # -- customers and suppliers --

    def _address(self) -> tuple[str, str, str, str]:
        rng = self.rng
        plz, city, area = rng.choice(CITIES)
        street = f"{rng.choice(STREETS)} {rng.randint(1, 140)}{rng.choice(['', '', '', 'a', 'b'])}"
        return street, plz, city, area

    def _unique_email(self, local: str, domain: str) -> str:
        email = f"{local}@{domain}"
        n = 2
        while email in self.used_emails:
            email = f"{local}{n}@{domain}"
            n += 1
        self.used_emails.add(email)
        return email

    def _mobile(self) -> str:
        rng = self.rng
        return f"+49{rng.choice(['151', '152', '157', '160', '162', '170', '171', '172', '175', '176', '177', '178', '179'])}{rng.randint(1000000, 99999999)}"

    def _person(self, brand: BusinessEntity, number: int, *, kind: str) -> Person:
        rng = self.rng
        street, plz, city, area = self._address()
        female = rng.random() < 0.5
        first = rng.choice(FEMALE if female else MALE)
        last = rng.choice(LAST)
        title = "Dr." if rng.random() < 0.05 else ""
        informal = kind == "customer" and rng.random() < 0.1
        is_company = False
        company = ""
        segment = ""
        if kind == "supplier":
            pattern, segment = rng.choice(SUPPLIER_PATTERNS)
            company = pattern.format(last=last, city=city)
            is_company = True
        elif rng.random() < 0.3:
            company = rng.choice(COMPANY_PATTERNS).format(
                last=last, last2=rng.choice(LAST), first=first, city=city
            )
            is_company = True
            segment = rng.choice(["Gewerbe", "Hausverwaltung", "Flotte"])
        else:
            segment = rng.choice(SEGMENTS[:3])
        if is_company:
            domain = company_domain(company)
            local = rng.choice(
                ["info", f"{ascii_slug(first)}.{ascii_slug(last)}", "buchhaltung", "kontakt"]
            )
            email = self._unique_email(local, domain)
        else:
            local = rng.choice(
                [f"{ascii_slug(first)}.{ascii_slug(last)}", f"{ascii_slug(first)[0]}.{ascii_slug(last)}",
                 f"{ascii_slug(last)}{rng.randint(60, 99)}", f"{ascii_slug(first)}{ascii_slug(last)}"]
            )  # fmt: skip
            email = self._unique_email(local, rng.choice(MAIL_PROVIDERS))
        phone = self._mobile() if rng.random() < 0.7 else f"+49{area}{rng.randint(100000, 9999999)}"
        birthday = None
        if not is_company and rng.random() < 0.6:
            birthday = date(rng.randint(1942, 2004), rng.randint(1, 12), rng.randint(1, 28))
        since = self.today - timedelta(days=rng.randint(20, 6 * 365))
        gender = "f" if female else "m"
        customer = Customer(
            brand=brand,
            number=f"{'L' if kind == 'supplier' else 'K'}-{number}",
            kind=kind,
            is_company=is_company,
            company_name=company,
            gender=gender,
            title=title,
            first_name=first,
            last_name=last,
            informal=informal,
            birthday=birthday,
            customer_since=since,
            segment=segment,
            vip=rng.random() < 0.03,
            sevdesk_id=str(4_000_000 + number) if rng.random() < 0.5 else "",
            street=street,
            postal_code=plz,
            city=city,
        )
        full = " ".join(p for p in (title, first, last) if p)
        if informal:
            salutation = f"Hallo {first}"
        else:
            salutation = f"Guten Tag {'Frau' if female else 'Herr'} {' '.join(p for p in (title, last) if p)}"
        signature = f"{full}\n{company + chr(10) if company else ''}{street}\n{plz} {city}\nTel. {format_phone(phone)}"
        return Person(
            customer=customer,
            name=full,
            email=email,
            phone=phone,
            salutation=salutation,
            signature=signature,
        )

    def create_people(self, brands: list[BrandData], conversations: int) -> None:
        total_weight = sum(b["weight"] for b in BRANDS)
        number = 10_000 + self.offset * 7 + Customer.objects.count()
        for data, spec in zip(brands, BRANDS, strict=True):
            n_customers = max(8, conversations * spec["weight"] // total_weight // 3)
            n_suppliers = min(60, max(4, conversations * spec["weight"] // total_weight // 400 + 4))
            for _ in range(n_customers):
                number += 1
                data.customers.append(self._person(data.brand, number, kind="customer"))
            for _ in range(n_suppliers):
                number += 1
                data.suppliers.append(self._person(data.brand, number, kind="supplier"))
        people = [p for d in brands for p in (*d.customers, *d.suppliers)]
        for start in range(0, len(people), self.batch_size):
            chunk = people[start : start + self.batch_size]
            created = Customer.objects.bulk_create([p.customer for p in chunk])
            points = []
            for person, customer in zip(chunk, created, strict=True):
                person.id = customer.pk
                points.append(
                    ContactPoint(
                        customer_id=customer.pk,
                        channel="email",
                        value=person.email,
                        type="work" if customer.is_company else "private",
                        verified=True,
                    )
                )
                points.append(
                    ContactPoint(
                        customer_id=customer.pk,
                        channel="phone",
                        value=person.phone,
                        type="mobile" if person.phone.startswith("+491") else "work",
                    )
                )
            ContactPoint.objects.bulk_create(points)
        self.summary.customers = sum(len(d.customers) for d in brands)
        self.summary.suppliers = sum(len(d.suppliers) for d in brands)
        self.progress(f"{len(people)} Kunden und Lieferanten angelegt")

    # -- conversations --

    def _context(self, person: Person | None, brand: BusinessEntity) -> dict[str, str]:
        rng = self.rng
        future = self.today + timedelta(days=rng.randint(2, 30))
        customer = person.customer if person else None
        year = self.today.year
        return {
            "year": str(year),
            "order": f"B-{year}-{rng.randint(10000, 99999)}",
            "invoice": f"RE-{year}-{rng.randint(1000, 9999)}",
            "quote": f"AN-{year}-{rng.randint(1000, 9999)}",
            "date": german_date(future),
            "time": rng.choice(["8:00", "9:30", "10:00", "13:00", "14:30"]),
            "product": rng.choice(PRODUCTS),
            "car": rng.choice(CARS),
            "city": customer.city if customer else rng.choice(CITIES)[1],
            "brand": brand.name,
            "domain": brand.domains[0],
            "amount": f"{rng.randint(400, 3200):,}".replace(",", ".")
            + f",{rng.choice(['00', '50', '90'])} €",
            "kw": str(rng.randint(1, 52)),
            "first": customer.first_name if customer else rng.choice(FEMALE),
            "last": customer.last_name if customer else rng.choice(LAST),
        }

    def _times(self, count: int) -> list[datetime]:
        """Message times of one thread, oldest first; 45 % end within the last 7 days."""
        rng = self.rng
        age = rng.uniform(0.01, 7) * DAY if rng.random() < 0.45 else rng.uniform(7.2, 60) * DAY
        last = self.now - timedelta(seconds=age)
        local = last.astimezone(BERLIN)
        if not 7 <= local.hour < 20:  # people write in working hours, mostly
            local = local.replace(hour=rng.randint(7, 19))
            last = min(local.astimezone(UTC), self.now - timedelta(minutes=5))
        times = [last]
        for _ in range(count - 1):
            times.append(times[-1] - timedelta(minutes=rng.randint(12, 2 * 24 * 60)))
        return [t.replace(microsecond=0) for t in reversed(times)]

    def _plan(self, data: BrandData) -> dict:
        """One conversation: kind and who talks, as plain data."""
        rng = self.rng
        roll = rng.random()
        if roll < 0.42:
            kind = "customer"
        elif roll < 0.52:
            kind = "supplier"
        elif roll < 0.58:
            kind = "internal"
        elif roll < 0.70:
            kind = "newsletter"
        elif roll < 0.75:
            kind = "advertising"
        elif roll < 0.87:
            kind = "unclassified"
        else:
            kind = "whatsapp"
        if kind == "whatsapp" and not data.brand.whatsapp_number:
            kind = "customer"
        shown = self.__dict__.setdefault("_chats_shown", set())
        if data.brand.whatsapp_number and data.brand.pk not in shown:
            kind = "whatsapp"  # every brand with a number shows a chat, however small the demo
        if kind == "whatsapp":
            shown.add(data.brand.pk)
        # SMS threads (issue 11 §2): every brand with a sender id shows one to answer
        texted = self.__dict__.setdefault("_sms_shown", set())
        if (
            data.brand.sms_sender_id
            and kind != "whatsapp"
            and (data.brand.pk not in texted or (kind == "customer" and rng.random() < 0.15))
        ):
            kind = "sms"
            texted.add(data.brand.pk)
        return {"kind": kind}

    def build_conversation(self, data: BrandData, index: int) -> tuple[Conversation, list[dict]]:
        rng = self.rng
        brand = data.brand
        kind = self._plan(data)["kind"]
        agents = data.agents
        person: Person | None = None
        messages: list[dict] = []
        conv = Conversation(brand=brand, mailbox=data.mailbox_support, channel=Channel.EMAIL)
        domain = brand.domains[0]

        def mid(n: int) -> str:
            return f"<demo.{self.seed}.{self.offset + index}.{n}@{domain}>"

        if kind in ("customer", "supplier"):
            person = rng.choice(data.customers if kind == "customer" else data.suppliers)
            ctx = self._context(person, brand)
            scenario = rng.choice(CUSTOMER_SCENARIOS if kind == "customer" else SUPPLIER_SCENARIOS)
            subject = scenario["subject"].format(**ctx)
            length = (
                rng.choice([1, 2, 2, 3, 3, 4, 5, 6, 7, 9])
                if kind == "customer"
                else rng.choice([1, 1, 2, 3])
            )
            times = self._times(length)
            attachment_at = -1
            if scenario["att"] and rng.random() < ATTACHMENT_CHANCE:
                direction = scenario["att"][0]
                attachment_at = 0 if direction == "in" else (1 if length > 1 else -1)
            agent = rng.choice(agents)
            inbound_count = outbound_count = 0
            for n, at in enumerate(times):
                att = None
                if n == attachment_at:
                    att = (
                        scenario["att"][1].format(**ctx),
                        [scenario["att"][2].format(**ctx), person.customer.company_name or person.name,
                         f"{person.customer.street}, {person.customer.postal_code} {person.customer.city}",
                         f"Datum: {german_date(at.astimezone(BERLIN).date())}", f"Betrag: {ctx['amount']}",
                         brand.legal_name],
                    )  # fmt: skip
                if n > 0 and rng.random() < 0.22:
                    messages.append(
                        self._note(
                            rng.choice(scenario["note"]).format(**ctx),
                            data,
                            at - timedelta(minutes=3),
                        )
                    )
                if n % 2 == 0:
                    body = (
                        scenario["open"]
                        if n == 0
                        else scenario["follow"][inbound_count % len(scenario["follow"])]
                    )
                    greeting = (
                        "Guten Tag," if kind == "customer" else "Sehr geehrte Damen und Herren,"
                    )
                    if kind == "supplier" and n > 0:
                        greeting = f"Hallo {agent.first_name} {agent.last_name},"
                    prefix = "" if n == 0 else "AW: "
                    inbound_count += 1
                    messages.append({
                        "kind": "in", "at": at, "subject": prefix + subject,
                        "text": f"{greeting}\n\n{body.format(**ctx)}\n\nMit freundlichen Grüßen\n{person.signature}",
                        "from": (person.name if not person.customer.is_company or kind == "customer" else person.customer.company_name, person.email),
                        "to": [brand.support_email if kind == "customer" else brand.admin_email],
                        "att": att,
                    })  # fmt: skip
                else:
                    body = scenario["reply"][outbound_count % len(scenario["reply"])]
                    outbound_count += 1
                    previous = messages[-1]["text"] if messages else ""
                    quoted = "\n".join("> " + line for line in previous.splitlines()[:6])
                    messages.append({
                        "kind": "out", "at": at, "subject": "Re: " + subject, "agent": agent,
                        "text": f"{person.salutation},\n\n{body.format(**ctx)}\n\nMit freundlichen Grüßen\n"
                        f"{agent.first_name} {agent.last_name}\nKundenservice {brand.name}\n\n"
                        f"Am {german_date(times[n - 1].astimezone(BERLIN).date())} schrieb {person.name}:\n{quoted}",
                        "from": (f"{agent.first_name} {agent.last_name} | {brand.name}",
                                 brand.support_email if kind == "customer" else brand.admin_email),
                        "to": [person.email],
                        "att": att,
                    })  # fmt: skip
            conv.customer_id = person.id
            conv.counterpart = person.email
            conv.counterpart_name = (
                person.name if kind == "customer" else (person.customer.company_name or person.name)
            )
            conv.classification = kind
            conv.related_record = ctx["order"] if "{order}" in scenario["subject"] else (
                ctx["invoice"] if "{invoice}" in scenario["subject"] else ""
            )  # fmt: skip
            conv.priority = scenario["priority"]
        elif kind == "internal":
            colleague = rng.choice(agents + [data.lead])
            other = rng.choice(agents)
            ctx = self._context(None, brand)
            subject_t, body = rng.choice(INTERNAL_SCENARIOS)
            subject = subject_t.format(**ctx)
            times = self._times(rng.choice([1, 2, 3]))
            for n, at in enumerate(times):
                author = colleague if n % 2 == 0 else other
                text = (f"Hallo {other.first_name if n % 2 == 0 else colleague.first_name},\n\n"
                        + (body.format(**ctx) if n == 0 else rng.choice(["Passt, mache ich.", "Danke, ist erledigt.",
                                                                        "Kurze Rückfrage: bis wann brauchst du das?"]))
                        + f"\n\nViele Grüße\n{author.first_name}")  # fmt: skip
                messages.append({"kind": "in", "at": at, "subject": ("" if n == 0 else "AW: ") + subject,
                                 "text": text, "from": (f"{author.first_name} {author.last_name}", author.email),
                                 "to": [brand.support_email], "att": None})  # fmt: skip
            conv.counterpart = colleague.email
            conv.counterpart_name = f"{colleague.first_name} {colleague.last_name}"
            conv.classification = Classification.INTERNAL
        elif kind == "newsletter":
            name, address, list_id = rng.choice(NEWSLETTERS)
            ctx = self._context(None, brand)
            subject = rng.choice(NEWSLETTER_SUBJECTS).format(**ctx)
            times = self._times(1)
            text = (f"{subject}\n\nLiebe Leserinnen und Leser,\n\ndiese Woche im Überblick: neue Produkte, "
                    f"Termine und Praxistipps rund um Ladeinfrastruktur. Mehr dazu auf unserer Website.\n\n"
                    f"Sie erhalten diesen Newsletter, weil Sie sich mit {brand.sales_email} angemeldet haben. "
                    f"Abmelden: https://{list_id}/abmelden")  # fmt: skip
            messages.append({"kind": "in", "at": times[0], "subject": subject, "text": text,
                             "from": (name, address), "to": [brand.sales_email], "att": None,
                             "newsletter": list_id})  # fmt: skip
            conv.counterpart = address
            conv.counterpart_name = name
            conv.classification = Classification.NEWSLETTER
            conv.priority = Priority.LOW
        elif kind == "advertising":
            name, address = rng.choice(COLD_SENDERS)
            ctx = self._context(None, brand)
            subject = rng.choice(COLD_SUBJECTS).format(**ctx)
            times = self._times(rng.choice([1, 1, 1, 2]))
            for n, at in enumerate(times):
                messages.append({"kind": "in", "at": at, "subject": ("" if n == 0 else "AW: ") + subject,
                                 "text": f"Sehr geehrte Damen und Herren,\n\n{rng.choice(COLD_BODIES).format(**ctx)}"
                                 f"\n\nBeste Grüße\n{name}", "from": (name, address),
                                 "to": [brand.sales_email], "att": None})  # fmt: skip
            conv.counterpart = address
            conv.counterpart_name = name
            conv.classification = Classification.ADVERTISING
            conv.priority = Priority.LOW
        elif kind == "unclassified":
            ctx = self._context(None, brand)
            first, last = ctx["first"], ctx["last"]
            address = self._unique_email(
                f"{ascii_slug(first)}.{ascii_slug(last)}", rng.choice(MAIL_PROVIDERS)
            )
            subject = rng.choice(UNCLASSIFIED_SUBJECTS).format(**ctx)
            times = self._times(rng.choice([1, 1, 1, 2]))
            for n, at in enumerate(times):
                messages.append({"kind": "in", "at": at, "subject": ("" if n == 0 else "AW: ") + subject,
                                 "text": f"{rng.choice(UNCLASSIFIED_BODIES).format(**ctx)}\n\nViele Grüße\n{first} {last}",
                                 "from": (f"{first} {last}", address), "to": [brand.support_email], "att": None})  # fmt: skip
            conv.counterpart = address
            conv.counterpart_name = f"{first} {last}"
        elif kind == "sms":
            known = rng.random() < 0.85
            person = rng.choice(data.customers)
            ctx = self._context(person, brand)
            phone = person.phone if known else self._mobile()
            times = self._times(rng.randint(2, 4))
            agent = rng.choice(agents)
            for n, at in enumerate(times):
                # our notice, the customer's answer; now and then our reply and theirs again
                inbound = n % 2 == 1 or n == len(times) - 1
                if n == 0:
                    text = rng.choice(SMS_OUT).format(**ctx)
                elif inbound:
                    text = rng.choice(SMS_IN)
                else:
                    text = rng.choice(SMS_OUT_ANSWERS)
                messages.append({"kind": "sms-in" if inbound else "sms-out", "at": at,
                                 "text": text, "phone": phone, "agent": agent if n else None,
                                 "from": (person.name if known else "", phone), "att": None})  # fmt: skip
            conv.channel = Channel.SMS
            conv.counterpart = phone
            conv.counterpart_name = person.name if known else ""
            subject = ""
            if known:
                conv.customer_id = person.id
                conv.classification = Classification.CUSTOMER
        else:  # whatsapp
            known = rng.random() < 0.8
            person = rng.choice(data.customers)
            ctx = self._context(person, brand)
            phone = person.phone if known else self._mobile()
            times = self._times(rng.randint(2, 10))
            agent = rng.choice(agents)
            for n, at in enumerate(times):
                inbound = n % 2 == 0 or rng.random() < 0.3
                text = rng.choice(WHATSAPP_IN if inbound else WHATSAPP_OUT).format(**ctx)
                messages.append({"kind": "wa-in" if inbound else "wa-out", "at": at, "text": text,
                                 "phone": phone, "agent": agent, "from": (person.name if known else "", phone),
                                 "att": None})  # fmt: skip
            conv.channel = Channel.WHATSAPP
            conv.counterpart = phone
            conv.counterpart_name = person.name if known else ""
            subject = ""
            if known:
                conv.customer_id = person.id
                conv.classification = Classification.CUSTOMER

        conv.subject = subject
        conv.subject_key = normalize_subject(subject)
        self._finish(conv, messages, data, mid)
        return conv, messages

    def _note(self, text: str, data: BrandData, at: datetime) -> dict:
        return {
            "kind": "note",
            "at": at,
            "text": text,
            "agent": self.rng.choice(data.agents + [data.lead]),
        }

    def _finish(self, conv: Conversation, messages: list[dict], data: BrandData, mid) -> None:
        rng = self.rng
        messages.sort(key=lambda m: m["at"])
        refs: list[str] = []
        for n, m in enumerate(messages):
            if m["kind"] in ("in", "out"):
                m["message_id"] = mid(n)
                m["in_reply_to"] = refs[-1] if refs else ""
                m["references"] = " ".join(refs[-10:])
                refs.append(m["message_id"])
        real = [m for m in messages if m["kind"] != "note"]
        inbound = [m for m in real if m["kind"] in ("in", "wa-in", "sms-in")]
        last = real[-1]  # the snippet shows the last real message, not a note
        conv.created_at = messages[0]["at"]
        conv.last_message_at = messages[-1]["at"]
        conv.last_inbound_at = inbound[-1]["at"] if inbound else None
        conv.message_count = len(messages)
        conv.snippet = snippet(last["text"])
        recent = conv.last_message_at > self.now - timedelta(days=7)
        answered = real[-1]["kind"] in ("out", "wa-out", "sms-out")
        roll = rng.random()
        if conv.classification == "":
            conv.status = Status.OPEN
            conv.unread = roll < 0.75
        elif conv.classification in (Classification.NEWSLETTER, Classification.ADVERTISING):
            conv.status = Status.OPEN if recent and roll < 0.6 else Status.ARCHIVED
            conv.unread = conv.status == Status.OPEN and rng.random() < 0.7
        elif answered:
            conv.status = Status.PENDING if recent or roll < 0.3 else Status.CLOSED
            conv.unread = False
        else:
            if recent:
                conv.status = Status.OPEN
            else:
                conv.status = rng.choice(
                    [Status.OPEN, Status.CLOSED, Status.CLOSED, Status.ARCHIVED]
                )
            conv.unread = conv.status == Status.OPEN and rng.random() < (0.7 if recent else 0.25)
        if conv.priority == Priority.NORMAL:
            roll = rng.random()
            conv.priority = Priority.URGENT if roll < 0.04 else Priority.HIGH if roll < 0.15 else (
                Priority.LOW if roll < 0.25 else Priority.NORMAL
            )  # fmt: skip
        if conv.classification in ("customer", "supplier", "") and rng.random() < 0.6:
            conv.assignee = rng.choice(data.agents + [data.lead])
        if (
            conv.last_inbound_at
            and not answered
            and conv.status == Status.OPEN
            and conv.classification in REPLY_OWED_CLASSIFICATIONS
        ):
            # due only where a reply is owed (ConversationQuerySet.owing_reply), as on ingest
            hours = (
                settings.SLA_HOURS_WHATSAPP
                if conv.channel == Channel.WHATSAPP
                else settings.SLA_HOURS.get(conv.priority, 24)
            )
            conv.response_due_at = conv.last_inbound_at + timedelta(hours=hours)
        conv.classified_automatically = conv.classification in ("newsletter", "advertising") or (
            conv.classification in ("customer", "supplier", "internal") and rng.random() < 0.7
        )

    # -- rows --

    def _message_row(self, conv: Conversation, m: dict) -> Message:
        kind = m["kind"]
        at = m["at"]
        if kind == "note":
            agent = m["agent"]
            return Message(
                conversation_id=conv.pk, channel=Channel.NOTE, direction=Direction.OUTBOUND,
                is_internal_note=True, author=agent, sender_name=f"{agent.first_name} {agent.last_name}",
                text=m["text"], created_at=at,
            )  # fmt: skip
        if kind in ("sms-in", "sms-out"):
            inbound = kind == "sms-in"
            agent = m["agent"]
            sender = conv.brand.sms_sender_id
            return Message(
                conversation_id=conv.pk, channel=Channel.SMS,
                direction=Direction.INBOUND if inbound else Direction.OUTBOUND,
                author=None if inbound else agent,
                sender_name=m["from"][0] if inbound else (
                    f"{agent.first_name} {agent.last_name}" if agent else conv.brand.name
                ),
                sender_address=m["phone"] if inbound else sender,
                to=[sender if inbound else m["phone"]], text=m["text"],
                provider_id=f"sms.demo{self.seed}x{conv.pk}x{at.timestamp():.0f}",
                status=Message.State.RECEIVED if inbound else Message.State.DELIVERED,
                sent_at=at, created_at=at,
            )  # fmt: skip
        if kind in ("wa-in", "wa-out"):
            inbound = kind == "wa-in"
            agent = m["agent"]
            return Message(
                conversation_id=conv.pk, channel=Channel.WHATSAPP,
                direction=Direction.INBOUND if inbound else Direction.OUTBOUND,
                author=None if inbound else agent,
                sender_name=m["from"][0] if inbound else f"{agent.first_name} {agent.last_name}",
                sender_address=m["phone"] if inbound else conv.brand.whatsapp_number,
                to=[conv.brand.whatsapp_number if inbound else m["phone"]], text=m["text"],
                provider_id=f"wamid.demo{self.seed}x{conv.pk}x{at.timestamp():.0f}",
                status=Message.State.RECEIVED if inbound else Message.State.DELIVERED,
                sent_at=at, created_at=at,
            )  # fmt: skip
        inbound = kind == "in"
        name, address = m["from"]
        headers = [
            ["From", f"{name} <{address}>"],
            ["To", ", ".join(m["to"])],
            ["Subject", m["subject"]],
            ["Date", at.astimezone(BERLIN).strftime("%a, %d %b %Y %H:%M:%S %z")],
            ["Message-ID", m["message_id"]],
        ]
        if m.get("in_reply_to"):
            headers.append(["In-Reply-To", m["in_reply_to"]])
        html = ""
        if m.get("newsletter"):
            list_id = m["newsletter"]
            headers += [
                ["List-Id", f"<newsletter.{list_id}>"],
                [
                    "List-Unsubscribe",
                    f"<https://{list_id}/abmelden?u=demo>, <mailto:abmelden@{list_id}>",
                ],
                ["List-Unsubscribe-Post", "List-Unsubscribe=One-Click"],
                ["Precedence", "bulk"],
            ]
            paragraphs = "".join(f"<p>{line}</p>" for line in m["text"].split("\n\n"))
            html = (f'<div style="max-width:600px;font-family:Arial"><h1>{m["subject"]}</h1>'
                    f'<img data-remote-src="https://{list_id}/banner.png" alt="Banner">{paragraphs}'
                    f'<p><a href="https://{list_id}/abmelden">Abmelden</a></p></div>')  # fmt: skip
        return Message(
            conversation_id=conv.pk, channel=Channel.EMAIL,
            direction=Direction.INBOUND if inbound else Direction.OUTBOUND,
            author=None if inbound else m["agent"], sender_name=name, sender_address=address,
            to=m["to"], subject=m["subject"], text=m["text"], html=html,
            has_remote_images=bool(html), headers=headers, message_id=m["message_id"],
            in_reply_to=m["in_reply_to"], references=m["references"],
            status=Message.State.RECEIVED if inbound else self.rng.choice(
                [Message.State.DELIVERED, Message.State.OPENED, Message.State.SENT]),
            sent_at=at, created_at=at,
        )  # fmt: skip

    def create_conversations(self, brands: list[BrandData], total: int) -> None:
        rng = self.rng
        weights = [spec["weight"] for spec in BRANDS]
        done = 0
        started = time.monotonic()
        while done < total:
            size = min(self.batch_size, total - done)
            built = []
            for i in range(size):
                data = rng.choices(brands, weights)[0]
                built.append(self.build_conversation(data, done + i))
            convs = Conversation.objects.bulk_create([c for c, _m in built])
            rows: list[Message] = []
            specs: list[dict] = []
            changes: list[ClassificationChange] = []
            for conv, messages in built:
                for m in messages:
                    rows.append(self._message_row(conv, m))
                    specs.append(m)
                if conv.classification:
                    auto = conv.classified_automatically
                    changes.append(
                        ClassificationChange(
                            conversation_id=conv.pk,
                            to_classification=conv.classification,
                            to_customer_id=conv.customer_id,
                            automatic=auto,
                            reason="Absenderregel (Domain)" if auto and conv.classification == "newsletter"
                            else ("bekannter Kontakt" if auto else ""),
                            changed_by=None if auto else conv.assignee,
                            changed_at=min(self.now, conv.created_at + timedelta(minutes=0 if auto else 47)),
                        )
                    )  # fmt: skip
            created = Message.objects.bulk_create(rows, batch_size=self.batch_size)
            attachments: list[Attachment] = []
            status_rows: list[StatusChange] = []
            for message, m in zip(created, specs, strict=True):
                if m.get("att"):
                    filename, lines = m["att"]
                    data = tiny_pdf(lines)
                    sha, name = store_attachment_bytes(data)
                    attachments.append(
                        Attachment(
                            message_id=message.pk, file=name, filename=filename,
                            content_type="application/pdf", size=len(data), sha256=sha,
                        )
                    )  # fmt: skip
                if message.direction == Direction.OUTBOUND and message.status:
                    status_rows.append(
                        StatusChange(message_id=message.pk, status="sent", at=m["at"])
                    )
                    if message.status in ("delivered", "opened"):
                        status_rows.append(
                            StatusChange(message_id=message.pk, status="delivered", at=m["at"] + timedelta(seconds=4))
                        )  # fmt: skip
            Attachment.objects.bulk_create(attachments, batch_size=self.batch_size)
            StatusChange.objects.bulk_create(status_rows, batch_size=self.batch_size)
            ClassificationChange.objects.bulk_create(changes, batch_size=self.batch_size)
            done += size
            self.summary.conversations += len(convs)
            self.summary.messages += len(created)
            self.summary.attachments += len(attachments)
            if done % (self.batch_size * 10) == 0 or done == total:
                rate = done / max(time.monotonic() - started, 0.001)
                self.progress(f"{done}/{total} Konversationen ({rate:.0f}/s)")


def seed_demo(
    *,
    conversations: int = 600,
    seed: int = 42,
    batch_size: int = 2000,
    progress: Callable[[str], None] | None = None,
) -> DemoSummary:
    """Create the demo data in one transaction; appends when conversations exist already."""
    started = time.monotonic()
    offset = Conversation.objects.count()
    generator = DemoGenerator(seed=seed, offset=offset, batch_size=batch_size, progress=progress)
    with transaction.atomic():
        brands = generator.setup_brands()
        generator.create_people(brands, conversations)
        generator.create_conversations(brands, conversations)
    generator.summary.seconds = time.monotonic() - started
    return generator.summary
