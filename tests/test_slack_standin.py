"""Tests of the Slack stand-in and the signed-request sender themselves.

Everything talks to the stand-in through the real ``slack_sdk.WebClient`` (and a
real Bolt ``App`` for the round trip), so these tests also prove the stand-in
accepts exactly what the installed SDK sends.
"""

from __future__ import annotations

import json
import threading
import time
import types
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from slack_bolt import App
from slack_bolt.request import BoltRequest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry import builtin_handlers, handler
from slack_sdk.http_retry.builtin_handlers import (
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)
from slack_sdk.signature import SignatureVerifier
from slack_sdk.webhook import WebhookClient

from incidentbot.playground.client import SlackSender, slack_signature
from incidentbot.playground.standin import GENERAL_ID, INCIDENTS_ID, SlackStandIn

SECRET = "test-signing-secret"


@pytest.fixture(autouse=True)
def _quiet_sdk(monkeypatch: pytest.MonkeyPatch) -> None:
    # The SDK warns when a message has blocks but no text; irrelevant to these tests.
    monkeypatch.setenv("SKIP_SLACK_SDK_WARNING", "1")


@pytest.fixture
def standin() -> Iterator[SlackStandIn]:
    s = SlackStandIn(trigger_ttl=0.3)
    yield s
    s.stop()
    assert s.internal_errors == []


@pytest.fixture
def client(standin: SlackStandIn) -> WebClient:
    return WebClient(token="xoxb-test", base_url=standin.api_url, retry_handlers=[])


def error_of(call: Any, **kwargs: Any) -> str:
    with pytest.raises(SlackApiError) as exc:
        call(**kwargs)
    return exc.value.response["error"]


def no_sleep(monkeypatch: pytest.MonkeyPatch, module: types.ModuleType) -> list[float]:
    """Record the retry handlers' sleeps instead of waiting (only inside that SDK module)."""
    slept: list[float] = []
    fake_time = types.SimpleNamespace(sleep=slept.append, time=time.time)
    monkeypatch.setattr(module, "time", fake_time)
    return slept


# ------------------------------------------------------------ basics


def test_auth_identity_and_token_checks(standin: SlackStandIn, client: WebClient) -> None:
    auth = client.auth_test()
    assert (auth["user_id"], auth["bot_id"], auth["team_id"], auth["team"]) == (
        "UBOT",
        "BBOT",
        "T0001",
        "Acme",
    )
    assert auth["url"] == "https://acme.slack.com/"
    assert error_of(WebClient(base_url=standin.api_url).auth_test) == "not_authed"
    assert (
        error_of(WebClient(token="xoxp-user", base_url=standin.api_url).auth_test) == "invalid_auth"
    )
    with pytest.raises(SlackApiError) as exc:
        client.api_call("chat.frobnicate")
    assert exc.value.response.status_code == 404
    assert exc.value.response["error"] == "unknown_method"
    assert [c.method for c in standin.calls] == [
        "auth.test",
        "auth.test",
        "auth.test",
        "chat.frobnicate",
    ]


def test_users_and_usergroups(standin: SlackStandIn, client: WebClient) -> None:
    alice = client.users_lookupByEmail(email="ALICE@example.com")["user"]
    assert alice["id"] == "U0ALICE"
    assert alice["profile"]["email"] == "alice@example.com"
    assert {"name", "real_name", "tz", "tz_offset", "is_bot", "deleted"} <= set(alice)
    assert error_of(client.users_lookupByEmail, email="nobody@example.com") == "users_not_found"
    assert error_of(client.users_info, user="U0NOPE") == "user_not_found"
    standin.add_user("U0TOKYO", "kenji", tz="Asia/Tokyo")
    assert client.users_info(user="U0TOKYO")["user"]["tz_offset"] == 9 * 3600
    assert client.users_info(user="UBOT")["user"]["is_bot"] is True

    standin.add_usergroup("S0ONCALL", "oncall", ["U0BOB", "U0CAROL"])
    assert client.usergroups_users_list(usergroup="S0ONCALL")["users"] == ["U0BOB", "U0CAROL"]
    assert error_of(client.usergroups_users_list, usergroup="S0NOPE") == "no_such_subteam"
    groups = client.usergroups_list(include_users=True)["usergroups"]
    assert groups[0]["handle"] == "oncall" and groups[0]["users"] == ["U0BOB", "U0CAROL"]


def test_users_list_paginates_with_cursor(client: WebClient) -> None:
    pages = [page["members"] for page in client.users_list(limit=4)]
    assert [len(p) for p in pages] == [4, 4]  # the bot, five people, a deactivated one, a bot


# ------------------------------------------------------------ channels


def test_create_channel(standin: SlackStandIn, client: WebClient) -> None:
    channel = client.conversations_create(name="inc-42-db-down", is_private=True)["channel"]
    assert channel["id"].startswith("C") and channel["name"] == "inc-42-db-down"
    assert channel["is_private"] is True and channel["is_member"] is True
    stored = standin.channel_by_name("inc-42-db-down")
    assert stored is not None and stored.creator == "UBOT" and stored.members == {"UBOT"}


@pytest.mark.parametrize(
    ("name", "error"),
    [
        ("", "invalid_name_required"),
        ("x" * 81, "invalid_name_maxlength"),
        ("Inc-1", "invalid_name_specials"),
        ("inc 1", "invalid_name_specials"),
        ("inc.1", "invalid_name_specials"),
        ("---", "invalid_name_punctuation"),
        ("general", "name_taken"),
    ],
)
def test_channel_name_rules(client: WebClient, name: str, error: str) -> None:
    assert error_of(client.conversations_create, name=name) == error


def test_archived_names_stay_taken_and_rename(standin: SlackStandIn, client: WebClient) -> None:
    cid = client.conversations_create(name="inc-1")["channel"]["id"]
    client.conversations_archive(channel=cid)
    assert error_of(client.conversations_create, name="inc-1") == "name_taken"
    assert error_of(client.chat_postMessage, channel=cid, text="hi") == "is_archived"
    client.conversations_unarchive(channel=cid)
    assert (
        client.conversations_rename(channel=cid, name="inc-1-resolved")["channel"]["name"]
        == "inc-1-resolved"
    )
    assert error_of(client.conversations_rename, channel=cid, name="incidents") == "name_taken"
    assert error_of(client.conversations_archive, channel=GENERAL_ID) == "cant_archive_general"


def test_invite_rules(standin: SlackStandIn, client: WebClient) -> None:
    cid = client.conversations_create(name="inc-2")["channel"]["id"]
    client.conversations_invite(channel=cid, users=["U0ALICE"])
    # Some already in: the others are added; all already in: already_in_channel.
    client.conversations_invite(channel=cid, users="U0ALICE,U0BOB")
    assert standin.channel(cid).members == {"UBOT", "U0ALICE", "U0BOB"}
    assert (
        error_of(client.conversations_invite, channel=cid, users="U0ALICE,U0BOB")
        == "already_in_channel"
    )
    assert error_of(client.conversations_invite, channel=cid, users="U0NOPE") == "user_not_found"
    assert error_of(client.conversations_invite, channel=cid, users="UBOT") == "cant_invite_self"
    outside = standin.add_channel("team-db", bot_member=False)
    assert (
        error_of(client.conversations_invite, channel=outside, users="U0ALICE") == "not_in_channel"
    )
    hidden = standin.add_channel("secret", is_private=True, bot_member=False)
    assert (
        error_of(client.conversations_invite, channel=hidden, users="U0ALICE")
        == "channel_not_found"
    )
    assert (
        error_of(client.conversations_join, channel=hidden)
        == "method_not_supported_for_channel_type"
    )
    client.conversations_join(channel=outside)
    client.conversations_kick(channel=cid, user="U0BOB")
    assert "U0BOB" not in standin.channel(cid).members


def test_topic_and_purpose_limits(standin: SlackStandIn, client: WebClient) -> None:
    client.conversations_setTopic(channel=INCIDENTS_ID, topic="t" * 250)
    assert (
        error_of(client.conversations_setTopic, channel=INCIDENTS_ID, topic="t" * 251) == "too_long"
    )
    assert (
        error_of(client.conversations_setPurpose, channel=INCIDENTS_ID, purpose="p" * 251)
        == "too_long"
    )
    client.conversations_setPurpose(channel=INCIDENTS_ID, purpose="SEV1 room")
    info = client.conversations_info(channel=INCIDENTS_ID)["channel"]
    assert info["topic"]["value"] == "t" * 250 and info["purpose"]["value"] == "SEV1 room"


def test_posting_access_rules(standin: SlackStandIn, client: WebClient) -> None:
    assert error_of(client.chat_postMessage, channel="C0MISSING", text="x") == "channel_not_found"
    public = standin.add_channel("random", bot_member=False)
    assert error_of(client.chat_postMessage, channel=public, text="x") == "not_in_channel"
    private = standin.add_channel("hr", is_private=True, bot_member=False)
    assert error_of(client.chat_postMessage, channel=private, text="x") == "channel_not_found"
    assert error_of(client.conversations_info, channel=private) == "channel_not_found"
    assert (
        error_of(client.chat_postEphemeral, channel=public, user="U0ALICE", text="x")
        == "not_in_channel"
    )
    lonely = standin.add_channel("lonely")
    assert (
        error_of(client.chat_postEphemeral, channel=lonely, user="U0ALICE", text="x")
        == "user_not_in_channel"
    )
    client.chat_postEphemeral(channel=GENERAL_ID, user="U0ALICE", text="only you")
    assert standin.ephemerals_for("U0ALICE")[0]["text"] == "only you"


def test_dms(standin: SlackStandIn, client: WebClient) -> None:
    dm = client.conversations_open(users="U0BOB")["channel"]["id"]
    assert dm.startswith("D") and client.conversations_open(users=["U0BOB"])["channel"]["id"] == dm
    client.chat_postMessage(channel=dm, text="one")
    assert client.chat_postMessage(channel="U0BOB", text="two")["channel"] == dm
    assert [m.text for m in standin.dm_messages("U0BOB")] == ["one", "two"]


# ------------------------------------------------------------ messages


def test_post_update_history_threads_permalink(standin: SlackStandIn, client: WebClient) -> None:
    first = client.chat_postMessage(channel="#incidents", text="Incident declared")
    assert first["channel"] == INCIDENTS_ID and first["message"]["bot_id"] == "BBOT"
    reply = client.chat_postMessage(channel=INCIDENTS_ID, text="update 1", thread_ts=first["ts"])
    second = client.chat_postMessage(channel=INCIDENTS_ID, text="second")
    assert first["ts"] < reply["ts"] < second["ts"]

    history = client.conversations_history(channel=INCIDENTS_ID)["messages"]
    assert [m["text"] for m in history] == [
        "second",
        "Incident declared",
    ]  # newest first, no replies
    assert history[1]["reply_count"] == 1 and history[1]["latest_reply"] == reply["ts"]
    window = client.conversations_history(
        channel=INCIDENTS_ID, oldest=first["ts"], inclusive=True, limit=1
    )
    assert window["has_more"] is True and window["messages"][0]["text"] == "second"
    replies = client.conversations_replies(channel=INCIDENTS_ID, ts=first["ts"])["messages"]
    assert [m["text"] for m in replies] == ["Incident declared", "update 1"]
    assert [m.text for m in standin.thread(INCIDENTS_ID, first["ts"])] == [
        "Incident declared",
        "update 1",
    ]

    updated = client.chat_update(channel=INCIDENTS_ID, ts=first["ts"], text="Incident resolved")
    assert updated["message"]["edited"]["user"] == "UBOT"
    stored = standin.find_message(INCIDENTS_ID, first["ts"])
    assert stored is not None and stored.edited and stored.edits[0]["text"] == "Incident declared"
    link = client.chat_getPermalink(channel=INCIDENTS_ID, message_ts=first["ts"])["permalink"]
    assert link == f"https://acme.slack.com/archives/{INCIDENTS_ID}/p{first['ts'].replace('.', '')}"

    human = standin.add_message(INCIDENTS_ID, "I'm on it", user="U0BOB")
    assert (
        error_of(client.chat_update, channel=INCIDENTS_ID, ts=human.ts, text="x")
        == "cant_update_message"
    )
    assert (
        error_of(client.chat_update, channel=INCIDENTS_ID, ts="1.000001", text="x")
        == "message_not_found"
    )
    client.chat_delete(channel=INCIDENTS_ID, ts=second["ts"])
    assert standin.last_message(INCIDENTS_ID) is human


def test_pins_reactions_bookmarks(standin: SlackStandIn, client: WebClient) -> None:
    ts = client.chat_postMessage(channel=GENERAL_ID, text="pin me")["ts"]
    client.pins_add(channel=GENERAL_ID, timestamp=ts)
    assert error_of(client.pins_add, channel=GENERAL_ID, timestamp=ts) == "already_pinned"
    assert client.pins_list(channel=GENERAL_ID)["items"][0]["message"]["ts"] == ts
    client.reactions_add(channel=GENERAL_ID, timestamp=ts, name="eyes")
    assert (
        error_of(client.reactions_add, channel=GENERAL_ID, timestamp=ts, name="eyes")
        == "already_reacted"
    )
    assert standin.find_message(GENERAL_ID, ts).reactions == {"eyes": ["UBOT"]}
    client.bookmarks_add(
        channel_id=GENERAL_ID, title="Runbook", type="link", link="https://example.com/rb"
    )
    assert standin.channel(GENERAL_ID).bookmarks[0]["title"] == "Runbook"


def test_message_limits(client: WebClient) -> None:
    section = {"type": "section", "text": {"type": "mrkdwn", "text": "ok"}}
    resp = None
    with pytest.raises(SlackApiError) as exc:
        client.chat_postMessage(channel=GENERAL_ID, text="x", blocks=[section] * 51)
    resp = exc.value.response
    assert (
        resp["error"] == "invalid_blocks"
        and "[json-pointer:/blocks]" in resp["response_metadata"]["messages"][0]
    )
    client.chat_postMessage(channel=GENERAL_ID, text="x", blocks=[section] * 50)

    def post(*blocks: dict[str, Any]) -> str:
        return error_of(client.chat_postMessage, channel=GENERAL_ID, text="x", blocks=list(blocks))

    assert (
        post({"type": "section", "text": {"type": "mrkdwn", "text": "a" * 3001}})
        == "invalid_blocks"
    )
    assert (
        post({"type": "header", "text": {"type": "plain_text", "text": "h" * 151}})
        == "invalid_blocks"
    )
    assert post({"type": "section", "text": "not an object"}) == "invalid_blocks"
    assert post({**section, "block_id": "a"}, {**section, "block_id": "a"}) == "invalid_blocks"
    button = {"type": "button", "text": {"type": "plain_text", "text": "b" * 76}, "action_id": "go"}
    assert post({"type": "actions", "elements": [button]}) == "invalid_blocks"
    assert (
        error_of(client.chat_postMessage, channel=GENERAL_ID, text="x" * 40_001) == "msg_too_long"
    )
    assert error_of(client.chat_postMessage, channel=GENERAL_ID, text="") == "no_text"
    # Blocks sent as a JSON string inside form data (api_call with params) are decoded.
    client.api_call(
        "chat.postMessage",
        params={"channel": GENERAL_ID, "text": "f", "blocks": json.dumps([section])},
    )


# ------------------------------------------------------------ views


def modal(title: str = "Declare incident", **extra: Any) -> dict[str, Any]:
    element = {"type": "plain_text_input", "action_id": "title"}
    block = {
        "type": "input",
        "block_id": "title_block",
        "label": {"type": "plain_text", "text": "Title"},
    }
    return {
        "type": "modal",
        "callback_id": "declare",
        "title": {"type": "plain_text", "text": title},
        "submit": {"type": "plain_text", "text": "Declare"},
        "blocks": [{**block, "element": element}],
        **extra,
    }


def test_views_open_trigger_is_single_use_and_expires(
    standin: SlackStandIn, client: WebClient
) -> None:
    trigger = standin.new_trigger_id(user="U0ALICE")
    view = client.views_open(trigger_id=trigger, view=modal())["view"]
    assert (
        view["id"].startswith("V")
        and view["root_view_id"] == view["id"]
        and view["state"] == {"values": {}}
    )
    assert standin.views_for("U0ALICE")[0]["callback_id"] == "declare"
    assert error_of(client.views_open, trigger_id=trigger, view=modal()) == "expired_trigger_id"
    assert (
        error_of(client.views_open, trigger_id="123.456.abc", view=modal()) == "invalid_trigger_id"
    )
    stale = standin.new_trigger_id()
    time.sleep(0.35)
    assert error_of(client.views_open, trigger_id=stale, view=modal()) == "expired_trigger_id"


def test_view_limits_are_invalid_arguments(standin: SlackStandIn, client: WebClient) -> None:
    with pytest.raises(SlackApiError) as exc:
        client.views_open(trigger_id=standin.new_trigger_id(), view=modal(title="t" * 25))
    assert exc.value.response["error"] == "invalid_arguments"
    assert (
        "[json-pointer:/view/title/text]" in exc.value.response["response_metadata"]["messages"][0]
    )
    options = [
        {"text": {"type": "plain_text", "text": str(i)}, "value": str(i)} for i in range(101)
    ]
    select = {"type": "static_select", "action_id": "sev", "options": options}
    too_many = modal(
        blocks=[{"type": "input", "label": {"type": "plain_text", "text": "S"}, "element": select}]
    )
    assert (
        error_of(client.views_open, trigger_id=standin.new_trigger_id(), view=too_many)
        == "invalid_arguments"
    )
    metadata = modal(private_metadata="m" * 3001)
    assert (
        error_of(client.views_open, trigger_id=standin.new_trigger_id(), view=metadata)
        == "invalid_arguments"
    )


def test_views_update_honours_hash(standin: SlackStandIn, client: WebClient) -> None:
    opened = client.views_open(
        trigger_id=standin.new_trigger_id(user="U0BOB"), view=modal(external_id="ext-1")
    )
    view_id, first_hash = opened["view"]["id"], opened["view"]["hash"]
    updated = client.views_update(view_id=view_id, hash=first_hash, view=modal(title="Step 2"))[
        "view"
    ]
    assert updated["hash"] != first_hash and standin.view(view_id)["title"]["text"] == "Step 2"
    assert (
        error_of(client.views_update, view_id=view_id, hash=first_hash, view=modal())
        == "hash_conflict"
    )
    assert error_of(client.views_update, view_id="V0NOPE", view=modal()) == "not_found"
    client.views_update(
        external_id="ext-1", view=modal(title="By external id", external_id="ext-1")
    )
    assert standin.view(view_id)["title"]["text"] == "By external id"
    home = {
        "type": "home",
        "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "Open incidents"}}],
    }
    client.views_publish(user_id="U0BOB", view=home)
    assert standin.home_views["U0BOB"]["blocks"][0]["text"]["text"] == "Open incidents"


def test_view_submission_reply_effects(standin: SlackStandIn, client: WebClient) -> None:
    root = client.views_open(trigger_id=standin.new_trigger_id(user="U0DAVE"), view=modal())["view"]
    standin.handle_view_submission_reply(
        root["id"], {"response_action": "update", "view": modal("Next")}
    )
    assert standin.view(root["id"])["title"]["text"] == "Next"
    assert standin.view(root["id"])["closed"] is False
    standin.handle_view_submission_reply(
        root["id"], {"response_action": "push", "view": modal("Pushed")}
    )
    pushed = standin.views_for("U0DAVE")[-1]
    assert (pushed["previous_view_id"], pushed["root_view_id"]) == (root["id"], root["id"])
    standin.handle_view_submission_reply(pushed["id"], {"response_action": "clear"})
    assert standin.views_for("U0DAVE", include_closed=False) == []


def test_state_values_follow_each_element_type(standin: SlackStandIn, client: WebClient) -> None:
    def field(block_id: str, element: dict[str, Any], optional: bool = False) -> dict[str, Any]:
        label = {"type": "plain_text", "text": block_id}
        return {
            "type": "input",
            "block_id": block_id,
            "label": label,
            "element": element,
            "optional": optional,
        }

    sev = [
        {"text": {"type": "plain_text", "text": s.upper()}, "value": s} for s in ("sev1", "sev2")
    ]
    private = [{"text": {"type": "mrkdwn", "text": "Private"}, "value": "private"}]
    blocks = [
        field("t", {"type": "plain_text_input", "action_id": "title", "initial_value": "Kept"}),
        field(
            "s",
            {"type": "static_select", "action_id": "sev", "options": sev, "initial_option": sev[1]},
        ),
        field("u", {"type": "users_select", "action_id": "ic"}),
        field("m", {"type": "multi_users_select", "action_id": "team"}, optional=True),
        field("c", {"type": "checkboxes", "action_id": "flags", "options": private}, optional=True),
        field("d", {"type": "datetimepicker", "action_id": "when"}, optional=True),
    ]
    trigger = standin.new_trigger_id(user="U0DAVE")
    view_id = client.views_open(trigger_id=trigger, view=modal(blocks=blocks))["view"]["id"]
    sender = SlackSender("http://127.0.0.1:9/unused", SECRET, standin)

    values = sender.state_values(view_id, {"sev": "sev1", "ic": "U0BOB", "flags": ["private"]})
    assert values["t"]["title"] == {"type": "plain_text_input", "value": "Kept"}
    assert values["s"]["sev"] == {"type": "static_select", "selected_option": sev[0]}
    assert values["u"]["ic"] == {"type": "users_select", "selected_user": "U0BOB"}
    assert values["m"]["team"] == {"type": "multi_users_select", "selected_users": []}
    assert values["c"]["flags"] == {"type": "checkboxes", "selected_options": private}
    assert values["d"]["when"] == {"type": "datetimepicker", "selected_date_time": None}
    assert sender.state_values(view_id, {})["s"]["sev"]["selected_option"] == sev[1]
    with pytest.raises(KeyError):
        sender.state_values(view_id, {"typo": "x"})
    with pytest.raises(ValueError):
        sender.state_values(view_id, {"sev": "sev9"})
    with pytest.raises(ValueError, match="required input 'ic'"):
        sender.state_values(view_id, {}, enforce_required=True)


# ------------------------------------------------------------ files and response_url


def test_files_upload_v2_end_to_end(standin: SlackStandIn, client: WebClient) -> None:
    resp = client.files_upload_v2(
        channel=INCIDENTS_ID,
        content="timeline\n",
        filename="timeline.txt",
        title="Timeline",
        initial_comment="Here",
    )
    file_id = resp["file"]["id"]
    assert standin.files[file_id]["content"] == b"timeline\n"
    assert (
        standin.files[file_id]["channels"] == [INCIDENTS_ID]
        and standin.files[file_id]["title"] == "Timeline"
    )
    message = standin.last_message(INCIDENTS_ID)
    assert message is not None and message.text == "Here" and message.files[0]["id"] == file_id
    assert client.files_info(file=file_id)["file"]["name"] == "timeline.txt"
    assert [c.method for c in standin.calls] == [
        "files.getUploadURLExternal",
        "files.completeUploadExternal",
        "files.info",
    ]


def test_upload_url_accepts_multipart_and_latency_applies(
    standin: SlackStandIn, client: WebClient
) -> None:
    standin.latency = 0.05
    started = time.monotonic()
    upload = client.files_getUploadURLExternal(filename="a.log", length=3)
    assert time.monotonic() - started >= 0.05
    standin.latency = 0.0
    body = (
        b"--XyZ\r\n"
        b'Content-Disposition: form-data; name="file"; filename="a.log"\r\n'
        b"Content-Type: text/plain\r\n\r\nabc\r\n--XyZ--\r\n"
    )
    headers = {"Content-Type": "multipart/form-data; boundary=XyZ"}
    request = urllib.request.Request(upload["upload_url"], data=body, headers=headers)
    with urllib.request.urlopen(request) as resp:
        assert resp.status == 200
    client.files_completeUploadExternal(files=[{"id": upload["file_id"], "title": "Log"}])
    assert standin.files[upload["file_id"]]["content"] == b"abc"
    assert standin.files[upload["file_id"]]["channels"] == []  # not shared anywhere


def test_response_url_recording(standin: SlackStandIn) -> None:
    url = standin.new_response_url(channel=GENERAL_ID, user="U0CAROL")
    assert WebhookClient(url).send(text="only carol").status_code == 200
    assert WebhookClient(url).send(text="everyone", response_type="in_channel").status_code == 200
    assert [p["text"] for p in standin.responses_to(url)] == ["only carol", "everyone"]
    assert standin.ephemerals_for("U0CAROL")[0]["source"] == "response_url"
    assert standin.last_message(GENERAL_ID).text == "everyone"
    bad = WebhookClient(url).send(
        text="x", blocks=[{"type": "section", "text": {"type": "mrkdwn", "text": ""}}]
    )
    assert bad.status_code == 400 and json.loads(bad.body)["error"] == "invalid_blocks"
    # Slack allows five uses of a response_url.
    assert [WebhookClient(url).send(text="x").status_code for _ in range(3)] == [200, 200, 404]


def test_mass_mentions_are_found_everywhere(standin: SlackStandIn, client: WebClient) -> None:
    client.chat_postMessage(
        channel=GENERAL_ID, text="safe @here text"
    )  # not linked without link_names
    client.chat_postMessage(channel=GENERAL_ID, text="linked @here", link_names=True)
    nested = {"type": "context", "elements": [{"type": "mrkdwn", "text": "ping <!channel>"}]}
    client.chat_postMessage(channel=GENERAL_ID, text="blocks", blocks=[nested])
    broadcast = {"type": "broadcast", "range": "everyone"}
    rich = {
        "type": "rich_text",
        "elements": [{"type": "rich_text_section", "elements": [broadcast]}],
    }
    client.chat_postMessage(channel=GENERAL_ID, text="rich", blocks=[rich])
    client.conversations_setTopic(channel=GENERAL_ID, topic="owner <!subteam^S0ONCALL>")
    WebhookClient(standin.new_response_url(channel=GENERAL_ID)).send(text="<!here|here> hi")
    assert standin.mass_mentions() == [
        "linked @here",
        "ping <!channel>",
        "<!everyone>",
        "owner <!subteam^S0ONCALL>",
        "<!here|here> hi",
    ]
    assert "ping <!channel>" in standin.all_texts(GENERAL_ID)


# ------------------------------------------------------------ fault injection


def test_rate_limit_is_retried_after_retry_after(
    standin: SlackStandIn, client: WebClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    slept = no_sleep(monkeypatch, builtin_handlers)
    standin.fail("chat.postMessage", status=429, retry_after=7)
    assert error_of(client.chat_postMessage, channel=GENERAL_ID, text="x") == "ratelimited"
    assert standin.calls[-1].status == 429

    standin.fail("chat.postMessage", status=429, retry_after=7)
    retrying = WebClient(
        token="xoxb-test",
        base_url=standin.api_url,
        retry_handlers=[RateLimitErrorRetryHandler(max_retry_count=1)],
    )
    retrying.chat_postMessage(channel=GENERAL_ID, text="after the wait")
    assert len(slept) == 1 and 7 <= slept[0] < 8
    assert [c.status for c in standin.calls_to("chat.postMessage")] == [429, 429, 200]
    assert standin.last_message(GENERAL_ID).text == "after the wait"


def test_server_errors_and_targeted_faults(
    standin: SlackStandIn, client: WebClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    no_sleep(monkeypatch, handler)
    standin.fail("conversations.create", status=500)
    with pytest.raises(SlackApiError) as exc:
        client.conversations_create(name="inc-9")
    assert exc.value.response.status_code == 500
    standin.fail("conversations.create", status=503, times=1)
    retrying = WebClient(
        token="xoxb-test", base_url=standin.api_url, retry_handlers=[ServerErrorRetryHandler()]
    )
    retrying.conversations_create(name="inc-9")
    assert standin.channel_by_name("inc-9") is not None

    standin.fail(
        "chat.postMessage",
        error="fatal_error",
        when=lambda args: args.get("channel") == INCIDENTS_ID,
    )
    client.chat_postMessage(channel=GENERAL_ID, text="unaffected")
    assert error_of(client.chat_postMessage, channel=INCIDENTS_ID, text="x") == "fatal_error"
    client.chat_postMessage(channel=INCIDENTS_ID, text="fault used up")
    assert standin.faults == []


# ------------------------------------------------------------ the sender


class _Capture(BaseHTTPRequestHandler):
    """Receives one request and keeps its headers and raw body."""

    seen: list[tuple[dict[str, str], bytes]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.seen.append((dict(self.headers.items()), body))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


def serve(handler_class: type[BaseHTTPRequestHandler]) -> tuple[ThreadingHTTPServer, str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler_class)
    threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
    ).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}/slack/events"


def test_sender_signature_verifies_with_sdk(standin: SlackStandIn) -> None:
    _Capture.seen = []
    server, url = serve(_Capture)
    try:
        sender = SlackSender(url, SECRET, standin)
        sender.command("declare db is down", channel=INCIDENTS_ID)
        sender.event({"type": "app_home_opened", "user": "U0ALICE", "tab": "home"}, retry_num=1)
        sender.post_raw(
            "x=1", content_type="application/x-www-form-urlencoded", timestamp=1, signature="v0=bad"
        )
    finally:
        server.shutdown()
        server.server_close()
    verifier = SignatureVerifier(SECRET)
    (cmd_headers, cmd_body), (evt_headers, evt_body), (forged_headers, forged_body) = _Capture.seen
    assert verifier.is_valid_request(cmd_body, cmd_headers)
    assert verifier.is_valid_request(evt_body, evt_headers)
    assert not verifier.is_valid_request(forged_body, forged_headers)
    assert (
        evt_headers["X-Slack-Retry-Num"] == "1"
        and evt_headers["X-Slack-Retry-Reason"] == "http_timeout"
    )
    fields = dict(pair.split("=", 1) for pair in cmd_body.decode().split("&"))
    assert fields["channel_name"] == "incidents" and fields["command"] == "%2Fincident"
    assert fields["text"] == "declare+db+is+down" and fields["response_url"].startswith(
        "http%3A%2F%2F127.0.0.1"
    )
    assert slack_signature(SECRET, 1, b"x=1") == verifier.generate_signature(
        timestamp="1", body="x=1"
    )


@pytest.fixture
def bolt_url(standin: SlackStandIn) -> Iterator[str]:
    """A real Bolt App (real WebClient → stand-in) behind a minimal HTTP bridge."""
    client = WebClient(token="xoxb-test", base_url=standin.api_url)
    app = App(client=client, signing_secret=SECRET, process_before_response=True)

    @app.command("/incident")
    def open_modal(ack: Any, body: dict[str, Any], client: WebClient) -> None:
        ack()
        client.views_open(
            trigger_id=body["trigger_id"], view=modal(private_metadata=body["channel_id"])
        )

    @app.view("declare")
    def declare(ack: Any, view: dict[str, Any], body: dict[str, Any], client: WebClient) -> None:
        title = view["state"]["values"]["title_block"]["title"]["value"]
        if not title.strip():
            ack(response_action="errors", errors={"title_block": "Required"})
            return
        ack()
        ack_button = {
            "type": "button",
            "action_id": "ack",
            "value": title,
            "text": {"type": "plain_text", "text": "Ack"},
        }
        client.chat_postMessage(
            channel=view["private_metadata"],
            text=f"Incident: {title}",
            blocks=[{"type": "actions", "block_id": "controls", "elements": [ack_button]}],
        )

    @app.action("ack")
    def acknowledge(ack: Any, body: dict[str, Any], respond: Any) -> None:
        ack()
        action = body["actions"][0]
        respond(
            text=f"{body['user']['id']} acked {action['value']} in {action['block_id']}",
            replace_original=False,
        )

    class Bridge(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"])).decode()
            headers = {k.lower(): [v] for k, v in self.headers.items()}
            resp = app.dispatch(BoltRequest(body=body, headers=headers))
            payload = resp.body.encode()
            self.send_response(resp.status)
            self.send_header("Content-Length", str(len(payload)))
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server, url = serve(Bridge)
    yield url
    server.shutdown()
    server.server_close()


def test_round_trip_through_a_real_bolt_app(standin: SlackStandIn, bolt_url: str) -> None:
    sender = SlackSender(bolt_url, SECRET, standin)
    assert sender.command("", channel=INCIDENTS_ID).status == 200
    view = standin.views_for("U0ALICE")[-1]
    assert view["private_metadata"] == INCIDENTS_ID

    with pytest.raises(ValueError, match="required input"):
        sender.submit_view(view["id"], {}, enforce_required=True)
    rejected = sender.submit_view(view["id"], {"title": "  "})
    assert rejected.json == {"response_action": "errors", "errors": {"title_block": "Required"}}
    assert standin.view(view["id"])["closed"] is False

    assert sender.submit_view(view["id"], {"title": "DB down"}).status == 200
    assert standin.view(view["id"])["closed"] is True
    posted = standin.last_message(INCIDENTS_ID)
    assert posted is not None and posted.text == "Incident: DB down"

    assert sender.block_action("ack", user="U0BOB", channel=INCIDENTS_ID).status == 200
    assert standin.ephemerals_for("U0BOB")[-1]["text"] == "U0BOB acked DB down in controls"

    forged = sender.command("", channel=INCIDENTS_ID, signature="v0=" + "0" * 64)
    stale = sender.command("", channel=INCIDENTS_ID, timestamp=int(time.time()) - 600)
    assert (forged.status, stale.status) == (401, 401)
    assert sender.url_verification("abc").json == {"challenge": "abc"}
