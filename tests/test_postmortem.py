"""The postmortem renderer (pure): sections, durations, draft marking, literal text,
people by display name, and the one acknowledged milestone."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from incidentbot.domain.postmortem import (
    EscalationItem,
    FollowUpItem,
    PageItem,
    PostmortemData,
    RoleSpan,
    TimelineItem,
    markdown_block,
    markdown_inline,
    render,
)

T0 = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


RESOLVED = PostmortemData(
    number=7,
    title="Checkout is failing",
    severity="sev2",
    status="resolved",
    declared_by="U0ALICE",
    declared_at=T0,
    description="Card payments fail for EU customers",
    summary="A bad config push; reverted.",
    channel_name="inc-7-checkout-is-failing",
    acknowledged_at=at(4),  # the page acknowledgement: someone was paged
    mitigated_at=at(20),
    resolved_at=at(90),
    roles=(
        RoleSpan("incident_commander", "U0ALICE", T0, at(30)),
        RoleSpan("incident_commander", "U0BOB", at(30)),
        RoleSpan("scribe", "U0CAROL", at(2)),
    ),
    timeline=(
        TimelineItem(at(90), "resolved", "U0BOB", "A bad config push; reverted."),
        TimelineItem(T0, "declared", "U0ALICE", "Declared INC-7 (sev2): Checkout is failing"),
        TimelineItem(
            at(3),
            "message",
            "U0CAROL",
            "Error rate 40% on <https://grafana.example.com/d/1|checkout>",
            author="U0DAVE",
            permalink="https://acme.slack.com/archives/C1/p1",
            files=(("graph.png", "https://acme.slack.com/files/F1"),),
        ),
        TimelineItem(at(40), "timeline_edit", "U0BOB", "Edited …"),  # audit: not shown
    ),
    escalations=(
        EscalationItem(
            "primary",
            "acknowledged",
            "U0ALICE",
            at(1),
            acknowledged_by="U0ERIN",
            acknowledged_at=at(4),
            pages=(PageItem(0, "schedule:backend-oncall", "sent", at(1)),),
        ),
    ),
    follow_ups=(
        FollowUpItem("Alert on config drift", "U0BOB", at(95), owner="U0CAROL"),
        FollowUpItem("Write a runbook", "U0ALICE", at(96), done=True),
    ),
)


def test_sections_in_order() -> None:
    text = render(RESOLVED)
    headings = [line for line in text.splitlines() if line.startswith("#")]
    assert headings == [
        "# Postmortem: INC-7: Checkout is failing",
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
    ]
    assert "blameless" in text
    assert "DRAFT" not in text
    assert text.endswith("\n")


def test_durations_and_milestones() -> None:
    text = render(RESOLVED)
    assert "- **Time to acknowledge:** 4m (acknowledged = first page acknowledgement)" in text
    assert "- **Time to mitigate:** 20m" in text
    assert "- **Time to resolve:** 1h 30m" in text
    assert "| Acknowledged (page) | 2026-11-27 09:04:00 | 4m |" in text
    assert "| Duration | 1h 30m |" in text


def test_roles_with_handover() -> None:
    text = render(RESOLVED)
    assert "- **Incident Commander:** @U0ALICE (09:00 → 09:30), then @U0BOB (09:30 → end)" in text
    assert "- **Scribe:** @U0CAROL (09:02 → end)" in text
    assert "Handovers: 1." in text


def test_timeline_in_time_order_with_logged_message_details() -> None:
    text = render(RESOLVED)
    timeline = text.split("## Timeline")[1].split("## Escalations")[0]
    kinds = [line.split(" · ")[1] for line in timeline.splitlines() if line.startswith("- ")]
    assert kinds == ["declared", "message", "resolved"]
    assert (
        "- **2026-11-27 09:03:00** · message · @U0DAVE (logged by @U0CAROL): Error rate 40% on "
        "[checkout](<https://grafana.example.com/d/1>)"
    ) in timeline
    assert "([message](<https://acme.slack.com/archives/C1/p1>))" in timeline
    assert "files: [graph.png](<https://acme.slack.com/files/F1>)" in timeline
    assert "Edited" not in timeline  # audit records of edits stay out of the story


def test_escalations_and_action_items() -> None:
    text = render(RESOLVED)
    # The escalation's own time says what it is measured from.
    assert (
        "acknowledged by @U0ERIN at 2026-11-27 09:04:00 (3m after this escalation started)" in text
    )
    assert "level 1: paged schedule:backend-oncall at 2026-11-27 09:01:00, sent" in text
    assert "- [ ] Alert on config drift (owner @U0CAROL; added by @U0BOB 2026-11-27)" in text
    assert "- [x] Write a runbook (no owner yet; added by @U0ALICE 2026-11-27)" in text


def test_open_incident_is_a_draft_with_missing_milestones() -> None:
    draft = replace(RESOLVED, status="identified", mitigated_at=None, resolved_at=None)
    text = render(draft)
    assert "> **DRAFT**: INC-7 is still open (status: identified)." in text
    assert "- **Time to resolve:** not yet" in text
    assert "| Mitigated | not yet | not yet |" in text


def test_empty_incident_renders_prompts() -> None:
    bare = PostmortemData(7, "T", "sev3", "investigating", "U0A", T0)
    text = render(bare)
    assert "_To fill in: what happened" in text
    assert "_Nobody was paged through an escalation path._" in text
    assert "_No follow-ups recorded." in text
    assert "- **Scribe:** nobody" in text


def test_rendering_is_deterministic() -> None:
    assert render(RESOLVED) == render(replace(RESOLVED))


@pytest.mark.parametrize(
    ("stored", "markdown"),
    [
        ("plain words", "plain words"),
        ("<@U0BOB> and <@U0CAROL|carol>", "@Bob B. and @carol"),  # mentions: display names
        ("<@U0NAMELESS>", "@U0NAMELESS"),  # no name known: the ID
        ("see <#C123|general>", "see #general"),
        ("<!channel> db down", "@channel db down"),  # an old row: no Slack special survives
        ("<!subteam^S1|@sre> look", "@sre look"),
        ("<https://x.example/a_b>", "<https://x.example/a_b>"),  # autolink, URL untouched
        ("<https://x.example|the *docs*>", "[the \\*docs\\*](<https://x.example>)"),
        ("<javascript:alert(1)|click>", "\\<javascript:alert(1)|click\\>".replace("|", "\\|")),
        ("<script>alert(1)</script>", "\\<script\\>alert(1)\\</script\\>"),  # no HTML
        ("a | b", "a \\| b"),  # table cells stay cells
        ("*bold* _it_ `code` ~x~ [l](u)", "\\*bold\\* \\_it\\_ \\`code\\` \\~x\\~ \\[l\\](u)"),
        ("AT&T &copy;", "AT&T \\&copy;"),  # stored as typed: a typed entity stays literal
        ("two\nlines", "two lines"),
    ],
)
def test_markdown_inline(stored: str, markdown: str) -> None:
    assert markdown_inline(stored, {"U0BOB": "Bob B."}) == markdown


def test_markdown_block_never_starts_structure() -> None:
    assert markdown_block("# not a heading\n- not a list\n1. nor this\nok") == (
        "\\# not a heading  \n\\- not a list  \n\\1. nor this  \nok"
    )


def test_role_spans_on_another_day_carry_the_date() -> None:
    late = replace(RESOLVED, roles=(RoleSpan("scribe", "U0CAROL", T0 + timedelta(days=1)),))
    assert "- **Scribe:** @U0CAROL (2026-11-28 09:00 → end)" in render(late)


def test_an_incident_that_paged_nobody_labels_the_ic_action() -> None:
    quiet = replace(RESOLVED, escalations=(), acknowledged_at=at(5))
    text = render(quiet)
    assert "| Acknowledged (IC's first action) | 2026-11-27 09:05:00 | 5m |" in text
    assert "(acknowledged = first action of the Incident Commander; nobody was paged)" in text


def test_people_by_display_name_and_bots_by_their_name() -> None:
    bot_line = TimelineItem(
        at(6),
        "message",
        "U0CAROL",
        "deploy 1234 rolled back",
        author="B0DEPLOY",
        author_name="deploybot",
    )
    named = replace(
        RESOLVED,
        timeline=(*RESOLVED.timeline, bot_line),
        names={"U0ALICE": "Alice A.", "U0BOB": "bob", "U0CAROL": "Carol", "U0DAVE": "dave"},
    )
    text = render(named)
    assert "- **Incident Commander:** @Alice A. (09:00 → 09:30), then @bob (09:30 → end)" in text
    assert "message · @dave (logged by @Carol): Error rate" in text
    assert "message · deploybot (bot) (logged by @Carol): deploy 1234 rolled back" in text
    assert "acknowledged by @U0ERIN" in text  # no name known: the ID, never a guess
    assert "<@B0DEPLOY>" not in text and "@B0DEPLOY" not in text
    assert named.people() >= {"U0ALICE", "U0BOB", "U0CAROL", "U0DAVE", "U0ERIN"}
    assert "B0DEPLOY" not in named.people()
