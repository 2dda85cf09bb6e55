"""`manifest.yml` is a valid Slack app manifest and declares what the bot uses."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
SCHEMAS = ROOT.parent / "shared" / "slack-manifest-schema"
REMOTE = "https://raw.githubusercontent.com/slackapi/manifest-schema/v0.5.0/schemas/"


def manifest() -> dict:
    return yaml.safe_load((ROOT / "manifest.yml").read_text())


def test_manifest_matches_slack_schema() -> None:
    jsonschema = pytest.importorskip("jsonschema")
    referencing = pytest.importorskip("referencing")
    if not SCHEMAS.is_dir():
        pytest.skip("Slack's manifest schema is not beside the checkout")
    resources = []
    for name in ("manifest.schema.1.0.0.json", "manifest.schema.2.0.0.json"):
        schema = json.loads((SCHEMAS / name).read_text())
        resources.append((REMOTE + name, referencing.Resource.from_contents(schema)))
    registry = referencing.Registry().with_resources(resources)
    top = json.loads((SCHEMAS / "manifest.schema.json").read_text())
    jsonschema.Draft7Validator(top, registry=registry).validate(manifest())


def test_manifest_declares_the_command_and_interactivity() -> None:
    m = manifest()
    commands = {c["command"]: c for c in m["features"]["slash_commands"]}
    assert commands["/incident"]["should_escape"] is True
    assert m["settings"]["interactivity"]["is_enabled"] is True
    assert m["settings"]["socket_mode_enabled"] is True
    scopes = set(m["oauth_config"]["scopes"]["bot"])
    needed = {
        "commands",
        "chat:write",
        "channels:manage",
        "groups:write",
        "pins:write",
        "usergroups:read",
        "users:read.email",  # users.lookupByEmail for escalation targets given as emails
        "files:write",  # the postmortem upload
        "reactions:read",  # the timeline reaction
    }
    assert needed <= scopes
