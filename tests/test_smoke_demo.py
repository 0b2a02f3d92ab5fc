"""No page crashes on real data: the demo data, every page of the apps and of the admin.

A sweep, not examples. It walks the URL resolver (every pattern outside the admin, its
int/str/uuid arguments filled from the demo data) and ``admin.site._registry`` (changelist,
search, add, change, history and delete page of every registered model), as an Agent, an
Admin and the demo superuser, as a full page and as an HTMX partial. What each persona should
get is derived from its permissions and brands (200, else 403/404; 405 for a POST-only
view), never from a list of pages, so a new view or admin is covered the day it is added.
A URL argument this test cannot fill fails it: teach ``SAMPLES``/``TOKENS`` the new one.
"""

from __future__ import annotations

import io
import re
import uuid
from html import unescape

import pytest
from django.apps import apps
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.db import transaction
from django.test import RequestFactory, override_settings
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.urls.converters import IntConverter, SlugConverter, StringConverter, UUIDConverter

from compliance.services import preference_token, unsubscribe_token
from conversations.models import Attachment, Conversation, Message
from kommunikation.automation.demo import seed_automation_demo
from kommunikation.automation.loading import DEFAULT_FILE, load_rules_file
from kommunikation.automation.models import AutomationRule
from kommunikation.calls.demo import seed_call_demo
from kommunikation.calls.models import CallTask
from kommunikation.demo import seed_demo
from kommunikation.demo.fallback import seed_fallback_demo
from kommunikation.demo.letters import seed_letter_demo
from kommunikation.letters.models import PrintBatch
from kommunikation.models import BusinessEntity, Customer, Event
from kommunikation.roles import ADMIN, AGENT
from templates_app.loading import load_library

pytestmark = pytest.mark.django_db

CONVERSATIONS = 25  # the demo in small: five brands, WhatsApp chats, attachments, notes
MAX_SAMPLES = 10  # objects opened per model and admin page (spread over the table)
NOT_ALLOWED = {403, 404}
# the admin is walked through its registry below; webhooks are no pages (401 without a secret)
SKIP_PREFIXES = ("admin/", "i18n/", "webhooks/")

# the model an <int:pk> of a URL refers to, by the URL's name or else its first word
SAMPLES = {
    "conversation": Conversation,
    "message": Message,
    "attachment": Attachment,
    "customer": Customer,
    "automation_event": Event,
    "automation_rule": AutomationRule,
    "automation_rule_dry_run": AutomationRule,
    "automation_customer_calendar": Customer,
    "letter_print_batch": PrintBatch,
    "call": CallTask,  # the Aufgaben page's outcome and assignment (POST only)
}
# pages that need a permission beyond seeing their object, by the first word of the name
PAGE_PERMISSIONS = {
    "automation": "kommunikation.view_automationrule",  # Team-Lead, Admin
    "letter": "kommunikation.view_printbatch",  # the print page: Team-Lead, Admin
}


def _customer_with_email():
    return Customer.objects.filter(contact_points__channel="email").order_by("pk").first()


def _unsubscribe_token():
    customer = _customer_with_email()
    address = customer.contact_points.filter(channel="email").first().value
    return unsubscribe_token(
        customer=customer, channel="email", category="marketing", address=address
    )


# valid tokens for the public pages, by URL name; any other <str:> gets a forged one (4xx)
TOKENS = {
    "compliance:preferences": lambda: preference_token(_customer_with_email()),
    "compliance:unsubscribe": _unsubscribe_token,
}


# --- the data and the personas -------------------------------------------------------------


@pytest.fixture(scope="module", autouse=True)
def _media_root(tmp_path_factory):
    """One media folder for the module: the demo's attachments are stored once, below."""
    storages = {
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    with override_settings(MEDIA_ROOT=tmp_path_factory.mktemp("media"), STORAGES=storages):
        yield


@pytest.fixture(scope="module")
def _demo_data(django_db_setup, django_db_blocker, _media_root):
    """The demo, seeded once for the module in a transaction that is rolled back at its end
    (each test runs in a savepoint inside it)."""
    with django_db_blocker.unblock(), transaction.atomic():
        seed_demo(conversations=CONVERSATIONS, seed=1)
        # as `make run`: the template and rule library, and demo events through the rules
        # (the Automatisierung pages then show rules, events, runs and waiting rows)
        load_library()
        load_rules_file(DEFAULT_FILE)
        seed_automation_demo(per_brand=1)
        seed_call_demo()  # call tasks: open, overdue and done (issue 11 §4)

        seed_letter_demo()  # a Pingen letter and a print batch in customer threads

        seed_fallback_demo()  # a thread with a fallback chain (issue 11 §7)
        call_command("demo_setup", stdout=io.StringIO())  # the demo login: a superuser
        User = get_user_model()
        # staff of a brand with WhatsApp chats (conversations without a subject)
        chats = Conversation.objects.filter(subject="").order_by("pk").first().brand
        other = BusinessEntity.objects.exclude(pk=chats.pk).order_by("pk").first()
        admin_user = User.objects.create_user(username="ada.admin", is_staff=True)
        admin_user.groups.add(Group.objects.get(name=ADMIN))
        admin_user.brands.set([chats, other])
        agents = User.objects.filter(groups__name=AGENT, brands=chats).order_by("username")
        yield {
            "Agent": agents.first(),
            "Admin": admin_user,
            "Superuser": User.objects.get(username="demo"),
        }
        transaction.set_rollback(True)


@pytest.fixture
def demo(_demo_data, db):
    assert Conversation.objects.filter(subject="").exists()  # WhatsApp chats have no subject
    assert Attachment.objects.exists()
    assert CallTask.objects.filter(status="open").exists()
    assert CallTask.objects.filter(status="done").exists()
    return _demo_data


PERSONAS = ["Agent", "Admin", "Superuser"]  # the superuser (demo login) reaches every admin


# --- the walk -------------------------------------------------------------------------------


class Sweep:
    """Opens pages as one user and collects every answer that is not the expected one."""

    def __init__(self, client, user):
        self.client = client
        self.user = user
        self.failures: list[str] = []
        self.pages = 0
        client.force_login(user)

    def get(self, url: str, expected: set[int], **headers) -> int | None:
        self.pages += 1
        try:
            response = self.client.get(url, headers=headers)
        except Exception as exc:  # a crash is what this test is for: collect them all
            self.failures.append(f"{url} {headers or ''}: 500 {type(exc).__name__}: {exc}")
            return None
        if response.status_code not in expected:
            self.failures.append(
                f"{url} {headers or ''}: {response.status_code}, expected {sorted(expected)}"
            )
        return response.status_code

    def page_and_partial(self, url: str, expected: set[int]) -> bool:
        """False for a POST-only view (405 to everybody)."""
        if self.get(url, expected | {405}) == 405:
            return False
        self.get(url, expected, HX_Request="true", HX_Target="detail")
        return True

    def check(self) -> None:
        assert self.pages
        assert not self.failures, f"{len(self.failures)} of {self.pages} pages failed:\n" + (
            "\n".join(self.failures[:40])
        )


def spread(queryset, n: int = MAX_SAMPLES) -> list:
    objects = list(queryset.order_by("pk"))
    step = max(1, -(-len(objects) // n))
    return objects[::step]


def url_patterns(resolver=None, prefix: str = "", namespace: str = ""):
    """(route, name, converters) of every pattern outside SKIP_PREFIXES."""
    resolver = resolver or get_resolver()
    for entry in resolver.url_patterns:
        route = prefix + str(entry.pattern)
        if route.startswith(SKIP_PREFIXES):
            continue
        if isinstance(entry, URLResolver):
            ns = f"{namespace}{entry.namespace}:" if entry.namespace else namespace
            yield from url_patterns(entry, route, ns)
        elif isinstance(entry, URLPattern):
            converters = getattr(entry.pattern, "converters", {})
            yield route, f"{namespace}{entry.name}" if entry.name else route, converters


def brand_of(obj) -> int:
    for path in ("brand_id", "conversation.brand_id", "message.conversation.brand_id"):
        value = obj
        try:
            for attr in path.split("."):
                value = getattr(value, attr)
        except AttributeError:
            continue
        return value
    raise AssertionError(f"which brand owns {obj!r}?")


def expected_for(user, obj) -> set[int]:
    meta = obj._meta
    brand = brand_of(obj)  # None: a row for all brands (an automation rule)
    allowed = user.has_perm(f"{meta.app_label}.view_{meta.model_name}") and (
        brand is None
        or brand in set(BusinessEntity.objects.for_user(user).values_list("pk", flat=True))
    )
    return {200} if allowed else NOT_ALLOWED


def fill(name: str, converters: dict) -> list[tuple[dict, object]]:
    """Argument sets for one URL: (kwargs, the object they point at or None)."""
    int_args = [arg for arg, conv in converters.items() if isinstance(conv, IntConverter)]
    kwargs: dict = {}
    for arg, conv in converters.items():
        if isinstance(conv, IntConverter):
            continue
        if isinstance(conv, StringConverter | SlugConverter):
            kwargs[arg] = TOKENS[name]() if name in TOKENS else "gefaelscht"
        elif isinstance(conv, UUIDConverter):
            kwargs[arg] = uuid.uuid4()
        else:
            raise AssertionError(f"{name}: argument {arg} ({conv}) cannot be filled")
    if not int_args:
        return [(kwargs, None)]
    model = SAMPLES.get(name.split(":")[-1]) or SAMPLES.get(name.split(":")[-1].split("_")[0])
    assert model, f"{name}: which model do its ids point at? Add it to SAMPLES."
    main, *others = int_args
    every = model in (Conversation, Customer)  # every conversation, every customer page
    objects = model.objects.order_by("pk") if every else spread(model.objects, 2 * MAX_SAMPLES)
    return [({**kwargs, main: obj.pk, **dict.fromkeys(others, 1)}, obj) for obj in objects]


def walk_app_pages(sweep: Sweep) -> None:
    for route, name, converters in url_patterns():
        for kwargs, obj in fill(name, converters):
            url = reverse(name, kwargs=kwargs) if name != route else "/" + route
            if obj is not None:
                expected = expected_for(sweep.user, obj)
            elif name in TOKENS or not converters:
                expected = {200, 302}  # a page of its own (login redirects a logged-in user)
            else:
                expected = {400, 403, 404, 410}  # a forged or stale link
            needed = PAGE_PERMISSIONS.get(name.split(":")[-1].split("_")[0])
            if needed and not sweep.user.has_perm(needed):
                expected = {403}
            if not sweep.page_and_partial(url, expected):
                break  # POST-only: one look is enough


LINK = re.compile(r'(?:href|hx-get)="(/?\?[^"]*)"')


def walk_inbox_views(sweep: Sweep) -> None:
    """The inbox and every view and filter it links to, as page and as list partials."""
    response = sweep.client.get("/")
    assert response.status_code == 200
    links = {unescape(link) for link in LINK.findall(response.text)}
    assert len(links) >= 5, links  # the left pane's views and brands
    for link in sorted(links):
        url = link if link.startswith("/") else "/" + link
        sweep.get(url, {200})
        for target in ("list-pane", "list-body"):
            sweep.get(url, {200}, HX_Request="true", HX_Target=target)


@pytest.mark.parametrize("persona", ["Agent", "Admin"])
def test_every_inbox_page_answers(client, demo, persona):
    sweep = Sweep(client, demo[persona])

    walk_inbox_views(sweep)
    walk_app_pages(sweep)

    sweep.check()


# --- the admin ------------------------------------------------------------------------------


def admin_url(model, page: str, *args) -> str:
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{page}", args=args)


def walk_admin(sweep: Sweep) -> None:
    request = RequestFactory().get("/admin/")
    request.user = sweep.user
    assert sweep.get("/admin/", {200}) == 200
    for model, model_admin in admin.site._registry.items():
        may_view = model_admin.has_view_or_change_permission(request)
        door = {200} if may_view else {403}
        changelist = admin_url(model, "changelist")
        sweep.get(changelist, door)
        if model_admin.search_fields:
            sweep.get(changelist + "?q=e", door)
        sweep.get(
            admin_url(model, "add"), {200} if model_admin.has_add_permission(request) else {403}
        )
        visible = model_admin.get_queryset(request) if may_view else model._default_manager.none()
        for obj in spread(visible):
            may = model_admin.has_view_or_change_permission(request, obj)
            sweep.get(admin_url(model, "change", obj.pk), {200} if may else {403})
        for obj in spread(visible, 1):
            may = model_admin.has_view_or_change_permission(request, obj)
            sweep.get(admin_url(model, "history", obj.pk), {200} if may else {403})
            may_delete = model_admin.has_delete_permission(request, obj)
            sweep.get(admin_url(model, "delete", obj.pk), {200} if may_delete else {403})
        hidden = model._default_manager.exclude(pk__in=visible.values("pk"))
        for obj in spread(hidden, 1):  # another brand's: the admin says it does not exist
            sweep.get(admin_url(model, "change", obj.pk), {302, 403, 404})
        for extra in own_admin_pages(model_admin):  # e.g. a preview: the model's door
            sweep.get(reverse(f"admin:{extra.name}"), door | {400, 405})


STANDARD_ADMIN_PAGES = ("changelist", "add", "history", "delete", "change")


def own_admin_pages(model_admin) -> list[URLPattern]:
    """The admin's own pages beyond the standard ones, those that take no argument."""
    return [
        p
        for p in model_admin.get_urls()
        if isinstance(p, URLPattern)
        and p.name
        and not p.name.endswith(STANDARD_ADMIN_PAGES)
        and not getattr(p.pattern, "converters", None)
    ]


OUR_APPS = ("kommunikation", "conversations", "templates_app", "compliance")


def test_every_object_of_the_demo_has_a_name(demo):
    """What pages, admin titles, selects and raw-id labels show: str() is a str, never a
    lazy translation (which templates and ``format_html`` cannot take)."""
    wrong = []
    for model in apps.get_models():
        if model._meta.app_label in OUR_APPS:
            rows = model._default_manager.all()
            wrong += [
                f"{model.__name__} {obj.pk}" for obj in rows if type(obj.__str__()) is not str
            ]
    assert not wrong


@pytest.mark.parametrize("persona", PERSONAS)
def test_every_admin_page_answers(client, demo, persona):
    sweep = Sweep(client, demo[persona])

    walk_admin(sweep)

    sweep.check()
