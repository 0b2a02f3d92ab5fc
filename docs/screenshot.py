"""The README's screenshot of the inbox, taken from a running demo (`make run`).

    make run                                  # in one terminal
    .venv/bin/python docs/screenshot.py       # in another: writes static/img/inbox.png

Debian's chromium through Playwright (as the browser tests), 1366x768 (a common office
laptop), German UI; logs in with the demo login that `make run` prints and opens the first
conversation of the list.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    parser.add_argument("--user", default="demo")
    parser.add_argument("--password", default="demo-kundenkommunikation")
    parser.add_argument("--out", type=Path, default=ROOT / "static" / "img" / "inbox.png")
    parser.add_argument("--size", default="1366x768")
    args = parser.parse_args()
    width, height = (int(n) for n in args.size.split("x"))

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path="/usr/bin/chromium",
            headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
        )
        context = browser.new_context(
            base_url=args.url, viewport={"width": width, "height": height}, locale="de-DE"
        )
        page = context.new_page()
        page.goto("/anmelden/")
        page.fill("#id_username", args.user)
        page.fill("#id_password", args.password)
        page.click("button[type=submit]")
        page.wait_for_selector("#rows li.row")
        page.click("#rows li.row .row-link")
        page.wait_for_selector("#detail #conv")
        page.wait_for_load_state("networkidle")
        page.mouse.move(0, height - 1)  # no hover effect in the picture
        page.screenshot(path=str(args.out))
        browser.close()
    print(f"{args.out} ({width}x{height})")


if __name__ == "__main__":
    main()
