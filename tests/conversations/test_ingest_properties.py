"""Whatever arrives is stored raw and never stops ingestion (hypothesis)."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conversations.ingest import ingest_raw_email, ingest_raw_emails
from conversations.models import Message, RawEmail

pytestmark = pytest.mark.django_db

# one brand for all examples of a test (a function-scoped fixture, reused on purpose)
SETTINGS = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

HEADER_NAMES = [
    b"From", b"To", b"Cc", b"Subject", b"Date", b"Message-ID", b"In-Reply-To", b"References",
    b"Content-Type", b"Content-Transfer-Encoding", b"Content-Disposition", b"MIME-Version",
    b"List-Unsubscribe", b"Precedence", b"Auto-Submitted", b"Reply-To", b"X-\xff",
]  # fmt: skip
HEADER_VALUES = st.one_of(
    st.binary(max_size=120),
    st.sampled_from(
        [
            b"multipart/mixed; boundary=B",
            b'multipart/alternative; boundary="B"',
            b"text/html; charset=utf-8",
            b"text/plain; charset=x-unbekannt",
            b"message/rfc822",
            b"base64",
            b"quoted-printable",
            b"attachment; filename*=utf-8''%C3%A4%00.pdf",
            b"=?utf-8?B?w6TDtsO8?= =?iso-8859-1?q?=96?=",
            b"=?utf-8?q?broken",
            b"<a@b> <c@d>",
            b'Ja <ja@example.org>, "Nein, doch" <x@y>',
            b"Thu, 31 Feb 99999 25:61:00 +9999",
        ]
    ),
)
MAIL_SHAPED = st.builds(
    lambda headers, body, sep: sep.join(n + b": " + v for n, v in headers) + sep + sep + body,
    st.lists(st.tuples(st.sampled_from(HEADER_NAMES), HEADER_VALUES), max_size=12),
    st.one_of(
        st.binary(max_size=400),
        st.sampled_from([b"--B\nContent-Type: text/plain\n\nx\n--B--\n", b"--B\n\n--B", b""]),
    ),
    st.sampled_from([b"\n", b"\r\n"]),
)


def assert_stored(raw: bytes, result) -> None:
    if result.outcome == "duplicate":
        # hypothesis reuses the brand across examples: an earlier example with the same
        # Message-ID and content is this mail's stored copy, and must be visible
        assert result.raw is not None
        assert Message.objects.filter(raw=result.raw).exists()
        return
    row = RawEmail.objects.get(sha256=hashlib.sha256(raw).hexdigest())
    assert bytes(row.data) == raw
    # stored and visible: every raw row has its message
    assert Message.objects.filter(raw=row).exists()


@SETTINGS
@given(raw=st.binary(max_size=2000))
def test_arbitrary_bytes_are_stored_raw_and_never_raise(brand_a, raw):
    result = ingest_raw_email(raw, brand=brand_a)

    assert_stored(raw, result)


@SETTINGS
@given(raw=MAIL_SHAPED)
def test_mail_shaped_garbage_is_stored_raw_and_never_raises(brand_a, raw):
    result = ingest_raw_email(raw, brand=brand_a)

    assert_stored(raw, result)


@SETTINGS
@given(raws=st.lists(MAIL_SHAPED, min_size=1, max_size=6))
def test_mail_shaped_garbage_in_one_batch_is_stored_raw_and_never_raises(brand_a, raws):
    results = list(ingest_raw_emails([(raw, "") for raw in raws], brand=brand_a, batch_size=4))

    assert len(results) == len(raws)
    for raw, result in zip(raws, results, strict=True):
        if result.outcome != "duplicate":  # else the same message, stored before
            assert bytes(result.raw.data) == raw
        assert Message.objects.filter(raw=result.raw).exists()
