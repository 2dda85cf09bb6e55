"""Parsing the text of `/incident …` into a typed command.

Grammar (PRODUCT.md §3): the first word picks the subcommand (case-insensitive,
with aliases `sev` and `commander`), the rest is its argument. Slack sends the
text HTML-escaped, with mentions as `<@U123|name>` (`should_escape: true`);
`parse` takes it as Slack sent it and un-escapes it once (`text.from_slack`), so
every text a command carries is what the person typed. A plain `@name` that
Slack did not turn into a mention is passed on as `user_name`, to be looked up.
Anything wrong raises `CommandError` carrying a short explanation and the
correct usage, quoting what the person typed; nothing is changed by a command
that fails to parse.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from incidentbot.domain.stats import DEFAULT_DAYS, MAX_DAYS
from incidentbot.domain.text import escape, from_slack, readable, truncate

_USER = re.compile(r"^<@([UW][A-Z0-9]+)(?:\|[^>]*)?>$")
_NAME = re.compile(r"^@([\w.\-]{1,80})$")
_BROADCASTS = ("channel", "here", "everyone")
_SEV_LIKE = re.compile(r"^sev\d+$", re.IGNORECASE)
_DAYS = re.compile(r"^[0-9]{1,6}$")


@dataclass(frozen=True, slots=True)
class Spec:
    """One subcommand: how to use it, an example, and where it may be used."""

    usage: str
    example: str
    summary: str
    in_incident: bool = True


SPECS: dict[str, Spec] = {
    "declare": Spec(
        "declare [severity] <title>",
        "/incident declare sev2 Checkout is failing",
        "declare an incident (no title opens a form)",
        in_incident=False,
    ),
    "help": Spec("help", "/incident help", "show this help", in_incident=False),
    "list": Spec("list", "/incident list", "list open incidents", in_incident=False),
    "status": Spec("status <name>", "/incident status identified", "change the status"),
    "severity": Spec("severity <name>", "/incident sev sev1", "change the severity (alias: sev)"),
    "ic": Spec("ic <@user>", "/incident ic @alice", "assign the Incident Commander"),
    "scribe": Spec("scribe <@user>", "/incident scribe @bob", "assign the Scribe"),
    "role": Spec("role <role> <@user>", "/incident role comms_lead @carol", "assign any role"),
    "roles": Spec("roles", "/incident roles", "assign roles in a form"),
    "note": Spec("note <text>", "/incident note Rolled back deploy 1234", "add a timeline note"),
    "update": Spec(
        "update [text]",
        "/incident update Rolled back; error rates are falling",
        "post a stakeholder update (no text opens a form)",
    ),
    "timeline": Spec("timeline", "/incident timeline", "show the timeline"),
    "resolve": Spec(
        "resolve [summary]", "/incident resolve Bad config reverted", "resolve the incident"
    ),
    "reopen": Spec("reopen", "/incident reopen", "reopen a resolved incident"),
    "followup": Spec(
        "followup <text>",
        "/incident followup Alert on queue depth",
        "record a follow-up action item",
    ),
    "postmortem": Spec("postmortem", "/incident postmortem", "generate the blameless postmortem"),
    "stats": Spec(
        "stats [days]",
        "/incident stats 90",
        f"incident counts, MTTA and MTTR by severity (default {DEFAULT_DAYS} days)",
        in_incident=False,
    ),
    "escalate": Spec(
        "escalate [path]",
        "/incident escalate database",
        "page an escalation path (no path: the next level now, or pick a path)",
    ),
    "ack": Spec("ack", "/incident ack", "acknowledge the page: stops the running escalation"),
    "alerts": Spec(
        "alerts [report [days]]",
        "/incident alerts report 7",
        "firing alert groups (in an incident channel: the linked ones); "
        f"`report`: signal to noise per route (default {DEFAULT_DAYS} days)",
        in_incident=False,
    ),
    "oncall": Spec(
        "oncall [schedule]",
        "/incident oncall backend-oncall",
        "who is on call now and next (every schedule and escalation path, or one schedule)",
        in_incident=False,
    ),
}

ALIASES = {"sev": "severity", "commander": "ic"}


@dataclass(frozen=True, slots=True)
class Vocabulary:
    """The configured names a command may refer to."""

    severities: Sequence[str]
    statuses: Sequence[str]
    roles: Sequence[str]
    default_severity: str


@dataclass(frozen=True, slots=True)
class Command:
    """A parsed `/incident` command. Only the fields its subcommand uses are set."""

    name: str
    text: str = ""
    severity: str | None = None
    status: str | None = None
    role: str | None = None
    user_id: str | None = None
    user_name: str | None = None  # a typed `@name` Slack did not resolve: look it up
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def in_incident(self) -> bool:
        return SPECS[self.name].in_incident


class CommandError(Exception):
    """A command that cannot be carried out as typed, with the correct usage."""

    def __init__(self, message: str, usage: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.usage = usage

    def __str__(self) -> str:
        if self.usage is None:
            return self.message
        return f"{self.message}\nUsage: {self.usage}"


def usage(name: str) -> str:
    """Usage line for a subcommand, with an example."""
    spec = SPECS[name]
    return f"`/incident {spec.usage}`  (e.g. `{spec.example}`)"


def help_text() -> str:
    """Every subcommand with an example, as mrkdwn lines."""
    lines = ["*`/incident` commands* (in an incident channel unless marked _anywhere_)"]
    for spec in SPECS.values():
        where = " _anywhere_" if not spec.in_incident else ""
        lines.append(f"• `/incident {spec.usage}` — {spec.summary}{where}. e.g. `{spec.example}`")
    return "\n".join(lines)


def parse(text: str, vocab: Vocabulary, *, actor_id: str) -> Command:
    """Parse the text after `/incident`, as Slack sent it, into a `Command`.

    Raises `CommandError` for anything that cannot be carried out as typed.
    """
    text = from_slack(text).strip()
    if not text:
        return Command("declare")
    word, _, rest = text.partition(" ")
    rest = rest.strip()
    name = ALIASES.get(word.lower(), word.lower())
    if name not in SPECS:
        raise CommandError(
            f"Unknown subcommand {quote(word)}. Subcommands: {_names(list(SPECS))}.",
            "`/incident <subcommand> …`; `/incident help` shows each with an example",
        )
    return _PARSERS.get(name, _no_args)(name, rest, vocab, actor_id)


def _no_args(name: str, rest: str, vocab: Vocabulary, actor_id: str) -> Command:
    return Command(name)


def _declare(name: str, rest: str, vocab: Vocabulary, actor_id: str) -> Command:
    if not rest:
        return Command("declare")
    first, _, title = rest.partition(" ")
    severity = vocab.default_severity
    if first.lower() in vocab.severities:
        severity = first.lower()
    elif _SEV_LIKE.match(first):
        raise _unknown("severity", first, vocab.severities, "declare")
    else:
        title = rest
    title = title.strip()
    if not title:
        raise CommandError("The incident needs a title.", usage("declare"))
    return Command("declare", text=title, severity=severity)


def _severity(name: str, rest: str, vocab: Vocabulary, actor_id: str) -> Command:
    value = _one_word(name, rest, "a severity", vocab.severities)
    if value not in vocab.severities:
        raise _unknown("severity", value, vocab.severities, name)
    return Command(name, severity=value)


def _status(name: str, rest: str, vocab: Vocabulary, actor_id: str) -> Command:
    value = _one_word(name, rest, "a status", vocab.statuses)
    if value not in vocab.statuses:
        raise _unknown("status", value, vocab.statuses, name)
    return Command(name, status=value)


def _assign(name: str, rest: str, vocab: Vocabulary, actor_id: str) -> Command:
    role = "incident_commander" if name == "ic" else "scribe"
    return Command(name, role=role, **_user(name, rest, actor_id))


def _role(name: str, rest: str, vocab: Vocabulary, actor_id: str) -> Command:
    role_word, _, who = rest.partition(" ")
    if not role_word:
        raise CommandError(
            f"Name a role and a person. Roles: {_names(vocab.roles)}.", usage("role")
        )
    role = role_word.lower()
    if role not in vocab.roles:
        raise _unknown("role", role_word, vocab.roles, "role")
    return Command(name, role=role, **_user(name, who.strip(), actor_id))


def _text(name: str, rest: str, vocab: Vocabulary, actor_id: str) -> Command:
    if not rest and name == "note":
        raise CommandError("The note needs some text.", usage(name))
    return Command(name, text=rest)


def _path(name: str, rest: str, vocab: Vocabulary, actor_id: str) -> Command:
    # Path names are checked against the configuration by the escalation service,
    # which lists the configured paths when the name is unknown.
    return Command(name, text=rest.split()[0].lower() if rest else "")


def _followup(name: str, rest: str, vocab: Vocabulary, actor_id: str) -> Command:
    if not rest:
        raise CommandError("The follow-up needs some text.", usage(name))
    return Command(name, text=rest)


def _stats(name: str, rest: str, vocab: Vocabulary, actor_id: str) -> Command:
    days = rest or str(DEFAULT_DAYS)
    if not _DAYS.match(days) or not 1 <= int(days) <= MAX_DAYS:
        raise CommandError(
            f"{quote(rest)} is not a number of days (a whole number from 1 to {MAX_DAYS}).",
            usage(name),
        )
    return Command(name, extra={"days": str(int(days))})


def _alerts(name: str, rest: str, vocab: Vocabulary, actor_id: str) -> Command:
    if not rest:
        return Command(name)
    word, _, days = rest.partition(" ")
    if word.lower() != "report":
        shown = escape(truncate(word, 40))
        raise CommandError(f"Unknown option `{shown}`: only `report` is known.", usage(name))
    parsed = _stats(name, days.strip(), vocab, actor_id)
    return Command(name, extra={"report": "1", **parsed.extra})


_PARSERS = {
    "alerts": _alerts,
    "declare": _declare,
    "severity": _severity,
    "status": _status,
    "ic": _assign,
    "scribe": _assign,
    "role": _role,
    "note": _text,
    "update": _text,
    "resolve": _text,
    "followup": _followup,
    "stats": _stats,
    "escalate": _path,
    "oncall": _path,  # the schedule name is checked against the configuration
}


def _one_word(name: str, rest: str, what: str, valid: Sequence[str]) -> str:
    if not rest:
        raise CommandError(f"Name {what}: {_names(valid)}.", usage(name))
    return rest.split()[0].lower() if len(rest.split()) == 1 else rest.lower()


def _user(name: str, rest: str, actor_id: str) -> dict[str, str]:
    """`user_id` of the one person named, or the `user_name` Slack left unresolved."""
    if rest.lower() == "me":
        return {"user_id": actor_id}
    if match := _USER.match(rest):
        return {"user_id": match.group(1)}
    if (match := _NAME.match(rest)) and match.group(1).lower() not in _BROADCASTS:
        return {"user_name": match.group(1)}
    what = "Mention one person" if not rest else f"{quote(rest)} is not a person"
    raise CommandError(f"{what}: use @name (or `me`).", usage(name))


def quote(typed: str, limit: int = 40) -> str:
    """What the person typed, as inline code that shows it literally (mentions as @name)."""
    shown = truncate(readable(typed), limit).replace("`", "'")
    return f"`{escape(shown)}`"


def _unknown(what: str, value: str, valid: Sequence[str], name: str) -> CommandError:
    return CommandError(f"Unknown {what} {quote(value)}. Valid: {_names(valid)}.", usage(name))


def _names(values: Sequence[str]) -> str:
    return ", ".join(f"`{v}`" for v in values)
