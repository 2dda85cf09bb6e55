"""`python app.py --playground`: the real bot and a Slack-like workspace in one process.

Responsible for: starting the stand-in (Slack's Web API), the real bot (built
by `runtime.build` exactly as in production, with settings made here: a random
signing secret, a placeholder token, SQLite in a temporary directory unless
``--data``), and the workspace's web page on 127.0.0.1. The page's clicks,
submissions and typed commands become signed Slack requests to the bot (the
bot cannot tell it from Slack); what the bot does through the Web API shows up
in the page live, over server-sent events.

Only 127.0.0.1 is bound, and requests naming another ``Host`` (DNS rebinding)
or another ``Origin`` (cross-site forms) are refused.
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import json
import logging
import os
import secrets
import shutil
import signal
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from pathlib import Path
from typing import Any

from incidentbot.config import Settings
from incidentbot.logs import configure_logging
from incidentbot.playground import page, persist, seed
from incidentbot.playground.client import SlackSender, element_state
from incidentbot.playground.standin import GENERAL_ID, SlackStandIn, ts_key
from incidentbot.runtime import Runtime, StartupError, build
from incidentbot.web import run_until_closed

log = logging.getLogger("incidentbot.playground")

DEFAULT_PORT = 3000
PLACEHOLDER_TOKEN = "xoxb-playground-placeholder"
MAX_ACK_EPHEMERALS = 500
KEEPALIVE_SECONDS = 15.0
SAVE_EVERY_SECONDS = 2.0  # --data: the workspace is saved this long after a change
STATIC_FILES = {"app.js": "text/javascript", "app.css": "text/css", "index.html": "text/html"}
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}


class BadRequest(Exception):
    """A request the page should never send; answered 400 with this message."""


class Changes:
    """A version number that moves whenever the workspace may look different."""

    def __init__(self) -> None:
        self.version = 0
        self._cond = threading.Condition()
        self.closed = False

    def bump(self) -> None:
        with self._cond:
            self.version += 1
            self._cond.notify_all()

    def wait(self, seen: int, timeout: float) -> int:
        with self._cond:
            self._cond.wait_for(lambda: self.version != seen or self.closed, timeout=timeout)
            return self.version

    def close(self) -> None:
        with self._cond:
            self.closed = True
            self._cond.notify_all()


@dataclass
class Workspace:
    """The playground's own state next to the stand-in's: what Slack's client would keep."""

    standin: SlackStandIn
    sender: SlackSender
    bot_url: str
    alerts: bool
    changes: Changes = field(default_factory=Changes)
    view_errors: dict[str, dict[str, str]] = field(default_factory=dict)
    view_notices: dict[str, str] = field(default_factory=dict)
    ack_ephemerals: list[dict[str, Any]] = field(default_factory=list)
    last_seen: dict[tuple[str, str], str] = field(default_factory=dict)
    alert_token: str = ""
    alerts_fired: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    # ------------------------------------------------------------ what a person sees

    def people(self) -> set[str]:
        return {uid for uid, u in self.standin.users.items() if not u.is_bot and not u.deleted}

    def check_user(self, user: Any) -> str:
        if not isinstance(user, str) or user not in self.people():
            raise BadRequest("user: expected the id of a person in the workspace")
        return user

    def state(self, user: str, where: str, thread_ts: str | None) -> dict[str, Any]:
        snap = self._snapshot(user, where)
        open_modal = snap.modal
        modal_html = ""
        modal_key = ""
        if open_modal is not None:
            errors = self.view_errors.get(open_modal["id"], {})
            notice = self.view_notices.get(open_modal["id"], "")
            modal_html = page.modal(open_modal, snap.names, errors, notice)
            modal_key = f"{open_modal['id']}:{open_modal['hash']}:{sorted(errors.items())}:{notice}"
        thread_html = page.messages(snap, thread_ts=thread_ts) if thread_ts and snap.current else ""
        return {
            "user": user,
            "where": snap.current.id if snap.current else page.HOME,
            "sidebar": page.sidebar(snap),
            "header": page.channel_header(snap) if snap.current else "",
            "messages": page.messages(snap) if snap.current else "",
            "home": page.home(snap.home, snap.names, snap.dm_id) if snap.current is None else "",
            "thread": thread_html,
            "modal": modal_html,
            "modal_key": modal_key,
            "alerts": self.alerts,
            "people": [list(person) for person in snap.names.people],
            "version": self.changes.version,
        }

    def _snapshot(self, user: str, where: str) -> page.Snapshot:
        standin = self.standin
        # The stand-in's lock: the bot's Web API calls change this state concurrently.
        with standin._lock:
            names = page.names_of(standin)
            channels = page.visible_channels(standin, user)
            dm_id = standin.dms.get(user)
            current = None if where == page.HOME else standin.channels.get(where)
            if current is not None and current.is_im and current.im_user != user:
                current = None  # someone else's DM: never shown
            if current is not None and current.is_private and user not in current.members:
                current = None
            if current is not None:  # a detached copy: rendering happens after the lock
                current = dataclasses.replace(
                    current, members=set(current.members), pins=list(current.pins), messages=[]
                )
            modal = next(iter(reversed(standin.views_for(user, include_closed=False))), None)
            home = standin.home_views.get(user) if current is None else None
            messages = standin.messages(current.id) if current else []
            ephemerals = [
                e for e in self._ephemerals_for(user) if current and e["channel"] == current.id
            ]
            unread = self._unread(user, [*channels, *([standin.channels[dm_id]] if dm_id else [])])
            if current is not None and messages:
                self.last_seen[(user, current.id)] = messages[-1].ts
                unread.discard(current.id)
            return page.Snapshot(
                names=names,
                user=user,
                channels=channels,
                current=current,
                messages=[_copy_message(m) for m in messages],
                ephemerals=ephemerals,
                modal=json.loads(json.dumps(modal)) if modal else None,
                home=json.loads(json.dumps(home)) if home else None,
                dm_id=dm_id,
                unread=unread,
            )

    def _ephemerals_for(self, user: str) -> list[dict[str, Any]]:
        mine = [e for e in self.ack_ephemerals if e["user"] == user]
        return [*self.standin.ephemerals_for(user), *mine]

    def _unread(self, user: str, channels: list[Any]) -> set[str]:
        unread = set()
        for channel in channels:
            live = [m for m in channel.messages if not m.deleted and not m.is_reply]
            if not live or (user not in channel.members and not channel.is_im):
                continue
            seen = self.last_seen.get((user, channel.id))
            if seen is None:
                self.last_seen[(user, channel.id)] = live[-1].ts  # what was there at first look
            elif ts_key(live[-1].ts) > ts_key(seen):
                unread.add(channel.id)
        return unread

    # ------------------------------------------------------------ what a person does

    def send(self, user: str, channel: str, text: str, thread_ts: str | None) -> None:
        """The composer: `/incident …` is a slash command, anything else a message."""
        text = text.strip()
        if not text:
            raise BadRequest("text: type a message or /incident …")
        if channel not in self.standin.channels:
            raise BadRequest("channel: no such channel")
        if text.startswith("/"):
            command, _, rest = text.partition(" ")
            if command != "/incident":
                self._ack_ephemeral(user, channel, f"`{command}` is not a valid command.")
                return
            reply = self.sender.command(rest.strip(), user=user, channel=channel)
            self._show_ack(user, channel, reply)
            return
        target = self.standin.channels[channel]
        if target.is_im and seed.MESSAGES_TAB_READ_ONLY:
            self._ack_ephemeral(user, channel, "Sending messages to this app has been turned off.")
            return
        if not target.is_im and not target.is_private and user not in target.members:
            self.standin.add_member(channel, user)  # posting in a public channel joins it
        if _message_event(target) in seed.BOT_EVENTS:
            self.sender.message(text, user=user, channel=channel, thread_ts=thread_ts or None)
        else:  # the app is not subscribed: Slack keeps the message and tells the bot nothing
            self.standin.add_message(channel, text, user=user, thread_ts=thread_ts or None)

    def _show_ack(self, user: str, channel: str, reply: Any) -> None:
        """What Slack shows for a slash command's HTTP answer: its text, only to the sender."""
        if reply.status != 200:
            self._ack_ephemeral(
                user, channel, f"/incident failed with the error “dispatch_failed” ({reply.status})"
            )
        elif reply.json is not None:
            if reply.json.get("text") or reply.json.get("blocks"):
                text = reply.json.get("text") or ""
                self._ack_ephemeral(user, channel, text, reply.json.get("blocks"))
        elif reply.body.strip():  # a plain-text answer is shown as it is
            self._ack_ephemeral(user, channel, reply.body)

    def _ack_ephemeral(
        self, user: str, channel: str, text: str, blocks: list[Any] | None = None
    ) -> None:
        with self.lock:
            self.ack_ephemerals.append(
                {
                    "channel": channel,
                    "user": user,
                    "text": text,
                    "blocks": blocks,
                    "thread_ts": None,
                    "message_ts": self.standin.new_ts(),
                    "source": "ack",
                }
            )
            del self.ack_ephemerals[:-MAX_ACK_EPHEMERALS]
        self.changes.bump()

    def action(self, user: str, body: Mapping[str, Any]) -> None:
        """A click or a choice on a Block Kit element in a message, a modal or the Home tab."""
        action_id = _text(body, "action_id")
        block_id = _text(body, "block_id")
        value = body.get("value")
        view_id = body.get("view_id")
        if view_id:
            view = self.standin.view_payload(str(view_id))
            if view is None:
                raise BadRequest("view_id: no such view")
            element = _find(view.get("blocks"), block_id, action_id)
            state = self._state(view, body.get("values"))
            self.sender.block_action(
                action_id,
                user=user,
                view=str(view_id),
                block_id=block_id,
                state_values=state,
                **_action_value(element, value),
            )
            return
        channel = _text(body, "channel")
        ts = _text(body, "ts")
        ephemeral = bool(body.get("ephemeral"))
        blocks = self._message_blocks(user, channel, ts, ephemeral)
        element = _find(blocks, block_id, action_id)
        self.sender.block_action(
            action_id,
            user=user,
            channel=channel,
            message_ts=ts,
            block_id=block_id,
            ephemeral=ephemeral,
            **_action_value(element, value),
        )
        url = element.get("url") if element else None
        if url:
            log.info("button link", extra={"url": url})

    def _message_blocks(self, user: str, channel: str, ts: str, ephemeral: bool) -> Any:
        if ephemeral:
            found = next(
                (e for e in self._ephemerals_for(user) if e["message_ts"] == ts),
                None,
            )
            return found["blocks"] if found else None
        msg = self.standin.find_message(channel, ts)
        if msg is None:
            raise BadRequest("ts: no such message")
        return msg.blocks

    def _state(self, view: Mapping[str, Any], values: Any) -> dict[str, Any]:
        """``view.state.values`` from what the page's inputs hold, shaped as Slack sends it."""
        given = values if isinstance(values, Mapping) else {}
        state: dict[str, Any] = {}
        for block in view.get("blocks") or []:
            element = block.get("element") if block.get("type") == "input" else None
            if not isinstance(element, dict):
                continue
            block_id, action_id = block.get("block_id", ""), element.get("action_id", "")
            value = (given.get(block_id) or {}).get(action_id)
            if value in ("", []):
                value = None
            try:
                entry = element_state(element, value, use_initial=False)
            except ValueError as error:
                raise BadRequest(f"values: {error}") from None
            state.setdefault(block_id, {})[action_id] = entry
        return state

    def submit(self, user: str, view_id: str, values: Any) -> None:
        view = self.standin.view_payload(view_id)
        if view is None or self.standin.views[view_id]["closed"]:
            raise BadRequest("view_id: no open view")
        state = self._state(view, values)
        reply = self.sender.view_submission(view["callback_id"], state, user=user, view_id=view_id)
        with self.lock:
            self.view_errors.pop(view_id, None)
            self.view_notices.pop(view_id, None)
            if reply.status != 200:
                self.view_notices[view_id] = "We had some trouble connecting. Try again?"
            elif reply.json and reply.json.get("response_action") == "errors":
                errors = reply.json.get("errors") or {}
                self.view_errors[view_id] = {str(k): str(v) for k, v in errors.items()}
        self.changes.bump()

    def close_view(self, user: str, view_id: str) -> None:
        view = self.standin.view(view_id)
        if view is None or view["user"] != user:
            raise BadRequest("view_id: not your view")
        if view.get("notify_on_close"):
            self.sender.view_closed(view_id, user=user)
        else:
            self.standin.close_view(view_id)
        self.changes.bump()

    def shortcut(self, user: str, callback_id: str, channel: str, ts: str) -> None:
        if callback_id not in {cb for _, cb in seed.MESSAGE_SHORTCUTS}:
            raise BadRequest("callback_id: not a message shortcut of this app")
        if self.standin.find_message(channel, ts) is None:
            raise BadRequest("ts: no such message")
        self.sender.message_action(callback_id, user=user, channel=channel, message_ts=ts)

    def react(self, user: str, channel: str, ts: str, name: str) -> None:
        try:
            msg = self.standin.add_reaction(channel, ts, name, user=user)
        except KeyError:
            raise BadRequest("ts: no such message") from None
        if "reaction_added" not in seed.BOT_EVENTS:
            return
        self.sender.event(
            {
                "type": "reaction_added",
                "user": user,
                "reaction": name,
                "item_user": msg.user,
                "item": {"type": "message", "channel": channel, "ts": ts},
            }
        )

    def open_home(self, user: str) -> None:
        """Slack sends app_home_opened every time a person opens the app's Home tab."""
        dm = self.standin.dms.get(user, "D00000000")
        self.sender.event({"type": "app_home_opened", "user": user, "channel": dm, "tab": "home"})

    def fire_alert(self) -> dict[str, Any]:
        """POST a sample generic alert to the bot's /alerts/<source>, as monitoring would."""
        if not self.alerts:
            raise BadRequest("this bot has no alert ingestion configured")
        with self.lock:
            self.alerts_fired += 1
            counter = self.alerts_fired
        body = json.dumps(seed.sample_alert(counter)).encode()
        request = urllib.request.Request(
            f"{self.bot_url}/alerts/{seed.ALERT_SOURCE}",
            data=body,
            method="POST",
            headers={
                "Content-Type": "application/json",
                "Authorization": f"Bearer {self.alert_token}",
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as resp:
                status, answer = resp.status, resp.read()
        except urllib.error.HTTPError as error:
            status, answer = error.code, error.read()
        return {"status": status, "answer": answer.decode("utf-8", "replace")[:500]}


def _message_event(channel: Any) -> str:
    """The Events API subscription that covers a message posted in ``channel``."""
    if channel.is_im:
        return "message.im"
    if channel.is_mpim:
        return "message.mpim"
    return "message.groups" if channel.is_private else "message.channels"


def _copy_message(msg: Any) -> Any:
    """A copy detached from the stand-in (rendering happens after the lock is released)."""
    return copy.deepcopy(msg)


def _text(body: Mapping[str, Any], key: str) -> str:
    value = body.get(key)
    if not isinstance(value, str):
        raise BadRequest(f"{key}: expected a string")
    return value


def _find(blocks: Any, block_id: str, action_id: str) -> dict[str, Any] | None:
    """The element with ``action_id`` in the block ``block_id`` (ids repeat across blocks)."""
    for block in blocks or []:
        if not isinstance(block, dict) or block.get("block_id") != block_id:
            continue
        candidates = list(block.get("elements") or []) if block.get("type") == "actions" else []
        candidates += [block[k] for k in ("accessory", "element") if isinstance(block.get(k), dict)]
        for element in candidates:
            if isinstance(element, dict) and element.get("action_id") == action_id:
                return element
    return None


def _action_value(element: dict[str, Any] | None, value: Any) -> dict[str, Any]:
    """The keyword arguments of `SlackSender.block_action` for what was clicked or chosen."""
    if element is None:
        raise BadRequest("action_id: no such element in that block")
    kind = element.get("type")
    out: dict[str, Any] = {"action_type": kind}
    if kind == "button":
        out["value"] = element.get("value")
    elif kind in ("static_select", "external_select", "overflow", "radio_buttons"):
        options = list(element.get("options") or [])
        for group in element.get("option_groups") or []:
            options += group.get("options") or []
        option = next((o for o in options if o.get("value") == value), None)
        if option is None:
            raise BadRequest("value: not one of the element's options")
        out["selected_option"] = option
    elif kind == "users_select":
        out["selected_user"] = str(value or "")
    else:
        out["value"] = value
    return out


# ---------------------------------------------------------------- HTTP


def make_handler(ws: Workspace, allowed_hosts: set[str]) -> type[BaseHTTPRequestHandler]:
    static = resources.files("incidentbot.playground") / "static"
    posts: dict[str, Callable[[str, Mapping[str, Any]], Any]] = {
        "send": lambda u, b: ws.send(u, _text(b, "channel"), _text(b, "text"), b.get("thread_ts")),
        "action": ws.action,
        "submit": lambda u, b: ws.submit(u, _text(b, "view_id"), b.get("values")),
        "close": lambda u, b: ws.close_view(u, _text(b, "view_id")),
        "shortcut": lambda u, b: ws.shortcut(
            u, _text(b, "callback_id"), _text(b, "channel"), _text(b, "ts")
        ),
        "react": lambda u, b: ws.react(u, _text(b, "channel"), _text(b, "ts"), _text(b, "name")),
        "home": lambda u, b: ws.open_home(u),
        "alert": lambda u, b: ws.fire_alert(),
    }

    class Handler(BaseHTTPRequestHandler):
        server_version = "incidentbot-playground"
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            pass  # one line per request would drown the bot's own log

        # -- guards ------------------------------------------------------------
        def _allowed(self) -> bool:
            host = (self.headers.get("Host") or "").lower()
            origin = self.headers.get("Origin")
            origin_host = urllib.parse.urlsplit(origin).netloc.lower() if origin else host
            if host in allowed_hosts and origin_host in allowed_hosts:
                return True
            self._reply(403, "text/plain", b"This playground only answers http://127.0.0.1\n")
            return False

        def _reply(self, status: int, ctype: str, data: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(data)))
            for key, value in SECURITY_HEADERS.items():
                self.send_header(key, value)
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)

        def _json(self, status: int, payload: Any) -> None:
            self._reply(status, "application/json", json.dumps(payload).encode())

        # -- GET ---------------------------------------------------------------
        def do_GET(self) -> None:
            if not self._allowed():
                return
            parts = urllib.parse.urlsplit(self.path)
            query = dict(urllib.parse.parse_qsl(parts.query))
            path = parts.path
            if path == "/":
                self._static("index.html")
            elif path.startswith("/static/"):
                self._static(path.removeprefix("/static/"))
            elif path == "/ui/state":
                self._state(query)
            elif path == "/ui/events":
                self._events()
            elif path.startswith("/files/"):
                self._file(path.removeprefix("/files/").split("/")[0])
            else:
                self._reply(404, "text/plain", b"Not found\n")

        def _static(self, name: str) -> None:
            if name not in STATIC_FILES:
                self._reply(404, "text/plain", b"Not found\n")
                return
            data = (static / name).read_bytes()
            self._reply(200, f"{STATIC_FILES[name]}; charset=utf-8", data)

        def _state(self, query: Mapping[str, str]) -> None:
            try:
                user = ws.check_user(query.get("user"))
            except BadRequest as error:
                self._json(400, {"error": str(error)})
                return
            where = query.get("where") or GENERAL_ID
            self._json(200, ws.state(user, where, query.get("thread") or None))

        def _file(self, file_id: str) -> None:
            record = ws.standin.files.get(file_id)
            if record is None or not record.get("complete"):
                self._reply(404, "text/plain", b"No such file\n")
                return
            # Always text/plain with nosniff: a file can never run as a page here.
            self._reply(200, "text/plain; charset=utf-8", record.get("content") or b"")

        def _events(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Cache-Control", "no-store")
            self.send_header("Connection", "close")
            self.end_headers()
            self.close_connection = True
            seen = -1
            try:
                while not ws.changes.closed:
                    version = ws.changes.wait(seen, KEEPALIVE_SECONDS)
                    if version != seen:
                        seen = version
                        self.wfile.write(f"data: {version}\n\n".encode())
                    else:
                        self.wfile.write(b": keep-alive\n\n")
                    self.wfile.flush()
            except (BrokenPipeError, ConnectionResetError):
                pass  # the page went away

        # -- POST --------------------------------------------------------------
        def do_POST(self) -> None:
            if not self._allowed():
                return
            path = urllib.parse.urlsplit(self.path).path
            op = path.removeprefix("/ui/")
            if not path.startswith("/ui/") or op not in posts:
                self._json(404, {"error": "not found"})
                return
            # JSON only: a cross-site <form> cannot send it without a CORS preflight.
            if (self.headers.get("Content-Type") or "").split(";")[0] != "application/json":
                self._json(415, {"error": "send application/json"})
                return
            try:
                length = int(self.headers.get("Content-Length") or 0)
                if length > 1_000_000:
                    raise BadRequest("body: too large")
                body = json.loads(self.rfile.read(length) or b"{}")
                if not isinstance(body, dict):
                    raise BadRequest("body: expected a JSON object")
                user = ws.check_user(body.get("user"))
                result = posts[op](user, body)
            except (BadRequest, ValueError, KeyError) as error:
                self._json(400, {"error": str(error)})
                return
            ws.changes.bump()
            self._json(200, {"ok": True, **(result if isinstance(result, dict) else {})})

    return Handler


# ---------------------------------------------------------------- process


@dataclass
class Playground:
    """Everything `--playground` runs; `start()` then `url`; `stop()` ends it all."""

    port: int = DEFAULT_PORT
    data_dir: Path | None = None
    standin: SlackStandIn = field(init=False)
    runtime: Runtime = field(init=False)
    workspace: Workspace = field(init=False)
    url: str = field(init=False, default="")
    _tmp: str | None = field(init=False, default=None)
    _threads: list[threading.Thread] = field(init=False, default_factory=list)
    _http: ThreadingHTTPServer | None = field(init=False, default=None)
    _bot_server: Any = field(init=False, default=None)
    _stopping: threading.Event = field(init=False, default_factory=threading.Event)

    def start(self) -> str:
        directory = self._directory()
        saved = persist.read(directory) if self.data_dir else None
        # A reused database keeps ids from earlier runs: new ids must never repeat them.
        first_id = saved["next_id"] if saved else int(time.time()) if self.data_dir else 1
        self.standin = SlackStandIn(first_id=first_id)
        config, alerts = seed.config()
        if saved:
            persist.restore(self.standin, saved)
        else:
            seed.populate(self.standin, alerts=alerts)
        signing_secret = secrets.token_hex(32)
        # The bot reads alert tokens from the variable its config names (PRODUCT.md §9).
        # One token per process: several playgrounds in one process (tests) share it.
        alert_token = os.environ.setdefault(seed.ALERT_TOKEN_ENV, secrets.token_urlsafe(24))
        settings = Settings(
            bot_token=PLACEHOLDER_TOKEN,
            signing_secret=signing_secret,
            app_token=None,
            api_url=self.standin.api_url,
            port=0,
            database_url=f"sqlite:///{directory / 'incidentbot.db'}",
            config_path=None,
        )
        self.runtime = build(settings, config)
        self.runtime.start_background()
        self._bot_server = self.runtime.serve(host="127.0.0.1", port=0)
        self._spawn(run_until_closed, self._bot_server, name="bot-http")
        bot_url = f"http://127.0.0.1:{self._bot_server.effective_port}"
        alerts = alerts and serves_alerts(bot_url)
        sender = SlackSender(f"{bot_url}/slack/events", signing_secret, self.standin)
        self.workspace = Workspace(self.standin, sender, bot_url, alerts, alert_token=alert_token)
        self.standin.on_change(self.workspace.changes.bump)
        hosts: set[str] = set()
        try:
            self._http = ThreadingHTTPServer(
                ("127.0.0.1", self.port), make_handler(self.workspace, hosts)
            )
        except OSError:  # the port is taken: leave nothing running behind
            self._stop_parts()
            raise
        self._http.daemon_threads = True
        port = self._http.server_address[1]  # the bound one, also when asked for port 0
        hosts.update({f"127.0.0.1:{port}", f"localhost:{port}"})
        self.url = f"http://127.0.0.1:{port}/"
        self._spawn(self._http.serve_forever, name="playground-http")
        if self.data_dir:
            self._spawn(self._keep_saving, name="playground-save")
        return self.url

    def _keep_saving(self) -> None:
        """Save the workspace a moment after it changes (and at stop), while running."""
        saved = self.workspace.changes.version
        while not self._stopping.wait(SAVE_EVERY_SECONDS):
            version = self.workspace.changes.version
            if version != saved:
                saved = version
                self._save()

    def _save(self) -> None:
        assert self.data_dir is not None
        try:
            persist.save(self.standin, self.data_dir)
        except OSError as error:
            log.warning("cannot save the workspace", extra={"error": repr(error)})

    def _directory(self) -> Path:
        if self.data_dir is not None:
            self.data_dir.mkdir(parents=True, exist_ok=True)
            return self.data_dir
        self._tmp = tempfile.mkdtemp(prefix="incidentbot-playground-")
        return Path(self._tmp)

    def _spawn(self, target: Callable[..., Any], *args: Any, name: str) -> None:
        thread = threading.Thread(target=target, args=args, name=name, daemon=True)
        thread.start()
        self._threads.append(thread)

    def stop(self) -> None:
        self.workspace.changes.close()  # ends the live-update streams
        if self._http is not None:
            self._http.shutdown()
            self._http.server_close()
        self._stop_parts()

    def _stop_parts(self) -> None:
        self._stopping.set()
        self.runtime.stop()
        if self.data_dir:
            self._save()  # after the bot stopped: its last Web API calls are in
        self.standin.stop()
        if self._tmp:
            shutil.rmtree(self._tmp, ignore_errors=True)


def serves_alerts(bot_url: str) -> bool:
    """Whether the bot serves POST /alerts/<source>: unauthenticated, it answers 401, not 404."""
    request = urllib.request.Request(
        f"{bot_url}/alerts/{seed.ALERT_SOURCE}", data=b"{}", method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as resp:
            return resp.status != 404
    except urllib.error.HTTPError as error:
        return error.code != 404
    except OSError:
        return False


def start(port: int = DEFAULT_PORT, data_dir: Path | None = None) -> Playground:
    """Start a playground (port 0 picks a free port); the caller stops it."""
    playground = Playground(port=port, data_dir=data_dir)
    playground.start()
    return playground


def main(argv: list[str]) -> int:
    """`python app.py --playground [--port N] [--data DIR]`."""
    args = _parser().parse_args(argv)
    configure_logging("WARNING")
    try:
        playground = start(args.port, args.data)
    except OSError as error:
        print(f"incidentbot playground cannot start: port {args.port}: {error}", file=sys.stderr)
        return 2
    except (StartupError, persist.WorkspaceFileError) as error:
        print(f"incidentbot playground cannot start:\n{error}", file=sys.stderr)
        return 2
    stop = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    where = args.data or "a temporary directory (deleted on exit)"
    print(f"incidentbot playground: open {playground.url}  (data: {where}; Ctrl+C stops)")
    sys.stdout.flush()
    stop.wait()
    playground.stop()
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python app.py --playground",
        description="Run incidentbot with a local Slack-like workspace in the browser.",
    )
    parser.add_argument("--port", type=_port, default=DEFAULT_PORT, help="default 3000")
    parser.add_argument("--data", type=Path, help="keep the bot's database in DIR")
    return parser


def _port(text: str) -> int:
    if text.isdigit() and 0 <= int(text) <= 65535:
        return int(text)
    raise argparse.ArgumentTypeError(f"expected a port number from 0 to 65535, got {text!r}")
