"""A stateful stand-in for Slack's Web API, served over real HTTP on 127.0.0.1.

Responsible for: answering the Web API calls the bot makes through a real
``slack_sdk.WebClient(base_url=standin.api_url)`` the way Slack does (response
shapes, error codes, limits), keeping the resulting workspace state (users,
channels, messages, views, files, ephemerals, response_url posts) where tests can
read it, recording every call, and injecting faults (rate limits, 5xx, errors, total
outages for a duration) and, on request, enforcing Slack's per-method rate limits.

Not responsible for: sending requests *to* the app (see ``client.py``)
or for anything Slack does outside the Web API (it never emits events by itself).
"""

from __future__ import annotations

import base64
import copy
import datetime
import email.parser
import email.policy
import hashlib
import itertools
import json
import math
import re
import secrets
import threading
import time
import traceback
import urllib.parse
import zoneinfo
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

BOT_USER_ID = "UBOT"
BOT_ID = "BBOT"
BOT_NAME = "incidentbot"
APP_ID = "A0INCIDENT"
TEAM_ID = "T0001"
TEAM_NAME = "Acme"
TEAM_DOMAIN = "acme"
TEAM_URL = "https://acme.slack.com/"
GENERAL_ID = "C0GENERAL"
# Seeded non-people, so tests meet what a real workspace holds: a deactivated
# account, and another app's bot user (e.g. a deploy bot posting to channels).
GONE_USER_ID = "U0GONE"
DEPLOY_BOT_USER_ID = "U0DEPLOYBOT"
DEPLOY_BOT_ID = "B0DEPLOY"
DEPLOY_BOT_NAME = "deploybot"
INCIDENTS_ID = "C0INCIDENTS"

# Slack's documented Block Kit / message limits.
MAX_MESSAGE_BLOCKS = 50
MAX_VIEW_BLOCKS = 100
MAX_TEXT_CHARS = 40_000
MAX_TOPIC_CHARS = 250
MAX_CHANNEL_NAME = 80
MAX_PRIVATE_METADATA = 3000
MAX_VIEW_LABEL = 24  # title, submit and close texts of a modal
MAX_LOG_ENTRIES = 20_000  # calls and text_log entries kept (oldest dropped first)

_JSON_ARGS = ("blocks", "attachments", "view", "metadata", "files", "user_auth_blocks")
_CHANNEL_NAME_CHARS = re.compile(r"^[a-z0-9_-]+$")
_MASS_MENTION = re.compile(r"<!(?:channel|here|everyone)\b|<!subteam\^")
_LINKED_MASS_MENTION = re.compile(r"(?<![\w<])@(?:channel|here|everyone)\b")
_VIEW_KEYS_INTERNAL = ("user", "closed")


class SlackError(Exception):
    """Raised by a method handler to answer ``{"ok": false, "error": error, **extra}``."""

    def __init__(
        self, error: str, *, status: int = 200, extra: dict[str, Any] | None = None
    ) -> None:
        super().__init__(error)
        self.error = error
        self.status = status
        self.extra = extra or {}


def _invalid(error: str, messages: list[str]) -> SlackError:
    """Slack reports Block Kit problems as ``errors`` plus ``response_metadata.messages``."""
    return SlackError(
        error,
        extra={
            "errors": [m.removeprefix("[ERROR] ") for m in messages],
            "response_metadata": {"messages": messages},
        },
    )


# ---------------------------------------------------------------- state types


@dataclass
class User:
    id: str
    name: str
    email: str | None = None
    tz: str = "UTC"
    is_bot: bool = False
    deleted: bool = False
    real_name: str = ""
    bot_id: str | None = None  # the bot a bot user belongs to

    def to_api(self) -> dict[str, Any]:
        offset = datetime.datetime.now(zoneinfo.ZoneInfo(self.tz)).utcoffset()
        profile: dict[str, Any] = {
            "display_name": self.name,
            "real_name": self.real_name or self.name,
        }
        if self.email:
            profile["email"] = self.email
        if self.is_bot and self.id == BOT_USER_ID:
            profile["bot_id"] = BOT_ID
        elif self.bot_id:
            profile["bot_id"] = self.bot_id
        return {
            "id": self.id,
            "team_id": TEAM_ID,
            "name": self.name,
            "real_name": self.real_name or self.name,
            "tz": self.tz,
            "tz_offset": int(offset.total_seconds()) if offset is not None else 0,
            "profile": profile,
            "is_bot": self.is_bot,
            "is_app_user": False,
            "deleted": self.deleted,
        }


@dataclass
class Usergroup:
    id: str
    handle: str
    users: list[str]
    name: str = ""

    def to_api(self, include_users: bool) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "team_id": TEAM_ID,
            "is_usergroup": True,
            "name": self.name or self.handle,
            "handle": self.handle,
            "description": "",
            "user_count": len(self.users),
        }
        if include_users:
            out["users"] = list(self.users)
        return out


@dataclass
class Message:
    channel: str
    ts: str
    user: str  # "" for a bot_message (Slack sends bot_id and username instead)
    text: str
    blocks: list[dict[str, Any]] | None = None
    thread_ts: str | None = None
    attachments: list[dict[str, Any]] | None = None
    files: list[dict[str, Any]] = field(default_factory=list)
    metadata: dict[str, Any] | None = None
    subtype: str | None = None
    reply_count: int = 0
    reply_users: list[str] = field(default_factory=list)
    latest_reply: str | None = None
    edits: list[dict[str, Any]] = field(default_factory=list)  # previous versions, oldest first
    deleted: bool = False
    reactions: dict[str, list[str]] = field(default_factory=dict)
    parent_user: str | None = None  # author of the thread parent, for replies
    bot_id: str | None = None  # a bot_message: posted by an integration, no `user`
    username: str | None = None

    @property
    def edited(self) -> bool:
        return bool(self.edits)

    @property
    def is_reply(self) -> bool:
        return self.thread_ts is not None and self.thread_ts != self.ts

    def to_api(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "type": "message",
            "user": self.user,
            "text": self.text,
            "ts": self.ts,
            "team": TEAM_ID,
        }
        if self.bot_id:  # Slack's bot_message shape: no `user` at all
            del out["user"]
            out.update(subtype="bot_message", bot_id=self.bot_id)
            if self.username:
                out["username"] = self.username
        if self.user == BOT_USER_ID:
            out["bot_id"] = BOT_ID
            out["app_id"] = APP_ID
            out["bot_profile"] = {
                "id": BOT_ID,
                "app_id": APP_ID,
                "name": BOT_NAME,
                "deleted": False,
                "team_id": TEAM_ID,
            }
        if self.subtype:
            out["subtype"] = self.subtype
        for key in ("blocks", "attachments", "metadata"):
            if getattr(self, key) is not None:
                out[key] = copy.deepcopy(getattr(self, key))
        if self.files:
            out["files"] = copy.deepcopy(self.files)
            out["upload"] = True
        if self.thread_ts:
            out["thread_ts"] = self.thread_ts
        if self.is_reply:
            out["parent_user_id"] = self.parent_user or self.user
        if self.reply_count:
            out.update(
                reply_count=self.reply_count,
                reply_users=list(self.reply_users),
                reply_users_count=len(self.reply_users),
                latest_reply=self.latest_reply,
            )
        if self.edits:
            out["edited"] = {"user": self.user, "ts": self.edits[-1]["edited_ts"]}
        if self.reactions:
            out["reactions"] = [
                {"name": n, "users": list(u), "count": len(u)} for n, u in self.reactions.items()
            ]
        return out


@dataclass
class Channel:
    id: str
    name: str
    is_private: bool = False
    is_archived: bool = False
    members: set[str] = field(default_factory=set)
    topic: str = ""
    purpose: str = ""
    creator: str = BOT_USER_ID
    created: int = 0
    pins: list[str] = field(default_factory=list)
    bookmarks: list[dict[str, Any]] = field(default_factory=list)
    messages: list[Message] = field(default_factory=list)  # every message incl. replies, ts order
    is_im: bool = False
    is_mpim: bool = False
    im_user: str | None = None
    previous_names: list[str] = field(default_factory=list)

    @property
    def is_general(self) -> bool:
        return self.id == GENERAL_ID

    def to_api(self) -> dict[str, Any]:
        if self.is_im:
            return {
                "id": self.id,
                "created": self.created,
                "is_im": True,
                "is_org_shared": False,
                "user": self.im_user,
                "is_user_deleted": False,
                "priority": 0,
            }
        return {
            "id": self.id,
            "name": self.name,
            "is_channel": not self.is_mpim,
            "is_group": False,
            "is_im": False,
            "is_mpim": self.is_mpim,
            "is_private": self.is_private,
            "created": self.created,
            "creator": self.creator,
            "is_archived": self.is_archived,
            "is_general": self.is_general,
            "name_normalized": self.name,
            "is_shared": False,
            "is_ext_shared": False,
            "is_org_shared": False,
            "is_member": BOT_USER_ID in self.members,
            "topic": {
                "value": self.topic,
                "creator": self.creator if self.topic else "",
                "last_set": 0,
            },
            "purpose": {
                "value": self.purpose,
                "creator": self.creator if self.purpose else "",
                "last_set": 0,
            },
            "previous_names": list(self.previous_names),
            "num_members": len(self.members),
        }


@dataclass
class Call:
    method: str
    args: dict[str, Any]
    response: dict[str, Any]
    status: int
    at: float


@dataclass
class Fault:
    method: str
    error: str | None
    status: int
    remaining: int
    retry_after: int | None
    when: Callable[[dict[str, Any]], bool] | None


# Slack's published rate-limit tiers (calls per minute per workspace) for the
# methods the bot calls; chat.postMessage allows about one message per second
# per channel. https://api.slack.com/apis/rate-limits
_TIER_PER_MINUTE: dict[str, float] = {
    "conversations.create": 20,
    "conversations.list": 20,
    "conversations.setTopic": 20,
    "conversations.setPurpose": 20,
    "conversations.rename": 20,
    "usergroups.users.list": 20,
    "pins.add": 20,
    "conversations.invite": 50,
    "conversations.info": 50,
    "conversations.join": 50,
    "conversations.open": 50,
    "chat.update": 50,
    "chat.delete": 50,
    "users.lookupByEmail": 50,
}
_POSTS_PER_CHANNEL_PER_MINUTE = 60.0


@dataclass
class _RateLimits:
    """Token buckets like Slack's limiter: `scale` times the tier rate, `burst_seconds` deep."""

    scale: float
    burst_seconds: float
    buckets: dict[str, tuple[float, float]] = field(default_factory=dict)

    def take(self, method: str, args: dict[str, Any]) -> float:
        """Spend a token; 0 when allowed, else the seconds until one is available."""
        if method == "chat.postMessage":
            key, per_minute = f"{method}:{args.get('channel')}", _POSTS_PER_CHANNEL_PER_MINUTE
        else:
            key, per_minute = method, _TIER_PER_MINUTE.get(method, 100.0)
        rate = per_minute * self.scale / 60.0
        capacity = max(1.0, rate * self.burst_seconds)
        now = time.monotonic()
        tokens, updated = self.buckets.get(key, (capacity, now))
        tokens = min(capacity, tokens + (now - updated) * rate)
        if tokens < 1.0:
            self.buckets[key] = (tokens, now)
            return (1.0 - tokens) / rate
        self.buckets[key] = (tokens - 1.0, now)
        return 0.0


class Hold:
    """Calls to one Web API method wait, unanswered, until `release()`.

    For tests of "the process died while Slack was slow": hold a method, wait
    until the bot's call `arrived`, kill the bot, then release. A released call
    is then carried out as Slack would (its answer goes to a closed socket).
    """

    def __init__(self, method: str) -> None:
        self.method = method
        self.arrived = threading.Event()
        self._released = threading.Event()

    def release(self) -> None:
        self._released.set()

    def wait_arrived(self, timeout: float) -> bool:
        return self.arrived.wait(timeout)

    def _pass(self) -> None:
        self.arrived.set()
        self._released.wait()


@dataclass
class _Trigger:
    expires_at: float
    user: str | None
    view_id: str | None
    used: bool = False


@dataclass
class _ResponseUrl:
    channel: str | None
    user: str | None
    message_ts: str | None
    uses: int = 0


# ---------------------------------------------------------------- small helpers


def _flag(args: dict[str, Any], key: str, default: bool = False) -> bool:
    """Slack booleans: true/false, 1/0, "true"/"1" (WebClient sends "1"/"0" in forms)."""
    value = args.get(key)
    if value is None or value == "":
        return default
    return value is True or str(value).lower() in ("1", "true")


def _int(args: dict[str, Any], key: str, default: int) -> int:
    try:
        return int(args.get(key) or default)
    except (TypeError, ValueError):
        return default


def _csv(value: Any) -> list[str]:
    if isinstance(value, list):
        return [str(v) for v in value]
    return [v.strip() for v in str(value or "").split(",") if v.strip()]


def ts_key(ts: str | None) -> int:
    """Order Slack timestamps exactly: "1700000000.000100" → microseconds."""
    if not ts:
        return 0
    sec, _, frac = str(ts).partition(".")
    return int(sec) * 1_000_000 + int((frac or "0").ljust(6, "0")[:6])


def channel_name_error(name: str) -> str | None:
    """The error Slack gives conversations.create/rename for an unacceptable name."""
    if not name:
        return "invalid_name_required"
    if len(name) > MAX_CHANNEL_NAME:
        return "invalid_name_maxlength"
    if not _CHANNEL_NAME_CHARS.match(name):
        return "invalid_name_specials"
    if not re.search(r"[a-z0-9]", name):
        return "invalid_name_punctuation"
    return None


def _encode_cursor(offset: int) -> str:
    return base64.b64encode(f"offset:{offset}".encode()).decode()


def _decode_cursor(cursor: Any) -> int:
    if not cursor:
        return 0
    try:
        return int(base64.b64decode(str(cursor)).decode().split(":", 1)[1])
    except (ValueError, IndexError):
        raise SlackError("invalid_cursor") from None


def _paginate(
    items: list[Any], args: dict[str, Any], key: str, default_limit: int, max_limit: int
) -> dict[str, Any]:
    start = _decode_cursor(args.get("cursor"))
    limit = max(1, min(_int(args, "limit", default_limit), max_limit))
    page = items[start : start + limit]
    more = start + limit < len(items)
    return {
        key: page,
        "response_metadata": {"next_cursor": _encode_cursor(start + limit) if more else ""},
    }


def iter_texts(obj: Any) -> Iterator[str]:
    """Every human-visible string in a message/blocks/attachments/view structure.

    Rich-text ``broadcast``/``usergroup`` elements notify people without any ``<!…>``
    text, so they are rendered to their mrkdwn equivalent to be caught too.
    """
    if isinstance(obj, str):
        yield obj
    elif isinstance(obj, list):
        for item in obj:
            yield from iter_texts(item)
    elif isinstance(obj, dict):
        if obj.get("type") == "broadcast" and isinstance(obj.get("range"), str):
            yield f"<!{obj['range']}>"
        if obj.get("type") == "usergroup" and isinstance(obj.get("usergroup_id"), str):
            yield f"<!subteam^{obj['usergroup_id']}>"
        for key in ("text", "pretext", "title", "fallback", "footer", "author_name"):
            if isinstance(obj.get(key), str):
                yield obj[key]
        fields = obj.get("fields")
        if isinstance(fields, list):
            # Attachment fields ({title, value}) show their value; a Block Kit "value"
            # elsewhere (buttons, options) is machine data nobody reads.
            for item in fields:
                if (
                    isinstance(item, dict)
                    and "type" not in item
                    and isinstance(item.get("value"), str)
                ):
                    yield item["value"]
        for key, value in obj.items():
            if isinstance(value, (dict, list)) and key not in ("state", "metadata"):
                yield from iter_texts(value)


def with_block_ids(blocks: Any) -> Any:
    """A copy of ``blocks`` where each block has a block_id, as Slack stores them.

    Slack fills in a short random block_id for blocks sent without one; it shows up
    in history and in interaction payloads. Derived from the content here, so stable.
    """
    if not isinstance(blocks, list):
        return copy.deepcopy(blocks)
    out = copy.deepcopy(blocks)
    taken = {b.get("block_id") for b in out if isinstance(b, dict)}
    for index, block in enumerate(out):
        if isinstance(block, dict) and not block.get("block_id"):
            digest = hashlib.sha1(f"{index}:{json.dumps(block, sort_keys=True)}".encode())
            block_id = base64.b32encode(digest.digest()).decode()[:5]
            while block_id in taken:
                block_id += "x"
            taken.add(block_id)
            block["block_id"] = block_id
    return out


# ---------------------------------------------------------------- Block Kit validation

_TEXT_TYPES = ("plain_text", "mrkdwn")
_SELECT_TYPES = {"static_select", "external_select", "multi_static_select", "multi_external_select"}
_ELEMENT_TYPES = _SELECT_TYPES | {
    "button",
    "users_select",
    "multi_users_select",
    "conversations_select",
    "multi_conversations_select",
    "channels_select",
    "multi_channels_select",
    "overflow",
    "datepicker",
    "timepicker",
    "datetimepicker",
    "checkboxes",
    "radio_buttons",
    "plain_text_input",
    "email_text_input",
    "url_text_input",
    "number_input",
    "rich_text_input",
    "file_input",
    "image",
    "workflow_button",
}


class _BlockChecker:
    """Collects Slack-style error strings ("… [json-pointer:/blocks/0/text/text]")."""

    def __init__(self) -> None:
        self.errors: list[str] = []
        self._block_ids: set[str] = set()

    def err(self, message: str, ptr: str) -> None:
        self.errors.append(f"[ERROR] {message} [json-pointer:{ptr}]")

    def max_len(self, value: Any, limit: int, ptr: str) -> None:
        if isinstance(value, str) and len(value) > limit:
            self.err(f"must be less than {limit + 1} characters", ptr)

    def text(
        self, obj: Any, ptr: str, limit: int, *, plain_only: bool = False, required: bool = True
    ) -> None:
        if obj is None and not required:
            return
        if (
            not isinstance(obj, dict)
            or obj.get("type") not in _TEXT_TYPES
            or not isinstance(obj.get("text"), str)
        ):
            self.err(
                "must provide a valid text object with type plain_text or mrkdwn and a string text",
                ptr,
            )
            return
        if plain_only and obj["type"] != "plain_text":
            self.err("must be a valid enum value: plain_text", f"{ptr}/type")
        if obj["text"] == "":
            self.err("must be more than 0 characters", f"{ptr}/text")
        self.max_len(obj["text"], limit, f"{ptr}/text")

    def blocks(self, blocks: Any, ptr: str, max_blocks: int) -> None:
        if not isinstance(blocks, list):
            self.err("must provide an array", ptr)
            return
        if len(blocks) > max_blocks:
            self.err(f"no more than {max_blocks} items allowed", ptr)
        for i, block in enumerate(blocks):
            self.block(block, f"{ptr}/{i}")

    def block(self, block: Any, ptr: str) -> None:
        if not isinstance(block, dict) or not isinstance(block.get("type"), str):
            self.err("must provide an object with a type", ptr)
            return
        block_id = block.get("block_id")
        if block_id is not None:
            if not isinstance(block_id, str) or len(block_id) > 255:
                self.err("must be a string of less than 256 characters", f"{ptr}/block_id")
            elif block_id in self._block_ids:
                self.err(f"duplicate block_id {block_id!r}", f"{ptr}/block_id")
            else:
                self._block_ids.add(block_id)
        check = getattr(self, f"_block_{block['type']}", None)
        if check is None:
            self.err(f"unsupported block type {block['type']!r}", f"{ptr}/type")
        else:
            check(block, ptr)

    def _block_section(self, block: dict[str, Any], ptr: str) -> None:
        if "text" not in block and "fields" not in block:
            self.err("must provide either text or fields", ptr)
        self.text(block.get("text"), f"{ptr}/text", 3000, required=False)
        fields = block.get("fields")
        if fields is not None:
            if not isinstance(fields, list) or len(fields) > 10:
                self.err("must provide an array of no more than 10 items", f"{ptr}/fields")
            else:
                for i, f in enumerate(fields):
                    self.text(f, f"{ptr}/fields/{i}", 2000)
        if block.get("accessory") is not None:
            self.element(block["accessory"], f"{ptr}/accessory")

    def _block_header(self, block: dict[str, Any], ptr: str) -> None:
        self.text(block.get("text"), f"{ptr}/text", 150, plain_only=True)

    def _block_divider(self, block: dict[str, Any], ptr: str) -> None:
        pass

    def _block_context(self, block: dict[str, Any], ptr: str) -> None:
        elements = block.get("elements")
        if not isinstance(elements, list) or not 1 <= len(elements) <= 10:
            self.err("must provide an array of 1 to 10 items", f"{ptr}/elements")
            return
        for i, el in enumerate(elements):
            if isinstance(el, dict) and el.get("type") == "image":
                self.max_len(el.get("alt_text"), 2000, f"{ptr}/elements/{i}/alt_text")
            else:
                self.text(el, f"{ptr}/elements/{i}", 3000)

    def _block_actions(self, block: dict[str, Any], ptr: str) -> None:
        elements = block.get("elements")
        if not isinstance(elements, list) or not 1 <= len(elements) <= 25:
            self.err("must provide an array of 1 to 25 items", f"{ptr}/elements")
            return
        for i, el in enumerate(elements):
            self.element(el, f"{ptr}/elements/{i}")

    def _block_image(self, block: dict[str, Any], ptr: str) -> None:
        if not isinstance(block.get("alt_text"), str):
            self.err("must provide alt_text", f"{ptr}/alt_text")
        self.max_len(block.get("alt_text"), 2000, f"{ptr}/alt_text")
        self.text(block.get("title"), f"{ptr}/title", 2000, plain_only=True, required=False)

    def _block_input(self, block: dict[str, Any], ptr: str) -> None:
        self.text(block.get("label"), f"{ptr}/label", 2000, plain_only=True)
        self.text(block.get("hint"), f"{ptr}/hint", 2000, plain_only=True, required=False)
        if not isinstance(block.get("element"), dict):
            self.err("must provide an element", f"{ptr}/element")
        else:
            self.element(block["element"], f"{ptr}/element")

    def _block_rich_text(self, block: dict[str, Any], ptr: str) -> None:
        if not isinstance(block.get("elements"), list):
            self.err("must provide an array", f"{ptr}/elements")

    def _block_markdown(self, block: dict[str, Any], ptr: str) -> None:
        if not isinstance(block.get("text"), str):
            self.err("must provide a string", f"{ptr}/text")
        self.max_len(block.get("text"), 12000, f"{ptr}/text")

    def _block_file(self, block: dict[str, Any], ptr: str) -> None:
        pass

    def _block_video(self, block: dict[str, Any], ptr: str) -> None:
        pass

    def element(self, el: Any, ptr: str) -> None:
        if not isinstance(el, dict) or el.get("type") not in _ELEMENT_TYPES:
            self.err("must provide a supported interactive element", ptr)
            return
        self.max_len(el.get("action_id"), 255, f"{ptr}/action_id")
        kind = el["type"]
        self.text(el.get("placeholder"), f"{ptr}/placeholder", 150, plain_only=True, required=False)
        if kind == "button":
            self.text(el.get("text"), f"{ptr}/text", 75, plain_only=True)
            self.max_len(el.get("value"), 2000, f"{ptr}/value")
            self.max_len(el.get("url"), 3000, f"{ptr}/url")
            if el.get("style") not in (None, "primary", "danger"):
                self.err("must be a valid enum value: primary, danger", f"{ptr}/style")
        elif kind in _SELECT_TYPES or kind in ("overflow", "checkboxes", "radio_buttons"):
            max_options = {"overflow": 5, "checkboxes": 10, "radio_buttons": 10}.get(kind, 100)
            self.options(
                el.get("options"), f"{ptr}/options", max_options, plain_only=kind in _SELECT_TYPES
            )
            groups = el.get("option_groups")
            if isinstance(groups, list):
                if len(groups) > 100:
                    self.err("no more than 100 items allowed", f"{ptr}/option_groups")
                for i, group in enumerate(groups):
                    if not isinstance(group, dict):
                        self.err("must provide an object", f"{ptr}/option_groups/{i}")
                        continue
                    self.options(
                        group.get("options"),
                        f"{ptr}/option_groups/{i}/options",
                        100,
                        plain_only=True,
                    )
        elif kind == "plain_text_input":
            max_length = el.get("max_length")
            if isinstance(max_length, int) and max_length > 3000:
                self.err("must be at most 3000", f"{ptr}/max_length")
            self.max_len(el.get("initial_value"), 3000, f"{ptr}/initial_value")

    def options(self, options: Any, ptr: str, limit: int, *, plain_only: bool) -> None:
        if options is None:
            return
        if not isinstance(options, list):
            self.err("must provide an array", ptr)
            return
        if len(options) > limit:
            self.err(f"no more than {limit} items allowed", ptr)
        for i, opt in enumerate(options):
            if not isinstance(opt, dict):
                self.err("must provide an object", f"{ptr}/{i}")
                continue
            self.text(opt.get("text"), f"{ptr}/{i}/text", 75, plain_only=plain_only)
            self.text(
                opt.get("description"),
                f"{ptr}/{i}/description",
                75,
                plain_only=True,
                required=False,
            )
            self.max_len(opt.get("value"), 150, f"{ptr}/{i}/value")


def block_errors(
    blocks: Any, *, max_blocks: int = MAX_MESSAGE_BLOCKS, ptr: str = "/blocks"
) -> list[str]:
    checker = _BlockChecker()
    checker.blocks(blocks, ptr, max_blocks)
    return checker.errors


def view_errors(view: Any, *, allowed_types: tuple[str, ...]) -> list[str]:
    """Errors Slack reports (as invalid_arguments) for a views.* payload."""
    checker = _BlockChecker()
    if not isinstance(view, dict):
        checker.err("must provide an object", "/view")
        return checker.errors
    if view.get("type") not in allowed_types:
        checker.err(f"must be a valid enum value: {', '.join(allowed_types)}", "/view/type")
    if view.get("type") == "modal":
        checker.text(view.get("title"), "/view/title", MAX_VIEW_LABEL, plain_only=True)
        for key in ("submit", "close"):
            checker.text(
                view.get(key), f"/view/{key}", MAX_VIEW_LABEL, plain_only=True, required=False
            )
        blocks = view.get("blocks") or []
        has_input = any(
            isinstance(b, dict) and b.get("type") == "input"
            for b in blocks
            if isinstance(blocks, list)
        )
        if has_input and view.get("submit") is None:
            checker.err("must provide submit when the view contains input blocks", "/view/submit")
    checker.blocks(view.get("blocks", []), "/view/blocks", MAX_VIEW_BLOCKS)
    checker.max_len(view.get("private_metadata"), MAX_PRIVATE_METADATA, "/view/private_metadata")
    checker.max_len(view.get("callback_id"), 255, "/view/callback_id")
    checker.max_len(view.get("external_id"), 255, "/view/external_id")
    return checker.errors


# ---------------------------------------------------------------- request parsing


def _parse_multipart(content_type: str, body: bytes) -> dict[str, Any]:
    """Form fields as str; file parts as {"filename", "content": bytes}."""
    head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode()
    msg = email.parser.BytesParser(policy=email.policy.default).parsebytes(head + body)
    out: dict[str, Any] = {}
    for part in msg.iter_parts():  # type: ignore[attr-defined]
        name = part.get_param("name", header="content-disposition")
        content = part.get_payload(decode=True) or b""
        filename = part.get_filename()
        out[name] = (
            {"filename": filename, "content": content} if filename else content.decode("utf-8")
        )
    return out


def _parse_args(content_type: str, body: bytes, query: str) -> dict[str, Any]:
    """Merge query string and body (form, JSON or multipart) the way Slack reads arguments."""
    args: dict[str, Any] = dict(urllib.parse.parse_qsl(query, keep_blank_values=True))
    ctype = content_type.split(";")[0].strip().lower()
    if not body:
        return args
    if ctype == "application/json":
        decoded = json.loads(body.decode("utf-8"))
        if not isinstance(decoded, dict):
            raise ValueError("JSON body must be an object")
        args.update(decoded)
    elif ctype == "multipart/form-data":
        args.update(_parse_multipart(content_type, body))
    else:
        args.update(urllib.parse.parse_qsl(body.decode("utf-8"), keep_blank_values=True))
    return args


def _bearer_token(headers: Any, args: dict[str, Any]) -> str | None:
    auth = headers.get("Authorization") or ""
    if auth.lower().startswith("bearer "):
        return auth[7:].strip()
    token = args.get("token")
    return str(token) if token else None


# ---------------------------------------------------------------- the stand-in


class SlackStandIn:
    """A running fake of Slack's Web API. Construct it, point WebClient at ``api_url``."""

    def __init__(
        self,
        *,
        trigger_ttl: float = 3.0,
        response_url_max_uses: int = 5,
        max_log: int = MAX_LOG_ENTRIES,
        first_id: int = 1,
    ) -> None:
        self.trigger_ttl = trigger_ttl
        # calls, text_log, triggers and response_urls are capped so a long-running
        # playground stays small.
        self.max_log = max_log
        self._change_listeners: list[Callable[[], None]] = []
        self.response_url_max_uses = response_url_max_uses
        self.latency = 0.0
        self._lock = threading.RLock()
        # first_id > 1 keeps new ids (C…, D…, V…) apart from those of an earlier run whose
        # database is reused (the playground's --data).
        self._seq = itertools.count(first_id)
        self._last_ts_us = 0
        self.users: dict[str, User] = {}
        self.usergroups: dict[str, Usergroup] = {}
        self.bots: dict[str, dict[str, Any]] = {BOT_ID: {"id": BOT_ID, "name": BOT_NAME}}
        self.channels: dict[str, Channel] = {}
        self.dms: dict[str, str] = {}  # user id -> D… channel id
        self.ephemerals: list[dict[str, Any]] = []  # from chat.postEphemeral
        self.response_ephemerals: list[dict[str, Any]] = []  # ephemeral posts to response_urls
        self.views: dict[str, dict[str, Any]] = {}
        self.home_views: dict[str, dict[str, Any]] = {}
        self.files: dict[str, dict[str, Any]] = {}
        self.responses: dict[str, list[dict[str, Any]]] = {}
        self.calls: list[Call] = []
        self.faults: list[Fault] = []
        self._outage_until: float | None = None  # time.monotonic(); inf = until ended
        self._outage_status = 503
        self._rate_limits: _RateLimits | None = None
        self.rate_limited: list[Call] = []  # 429s answered while limits are enforced
        self.holds: dict[str, Hold] = {}
        self.internal_errors: list[
            str
        ] = []  # stand-in crashes: a test should treat them as failures
        self.text_log: list[tuple[str, str, bool]] = []  # (source, text, link_names) of all output
        self._triggers: dict[str, _Trigger] = {}
        self._response_urls: dict[str, _ResponseUrl] = {}
        self._handlers: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = (
            self._dispatch_table()
        )
        self._seed()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self.port: int = self._server.server_address[1]
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.api_url = f"{self.base_url}/api/"
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.01},
            name="slack-standin",
            daemon=True,
        )
        self._thread.start()

    def _dispatch_table(self) -> dict[str, Callable[[dict[str, Any]], dict[str, Any]]]:
        return {
            "auth.test": self._auth_test,
            "api.test": self._api_test,
            "team.info": self._team_info,
            "users.info": self._users_info,
            "users.lookupByEmail": self._users_lookup_by_email,
            "users.list": self._users_list,
            "bots.info": self._bots_info,
            "usergroups.list": self._usergroups_list,
            "usergroups.users.list": self._usergroups_users_list,
            "conversations.create": self._conversations_create,
            "conversations.info": self._conversations_info,
            "conversations.list": self._conversations_list,
            "conversations.members": self._conversations_members,
            "conversations.join": self._conversations_join,
            "conversations.invite": self._conversations_invite,
            "conversations.kick": self._conversations_kick,
            "conversations.setTopic": self._conversations_set_topic,
            "conversations.setPurpose": self._conversations_set_purpose,
            "conversations.rename": self._conversations_rename,
            "conversations.archive": self._conversations_archive,
            "conversations.unarchive": self._conversations_unarchive,
            "conversations.open": self._conversations_open,
            "conversations.history": self._conversations_history,
            "conversations.replies": self._conversations_replies,
            "chat.postMessage": self._chat_post_message,
            "chat.postEphemeral": self._chat_post_ephemeral,
            "chat.update": self._chat_update,
            "chat.delete": self._chat_delete,
            "chat.getPermalink": self._chat_get_permalink,
            "pins.add": self._pins_add,
            "pins.remove": self._pins_remove,
            "pins.list": self._pins_list,
            "reactions.add": self._reactions_add,
            "reactions.remove": self._reactions_remove,
            "reactions.get": self._reactions_get,
            "bookmarks.add": self._bookmarks_add,
            "bookmarks.list": self._bookmarks_list,
            "bookmarks.remove": self._bookmarks_remove,
            "views.open": self._views_open,
            "views.push": self._views_push,
            "views.update": self._views_update,
            "views.publish": self._views_publish,
            "files.getUploadURLExternal": self._files_get_upload_url_external,
            "files.completeUploadExternal": self._files_complete_upload_external,
            "files.info": self._files_info,
            "apps.connections.open": self._apps_connections_open,
        }

    def _seed(self) -> None:
        self.add_user(BOT_USER_ID, BOT_NAME, is_bot=True, real_name="Incident Bot")
        for name in ("alice", "bob", "carol", "dave", "erin"):
            self.add_user(f"U0{name.upper()}", name, email=f"{name}@example.com")
        humans = [u for u in self.users if u != BOT_USER_ID]
        self.add_user(GONE_USER_ID, "gone", deleted=True, real_name="Former Colleague")
        self.add_user(DEPLOY_BOT_USER_ID, DEPLOY_BOT_NAME, is_bot=True, bot_id=DEPLOY_BOT_ID)
        self.bots[DEPLOY_BOT_ID] = {"id": DEPLOY_BOT_ID, "name": DEPLOY_BOT_NAME}
        self.add_channel("general", channel_id=GENERAL_ID, members=humans)
        self.add_channel("incidents", channel_id=INCIDENTS_ID, members=humans)

    # ------------------------------------------------------------ lifecycle

    def stop(self) -> None:
        self.release_all()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> SlackStandIn:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ------------------------------------------------------------ test setup API

    def add_user(
        self,
        user_id: str,
        name: str,
        *,
        email: str | None = None,
        tz: str = "UTC",
        is_bot: bool = False,
        deleted: bool = False,
        real_name: str = "",
        bot_id: str | None = None,
    ) -> User:
        with self._lock:
            user = User(
                user_id, name, email, tz, is_bot, deleted, real_name or name.capitalize(), bot_id
            )
            self.users[user_id] = user
            return user

    def add_usergroup(
        self, group_id: str, handle: str, users: Iterable[str], *, name: str = ""
    ) -> Usergroup:
        with self._lock:
            group = Usergroup(group_id, handle, list(users), name or handle)
            self.usergroups[group_id] = group
            return group

    def add_channel(
        self,
        name: str,
        *,
        channel_id: str | None = None,
        is_private: bool = False,
        members: Iterable[str] = (),
        bot_member: bool = True,
        is_archived: bool = False,
        creator: str = "U0ALICE",
    ) -> str:
        with self._lock:
            cid = channel_id or self._new_id("C")
            member_set = set(members) | ({BOT_USER_ID} if bot_member else set())
            self.channels[cid] = Channel(
                cid,
                name,
                is_private,
                is_archived,
                member_set,
                creator=creator,
                created=int(time.time()),
            )
            return cid

    def add_member(self, channel_id: str, user_id: str) -> None:
        with self._lock:
            self.channels[channel_id].members.add(user_id)

    def add_message(
        self,
        channel_id: str,
        text: str,
        *,
        user: str = "U0ALICE",
        thread_ts: str | None = None,
        blocks: list[dict[str, Any]] | None = None,
    ) -> Message:
        """Record a message a *person* posted (Slack would then send the app a message event)."""
        with self._lock:
            channel = (
                self.channels[channel_id]
                if channel_id in self.channels
                else self._ensure_dm(channel_id)
            )
            message = self._append_message(
                channel, user=user, text=text, blocks=blocks, thread_ts=thread_ts
            )
        self.notify_change()
        return message

    def add_reaction(self, channel_id: str, ts: str, name: str, *, user: str) -> Message:
        """A *person* reacts to a message (Slack would then send a reaction_added event)."""
        with self._lock:
            channel = self.channels.get(channel_id)
            msg = self.find_message(channel_id, ts) if channel else None
            if msg is None or msg.deleted:
                raise KeyError(f"no message {ts!r} in {channel_id}")
            users = msg.reactions.setdefault(name, [])
            if user not in users:
                users.append(user)
        self.notify_change()
        return msg

    def on_change(self, listener: Callable[[], None]) -> None:
        """Call ``listener`` (no arguments, must be quick) after anything may have changed."""
        with self._lock:
            self._change_listeners.append(listener)

    def notify_change(self) -> None:
        for listener in list(self._change_listeners):
            listener()

    def add_bot_message(
        self,
        channel_id: str,
        text: str,
        *,
        bot_id: str = DEPLOY_BOT_ID,
        username: str | None = None,
    ) -> Message:
        """Record a message an integration posted (`bot_message`: `bot_id`, no `user`)."""
        with self._lock:
            msg = self._append_message(self.channels[channel_id], user="", text=text)
            msg.bot_id = bot_id
            msg.username = (
                username if username is not None else self.bots.get(bot_id, {}).get("name")
            )
            return msg

    def new_trigger_id(self, *, user: str | None = None, view_id: str | None = None) -> str:
        """A single-use trigger id, valid ``trigger_ttl`` seconds (Slack: 3 s)."""
        with self._lock:
            trigger_id = f"{next(self._seq)}.{int(time.time())}.{secrets.token_hex(16)}"
            self._triggers[trigger_id] = _Trigger(
                time.monotonic() + self.trigger_ttl, user, view_id
            )
            _trim_dict(self._triggers, self.max_log)
            return trigger_id

    def new_response_url(
        self, *, channel: str | None = None, user: str | None = None, message_ts: str | None = None
    ) -> str:
        with self._lock:
            rid = f"{TEAM_ID}/{next(self._seq)}/{secrets.token_hex(12)}".replace("/", "-")
            self._response_urls[rid] = _ResponseUrl(channel, user, message_ts)
            self.responses[rid] = []
            # Slack expires response_urls after 30 minutes; only the newest max_log are kept.
            _trim_dict(self._response_urls, self.max_log)
            _trim_dict(self.responses, self.max_log)
            return f"{self.base_url}/response/{rid}"

    def fail(
        self,
        method: str,
        *,
        error: str | None = None,
        status: int = 200,
        times: int = 1,
        retry_after: int | None = None,
        when: Callable[[dict[str, Any]], bool] | None = None,
    ) -> Fault:
        """Make the next ``times`` matching calls to ``method`` ("*" = any) fail."""
        with self._lock:
            fault = Fault(method, error, status, times, retry_after, when)
            self.faults.append(fault)
            return fault

    def hold(self, method: str) -> Hold:
        """Keep calls to ``method`` waiting until the returned hold is released."""
        with self._lock:
            held = self.holds[method] = Hold(method)
            return held

    def release_all(self) -> None:
        with self._lock:
            holds, self.holds = list(self.holds.values()), {}
        for held in holds:
            held.release()

    def clear_faults(self) -> None:
        with self._lock:
            self.faults.clear()

    def outage(self, seconds: float | None = None, *, status: int = 503) -> None:
        """Every Web API method answers `status` (503: service_unavailable; 500:
        fatal_error) for `seconds`, or until `end_outage()` when None."""
        with self._lock:
            self._outage_status = status
            self._outage_until = (
                float("inf") if seconds is None else time.monotonic() + max(seconds, 0.0)
            )

    def end_outage(self) -> None:
        with self._lock:
            self._outage_until = None

    @property
    def in_outage(self) -> bool:
        with self._lock:
            return self._outage_until is not None and time.monotonic() < self._outage_until

    def enforce_rate_limits(self, *, scale: float = 1.0, burst_seconds: float = 60.0) -> None:
        """Answer 429 (with Retry-After) beyond Slack's per-method limits, like Slack.

        `scale` multiplies the rates (tests compress time); `burst_seconds` is how
        many seconds of calls a quiet method may make at once.
        """
        with self._lock:
            self._rate_limits = _RateLimits(scale, burst_seconds)

    def clear_calls(self) -> None:
        with self._lock:
            self.calls.clear()

    def close_view(self, view_id: str) -> None:
        with self._lock:
            if view_id in self.views:
                self.views[view_id]["closed"] = True

    def handle_view_submission_reply(self, view_id: str, reply: dict[str, Any] | None) -> None:
        """Apply the app's ack() to a view_submission the way Slack's client does."""
        with self._lock:
            view = self.views.get(view_id)
            if view is None:
                return
            action = (reply or {}).get("response_action")
            if action == "errors":
                return  # the modal stays open, showing the errors
            if action == "update" and isinstance(reply, dict):
                self._replace_view(view, reply.get("view") or {})
            elif action == "push" and isinstance(reply, dict):
                self._store_view(reply.get("view") or {}, user=view["user"], parent=view)
            elif action == "clear":
                for other in self.views.values():
                    if other["root_view_id"] == view["root_view_id"]:
                        other["closed"] = True
            else:
                view["closed"] = True

    # ------------------------------------------------------------ queries for tests

    def calls_to(self, method: str) -> list[Call]:
        with self._lock:
            return [c for c in self.calls if c.method == method]

    def channel(self, channel_id: str) -> Channel | None:
        return self.channels.get(channel_id)

    def channel_by_name(self, name: str) -> Channel | None:
        with self._lock:
            name = name.lstrip("#")
            return next((c for c in self.channels.values() if c.name == name and not c.is_im), None)

    def find_message(self, channel_id: str, ts: str) -> Message | None:
        with self._lock:
            channel = self.channels.get(channel_id)
            if channel is None:
                return None
            return next((m for m in channel.messages if m.ts == ts), None)

    def messages(self, channel_id: str, include_threads: bool = True) -> list[Message]:
        """Live (not deleted) messages, oldest first."""
        with self._lock:
            channel = self.channels.get(channel_id)
            if channel is None:
                return []
            return [
                m
                for m in channel.messages
                if not m.deleted
                and (include_threads or not m.is_reply or m.subtype == "thread_broadcast")
            ]

    def thread(self, channel_id: str, ts: str) -> list[Message]:
        """The parent message followed by its live replies."""
        with self._lock:
            return [m for m in self.messages(channel_id) if m.ts == ts or m.thread_ts == ts]

    def dm_messages(self, user_id: str) -> list[Message]:
        with self._lock:
            dm = self.dms.get(user_id)
            return self.messages(dm) if dm else []

    def last_message(self, channel_id: str) -> Message | None:
        live = self.messages(channel_id)
        return live[-1] if live else None

    def ephemerals_for(
        self, user_id: str, *, include_responses: bool = True
    ) -> list[dict[str, Any]]:
        """What only ``user_id`` saw, oldest first.

        That is chat.postEphemeral messages plus (unless ``include_responses`` is
        False) ephemeral posts to response_urls, which Slack shows the same way.
        """
        with self._lock:
            pool = self.ephemerals + (self.response_ephemerals if include_responses else [])
            mine = [e for e in pool if e["user"] == user_id and not e.get("deleted")]
            return sorted(mine, key=lambda e: ts_key(e["message_ts"]))

    def responses_to(self, response_url: str) -> list[dict[str, Any]]:
        """Payloads POSTed to a response_url (accepts the full URL or its id)."""
        with self._lock:
            return list(self.responses.get(response_url.rstrip("/").rsplit("/", 1)[-1], []))

    def view(self, view_id: str) -> dict[str, Any] | None:
        return self.views.get(view_id)

    def view_payload(self, view_id: str) -> dict[str, Any] | None:
        """A stored view shaped as Slack puts it in interaction payloads (no stand-in keys)."""
        with self._lock:
            view = self.views.get(view_id)
            return self._view_api(view) if view is not None else None

    def views_for(
        self, user_id: str, *, include_closed: bool = True, include_home: bool = False
    ) -> list[dict[str, Any]]:
        """Modals opened for a user, oldest first (home tabs only if asked: see home_views)."""
        with self._lock:
            return [
                v
                for v in self.views.values()
                if v["user"] == user_id
                and (include_closed or not v["closed"])
                and (include_home or v["type"] != "home")
            ]

    def mass_mentions(self) -> list[str]:
        """Every text ever sent out that would notify a whole channel or a group."""
        with self._lock:
            return [
                text
                for _source, text, linked in self.text_log
                if _MASS_MENTION.search(text) or (linked and _LINKED_MASS_MENTION.search(text))
            ]

    def all_texts(self, channel_id: str | None = None) -> list[str]:
        """Every string a person can currently see in messages (and ephemerals, topic, purpose)."""
        with self._lock:
            channels = [self.channels[channel_id]] if channel_id else list(self.channels.values())
            out: list[str] = []
            for channel in channels:
                out += [t for t in (channel.topic, channel.purpose) if t]
                for msg in channel.messages:
                    if not msg.deleted:
                        out += list(iter_texts([msg.text, msg.blocks, msg.attachments]))
                for eph in self.ephemerals + self.response_ephemerals:
                    if eph["channel"] == channel.id and not eph.get("deleted"):
                        out += list(
                            iter_texts([eph["text"], eph["blocks"], eph.get("attachments")])
                        )
            if channel_id is None:
                for view in self.views.values():
                    out += list(iter_texts([view.get("title"), view.get("blocks")]))
            return out

    # ------------------------------------------------------------ HTTP plumbing

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        standin = self

        class Handler(BaseHTTPRequestHandler):
            server_version = "SlackStandIn/1.0"

            def do_POST(self) -> None:
                self._serve()

            def do_GET(self) -> None:
                self._serve()

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                status, headers, payload = standin._route(self.path, self.headers, body)
                try:
                    self.send_response(status)
                    for key, value in headers.items():
                        self.send_header(key, value)
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the caller is gone (a killed bot): Slack would not care either

            def log_message(self, format: str, *args: Any) -> None:
                pass  # keep pytest output clean; calls are recorded in standin.calls

        return Handler

    def _route(self, path: str, headers: Any, body: bytes) -> tuple[int, dict[str, str], bytes]:
        try:
            return self._route_request(path, headers, body)
        finally:
            self.notify_change()

    def _route_request(
        self, path: str, headers: Any, body: bytes
    ) -> tuple[int, dict[str, str], bytes]:
        parts = urllib.parse.urlsplit(path)
        try:
            if parts.path.startswith("/api/"):
                return self._serve_api(parts.path[len("/api/") :], parts.query, headers, body)
            if parts.path.startswith("/upload/"):
                return self._serve_upload(parts.path[len("/upload/") :], headers, body)
            if parts.path.startswith("/response/"):
                return self._serve_response_url(parts.path[len("/response/") :], headers, body)
            return _json_reply(404, {"ok": False, "error": "not_found"})
        except Exception:  # a bug in the stand-in must not look like a Slack answer
            self.internal_errors.append(traceback.format_exc())
            return _json_reply(500, {"ok": False, "error": "standin_internal_error"})

    def _serve_api(
        self, method: str, query: str, headers: Any, body: bytes
    ) -> tuple[int, dict[str, str], bytes]:
        if self.latency > 0:
            time.sleep(self.latency)  # outside the lock so concurrent calls overlap as they would
        held = self.holds.get(method)
        if held is not None:
            held._pass()  # outside the lock: other calls go on while this one waits
        with self._lock:
            try:
                args = _parse_args(headers.get("Content-Type") or "", body, query)
            except ValueError:
                args, parse_error = {}, True
            else:
                parse_error = False
            token = _bearer_token(headers, args)
            args.pop("token", None)
            if parse_error:
                status, response, extra = 200, {"ok": False, "error": "invalid_form_data"}, {}
            else:
                status, response, extra = self._invoke(method, args, token)
            self.calls.append(Call(method, args, response, status, time.time()))
            if status == 429 and self._rate_limits is not None:
                self.rate_limited.append(self.calls[-1])
            _trim(self.calls, self.max_log)
        reply = _json_reply(status, response)
        reply[1].update(extra)
        return reply

    def _invoke(
        self, method: str, args: dict[str, Any], token: str | None
    ) -> tuple[int, dict[str, Any], dict[str, str]]:
        handler = self._handlers.get(method)
        if handler is None:
            return 404, {"ok": False, "error": "unknown_method", "req_method": method}, {}
        if not token:
            return 200, {"ok": False, "error": "not_authed"}, {}
        if method == "apps.connections.open":  # the one method that takes an app-level token
            if not token.startswith("xapp-"):
                return 200, {"ok": False, "error": "not_allowed_token_type"}, {}
        elif not token.startswith("xoxb-"):
            return 200, {"ok": False, "error": "invalid_auth"}, {}
        if self._outage_until is not None and time.monotonic() < self._outage_until:
            status = self._outage_status
            error = {500: "fatal_error"}.get(status, "service_unavailable")
            return status, {"ok": False, "error": error}, {}
        fault = self._take_fault(method, args)
        if fault is not None:
            return fault
        if self._rate_limits is not None and (wait := self._rate_limits.take(method, args)):
            return 429, {"ok": False, "error": "ratelimited"}, {"Retry-After": str(math.ceil(wait))}
        try:
            self._decode_json_args(args)
            return 200, {"ok": True, **handler(args)}, {}
        except SlackError as err:
            return err.status, {"ok": False, "error": err.error, **err.extra}, {}

    def _take_fault(
        self, method: str, args: dict[str, Any]
    ) -> tuple[int, dict[str, Any], dict[str, str]] | None:
        for fault in self.faults:
            if fault.method not in (method, "*") or (
                fault.when is not None and not fault.when(args)
            ):
                continue
            fault.remaining -= 1
            if fault.remaining <= 0:
                self.faults.remove(fault)
            if fault.status == 429:
                retry_after = str(fault.retry_after if fault.retry_after is not None else 1)
                return 429, {"ok": False, "error": "ratelimited"}, {"Retry-After": retry_after}
            if fault.status >= 500:
                default = {500: "fatal_error", 503: "service_unavailable"}.get(
                    fault.status, "internal_error"
                )
                return fault.status, {"ok": False, "error": fault.error or default}, {}
            return fault.status, {"ok": False, "error": fault.error or "internal_error"}, {}
        return None

    @staticmethod
    def _decode_json_args(args: dict[str, Any]) -> None:
        """Form-encoded calls carry blocks/view/… as JSON strings; JSON calls carry objects."""
        errors = {"blocks": "invalid_blocks_format", "attachments": "invalid_attachments"}
        for key in _JSON_ARGS:
            value = args.get(key)
            if isinstance(value, str) and value.strip():
                try:
                    args[key] = json.loads(value)
                except json.JSONDecodeError:
                    raise SlackError(errors.get(key, "invalid_arguments")) from None
            elif isinstance(value, str):
                args[key] = None

    # ------------------------------------------------------------ ids, time, lookups

    def _new_id(self, prefix: str) -> str:
        return f"{prefix}{next(self._seq):08X}"

    def new_ts(self) -> str:
        """A fresh message timestamp (for payloads that need one, e.g. ephemeral containers)."""
        with self._lock:
            return self._new_ts()

    def _new_ts(self) -> str:
        """Unique, strictly increasing, wall-clock based like Slack's."""
        now_us = max(int(time.time() * 1_000_000), self._last_ts_us + 1)
        self._last_ts_us = now_us
        sec, usec = divmod(now_us, 1_000_000)
        return f"{sec}.{usec:06d}"

    def _user(self, user_id: Any, error: str = "user_not_found") -> User:
        user = self.users.get(str(user_id or ""))
        if user is None:
            raise SlackError(error)
        return user

    def _can_see(self, channel: Channel) -> bool:
        return (
            not (channel.is_private or channel.is_im or channel.is_mpim)
            or BOT_USER_ID in channel.members
        )

    def _visible(self, ref: Any) -> Channel:
        """A channel the bot can see; private ones it is not in do not exist for it."""
        ref = str(ref or "")
        channel = self.channels.get(ref) or (
            self.channel_by_name(ref) if ref.startswith("#") else None
        )
        if channel is None or not self._can_see(channel):
            raise SlackError("channel_not_found")
        return channel

    def _joined(self, ref: Any, *, writable: bool = True) -> Channel:
        channel = self._visible(ref)
        if writable and channel.is_archived:
            raise SlackError("is_archived")
        if BOT_USER_ID not in channel.members:
            raise SlackError("not_in_channel")
        return channel

    def _post_target(self, ref: Any) -> Channel:
        """chat.* accept a channel id, a #name, or a user id (meaning the DM with that user)."""
        ref = str(ref or "")
        if ref[:1] in ("U", "W") and ref in self.users:
            return self._ensure_dm(ref)
        if ref and ref[0] not in "CDG#" and ref not in self.channels:
            ref = "#" + ref
        return self._joined(ref)

    def _ensure_dm(self, user_id: str) -> Channel:
        if user_id not in self.dms:
            dm_id = self._new_id("D")
            members = {BOT_USER_ID, user_id}
            self.channels[dm_id] = Channel(
                dm_id, "", True, members=members, is_im=True, im_user=user_id
            )
            self.channels[dm_id].created = int(time.time())
            self.dms[user_id] = dm_id
        return self.channels[self.dms[user_id]]

    def _message(self, channel: Channel, ts: Any) -> Message:
        msg = next((m for m in channel.messages if m.ts == str(ts or "") and not m.deleted), None)
        if msg is None:
            raise SlackError("message_not_found")
        return msg

    def _log(self, source: str, obj: Any, *, link_names: bool = False) -> None:
        self.text_log.extend((source, text, link_names) for text in iter_texts(obj) if text)
        _trim(self.text_log, self.max_log)

    # ------------------------------------------------------------ message content

    @staticmethod
    def _check_content(text: Any, blocks: Any, attachments: Any) -> None:
        if text is not None and not isinstance(text, str):
            raise SlackError("invalid_arguments")
        if not text and not blocks and not attachments:
            raise SlackError("no_text")
        if text and len(text) > MAX_TEXT_CHARS:
            raise SlackError("msg_too_long")
        if blocks is not None:
            errors = block_errors(blocks)
            if errors:
                raise _invalid("invalid_blocks", errors)
        if attachments is not None and not isinstance(attachments, list):
            raise SlackError("invalid_attachments")

    def _append_message(
        self,
        channel: Channel,
        *,
        user: str,
        text: str,
        blocks: list[dict[str, Any]] | None = None,
        thread_ts: str | None = None,
        attachments: list[dict[str, Any]] | None = None,
        metadata: dict[str, Any] | None = None,
        files: list[dict[str, Any]] | None = None,
        reply_broadcast: bool = False,
    ) -> Message:
        parent = None
        if thread_ts:
            parent = next((m for m in channel.messages if m.ts == thread_ts), None)
            if parent is not None and parent.is_reply:
                # Replying to a reply lands in the parent's thread.
                thread_ts = parent.thread_ts
                parent = next((m for m in channel.messages if m.ts == thread_ts), None)
        msg = Message(
            channel.id,
            self._new_ts(),
            user,
            text,
            blocks=with_block_ids(blocks),
            thread_ts=thread_ts or None,
            attachments=attachments,
            metadata=metadata,
            files=files or [],
            subtype="thread_broadcast" if thread_ts and reply_broadcast else None,
        )
        channel.messages.append(msg)
        if parent is not None:
            msg.parent_user = parent.user
            parent.thread_ts = parent.ts
            parent.reply_count += 1
            parent.latest_reply = msg.ts
            if user not in parent.reply_users:
                parent.reply_users.append(user)
        return msg

    # ------------------------------------------------------------ apps (Socket Mode)

    socket_url: str | None = None  # set by a test to its Socket Mode stand-in's ws:// URL

    def _apps_connections_open(self, args: dict[str, Any]) -> dict[str, Any]:
        if self.socket_url is None:
            raise SlackError("internal_error")  # the test started no Socket Mode stand-in
        return {"url": self.socket_url}

    # ------------------------------------------------------------ auth / team / users

    def _auth_test(self, args: dict[str, Any]) -> dict[str, Any]:
        return {
            "url": TEAM_URL,
            "team": TEAM_NAME,
            "user": BOT_NAME,
            "team_id": TEAM_ID,
            "user_id": BOT_USER_ID,
            "bot_id": BOT_ID,
            "is_enterprise_install": False,
        }

    def _api_test(self, args: dict[str, Any]) -> dict[str, Any]:
        if args.get("error"):
            raise SlackError(str(args["error"]))
        return {"args": dict(args)}

    def _team_info(self, args: dict[str, Any]) -> dict[str, Any]:
        team = {
            "id": TEAM_ID,
            "name": TEAM_NAME,
            "domain": TEAM_DOMAIN,
            "email_domain": "example.com",
        }
        return {"team": {**team, "icon": {"image_default": True}}}

    def _users_info(self, args: dict[str, Any]) -> dict[str, Any]:
        return {"user": self._user(args.get("user")).to_api()}

    def _users_lookup_by_email(self, args: dict[str, Any]) -> dict[str, Any]:
        email = str(args.get("email") or "").lower()
        user = next((u for u in self.users.values() if u.email and u.email.lower() == email), None)
        if user is None:
            raise SlackError("users_not_found")
        return {"user": user.to_api()}

    def _bots_info(self, args: dict[str, Any]) -> dict[str, Any]:
        bot = self.bots.get(str(args.get("bot") or ""))
        if bot is None:
            raise SlackError("bot_not_found")
        return {"bot": {**bot, "deleted": False, "app_id": "A0OTHER", "icons": {}}}

    def _users_list(self, args: dict[str, Any]) -> dict[str, Any]:
        members = [u.to_api() for u in self.users.values()]
        return {**_paginate(members, args, "members", 1000, 1000), "cache_ts": int(time.time())}

    def _usergroups_list(self, args: dict[str, Any]) -> dict[str, Any]:
        include = _flag(args, "include_users")
        return {"usergroups": [g.to_api(include) for g in self.usergroups.values()]}

    def _usergroups_users_list(self, args: dict[str, Any]) -> dict[str, Any]:
        group = self.usergroups.get(str(args.get("usergroup") or ""))
        if group is None:
            raise SlackError("no_such_subteam")
        return {"users": list(group.users)}

    # ------------------------------------------------------------ conversations

    def _conversations_create(self, args: dict[str, Any]) -> dict[str, Any]:
        name = str(args.get("name") or "")
        self._check_new_name(name)
        cid = self.add_channel(name, is_private=_flag(args, "is_private"), creator=BOT_USER_ID)
        return {"channel": self.channels[cid].to_api()}

    def _check_new_name(self, name: str, *, renaming: Channel | None = None) -> None:
        error = channel_name_error(name)
        if error:
            raise SlackError(error)
        # Archived channels keep their names, so they still collide.
        if any(c.name == name and c is not renaming for c in self.channels.values() if not c.is_im):
            raise SlackError("name_taken")

    def _conversations_info(self, args: dict[str, Any]) -> dict[str, Any]:
        return {"channel": self._visible(args.get("channel")).to_api()}

    def _conversations_list(self, args: dict[str, Any]) -> dict[str, Any]:
        types = set(_csv(args.get("types") or "public_channel"))
        exclude_archived = _flag(args, "exclude_archived")

        def wanted(c: Channel) -> bool:
            kind = (
                "im"
                if c.is_im
                else "mpim"
                if c.is_mpim
                else "private_channel"
                if c.is_private
                else "public_channel"
            )
            return kind in types and self._can_see(c) and not (exclude_archived and c.is_archived)

        channels = [c.to_api() for c in self.channels.values() if wanted(c)]
        return _paginate(channels, args, "channels", 100, 1000)

    def _conversations_members(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = self._visible(args.get("channel"))
        return _paginate(sorted(channel.members), args, "members", 100, 1000)

    def _conversations_join(self, args: dict[str, Any]) -> dict[str, Any]:
        ref = str(args.get("channel") or "")
        channel = self.channels.get(ref)
        if channel is None:
            raise SlackError("channel_not_found")
        if channel.is_private or channel.is_im or channel.is_mpim:
            raise SlackError("method_not_supported_for_channel_type")
        if channel.is_archived:
            raise SlackError("is_archived")
        if BOT_USER_ID in channel.members:
            warning = {
                "warning": "already_in_channel",
                "response_metadata": {"warnings": ["already_in_channel"]},
            }
            return {"channel": channel.to_api(), **warning}
        channel.members.add(BOT_USER_ID)
        return {"channel": channel.to_api()}

    def _conversations_invite(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = self._visible(args.get("channel"))
        if channel.is_im:
            raise SlackError("method_not_supported_for_channel_type")
        if channel.is_archived:
            raise SlackError("is_archived")
        if BOT_USER_ID not in channel.members:
            raise SlackError("not_in_channel")
        user_ids = _csv(args.get("users"))
        if not user_ids:
            raise SlackError("no_user")
        for uid in user_ids:
            if uid == BOT_USER_ID:
                raise SlackError("cant_invite_self")
            if self._user(uid).deleted:
                raise SlackError("cant_invite")
        # With several users Slack skips those already in; it only errors when nobody is new.
        if all(uid in channel.members for uid in user_ids):
            raise SlackError("already_in_channel")
        channel.members.update(user_ids)
        return {"channel": channel.to_api()}

    def _conversations_kick(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = self._joined(args.get("channel"))
        if channel.is_im:
            raise SlackError("method_not_supported_for_channel_type")
        user_id = str(args.get("user") or "")
        if user_id == BOT_USER_ID:
            raise SlackError("cant_kick_self")
        self._user(user_id)
        if channel.is_general:
            raise SlackError("cant_kick_from_general")
        if user_id not in channel.members:
            raise SlackError("not_in_channel")
        channel.members.discard(user_id)
        return {}

    def _conversations_set_topic(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = self._joined(args.get("channel"))
        topic = str(args.get("topic") or "")
        if len(topic) > MAX_TOPIC_CHARS:
            raise SlackError("too_long")
        channel.topic = topic
        self._log("conversations.setTopic", topic)
        return {"channel": channel.to_api()}

    def _conversations_set_purpose(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = self._joined(args.get("channel"))
        purpose = str(args.get("purpose") or "")
        if len(purpose) > MAX_TOPIC_CHARS:
            raise SlackError("too_long")
        channel.purpose = purpose
        self._log("conversations.setPurpose", purpose)
        return {"channel": channel.to_api()}

    def _conversations_rename(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = self._joined(args.get("channel"))
        if channel.is_im or channel.is_mpim:
            raise SlackError("method_not_supported_for_channel_type")
        name = str(args.get("name") or "")
        self._check_new_name(name, renaming=channel)
        if name != channel.name:
            channel.previous_names.append(channel.name)
            channel.name = name
        return {"channel": channel.to_api()}

    def _conversations_archive(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = self._visible(args.get("channel"))
        if channel.is_im or channel.is_mpim:
            raise SlackError("method_not_supported_for_channel_type")
        if channel.is_archived:
            raise SlackError("already_archived")
        if channel.is_general:
            raise SlackError("cant_archive_general")
        if BOT_USER_ID not in channel.members:
            raise SlackError("not_in_channel")
        channel.is_archived = True
        return {}

    def _conversations_unarchive(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = self._visible(args.get("channel"))
        if not channel.is_archived:
            raise SlackError("not_archived")
        channel.is_archived = False
        return {}

    def _conversations_open(self, args: dict[str, Any]) -> dict[str, Any]:
        if args.get("channel"):
            channel = self._visible(args.get("channel"))
            return {"channel": channel.to_api() if _flag(args, "return_im") else {"id": channel.id}}
        user_ids = _csv(args.get("users"))
        if not user_ids:
            raise SlackError("users_list_not_supplied")
        for uid in user_ids:
            user = self._user(uid)
            if user.deleted:
                raise SlackError("user_disabled")
            if user.is_bot:
                raise SlackError("cannot_dm_bot")
        if len(user_ids) == 1:
            existed = user_ids[0] in self.dms
            channel = self._ensure_dm(user_ids[0])
            extra: dict[str, Any] = {"no_op": True, "already_open": True} if existed else {}
        else:
            channel = self._ensure_mpim(user_ids)
            extra = {}
        return {
            "channel": channel.to_api() if _flag(args, "return_im") else {"id": channel.id},
            **extra,
        }

    def _ensure_mpim(self, user_ids: list[str]) -> Channel:
        members = {BOT_USER_ID, *user_ids}
        for channel in self.channels.values():
            if channel.is_mpim and channel.members == members:
                return channel
        names = sorted(self.users[u].name for u in members)
        cid = self._new_id("G")
        self.channels[cid] = Channel(
            cid, f"mpdm-{'--'.join(names)}-1", True, members=members, is_mpim=True
        )
        return self.channels[cid]

    @staticmethod
    def _in_window(msg: Message, args: dict[str, Any]) -> bool:
        inclusive = _flag(args, "inclusive")
        key = ts_key(msg.ts)
        if args.get("oldest"):
            oldest = ts_key(str(args["oldest"]))
            if key < oldest or (key == oldest and not inclusive):
                return False
        if args.get("latest"):
            latest = ts_key(str(args["latest"]))
            if key > latest or (key == latest and not inclusive):
                return False
        return True

    def _conversations_history(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = self._joined(args.get("channel"), writable=False)
        top_level = [
            m
            for m in reversed(channel.messages)
            if not m.deleted
            and (not m.is_reply or m.subtype == "thread_broadcast")
            and self._in_window(m, args)
        ]
        page = _paginate([m.to_api() for m in top_level], args, "messages", 100, 999)
        page["has_more"] = bool(page["response_metadata"]["next_cursor"])
        return {**page, "pin_count": len(channel.pins)}

    def _conversations_replies(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = self._joined(args.get("channel"), writable=False)
        ts = str(args.get("ts") or "")
        msg = next((m for m in channel.messages if m.ts == ts and not m.deleted), None)
        if msg is None:
            raise SlackError("thread_not_found")
        root_ts = msg.thread_ts or msg.ts
        root = next((m for m in channel.messages if m.ts == root_ts), msg)
        replies = [
            m for m in channel.messages if m.is_reply and m.thread_ts == root_ts and not m.deleted
        ]
        replies = [m for m in replies if self._in_window(m, args)]
        page = _paginate([m.to_api() for m in [root, *replies]], args, "messages", 1000, 1000)
        page["has_more"] = bool(page["response_metadata"]["next_cursor"])
        return page

    # ------------------------------------------------------------ chat

    def _chat_post_message(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = self._post_target(args.get("channel"))
        text, blocks, attachments = args.get("text"), args.get("blocks"), args.get("attachments")
        self._check_content(text, blocks, attachments)
        thread_ts = str(args["thread_ts"]) if args.get("thread_ts") else None
        msg = self._append_message(
            channel,
            user=BOT_USER_ID,
            # Slack stores a fallback when only blocks were sent; notifications show it.
            text=text
            if text
            else ("" if attachments and not blocks else "This content can't be displayed."),
            blocks=blocks,
            thread_ts=thread_ts,
            attachments=attachments,
            metadata=args.get("metadata"),
            reply_broadcast=_flag(args, "reply_broadcast"),
        )
        linked = _flag(args, "link_names") or args.get("parse") == "full"
        self._log("chat.postMessage", [text, blocks, attachments], link_names=linked)
        return {"channel": channel.id, "ts": msg.ts, "message": msg.to_api()}

    def _chat_post_ephemeral(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = self._post_target(args.get("channel"))
        user = self._user(args.get("user"))
        if user.id not in channel.members:
            raise SlackError("user_not_in_channel")
        text, blocks, attachments = args.get("text"), args.get("blocks"), args.get("attachments")
        self._check_content(text, blocks, attachments)
        ts = self._new_ts()
        self.ephemerals.append(
            {
                "channel": channel.id,
                "user": user.id,
                "text": text or "",
                "blocks": with_block_ids(blocks),
                "attachments": attachments,
                "thread_ts": str(args["thread_ts"]) if args.get("thread_ts") else None,
                "message_ts": ts,
                "source": "chat.postEphemeral",
            }
        )
        self._log(
            "chat.postEphemeral", [text, blocks, attachments], link_names=_flag(args, "link_names")
        )
        return {"message_ts": ts}

    def _chat_update(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = self._post_target(args.get("channel"))
        msg = self._message(channel, args.get("ts"))
        if msg.user != BOT_USER_ID:
            raise SlackError("cant_update_message")
        text, blocks, attachments = args.get("text"), args.get("blocks"), args.get("attachments")
        self._check_content(text, blocks, attachments)
        msg.edits.append(
            {
                "text": msg.text,
                "blocks": msg.blocks,
                "attachments": msg.attachments,
                "edited_ts": self._new_ts(),
            }
        )
        # Omitted blocks/attachments are retained; an empty list removes them (Slack's rule).
        if text is not None:
            msg.text = text
        if blocks is not None:
            msg.blocks = with_block_ids(blocks) or None
        if attachments is not None:
            msg.attachments = attachments or None
        if args.get("metadata") is not None:
            msg.metadata = args["metadata"]
        self._log("chat.update", [text, blocks, attachments], link_names=_flag(args, "link_names"))
        return {"channel": channel.id, "ts": msg.ts, "text": msg.text, "message": msg.to_api()}

    def _chat_delete(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = self._post_target(args.get("channel"))
        msg = self._message(channel, args.get("ts"))
        if msg.user != BOT_USER_ID:
            raise SlackError("cant_delete_message")
        self._delete_message(channel, msg)
        return {"channel": channel.id, "ts": msg.ts}

    def _delete_message(self, channel: Channel, msg: Message) -> None:
        msg.deleted = True
        if msg.ts in channel.pins:
            channel.pins.remove(msg.ts)
        if msg.is_reply:
            parent = next((m for m in channel.messages if m.ts == msg.thread_ts), None)
            if parent is not None:
                parent.reply_count = max(0, parent.reply_count - 1)

    def _chat_get_permalink(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = self._visible(args.get("channel"))
        msg = self._message(channel, args.get("message_ts"))
        link = f"{TEAM_URL}archives/{channel.id}/p{msg.ts.replace('.', '')}"
        if msg.is_reply:
            link += f"?thread_ts={msg.thread_ts}&cid={channel.id}"
        return {"channel": channel.id, "permalink": link}

    # ------------------------------------------------------------ pins, reactions, bookmarks

    def _pins_add(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = self._joined(args.get("channel"))
        msg = self._message(channel, args.get("timestamp"))
        if msg.ts in channel.pins:
            raise SlackError("already_pinned")
        channel.pins.append(msg.ts)
        return {}

    def _pins_remove(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = self._joined(args.get("channel"))
        ts = str(args.get("timestamp") or "")
        if ts not in channel.pins:
            raise SlackError("no_pin")
        channel.pins.remove(ts)
        return {}

    def _pins_list(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = self._joined(args.get("channel"), writable=False)
        items = [
            {
                "type": "message",
                "channel": channel.id,
                "created_by": BOT_USER_ID,
                "message": m.to_api(),
            }
            for ts in channel.pins
            if (m := self.find_message(channel.id, ts)) is not None
        ]
        return {"items": items}

    def _reaction_target(self, args: dict[str, Any]) -> tuple[Message, str]:
        channel = self._joined(args.get("channel"), writable=False)
        name = str(args.get("name") or "")
        if not name or not re.fullmatch(r"[a-z0-9_+'-]+(::skin-tone-[2-6])?", name):
            raise SlackError("invalid_name")
        return self._message(channel, args.get("timestamp")), name

    def _reactions_add(self, args: dict[str, Any]) -> dict[str, Any]:
        msg, name = self._reaction_target(args)
        users = msg.reactions.setdefault(name, [])
        if BOT_USER_ID in users:
            raise SlackError("already_reacted")
        users.append(BOT_USER_ID)
        return {}

    def _reactions_remove(self, args: dict[str, Any]) -> dict[str, Any]:
        msg, name = self._reaction_target(args)
        if BOT_USER_ID not in msg.reactions.get(name, []):
            raise SlackError("no_reaction")
        msg.reactions[name].remove(BOT_USER_ID)
        if not msg.reactions[name]:
            del msg.reactions[name]
        return {}

    def _reactions_get(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = self._joined(args.get("channel"), writable=False)
        msg = self._message(channel, args.get("timestamp"))
        return {"type": "message", "channel": channel.id, "message": msg.to_api()}

    def _bookmarks_add(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = self._joined(args.get("channel_id"))
        title, link = str(args.get("title") or ""), str(args.get("link") or "")
        if args.get("type") != "link":
            raise SlackError("invalid_bookmark_type")
        if not title:
            raise SlackError("invalid_arguments")  # title is required
        if not re.match(r"^https?://", link):
            raise SlackError("invalid_link")
        now = int(time.time())
        bookmark = {
            "id": self._new_id("Bk"),
            "channel_id": channel.id,
            "title": title,
            "link": link,
            "emoji": args.get("emoji"),
            "icon_url": None,
            "type": "link",
            "entity_id": None,
            "date_created": now,
            "date_updated": 0,
            "rank": chr(ord("a") + len(channel.bookmarks) % 26),
            "last_updated_by_user_id": BOT_USER_ID,
            "last_updated_by_team_id": TEAM_ID,
            "shortcut_id": None,
            "app_id": None,
        }
        channel.bookmarks.append(bookmark)
        self._log("bookmarks.add", title)
        return {"bookmark": dict(bookmark)}

    def _bookmarks_list(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = self._joined(args.get("channel_id"), writable=False)
        return {"bookmarks": [dict(b) for b in channel.bookmarks]}

    def _bookmarks_remove(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = self._joined(args.get("channel_id"))
        bookmark_id = str(args.get("bookmark_id") or "")
        before = len(channel.bookmarks)
        channel.bookmarks[:] = [b for b in channel.bookmarks if b["id"] != bookmark_id]
        if len(channel.bookmarks) == before:
            raise SlackError("not_found")
        return {}

    # ------------------------------------------------------------ views

    def _validated_view(self, args: dict[str, Any], allowed: tuple[str, ...]) -> dict[str, Any]:
        view = args.get("view")
        errors = view_errors(view, allowed_types=allowed)
        if errors:
            raise SlackError("invalid_arguments", extra={"response_metadata": {"messages": errors}})
        assert isinstance(view, dict)
        external_id = view.get("external_id")
        if external_id and any(
            v["external_id"] == external_id and not v["closed"] and v["id"] != args.get("view_id")
            for v in self.views.values()
        ):
            raise SlackError("duplicate_external_id")
        return view

    def _use_trigger(self, args: dict[str, Any]) -> _Trigger:
        trigger_id = str(args.get("trigger_id") or args.get("interactivity_pointer") or "")
        trigger = self._triggers.get(trigger_id)
        if trigger is None:
            raise SlackError("invalid_trigger_id")
        if trigger.used or time.monotonic() > trigger.expires_at:
            raise SlackError("expired_trigger_id")
        trigger.used = True
        return trigger

    def _store_view(
        self, spec: dict[str, Any], *, user: str | None, parent: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        view_id = self._new_id("V")
        view: dict[str, Any] = {
            "id": view_id,
            "team_id": TEAM_ID,
            "root_view_id": parent["root_view_id"] if parent else view_id,
            "previous_view_id": parent["id"] if parent else None,
            "app_id": APP_ID,
            "app_installed_team_id": TEAM_ID,
            "bot_id": BOT_ID,
            "user": user,
            "closed": False,
        }
        self._replace_view(view, spec)
        self.views[view_id] = view
        return view

    def _replace_view(self, view: dict[str, Any], spec: dict[str, Any]) -> None:
        view.update(
            type=spec.get("type", view.get("type", "modal")),
            title=copy.deepcopy(spec.get("title")),
            submit=copy.deepcopy(spec.get("submit")),
            close=copy.deepcopy(spec.get("close")),
            blocks=with_block_ids(spec.get("blocks")) or [],
            private_metadata=spec.get("private_metadata") or "",
            callback_id=spec.get("callback_id") or "",
            # An update that omits external_id keeps the one the view already has.
            external_id=spec.get("external_id") or view.get("external_id") or "",
            clear_on_close=bool(spec.get("clear_on_close")),
            notify_on_close=bool(spec.get("notify_on_close")),
            state={"values": {}},
            hash=f"{int(time.time())}.{secrets.token_hex(4)}",
        )
        self._log(
            "views", [spec.get("title"), spec.get("blocks"), spec.get("submit"), spec.get("close")]
        )

    @staticmethod
    def _view_api(view: dict[str, Any]) -> dict[str, Any]:
        return {k: copy.deepcopy(v) for k, v in view.items() if k not in _VIEW_KEYS_INTERNAL}

    def _views_open(self, args: dict[str, Any]) -> dict[str, Any]:
        spec = self._validated_view(args, ("modal",))
        trigger = self._use_trigger(args)
        return {"view": self._view_api(self._store_view(spec, user=trigger.user))}

    def _views_push(self, args: dict[str, Any]) -> dict[str, Any]:
        spec = self._validated_view(args, ("modal",))
        trigger = self._use_trigger(args)
        parent = self.views.get(trigger.view_id or "")
        if parent is not None:
            stack = [
                v
                for v in self.views.values()
                if v["root_view_id"] == parent["root_view_id"] and not v["closed"]
            ]
            if len(stack) >= 3:
                raise SlackError("push_limit_reached")
        return {"view": self._view_api(self._store_view(spec, user=trigger.user, parent=parent))}

    def _views_update(self, args: dict[str, Any]) -> dict[str, Any]:
        view_id, external_id = args.get("view_id"), args.get("external_id")
        if view_id:
            view = self.views.get(str(view_id))
        else:
            view = next(
                (v for v in self.views.values() if external_id and v["external_id"] == external_id),
                None,
            )
        if view is None or view["closed"]:
            raise SlackError("not_found")
        spec = self._validated_view({**args, "view_id": view["id"]}, ("modal", "home"))
        if args.get("hash") and args["hash"] != view["hash"]:
            raise SlackError("hash_conflict")
        self._replace_view(view, spec)
        return {"view": self._view_api(view)}

    def _views_publish(self, args: dict[str, Any]) -> dict[str, Any]:
        user = self._user(args.get("user_id"))
        spec = self._validated_view(args, ("home",))
        current = self.home_views.get(user.id)
        if current is not None and args.get("hash") and args["hash"] != current["hash"]:
            raise SlackError("hash_conflict")
        if current is None:
            current = self._store_view(spec, user=user.id)
            self.home_views[user.id] = current
        else:
            self._replace_view(current, spec)
        return {"view": self._view_api(current)}

    # ------------------------------------------------------------ files

    def _files_get_upload_url_external(self, args: dict[str, Any]) -> dict[str, Any]:
        filename = str(args.get("filename") or "")
        length = _int(args, "length", 0)
        if not filename or length <= 0:
            raise SlackError("invalid_arguments")
        file_id = self._new_id("F")
        self.files[file_id] = {
            "id": file_id,
            "name": filename,
            "title": filename,
            "length": length,
            "content": None,
            "channels": [],
            "complete": False,
            "created": int(time.time()),
        }
        return {"upload_url": f"{self.base_url}/upload/{file_id}", "file_id": file_id}

    def _files_complete_upload_external(self, args: dict[str, Any]) -> dict[str, Any]:
        items = args.get("files")
        if not isinstance(items, list) or not items:
            raise SlackError("invalid_arguments")
        stored = []
        for item in items:
            record = self.files.get(str(item.get("id") if isinstance(item, dict) else ""))
            if record is None or record["content"] is None:
                raise SlackError("file_not_found")
            stored.append((record, item.get("title") or record["name"]))
        channel_ids = _csv(args.get("channels")) or _csv(args.get("channel_id"))
        channels = [self._post_target(cid) for cid in channel_ids]
        comment = args.get("initial_comment") or ""
        for record, title in stored:
            record.update(title=title, complete=True)
        file_objects = [self._file_api(r) for r, _ in stored]
        for channel in channels:
            for record, _ in stored:
                record["channels"].append(channel.id)
            self._append_message(
                channel,
                user=BOT_USER_ID,
                text=comment,
                files=file_objects,
                thread_ts=str(args["thread_ts"]) if args.get("thread_ts") else None,
            )
        self._log("files.completeUploadExternal", comment)
        return {"files": [{"id": r["id"], "title": r["title"]} for r, _ in stored]}

    def _file_api(self, record: dict[str, Any]) -> dict[str, Any]:
        content = record["content"] or b""
        quoted = urllib.parse.quote(record["name"])
        return {
            "id": record["id"],
            "created": record["created"],
            "name": record["name"],
            "title": record["title"],
            "mimetype": "text/plain"
            if record["name"].endswith((".txt", ".md", ".log"))
            else "application/octet-stream",
            "filetype": record["name"].rsplit(".", 1)[-1] if "." in record["name"] else "binary",
            "user": BOT_USER_ID,
            "size": len(content),
            "channels": list(record["channels"]),
            "url_private": f"{self.base_url}/files/{record['id']}/{quoted}",
            "permalink": f"{TEAM_URL}files/{BOT_USER_ID}/{record['id']}/{quoted}",
        }

    def _files_info(self, args: dict[str, Any]) -> dict[str, Any]:
        record = self.files.get(str(args.get("file") or ""))
        if record is None or not record["complete"]:
            raise SlackError("file_not_found")
        return {"file": self._file_api(record)}

    def _serve_upload(
        self, file_id: str, headers: Any, body: bytes
    ) -> tuple[int, dict[str, str], bytes]:
        with self._lock:
            record = self.files.get(file_id)
            if record is None:
                return 404, {"Content-Type": "text/plain"}, b"Not Found"
            ctype = headers.get("Content-Type") or ""
            content = body
            if ctype.lower().startswith("multipart/form-data"):
                parts = _parse_multipart(ctype, body)
                part = parts.get("file") or parts.get("filename") or next(iter(parts.values()), b"")
                content = part["content"] if isinstance(part, dict) else str(part).encode()
            record["content"] = content
            return (
                200,
                {"Content-Type": "text/plain; charset=utf-8"},
                f"OK - {len(content)}".encode(),
            )

    # ------------------------------------------------------------ response_url

    def _serve_response_url(
        self, rid: str, headers: Any, body: bytes
    ) -> tuple[int, dict[str, str], bytes]:
        with self._lock:
            record = self._response_urls.get(rid)
            if record is None:
                return _json_reply(404, {"ok": False, "error": "expired_url"})
            try:
                payload = json.loads(body.decode("utf-8") or "{}")
            except json.JSONDecodeError:
                return _json_reply(400, {"ok": False, "error": "invalid_payload"})
            # setdefault: tests may clear standin.responses between steps.
            self.responses.setdefault(rid, []).append(payload)
            record.uses += 1
            if record.uses > self.response_url_max_uses:
                return _json_reply(404, {"ok": False, "error": "used_url"})
            try:
                self._apply_response(record, rid, payload)
            except SlackError as err:
                return _json_reply(
                    400 if err.status == 200 else err.status, {"ok": False, "error": err.error}
                )
            return _json_reply(200, {"ok": True})

    def _apply_response(self, record: _ResponseUrl, rid: str, payload: dict[str, Any]) -> None:
        if _flag(payload, "delete_original"):
            self._delete_original(record, rid)
            return
        text, blocks, attachments = (
            payload.get("text"),
            payload.get("blocks"),
            payload.get("attachments"),
        )
        self._check_content(text, blocks, attachments)
        self._log("response_url", [text, blocks, attachments])
        if _flag(payload, "replace_original"):
            self._replace_original(record, rid, payload)
        elif payload.get("response_type") == "in_channel" and record.channel in self.channels:
            channel = self.channels[record.channel]
            thread_ts = str(payload["thread_ts"]) if payload.get("thread_ts") else None
            self._append_message(
                channel,
                user=BOT_USER_ID,
                text=text or "",
                blocks=blocks,
                attachments=attachments,
                thread_ts=thread_ts,
            )
        else:
            self.response_ephemerals.append(
                {
                    "channel": record.channel,
                    "user": record.user,
                    "text": text or "",
                    "blocks": with_block_ids(blocks),
                    "attachments": attachments,
                    "thread_ts": None,
                    "message_ts": self._new_ts(),
                    "source": "response_url",
                    "response_url_id": rid,
                }
            )

    def _original_message(self, record: _ResponseUrl) -> Message | None:
        if record.channel and record.message_ts:
            return self.find_message(record.channel, record.message_ts)
        return None

    def _last_ephemeral_from(self, rid: str) -> dict[str, Any] | None:
        return next(
            (e for e in reversed(self.response_ephemerals) if e.get("response_url_id") == rid), None
        )

    def _replace_original(self, record: _ResponseUrl, rid: str, payload: dict[str, Any]) -> None:
        original = self._original_message(record)
        if original is not None:
            original.edits.append(
                {
                    "text": original.text,
                    "blocks": original.blocks,
                    "attachments": original.attachments,
                }
                | {"edited_ts": self._new_ts()}
            )
            original.text = payload.get("text") or ""
            original.blocks = with_block_ids(payload.get("blocks"))
            original.attachments = payload.get("attachments")
            return
        ephemeral = self._last_ephemeral_from(rid)
        if ephemeral is not None:
            ephemeral.update(
                text=payload.get("text") or "", blocks=with_block_ids(payload.get("blocks"))
            )

    def _delete_original(self, record: _ResponseUrl, rid: str) -> None:
        original = self._original_message(record)
        if original is not None and record.channel:
            self._delete_message(self.channels[record.channel], original)
            return
        ephemeral = self._last_ephemeral_from(rid)
        if ephemeral is not None:
            ephemeral["deleted"] = True


def _trim(log: list[Any], limit: int) -> None:
    """Drop the oldest entries beyond ``limit``, a tenth at a time so appends stay cheap."""
    if len(log) > limit:
        del log[: len(log) - limit + limit // 10]


def _trim_dict(items: dict[str, Any], limit: int) -> None:
    """Drop the oldest keys beyond ``limit`` (dicts keep insertion order)."""
    if len(items) > limit:
        for key in list(itertools.islice(items, len(items) - limit + limit // 10)):
            del items[key]


def _json_reply(status: int, payload: dict[str, Any]) -> tuple[int, dict[str, str], bytes]:
    return (
        status,
        {"Content-Type": "application/json; charset=utf-8"},
        json.dumps(payload).encode("utf-8"),
    )
