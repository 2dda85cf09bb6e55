"""The playground's Block Kit and mrkdwn renderer, without a browser.

Tables of input → what the HTML must (and must not) contain. The HTML is also
parsed with the standard library to check that hostile text never produces an
element or attribute of its own.
"""

from __future__ import annotations

from html.parser import HTMLParser
from typing import Any

import pytest

from incidentbot.playground.page import home, modal
from incidentbot.playground.render import MAX_RENDERED_BLOCKS, Names, Renderer, mrkdwn

NAMES = Names(
    users={"U0ALICE": "Alice Chen", "U0EVIL": '<img src=x onerror="alert(1)">'},
    channels={"C0GENERAL": "general", "C0INC": "inc-1-db"},
    groups={"S0ONCALL": "oncall"},
    people=(("U0ALICE", "Alice Chen"), ("U0BOB", "Bob Okafor")),
)
HOSTILE = "<script>alert(1)</script> \"quoted\" 'single' & <img src=x onerror=alert(2)>"


class Tags(HTMLParser):
    """Every start tag and its attributes, to prove what the markup really contains."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def tags(markup: str) -> list[tuple[str, dict[str, str | None]]]:
    parser = Tags()
    parser.feed(markup)
    return parser.tags


def no_injection(markup: str) -> None:
    for tag, attrs in tags(markup):
        assert tag not in ("script", "img", "iframe", "object"), markup
        assert not any(name.startswith("on") for name in attrs), markup
        href = attrs.get("href") or ""
        assert not href.lower().startswith(("javascript:", "data:", "vbscript:")), markup


def text(kind: str, value: str) -> dict[str, Any]:
    return {"type": kind, "text": value}


def button(label: str, action_id: str = "a", **extra: Any) -> dict[str, Any]:
    return {"type": "button", "text": text("plain_text", label), "action_id": action_id, **extra}


def option(label: str, value: str) -> dict[str, Any]:
    return {"text": text("plain_text", label), "value": value}


# ---------------------------------------------------------------- mrkdwn


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("*bold*", "<strong>bold</strong>"),
        ("_italic_", "<em>italic</em>"),
        ("~gone~", "<del>gone</del>"),
        ("`x < y`", "<code>x &lt; y</code>"),
        ("```line 1\nline <2>```", "<pre>line 1\nline &lt;2&gt;</pre>"),
        # Formatting around a mention: the bot writes "*IC:* <@U…>" and "*<@U…> took IC*".
        ("*<@U0ALICE> took IC*", '<strong><span class="mention" data-user="U0ALICE">'),
        ("<@U0ALICE>", "@Alice Chen</span>"),
        ("<@U0NOBODY|nobody>", "@nobody</span>"),  # unknown id: the label Slack sent
        ("<#C0GENERAL>", "#general</a>"),
        ("<#C0UNKNOWN|old-name>", "#old-name</a>"),
        ("<!here>", '<span class="mention broadcast">@here</span>'),
        ("<!channel>", '<span class="mention broadcast">@channel</span>'),
        ("<!subteam^S0ONCALL>", "@oncall</span>"),
        ("<!subteam^S0GONE|@dbteam>", "@dbteam</span>"),
        ("<!date^1700000000^{date}|Nov 14>", "Nov 14"),
        (
            "<https://example.com/a?b=1&amp;c=2|the runbook>",
            '<a href="https://example.com/a?b=1&amp;c=2" target="_blank" '
            'rel="noopener noreferrer">the runbook</a>',
        ),
        ("<mailto:a@example.com|mail>", 'href="mailto:a@example.com"'),
        (":rotating_light: :pager: :white_check_mark:", "🚨"),
        (":no_such_emoji:", ":no_such_emoji:"),
        ("&gt; quoted\nplain", "<blockquote>quoted</blockquote>plain"),
        ("a &amp; b &lt;tag&gt;", "a &amp; b &lt;tag&gt;"),  # Slack's escapes shown as typed
        ("line 1\nline 2", "line 1<br>line 2"),
        ("snake_case_name and 2*3*4", "snake_case_name and 2*3*4"),  # no accidental styling
    ],
)
def test_mrkdwn(source: str, expected: str) -> None:
    assert expected in mrkdwn(source, NAMES)


@pytest.mark.parametrize(
    "source",
    [
        HOSTILE,
        "<javascript:alert(1)|click me>",
        "<JaVaScRiPt:alert(1)>",
        "<data:text/html,<script>alert(1)</script>|x>",
        "<@U0EVIL>",  # a display name full of markup
        "*<script>*",
        "`<script>`",
        "```<script>```",
        '<https://ok.example/"onmouseover="alert(1)|x>',
        "\ue0000\ue001 forged placeholder",
    ],
)
def test_mrkdwn_never_injects_markup(source: str) -> None:
    rendered = mrkdwn(source, NAMES)
    no_injection(rendered)
    assert "\ue000" not in rendered


def test_plain_at_channel_typed_by_a_person_is_not_a_mention() -> None:
    rendered = mrkdwn("@channel please look", NAMES)
    assert "broadcast" not in rendered
    assert rendered == "@channel please look"


# ---------------------------------------------------------------- blocks


BLOCK_CASES: list[tuple[str, dict[str, Any], list[str]]] = [
    (
        "section with mrkdwn text, fields and a button accessory",
        {
            "type": "section",
            "block_id": "b1",
            "text": text("mrkdwn", "*Severity*"),
            "fields": [text("mrkdwn", "*Status*\ninvestigating"), text("plain_text", "SEV1")],
            "accessory": button("Open", "open", value="7", style="primary"),
        },
        [
            "<strong>Severity</strong>",
            'class="bk-fields"',
            "investigating",
            '<button type="button" class="bk-button bk-primary" data-action-id="open"',
            'data-block-id="b1"',
            ">Open</button>",
        ],
    ),
    (
        "header (plain text, emoji)",
        {"type": "header", "text": text("plain_text", ":rotating_light: INC-1 <b>")},
        ['<h3 class="bk-header">', "🚨", "INC-1 &lt;b&gt;"],
    ),
    ("divider", {"type": "divider"}, ['<hr class="bk-divider">']),
    (
        "context with text and image",
        {
            "type": "context",
            "elements": [
                text("mrkdwn", "Declared by <@U0ALICE>"),
                {"type": "image", "image_url": "https://x/y.png", "alt_text": "logo"},
            ],
        },
        ['class="bk-context"', "@Alice Chen", 'aria-label="logo"'],
    ),
    (
        "actions: buttons with style and confirm, overflow, static select, users select",
        {
            "type": "actions",
            "block_id": "acts",
            "elements": [
                button(
                    "Resolve",
                    "resolve",
                    style="danger",
                    confirm={
                        "title": text("plain_text", "Resolve INC-1?"),
                        "text": text("mrkdwn", "This ends the *incident*."),
                        "confirm": text("plain_text", "Resolve"),
                        "deny": text("plain_text", "Keep open"),
                    },
                ),
                {
                    "type": "overflow",
                    "action_id": "menu",
                    "options": [option("Edit", "edit"), option("Delete", "delete")],
                },
                {
                    "type": "static_select",
                    "action_id": "sev",
                    "placeholder": text("plain_text", "Severity"),
                    "options": [option("SEV1", "sev1"), option("SEV2", "sev2")],
                    "initial_option": option("SEV2", "sev2"),
                },
                {"type": "users_select", "action_id": "who", "initial_user": "U0BOB"},
            ],
        },
        [
            'role="group"',
            'class="bk-button bk-danger"',
            'data-confirm-title="Resolve INC-1?"',
            'data-confirm-text="This ends the *incident*."',
            'data-confirm-no="Keep open"',
            '<select class="bk-overflow" aria-label="More actions"',
            '<option value="delete">Delete</option>',
            '<option value="sev2" selected>SEV2</option>',
            '<option value="U0BOB" selected>Bob Okafor</option>',
        ],
    ),
    (
        "input: plain text input, multiline, hint, optional",
        {
            "type": "input",
            "block_id": "title",
            "optional": True,
            "label": text("plain_text", "Title"),
            "hint": text("plain_text", "A few words"),
            "element": {
                "type": "plain_text_input",
                "action_id": "title",
                "multiline": True,
                "max_length": 200,
                "initial_value": "Checkout </textarea><script>",
            },
        },
        [
            "<label for=",
            ">Title <span",
            "(optional)",
            'class="bk-hint"',
            '<textarea class="bk-textarea"',
            'maxlength="200"',
            "Checkout &lt;/textarea&gt;&lt;script&gt;</textarea>",
        ],
    ),
    (
        "input: checkboxes in a fieldset with a legend",
        {
            "type": "input",
            "block_id": "private",
            "label": text("plain_text", "Visibility"),
            "element": {
                "type": "checkboxes",
                "action_id": "private",
                "options": [
                    {
                        **option("Private", "yes"),
                        "description": text("plain_text", "Only invited people"),
                    }
                ],
                "initial_options": [option("Private", "yes")],
            },
        },
        [
            "<fieldset",
            "<legend>Visibility",
            'type="checkbox"',
            'value="yes" checked',
            "Only invited",
        ],
    ),
    (
        "input: users select and static select are labelled and required",
        {
            "type": "input",
            "block_id": "ic",
            "label": text("plain_text", "Incident Commander"),
            "element": {"type": "users_select", "action_id": "ic"},
        },
        ["<label for=", "Incident Commander", " required", "Alice Chen"],
    ),
    (
        "rich_text",
        {
            "type": "rich_text",
            "elements": [
                {
                    "type": "rich_text_section",
                    "elements": [
                        {"type": "text", "text": "hi ", "style": {"bold": True}},
                        {"type": "user", "user_id": "U0ALICE"},
                        {"type": "broadcast", "range": "here"},
                    ],
                }
            ],
        },
        ["<strong>hi </strong>", "@Alice Chen", "@here"],
    ),
    (
        "unknown block: a labelled box with its JSON",
        {"type": "video", "title": text("plain_text", "<b>demo</b>")},
        ['class="bk-unknown"', "Unsupported block: <code>video</code>", "&lt;b&gt;demo"],
    ),
    (
        "unknown element in actions",
        {"type": "actions", "elements": [{"type": "workflow_button", "action_id": "w"}]},
        ["Unsupported element: <code>workflow_button</code>"],
    ),
    (
        "malformed block (fields not a list) is shown, not dropped",
        {"type": "section", "text": "not an object", "fields": 7},
        ["bk-section"],
    ),
]


@pytest.mark.parametrize(
    ("name", "block", "expected"), BLOCK_CASES, ids=[c[0] for c in BLOCK_CASES]
)
def test_blocks(name: str, block: dict[str, Any], expected: list[str]) -> None:
    rendered = Renderer(NAMES).blocks([block])
    for piece in expected:
        assert piece in rendered, f"{name}: {piece!r} missing in {rendered}"
    no_injection(rendered)


@pytest.mark.parametrize(
    "block",
    [
        {"type": "section", "text": text("mrkdwn", HOSTILE)},
        {"type": "section", "text": text("plain_text", HOSTILE)},
        {"type": "header", "text": text("plain_text", HOSTILE)},
        {"type": "context", "elements": [text("mrkdwn", HOSTILE)]},
        {"type": "actions", "elements": [button(HOSTILE, HOSTILE, value=HOSTILE)]},
        {
            "type": "actions",
            "block_id": HOSTILE,
            "elements": [
                {"type": "static_select", "action_id": "s", "options": [option(HOSTILE, HOSTILE)]}
            ],
        },
        {"type": "image", "image_url": "javascript:alert(1)", "alt_text": HOSTILE},
        {"type": HOSTILE},
        {"type": "actions", "elements": [button("x", url="javascript:alert(1)")]},
    ],
)
def test_hostile_text_in_blocks_is_shown_literally(block: dict[str, Any]) -> None:
    rendered = Renderer(NAMES).blocks([block])
    no_injection(rendered)
    assert "<script>" not in rendered
    assert 'data-url="javascript' not in rendered


def test_plain_text_is_not_mrkdwn() -> None:
    rendered = Renderer(NAMES).blocks(
        [{"type": "section", "text": text("plain_text", "*not bold* <@U0ALICE>")}]
    )
    assert "<strong>" not in rendered
    assert "*not bold* &lt;@U0ALICE&gt;" in rendered


def test_plain_text_shows_slacks_escapes_as_the_characters() -> None:
    header = {"type": "header", "text": text("plain_text", "INC-1: &lt;!channel&gt; &amp; co")}
    rendered = Renderer(NAMES).blocks([header])
    assert "INC-1: &lt;!channel&gt; &amp; co</h3>" in rendered  # reads "<!channel> & co"
    assert "&amp;lt;" not in rendered


def test_blocks_beyond_the_largest_surface_are_counted_not_rendered() -> None:
    blocks = [{"type": "divider"}] * (MAX_RENDERED_BLOCKS + 7)
    rendered = Renderer(NAMES).blocks(blocks)
    assert rendered.count("<hr") == MAX_RENDERED_BLOCKS
    assert "7 more blocks not shown" in rendered


def test_a_huge_unknown_block_is_shortened() -> None:
    rendered = Renderer(NAMES).blocks([{"type": "mystery", "data": "x" * 50_000}])
    assert len(rendered) < 3_000
    assert "…" in rendered


def test_long_text_is_kept_whole() -> None:
    long = "word " * 600  # a 3000-character section, Slack's limit
    rendered = Renderer(NAMES).blocks([{"type": "section", "text": text("mrkdwn", long)}])
    assert rendered.count("word") == 600


def test_modal_is_a_dialog_named_by_its_title_with_inline_errors() -> None:
    view = {
        "id": "V1",
        "type": "modal",
        "title": text("plain_text", "Declare an incident"),
        "submit": text("plain_text", "Declare"),
        "close": text("plain_text", "Cancel"),
        "blocks": [
            {
                "type": "input",
                "block_id": "title",
                "label": text("plain_text", "Title"),
                "element": {"type": "plain_text_input", "action_id": "title"},
            }
        ],
    }
    rendered = modal(view, NAMES, {"title": "Give the incident a title."}, "")
    found = dict(tags(rendered))
    dialog = next(attrs for tag, attrs in tags(rendered) if attrs.get("role") == "dialog")
    assert dialog["aria-modal"] == "true"
    heading_id = dialog["aria-labelledby"]
    assert f'<h2 id="{heading_id}">Declare an incident</h2>' in rendered
    assert 'role="alert"' in rendered and "Give the incident a title." in rendered
    assert 'aria-invalid="true"' in rendered
    assert '<button type="submit" class="bk-button bk-primary">Declare</button>' in rendered
    assert "form" in found


def test_home_is_a_region_with_tabs_and_its_blocks() -> None:
    view = {
        "id": "VHOME",
        "type": "home",
        "blocks": [
            {"type": "header", "text": text("plain_text", "Incidents")},
            {"type": "actions", "elements": [button("Declare incident", "home.declare")]},
        ],
    }
    rendered = home(view, NAMES, "D0ALICE")
    assert '<section class="home" aria-label="Home" data-container="view" data-view="VHOME">' in (
        rendered
    )
    assert '<button role="tab" aria-selected="true" type="button">Home</button>' in rendered
    assert 'data-goto="D0ALICE">Messages</button>' in rendered
    assert ">Declare incident</button>" in rendered
    assert "Loading" in home(None, NAMES, None)
