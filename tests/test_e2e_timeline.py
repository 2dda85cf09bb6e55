"""End-to-end: timeline capture, edits, follow-ups, postmortems and stats.

The real bot, driven by signed Slack requests against the stand-in. Messages
posted in the stand-in carry wall-clock `ts` values, so tests that compare a
logged message's time with other entries start the FakeClock at the real now.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlmodel import Session, select

from incidentbot.domain.timeline import LoggedMessage
from incidentbot.services.timeline import VIEW_LATEST
from incidentbot.slack import ids
from incidentbot.store import repo
from incidentbot.store.models import FollowUp
from tests.conftest import Bot, FakeClock

HOSTILE = "<!channel> <!here> <!subteam^S0SRE|@sre> &lt;script&gt;"


def real_now_clock() -> FakeClock:
    return FakeClock(datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=1))


def channel_of(bot: Bot, number: int) -> str:
    channel_id = bot.incident(number).channel_id
    assert channel_id
    return channel_id


def log_via_shortcut(bot: Bot, channel: str, ts: str, *, user: str) -> Any:
    reply = bot.sender.message_action(ids.LOG_MESSAGE, user=user, channel=channel, message_ts=ts)
    bot.wait()
    return reply


def reaction_event(channel: str, ts: str, *, user: str, reaction: str = "pushpin") -> dict:
    return {
        "type": "reaction_added",
        "user": user,
        "reaction": reaction,
        "item_user": "U0DAVE",
        "item": {"type": "message", "channel": channel, "ts": ts},
    }


def messages_logged(bot: Bot, number: int) -> list[Any]:
    return [e for e in bot.timeline(number) if e.kind == "message"]


def timeline_pages(bot: Bot, user: str) -> list[dict[str, Any]]:
    return [e for e in bot.standin.ephemerals_for(user) if e["text"].startswith("Timeline of")]


def last_reply(bot: Bot, user: str) -> str:
    return bot.standin.ephemerals_for(user)[-1]["text"]


def entry_menu(bot: Bot, entry_id: int, verb: str, *, user: str, channel: str | None = None) -> Any:
    """Pick Edit/Delete in the ⋯ menu of an entry, in the timeline the user was shown.

    With `channel`, the click is forged: it need not be in anything the user saw.
    """
    return bot.action(
        f"{ids.ENTRY_MENU}{entry_id}",
        user=user,
        channel=channel,
        ephemeral=True,
        action_type="overflow",
        selected_option=f"{verb}:{entry_id}",
    )


# -- the message shortcut -------------------------------------------------------------
def test_shortcut_in_incident_channel_logs_at_original_time_once(
    make_bot: Callable[..., Bot],
) -> None:
    bot = make_bot(clock=real_now_clock())
    bot.command("declare sev2 Checkout is failing", user="U0ALICE")
    channel = channel_of(bot, 1)
    bot.standin.add_member(channel, "U0DAVE")
    posted = bot.standin.add_message(channel, "Error rate is 40% since deploy 1234", user="U0DAVE")
    posted.files = [
        {"id": "F1", "name": "graph.png", "permalink": "https://acme.slack.com/files/U0DAVE/F1"}
    ]
    bot.clock.advance(minutes=10)
    bot.command("note Rolled back deploy 1234", user="U0ALICE", channel=channel)

    reply = log_via_shortcut(bot, channel, posted.ts, user="U0CAROL")

    assert reply.status == 200
    [entry] = messages_logged(bot, 1)
    assert (entry.actor, entry.text, entry.source) == (
        "U0CAROL",
        "Error rate is 40% since deploy 1234",
        "shortcut",
    )
    assert entry.at == LoggedMessage(channel, posted.ts, "", "").posted_at
    assert entry.at < bot.clock.now - timedelta(minutes=9)  # its own time, not the log time
    assert entry.data["author"] == "U0DAVE"
    assert entry.data["permalink"].startswith("https://acme.slack.com/archives/")
    assert entry.data["files"] == [["graph.png", "https://acme.slack.com/files/U0DAVE/F1"]]
    assert entry.dedup_key == f"msg:{channel}:{posted.ts}"
    assert "UBOT" in bot.standin.find_message(channel, posted.ts).reactions["white_check_mark"]
    assert "Added to the timeline of *INC-1*" in last_reply(bot, "U0CAROL")

    # The same message again: recorded once, and the person is told.
    log_via_shortcut(bot, channel, posted.ts, user="U0BOB")
    assert len(messages_logged(bot, 1)) == 1
    assert "already in the timeline of *INC-1*" in last_reply(bot, "U0BOB")

    # The timeline shows it at its original time: before the note typed 10 minutes later.
    bot.command("timeline", user="U0ALICE", channel=channel)
    [page] = timeline_pages(bot, "U0ALICE")
    lines = [str(b.get("text", {}).get("text", "")) for b in page["blocks"]]
    kinds = [line.split(" · ")[1] for line in lines if line.startswith("<!date^")]
    assert kinds == ["*declared*", "*role*", "*message*", "*note*"]
    message_line = next(line for line in lines if "*message*" in line)
    assert f"<!date^{int(entry.at.timestamp())}^" in message_line
    assert "<@U0DAVE> (logged by <@U0CAROL>)" in message_line
    assert "|original message>" in message_line
    assert "<https://acme.slack.com/files/U0DAVE/F1|graph.png>" in message_line


def test_shortcut_outside_incident_channel_asks_which_incident(bot: Bot) -> None:
    bot.command("declare sev1 Payments down", user="U0ALICE")
    bot.command("declare sev3 Search slow", user="U0BOB")
    long_text = "Customer report: " + "checkout spins forever. " * 250  # > private_metadata
    posted = bot.standin.add_message("C0GENERAL", long_text, user="U0DAVE")

    log_via_shortcut(bot, "C0GENERAL", posted.ts, user="U0CAROL")

    [view] = bot.standin.views_for("U0CAROL")
    assert view["callback_id"] == ids.LOG_MESSAGE_VIEW
    assert len(view["private_metadata"]) <= 3000
    select_block = next(b for b in view["blocks"] if b.get("block_id") == ids.PICK_INCIDENT)
    options = [o["text"]["text"] for o in select_block["element"]["options"]]
    assert options == ["INC-2 · SEV3 · Search slow", "INC-1 · SEV1 · Payments down"]

    bot.submit(view["id"], {ids.PICK_INCIDENT: "1"}, user="U0CAROL")

    assert messages_logged(bot, 2) == []
    [entry] = messages_logged(bot, 1)
    assert entry.text == long_text  # the whole message, fetched again on submit
    assert entry.data["author"] == "U0DAVE"
    assert entry.data["channel"] == "C0GENERAL"
    assert "Added to the timeline of *INC-1*" in last_reply(bot, "U0CAROL")

    # Logged again into the same incident from the picker: once.
    log_via_shortcut(bot, "C0GENERAL", posted.ts, user="U0CAROL")
    second = bot.standin.views_for("U0CAROL")[-1]
    bot.submit(second["id"], {ids.PICK_INCIDENT: "1"}, user="U0CAROL")
    assert len(messages_logged(bot, 1)) == 1
    assert "already in the timeline" in last_reply(bot, "U0CAROL")


def test_shortcut_with_no_open_incident_says_so(bot: Bot) -> None:
    posted = bot.standin.add_message("C0GENERAL", "is anything down?", user="U0DAVE")
    log_via_shortcut(bot, "C0GENERAL", posted.ts, user="U0CAROL")
    assert "There is no open incident" in last_reply(bot, "U0CAROL")
    assert bot.standin.views_for("U0CAROL") == []
    assert bot.incidents() == []

    # Only resolved incidents: the same answer.
    bot.command("declare Old one", user="U0ALICE")
    bot.command("resolve done", user="U0ALICE", channel=channel_of(bot, 1))
    log_via_shortcut(bot, "C0GENERAL", posted.ts, user="U0CAROL")
    assert "There is no open incident" in last_reply(bot, "U0CAROL")
    assert messages_logged(bot, 1) == []


# -- the reaction ---------------------------------------------------------------------
def test_reaction_logs_once_even_when_slack_retries(bot: Bot) -> None:
    bot.command("declare Disk full", user="U0ALICE")
    channel = channel_of(bot, 1)
    posted = bot.standin.add_message(channel, f"db-3 at 100% {HOSTILE}", user="U0DAVE")
    event = reaction_event(channel, posted.ts, user="U0BOB")

    first = bot.sender.event(event, event_id="Ev0PIN1")
    retry = bot.sender.event(event, event_id="Ev0PIN1", retry_num=1, retry_reason="http_timeout")
    bot.wait()  # Bob's reaction is logged first; Carol's later one must not log it again
    another = bot.sender.event(reaction_event(channel, posted.ts, user="U0CAROL"))
    bot.wait()

    assert (first.status, retry.status, another.status) == (200, 200, 200)
    [entry] = messages_logged(bot, 1)
    assert (entry.actor, entry.source, entry.data["author"]) == ("U0BOB", "reaction", "U0DAVE")
    # Fetched from Slack (the event has no text) and stored as typed: Slack's markup
    # un-escaped once, broadcasts as plain words.
    assert entry.text == "db-3 at 100% @channel @here @sre <script>"
    assert entry.at == LoggedMessage(channel, posted.ts, "", "").posted_at
    assert entry.data["permalink"]
    assert len(bot.standin.calls_to("reactions.add")) == 1
    assert bot.standin.find_message(channel, posted.ts).reactions == {"white_check_mark": ["UBOT"]}

    bot.command("timeline", user="U0ALICE", channel=channel)
    shown = str(timeline_pages(bot, "U0ALICE")[0]["blocks"])
    assert "db-3 at 100% @channel @here @sre &lt;script&gt;" in shown
    assert bot.standin.mass_mentions() == []


def test_other_reactions_and_other_channels_are_ignored(make_bot: Callable[..., Bot]) -> None:
    bot = make_bot(
        {"channels": {"announcements": ["#incidents"]}, "timeline": {"reaction": "memo"}}
    )
    bot.command("declare Disk full", user="U0ALICE")
    channel = channel_of(bot, 1)
    posted = bot.standin.add_message(channel, "in the incident", user="U0DAVE")
    elsewhere = bot.standin.add_message("C0GENERAL", "not an incident", user="U0DAVE")

    bot.sender.event(reaction_event(channel, posted.ts, user="U0BOB", reaction="pushpin"))
    bot.sender.event(reaction_event("C0GENERAL", elsewhere.ts, user="U0BOB", reaction="memo"))
    bot.wait()
    assert messages_logged(bot, 1) == []

    bot.sender.event(reaction_event(channel, posted.ts, user="U0BOB", reaction="memo"))
    bot.wait()
    assert [e.text for e in messages_logged(bot, 1)] == ["in the incident"]


# -- the timeline view, edits and deletions -------------------------------------------
def test_timeline_of_200_entries_is_split_within_limits(bot: Bot) -> None:
    bot.command("declare Flapping", user="U0ALICE")
    channel = channel_of(bot, 1)
    start = bot.clock.now
    with Session(bot.runtime.engine) as session:
        for i in range(210):
            repo.add_entry(
                session,
                incident_id=1,
                kind="note",
                actor="U0BOB",
                at=start + timedelta(seconds=i + 1),
                text=f"step {i:03d} " + "x" * (5 if i % 2 else 400),
            )
        session.commit()

    bot.command("timeline", user="U0ALICE", channel=channel)

    pages = timeline_pages(bot, "U0ALICE")
    assert len(pages) >= 5
    assert [p["text"] for p in pages] == [
        f"Timeline of INC-1 ({n}/{len(pages)})" for n in range(1, len(pages) + 1)
    ]
    for page in pages:
        assert len(page["blocks"]) <= 50
        assert all(len(b.get("text", {}).get("text", "")) <= 3000 for b in page["blocks"])
    shown = " ".join(str(p["blocks"]) for p in pages)
    steps = [shown.index(f"step {i:03d}") for i in range(210)]
    assert steps == sorted(steps)  # every entry, in order of when it happened
    assert "Add follow-up" in str(pages[-1]["blocks"])


def test_a_very_long_timeline_shows_its_latest_entries_and_says_so(bot: Bot) -> None:
    bot.command("declare Flapping for hours", user="U0ALICE")
    channel = channel_of(bot, 1)
    start = bot.clock.now
    with Session(bot.runtime.engine) as session:
        for i in range(VIEW_LATEST + 50):
            repo.add_entry(
                session,
                incident_id=1,
                kind="note",
                actor="U0BOB",
                at=start + timedelta(seconds=i + 1),
                text=f"step {i:03d}",
            )
        session.commit()
    earlier = len(bot.timeline(1)) - VIEW_LATEST  # the declare's own entries and 50 steps

    bot.command("timeline", user="U0ALICE", channel=channel)

    pages = timeline_pages(bot, "U0ALICE")
    texts = [str(b.get("text", {}).get("text", "")) for p in pages for b in p["blocks"]]
    assert texts[1] == (
        f":information_source: {earlier} earlier entries are not shown: these are the latest. "
        "`/incident postmortem` contains the full timeline."
    )  # right under the title of the first page
    entries = [t for t in texts if t.startswith("<!date^")]
    assert len(entries) == VIEW_LATEST
    shown = [int(t.split("step ")[1]) for t in entries]
    assert shown == list(range(50, VIEW_LATEST + 50))  # the latest, oldest first
    assert not any("*declared*" in t for t in texts)
    for page in pages:
        assert len(page["blocks"]) <= 50
    assert "Add follow-up" in str(pages[-1]["blocks"])  # follow-ups are still listed
    assert "Follow-ups (0)" in str(pages[-1]["blocks"])


def test_scribe_edits_and_deletes_entries_and_both_are_recorded(bot: Bot) -> None:
    bot.command("declare Disk full", user="U0ALICE")
    channel = channel_of(bot, 1)
    bot.command("scribe @carol", user="U0ALICE", channel=channel)
    bot.command("note Restarted db-3", user="U0BOB", channel=channel)
    bot.command("note Wrong guess", user="U0BOB", channel=channel)
    note, wrong = [e for e in bot.timeline(1) if e.kind == "note"]

    bot.command("timeline", user="U0CAROL", channel=channel)
    entry_menu(bot, note.id, "edit", user="U0CAROL")
    [view] = bot.standin.views_for("U0CAROL")
    assert view["callback_id"] == ids.EDIT_ENTRY_VIEW
    bot.submit(view["id"], {ids.ENTRY_TEXT: "Restarted db-3 and db-4"}, user="U0CAROL")

    edited = next(e for e in bot.timeline(1) if e.id == note.id)
    assert (edited.text, edited.edited_by) == ("Restarted db-3 and db-4", "U0CAROL")
    assert edited.edited_at is not None
    assert edited.data["original_text"] == "Restarted db-3"
    audit = [e for e in bot.timeline(1) if e.kind == "timeline_edit"]
    assert [(a.actor, a.data["before"], a.data["after"]) for a in audit] == [
        ("U0CAROL", "Restarted db-3", "Restarted db-3 and db-4")
    ]

    entry_menu(bot, wrong.id, "delete", user="U0CAROL")
    delete_view = bot.standin.views_for("U0CAROL")[-1]
    assert delete_view["callback_id"] == ids.DELETE_ENTRY_VIEW
    bot.submit(delete_view["id"], {}, user="U0CAROL")

    deleted = next(e for e in bot.timeline(1) if e.id == wrong.id)
    assert deleted.deleted_at is not None
    [removal] = [e for e in bot.timeline(1) if e.kind == "timeline_delete"]
    assert (removal.actor, removal.data["before"]) == ("U0CAROL", "Wrong guess")
    notices = [m.text for m in bot.standin.messages(channel)]
    assert any("edited the note entry" in t for t in notices)
    assert any("deleted the note entry" in t for t in notices)

    bot.command("timeline", user="U0ALICE", channel=channel)
    shown = str(timeline_pages(bot, "U0ALICE")[-1]["blocks"])
    assert "Restarted db-3 and db-4" in shown and "edited by <@U0CAROL>" in shown
    assert "Wrong guess”" in shown  # only in the deletion record
    assert "1 deleted entry is hidden" in shown


def test_editing_someone_elses_entry_is_refused(bot: Bot) -> None:
    bot.command("declare Disk full", user="U0ALICE")
    channel = channel_of(bot, 1)
    bot.standin.add_member(channel, "U0ERIN")
    bot.command("note Alice's note", user="U0ALICE", channel=channel)
    bot.command("note Erin's own note", user="U0ERIN", channel=channel)
    alices, erins = [e for e in bot.timeline(1) if e.kind == "note"]
    before = [(e.id, e.text, e.deleted_at) for e in bot.timeline(1)]

    # Erin is neither IC nor Scribe: the ⋯ menu shows only on her own entry...
    bot.command("timeline", user="U0ERIN", channel=channel)
    [page] = timeline_pages(bot, "U0ERIN")
    menus = [b["accessory"]["action_id"] for b in page["blocks"] if "accessory" in b]
    assert menus == [f"{ids.ENTRY_MENU}{erins.id}"]

    # ...and a forged click or submission on Alice's entry is refused and changes nothing.
    entry_menu(bot, alices.id, "edit", user="U0ERIN", channel=channel)
    assert bot.standin.views_for("U0ERIN") == []
    assert "Only the Incident Commander (<@U0ALICE>)" in last_reply(bot, "U0ERIN")
    bot.sender.view_submission(
        ids.EDIT_ENTRY_VIEW,
        {ids.ENTRY_TEXT: {ids.ENTRY_TEXT: {"type": "plain_text_input", "value": "hijacked"}}},
        user="U0ERIN",
        private_metadata=str(alices.id),
    )
    bot.sender.view_submission(
        ids.DELETE_ENTRY_VIEW, {}, user="U0ERIN", private_metadata=str(alices.id)
    )
    bot.wait()
    assert [(e.id, e.text, e.deleted_at) for e in bot.timeline(1)] == before

    # Her own entry she may fix.
    entry_menu(bot, erins.id, "edit", user="U0ERIN")
    [view] = bot.standin.views_for("U0ERIN")
    bot.submit(view["id"], {ids.ENTRY_TEXT: "Erin's corrected note"}, user="U0ERIN")
    assert next(e for e in bot.timeline(1) if e.id == erins.id).text == "Erin's corrected note"


# -- follow-ups -----------------------------------------------------------------------
def follow_ups(bot: Bot) -> list[FollowUp]:
    with Session(bot.runtime.engine) as session:
        return list(session.exec(select(FollowUp).order_by(FollowUp.id)).all())


def test_followup_command_and_modal(bot: Bot) -> None:
    bot.command("declare Disk full", user="U0ALICE")
    channel = channel_of(bot, 1)

    reply = bot.command("followup", user="U0BOB", channel=channel)
    assert "The follow-up needs some text." in reply.body
    assert "Usage: `/incident followup <text>`" in reply.body
    assert follow_ups(bot) == []

    bot.command(f"followup Alert on disk usage {HOSTILE}", user="U0BOB", channel=channel)
    [item] = follow_ups(bot)
    assert (item.incident_id, item.text, item.created_by, item.owner) == (
        1,
        f"Alert on disk usage {HOSTILE}",
        "U0BOB",
        None,
    )
    assert [e.kind for e in bot.timeline(1)][-1] == "followup"
    assert "recorded a follow-up" in bot.standin.last_message(channel).text

    # The form, from the timeline's button, with an owner; a double submission counts once.
    bot.command("timeline", user="U0ALICE", channel=channel)
    bot.action(ids.OPEN_FOLLOW_UP, user="U0ALICE", ephemeral=True)
    [view] = bot.standin.views_for("U0ALICE")
    assert view["callback_id"] == ids.FOLLOW_UP_VIEW
    inputs = {ids.FOLLOW_UP_TEXT: "Write a runbook", ids.FOLLOW_UP_OWNER: "U0CAROL"}
    bot.submit(view["id"], inputs, user="U0ALICE")
    bot.sender.view_submission(
        ids.FOLLOW_UP_VIEW,
        bot.sender.state_values(view["id"], inputs),
        user="U0ALICE",
        view_id=view["id"],
    )
    bot.wait()
    assert [(f.text, f.owner) for f in follow_ups(bot)][1:] == [("Write a runbook", "U0CAROL")]

    empty = bot.standin.views_for("U0ALICE")[-1]
    reply = bot.sender.view_submission(
        ids.FOLLOW_UP_VIEW,
        bot.sender.state_values(empty["id"], {ids.FOLLOW_UP_TEXT: "  "}),
        user="U0ALICE",
        view_id=empty["id"],
    )
    assert reply.json == {
        "response_action": "errors",
        "errors": {ids.FOLLOW_UP_TEXT: "Say what should be done."},
    }

    bot.command("timeline", user="U0ALICE", channel=channel)
    shown = str(timeline_pages(bot, "U0ALICE")[-1]["blocks"])
    assert "*Follow-ups (2)*" in shown
    assert "Write a runbook · owner <@U0CAROL>" in shown
    assert bot.standin.mass_mentions() == []


# -- the postmortem ---------------------------------------------------------------------
def uploaded_files(bot: Bot) -> list[dict[str, Any]]:
    return [f for f in bot.standin.files.values() if f["complete"]]


def run_cli(db_url: str, *args: str) -> subprocess.CompletedProcess[bytes]:
    env = {**os.environ, "DATABASE_URL": db_url}
    env.pop("INCIDENTBOT_CONFIG", None)
    return subprocess.run(
        [sys.executable, "-m", "incidentbot", *args],
        env=env,
        capture_output=True,
        timeout=60,
        check=False,
    )


def test_postmortem_of_a_scripted_incident(make_bot: Callable[..., Bot], db_url: str) -> None:
    bot = make_bot(clock=real_now_clock())
    declared = bot.clock.now
    bot.command("declare sev2 Checkout is failing", user="U0ALICE")
    channel = channel_of(bot, 1)
    bot.standin.add_member(channel, "U0DAVE")
    posted = bot.standin.add_message(channel, "5xx on /pay since 09:58", user="U0DAVE")
    bot.clock.advance(minutes=5)
    bot.command("status identified", user="U0ALICE", channel=channel)  # the IC acts: acked
    bot.clock.advance(minutes=2)
    bot.command("scribe @carol", user="U0ALICE", channel=channel)
    log_via_shortcut(bot, channel, posted.ts, user="U0CAROL")
    bot.clock.advance(minutes=13)
    bot.command("status monitoring", user="U0ALICE", channel=channel)  # mitigated at 20m
    bot.command("ic @bob", user="U0ALICE", channel=channel)  # a handover
    bot.command("followup Alert on 5xx rate", user="U0CAROL", channel=channel)
    bot.clock.advance(minutes=70)
    bot.command("resolve Reverted the config push", user="U0BOB", channel=channel)

    bot.command("postmortem", user="U0CAROL", channel=channel)

    [file] = uploaded_files(bot)
    assert file["name"] == "INC-1-postmortem.md"
    assert file["channels"] == [channel]
    text = file["content"].decode("utf-8")
    for heading in (
        "# Postmortem: INC-1: Checkout is failing",
        "## Summary",
        "## Impact",
        "## Key milestones and durations",
        "## Roles",
        "## Timeline",
        "## Escalations",
        "## Contributing factors",
        "## What went well",
        "## What went wrong",
        "## Where we got lucky",
        "## Action items",
    ):
        assert f"\n{heading}\n" in f"\n{text}", heading
    assert "DRAFT" not in text
    assert "| Severity | SEV2 |" in text
    assert f"| Declared | {declared:%Y-%m-%d %H:%M} UTC by @alice |" in text
    assert "- **Time to acknowledge:** 5m" in text
    assert "- **Time to mitigate:** 20m" in text
    assert "- **Time to resolve:** 1h 30m" in text
    assert "| Duration | 1h 30m |" in text
    assert "- **Incident Commander:** @alice" in text and "then @bob" in text
    assert "- **Scribe:** @carol" in text
    assert "Reverted the config push" in text.split("## Summary")[1].split("## Impact")[0]
    assert "message · @dave (logged by @carol): 5xx on /pay since 09:58" in text
    assert "- [ ] Alert on 5xx rate (no owner yet; added by @carol" in text
    # The logged message sits at its own time: before the status change 5 minutes in.
    assert text.index("5xx on /pay since") < text.index("Status investigating → identified")

    # The command line prints the very same document.
    result = run_cli(db_url, "postmortem", "1")
    assert result.returncode == 0, result.stderr
    assert result.stdout == file["content"]


def test_postmortem_of_an_open_incident_is_a_draft(
    make_bot: Callable[..., Bot], db_url: str
) -> None:
    bot = make_bot()
    bot.command(f"declare sev1 {HOSTILE} payments", user="U0ALICE")
    channel = channel_of(bot, 1)
    bot.command(f"note {HOSTILE}", user="U0ALICE", channel=channel)

    bot.command("postmortem", user="U0BOB", channel=channel)

    [file] = uploaded_files(bot)
    assert file["name"] == "INC-1-postmortem-DRAFT.md"
    text = file["content"].decode("utf-8")
    assert "> **DRAFT**: INC-1 is still open (status: investigating)." in text
    assert "- **Time to resolve:** not yet" in text
    assert "<!channel>" not in text and "<script>" not in text
    assert "DRAFT" in bot.standin.last_message(channel).text
    assert bot.standin.mass_mentions() == []
    assert run_cli(db_url, "postmortem", "INC-1").stdout == file["content"]

    missing = run_cli(db_url, "postmortem", "9")
    assert (missing.returncode, missing.stdout) == (1, b"")
    assert b"There is no incident INC-9." in missing.stderr


def test_postmortem_upload_failure_is_reported(bot: Bot) -> None:
    bot.command("declare Disk full", user="U0ALICE")
    channel = channel_of(bot, 1)
    bot.standin.fail("files.completeUploadExternal", error="not_in_channel", times=5)
    bot.command("postmortem", user="U0ALICE", channel=channel)
    assert "The postmortem could not be uploaded" in bot.replies()[-1]
    assert "python -m incidentbot postmortem 1" in bot.replies()[-1]


def test_postmortem_outside_an_incident_channel(bot: Bot) -> None:
    reply = bot.command("postmortem", user="U0ALICE", channel="C0GENERAL")
    assert "not an incident channel" in (reply.body + " ".join(bot.replies()))
    assert uploaded_files(bot) == []


# -- stats --------------------------------------------------------------------------------
def scripted(bot: Bot, title: str, sev: str, *, ack: int | None, resolve: int | None) -> None:
    """Declare now; the IC acts after `ack` minutes; resolve `resolve` minutes after declaring."""
    bot.command(f"declare {sev} {title}", user="U0ALICE")
    number = bot.incidents()[-1].id
    assert number is not None
    channel = channel_of(bot, number)
    elapsed = 0
    if ack is not None:
        bot.clock.advance(minutes=ack)
        elapsed = ack
        bot.command("status identified", user="U0ALICE", channel=channel)
    if resolve is not None:
        bot.clock.advance(minutes=resolve - elapsed)
        bot.command("resolve fixed", user="U0ALICE", channel=channel)


def stats_reply(bot: Bot, text: str) -> str:
    bot.command(text, user="U0ERIN", channel="C0GENERAL")
    payload = bot.standin.ephemerals_for("U0ERIN")[-1]
    return " ".join(b["text"]["text"] for b in payload["blocks"] if "text" in b) + " ".join(
        e["text"] for b in payload["blocks"] if b["type"] == "context" for e in b["elements"]
    )


def test_stats_for_incidents_with_known_times(bot: Bot) -> None:
    scripted(bot, "Old and resolved", "sev1", ack=1, resolve=600)
    scripted(bot, "Old and open", "sev4", ack=None, resolve=None)
    bot.clock.advance(days=40)
    scripted(bot, "A", "sev1", ack=4, resolve=60)
    scripted(bot, "B", "sev1", ack=10, resolve=120)
    scripted(bot, "C", "sev2", ack=30, resolve=None)
    scripted(bot, "D", "sev3", ack=None, resolve=None)

    shown = stats_reply(bot, "stats")
    assert "*Incidents declared in the last 30 days*" in shown
    assert "SEV1*: 2 incidents (0 open) · MTTA 7m mean, 7m median (2) · " in shown
    assert "MTTR 1h 30m mean, 1h 30m median (2)" in shown
    assert "SEV2*: 1 incident (1 open) · MTTA 30m mean, 30m median (1) · MTTR —" in shown
    assert "SEV3*: 1 incident (1 open) · MTTA — · MTTR —" in shown
    assert "SEV4*: 0 incidents (0 open)" in shown
    # MTTA over 4, 10 and 30 minutes: mean 14m 40s, median 10m.
    assert "*All severities*: 4 incidents (2 open) · MTTA 14m 40s mean, 10m median (3)" in shown
    assert "*Open now:* 3" in shown  # C, D and the old open one
    assert "declared to acknowledged" in shown and "declared to resolved" in shown

    wide = stats_reply(bot, "stats 90")
    assert "*All severities*: 6 incidents (3 open)" in wide
    assert "MTTR 4h 20m mean, 2h median (3)" in wide  # 60, 120 and 600 minutes


def test_stats_bad_input_gets_usage(bot: Bot) -> None:
    for text in ("stats abc", "stats -5", "stats 0"):
        reply = bot.command(text, user="U0ERIN")
        assert "is not a number of days" in reply.body, text
        assert "Usage: `/incident stats [days]`" in reply.body
    assert bot.standin.ephemerals_for("U0ERIN") == []
