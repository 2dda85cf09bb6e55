"""The playground's workspace on disk (``--data DIR``), next to the bot's database.

Responsible for: saving what Slack itself would keep — people, user groups,
channels with their messages, pins, topics and reactions, DMs, uploaded files
and Home tabs — to ``DIR/workspace.json``, and loading it at the next start,
so the bot's stored incidents still point at channels that exist. Open modals
and ephemeral messages are not kept (Slack does not keep them either).

Written atomically (a temporary file renamed over the old one), so a crash
mid-save leaves the previous state.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import os
from pathlib import Path
from typing import Any

from incidentbot.playground.standin import Channel, Message, SlackStandIn, User, Usergroup

STATE_FILE = "workspace.json"
FORMAT = 1


class WorkspaceFileError(Exception):
    """The saved workspace cannot be read; the message names the file and the problem."""


def read(directory: Path) -> dict[str, Any] | None:
    """The saved workspace in ``directory``, or None when there is none."""
    path = directory / STATE_FILE
    if not path.exists():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise WorkspaceFileError(f"{path}: cannot read the saved workspace ({error})") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise WorkspaceFileError(f"{path}: not a workspace saved by this version (format {FORMAT})")
    return data


def restore(standin: SlackStandIn, data: dict[str, Any]) -> None:
    """Replace the stand-in's workspace with a saved one."""
    with standin._lock:
        standin.users = {u["id"]: User(**u) for u in data["users"]}
        standin.usergroups = {g["id"]: Usergroup(**g) for g in data["usergroups"]}
        standin.channels = {c["id"]: _channel(c) for c in data["channels"]}
        standin.dms = dict(data["dms"])
        standin.files = {f["id"]: _file(f) for f in data["files"]}
        standin.home_views = dict(data["home_views"])
        standin.views.update({v["id"]: v for v in standin.home_views.values()})


def save(standin: SlackStandIn, directory: Path) -> None:
    path = directory / STATE_FILE
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(snapshot(standin)), encoding="utf-8")
    os.replace(temporary, path)


def snapshot(standin: SlackStandIn) -> dict[str, Any]:
    with standin._lock:
        return {
            "format": FORMAT,
            # Ids made after a restart continue from here, never reusing one the bot stored.
            "next_id": next(standin._seq),
            "users": [dataclasses.asdict(u) for u in standin.users.values()],
            "usergroups": [dataclasses.asdict(g) for g in standin.usergroups.values()],
            "channels": [_channel_data(c) for c in standin.channels.values()],
            "dms": dict(standin.dms),
            "files": [_file_data(f) for f in standin.files.values()],
            "home_views": json.loads(json.dumps(standin.home_views)),
        }


def _channel_data(channel: Channel) -> dict[str, Any]:
    data = dataclasses.asdict(channel)
    data["members"] = sorted(channel.members)
    return data


def _channel(data: dict[str, Any]) -> Channel:
    fields = dict(data)
    fields["members"] = set(fields["members"])
    fields["messages"] = [Message(**m) for m in fields["messages"]]
    return Channel(**fields)


def _file_data(record: dict[str, Any]) -> dict[str, Any]:
    content = record.get("content")
    encoded = base64.b64encode(content).decode() if content is not None else None
    return {**record, "content": encoded}


def _file(data: dict[str, Any]) -> dict[str, Any]:
    content = data.get("content")
    return {**data, "content": base64.b64decode(content) if content is not None else None}
