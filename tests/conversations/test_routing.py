"""Mail without a fixed brand goes to the brand of its thread, else of its recipient
(Delivered-To, X-Original-To, To, Cc), else to the fallback brand, on the single and the
batch path alike."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command

from conversations.ingest import IngestContext, ingest_raw_email, ingest_raw_emails
from conversations.models import Conversation, Mailbox, Message, RawEmail
from conversations.routing import FALLBACK, RECIPIENT, THREAD, BrandRouter
from tests.factories import BrandFactory

pytestmark = pytest.mark.django_db

PATHS = ["single", "batch"]


@pytest.fixture
def brands(db):
    """ChargeCars is the first brand (the fallback), as on the real installation."""
    chargecars = BrandFactory(
        name="ChargeCars",
        slug="chargecars",
        domains=["chargecars.nl"],
        support_email="support@chargecars.nl",
        sales_email="verkoop@chargecars-zakelijk.nl",  # a sender address on no own domain
    )
    laderthuis = BrandFactory(
        name="LaderThuis",
        slug="laderthuis",
        domains=["laderthuis.nl"],
        support_email="support@laderthuis.nl",
        noreply_email="noreply@laderthuis.nl",
    )
    zaptec = BrandFactory(
        name="ZaptecShop",
        slug="zaptecshop",
        domains=["zaptecshop.nl", "shop.chargecars.nl"],  # a subdomain of another brand's
        support_email="support@zaptecshop.nl",
    )
    Mailbox.objects.create(
        brand=laderthuis, name="Service", address="Service@Extern-Hosting.example"
    )
    return {"chargecars": chargecars, "laderthuis": laderthuis, "zaptecshop": zaptec}


def mail(headers: str, *, message_id: str, subject: str = "Vraag over mijn laadpaal") -> bytes:
    return (
        "From: Jan de Vries <jan.devries@gmail.example>\n"
        f"{headers.strip()}\n"
        f"Subject: {subject}\nDate: Fri, 20 Nov 2026 10:00:00 +0100\nMessage-ID: {message_id}\n"
        "MIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\n\nGoedemorgen, een vraag.\n"
    ).encode()


def ingest(raws: list[bytes], path: str, **kwargs):
    context = IngestContext()
    if path == "single":
        return [ingest_raw_email(raw, brand=None, source="t", context=context) for raw in raws]
    items = [(raw, f"t#{n}") for n, raw in enumerate(raws)]
    return list(ingest_raw_emails(items, brand=None, context=context, **kwargs))


CASES = [
    # (headers, brand, how)
    ("To: support@laderthuis.nl", "laderthuis", RECIPIENT),
    ('To: "LaderThuis Klantenservice" <SUPPORT@LaderThuis.NL>', "laderthuis", RECIPIENT),
    ("To: =?utf-8?q?Zaptec_K=C3=BCndendienst?= <support@zaptecshop.nl>", "zaptecshop", RECIPIENT),
    # the receiving server knows better than the To line (a Bcc, an alias, a list)
    (
        "Delivered-To: support@zaptecshop.nl\nTo: support@laderthuis.nl",
        "zaptecshop",
        RECIPIENT,
    ),
    ("X-Original-To: info@laderthuis.nl\nTo: support@chargecars.nl", "laderthuis", RECIPIENT),
    # To before Cc; Cc when the To line names no brand
    ("To: support@laderthuis.nl\nCc: support@zaptecshop.nl", "laderthuis", RECIPIENT),
    ("To: Piet <piet@kpn.example>\nCc: Zaptec <support@zaptecshop.nl>", "zaptecshop", RECIPIENT),
    # subdomains; the most specific domain wins
    ("To: facturen@mail.laderthuis.nl", "laderthuis", RECIPIENT),
    ("To: bestellingen@shop.chargecars.nl", "zaptecshop", RECIPIENT),
    ("To: info@chargecars.nl", "chargecars", RECIPIENT),
    # a mailbox's or a sender address on a foreign domain
    ("To: service@extern-hosting.example", "laderthuis", RECIPIENT),
    ("To: Verkoop <Verkoop@ChargeCars-Zakelijk.nl>", "chargecars", RECIPIENT),
    # not ours: a look-alike domain, nobody, an unreadable line
    ("To: support@laderthuis.nl.evil.example", "chargecars", FALLBACK),
    ("To: piet@kpn.example", "chargecars", FALLBACK),
    ("To: undisclosed-recipients:;", "chargecars", FALLBACK),
]


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize(("headers", "expected", "how"), CASES)
def test_mail_goes_to_the_brand_of_its_recipient(brands, path, headers, expected, how):
    [result] = ingest([mail(headers, message_id="<m1@gmail.example>")], path)

    assert result.outcome == "new"
    assert (result.conversation.brand.slug, result.routed_by) == (expected, how)
    assert RawEmail.objects.get().brand == brands[expected]


@pytest.mark.parametrize("path", PATHS)
def test_a_reply_goes_to_the_brand_of_its_thread_whatever_its_recipient(brands, path):
    first = mail("To: support@laderthuis.nl", message_id="<m1@gmail.example>")
    ingest([first], path)
    # the customer answers, but to the wrong brand's address, and quotes the thread
    reply = mail(
        "To: support@chargecars.nl\nIn-Reply-To: <m1@gmail.example>\n"
        "References: <m0@elsewhere.example> <m1@gmail.example>",
        message_id="<m2@gmail.example>",
        subject="Re: Vraag over mijn laadpaal",
    )

    [result] = ingest([reply], path)

    assert (result.outcome, result.routed_by) == ("threaded", THREAD)
    assert result.conversation.brand == brands["laderthuis"]
    assert Conversation.objects.get().message_count == 2


@pytest.mark.parametrize("path", PATHS)
def test_a_reply_to_our_own_outbound_message_follows_it(brands, path):
    conversation = Conversation.objects.create(
        brand=brands["zaptecshop"], counterpart="jan.devries@gmail.example", subject="Offerte"
    )
    Message.objects.create(
        conversation=conversation,
        channel="email",
        direction="out",
        message_id="<reply-17@zaptecshop.nl>",
    )
    reply = mail(
        "To: Jan <jan.devries@gmail.example>\nIn-Reply-To: <reply-17@zaptecshop.nl>",
        message_id="<m9@gmail.example>",
        subject="AW: Offerte",
    )

    [result] = ingest([reply], path)

    assert result.conversation == conversation and result.routed_by == THREAD


def test_replies_within_one_batch_follow_the_thread_of_an_earlier_message(brands):
    raws = [
        mail("To: support@laderthuis.nl", message_id="<a1@gmail.example>"),
        mail(
            "To: support@zaptecshop.nl\nIn-Reply-To: <a1@gmail.example>",
            message_id="<a2@gmail.example>",
            subject="Re: Vraag over mijn laadpaal",
        ),
        mail("To: support@zaptecshop.nl", message_id="<b1@gmail.example>", subject="Andere"),
        mail("To: piet@kpn.example", message_id="<c1@gmail.example>", subject="Niemand"),
    ]

    results = ingest(raws, "batch")

    assert [r.conversation.brand.slug for r in results] == [
        "laderthuis",
        "laderthuis",
        "zaptecshop",
        "chargecars",
    ]
    assert [r.outcome for r in results] == ["new", "threaded", "new", "new"]
    assert results[0].conversation == results[1].conversation


def test_a_message_we_have_is_a_duplicate_wherever_it_is_addressed(brands):
    raw = mail("To: support@laderthuis.nl", message_id="<m1@gmail.example>")
    ingest([raw], "single")
    # the same mail again, as another mailbox's copy of it (other trace headers)
    copy = b"Delivered-To: support@zaptecshop.nl\n" + raw

    [result] = ingest([copy], "batch")

    assert result.outcome == "duplicate"
    assert RawEmail.objects.count() == 1


def _picture() -> list:
    return sorted(
        (
            c.brand.slug,
            c.message_count,
            tuple(c.messages.order_by("id").values_list("message_id", flat=True)),
        )
        for c in Conversation.objects.select_related("brand")
    )


def test_batches_route_exactly_as_one_message_after_the_other(brands):
    raws = [
        mail(headers, message_id=f"<case{n}@gmail.example>")
        for n, (headers, *_r) in enumerate(CASES)
    ]
    raws.insert(
        3,
        mail(
            "Cc: support@zaptecshop.nl\nIn-Reply-To: <case0@gmail.example>",
            message_id="<reply0@gmail.example>",
            subject="Re: Vraag over mijn laadpaal",
        ),
    )
    raws.insert(9, raws[1])  # the same bytes again
    raws.append(
        mail(
            "To: support@laderthuis.nl\nReferences: <case2@gmail.example>",
            message_id="<reply2@gmail.example>",
            subject="Re: Vraag over mijn laadpaal",
        )
    )

    one_by_one = [(r.outcome, r.routed_by, r.brand.slug) for r in ingest(raws, "single")]
    expected = _picture()
    Conversation.objects.all().delete()
    RawEmail.objects.all().delete()

    in_batches = [
        (r.outcome, r.routed_by, r.brand.slug) for r in ingest(raws, "batch", batch_size=4)
    ]

    assert in_batches == one_by_one
    assert _picture() == expected
    assert {"recipient", "thread", "known", "fallback"} <= {how for _o, how, _b in one_by_one}


def test_routing_reads_a_batch_with_one_query(brands, django_assert_num_queries):
    router = BrandRouter()
    raws = [mail(h, message_id=f"<q{n}@gmail.example>") for n, (h, *_r) in enumerate(CASES)]

    with django_assert_num_queries(1):
        routes = router.route(raws)

    assert [r.brand.slug for r in routes] == [expected for _h, expected, _how in CASES]


def test_a_header_block_nobody_can_read_goes_to_the_fallback(brands):
    router = BrandRouter()

    routes = router.route([b"", b"\x00\xff\xfe", b"To: \xff\xfe@\x00\n\n", b"To"])

    assert {(r.brand.slug, r.by) for r in routes} == {("chargecars", FALLBACK)}


def run(*args) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("ingest_email", *map(str, args), stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_the_command_routes_and_counts_what_matched_no_brand(brands, tmp_path):
    for n, (headers, *_rest) in enumerate(CASES):
        (tmp_path / f"{n:02}.eml").write_bytes(
            mail(headers, message_id=f"<f{n}@gmail.example>", subject=f"Vraag {n}")
        )

    out, _err = run(tmp_path)

    assert out.strip() == (
        "15 neu, 0 doppelt, 0 in bestehende Konversationen, 0 markiert (15 gelesen); "
        "nach Marke: ChargeCars 5, LaderThuis 6, ZaptecShop 4; "
        "3 ohne passende Marke → ChargeCars"
    )
    by_brand = {
        slug: Conversation.objects.filter(brand__slug=slug).count()
        for slug in ("chargecars", "laderthuis", "zaptecshop")
    }
    assert by_brand == {"chargecars": 5, "laderthuis": 6, "zaptecshop": 4}


def test_the_fallback_brand_can_be_chosen(brands, tmp_path):
    (tmp_path / "a.eml").write_bytes(mail("To: piet@kpn.example", message_id="<x@gmail.example>"))

    out, _err = run("--fallback-brand", "zaptecshop", tmp_path)

    assert Conversation.objects.get().brand == brands["zaptecshop"]
    assert out.strip().endswith("1 ohne passende Marke → ZaptecShop")


def test_with_a_brand_everything_goes_there(brands, tmp_path):
    (tmp_path / "a.eml").write_bytes(mail("To: support@laderthuis.nl", message_id="<x@g.example>"))

    out, _err = run("--brand", "zaptecshop", tmp_path)

    assert Conversation.objects.get().brand == brands["zaptecshop"]
    assert out.startswith("ZaptecShop: 1 neu") and "ohne passende Marke" not in out
