"""The playground in a real headless Chromium: what a person does in the browser.

One playground (stand-in, real bot, workspace page) serves the whole module;
each test opens its own page and declares its own incident. Chromium is
Debian's ``chromium`` (``.ci/run`` installs it) driven by Playwright for
Python through ``executable_path``; no browser is downloaded. Without Chromium
or Playwright the tests skip and say why.

Waits are Playwright's auto-waiting assertions (polling for a condition), never
fixed sleeps.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import Session, select

from incidentbot.playground.server import Playground, start
from incidentbot.store.models import Incident, RoleAssignment, TimelineEntry

playwright_api = pytest.importorskip(
    "playwright.sync_api", reason="Playwright for Python is not installed (pip install -e .[dev])"
)
expect = playwright_api.expect

WAIT_MS = 20_000  # generous: two cores shared by many test runs


def find_chromium() -> str | None:
    """Debian's chromium, or the one INCIDENTBOT_CHROMIUM names."""
    explicit = os.environ.get("INCIDENTBOT_CHROMIUM")
    if explicit:
        return explicit if Path(explicit).exists() else None
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


CHROMIUM = find_chromium()
expect.set_options(timeout=WAIT_MS)  # assertions poll this long (Playwright's default is 5 s)
pytestmark = pytest.mark.skipif(
    CHROMIUM is None,
    reason="no Chromium found (apt-get install chromium, or set INCIDENTBOT_CHROMIUM)",
)


@pytest.fixture(scope="module")
def playground(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Playground]:
    running = start(0, tmp_path_factory.mktemp("playground"))
    yield running
    running.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with playwright_api.sync_playwright() as p:
        launched = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Any, playground: Playground) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(WAIT_MS)
    opened = context.new_page()
    opened.goto(playground.url)
    expect(channels(opened).get_by_role("link", name="#general")).to_be_visible()
    yield opened
    context.close()


# ---------------------------------------------------------------- helpers


def channels(page: Any) -> Any:
    return page.get_by_role("navigation", name="Channels")


def type_message(page: Any, text: str) -> None:
    box = page.get_by_role("textbox", name="Message")
    box.fill(text)
    box.press("Enter")


def view_as(page: Any, name: str) -> None:
    page.get_by_label("Viewing as").select_option(label=name)


def open_channel(page: Any, name: str) -> None:
    link = channels(page).get_by_role("link", name=re.compile(rf"^{re.escape(name)}\b"))
    link.click()
    expect(page.get_by_role("heading", level=1, name=name)).to_be_visible()


def declare_by_typing(page: Any, title: str, severity: str = "sev3") -> str:
    type_message(page, f"/incident declare {severity} {title}")
    slug = re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")
    link = channels(page).get_by_role("link", name=re.compile(rf"^#inc-\d+-{slug}"))
    expect(link).to_be_visible()
    name = link.inner_text().split()[0]
    open_channel(page, name)
    return name


def incident_titled(playground: Playground, title: str) -> Incident:
    with Session(playground.runtime.engine) as session:
        found = session.exec(select(Incident).where(Incident.title == title)).first()
        assert found is not None
        return found


def ic_of(playground: Playground, number: int | None) -> str | None:
    with Session(playground.runtime.engine) as session:
        stmt = select(RoleAssignment).where(
            RoleAssignment.incident_id == number,
            RoleAssignment.role == "incident_commander",
            RoleAssignment.ended_at.is_(None),  # type: ignore[union-attr]
        )
        held = session.exec(stmt).first()
        return held.user_id if held else None


# ---------------------------------------------------------------- tests


def test_declare_by_typing_take_ic_and_the_page_acknowledged(
    page: Any, playground: Playground
) -> None:
    """Declared by typing; Dave takes IC from the card; Bob's page arrives and he acks it."""
    declare_by_typing(page, "Payments are down", severity="sev2")
    card = page.get_by_role("article").filter(has_text="Payments are down").first
    expect(card.get_by_role("button", name="Take IC")).to_be_visible()

    expect(page.locator("#channel-header")).to_contain_text("Topic: SEV2 | investigating")
    expect(card).to_contain_text("Pinned")

    view_as(page, "Dave Kim")
    card.get_by_role("button", name="Take IC").click()
    expect(card.filter(has_text="Incident Commander")).to_contain_text("@Dave Kim")

    view_as(page, "Bob Okafor")
    dm = channels(page).get_by_role("link", name=re.compile("^incidentbot \\(direct messages\\)"))
    dm.click()
    paged = page.get_by_role("article").filter(has_text="You are paged").last
    expect(paged).to_contain_text("Payments are down")
    paged.get_by_role("button", name="Acknowledge").click()
    # The page is edited in place: the button gives way to who acknowledged it.
    acked = page.get_by_role("article").filter(has_text="Acknowledged by @Bob Okafor")
    expect(acked).to_contain_text("Payments are down")
    expect(acked.get_by_role("button", name="Acknowledge")).to_have_count(0)
    incident = incident_titled(playground, "Payments are down")
    assert incident.severity == "sev2"
    assert incident.acknowledged_at is not None
    assert ic_of(playground, incident.id) == "U0DAVE"


def test_declare_modal_shows_inline_errors_then_declares(page: Any, playground: Playground) -> None:
    type_message(page, "/incident declare")
    dialog = page.get_by_role("dialog", name="Declare an incident")
    expect(dialog).to_be_visible()
    dialog.get_by_label("Title").fill("   ")  # not empty, so the browser lets it through
    dialog.get_by_role("button", name="Declare").click()
    expect(dialog.get_by_role("alert")).to_have_text("Give the incident a title.")
    expect(dialog.get_by_label("Title")).to_have_attribute("aria-invalid", "true")
    expect(dialog.get_by_label("Title")).to_have_value("   ")  # what was typed stays

    dialog.get_by_label("Title").fill("Search results are stale")
    dialog.get_by_label("Severity").select_option(value="sev4")
    dialog.get_by_role("button", name="Declare").click()
    expect(dialog).to_be_hidden()
    link = channels(page).get_by_role(
        "link", name=re.compile("^#inc-\\d+-search-results-are-stale")
    )
    expect(link).to_be_visible()
    assert incident_titled(playground, "Search results are stale").severity == "sev4"


def test_an_error_is_visible_only_to_its_sender(page: Any) -> None:
    type_message(page, "/incident frobnicate now")
    mine = page.get_by_role("article").filter(has_text="Only visible to you")
    expect(mine.last).to_contain_text("frobnicate")
    view_as(page, "Erin Novak")
    expect(page.get_by_role("heading", level=1, name="#general")).to_be_visible()
    expect(page.get_by_role("article").filter(has_text="frobnicate")).to_have_count(0)


def test_the_home_tab(page: Any) -> None:
    channels(page).get_by_role("link", name="incidentbot", exact=True).click()
    home = page.get_by_role("region", name="Home")
    expect(home.get_by_role("button").first).to_be_visible()
    expect(page.get_by_role("tab", name="Home")).to_have_attribute("aria-selected", "true")


def test_message_shortcut_adds_to_the_timeline(page: Any, playground: Playground) -> None:
    declare_by_typing(page, "Login latency spikes")
    type_message(page, "Rolled back the auth deploy at 10:42")
    said = page.get_by_role("article").filter(has_text="Rolled back the auth deploy").last
    expect(said).to_be_visible()
    said.hover()
    said.get_by_role("button", name="Add to incident timeline").click()
    expect(said.get_by_label("Reactions")).to_be_visible()  # the bot's ✅ on the message
    number = incident_titled(playground, "Login latency spikes").id
    texts = [e.text for e in _timeline(playground, number)]
    assert any("Rolled back the auth deploy" in t for t in texts)


def test_resolve_and_the_postmortem_file(page: Any, playground: Playground) -> None:
    declare_by_typing(page, "Cache cluster lost quorum")
    type_message(page, "/incident resolve")
    dialog = page.get_by_role("dialog", name=re.compile("Resolve"))
    dialog.get_by_role("textbox").first.fill("Replaced the failed node")
    dialog.get_by_role("button", name=re.compile("Resolve")).click()
    expect(dialog).to_be_hidden()
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    expect(page.locator("#channel-header")).to_contain_text("resolved")

    type_message(page, "/incident postmortem")
    file_link = page.get_by_role("link", name=re.compile("postmortem", re.IGNORECASE)).last
    expect(file_link).to_be_visible()
    with page.context.expect_page() as opened:
        file_link.click()
    document = opened.value
    document.wait_for_load_state()
    assert "Cache cluster lost quorum" in document.content()
    assert "Replaced the failed node" in document.content()


def _timeline(playground: Playground, number: int | None) -> list[Any]:
    with Session(playground.runtime.engine) as session:
        stmt = select(TimelineEntry).where(TimelineEntry.incident_id == number)
        return list(session.exec(stmt).all())


def test_threads(page: Any) -> None:
    type_message(page, "Is anyone else seeing 502s from the API gateway?")
    main = page.get_by_role("main")
    asked = main.get_by_role("article").filter(has_text="502s from the API gateway").last
    asked.hover()
    asked.get_by_role("button", name="Reply in thread").click()
    thread = page.get_by_role("complementary", name="Thread")
    expect(thread).to_be_visible()
    reply = thread.get_by_role("textbox", name="Reply in thread")
    reply.fill("Yes, since 10:40")
    reply.press("Enter")
    expect(thread.get_by_role("article").filter(has_text="Yes, since 10:40")).to_be_visible()
    expect(asked.get_by_role("button", name="1 reply")).to_be_visible()
    expect(main.get_by_role("article").filter(has_text="Yes, since 10:40")).to_have_count(0)


def test_fire_sample_alert(page: Any, playground: Playground) -> None:
    """The control exists only when the bot serves POST /alerts/<source> (PRODUCT.md §9)."""
    control = page.get_by_role("button", name="Fire sample alert")
    if not playground.workspace.alerts:
        expect(control).to_be_hidden()
        pytest.skip("this bot has no alert ingestion: the control is hidden, as it should be")
    control.click()
    expect(page.get_by_role("status")).to_contain_text("202")
    open_channel(page, "#incidents")
    triage = page.get_by_role("article").filter(has_text="Checkout error rate above 5%").first
    expect(triage).to_contain_text("FIRING")

    triage.get_by_role("button", name="Acknowledge").click()
    expect(triage).to_contain_text("ACKNOWLEDGED")
    triage.get_by_role("button", name="Declare incident").click()
    dialog = page.get_by_role("dialog", name="Declare an incident")
    title = dialog.get_by_label("Title")
    expect(title).to_have_value(re.compile("Checkout error rate above 5%"))
    dialog.get_by_role("button", name="Declare").click()
    expect(dialog).to_be_hidden()
    link = channels(page).get_by_role("link", name=re.compile(r"^#inc-\d+-checkout-error-rate"))
    expect(link).to_be_visible()
