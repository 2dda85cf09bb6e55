"""`/incident …`: parse the text, ack, then run the one matching handler (on the
work pool, or on Bolt's pool for a subcommand that may open a modal).

Every subcommand's handler is in this module, listed in `HANDLERS`; the
parsing and the help text are in `domain/commands.py`.

Parsing is pure and instant, so bad input is answered in the ack itself and
nothing else happens. Everything else acks first and works afterwards.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from slack_bolt import Ack, App, Respond
from slack_sdk import WebClient

from incidentbot.domain import commands
from incidentbot.domain.commands import Command, CommandError
from incidentbot.domain.errors import NotAnIncidentChannel
from incidentbot.domain.text import escape, truncate
from incidentbot.slack import alert_blocks, blocks, escalation_blocks, timeline_blocks
from incidentbot.slack.listeners.context import Services, problems_text
from incidentbot.slack.listeners.errors import guarded, lazy_listener
from incidentbot.slack.listeners.escalation import escalate_or_pick


@dataclass(frozen=True)
class Invocation:
    """One `/incident` call: who, where, and the parsed command."""

    command: Command
    user_id: str
    channel_id: str
    trigger_id: str
    respond: Respond
    client: WebClient
    number: int | None = None


Handler = Callable[[Services, Invocation], None]


def register(app: App, services: Services) -> None:
    def opens_modal(body: dict[str, Any]) -> bool:
        """Listener matcher: a subcommand that may open a modal runs entirely on Bolt's
        pool, because its trigger_id is valid for 3 seconds, too short to wait behind
        queued work. Bad input falls through to the next listener, which answers it."""
        try:
            return may_open_modal(_parse(services, body))
        except CommandError:
            return False

    @app.command("/incident", matchers=[opens_modal])
    @guarded(services)
    def incident_modal(ack: Ack, body: dict[str, Any], respond: Respond, client: WebClient) -> None:
        ack()
        _run(services, _parse(services, body), body, respond, client)

    def ack_parsed(ack: Ack, body: dict[str, Any]) -> None:
        """Parsing is pure and instant: bad input is answered in the ack itself."""
        try:
            _parse(services, body)
        except CommandError as error:
            ack(text=f":warning: {error}")
            return
        ack()

    def incident(body: dict[str, Any], respond: Respond, client: WebClient) -> None:
        _run(services, _parse(services, body), body, respond, client)

    app.command("/incident")(lazy_listener(services, ack=ack_parsed, lazy=[incident]))


def _parse(services: Services, body: dict[str, Any]) -> Command:
    return commands.parse(body.get("text", ""), vocabulary(services), actor_id=body["user_id"])


def _run(
    services: Services,
    command: Command,
    body: dict[str, Any],
    respond: Respond,
    client: WebClient,
) -> None:
    call = Invocation(
        command,
        body["user_id"],
        body["channel_id"],
        body.get("trigger_id", ""),
        respond,
        client,
    )
    HANDLERS[command.name](services, _with_incident(services, call))


def may_open_modal(command: Command) -> bool:
    """Subcommands that may open a modal (those run on the ack path, see `opens_modal`)."""
    return not command.text and command.name in {
        "declare",
        "roles",
        "resolve",
        "escalate",
        "update",
    }


def vocabulary(services: Services) -> commands.Vocabulary:
    config = services.config
    return commands.Vocabulary(
        severities=config.severity_names,
        statuses=config.statuses,
        roles=config.role_names,
        default_severity=config.default_severity,
    )


def _with_incident(services: Services, call: Invocation) -> Invocation:
    """Attach the incident of the channel for incident-scoped subcommands."""
    if not call.command.in_incident:
        return call
    try:
        number = services.incidents.number_for_channel(call.channel_id)
    except NotAnIncidentChannel as error:
        raise CommandError(error.message, commands.usage(call.command.name)) from None
    return Invocation(**{**call.__dict__, "number": number})


def _reply(call: Invocation, text: str, blocks_: list[dict[str, Any]] | None = None) -> None:
    call.respond(text=text, blocks=blocks_, response_type="ephemeral", replace_original=False)


def _report(call: Invocation, problems: tuple[str, ...]) -> None:
    if problems:
        _reply(call, problems_text(problems))


# -- handlers -------------------------------------------------------------------------
def declare(services: Services, call: Invocation) -> None:
    if not call.command.text:
        metadata = json.dumps({"origin": call.channel_id})
        view = blocks.declare_modal(services.config, declarer=call.user_id, metadata=metadata)
        call.client.views_open(trigger_id=call.trigger_id, view=view)
        return
    outcome = services.incidents.declare(
        title=call.command.text,
        severity=call.command.severity,
        declared_by=call.user_id,
        origin_channel=call.channel_id,
    )
    s = outcome.incident
    where = f"<#{s.channel_id}>" if s.channel_id else "(no channel yet)"
    _reply(call, f":rotating_light: Declared *{s.label}* ({s.severity}) → {where}")
    _report(call, outcome.problems)


def help_(services: Services, call: Invocation) -> None:
    _reply(call, commands.help_text())


def list_(services: Services, call: Invocation) -> None:
    # Private incidents show their details only to members of their channel.
    incidents = services.home.for_viewer(services.incidents.list_open(), call.user_id)
    text, list_blocks = blocks.incident_list(incidents, services.config, now=services.clock())
    _reply(call, text, list_blocks)


def status(services: Services, call: Invocation) -> None:
    outcome = services.incidents.change_status(
        _n(call), call.command.status or "", actor=call.user_id
    )
    _report(call, outcome.problems)


def severity(services: Services, call: Invocation) -> None:
    outcome = services.incidents.change_severity(
        _n(call), call.command.severity or "", actor=call.user_id
    )
    _report(call, outcome.problems)


def assign(services: Services, call: Invocation) -> None:
    role, user = call.command.role or "", call.command.user_id or ""
    if call.command.user_name:  # a plain @name Slack did not turn into a mention
        user = _look_up(services, call.command.user_name, call.command.name)
    outcome = services.incidents.assign_role(_n(call), role, user, actor=call.user_id)
    _report(call, outcome.problems)


def _look_up(services: Services, name: str, subcommand: str) -> str:
    found = services.slack.user_id_by_name(name)
    if isinstance(found, str):
        return found
    why = (
        f"could not be looked up (`{found.error}`)"
        if found is not None
        else "is not a name Slack recognised as one person here"
    )
    raise CommandError(
        f"{commands.quote('@' + name)} {why}. Type @ and pick the person from the list, "
        "so Slack turns it into a mention.",
        commands.usage(subcommand),
    )


def roles(services: Services, call: Invocation) -> None:
    snapshot = services.incidents.get(_n(call))
    role_defs = [(r.name, r.description) for r in services.config.roles]
    call.client.views_open(trigger_id=call.trigger_id, view=blocks.roles_modal(snapshot, role_defs))


def note(services: Services, call: Invocation) -> None:
    outcome = services.incidents.add_note(_n(call), call.command.text, actor=call.user_id)
    _report(call, outcome.problems)


def update(services: Services, call: Invocation) -> None:
    if not call.command.text:
        view = services.updates.modal_for(_n(call), actor=call.user_id)
        call.client.views_open(trigger_id=call.trigger_id, view=view)
        return
    outcome = services.updates.post(_n(call), text=call.command.text, actor=call.user_id)
    _report(call, outcome.problems)


def resolve(services: Services, call: Invocation) -> None:
    if not call.command.text:
        # Refused before the form opens, so nobody writes a summary only to lose it.
        snapshot = services.incidents.check_may("resolve", _n(call), call.user_id)
        call.client.views_open(trigger_id=call.trigger_id, view=blocks.resolve_modal(snapshot))
        return
    outcome = services.incidents.resolve(_n(call), call.command.text, actor=call.user_id)
    _report(call, outcome.problems)


def reopen(services: Services, call: Invocation) -> None:
    outcome = services.incidents.reopen(_n(call), actor=call.user_id)
    _report(call, outcome.problems)


def escalate(services: Services, call: Invocation) -> None:
    if call.command.text:
        services.escalations.start(_n(call), call.command.text, actor=call.user_id)
        return
    escalate_or_pick(services, _n(call), call.user_id, call.trigger_id, call.client)


def ack(services: Services, call: Invocation) -> None:
    services.escalations.acknowledge(_n(call), actor=call.user_id)


def show_timeline(services: Services, call: Invocation) -> None:
    view = services.timeline.view(_n(call), call.user_id)
    # Ephemeral messages, not the response_url: Slack allows only 5 uses of one.
    for text, page in timeline_blocks.timeline_messages(view):
        services.slack.ephemeral(call.channel_id, call.user_id, text, page)


def followup(services: Services, call: Invocation) -> None:
    changed = services.timeline.add_follow_up(_n(call), call.command.text, actor=call.user_id)
    _report(call, changed.problems)


def postmortem(services: Services, call: Invocation) -> None:
    uploaded = services.reports.upload_postmortem(_n(call), actor=call.user_id)
    if uploaded.problems:
        failed = "\n".join(f"• {p}" for p in uploaded.problems)
        _reply(
            call,
            f":warning: The postmortem could not be uploaded:\n{failed}\n"
            f"Try again, or print it with `python -m incidentbot postmortem {uploaded.number}`.",
        )


def stats(services: Services, call: Invocation) -> None:
    figures = services.reports.stats(int(call.command.extra["days"]))
    text, stats_blocks = timeline_blocks.stats_message(figures, services.config)
    _reply(call, text, stats_blocks)


def oncall(services: Services, call: Invocation) -> None:
    name = call.command.text
    if name and services.config.schedule(name) is None:
        known = ", ".join(f"`{s}`" for s in services.config.schedules) or "none configured"
        shown = escape(truncate(name, 40))
        raise CommandError(
            f"Unknown schedule `{shown}`. Schedules: {known}.", commands.usage("oncall")
        )
    now = services.incidents.clock()
    _reply(call, escalation_blocks.oncall_text(services.config, now, name or None))


def _n(call: Invocation) -> int:
    assert call.number is not None
    return call.number


def list_alerts(services: Services, call: Invocation) -> None:
    """`/incident alerts [report [days]]`."""
    now = services.clock()
    if call.command.extra.get("report"):
        days = int(call.command.extra["days"])
        text, shown = alert_blocks.report(services.alerts.report(days), days)
    else:
        try:
            number: int | None = services.incidents.number_for_channel(call.channel_id)
        except NotAnIncidentChannel:
            number = None
        views = services.alerts.group_views(incident=number)
        heading = f"Alert groups linked to INC-{number}" if number else "Firing alert groups"
        text, shown = alert_blocks.group_list(views, now=now, heading=heading)
    call.respond(text=text, blocks=shown, response_type="ephemeral", replace_original=False)


HANDLERS: dict[str, Handler] = {
    "declare": declare,
    "help": help_,
    "list": list_,
    "status": status,
    "severity": severity,
    "ic": assign,
    "scribe": assign,
    "role": assign,
    "roles": roles,
    "note": note,
    "update": update,
    "timeline": show_timeline,
    "resolve": resolve,
    "reopen": reopen,
    "followup": followup,
    "postmortem": postmortem,
    "stats": stats,
    "escalate": escalate,
    "ack": ack,
    "alerts": list_alerts,
    "oncall": oncall,
}
