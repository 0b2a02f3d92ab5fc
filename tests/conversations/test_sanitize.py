"""Inbound HTML made safe to show: nh3 plus disarmed remote images."""

from __future__ import annotations

import pytest

from conversations.sanitize import html_to_text, sanitize_html, with_remote_images


@pytest.mark.parametrize(
    "dangerous",
    [
        "<script>alert(1)</script>",
        '<img src="x" onerror="alert(1)">',
        '<a href="javascript:alert(1)">x</a>',
        '<a href="JaVaScRiPt:alert(1)">x</a>',
        '<a href="&#106;avascript:alert(1)">x</a>',
        '<body onload="alert(1)">',
        '<iframe src="https://evil.example"></iframe>',
        '<svg onload="alert(1)"><circle/></svg>',
        '<form action="https://evil.example"><input name="pw"></form>',
        '<div style="background:url(javascript:alert(1))">x</div>',
        '<object data="x.swf"></object><embed src="x.swf">',
        '<meta http-equiv="refresh" content="0;url=https://evil.example">',
        '<base href="https://evil.example/">',
        '<link rel="stylesheet" href="https://evil.example/x.css">',
        '<img src="data:image/svg+xml;base64,PHN2Zz48c2NyaXB0PmFsZXJ0KDEpPC9zY3JpcHQ+PC9zdmc+">',
    ],
)
def test_nothing_executable_survives(dangerous):
    safe, _remote = sanitize_html(f"<p>Hallo</p>{dangerous}")

    lowered = safe.lower()
    for needle in ("<script", "onerror", "onload", "javascript:", "<iframe", "<svg", "<form",
                   "<object", "<embed", "<meta", "<base", "<link", "data:image/svg"):  # fmt: skip
        assert needle not in lowered
    assert "Hallo" in safe


def test_script_and_style_content_is_dropped_not_shown():
    safe, _remote = sanitize_html("<style>p{color:red}</style><script>var x=1</script><p>Text</p>")

    assert safe == "<p>Text</p>"


def test_remote_images_load_only_on_request():
    safe, remote = sanitize_html('<p>Hi</p><img src="https://tracker.example/p.gif" alt="">')

    assert remote
    assert ' src="https://' not in safe
    assert 'data-remote-src="https://tracker.example/p.gif"' in safe
    assert '<img src="https://tracker.example/p.gif"' in with_remote_images(safe)


def test_cid_images_stay_and_are_not_remote():
    safe, remote = sanitize_html('<img src="cid:logo@shop.example" alt="Logo">')

    assert not remote
    assert 'src="cid:logo@shop.example"' in safe


def test_remote_css_backgrounds_are_removed():
    safe, remote = sanitize_html(
        '<table><tr><td style="background-image:url(https://t.example/x.gif); color: red">x'
        "</td></tr></table>"
    )

    assert "url(" not in safe and "t.example" not in safe
    assert "color" in safe
    assert not remote


def test_links_keep_their_target_and_get_rel():
    safe, _remote = sanitize_html('<a href="https://laderthuis.nl/hilfe">Hilfe</a>')

    assert 'href="https://laderthuis.nl/hilfe"' in safe
    assert "noopener" in safe


def test_empty_html_stays_empty():
    assert sanitize_html("   ") == ("", False)


def test_html_to_text_keeps_structure_and_links():
    text = html_to_text(
        "<html><head><title>T</title><style>x{}</style></head><body>"
        "<p>Guten Tag,</p><p>hier der <a href='https://x.example/a'>Link</a>.</p>"
        "<ul><li>eins</li><li>zwei</li></ul><script>böse()</script></body></html>"
    )

    assert "Guten Tag," in text
    assert "Link <https://x.example/a>" in text
    assert "- eins" in text and "- zwei" in text
    assert "böse" not in text and "x{}" not in text and "T\n" not in text


@pytest.mark.parametrize(
    "src",
    [
        "https://tracker.example/p.gif",
        "http://tracker.example/p.gif",
        "//tracker.example/p.gif",
        "HTTP://tracker.example/p.gif",
    ],
)
def test_remote_images_of_every_scheme_and_protocol_relative_ones_are_disarmed_alike(src):
    safe, remote = sanitize_html(f'<p>Hi</p><img src="{src}" alt="">')

    assert remote
    assert " src=" not in safe
    assert f'data-remote-src="{src}"' in safe
    assert f'<img src="{src}"' in with_remote_images(safe)


@pytest.mark.parametrize("src", ["/\\tracker.example/p.gif", "/logo.png", "logo.png"])
def test_other_image_sources_stay_disarmed_even_when_images_are_shown(src):
    safe, remote = sanitize_html(f'<img src="{src}" alt="">')

    assert " src=" not in safe
    assert not remote
    assert " src=" not in with_remote_images(safe)
