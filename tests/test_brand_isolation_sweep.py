"""The brand-isolation sweep: every registered admin and every URL, as staff of brand A
against the objects of brand B.

Nothing here names a view or an admin one by one where it can walk them instead:
- every ``admin.site._registry`` entry must be a BrandScopedAdmin with a declared scope
  (or a superuser-only admin whose permissions no role holds), with scoped inlines;
- for each of them: changelist (plain and as a raw-id popup with ``_to_field``), change
  GET and POST, delete GET and POST, history, every action, the autocomplete view of every
  relation, an add and a change of brand A's own object with each related field pointed
  at brand B's object (the field must carry the error);
- every URL pattern of the project (the resolver is walked) must be classified below:
  scoped ones are requested with brand B's objects, public ones need a written reason;
- after all that the database must be exactly as before (rows of every model of our
  apps, the admin log and the task queue).

A new model, admin, inline or URL fails this test until it is scoped and listed here.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest
from django import forms
from django.apps import apps
from django.contrib import admin
from django.contrib.admin.models import LogEntry
from django.contrib.admin.widgets import RelatedFieldWidgetWrapper
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.contrib.contenttypes.models import ContentType
from django.core.files.base import ContentFile
from django.test import RequestFactory
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import translation

from compliance.models import AuditEntry, ChannelPreference, Consent, Suppression
from compliance.services import Actor, audit
from conversations.models import (
    Attachment,
    ClassificationChange,
    Conversation,
    ConversationChange,
    InboxSettings,
    Mailbox,
    Message,
    RawEmail,
    SenderModel,
    SenderRule,
    StatusChange,
    WebhookDelivery,
)
from kommunikation.admin_scoping import UNDECLARED, BrandScopedAdmin, BrandScopedInline
from kommunikation.automation.availability import Absence, OpeningHours
from kommunikation.automation.models import (
    AutomationRule,
    PlannedState,
    PlannedStep,
    RuleRun,
    RuleStep,
)
from kommunikation.calls.models import CallTask
from kommunikation.events.services import record_event
from kommunikation.letters.models import Letter, LetterConnection, PrintBatch
from kommunikation.models import (
    BusinessEntity,
    ContactPoint,
    Customer,
    Event,
    EventSource,
    OutboundMessage,
    PushConnection,
    SevdeskConnection,
    WhatsAppNumber,
)
from kommunikation.outbox import enqueue_outbound
from kommunikation.roles import ADMIN, AGENT, ROLES, TEAM_LEAD
from templates_app.models import MessageTemplate, TemplateVariant, TemplateVersion
from tests.factories import (
    BrandFactory,
    ConversationFactory,
    CustomerFactory,
    MessageFactory,
    SenderRuleFactory,
    UserFactory,
)
from tests.templates_app.conftest import make_template

pytestmark = pytest.mark.django_db

User = get_user_model()

# Registered admins that are not brand-scoped. Allowed only because no role holds any of
# their permissions, so only superusers reach them (the sweep checks both).
SUPERUSER_ONLY = {
    "auth.user": "staff accounts and their brands are managed by superusers",
    "auth.group": "the roles are kept in code (kommunikation.roles) and synced",
    "django_q.schedule": "the schedules are kept in config/schedules.py and synced",
    "django_q.success": "task results of the worker; system data",
    "django_q.failure": "task failures of the worker; system data",
    "django_q.ormq": "the task queue; system data",
}

# Views anyone may reach without a staff login, each with its reason.
PUBLIC_URLS = {
    "login": "the login form",
    "logout": "ends the caller's own session",
    "set_language": "stores the chosen language in a cookie",
    "compliance:preferences": "customer's preference page; the customer is in a signed token",
    "compliance:unsubscribe": "RFC 8058 one-click unsubscribe; signed token",
    "compliance:confirm": "double opt-in confirmation; signed, expiring token",
    "tracking_open": "tracking pixel; signed token naming the outbox row",
    "tracking_click": "tracked link; signed token naming the outbox row and target",
    "tracking_invite": "tracked WhatsApp invite; signed token naming the outbox row",
    "attachment_inline": "inline image of a sanitised mail; signed, expiring token",
    "api_events": "event API; Standard Webhooks signature of the source (its brand only)",
    "api_events_batch": "event API (batch); Standard Webhooks signature of the source",
    "api_openapi": "the event API's OpenAPI document; no data",
    "api_devices": "push device registration; Standard Webhooks signature of the source",
    "api_devices_retire": "push device retirement; Standard Webhooks signature of the source",
    "pingen_webhook": "Pingen's status callbacks; HMAC signature with the brand's signing key",
    "whatsapp_webhook": "Meta's webhook; X-Hub-Signature-256 with the brand's app secret",
    "sms_webhook_messagebird": "MessageBird's callbacks; MessageBird-Signature-JWT (signing key)",
    "sms_webhook_sevenio": "seven.io's callbacks; the brand's secret in the URL",
}
# anymail's inbound and tracking webhooks, authenticated by the ESP's basic-auth secret
PUBLIC_URL_NAMES = re.compile(r"^[a-z_]+_(inbound|tracking)_webhook$")

# The admin site's own pages (not per model) and the default pages of every model admin.
ADMIN_SITE_URLS = {
    "index",
    "login",
    "logout",
    "password_change",
    "password_change_done",
    "autocomplete",
    "jsi18n",
    "view_on_site",
    "app_list",
    None,  # the final catch-all: redirects to the login or answers 404
}
ADMIN_MODEL_URL_SUFFIXES = ("_changelist", "_add", "_history", "_delete", "_change")

ROLES_UNDER_TEST = [AGENT, TEAM_LEAD, ADMIN]


# --- the world: one complete object graph per brand ------------------------------------


def build_world(brand: BusinessEntity, tag: str) -> dict:
    """One object of every model an admin or URL can reach, all of ``brand``."""
    staff = UserFactory(username=f"kollegin.{tag}", brands=[brand])
    customer = CustomerFactory(brand=brand, last_name=f"Kundin{tag}", email=f"kundin@{tag}.example")
    contact = customer.contact_points.get()
    mailbox = Mailbox.objects.create(
        brand=brand, name=f"Support {tag}", address=f"support@{tag}.example"
    )
    raw = RawEmail.objects.create(
        brand=brand,
        mailbox=mailbox,
        message_id=f"<raw@{tag}.example>",
        sha256=tag * 8,
        content_hash=tag * 8,
        data=b"Subject: x\r\n\r\nx",
        size=14,
    )
    conversation = ConversationFactory(
        brand=brand,
        customer=customer,
        mailbox=mailbox,
        subject=f"Vertraulich {tag}",
        assignee=staff,
    )
    message = MessageFactory(conversation=conversation, raw=raw, author=staff)
    attachment = Attachment.objects.create(
        message=message,
        file=ContentFile(b"%PDF", name="rechnung.pdf"),
        filename="rechnung.pdf",
        content_type="application/pdf",
        size=4,
        sha256=(tag * 64)[:64],
    )
    status = StatusChange.objects.create(message=message, status=Message.State.RECEIVED)
    change = ClassificationChange.objects.create(
        conversation=conversation,
        to_classification="customer",
        to_customer=customer,
        changed_by=staff,
        batch=uuid.uuid4(),
    )
    conversation_change = ConversationChange.objects.create(
        conversation=conversation, field="status", from_value="open", to_value="archived",
        changed_by=staff, batch=uuid.uuid4(),
    )  # fmt: skip
    rule = SenderRuleFactory(brand=brand, customer=customer, pattern=f"info@{tag}.example")
    outbound = enqueue_outbound(
        brand=brand,
        channels="email",
        category="transactional",
        idempotency_key=f"sweep-{tag}",
        source="reply",
        customer=customer,
        subject=f"Antwort {tag}",
        text="Guten Tag",
        conversation=conversation,
        message=message,
        created_by=staff,
        trigger=False,
    )
    template = make_template(
        key=f"sweep_{tag}", brand=brand, subject="Bestellung {{ order_number }}", text="Hallo"
    )
    variant = template.variants.get()
    consent = Consent.objects.create(
        customer=customer, purpose="marketing", channel="email", state="granted", source="staff"
    )
    preference = ChannelPreference.objects.create(
        customer=customer, channel="email", category="marketing", allowed=True
    )
    suppression = Suppression.objects.create(
        channel="email", value=contact.value, reason="hard_bounce"
    )
    entry = audit(actor=Actor(label="Test"), action="sweep", obj=consent, customer_id=customer.pk)
    delivery = WebhookDelivery.objects.create(
        esp="postmark", kind="inbound", brand=brand, body=b"{}", body_sha256=tag * 32, size=2
    )
    source = EventSource.objects.create(brand=brand, name=f"ERP {tag}", slug=f"erp-{tag}")
    event, _created = record_event(
        brand=brand, customer=customer, type="payment.received", source=source.event_source,
        source_key=f"pay-{tag}", occurred_at=dt.datetime(2026, 1, 5, 9, 0, tzinfo=dt.UTC),
        payload={"invoice_number": f"RE-{tag}", "amount": "10", "payment_date": "2026-01-05"},
        record_id=f"inv-{tag}",
    )  # fmt: skip
    automation = AutomationRule.objects.create(
        brand=brand, key=f"thanks-{tag}", name=f"Dank {tag}", event_type="payment.received",
        category="transactional",
    )  # fmt: skip
    step = RuleStep.objects.create(rule=automation, template_key=f"sweep_{tag}", channels=["email"])
    run = RuleRun.objects.create(
        event=event, rule=automation, rule_key=automation.key, matched=True
    )
    PlannedStep.objects.create(
        run=run, step=step, position=0, brand=brand, customer=customer,
        template_key=step.template_key, channels=["email"], state=PlannedState.SKIPPED,
        reason="Sweep",
    )  # fmt: skip
    sevdesk = SevdeskConnection.objects.create(brand=brand, token=f"token-{tag}")
    whatsapp = WhatsAppNumber.objects.create(
        brand=brand, display_number="+31612345679", phone_number_id=f"wa-{tag}",
        access_token=f"wa-token-{tag}", app_secret=f"wa-secret-{tag}",
    )  # fmt: skip
    sender_model = SenderModel.objects.create(brand=brand, auto_apply_percent=95)
    substitute = UserFactory(username=f"vertretung.{tag}", brands=[brand])
    customer.owner = staff
    customer.save(update_fields=["owner"])
    hours = OpeningHours.objects.create(
        brand=brand, weekday=0, opens=dt.time(8), closes=dt.time(17)
    )
    absence = Absence.objects.create(
        brand=brand, user=staff, substitute=substitute, note=f"Urlaub {tag}",
        starts_at=dt.datetime(2026, 1, 5, 8, 0, tzinfo=dt.UTC),
        ends_at=dt.datetime(2026, 1, 9, 17, 0, tzinfo=dt.UTC),
    )  # fmt: skip
    # letters (issue 11 §3): the brand's connection, a letter in a print batch
    letter_connection = LetterConnection.objects.create(
        brand=brand, mode="pingen", client_id=f"client-{tag}", client_secret=f"secret-{tag}"
    )
    letter_outbound = enqueue_outbound(
        brand=brand, channels="letter", category="transactional", idempotency_key=f"brief-{tag}",
        source="rule", customer=customer, subject=f"Brief {tag}", text="Guten Tag", trigger=False,
    )  # fmt: skip
    print_batch = PrintBatch.objects.create(
        brand=brand, day=dt.date(2026, 1, 5), created_by=staff, letter_count=1, page_count=2,
        file=ContentFile(b"%PDF", name=f"druckstapel-{tag}.pdf"),
        created_at=dt.datetime(2026, 1, 5, 15, 0, tzinfo=dt.UTC),
    )  # fmt: skip
    letter = Letter.objects.create(
        brand=brand, outbound=letter_outbound, mode="selfprint", status="sent",
        pdf=ContentFile(b"%PDF", name=f"brief-{tag}.pdf"), recipient=f"Kundin{tag}",
        subject=f"Brief {tag}", batch=print_batch,
        created_at=dt.datetime(2026, 1, 5, 9, 0, tzinfo=dt.UTC),
        status_at=dt.datetime(2026, 1, 5, 15, 0, tzinfo=dt.UTC),
    )  # fmt: skip
    inbox_settings = InboxSettings.objects.create(user=staff, read_delay_ms=500)
    # call tasks (issue 11 §4): a call planned for the customer, in the thread
    phone = ContactPoint.objects.create(customer=customer, channel="phone", value="+4915112345678")
    call_outbound = enqueue_outbound(
        brand=brand, channels=["call", "email"], category="service",
        idempotency_key=f"anruf-{tag}", source="rule", customer=customer,
        text=f"Anruf {tag}", trigger=False,
    )  # fmt: skip
    call_task = CallTask.objects.create(
        brand=brand, outbound=call_outbound, customer=customer, contact_point=phone,
        conversation=conversation, message=message, phone=phone.value, topic=f"Anruf {tag}",
        script=f"Leitfaden {tag}", due_at=dt.datetime(2026, 1, 5, 9, 0, tzinfo=dt.UTC),
        assignee=staff,
    )  # fmt: skip
    # push (issue 11 §5): the brand's Firebase project
    push = PushConnection.objects.create(brand=brand, project_id=f"app-{tag}")
    return {
        CallTask: call_task,
        PushConnection: push,
        LetterConnection: letter_connection,
        Letter: letter,
        PrintBatch: print_batch,
        InboxSettings: inbox_settings,
        SenderModel: sender_model,
        OpeningHours: hours,
        Absence: absence,
        Event: event,
        EventSource: source,
        AutomationRule: automation,
        RuleRun: run,
        User: staff,
        BusinessEntity: brand,
        Customer: customer,
        ContactPoint: contact,
        Mailbox: mailbox,
        RawEmail: raw,
        Conversation: conversation,
        Message: message,
        Attachment: attachment,
        StatusChange: status,
        ClassificationChange: change,
        ConversationChange: conversation_change,
        SenderRule: rule,
        OutboundMessage: outbound,
        MessageTemplate: template,
        TemplateVariant: variant,
        TemplateVersion: variant.active_version,
        Consent: consent,
        ChannelPreference: preference,
        Suppression: suppression,
        AuditEntry: entry,
        WebhookDelivery: delivery,
        SevdeskConnection: sevdesk,
        WhatsAppNumber: whatsapp,
    }


SNAPSHOT_APPS = {"kommunikation", "conversations", "templates_app", "compliance", "django_q"}


def snapshot() -> dict:
    """Every row of our apps, the admin log and the task queue."""
    models = [m for m in apps.get_models() if m._meta.app_label in SNAPSHOT_APPS] + [LogEntry]
    return {
        m._meta.label: [
            {k: bytes(v) if isinstance(v, memoryview) else v for k, v in row.items()}
            for row in m._default_manager.order_by("pk").values()
        ]
        for m in models
    }


def changed_tables(before: dict, after: dict) -> list[str]:
    return [label for label in before if before[label] != after[label]]


# --- personas --------------------------------------------------------------------------


@pytest.fixture
def worlds(db):
    brand_a = BrandFactory(name="LaderThuis", slug="laderthuis", domains=["laderthuis.nl"])
    brand_b = BrandFactory(name="ZaptecShop", slug="zaptecshop", domains=["zaptecshop.nl"])
    return build_world(brand_a, "aa"), build_world(brand_b, "bb")


@pytest.fixture
def superuser(db):
    return UserFactory(username="root", is_superuser=True)


def persona(role: str, brand) -> User:
    return UserFactory(
        username=f"{role.lower()}.a",
        email=f"{role.lower()}@laderthuis.nl",
        brands=[brand],
        roles=[role],
    )


# --- building admin POST data from a form ------------------------------------------------


def _request_as(user):
    request = RequestFactory().get("/admin/")
    request.user = user
    return request


def form_data(model_admin, superuser, obj, *, change: bool) -> dict:
    """The POST data of the admin form for ``obj`` as it stands (initial values)."""
    request = _request_as(superuser)
    form_class = model_admin.get_form(request, obj if change else None, change=change)
    form = form_class(instance=obj)
    data: dict = {}
    with translation.override("de"):
        for name, form_field in form.fields.items():
            value = form[name].value()
            widget = form_field.widget
            if isinstance(widget, RelatedFieldWidgetWrapper):
                widget = widget.widget
            if isinstance(form_field, forms.FileField):
                continue
            if isinstance(widget, forms.MultiWidget):
                parts = value if isinstance(value, list | tuple) else widget.decompress(value)
                for i, (sub, part) in enumerate(zip(widget.widgets, parts, strict=False)):
                    data[f"{name}_{i}"] = sub.format_value(part) or ""
            elif isinstance(form_field, forms.ModelMultipleChoiceField):
                data[name] = [str(getattr(v, "pk", v)) for v in value or []]
            elif isinstance(form_field, forms.BooleanField):
                if value:
                    data[name] = "on"
            elif isinstance(value, dt.date | dt.datetime | dt.time):
                data[name] = widget.format_value(value)
            else:
                data[name] = "" if value is None else str(value)
    for formset, _inline in model_admin.get_formsets_with_inlines(request, obj if change else None):
        prefix = formset.get_default_prefix()
        data.update({f"{prefix}-TOTAL_FORMS": "0", f"{prefix}-INITIAL_FORMS": "0"})
    return data


def relation_fields(model_admin, superuser, obj, world: dict) -> list[tuple[str, object]]:
    """(form field, the other brand's object of its model) for each related field in the form."""
    form_class = model_admin.get_form(_request_as(superuser), obj, change=obj is not None)
    result = []
    for name, form_field in form_class.base_fields.items():
        if isinstance(form_field, forms.ModelChoiceField):
            result.append((name, world.get(form_field.queryset.model)))
    return result


def form_errors(response) -> dict:
    context = response.context
    if context is None or "adminform" not in context:
        return {}
    form = context["adminform"].form
    return {**form.errors, "__all__": form.non_field_errors()}


# --- the admin sweep ---------------------------------------------------------------------


@dataclass
class Findings:
    problems: list[str] = field(default_factory=list)

    def add(self, message: str) -> None:
        self.problems.append(message)


def _refused(response, index_url: str) -> bool:
    """Not shown, not done: 403/404, or the admin's redirect to its index."""
    if response.status_code in (403, 404):
        return True
    return response.status_code == 302 and response.url == index_url


def sweep_admin(client, user, superuser, world_a: dict, world_b: dict, found: Findings) -> None:
    index_url = reverse("admin:index")
    role_perms = Permission.objects.filter(group__name__in=ROLES)
    for model, model_admin in admin.site._registry.items():
        opts = model._meta
        name = f"{opts.app_label}_{opts.model_name}"
        changelist = reverse(f"admin:{name}_changelist")

        if opts.label_lower in SUPERUSER_ONLY:
            if isinstance(model_admin, BrandScopedAdmin):
                found.add(f"{opts.label}: scoped, remove it from SUPERUSER_ONLY")
            held = role_perms.filter(content_type=ContentType.objects.get_for_model(model))
            if held.exists():
                found.add(f"{opts.label}: not brand-scoped, but a role holds {list(held)}")
            if client.get(changelist).status_code != 403:
                found.add(f"{opts.label}: superuser-only admin answers {user} with a page")
            continue

        if not isinstance(model_admin, BrandScopedAdmin):
            found.add(f"{opts.label}: {type(model_admin).__name__} is not a BrandScopedAdmin")
        own_scope = getattr(type(model_admin), "scope_queryset", None) is not getattr(
            BrandScopedAdmin, "scope_queryset", None
        )
        brand_path = getattr(model_admin, "brand_path", UNDECLARED)
        if brand_path is UNDECLARED or (brand_path is None and not own_scope):
            found.add(f"{opts.label}: declares no brand_path / scope_queryset")
        for inline in model_admin.inlines:
            if (
                not issubclass(inline, BrandScopedInline)
                or getattr(inline, "brand_path", UNDECLARED) is UNDECLARED
            ):
                found.add(
                    f"{opts.label}: inline {inline.__name__} is not a scoped BrandScopedInline"
                )
        if model not in world_b:
            found.add(f"{opts.label}: no object in build_world(); add one so the sweep can try it")
            continue
        theirs, ours = world_b[model], world_a[model]
        pk = str(theirs.pk)

        # lists, plain and as the raw-id popup
        for query in ({}, {"_to_field": opts.pk.attname, "_popup": "1"}):
            response = client.get(changelist, query)
            if response.status_code == 200:
                if response.context["cl"].queryset.filter(pk=theirs.pk).exists():
                    found.add(f"{opts.label}: changelist {query} lists brand B's row")
            elif response.status_code != 403:
                found.add(f"{opts.label}: changelist answers {response.status_code}")

        # the object's own pages
        change_url = reverse(f"admin:{name}_change", args=[pk])
        delete_url = reverse(f"admin:{name}_delete", args=[pk])
        history_url = reverse(f"admin:{name}_history", args=[pk])
        data = form_data(model_admin, superuser, theirs, change=True)
        requests = [
            ("GET", change_url, None),
            ("POST", change_url, data),
            ("GET", delete_url, None),
            ("POST", delete_url, {"post": "yes"}),
            ("GET", history_url, None),
        ]
        for method, url, body in requests:
            response = client.get(url) if method == "GET" else client.post(url, body)
            if not _refused(response, index_url):
                found.add(f"{opts.label}: {method} {url} answers {response.status_code}")

        # every action on brand B's row
        for action in model_admin.get_actions(_request_as(superuser)):
            client.post(
                changelist,
                {"action": action, "_selected_action": [pk], "index": "0", "post": "yes"},
            )

        # add / change brand A's own object with one related field pointed at brand B
        for change, obj in ((False, ours), (True, ours)):
            url = (
                reverse(f"admin:{name}_change", args=[ours.pk])
                if change
                else reverse(f"admin:{name}_add")
            )
            base = form_data(model_admin, superuser, obj, change=change)
            for field_name, foreign in relation_fields(model_admin, superuser, obj, world_b):
                if foreign is None:
                    found.add(f"{opts.label}.{field_name}: no related object in build_world()")
                    continue
                value = base.get(field_name)
                posted = {
                    **base,
                    field_name: [str(foreign.pk)] if isinstance(value, list) else str(foreign.pk),
                }
                response = client.post(url, posted)
                if response.status_code == 403:
                    continue
                if response.status_code != 200 or field_name not in form_errors(response):
                    found.add(
                        f"{opts.label}: {'change' if change else 'add'} accepted brand B's "
                        f"{type(foreign).__name__} in {field_name} ({response.status_code})"
                    )

        # autocomplete for every relation of the model
        for model_field in opts.get_fields():
            if not (
                model_field.is_relation and model_field.concrete and not model_field.auto_created
            ):
                continue
            remote = model_field.related_model
            if remote not in admin.site._registry or not admin.site._registry[remote].search_fields:
                continue
            response = client.get(
                reverse("admin:autocomplete"),
                {
                    "app_label": opts.app_label,
                    "model_name": opts.model_name,
                    "field_name": model_field.name,
                    "term": "",
                },
            )
            if response.status_code == 200:
                ids = {r["id"] for r in response.json()["results"]}
                if remote in world_b and str(world_b[remote].pk) in ids:
                    found.add(f"{opts.label}.{model_field.name}: autocomplete offers brand B's row")
            elif response.status_code not in (403, 404):
                found.add(f"{opts.label}.{model_field.name}: autocomplete {response.status_code}")

        # admin URLs beyond the default ones
        for pattern in model_admin.get_urls():
            url_name = getattr(pattern, "name", None)
            if url_name is None or url_name.endswith(ADMIN_MODEL_URL_SUFFIXES):
                continue
            spec = ADMIN_EXTRA_URLS.get(url_name)
            if spec is None:
                found.add(f"admin:{url_name}: unknown admin URL; add it to ADMIN_EXTRA_URLS")
                continue
            for method, url, body in spec(world_a, world_b):
                response = client.get(url) if method == "GET" else client.post(url, body)
                if response.status_code not in (403, 404):
                    found.add(f"admin:{url_name}: {method} {url} answers {response.status_code}")

    # the site's own pages: only those Django defines
    for pattern in admin.site.get_urls():
        if isinstance(pattern, URLPattern) and pattern.name not in ADMIN_SITE_URLS:
            found.add(f"admin:{pattern.name}: unknown admin site URL")
    for model, obj in world_b.items():
        content_type = ContentType.objects.get_for_model(model)
        response = client.get(reverse("admin:view_on_site", args=[content_type.pk, obj.pk]))
        if response.status_code != 404:
            found.add(f"admin view_on_site {model._meta.label}: {response.status_code}")


def _preview(world_a, world_b):
    url = reverse("admin:templates_app_preview")
    template = world_b[MessageTemplate]
    body = {
        "object_id": str(template.pk),
        "event_type": template.event_type,
        "channel": "email",
        "language": "de",
        "brand": str(world_b[BusinessEntity].pk),
        "subject": "Test",
        "text": "Hallo",
    }
    return [("POST", url, body), ("POST", url, {**body, "test_send": "1"})]


def _version_urls(world_a, world_b):
    template, version = world_b[MessageTemplate], world_b[TemplateVersion]
    args = [template.pk, version.pk]
    # and brand A's template with brand B's version
    mixed = [world_a[MessageTemplate].pk, version.pk]
    return [
        ("GET", reverse("admin:templates_app_version_diff", args=args), None),
        ("POST", reverse("admin:templates_app_version_restore", args=args), {}),
        ("GET", reverse("admin:templates_app_version_diff", args=mixed), None),
        ("POST", reverse("admin:templates_app_version_restore", args=mixed), {}),
    ]


ADMIN_EXTRA_URLS: dict[str, Callable] = {
    "templates_app_preview": _preview,
    "templates_app_version_diff": _version_urls,
    "templates_app_version_restore": lambda a, b: [],  # requested by _version_urls
}


# --- the URL sweep -----------------------------------------------------------------------


def walk(patterns, prefix: str = "", namespace: str = ""):
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            if str(pattern.pattern) == "admin/":
                continue  # the admin sweep covers it
            ns = f"{namespace}{pattern.namespace}:" if pattern.namespace else namespace
            yield from walk(pattern.url_patterns, prefix + str(pattern.pattern), ns)
        else:
            yield f"{namespace}{pattern.name}" if pattern.name else prefix + str(pattern.pattern)


def _conversation_writes(w):
    pk = w[Conversation].pk
    return [
        ("POST", reverse("conversation_assign", args=[pk]), {"assignee": "ich"}),
        ("POST", reverse("conversation_status", args=[pk]), {"status": "closed"}),
        ("POST", reverse("conversation_priority", args=[pk]), {"priority": "urgent"}),
        ("POST", reverse("conversation_unread", args=[pk]), {}),
        ("POST", reverse("conversation_note", args=[pk]), {"text": "eingeschleust"}),
        ("POST", reverse("conversation_reply", args=[pk]), {"text": "eingeschleust"}),
        ("POST", reverse("conversation_whatsapp_reply", args=[pk]), {"text": "eingeschleust"}),
        ("POST", reverse("conversation_sms_reply", args=[pk]), {"text": "eingeschleust"}),
        ("POST", reverse("conversation_snooze", args=[pk]), {"wann": "morgen"}),
    ]


@dataclass(frozen=True)
class Scoped:
    """Requests with brand B's objects (and A's objects linked to B's): must answer 4xx.

    Sent as HTMX requests, which the inbox answers with a status (a plain request that is
    refused is redirected back to the page with the error)."""

    requests: Callable


@dataclass(frozen=True)
class Filtered:
    """A bulk action whose selection is filtered to the user's brands: may answer anything
    but a 5xx; the unchanged database is the assertion."""

    requests: Callable


@dataclass(frozen=True)
class Listing:
    """A list or search of the user's brands: must not show brand B's marker."""

    requests: Callable
    marker: Callable


URLS: dict[str, Scoped | Filtered | Listing] = {
    "inbox": Listing(
        lambda a, b: [("GET", "/", None), ("GET", f"/?marke={b[BusinessEntity].pk}", None)],
        lambda b: b[Conversation].subject,
    ),
    "inbox_counts": Listing(
        lambda a, b: [("GET", reverse("inbox_counts"), None)], lambda b: "Vertraulich bb"
    ),
    "customer_search": Listing(
        lambda a, b: [
            ("GET", reverse("customer_search"), {"q": "Kundin"}),
            ("GET", reverse("customer_search"), {"q": "bb.example", "marke": b[BusinessEntity].pk}),
        ],
        lambda b: b[Customer].last_name,
    ),
    "classify_count": Listing(
        lambda a, b: [
            ("GET", reverse("classify_count"), {"scope": "auswahl", "ids": str(b[Conversation].pk)})
        ],
        lambda b: "1",
    ),
    "customer": Scoped(lambda a, b: [("GET", reverse("customer", args=[b[Customer].pk]), None)]),
    "customer_preferences": Scoped(
        lambda a, b: [("POST", reverse("customer_preferences", args=[b[Customer].pk]), {})]
    ),
    "customer_block": Scoped(
        lambda a, b: [
            (
                "POST",
                reverse("customer_block", args=[b[Customer].pk]),
                {"contact_point": b[ContactPoint].pk, "channel": "email"},
            ),
            (
                "POST",
                reverse("customer_block", args=[a[Customer].pk]),
                {"contact_point": b[ContactPoint].pk, "channel": "email"},
            ),
        ]
    ),
    "customer_unblock": Scoped(
        lambda a, b: [
            ("POST", reverse("customer_unblock", args=[b[Customer].pk, b[Suppression].pk]), {}),
            ("POST", reverse("customer_unblock", args=[a[Customer].pk, b[Suppression].pk]), {}),
        ]
    ),
    # issue 10 §1: new contacts from the dialog, the customer page's contact card
    "conversation_new_customer": Scoped(
        lambda a, b: [
            ("GET", reverse("conversation_new_customer", args=[b[Conversation].pk]), None)
        ]
    ),
    "customer_edit": Scoped(
        lambda a, b: [
            (
                "POST",
                reverse("customer_edit", args=[b[Customer].pk]),
                {"is_company": "person", "last_name": "x"},
            )
        ]
    ),
    "customer_address": Scoped(
        lambda a, b: [
            ("POST", reverse("customer_address", args=[b[Customer].pk]), {"country": "DE"})
        ]
    ),
    "customer_contact_add": Scoped(
        lambda a, b: [
            (
                "POST",
                reverse("customer_contact_add", args=[b[Customer].pk]),
                {"channel": "email", "value": "x@x.example", "type": "work"},
            )
        ]
    ),
    "customer_contact_change": Scoped(
        lambda a, b: [
            (
                "POST",
                reverse("customer_contact_change", args=[b[Customer].pk, b[ContactPoint].pk]),
                {"value": "x@x.example", "type": "work"},
            ),
            (
                "POST",
                reverse("customer_contact_change", args=[a[Customer].pk, b[ContactPoint].pk]),
                {"value": "x@x.example", "type": "work"},
            ),
        ]
    ),
    "customer_contact_remove": Scoped(
        lambda a, b: [
            (
                "POST",
                reverse("customer_contact_remove", args=[b[Customer].pk, b[ContactPoint].pk]),
                {},
            ),
            (
                "POST",
                reverse("customer_contact_remove", args=[a[Customer].pk, b[ContactPoint].pk]),
                {},
            ),
        ]
    ),
    "customer_message": Scoped(
        lambda a, b: [
            (
                "POST",
                reverse("customer_message", args=[b[Customer].pk]),
                {"to": "x@x.example", "subject": "s", "text": "t"},
            )
        ]
    ),
    "conversation": Scoped(
        lambda a, b: [("GET", reverse("conversation", args=[b[Conversation].pk]), None)]
    ),
    "conversation_assign": Scoped(
        lambda a, b: (
            _conversation_writes(b)
            + [
                (
                    "POST",
                    reverse("conversation_assign", args=[a[Conversation].pk]),
                    {"assignee": b[User].pk},
                )
            ]
        )
    ),
    "conversation_brand": Scoped(
        lambda a, b: [
            # B's conversation into A, and A's conversation into B: both refused
            (
                "POST",
                reverse("conversation_brand", args=[b[Conversation].pk]),
                {"brand": a[BusinessEntity].pk},
            ),
            (
                "POST",
                reverse("conversation_brand", args=[a[Conversation].pk]),
                {"brand": b[BusinessEntity].pk},
            ),
        ]  # fmt: skip
    ),
    "conversation_status": Scoped(lambda a, b: []),  # in _conversation_writes
    "conversation_priority": Scoped(lambda a, b: []),
    "conversation_unread": Scoped(lambda a, b: []),
    "conversation_note": Scoped(lambda a, b: []),
    "conversation_reply": Scoped(lambda a, b: []),
    "conversation_whatsapp_reply": Scoped(lambda a, b: []),
    "conversation_sms_reply": Scoped(lambda a, b: []),
    # issue 10 §3: a previewed conversation marked read; the user's own inbox settings
    "conversation_read": Scoped(
        lambda a, b: [("POST", reverse("conversation_read", args=[b[Conversation].pk]), {})]
    ),
    "inbox_settings": Listing(
        lambda a, b: [("GET", reverse("inbox_settings"), None)], lambda b: b[User].username
    ),
    "conversation_reply_templates": Scoped(
        lambda a, b: [
            ("GET", reverse("conversation_reply_templates", args=[b[Conversation].pk]), None)
        ]
    ),
    "classify": Filtered(
        lambda a, b: [
            (
                "POST",
                reverse("classify"),
                {
                    "classification": "newsletter",
                    "scope": "auswahl",
                    "ids": str(b[Conversation].pk),
                },
            ),
            (
                "POST",
                reverse("classify"),
                {
                    "classification": "customer",
                    "scope": "auswahl",
                    "ids": str(a[Conversation].pk),
                    "customer": b[Customer].pk,
                },
            ),
        ]
    ),
    "conversation_snooze": Scoped(lambda a, b: []),  # in _conversation_writes
    "bulk_action": Filtered(
        lambda a, b: [
            (
                "POST",
                reverse("bulk_action"),
                {"action": "archive", "scope": "auswahl", "ids": str(b[Conversation].pk)},
            ),
            (
                "POST",
                reverse("bulk_action"),
                {
                    "action": "assign",
                    "scope": "auswahl",
                    "ids": str(a[Conversation].pk),
                    "assignee": str(b[User].pk),
                },
            ),
        ]  # fmt: skip
    ),
    "change_undo": Scoped(
        lambda a, b: [("POST", reverse("change_undo", args=[b[ConversationChange].batch]), {})]
    ),
    "classification_undo": Scoped(
        lambda a, b: [
            ("POST", reverse("classification_undo", args=[b[ClassificationChange].batch]), {})
        ]
    ),
    "message_status": Scoped(
        lambda a, b: [("GET", reverse("message_status", args=[b[Message].pk]), None)]
    ),
    "message_html": Scoped(
        lambda a, b: [("GET", reverse("message_html", args=[b[Message].pk]), None)]
    ),
    "attachment": Scoped(
        lambda a, b: [("GET", reverse("attachment", args=[b[Attachment].pk]), None)]
    ),
    # the Automatisierung pages (issue 9 §6)
    "automation": Listing(lambda a, b: [("GET", reverse("automation"), None)], lambda b: "Dank bb"),
    "automation_events": Listing(
        lambda a, b: [
            ("GET", reverse("automation_events"), None),
            ("GET", reverse("automation_events"), {"kunde": b[Customer].pk}),
            ("GET", reverse("automation_events"), {"vorgang": "inv-bb", "quelle": "api"}),
        ],
        lambda b: b[Customer].last_name,
    ),
    "automation_event": Scoped(
        lambda a, b: [("GET", reverse("automation_event", args=[b[Event].pk]), None)]
    ),
    "automation_rule": Scoped(
        lambda a, b: [
            ("GET", reverse("automation_rule", args=[b[AutomationRule].pk]), None),
            ("GET", reverse("automation_rule", args=[b[AutomationRule].pk]), {"tage": "30"}),
        ]
    ),
    "automation_rule_dry_run": Scoped(
        lambda a, b: [
            ("GET", reverse("automation_rule_dry_run", args=[b[AutomationRule].pk]), None),
            (
                "POST",
                reverse("automation_rule_dry_run", args=[b[AutomationRule].pk]),
                {"daten": "{}"},
            ),
            # A's rule against B's customer
            (
                "POST",
                reverse("automation_rule_dry_run", args=[a[AutomationRule].pk]),
                {"kunde": b[Customer].pk, "daten": "{}"},
            ),
        ]  # fmt: skip
    ),
    # the print page for letters (issue 11 §3)
    # (a POST naming brand B is refused by the form: tests/kommunikation/test_print_letters.py)
    "letter_print": Listing(
        lambda a, b: [("GET", reverse("letter_print"), None)],
        lambda b: b[BusinessEntity].name,
    ),
    "letter_print_batch": Scoped(
        lambda a, b: [("GET", reverse("letter_print_batch", args=[b[PrintBatch].pk]), None)]
    ),
    # call tasks (issue 11 §4): the Aufgaben page, outcomes and assignment of B's task,
    # and A's task given to B's staff
    "call_tasks": Listing(
        lambda a, b: [
            ("GET", reverse("call_tasks"), None),
            ("GET", reverse("call_tasks"), {"wer": "niemand"}),
            ("GET", reverse("call_tasks"), {"status": "erledigt"}),
        ],
        lambda b: b[CallTask].script,
    ),
    "call_task_outcome": Scoped(
        lambda a, b: [
            ("POST", reverse("call_task_outcome", args=[b[CallTask].pk]), {"outcome": "reached"}),
            (
                "POST",
                reverse("call_task_outcome", args=[b[CallTask].pk]),
                {"outcome": "wrong_number"},
            ),
        ]
    ),
    "call_task_assign": Scoped(
        lambda a, b: [
            ("POST", reverse("call_task_assign", args=[b[CallTask].pk]), {"assignee": "ich"}),
            (
                "POST",
                reverse("call_task_assign", args=[a[CallTask].pk]),
                {"assignee": str(b[User].pk)},
            ),
        ]
    ),
    "automation_customer_calendar": Scoped(
        lambda a, b: [
            ("GET", reverse("automation_customer_calendar", args=[b[Customer].pk]), None),
            ("GET", reverse("automation_customer_calendar", args=[b[Customer].pk]), {"tage": 30}),
        ]
    ),
}


def sweep_urls(client, world_a: dict, world_b: dict, found: Findings) -> None:
    for name in walk(get_resolver().url_patterns):
        if name in PUBLIC_URLS or PUBLIC_URL_NAMES.match(name):
            continue
        spec = URLS.get(name)
        if spec is None:
            found.add(f"URL {name!r}: not classified; add it to URLS (scoped) or PUBLIC_URLS")
            continue
        headers = {} if isinstance(spec, Listing) else {"HX-Request": "true"}
        for method, url, body in spec.requests(world_a, world_b):
            send = client.get if method == "GET" else client.post
            response = send(url, body, headers=headers)
            if isinstance(spec, Listing):
                marker = spec.marker(world_b)
                if response.status_code == 200 and marker in response.content.decode():
                    found.add(f"URL {name}: {method} {url} shows brand B's {marker!r}")
                elif response.status_code not in (200, 403):
                    found.add(f"URL {name}: {method} {url} answers {response.status_code}")
            elif isinstance(spec, Filtered):
                if response.status_code >= 500:
                    found.add(f"URL {name}: {method} {url} answers {response.status_code}")
            elif not 400 <= response.status_code < 500:
                found.add(f"URL {name}: {method} {url} answers {response.status_code}")


# --- the tests ---------------------------------------------------------------------------


@pytest.mark.parametrize("role", ROLES_UNDER_TEST)
def test_staff_of_brand_a_can_neither_see_nor_change_brand_b_anywhere(
    client, worlds, superuser, role
):
    world_a, world_b = worlds
    user = persona(role, world_a[BusinessEntity])
    client.force_login(user)
    before = snapshot()
    found = Findings()

    sweep_admin(client, user, superuser, world_a, world_b, found)
    sweep_urls(client, world_a, world_b, found)

    assert found.problems == []
    assert changed_tables(before, snapshot()) == []


def test_the_sweep_knows_every_role():
    assert set(ROLES_UNDER_TEST) <= set(ROLES)
