"""`python -m incidentbot.playground.screenshot [OUT.png]`: README's picture, made by a script.

Starts a playground, runs a short incident in headless Chromium the way a
person would (declare by typing, the on-call engineer acknowledges the page,
a status change, a message added to the timeline), and saves a screenshot of
the incident channel (default ``docs/playground.png``).

Needs the ``dev`` extra (Playwright for Python) and a Chromium (Debian:
``apt-get install chromium fonts-noto-color-emoji``); ``INCIDENTBOT_CHROMIUM``
names another binary. No browser is downloaded.
"""

from __future__ import annotations

import os
import re
import shutil
import sys
from pathlib import Path
from typing import Any

from incidentbot.playground.server import start

DEFAULT_OUT = Path("docs/playground.png")
WAIT_MS = 30_000


def chromium() -> str | None:
    explicit = os.environ.get("INCIDENTBOT_CHROMIUM")
    if explicit:
        return explicit
    return next(
        (p for n in ("chromium", "chromium-browser", "google-chrome") if (p := shutil.which(n))),
        None,
    )


def main(argv: list[str]) -> int:
    out = Path(argv[0]) if argv else DEFAULT_OUT
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        print("needs Playwright: pip install -e '.[dev]'", file=sys.stderr)
        return 2
    binary = chromium()
    if binary is None:
        print(
            "needs Chromium: apt-get install chromium (or set INCIDENTBOT_CHROMIUM)",
            file=sys.stderr,
        )
        return 2
    playground = start(0)
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=binary, args=["--no-sandbox"])
            page = browser.new_page(viewport={"width": 1280, "height": 860})
            page.set_default_timeout(WAIT_MS)
            page.goto(playground.url)
            run_incident(page)
            out.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(out))
            browser.close()
    finally:
        playground.stop()
    print(f"wrote {out}")
    return 0


def run_incident(page: Any) -> None:
    from playwright.sync_api import expect

    nav = page.get_by_role("navigation", name="Channels")
    say(page, "/incident declare sev1 Checkout is failing")
    channel = nav.get_by_role("link", name=re.compile(r"^#inc-1-checkout-is-failing"))
    expect(channel).to_be_visible()
    page.get_by_label("Viewing as").select_option(label="Bob Okafor")
    nav.get_by_role("link", name=re.compile(r"^incidentbot \(direct messages\)")).click()
    page.get_by_role("button", name="Acknowledge").first.click()
    expect(page.get_by_role("article").filter(has_text="Acknowledged by")).to_be_visible()
    channel.click()
    say(page, "Error rate jumped right after the 14:05 payments deploy; rolling it back now.")
    said = page.get_by_role("article").filter(has_text="rolling it back now").last
    page.get_by_label("Viewing as").select_option(label="Alice Chen")
    said.hover()
    said.get_by_role("button", name="Add to incident timeline").click()
    expect(said.get_by_label("Reactions")).to_be_visible()
    say(page, "/incident status identified")
    expect(page.locator("#channel-header")).to_contain_text("identified")
    page.get_by_role("textbox", name="Message").click()  # move the pointer off the messages
    page.mouse.move(0, 0)


def say(page: Any, text: str) -> None:
    box = page.get_by_role("textbox", name="Message")
    box.fill(text)
    box.press("Enter")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
