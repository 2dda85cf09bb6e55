"""What the bot sends to PagerDuty and Opsgenie, as pure functions (PRODUCT.md §10).

- One stable key per incident and target: the PagerDuty `dedup_key` and the
  Opsgenie `alias` are the same string, so re-paging a level or repeating a
  path updates the one PagerDuty alert / Opsgenie alert instead of opening
  another, and acknowledge/resolve find it.
- Severity by position in the configured list: first → PagerDuty `critical` /
  Opsgenie `P1`, second → `error` / `P2`, third → `warning` / `P3`, others →
  `info` / `P4`…`P5`.
- Text limits: PagerDuty `payload.summary` ≤ 1024 characters, Opsgenie
  `message` ≤ 130; both start with `INC-<n>`.
"""

from __future__ import annotations

from typing import Any

from incidentbot.domain.text import one_line, truncate

SOURCE = "incidentbot"
PD_SUMMARY_LIMIT = 1024
OG_MESSAGE_LIMIT = 130
OG_DESCRIPTION_LIMIT = 15000
_PD_SEVERITIES = ("critical", "error", "warning")


def dedup_key(number: int, target: str) -> str:
    """`incidentbot-INC-7-pagerduty-payments`: stable for the incident and the target."""
    kind, _, name = target.partition(":")
    return f"incidentbot-INC-{number}-{kind}-{name}"


def group_key(group_id: int, target: str) -> str:
    """`incidentbot-GRP-12-pagerduty-payments`: stable for the alert group and the target."""
    kind, _, name = target.partition(":")
    return f"incidentbot-GRP-{group_id}-{kind}-{name}"


def pd_severity(position: int) -> str:
    return _PD_SEVERITIES[position] if 0 <= position < len(_PD_SEVERITIES) else "info"


def og_priority(position: int) -> str:
    return f"P{min(max(position, 0) + 1, 5)}"


def channel_url(channel_id: str | None) -> str | None:
    """A link that opens the incident channel in Slack without knowing the workspace's domain."""
    return f"https://slack.com/app_redirect?channel={channel_id}" if channel_id else None


def trigger_payload(
    *,
    number: int,
    title: str,
    severity: str,
    position: int,
    channel_id: str | None,
    channel_name: str | None,
    step: str,
) -> dict[str, Any]:
    """The provider-neutral facts of a trigger, stored on the outbox row (no secrets)."""
    headline = f"INC-{number}: {one_line(title)}"
    url = channel_url(channel_id)
    where = f"#{channel_name}" if channel_name else "the incident channel"
    description = f"{headline}\nSeverity: {severity}\nPaged: {step}\nSlack: {where}"
    if url:
        description += f" {url}"
    return {
        "summary": truncate(headline, PD_SUMMARY_LIMIT),
        "message": truncate(headline, OG_MESSAGE_LIMIT),
        "description": truncate(description, OG_DESCRIPTION_LIMIT),
        "severity": pd_severity(position),
        "priority": og_priority(position),
        "incident": f"INC-{number}",
        "severity_name": severity,
        "channel_url": url,
        "channel_name": channel_name,
    }


def group_trigger_payload(
    *,
    group_id: int,
    title: str,
    route: str,
    severity: str | None,
    position: int,
    firing: int,
    step: str,
    message_url: str | None,
) -> dict[str, Any]:
    """The trigger of an alert group's page: like an incident's, headed `Alert group <id>`.

    `position` is the route's severity in the configured list; a route without
    a severity pages as the third (`warning` / `P3`).
    """
    headline = f"Alert group {group_id}: {one_line(title)}"
    description = f"{headline}\nRoute: {route}\nFiring: {firing}\nPaged: {step}"
    if message_url:
        description += f"\nSlack: {message_url}"
    return {
        "summary": truncate(headline, PD_SUMMARY_LIMIT),
        "message": truncate(headline, OG_MESSAGE_LIMIT),
        "description": truncate(description, OG_DESCRIPTION_LIMIT),
        "severity": pd_severity(position),
        "priority": og_priority(position),
        "incident": f"GRP-{group_id}",
        "severity_name": severity,
        "channel_url": message_url,
        "channel_name": None,
        "link_text": "Alert group in Slack",
    }


def note(action: str, who: str) -> str:
    """The note attached to an acknowledge/resolve sent on behalf of someone in Slack."""
    verb = "Acknowledged" if action == "acknowledge" else "Resolved"
    return truncate(f"{verb} in Slack by {who} (incidentbot)", 1000)
