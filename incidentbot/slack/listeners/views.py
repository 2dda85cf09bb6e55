"""Modal submissions: declare, resolve, roles.

Validation errors, and refusals (not allowed, not a person), are answered
inline (`response_action: errors`) so the modal stays open with the field
marked and nothing typed is lost; everything else acks first, then works.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from slack_bolt import Ack, App

from incidentbot.domain.errors import IncidentBotError
from incidentbot.domain.text import readable
from incidentbot.slack import ids
from incidentbot.slack.listeners import alerts as alert_handlers
from incidentbot.slack.listeners.context import Services, problems_text, tell
from incidentbot.slack.listeners.errors import lazy_listener


def register(app: App, services: Services) -> None:
    def declare(body: dict[str, Any], view: dict[str, Any]) -> None:
        values = view_values(view)
        title = (values.get(ids.TITLE) or "").strip()
        metadata = json.loads(view.get("private_metadata") or "{}")
        origin, group = metadata.get("origin"), metadata.get("alert_group")
        user_id = body["user"]["id"]
        outcome = services.incidents.declare(
            title=title,
            severity=values.get(ids.SEVERITY),
            description=values.get(ids.DESCRIPTION) or "",
            declared_by=user_id,
            ic=values.get(ids.IC) or user_id,
            scribe=values.get(ids.SCRIBE),
            private=bool(values.get(ids.PRIVATE)),
            origin_channel=origin,
            # One incident per alert group, however many people press its Declare button.
            source_key=f"alert-group:{group}" if group else f"view:{view['id']}",
        )
        s = outcome.incident
        if group and not outcome.created:
            message = f":information_source: Already declared from this alert group: *{s.label}*"
            tell(services, {"user": {"id": user_id}, "channel": {"id": origin}}, message)
            return
        if not outcome.created:
            return  # a repeated submission of the same modal: already handled
        if group:
            alert_handlers.declared_from_group(services, int(group), s.number, user_id)
        where = f"<#{s.channel_id}>" if s.channel_id else "(no channel yet)"
        message = f":rotating_light: Declared *{s.label}* ({s.severity}) → {where}"
        if outcome.problems:
            message += "\n" + problems_text(outcome.problems)
        tell(services, {"user": {"id": user_id}, "channel": {"id": origin}}, message)

    def resolve(body: dict[str, Any], view: dict[str, Any]) -> None:
        summary = (view_values(view).get(ids.SUMMARY) or "").strip()
        user_id = body["user"]["id"]
        outcome = services.incidents.resolve(int(view["private_metadata"]), summary, actor=user_id)
        _report(services, user_id, outcome)

    def roles(body: dict[str, Any], view: dict[str, Any]) -> None:
        wanted = _wanted_roles(view)
        if not wanted:
            return
        user_id = body["user"]["id"]
        outcome = services.incidents.assign_roles(
            int(view["private_metadata"]), wanted, actor=user_id
        )
        _report(services, user_id, outcome)

    def declare_checked(ack: Ack, body: dict[str, Any], view: dict[str, Any]) -> None:
        values = view_values(view)
        if not (values.get(ids.TITLE) or "").strip():
            ack(response_action="errors", errors={ids.TITLE: "Give the incident a title."})
            return
        for block_id in (ids.IC, ids.SCRIBE):  # roles only for real people
            picked = values.get(block_id)
            if picked and (problem := services.incidents.auth.role_holder_problem(picked)):
                ack(response_action="errors", errors={block_id: form_text(services, problem)})
                return
        ack()

    def resolve_checked(ack: Ack, body: dict[str, Any], view: dict[str, Any]) -> None:
        if not (view_values(view).get(ids.SUMMARY) or "").strip():
            ack(response_action="errors", errors={ids.SUMMARY: "Say briefly what fixed it."})
            return
        try:  # e.g. the IC changed while the form was open
            services.incidents.check_may(
                "resolve", int(view["private_metadata"]), body["user"]["id"]
            )
        except IncidentBotError as error:
            ack(response_action="errors", errors={ids.SUMMARY: form_text(services, error.message)})
            return
        ack()

    def roles_checked(ack: Ack, body: dict[str, Any], view: dict[str, Any]) -> None:
        number, actor = int(view["private_metadata"]), body["user"]["id"]
        if errors := _role_errors(services, number, _wanted_roles(view), actor):
            ack(response_action="errors", errors=errors)
            return
        ack()

    app.view(ids.DECLARE_VIEW)(lazy_listener(services, ack=declare_checked, lazy=[declare]))
    app.view(ids.RESOLVE_VIEW)(lazy_listener(services, ack=resolve_checked, lazy=[resolve]))
    app.view(ids.ROLES_VIEW)(lazy_listener(services, ack=roles_checked, lazy=[roles]))


def _wanted_roles(view: dict[str, Any]) -> dict[str, str]:
    return {
        key[len(ids.ROLE_PREFIX) :]: value
        for key, value in view_values(view).items()
        if key.startswith(ids.ROLE_PREFIX) and value
    }


def requiring(block_id: str, error: str) -> Callable[[Ack, dict[str, Any]], None]:
    """The ack function of a modal whose `block_id` must be filled in: without it the
    modal stays open with `error` under the field, and nothing else happens."""

    def ack_if_given(ack: Ack, view: dict[str, Any]) -> None:
        value = view_values(view).get(block_id)
        if not (value.strip() if isinstance(value, str) else value):
            ack(response_action="errors", errors={block_id: error})
            return
        ack()

    return ack_if_given


def _report(services: Services, user_id: str, outcome: Any) -> None:
    if outcome.problems:
        body = {"user": {"id": user_id}, "channel": {"id": outcome.incident.channel_id}}
        tell(services, body, problems_text(outcome.problems))


def _role_errors(
    services: Services, number: int, wanted: dict[str, str], actor: str
) -> dict[str, str]:
    """The roles form's problems, on the block of the role they are about."""
    for role, user_id in wanted.items():
        if problem := services.incidents.auth.role_holder_problem(user_id):
            return {ids.ROLE_PREFIX + role: form_text(services, problem)}
    try:
        services.incidents.check_roles(number, wanted, actor)
    except IncidentBotError as error:
        first = next(iter(wanted), "incident_commander")
        return {ids.ROLE_PREFIX + first: form_text(services, error.message)}
    return {}


def form_text(services: Services, message: str) -> str:
    """A message for a form's error line: plain text, so people by name, no markup."""
    named = re.sub(
        r"<@([UW][A-Z0-9]+)(?:\|[^<>]*)?>",
        lambda m: f"@{services.slack.display_name(m.group(1)) or m.group(1)}",
        message,
    )
    return readable(named).replace("*", "").replace("`", "")


def view_values(view: dict[str, Any]) -> dict[str, Any]:
    """Flatten `view.state.values` to {block_id: value} for the element types we use."""
    out: dict[str, Any] = {}
    for block_id, actions in (view.get("state") or {}).get("values", {}).items():
        for element in actions.values():
            out[block_id] = _element_value(element)
    return out


def _element_value(element: dict[str, Any]) -> Any:
    kind = element.get("type")
    if kind == "static_select":
        option = element.get("selected_option")
        return option["value"] if option else None
    if kind == "users_select":
        return element.get("selected_user")
    if kind == "checkboxes":
        return [o["value"] for o in element.get("selected_options") or []]
    return element.get("value")
