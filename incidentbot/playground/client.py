"""Signed, Slack-shaped HTTP requests to the running app's ``POST /slack/events``.

Responsible for: building interaction and event payloads the way Slack documents
them (slash commands, ``block_actions``, ``view_submission``/``view_closed``,
``message_action``, ``shortcut``, Events API envelopes), signing them exactly as
Slack does (``v0=HMAC-SHA256("v0:{ts}:{body}")``), sending them with urllib, and
telling the stand-in what Slack's client would do with the app's answer (closing
or updating a submitted modal).

It asks the :class:`SlackStandIn` for what Slack would know: channel names, stored
messages and views, fresh trigger ids and response_urls. Standard library only.
"""

from __future__ import annotations

import copy
import hashlib
import hmac
import json
import re
import secrets
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Any

from incidentbot.playground.standin import (
    APP_ID,
    BOT_USER_ID,
    TEAM_DOMAIN,
    TEAM_ID,
    Message,
    SlackStandIn,
)

VERIFICATION_TOKEN = "legacy-verification-token"  # deprecated by Slack but still sent in payloads
_FORM = "application/x-www-form-urlencoded"
_JSON = "application/json"

# How each input element reports its value in view.state.values, and which
# initial_* property pre-fills it: element type -> (state key, initial key).
_STATE_KEYS: dict[str, tuple[str, str]] = {
    "plain_text_input": ("value", "initial_value"),
    "email_text_input": ("value", "initial_value"),
    "url_text_input": ("value", "initial_value"),
    "number_input": ("value", "initial_value"),
    "static_select": ("selected_option", "initial_option"),
    "external_select": ("selected_option", "initial_option"),
    "radio_buttons": ("selected_option", "initial_option"),
    "multi_static_select": ("selected_options", "initial_options"),
    "multi_external_select": ("selected_options", "initial_options"),
    "checkboxes": ("selected_options", "initial_options"),
    "users_select": ("selected_user", "initial_user"),
    "multi_users_select": ("selected_users", "initial_users"),
    "conversations_select": ("selected_conversation", "initial_conversation"),
    "multi_conversations_select": ("selected_conversations", "initial_conversations"),
    "channels_select": ("selected_channel", "initial_channel"),
    "multi_channels_select": ("selected_channels", "initial_channels"),
    "datepicker": ("selected_date", "initial_date"),
    "timepicker": ("selected_time", "initial_time"),
    "datetimepicker": ("selected_date_time", "initial_date_time"),
    "rich_text_input": ("rich_text_value", "initial_value"),
    "file_input": ("files", "initial_files"),
}
_OPTION_STATE = {"selected_option", "selected_options"}
# What Slack's client recognises as a typed mention: `@name`, `#channel`.
_TYPED_MENTION = re.compile(r"(?<![\w@#])([@#])([a-z0-9][a-z0-9._-]*)", re.IGNORECASE)
_BROADCASTS = ("channel", "here", "everyone")
_LIST_STATE = {
    "selected_options",
    "selected_users",
    "selected_conversations",
    "selected_channels",
    "files",
}


@dataclass
class Reply:
    """What the app answered: status, raw body, parsed JSON (if any), headers, seconds taken."""

    status: int
    body: str
    json: dict[str, Any] | None
    headers: dict[str, str]
    elapsed: float = 0.0


def slack_signature(signing_secret: str, timestamp: str | int, body: bytes) -> str:
    """``v0=`` + hex HMAC-SHA256 of ``v0:{timestamp}:{body}``, as Slack signs requests."""
    base = f"v0:{timestamp}:".encode() + body
    return "v0=" + hmac.new(signing_secret.encode(), base, hashlib.sha256).hexdigest()


def find_element(
    blocks: list[dict[str, Any]] | None, action_id: str
) -> tuple[str | None, dict[str, Any] | None]:
    """(block_id, element) of the interactive element with ``action_id`` in a block list."""
    for block in blocks or []:
        candidates = list(block.get("elements") or []) if block.get("type") == "actions" else []
        candidates += [block[k] for k in ("accessory", "element") if isinstance(block.get(k), dict)]
        for element in candidates:
            if isinstance(element, dict) and element.get("action_id") == action_id:
                return block.get("block_id"), element
    return None, None


def _options_of(element: dict[str, Any]) -> list[dict[str, Any]]:
    options = list(element.get("options") or [])
    for group in element.get("option_groups") or []:
        options += group.get("options") or []
    return options


def _as_option(element: dict[str, Any], value: Any) -> Any:
    """Accept an option dict or an option *value*; Slack sends back the whole option object."""
    if isinstance(value, dict) or value is None:
        return value
    options = _options_of(element)
    if not options:  # element unknown (not in a stored view/message): make a plausible option
        return {"text": {"type": "plain_text", "text": str(value)}, "value": value}
    option = next((o for o in options if o.get("value") == value), None)
    if option is None:
        raise ValueError(f"{value!r} is not an option of {element.get('action_id')!r}")
    return copy.deepcopy(option)


def _rich_text(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    section = {"type": "rich_text_section", "elements": [{"type": "text", "text": value}]}
    return {"type": "rich_text", "elements": [section]}


def element_state(
    element: dict[str, Any], value: Any = None, *, use_initial: bool = True
) -> dict[str, Any]:
    """One ``state.values[block_id][action_id]`` entry, shaped per element type."""
    kind = element.get("type", "plain_text_input")
    state_key, initial_key = _STATE_KEYS.get(kind, ("value", "initial_value"))
    if value is None and use_initial:
        value = copy.deepcopy(element.get(initial_key))
    if state_key in _OPTION_STATE and value is not None:
        value = (
            [_as_option(element, v) for v in value]
            if state_key == "selected_options"
            else _as_option(element, value)
        )
    if state_key == "rich_text_value":
        value = _rich_text(value)
    if value is None and state_key in _LIST_STATE:
        value = []
    if kind == "number_input" and value is not None:
        value = str(value)  # Slack sends numbers as strings
    return {"type": kind, state_key: value}


class SlackSender:
    """Sends what Slack would send to ``app_url`` for a given user action."""

    def __init__(
        self,
        app_url: str,
        signing_secret: str,
        standin: SlackStandIn,
        team_id: str = TEAM_ID,
        *,
        api_app_id: str = APP_ID,
        timeout: float = 10.0,
    ) -> None:
        self.app_url = app_url
        self.signing_secret = signing_secret
        self.standin = standin
        self.team_id = team_id
        self.api_app_id = api_app_id
        self.timeout = timeout

    # ------------------------------------------------------------ transport

    def post_raw(
        self,
        body: bytes | str,
        *,
        content_type: str,
        timestamp: int | str | None = None,
        signature: str | None = None,
        sign: bool = True,
        extra_headers: dict[str, str] | None = None,
    ) -> Reply:
        """POST ``body`` signed like Slack; override timestamp/signature to forge or replay."""
        raw = body.encode("utf-8") if isinstance(body, str) else body
        ts = str(int(time.time()) if timestamp is None else timestamp)
        headers = {
            "Content-Type": content_type,
            "User-Agent": "Slackbot 1.0 (+https://api.slack.com/robots)",
        }
        if sign:
            headers["X-Slack-Request-Timestamp"] = ts
            headers["X-Slack-Signature"] = signature or slack_signature(
                self.signing_secret, ts, raw
            )
        headers.update(extra_headers or {})
        request = urllib.request.Request(self.app_url, data=raw, headers=headers, method="POST")
        started = time.monotonic()
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as resp:
                status, payload, resp_headers = resp.status, resp.read(), dict(resp.headers.items())
        except urllib.error.HTTPError as err:  # 4xx/5xx are answers too
            status, payload, resp_headers = err.code, err.read(), dict(err.headers.items())
        text = payload.decode("utf-8", errors="replace")
        return Reply(status, text, _maybe_json(text), resp_headers, time.monotonic() - started)

    def _post_form(self, fields: dict[str, str], **opts: Any) -> Reply:
        return self.post_raw(urllib.parse.urlencode(fields), content_type=_FORM, **opts)

    def _post_payload(self, payload: dict[str, Any], **opts: Any) -> Reply:
        """Interactivity payloads arrive as a form with one ``payload`` JSON field."""
        return self._post_form({"payload": json.dumps(payload)}, **opts)

    # ------------------------------------------------------------ shared pieces

    def _user(self, user_id: str) -> dict[str, Any]:
        user = self.standin.users.get(user_id)
        name = user.name if user else user_id.lower()
        return {"id": user_id, "username": name, "name": name, "team_id": self.team_id}

    def _team(self) -> dict[str, Any]:
        return {"id": self.team_id, "domain": TEAM_DOMAIN}

    def channel_name(self, channel_id: str) -> str:
        """The channel_name Slack reports: DMs and unseen private channels have generic names."""
        channel = self.standin.channel(channel_id)
        if channel is None:
            return "unknown"
        if channel.is_im:
            return "directmessage"
        if channel.is_private and BOT_USER_ID not in channel.members:
            return "privategroup"
        return channel.name

    def _envelope(self, kind: str, user: str) -> dict[str, Any]:
        return {
            "type": kind,
            "token": VERIFICATION_TOKEN,
            "team": self._team(),
            "user": self._user(user),
            "api_app_id": self.api_app_id,
            "is_enterprise_install": False,
            "enterprise": None,
        }

    @staticmethod
    def _action_ts() -> str:
        return f"{time.time():.6f}"

    # ------------------------------------------------------------ slash commands

    def slack_encoded(self, typed: str) -> str:
        """Text as Slack sends a slash command's `text` with `should_escape: true`.

        `& < >` become entities; `@name` of a workspace member becomes
        `<@U…|name>`, `#name` of a channel `<#C…|name>`, `@channel`/`@here`/
        `@everyone` `<!…>` and a user group's `@handle` `<!subteam^S…|@handle>`.
        A name Slack does not know stays plain text, as in Slack.
        """
        escaped = typed.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        return _TYPED_MENTION.sub(lambda m: self._mention(m.group(1), m.group(2)), escaped)

    def _mention(self, sigil: str, name: str) -> str:
        lowered = name.lower()
        if sigil == "#":
            found = self.standin.channel_by_name(lowered)
            return f"<#{found.id}|{found.name}>" if found else f"#{name}"
        if lowered in _BROADCASTS:
            return f"<!{lowered}>"
        for person in self.standin.users.values():
            if person.name.lower() == lowered:
                return f"<@{person.id}|{person.name}>"
        for group in self.standin.usergroups.values():
            if group.handle.lower() == lowered:
                return f"<!subteam^{group.id}|@{group.handle}>"
        return f"@{name}"

    def command_fields(
        self,
        text: str,
        *,
        user: str = "U0ALICE",
        channel: str = "C0GENERAL",
        command: str = "/incident",
        user_name: str | None = None,
        trigger_id: str | None = None,
        raw: bool = False,
    ) -> dict[str, str]:
        """The form Slack posts for `text` typed after `command`.

        `text` is what the person typed; it is sent encoded as Slack does
        (`slack_encoded`). `raw=True` sends it byte for byte instead, to
        forge what no Slack client would send.
        """
        return {
            "token": VERIFICATION_TOKEN,
            "team_id": self.team_id,
            "team_domain": TEAM_DOMAIN,
            "channel_id": channel,
            "channel_name": self.channel_name(channel),
            "user_id": user,
            "user_name": user_name or self._user(user)["name"],
            "command": command,
            "text": text if raw else self.slack_encoded(text),
            "api_app_id": self.api_app_id,
            "is_enterprise_install": "false",
            "response_url": self.standin.new_response_url(channel=channel, user=user),
            "trigger_id": trigger_id or self.standin.new_trigger_id(user=user),
        }

    def command(
        self,
        text: str,
        *,
        user: str = "U0ALICE",
        channel: str = "C0GENERAL",
        command: str = "/incident",
        user_name: str | None = None,
        trigger_id: str | None = None,
        timestamp: int | str | None = None,
        signature: str | None = None,
        raw: bool = False,
    ) -> Reply:
        """A person types `/incident text` (see `command_fields` for `raw`)."""
        fields = self.command_fields(
            text,
            user=user,
            channel=channel,
            command=command,
            user_name=user_name,
            trigger_id=trigger_id,
            raw=raw,
        )
        return self._post_form(fields, timestamp=timestamp, signature=signature)

    # ------------------------------------------------------------ block actions

    def _source_message(
        self, channel: str, message_ts: str | None, action_id: str
    ) -> Message | None:
        """The stored message clicked: by ts, else the newest one holding the action."""
        if message_ts:
            return self.standin.find_message(channel, message_ts)
        for msg in reversed(self.standin.messages(channel)):
            if find_element(msg.blocks, action_id)[1] is not None:
                return msg
        return None

    def _source_ephemeral(
        self, channel: str | None, user: str, action_id: str
    ) -> dict[str, Any] | None:
        for eph in reversed(self.standin.ephemerals_for(user)):
            if (channel is None or eph["channel"] == channel) and find_element(
                eph["blocks"], action_id
            )[1]:
                return eph
        return None

    def block_action_payload(
        self,
        action_id: str,
        *,
        user: str = "U0ALICE",
        value: Any = None,
        channel: str | None = None,
        message_ts: str | None = None,
        block_id: str | None = None,
        view: dict[str, Any] | str | None = None,
        action_type: str | None = None,
        selected_option: Any = None,
        selected_user: str | None = None,
        ephemeral: bool = False,
        state_values: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        payload = self._envelope("block_actions", user)
        payload["state"] = {"values": state_values or {}}
        if view is not None:
            view_obj = (
                self.standin.view_payload(view) if isinstance(view, str) else copy.deepcopy(view)
            )
            if view_obj is None:
                raise KeyError(f"no view {view!r} in the stand-in")
            view_obj["state"] = {"values": state_values or {}}
            blocks = view_obj.get("blocks")
            payload.update(container={"type": "view", "view_id": view_obj["id"]}, view=view_obj)
            payload["trigger_id"] = self.standin.new_trigger_id(user=user, view_id=view_obj["id"])
        else:
            channel = channel or self._channel_of_ephemeral(user, action_id, ephemeral)
            if channel is None:
                raise ValueError("block_action needs a channel (message) or a view")
            blocks = self._fill_message_part(
                payload, action_id, user, channel, message_ts, ephemeral
            )
            payload["trigger_id"] = self.standin.new_trigger_id(user=user)
        found_block_id, element = find_element(blocks, action_id)
        element = element or {}
        kind = action_type or element.get("type") or "button"
        action: dict[str, Any] = {
            "action_id": action_id,
            "block_id": block_id or found_block_id or secrets.token_hex(3),
            "type": kind,
            "action_ts": self._action_ts(),
        }
        if kind == "button":
            action["text"] = element.get("text") or {"type": "plain_text", "text": action_id}
            button_value = value if value is not None else element.get("value")
            if button_value is not None:
                action["value"] = button_value
            if element.get("style"):
                action["style"] = element["style"]
        elif kind == "users_select":
            action["selected_user"] = selected_user or value
        elif selected_option is not None or kind in (
            "static_select",
            "external_select",
            "overflow",
            "radio_buttons",
        ):
            action["selected_option"] = _as_option(
                element, selected_option if selected_option is not None else value
            )
        else:
            action.update({k: v for k, v in element_state(element, value).items() if k != "type"})
        payload["actions"] = [action]
        return payload

    def _channel_of_ephemeral(self, user: str, action_id: str, ephemeral: bool) -> str | None:
        eph = self._source_ephemeral(None, user, action_id) if ephemeral else None
        return eph["channel"] if eph else None

    def _fill_message_part(
        self,
        payload: dict[str, Any],
        action_id: str,
        user: str,
        channel: str,
        message_ts: str | None,
        ephemeral: bool,
    ) -> list[dict[str, Any]] | None:
        """Container, channel, message and response_url of an action clicked in a message."""
        payload["channel"] = {"id": channel, "name": self.channel_name(channel)}
        if ephemeral:
            # Ephemeral messages are not stored by Slack: the payload carries no message.
            eph = self._source_ephemeral(channel, user, action_id)
            ts = message_ts or (eph["message_ts"] if eph else self.standin.new_ts())
            payload["container"] = {
                "type": "message",
                "message_ts": ts,
                "channel_id": channel,
                "is_ephemeral": True,
            }
            payload["response_url"] = self.standin.new_response_url(channel=channel, user=user)
            return eph["blocks"] if eph else None
        msg = self._source_message(channel, message_ts, action_id)
        ts = msg.ts if msg else (message_ts or self.standin.new_ts())
        payload["container"] = {
            "type": "message",
            "message_ts": ts,
            "channel_id": channel,
            "is_ephemeral": False,
        }
        payload["message"] = msg.to_api() if msg else {"type": "message", "ts": ts, "text": ""}
        payload["response_url"] = self.standin.new_response_url(
            channel=channel, user=user, message_ts=ts
        )
        return msg.blocks if msg else None

    def block_action(
        self,
        action_id: str,
        *,
        user: str = "U0ALICE",
        value: Any = None,
        channel: str | None = None,
        message_ts: str | None = None,
        block_id: str | None = None,
        view: dict[str, Any] | str | None = None,
        action_type: str | None = None,
        selected_option: Any = None,
        selected_user: str | None = None,
        ephemeral: bool = False,
        state_values: dict[str, Any] | None = None,
        timestamp: int | str | None = None,
        signature: str | None = None,
    ) -> Reply:
        """Click/select ``action_id`` in a stored message (by channel[/ts]) or in a view.

        block_id, element type and button value are taken from the stored blocks when
        not given, so tests exercise exactly what the bot rendered.
        """
        payload = self.block_action_payload(
            action_id,
            user=user,
            value=value,
            channel=channel,
            message_ts=message_ts,
            block_id=block_id,
            view=view,
            action_type=action_type,
            selected_option=selected_option,
            selected_user=selected_user,
            ephemeral=ephemeral,
            state_values=state_values,
        )
        return self._post_payload(payload, timestamp=timestamp, signature=signature)

    # ------------------------------------------------------------ views

    def _synthetic_view(
        self,
        callback_id: str,
        *,
        view_id: str | None,
        private_metadata: str,
        title: str,
        hash: str | None,
        blocks: list[dict[str, Any]] | None,
    ) -> dict[str, Any]:
        vid = view_id or f"V{secrets.token_hex(5).upper()}"
        return {
            "id": vid,
            "team_id": self.team_id,
            "type": "modal",
            "blocks": blocks or [],
            "private_metadata": private_metadata,
            "callback_id": callback_id,
            "state": {"values": {}},
            "hash": hash or f"{int(time.time())}.{secrets.token_hex(4)}",
            "title": {"type": "plain_text", "text": title, "emoji": True},
            "clear_on_close": False,
            "notify_on_close": False,
            "close": None,
            "submit": {"type": "plain_text", "text": "Submit", "emoji": True},
            "previous_view_id": None,
            "root_view_id": vid,
            "app_id": self.api_app_id,
            "external_id": "",
            "app_installed_team_id": self.team_id,
            "bot_id": "BBOT",
        }

    def view_submission_payload(
        self,
        callback_id: str,
        values: dict[str, Any],
        *,
        user: str = "U0ALICE",
        private_metadata: str | None = None,
        view_id: str | None = None,
        title: str = "…",
        hash: str | None = None,
        blocks: list[dict[str, Any]] | None = None,
    ) -> dict[str, Any]:
        stored = self.standin.view_payload(view_id) if view_id else None
        view = stored or self._synthetic_view(
            callback_id,
            view_id=view_id,
            private_metadata=private_metadata or "",
            title=title,
            hash=hash,
            blocks=blocks,
        )
        view["callback_id"] = callback_id
        if private_metadata is not None:
            view["private_metadata"] = private_metadata
        if hash is not None:
            view["hash"] = hash
        view["state"] = {"values": copy.deepcopy(values)}
        payload = self._envelope("view_submission", user)
        payload.update(
            trigger_id=self.standin.new_trigger_id(user=user, view_id=view["id"]), view=view
        )
        payload["response_urls"] = []
        return payload

    def view_submission(
        self,
        callback_id: str,
        values: dict[str, Any],
        *,
        user: str = "U0ALICE",
        private_metadata: str | None = None,
        view_id: str | None = None,
        title: str = "…",
        hash: str | None = None,
        blocks: list[dict[str, Any]] | None = None,
        timestamp: int | str | None = None,
        signature: str | None = None,
    ) -> Reply:
        """Submit a modal with explicit ``state.values``; a stored view supplies the rest."""
        payload = self.view_submission_payload(
            callback_id,
            values,
            user=user,
            private_metadata=private_metadata,
            view_id=view_id,
            title=title,
            hash=hash,
            blocks=blocks,
        )
        reply = self._post_payload(payload, timestamp=timestamp, signature=signature)
        if reply.status == 200:
            # Slack's client acts on the ack: close, update, push, clear or show errors.
            self.standin.handle_view_submission_reply(payload["view"]["id"], reply.json)
        return reply

    def state_values(
        self, view_id: str, inputs: dict[str, Any], *, enforce_required: bool = False
    ) -> dict[str, Any]:
        """Build ``state.values`` from a stored view's input blocks, keyed by action_id inputs."""
        view = self.standin.view(view_id)
        if view is None:
            raise KeyError(f"no view {view_id!r} in the stand-in")
        remaining = dict(inputs)
        values: dict[str, Any] = {}
        for block in view["blocks"]:
            element = block.get("element") if block.get("type") == "input" else None
            if not isinstance(element, dict):
                continue
            action_id = element.get("action_id", "")
            entry = element_state(element, remaining.pop(action_id, None))
            filled = entry[next(k for k in entry if k != "type")] not in (None, [], "")
            if enforce_required and not block.get("optional") and not filled:
                # Slack's client refuses to submit with a required input empty.
                raise ValueError(
                    f"required input {action_id!r} (block {block.get('block_id')!r}) has no value"
                )
            values.setdefault(block.get("block_id", ""), {})[action_id] = entry
        if remaining:
            raise KeyError(f"view {view_id} has no input with action_id(s) {sorted(remaining)}")
        return values

    def submit_view(
        self,
        view_id: str,
        inputs: dict[str, Any],
        *,
        user: str | None = None,
        enforce_required: bool = False,
    ) -> Reply:
        """Fill a view the app opened (inputs by action_id) and submit it like Slack would."""
        view = self.standin.view(view_id)
        if view is None:
            raise KeyError(f"no view {view_id!r} in the stand-in")
        values = self.state_values(view_id, inputs, enforce_required=enforce_required)
        return self.view_submission(
            view["callback_id"], values, user=user or view["user"] or "U0ALICE", view_id=view_id
        )

    def view_closed(
        self, view_id: str, *, user: str | None = None, is_cleared: bool = False
    ) -> Reply:
        """The user dismissed a stored modal (sent only if the app set notify_on_close)."""
        view = self.standin.view_payload(view_id)
        if view is None:
            raise KeyError(f"no view {view_id!r} in the stand-in")
        stored_user = self.standin.views[view_id]["user"]
        payload = self._envelope("view_closed", user or stored_user or "U0ALICE")
        payload.update(view=view, is_cleared=is_cleared)
        reply = self._post_payload(payload)
        self.standin.close_view(view_id)
        return reply

    # ------------------------------------------------------------ shortcuts

    def message_action(
        self,
        callback_id: str,
        *,
        user: str = "U0ALICE",
        channel: str,
        message: dict[str, Any] | None = None,
        message_ts: str | None = None,
    ) -> Reply:
        """A message shortcut; the message comes from the stand-in when only its ts is given."""
        if message is None:
            stored = self.standin.find_message(channel, message_ts) if message_ts else None
            if stored is None:
                raise KeyError(f"no message {message_ts!r} in {channel}")
            message = stored.to_api()
        payload = self._envelope("message_action", user)
        payload.update(
            callback_id=callback_id,
            trigger_id=self.standin.new_trigger_id(user=user),
            response_url=self.standin.new_response_url(channel=channel, user=user),
            channel={"id": channel, "name": self.channel_name(channel)},
            message=message,
            message_ts=message["ts"],
            action_ts=self._action_ts(),
        )
        return self._post_payload(payload)

    def shortcut(self, callback_id: str, *, user: str = "U0ALICE") -> Reply:
        """A global shortcut (no channel, no response_url)."""
        payload = self._envelope("shortcut", user)
        payload.update(
            callback_id=callback_id,
            trigger_id=self.standin.new_trigger_id(user=user),
            action_ts=self._action_ts(),
        )
        return self._post_payload(payload)

    # ------------------------------------------------------------ Events API

    def event_envelope(
        self, event: dict[str, Any], *, event_id: str | None = None, event_time: int | None = None
    ) -> dict[str, Any]:
        event = dict(event)
        event.setdefault("event_ts", f"{time.time():.6f}")
        return {
            "token": VERIFICATION_TOKEN,
            "team_id": self.team_id,
            "api_app_id": self.api_app_id,
            "event": event,
            "type": "event_callback",
            "event_id": event_id or f"Ev{secrets.token_hex(5).upper()}",
            "event_time": event_time if event_time is not None else int(time.time()),
            "authorizations": [
                {
                    "enterprise_id": None,
                    "team_id": self.team_id,
                    "user_id": BOT_USER_ID,
                    "is_bot": True,
                    "is_enterprise_install": False,
                }
            ],
            "is_ext_shared_channel": False,
            "event_context": f"4-{secrets.token_urlsafe(24)}",
            "context_team_id": self.team_id,
            "context_enterprise_id": None,
        }

    def event(
        self,
        event: dict[str, Any],
        *,
        event_id: str | None = None,
        retry_num: int | None = None,
        retry_reason: str | None = None,
        event_time: int | None = None,
        timestamp: int | str | None = None,
        signature: str | None = None,
    ) -> Reply:
        """Deliver an Events API event; retry_num/retry_reason mimic Slack's redeliveries."""
        body = json.dumps(self.event_envelope(event, event_id=event_id, event_time=event_time))
        headers: dict[str, str] = {}
        if retry_num is not None:
            headers["X-Slack-Retry-Num"] = str(retry_num)
            headers["X-Slack-Retry-Reason"] = retry_reason or "http_timeout"
        return self.post_raw(
            body,
            content_type=_JSON,
            timestamp=timestamp,
            signature=signature,
            extra_headers=headers,
        )

    def _channel_type(self, channel_id: str) -> str:
        channel = self.standin.channel(channel_id)
        if channel is None or not (channel.is_im or channel.is_mpim or channel.is_private):
            return "channel"
        return "im" if channel.is_im else "mpim" if channel.is_mpim else "group"

    def message(
        self,
        text: str,
        *,
        user: str = "U0ALICE",
        channel: str = "C0GENERAL",
        thread_ts: str | None = None,
        raw: bool = False,
    ) -> Reply:
        """A person posts ``text``: stored in the stand-in, then delivered as a message event.

        Like a slash command's text, the message is stored and sent the way Slack
        encodes what was typed (``slack_encoded``) unless ``raw``.
        """
        text = text if raw else self.slack_encoded(text)
        msg = self.standin.add_message(channel, text, user=user, thread_ts=thread_ts)
        event = {
            "type": "message",
            "channel": msg.channel,
            "user": user,
            "text": text,
            "ts": msg.ts,
            "team": self.team_id,
            "channel_type": self._channel_type(msg.channel),
            "event_ts": msg.ts,
        }
        if msg.thread_ts:
            event["thread_ts"] = msg.thread_ts
        return self.event(event)

    def app_mention(
        self,
        text: str,
        *,
        user: str = "U0ALICE",
        channel: str = "C0GENERAL",
        thread_ts: str | None = None,
    ) -> Reply:
        """A person mentions the bot; ``<@UBOT>`` is prepended unless already present."""
        if f"<@{BOT_USER_ID}>" not in text:
            text = f"<@{BOT_USER_ID}> {text}"
        msg = self.standin.add_message(channel, text, user=user, thread_ts=thread_ts)
        event = {
            "type": "app_mention",
            "user": user,
            "text": text,
            "ts": msg.ts,
            "channel": msg.channel,
        }
        event.update(team=self.team_id, event_ts=msg.ts)
        if msg.thread_ts:
            event["thread_ts"] = msg.thread_ts
        return self.event(event)

    def url_verification(self, challenge: str) -> Reply:
        body = json.dumps(
            {"token": VERIFICATION_TOKEN, "challenge": challenge, "type": "url_verification"}
        )
        return self.post_raw(body, content_type=_JSON)


def _maybe_json(text: str) -> dict[str, Any] | None:
    if not text.lstrip().startswith("{"):
        return None
    try:
        decoded = json.loads(text)
    except json.JSONDecodeError:
        return None
    return decoded if isinstance(decoded, dict) else None
