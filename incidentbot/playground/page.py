"""The playground page's parts as HTML, rendered from the stand-in's workspace state.

Responsible for: what one person sees — the sidebar (channels, the app, DMs),
a channel with its topic, messages, pins, reactions, threads, files and the
ephemeral messages only they can see, the open modal with its inline errors,
and the App Home tab. Pure functions of a `Snapshot`; escaping happens in
`render`.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from incidentbot.playground.render import Names, Renderer, esc, mrkdwn, plain, plain_string
from incidentbot.playground.seed import MESSAGE_SHORTCUTS
from incidentbot.playground.standin import BOT_USER_ID, Channel, Message, SlackStandIn, ts_key

HOME = "home"  # the pseudo-channel of the app's Home tab
MAX_SHOWN = 300  # newest messages shown in a channel or thread


@dataclass
class Snapshot:
    """What the page needs, copied under the stand-in's lock so rendering never races."""

    names: Names
    user: str
    channels: list[Channel]
    current: Channel | None
    messages: list[Message]
    ephemerals: list[dict[str, Any]]
    modal: dict[str, Any] | None
    home: dict[str, Any] | None
    dm_id: str | None
    unread: set[str] = field(default_factory=set)


def names_of(standin: SlackStandIn) -> Names:
    users = {uid: (u.real_name or u.name) for uid, u in standin.users.items()}
    channels = {cid: c.name for cid, c in standin.channels.items() if not c.is_im}
    groups = {gid: g.handle for gid, g in standin.usergroups.items()}
    people = tuple(
        (uid, users[uid]) for uid, u in standin.users.items() if not u.is_bot and not u.deleted
    )
    return Names(users, channels, groups, people)


def visible_channels(standin: SlackStandIn, user: str) -> list[Channel]:
    """Public channels, and private ones the person is in; DMs and group DMs excluded."""
    return sorted(
        (
            c
            for c in standin.channels.values()
            if not c.is_im and not c.is_mpim and (not c.is_private or user in c.members)
        ),
        key=lambda c: (c.is_archived, c.name),
    )


def time_of(ts: str) -> tuple[str, str]:
    """(ISO instant, HH:MM:SS UTC) of a Slack timestamp."""
    moment = datetime.datetime.fromtimestamp(ts_key(ts) / 1_000_000, tz=datetime.UTC)
    return moment.isoformat(), moment.strftime("%H:%M:%S")


# ---------------------------------------------------------------- sidebar


def sidebar(snap: Snapshot) -> str:
    current = snap.current.id if snap.current else HOME if snap.home is not None else ""
    items = []
    for channel in snap.channels:
        classes = ["archived"] if channel.is_archived else []
        if channel.id in snap.unread:
            classes.append("unread")
        items.append(_nav_link(channel.id, f"#{channel.name}", current, classes))
    app_links = _nav_link(HOME, "incidentbot", current, [])
    dm = ""
    if snap.dm_id:
        classes = ["unread"] if snap.dm_id in snap.unread else []
        dm = _nav_link(snap.dm_id, "incidentbot (direct messages)", current, classes)
    return (
        f'<h2 class="nav-heading">Channels</h2><ul>{"".join(items)}</ul>'
        f'<h2 class="nav-heading">Apps</h2><ul>{app_links}</ul>'
        f'<h2 class="nav-heading">Direct messages</h2><ul>{dm}</ul>'
    )


def _nav_link(target: str, label: str, current: str, classes: list[str]) -> str:
    here = ' aria-current="page"' if target == current else ""
    cls = f' class="{" ".join(classes)}"' if classes else ""
    unread = ' <span class="visually-hidden">(new messages)</span>' if "unread" in classes else ""
    return f'<li><a href="#" data-goto="{esc(target)}"{here}{cls}>{esc(label)}{unread}</a></li>'


# ---------------------------------------------------------------- a channel


def channel_header(snap: Snapshot) -> str:
    channel = snap.current
    if channel is None:
        return '<h1 id="main-title">incidentbot</h1>'
    if channel.is_im:
        title = "incidentbot"
    else:
        title = f"#{channel.name}" + (" (archived)" if channel.is_archived else "")
    topic = ""
    if channel.topic:
        shown = mrkdwn(channel.topic, snap.names)
        topic = f'<p class="topic"><span class="label">Topic:</span> {shown}</p>'

    pins = f'<p class="pins">📌 {len(channel.pins)} pinned</p>' if channel.pins else ""
    members = f'<p class="members">{len(channel.members)} members</p>' if not channel.is_im else ""
    meta = f'<div class="channel-meta">{topic}{pins}{members}</div>'
    return f'<h1 id="main-title">{esc(title)}</h1>{meta}'


def messages(snap: Snapshot, *, thread_ts: str | None = None) -> str:
    """The channel's top-level messages (or one thread) with the viewer's ephemerals."""
    channel = snap.current
    if channel is None:
        return ""
    if thread_ts:
        shown = [m for m in snap.messages if m.ts == thread_ts or m.thread_ts == thread_ts]
        ephemerals = [e for e in snap.ephemerals if e.get("thread_ts") == thread_ts]
    else:
        shown = [m for m in snap.messages if not m.is_reply or m.subtype == "thread_broadcast"]
        ephemerals = [e for e in snap.ephemerals if not e.get("thread_ts")]
    items: list[tuple[int, str]] = [
        (ts_key(m.ts), message(m, channel, snap.names, in_thread=bool(thread_ts))) for m in shown
    ]
    items += [(ts_key(e["message_ts"]), ephemeral(e, snap.names)) for e in ephemerals]
    items.sort(key=lambda item: item[0])
    if not items:
        return '<p class="empty">No messages yet.</p>'
    older = len(items) - MAX_SHOWN
    shown_html = "".join(html for _, html in items[-MAX_SHOWN:])
    if older > 0:  # a long-running channel stays quick to render
        return f'<p class="empty">{older} older messages not shown.</p>{shown_html}'
    return shown_html


def message(msg: Message, channel: Channel, names: Names, *, in_thread: bool = False) -> str:
    # Slack shows an app's messages under the app's name.
    author = "incidentbot" if msg.user == BOT_USER_ID else names.users.get(msg.user, msg.user)
    iso, clock = time_of(msg.ts)
    badges = ""
    if msg.ts in channel.pins:
        badges += '<span class="badge pinned">📌 Pinned</span>'
    if msg.edited:
        badges += '<span class="badge">(edited)</span>'
    if msg.user == BOT_USER_ID:
        badges += '<span class="badge app">APP</span>'
    renderer = Renderer(names, id_prefix=f"m{msg.ts.replace('.', '')}")
    body = renderer.blocks(msg.blocks) if msg.blocks else mrkdwn(msg.text or "", names)
    parts = [
        f'<header><span class="author">{esc(author)}</span>{badges}'
        f'<time datetime="{iso}">{clock}</time></header>',
        f'<div class="body">{body}</div>',
        attachments(msg.attachments, names),
        files(msg.files),
        reactions(msg),
    ]
    if msg.reply_count and not in_thread and not msg.is_reply:
        noun = "reply" if msg.reply_count == 1 else "replies"
        parts.append(
            f'<button type="button" class="thread-link" data-thread="{esc(msg.ts)}">'
            f"{msg.reply_count} {noun}</button>"
        )
    parts.append(_tools(msg.ts if not in_thread and not msg.is_reply else None))
    return (
        f'<article class="msg" aria-label="{esc(author)} at {clock}" data-container="message" '
        f'data-channel="{esc(channel.id)}" data-ts="{esc(msg.ts)}">{"".join(parts)}</article>'
    )


def _tools(thread_ts: str | None) -> str:
    shortcuts = "".join(
        f'<button type="button" data-shortcut="{esc(callback)}">{esc(name)}</button>'
        for name, callback in MESSAGE_SHORTCUTS
    )
    reply = (
        f'<button type="button" data-thread="{esc(thread_ts)}">Reply in thread</button>'
        if thread_ts
        else ""
    )
    return (
        '<div class="msg-tools" role="group" aria-label="Message actions">'
        '<button type="button" data-react="pushpin" aria-label="React with pushpin">📌</button>'
        f"{reply}{shortcuts}</div>"
    )


def ephemeral(eph: Mapping[str, Any], names: Names) -> str:
    iso, clock = time_of(str(eph["message_ts"]))
    renderer = Renderer(names, id_prefix=f"e{str(eph['message_ts']).replace('.', '')}")
    blocks = eph.get("blocks")
    body = renderer.blocks(blocks) if blocks else mrkdwn(str(eph.get("text") or ""), names)
    return (
        f'<article class="msg ephemeral" aria-label="incidentbot at {clock}, only visible to you" '
        f'data-container="message" data-ephemeral="1" data-channel="{esc(eph.get("channel"))}" '
        f'data-ts="{esc(eph["message_ts"])}">'
        f'<header><span class="author">incidentbot</span><span class="badge app">APP</span>'
        f'<time datetime="{iso}">{clock}</time></header>'
        f'<p class="only-you">👁 Only visible to you</p><div class="body">{body}</div>'
        f"{attachments(eph.get('attachments'), names)}</article>"
    )


def attachments(items: Any, names: Names) -> str:
    if not isinstance(items, list) or not items:
        return ""
    out = []
    for item in items:
        if not isinstance(item, Mapping):
            continue
        renderer = Renderer(names, id_prefix="att")
        inner = ""
        for key in ("pretext", "title", "text"):
            if isinstance(item.get(key), str):
                inner += f'<div class="att-{key}">{mrkdwn(item[key], names)}</div>'
        if isinstance(item.get("blocks"), list):
            inner += renderer.blocks(item["blocks"])
        for fld in item.get("fields") or []:
            if isinstance(fld, Mapping):
                inner += (
                    f'<div class="att-field"><strong>{esc(fld.get("title"))}</strong> '
                    f"{mrkdwn(str(fld.get('value') or ''), names)}</div>"
                )
        out.append(f'<div class="attachment">{inner}</div>')
    return "".join(out)


def files(items: list[dict[str, Any]]) -> str:
    links = "".join(
        f'<li><a class="file" href="/files/{esc(f.get("id"))}" target="_blank" '
        f'rel="noopener">📄 {esc(f.get("title") or f.get("name"))}</a></li>'
        for f in items
        if isinstance(f, Mapping)
    )
    return f'<ul class="files">{links}</ul>' if links else ""


def reactions(msg: Message) -> str:
    if not msg.reactions:
        return ""
    items = "".join(
        f'<li><span class="reaction" title=":{esc(name)}:">{plain(f":{name}:")} '
        f"{len(users)}</span></li>"
        for name, users in msg.reactions.items()
    )
    return f'<ul class="reactions" aria-label="Reactions">{items}</ul>'


# ---------------------------------------------------------------- modal and Home


def modal(view: Mapping[str, Any], names: Names, errors: Mapping[str, str], notice: str) -> str:
    title_id = f"title-{esc(view['id'])}"
    renderer = Renderer(names, errors=errors, id_prefix=f"v{view['id']}")
    submit = view.get("submit")
    close = plain(view.get("close")) if view.get("close") else "Cancel"
    submit_button = (
        f'<button type="submit" class="bk-button bk-primary">{plain(submit)}</button>'
        if submit
        else ""
    )
    banner = f'<p class="bk-error" role="alert">{esc(notice)}</p>' if notice else ""
    return (
        f'<div class="overlay"><div role="dialog" aria-modal="true" aria-labelledby="{title_id}" '
        f'class="modal"><form class="modal-form" data-container="view" '
        f'data-view="{esc(view["id"])}" novalidate>'
        f'<h2 id="{title_id}">{plain(view.get("title"))}</h2>{banner}'
        f'<div class="modal-body">{renderer.blocks(view.get("blocks"))}</div>'
        f'<div class="modal-footer"><button type="button" class="bk-button" data-close-view>'
        f"{close}</button>{submit_button}</div></form></div></div>"
    )


def home(view: Mapping[str, Any] | None, names: Names, dm_id: str | None) -> str:
    messages_tab = (
        f'<button role="tab" aria-selected="false" type="button" data-goto="{esc(dm_id)}">'
        "Messages</button>"
        if dm_id
        else ""
    )
    tabs = (
        '<div role="tablist" aria-label="incidentbot"><button role="tab" aria-selected="true" '
        f'type="button">Home</button>{messages_tab}</div>'
    )
    if view is None:
        body = '<p class="empty">Loading the Home tab…</p>'
    else:
        body = Renderer(names, id_prefix="home").blocks(view.get("blocks"))
    view_id = esc(view["id"]) if view else ""
    return (
        f'{tabs}<section class="home" aria-label="Home" data-container="view" '
        f'data-view="{view_id}">{body}</section>'
    )


def view_title(view: Mapping[str, Any]) -> str:
    return plain_string(view.get("title"))
