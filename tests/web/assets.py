"""The stylesheets and scripts a page asks for, read from its HTML."""
from __future__ import annotations

from html.parser import HTMLParser
from urllib.parse import urljoin


class _AssetParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "link" and "stylesheet" in (found.get("rel") or "").split() and found.get("href"):
            self.urls.append(str(found["href"]))
        elif tag == "script" and found.get("src"):
            self.urls.append(str(found["src"]))


def page_assets(page_url: str, html: str) -> list[str]:
    """Absolute URLs of every <link rel=stylesheet> and <script src> of the page."""
    parser = _AssetParser()
    parser.feed(html)
    return [urljoin(page_url, url) for url in parser.urls]
