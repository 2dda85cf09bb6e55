"""Block Kit builders: pure functions from snapshots to Slack message and view dicts.

User text (titles, descriptions, notes, summaries) is stored as typed and shown
through `domain.text`: in mrkdwn with `show_within` (literal, person and channel
mentions live, broadcasts never), in `plain_text` with `plain_within`. Every
builder keeps within Slack's limits: 3,000 characters a section, 150 a header,
24 a modal title, 75 an option description, 50 blocks a message, 100 options a
select.

The primitives (section, button, modal…) are slack_sdk's Block Kit models
(`slack_sdk.models.blocks`, `slack_sdk.models.views`) serialised to the dicts
Slack receives; the other builder modules compose them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from slack_sdk.models.blocks import (
    ActionsBlock,
    ButtonElement,
    CheckboxesElement,
    ContextBlock,
    DividerBlock,
    HeaderBlock,
    InputBlock,
    MarkdownTextObject,
    Option,
    OverflowMenuElement,
    PlainTextInputElement,
    PlainTextObject,
    SectionBlock,
    StaticSelectElement,
    UserSelectElement,
)
from slack_sdk.models.views import View

from incidentbot.config import Config
from incidentbot.domain.incident import role_label
from incidentbot.domain.snapshot import IncidentSnapshot
from incidentbot.domain.text import (
    chunk_lines,
    escape,
    one_line,
    plain_within,
    show_within,
    truncate,
)
from incidentbot.durations import format_duration
from incidentbot.slack import ids

Blocks = list[dict[str, Any]]
SECTION_LIMIT = 3000
HEADER_LIMIT = 150
MAX_BLOCKS = 50
MESSAGE_CHARS = 12_000
BUTTON_TEXT_LIMIT = 75
OPTION_TEXT_LIMIT = 75
MODAL_TEXT_LIMIT = 24  # a modal's title, submit and close labels
LABEL_LIMIT = 2000  # an input's label and hint
MAX_OPTIONS = 100

SEVERITY_EMOJI = {0: ":red_circle:", 1: ":large_orange_circle:", 2: ":large_yellow_circle:"}


# -- primitives -------------------------------------------------------------------
# Built on slack_sdk's Block Kit models, which check Slack's own limits as they
# serialise: our truncation keeps every payload within them, and a builder that
# ever overstepped would fail here, in the bot, not as `invalid_blocks` from Slack.
# Each primitive returns the dict Slack receives, so builders compose plain data.
def _plain_text(text: str, limit: int = SECTION_LIMIT) -> PlainTextObject:
    return PlainTextObject(text=plain_within(text, limit) or " ", emoji=True)


def _markdown(text: str) -> MarkdownTextObject:
    return MarkdownTextObject(text=truncate(text, SECTION_LIMIT))


def _label(text: str, limit: int) -> PlainTextObject:
    """Plain text the caller made safe: our own wording (a button, a title), or
    user text it already escaped."""
    return PlainTextObject(text=truncate(text, limit))


def plain(text: str, limit: int = SECTION_LIMIT) -> dict[str, Any]:
    """A plain_text object: shown literally (emoji codes still render)."""
    return _plain_text(text, limit).to_dict()


def mrkdwn(text: str) -> dict[str, Any]:
    return _markdown(text).to_dict()


def header(text: str) -> dict[str, Any]:
    return HeaderBlock(text=_plain_text(one_line(text), HEADER_LIMIT)).to_dict()


def section(text: str) -> dict[str, Any]:
    return SectionBlock(text=_markdown(text)).to_dict()


def plain_section(text: str) -> dict[str, Any]:
    """A section of user text shown as typed (no formatting, no mentions)."""
    return SectionBlock(text=_plain_text(text)).to_dict()


def fields(*texts: str) -> dict[str, Any]:
    """A section of side-by-side mrkdwn fields (at most 10)."""
    return SectionBlock(fields=[_markdown(t) for t in texts[:10]]).to_dict()


def context(*texts: str) -> dict[str, Any]:
    return ContextBlock(elements=[_markdown(t) for t in texts]).to_dict()


def divider() -> dict[str, Any]:
    return DividerBlock().to_dict()


def button(text: str, action_id: str, value: str, style: str | None = None) -> dict[str, Any]:
    return ButtonElement(
        text=_label(text, BUTTON_TEXT_LIMIT), action_id=action_id, value=value, style=style
    ).to_dict()


def actions(*elements: dict[str, Any], block_id: str | None = None) -> dict[str, Any]:
    """A row of buttons (or other interactive elements), at most 25."""
    return ActionsBlock(elements=list(elements[:25]), block_id=block_id).to_dict()


def option(text: str, value: str, description: str = "") -> dict[str, Any]:
    """A choice in a select, overflow menu or checkbox group (`text` already safe)."""
    return Option(
        text=_label(text, OPTION_TEXT_LIMIT),
        value=value,
        description=_label(description, OPTION_TEXT_LIMIT) if description else None,
    ).to_dict()


def static_select(
    options: Sequence[dict[str, Any]],
    initial: dict[str, Any] | None = None,
    *,
    action_id: str | None = None,
    placeholder: str = "",
) -> dict[str, Any]:
    """A drop-down (at most 100 options); `action_id` when it is not in an input block."""
    return StaticSelectElement(
        options=list(options[:MAX_OPTIONS]),
        initial_option=initial,
        action_id=action_id,
        placeholder=_label(placeholder, 150) if placeholder else None,
    ).to_dict()


def overflow(action_id: str, options: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The ⋯ menu: 2 to 5 options."""
    return OverflowMenuElement(action_id=action_id, options=list(options[:5])).to_dict()


def text_input(*, max_length: int, multiline: bool = False, initial: str = "") -> dict[str, Any]:
    """A text field; `initial` must already fit in `max_length`."""
    return PlainTextInputElement(
        multiline=multiline or None, max_length=max_length, initial_value=initial or None
    ).to_dict()


def users_select(initial: str | None = None) -> dict[str, Any]:
    return UserSelectElement(initial_user=initial).to_dict()


def checkboxes(
    options: Sequence[dict[str, Any]], initial: Sequence[dict[str, Any]] = ()
) -> dict[str, Any]:
    return CheckboxesElement(options=list(options), initial_options=list(initial) or None).to_dict()


def when(at: datetime, fmt: str = "{date_short_pretty} at {time}") -> str:
    """A time shown in each viewer's own timezone, with a UTC fallback."""
    fallback = at.strftime("%Y-%m-%d %H:%M UTC")
    return f"<!date^{int(at.timestamp())}^{fmt}|{fallback}>"


def user(user_id: str | None) -> str:
    return f"<@{user_id}>" if user_id else "_unassigned_"


def channel(channel_id: str | None) -> str:
    return f"<#{channel_id}>" if channel_id else "_no channel_"


def severity_badge(config: Config, severity: str) -> str:
    names = list(config.severity_names)
    rank = names.index(severity) if severity in names else len(names)
    return f"{SEVERITY_EMOJI.get(rank, ':white_circle:')} {severity.upper()}"


# -- messages ---------------------------------------------------------------------
def incident_fields(s: IncidentSnapshot, config: Config) -> dict[str, Any]:
    return fields(
        f"*Severity*\n{severity_badge(config, s.severity)}",
        f"*Status*\n{escape(s.status)}",
        f"*Incident Commander*\n{user(s.ic)}",
        f"*Channel*\n{channel(s.channel_id)}",
    )


def incident_card(s: IncidentSnapshot, config: Config, *, now: datetime) -> tuple[str, Blocks]:
    """The stakeholder card in announcement channels, edited in place on each change."""
    if s.private:
        return private_card(s, config)
    state = "resolved" if s.resolved else "open"
    text = f"{s.label} ({s.severity}, {s.status}): {show_within(one_line(s.title), 200)}"
    blocks: Blocks = [
        header(f"{s.label}: {s.title}"),
        incident_fields(s, config),
    ]
    if s.description:
        blocks.append(plain_section(s.description))
    if s.last_update_at and s.last_update_text:
        latest = show_within(one_line(s.last_update_text), 2500)
        blocks.append(section(f"*Latest update* ({when(s.last_update_at)}):\n{latest}"))
    footer = f"Declared by {user(s.declared_by)} {when(s.declared_at)} · {state}"
    if s.resolved and s.resolved_at:
        duration = format_duration(s.resolved_at - s.declared_at)
        footer += f" {when(s.resolved_at)} after {duration}"
    blocks.append(context(footer))
    if s.resolved and s.summary:
        blocks.append(plain_section(f"Resolution: {s.summary}"))
    return text, blocks


def private_card(s: IncidentSnapshot, config: Config) -> tuple[str, Blocks]:
    """The card of a private incident: severity and IC only, never title or updates."""
    state = "resolved" if s.resolved else "open"
    text = f"{s.label}: a private incident was declared ({s.severity}, {state})"
    return text, [
        header(f"{s.label}: a private incident was declared"),
        fields(
            f"*Severity*\n{severity_badge(config, s.severity)}",
            f"*Incident Commander*\n{user(s.ic)}",
        ),
        context(f":lock: Details are shared in the incident channel only · {state}"),
    ]


def welcome_message(s: IncidentSnapshot, config: Config) -> tuple[str, Blocks]:
    """The first message in the incident channel: summary, roles and working buttons."""
    text = f"{s.label} declared: {show_within(one_line(s.title), 200)}"
    roles = " · ".join(f"*{role_label(r)}:* {user(u)}" for r, u in s.roles.items() if u)
    blocks: Blocks = [header(f"{s.label}: {s.title}"), incident_fields(s, config)]
    if s.description:
        blocks.append(plain_section(s.description))
    blocks.append(section(f"*Roles:* {roles or '_none yet_'}"))
    blocks.append(
        context(
            f"Declared by {user(s.declared_by)} {when(s.declared_at)}. "
            "Type `/incident help` for every command."
        )
    )
    value = str(s.number)
    if not s.resolved:
        blocks.append(
            actions(
                button("Take IC", ids.TAKE_IC, value),
                button("Take Scribe", ids.TAKE_SCRIBE, value),
                button("Post update", ids.OPEN_UPDATE, value),
                button("Escalate", ids.ESCALATE, value),
                button("Resolve", ids.OPEN_RESOLVE, value, style="primary"),
                block_id="incident_actions",
            )
        )
    return text, blocks


def handover_request(
    s: IncidentSnapshot, role: str, *, asker: str, asker_name: str, holder: str
) -> tuple[str, Blocks]:
    """Someone pressed Take IC/Scribe but may not reassign it: ask the holder in one click.

    `asker_name` is for the button, which is plain text where no mention renders.
    """
    name = role_label(role)
    text = f"<@{asker}> offers to take over as {name} from <@{holder}>."
    hint = f"Only the Incident Commander, the Scribe or an admin can hand {name} over."
    value = f"{s.number}:{role}:{asker}"
    return text, [
        section(f":raising_hand: {text}"),
        context(hint),
        actions(
            button(f"Hand over to @{asker_name}", ids.HAND_OVER, value, "primary"),
            block_id="handover",
        ),
    ]


def handover_done(role: str, *, to: str, by: str) -> tuple[str, Blocks]:
    """The request after it was answered: the button is gone."""
    text = f":handshake: <@{by}> handed {role_label(role)} over to <@{to}>."
    return text, [section(text)]


def incident_list(
    incidents: Sequence[IncidentSnapshot], config: Config, *, now: datetime
) -> tuple[str, Blocks]:
    """Open incidents: number, title, severity, status, IC, channel link, age."""
    if not incidents:
        return "No open incidents. :tada:", [section("No open incidents. :tada:")]
    lines = [
        f"*{s.label}* {severity_badge(config, s.severity)} · {escape(s.status)} · "
        f"IC {user(s.ic)} · {channel(s.channel_id)} · {format_duration(now - s.declared_at)} old\n"
        f"{show_within(one_line(s.title), 300)}"
        for s in incidents
    ]
    chunks = chunk_lines(lines, SECTION_LIMIT)
    blocks: Blocks = [section(f"*{len(incidents)} open incident(s)*")]
    blocks += [section(c) for c in chunks[: MAX_BLOCKS - 2]]
    if len(chunks) > MAX_BLOCKS - 2:
        blocks.append(context("More incidents are open than fit in one message."))
    return f"{len(incidents)} open incident(s)", blocks


def notice(text: str) -> tuple[str, Blocks]:
    """A one-line announcement in the incident channel (text already safe)."""
    return text, [section(text)]


# -- modals -----------------------------------------------------------------------
def modal(callback_id: str, title: str, submit: str, blocks: Blocks, metadata: str = "") -> dict:
    return View(
        type="modal",
        callback_id=callback_id,
        title=_label(title, MODAL_TEXT_LIMIT),
        submit=_label(submit, MODAL_TEXT_LIMIT),
        close=_label("Cancel", MODAL_TEXT_LIMIT),
        private_metadata=metadata,
        blocks=blocks,
    ).to_dict()


def home_tab(blocks: Blocks) -> dict[str, Any]:
    """The App Home view (at most 100 blocks)."""
    return View(type="home", blocks=blocks[:100]).to_dict()


def input_block(
    block_id: str, label: str, element: dict, *, optional: bool = False, hint: str = ""
) -> dict:
    """A form field; its element's action_id is the block_id (see `view_values`)."""
    return InputBlock(
        block_id=block_id,
        label=_label(label, LABEL_LIMIT),
        element={**element, "action_id": block_id},
        optional=optional,
        hint=_label(hint, LABEL_LIMIT) if hint else None,
    ).to_dict()


def severity_options(config: Config) -> list[dict[str, Any]]:
    return [
        option(sev.name.upper(), sev.name, sev.description or sev.name)
        for sev in config.severities[:MAX_OPTIONS]
    ]


def declare_modal(config: Config, *, declarer: str, metadata: str, title: str = "") -> dict:
    """Title, severity (with descriptions), description, IC, Scribe, private."""
    options = severity_options(config)
    initial = next(o for o in options if o["value"] == config.default_severity)
    title_element = text_input(max_length=2000, initial=title)
    private_option = option("Private incident channel", "private")
    private_default = [private_option] if config.channels.private_by_default else []
    private_element = checkboxes([private_option], private_default)
    blocks = [
        input_block(ids.TITLE, "Title", title_element, hint="What is broken, in a few words."),
        input_block(
            ids.SEVERITY,
            "Severity",
            static_select(options, initial),
        ),
        input_block(
            ids.DESCRIPTION,
            "Description",
            text_input(max_length=2900, multiline=True),
            optional=True,
        ),
        input_block(ids.IC, "Incident Commander", users_select(declarer)),
        input_block(ids.SCRIBE, "Scribe", users_select(), optional=True),
        input_block(ids.PRIVATE, "Visibility", private_element, optional=True),
    ]
    return modal(ids.DECLARE_VIEW, "Declare an incident", "Declare", blocks, metadata)


def resolve_modal(s: IncidentSnapshot) -> dict:
    blocks = [
        section(f"Resolve *{s.label}*: {show_within(one_line(s.title), 2500)}"),
        input_block(
            ids.SUMMARY,
            "Resolution summary",
            text_input(max_length=2900, multiline=True),
            hint="What fixed it? Shown to stakeholders and in the postmortem.",
        ),
    ]
    return modal(ids.RESOLVE_VIEW, f"Resolve {s.label}", "Resolve", blocks, str(s.number))


def roles_modal(s: IncidentSnapshot, roles: Sequence[tuple[str, str]]) -> dict:
    """A user picker per configured role, pre-filled with the current holder."""
    blocks: Blocks = [section(f"Assign roles for *{s.label}*")]
    for name, description in roles[: MAX_BLOCKS - 1]:
        blocks.append(
            input_block(
                ids.ROLE_PREFIX + name,
                role_label(name),
                users_select(s.roles.get(name)),
                optional=True,
                hint=truncate(description, 150) if description else "",
            )
        )
    return modal(ids.ROLES_VIEW, f"Roles for {s.label}", "Save", blocks, str(s.number))


def role_lines(roles: Mapping[str, str]) -> str:
    return "\n".join(f"*{role_label(r)}:* {user(u)}" for r, u in roles.items())
