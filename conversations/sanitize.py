"""Making inbound HTML safe to show, and plain text from HTML.

nh3 does the sanitising (allow-lists of tags, attributes, URL schemes and CSS
properties). Afterwards remote images are disarmed: their URL moves from
``src`` to ``data-remote-src`` so that nothing is fetched until an agent asks
("Bilder anzeigen"); ``cid:`` images stay, the viewer maps them to attachments.
Every other ``src`` is disarmed, whatever its form: ``http:``, ``https:`` and
protocol-relative ``//host/img`` alike, and only those three are ever armed again;
anything else (a relative path, which means nothing in a mail, or a form browsers
might read as another host) stays disarmed.
"""

from __future__ import annotations

import re
from html import unescape
from html.parser import HTMLParser

import nh3

ALLOWED_TAGS = {
    "a", "abbr", "address", "b", "bdi", "bdo", "blockquote", "br", "caption", "center",
    "cite", "code", "col", "colgroup", "dd", "del", "details", "dfn", "div", "dl", "dt",
    "em", "figcaption", "figure", "font", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "i",
    "img", "ins", "kbd", "li", "mark", "ol", "p", "pre", "q", "s", "samp", "small", "span",
    "strike", "strong", "sub", "summary", "sup", "table", "tbody", "td", "tfoot", "th",
    "thead", "tr", "tt", "u", "ul", "var",
}  # fmt: skip

# Removed together with their content, not just unwrapped.
DROPPED_WITH_CONTENT = {"script", "style", "title", "head", "noscript", "template", "iframe",
                        "object", "embed", "svg", "math", "form", "select", "textarea", "button"}  # fmt: skip

ALLOWED_ATTRIBUTES = {
    "*": {"style", "title", "dir", "lang", "align", "valign", "width", "height", "class"},
    "a": {"href", "name"},
    "img": {"src", "alt"},
    "font": {"color", "face", "size"},
    "table": {"border", "cellpadding", "cellspacing", "bgcolor"},
    "td": {"colspan", "rowspan", "bgcolor", "nowrap"},
    "th": {"colspan", "rowspan", "bgcolor", "nowrap", "scope"},
    "col": {"span"},
    "colgroup": {"span"},
    "ol": {"start", "type"},
    "blockquote": {"cite"},
}

# CSS properties that cannot load anything (no url(), no background-image).
ALLOWED_STYLE_PROPERTIES = {
    "color", "background-color", "font", "font-family", "font-size", "font-style",
    "font-weight", "line-height", "letter-spacing", "text-align", "text-decoration",
    "text-transform", "vertical-align", "white-space", "word-break", "margin", "margin-top",
    "margin-right", "margin-bottom", "margin-left", "padding", "padding-top",
    "padding-right", "padding-bottom", "padding-left", "border", "border-top",
    "border-right", "border-bottom", "border-left", "border-color", "border-style",
    "border-width", "border-collapse", "border-spacing", "border-radius", "width",
    "height", "max-width", "min-width", "max-height", "display", "list-style-type",
}  # fmt: skip

URL_SCHEMES = {"http", "https", "mailto", "tel", "cid"}

# nh3 serialises attributes canonically (lower-case, double-quoted, escaped), so these
# rewrites of its own output are exact. Every img src but cid: is disarmed.
_ARMED_IMG = re.compile(r'(<img\b[^>]*?\s)src="(?!cid:)', re.IGNORECASE)
# what "Bilder anzeigen" loads: absolute http(s) and protocol-relative URLs, nothing else
_REMOTE_SRC = re.compile(r' data-remote-src="((?:https?:)?//[^"]*)"', re.IGNORECASE)


def sanitize_html(html: str) -> tuple[str, bool]:
    """Return the safe HTML and whether it references remote images."""
    if not html.strip():
        return "", False
    cleaned = nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        clean_content_tags=DROPPED_WITH_CONTENT,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes=URL_SCHEMES,
        filter_style_properties=ALLOWED_STYLE_PROPERTIES,
        link_rel="noopener noreferrer nofollow",
        strip_comments=True,
    )
    disarmed = disarm_remote_images(cleaned)
    return disarmed, bool(_REMOTE_SRC.search(disarmed))


def disarm_remote_images(safe_html: str) -> str:
    """Every ``<img src>`` but ``cid:`` moved to ``data-remote-src``; idempotent, so the
    viewer applies it again to HTML stored before ``//host`` was disarmed."""
    return _ARMED_IMG.sub(r'\1data-remote-src="', safe_html)


def with_remote_images(safe_html: str) -> str:
    """The stored safe HTML with remote images enabled again (on the agent's request):
    ``http:``, ``https:`` and ``//`` URLs, the schemes the viewer's CSP then allows."""
    return _REMOTE_SRC.sub(r' src="\1"', safe_html)


_BLOCK_TAGS = {"p", "div", "br", "tr", "li", "h1", "h2", "h3", "h4", "h5", "h6", "table",
               "blockquote", "pre", "hr", "dd", "dt", "section", "article", "header", "footer"}  # fmt: skip
_SKIP_CONTENT = {"script", "style", "head", "title", "noscript", "template"}


class _TextExtractor(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip = 0
        self._href: str | None = None

    def handle_starttag(self, tag, attrs):
        if tag in _SKIP_CONTENT:
            self._skip += 1
        elif tag in _BLOCK_TAGS:
            self.parts.append("\n")
        if tag == "li":
            self.parts.append("- ")
        if tag == "a":
            self._href = dict(attrs).get("href")

    def handle_endtag(self, tag):
        if tag in _SKIP_CONTENT and self._skip:
            self._skip -= 1
        elif tag in _BLOCK_TAGS:
            self.parts.append("\n")
        if tag == "a" and self._href:
            if self._href.startswith(("http://", "https://")):
                self.parts.append(f" <{self._href}>")
            self._href = None

    def handle_data(self, data):
        if not self._skip:
            self.parts.append(re.sub(r"\s+", " ", data))


def html_to_text(html: str) -> str:
    """Readable plain text from HTML: block elements become line breaks, links keep their URL."""
    parser = _TextExtractor()
    try:
        parser.feed(html)
        parser.close()
    except Exception:  # HTMLParser is lenient; this is only a last resort
        return unescape(re.sub(r"<[^>]+>", " ", html))
    text = "".join(parser.parts)
    lines = [line.strip() for line in text.splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()
