"""Building blocks for configuration sections, and the one renderer of their problems.

Every ``incidentbot.toml`` section is a pydantic model deriving from
``Section`` (immutable, unknown keys forbidden). Its fields use the annotated
types here (``Name``, ``Duration``, ``Channel``, …), whose validators raise
``ValueError`` with a short message ending in what was found (``got "5 min"``).

``problem_lines`` turns a ``ValidationError`` into the lines an operator reads,
``<key path>: <what is wrong>``:

- the key path is written as in the TOML file (``escalation.p.levels[0].timeout``,
  ``channels."odd key"``); an item of an array of tables that has a ``name`` is
  named by it (``severities["sev2"].escalation``), other items by position;
- pydantic's own structural errors get our wording (``required``, ``expected a
  table``, ``unknown key (did you mean "timeout"?)``); a ``ValueError`` from a
  validator is shown as its message, nothing added;
- lines come in the order the keys appear in the file.

Cross-references (a severity's escalation path, a ``schedule:<name>`` target)
are checked against the names the file *declares* (``References``, put in the
validation context as ``"references"`` by ``config.parse_config``), so a
reference to a table that has problems of its own is not also reported as
unknown, and every problem is found in one pass. ``References.env`` is the
environment, for ``*_env`` keys naming variables that hold secrets.

Pure module: nothing from the rest of the project is imported except durations.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from types import MappingProxyType, NoneType, UnionType
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    SecretStr,
    ValidationError,
    ValidationInfo,
    ValidatorFunctionWrapHandler,
    WrapSerializer,
    WrapValidator,
)
from pydantic_core import InitErrorDetails

from incidentbot.durations import parse_duration

__all__ = [
    "FROM_KEY",
    "Channel",
    "Duration",
    "Flag",
    "Name",
    "References",
    "SecretEnv",
    "Section",
    "Text",
    "Timestamp",
    "UserId",
    "as_dict",
    "as_name",
    "check_reference",
    "named_tables",
    "non_empty",
    "problem_lines",
    "raise_problems",
    "read_secret",
    "show",
    "unique_items",
    "unique_names",
    "unknown",
]

# fullmatch() is used everywhere: "$" would also accept a trailing newline.
_NAME_RE = re.compile(r"[a-z0-9][a-z0-9_-]{0,29}")
_CHANNEL_ID_RE = re.compile(r"[CG][A-Z0-9]{2,}")
# Slack channel names are lower case; \w keeps non-Latin names usable.
_CHANNEL_NAME_RE = re.compile(r"#[\w-]{1,80}")
USER_ID_RE = re.compile(r"[UW][A-Z0-9]{2,}")
GROUP_ID_RE = re.compile(r"S[A-Z0-9]{2,}")
EMAIL_RE = re.compile(r"[^@\s]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")
_RFC3339_RE = re.compile(
    r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:[Zz]|[+-]\d{2}:\d{2})?"
)
_BARE_KEY_RE = re.compile(r"[A-Za-z0-9_-]+")

# Marks a model field filled from the key of its ``[section.<key>]`` table
# rather than written in the table (see ``named_tables``).
FROM_KEY: dict[str, Any] = {"from_key": True}


Problem = tuple[tuple[str | int, ...], str]
"""A problem found by a validator: the key path below the value checked, and the message."""


class Section(BaseModel):
    """Base of every configuration model: immutable, and unknown keys are problems."""

    model_config = ConfigDict(extra="forbid", frozen=True)


# --------------------------------------------------------------------------- messages


def show(value: object) -> str:
    """A value as it would look in TOML, shortened for error messages."""
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, str):
        text = json.dumps(value, ensure_ascii=False)
    elif isinstance(value, Mapping):
        return "a table"
    elif isinstance(value, list | tuple):
        if value and all(isinstance(item, Mapping) for item in value):
            return "an array of tables"
        text = "[" + ", ".join(show(item) for item in value) + "]"
    elif isinstance(value, datetime | date | time):
        text = value.isoformat()
    else:
        text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def unknown(what: str, name: str, known: Iterable[str], *, label: str = "configured") -> str:
    """``unknown severity "sev9" (configured: sev1, sev2)``."""
    names = sorted(known)
    listed = ", ".join(names) if names else "none"
    return f'unknown {what} "{name}" ({label}: {listed})'


def raise_problems(problems: Sequence[Problem], value: object) -> None:
    """Raise one problem per ``(relative key path, message)`` from inside a validator.

    pydantic prefixes each path with the location of the value being
    validated, so a list validator can point at ``announcements[1]``.
    """
    if problems:
        raise ValidationError.from_exception_data(
            "config",
            [
                InitErrorDetails(
                    type="value_error", loc=loc, input=value, ctx={"error": ValueError(message)}
                )
                for loc, message in problems
            ],
        )


# --------------------------------------------------------------------------- scalar types
# Each converter takes a raw TOML value and returns the clean value or raises
# ValueError with a message that ends by showing what was found.


def _as_str(value: object) -> str:
    if not isinstance(value, str):
        raise ValueError(f"expected a string, got {show(value)}")
    return value


def _as_bool(value: object) -> bool:
    # pydantic would also take "yes", 1 or "on"; in a TOML file they are mistakes.
    if not isinstance(value, bool):
        raise ValueError(f"expected true or false, got {show(value)}")
    return value


def int_between(low: int, high: int) -> BeforeValidator:
    """A whole number in ``[low, high]``; booleans are not numbers."""

    def convert(value: object) -> int:
        if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
            raise ValueError(f"expected a whole number from {low} to {high}, got {show(value)}")
        return value

    return BeforeValidator(convert)


def as_name(value: object) -> str:
    """A name of a severity, status, role, path or schedule, in lower case."""
    name = _as_str(value).lower()
    if not _NAME_RE.fullmatch(name):
        raise ValueError(
            'expected a name of lowercase letters, digits, "-" and "_" '
            f"(at most 30, starting with a letter or digit), got {show(value)}"
        )
    return name


def _as_duration(value: object) -> timedelta:
    if isinstance(value, timedelta):  # an already-validated value (model_copy, defaults)
        return value
    if not isinstance(value, str):
        raise ValueError(f'expected a duration like "30m", got {show(value)}')
    try:
        return parse_duration(value)
    except ValueError as error:
        raise ValueError(f"{error}, got {show(value)}") from None


def _as_channel(value: object) -> str:
    text = _as_str(value)
    if _CHANNEL_ID_RE.fullmatch(text) or (
        _CHANNEL_NAME_RE.fullmatch(text) and text == text.lower()
    ):
        return text
    raise ValueError(
        f'expected a channel ID like "C0123ABCD" or a lowercase "#name", got {show(value)}'
    )


def _as_user(value: object) -> str:
    text = _as_str(value)
    if USER_ID_RE.fullmatch(text) or EMAIL_RE.fullmatch(text):
        return text
    raise ValueError(f'expected a user ID like "U0123ABCD" or an email, got {show(value)}')


def _as_timestamp(value: object) -> datetime:
    """A TOML offset date-time or an RFC 3339 string, returned in UTC."""
    example = '"2026-01-05T09:00:00Z"'
    if isinstance(value, str):
        if not _RFC3339_RE.fullmatch(value):
            raise ValueError(f"expected a date and time like {example}, got {show(value)}")
        try:
            value = datetime.fromisoformat(value.upper())
        except ValueError:
            raise ValueError(f"not a valid date and time, got {show(value)}") from None
    if not isinstance(value, datetime):
        raise ValueError(f"expected a date and time like {example}, got {show(value)}")
    # A rotation start without an offset would hand over at a different
    # instant depending on the server's timezone.
    if value.utcoffset() is None:
        raise ValueError(f'needs a timezone offset ("Z" or "+01:00"), got {show(value)}')
    return value.astimezone(UTC)


Text = Annotated[str, BeforeValidator(_as_str)]
Flag = Annotated[bool, BeforeValidator(_as_bool)]
Name = Annotated[str, BeforeValidator(as_name)]
Duration = Annotated[timedelta, BeforeValidator(_as_duration)]
Channel = Annotated[str, BeforeValidator(_as_channel)]
UserId = Annotated[str, BeforeValidator(_as_user)]
Timestamp = Annotated[datetime, BeforeValidator(_as_timestamp)]


# --------------------------------------------------------------------------- lists and tables


def _unique(items: tuple[str, ...]) -> tuple[str, ...]:
    seen: set[str] = set()
    problems: list[Problem] = []
    for index, item in enumerate(items):
        if item.casefold() in seen:
            problems.append(((index,), f"duplicate {show(item)}"))
        seen.add(item.casefold())
    raise_problems(problems, items)
    return items


def _non_empty(items: tuple[Any, ...]) -> tuple[Any, ...]:
    if not items:
        raise ValueError("must not be empty")
    return items


unique_items = AfterValidator(_unique)
"""A list of strings in which no item repeats (case-insensitively)."""

non_empty = AfterValidator(_non_empty)
"""A list that must have at least one item."""


def unique_names(what: str) -> WrapValidator:
    """An array of tables whose ``name`` keys are unique, case-insensitively.

    Duplicates are found in the raw items, so they are reported together with
    the items' other problems.
    """

    def validate(value: object, handler: ValidatorFunctionWrapHandler) -> object:
        problems: list[Problem] = []
        if isinstance(value, list):
            seen: set[str] = set()
            for index, item in enumerate(value):
                name = _valid_name(item.get("name") if isinstance(item, Mapping) else None)
                if name is not None and name in seen:
                    message = f'duplicate {what} "{name}" (names are case-insensitive)'
                    problems.append(((index, "name"), message))
                elif name is not None:
                    seen.add(name)
        return _merged(value, handler, problems, lambda result: result)

    return WrapValidator(validate)


def named_tables(what: str) -> WrapValidator:
    """``[section.<name>]`` tables: names checked and unique; the result maps lower-case names.

    Each table's model gets its ``name`` (a field marked ``FROM_KEY``) from
    the key; the result is read-only.
    """

    def validate(value: object, handler: ValidatorFunctionWrapHandler) -> object:
        if not isinstance(value, Mapping):
            return handler(value)  # pydantic says "expected a table"
        problems: list[Problem] = []
        tables: dict[str, object] = {}
        seen: set[str] = set()
        for key, table in value.items():
            try:
                name = as_name(key)
            except ValueError as error:
                problems.append(((key,), str(error)))
                continue
            if name in seen:
                message = f'duplicate {what} "{name}" (names are case-insensitive)'
                problems.append(((key,), message))
                continue
            seen.add(name)
            if isinstance(table, Mapping) and "name" in table:
                problems.append(((key, "name"), f'unknown key (the name is the table\'s: "{key}")'))
            tables[key] = {**table, "name": name} if isinstance(table, Mapping) else table
        return _merged(
            tables,
            handler,
            problems,
            lambda result: MappingProxyType({item.name: item for item in result.values()}),
        )

    return WrapValidator(validate)


as_dict = WrapSerializer(lambda value, handler: handler(dict(value)))
"""Serialise a read-only mapping (from ``named_tables``) as the dict it was read from."""


def _valid_name(raw: object) -> str | None:
    try:
        return as_name(raw)
    except ValueError:
        return None


def _merged(
    value: object,
    handler: ValidatorFunctionWrapHandler,
    problems: list[Problem],
    finish: Callable[[Any], object],
) -> object:
    """Validate with ``handler``; report its problems and ``problems`` together."""
    try:
        result = handler(value)
    except ValidationError as error:
        details = [_details(item) for item in error.errors()]
        details += [_details_of(loc, message, value) for loc, message in problems]
        raise ValidationError.from_exception_data("config", details) from None
    raise_problems(problems, value)
    return finish(result)


def _details(error: Any) -> InitErrorDetails:
    details = InitErrorDetails(type=error["type"], loc=error["loc"], input=error["input"])
    if "ctx" in error:
        details["ctx"] = error["ctx"]
    return details


def _details_of(loc: tuple[str | int, ...], message: str, value: object) -> InitErrorDetails:
    return InitErrorDetails(
        type="value_error", loc=loc, input=value, ctx={"error": ValueError(message)}
    )


# --------------------------------------------------------------------------- references


@dataclass(frozen=True)
class References:
    """The names a configuration file declares, read from the raw TOML before validation.

    ``names`` maps a kind ("schedule", "escalation path") to its declared
    names in lower case, or ``None`` when the declaring table is itself
    malformed (then references to it are not checked: the table's own
    problem is what the operator must fix). ``env`` is the process
    environment, for sections that name variables holding secrets (``None``:
    validated without one, so such variables are not checked).
    """

    names: Mapping[str, frozenset[str] | None] = field(default_factory=dict)
    env: Mapping[str, str] | None = None

    @classmethod
    def declared(
        cls,
        data: Mapping[str, Any],
        tables: Mapping[str, tuple[str, ...]],
        defaults: Mapping[str, Iterable[str]] | None = None,
        env: Mapping[str, str] | None = None,
    ) -> References:
        """Read the names each ``tables[kind]`` (a key path) declares in ``data``.

        A table declares its keys (``[schedules.<name>]``); an array of tables
        the ``name`` of its items (``[[severities]]``). An absent table
        declares ``defaults[kind]`` (built-in names), else nothing.
        """
        names: dict[str, frozenset[str] | None] = {}
        for kind, path in tables.items():
            table: object = data
            for key in path:
                table = table.get(key) if isinstance(table, Mapping) else None
            if table is None:
                names[kind] = frozenset((defaults or {}).get(kind, ()))
            else:
                names[kind] = _declared_in(table)
        return cls(MappingProxyType(names), None if env is None else MappingProxyType(dict(env)))


def _declared_in(table: object) -> frozenset[str] | None:
    """Declared names, or None when ``table`` is not a table of tables nor an array of them."""
    if isinstance(table, Mapping) and all(isinstance(item, Mapping) for item in table.values()):
        return frozenset(str(key).lower() for key in table)
    if isinstance(table, list) and all(isinstance(item, Mapping) for item in table):
        return frozenset(
            item["name"].lower() for item in table if isinstance(item.get("name"), str)
        )
    return None


def check_reference(kind: str, name: str, info: ValidationInfo) -> None:
    """Raise ``ValueError`` when ``name`` is not a declared ``kind``.

    Outside a validation that carries ``References`` (a model built in code),
    nothing is checked.
    """
    references = (info.context or {}).get("references")
    if not isinstance(references, References):
        return
    known = references.names.get(kind)
    if known is not None and name not in known:
        raise ValueError(unknown(kind, name, known))


_ENV_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _as_env_name(value: object) -> str:
    if not isinstance(value, str) or not _ENV_NAME_RE.fullmatch(value.strip()):
        raise ValueError(
            f'expected an environment variable name like "PD_ROUTING_KEY", got {show(value)}'
        )
    return value.strip()


def read_secret(name: str | None, info: ValidationInfo) -> SecretStr | None:
    """The value of environment variable ``name`` from ``References.env``.

    ``None`` when no variable is named or the configuration is validated
    without an environment; ``ValueError`` when the variable is unset or blank
    (a stray newline from a secrets file is a classic). The value never
    appears in a message.
    """
    references = (info.context or {}).get("references")
    env = references.env if isinstance(references, References) else None
    if name is None or env is None:
        return None
    value = env.get(name, "").strip()
    if not value:
        raise ValueError(f"environment variable {name} is not set (or empty)")
    return SecretStr(value)


def _is_set(name: str, info: ValidationInfo) -> str:
    read_secret(name, info)
    return name


SecretEnv = Annotated[str, BeforeValidator(_as_env_name), AfterValidator(_is_set)]
"""A ``*_env`` key: the name of the variable holding a secret, which must be set."""


# --------------------------------------------------------------------------- rendering


def problem_lines(error: ValidationError, data: object, model: type[BaseModel]) -> list[str]:
    """The operator-facing lines for ``error``, raised validating ``data`` as ``model``."""
    rows = []
    for details in error.errors(include_url=False):
        # A value that was never given (a default checked) is reported under
        # the name the operator would set, e.g. a settings variable.
        loc = (_alias(model, details["loc"][0]), *details["loc"][1:]) if details["loc"] else ()
        details["loc"] = loc
        rows.append((_position(data, loc), _path(data, loc), _message(details, model)))
    rows.sort(key=lambda row: row[0])
    return [f"{path}: {message}" if path else message for _, path, message in rows]


def _message(error: Any, model: type[BaseModel]) -> str:
    kind, loc, value = error["type"], tuple(error["loc"]), error["input"]
    if kind in ("value_error", "assertion_error"):
        return str(error["ctx"]["error"])
    if kind == "missing":
        hint = _field_extra(model, loc).get("required_hint")
        return f"required ({hint})" if hint else "required"
    if kind == "extra_forbidden":
        return _unknown_key(str(loc[-1]), _keys_at(model, loc[:-1]))
    if kind in ("model_type", "model_attributes_type", "dict_type", "mapping_type"):
        return f"expected a table, got {show(value)}"
    if kind in ("tuple_type", "list_type", "set_type", "frozen_set_type"):
        item = _type_at(model, (*loc, 0))
        if isinstance(item, type) and issubclass(item, BaseModel):
            return f"expected an array of tables ([[{_dotted(loc)}]]), got {show(value)}"
        return f"expected a list of strings, got {show(value)}"
    # pydantic's own wording for the types sections use without our converters.
    words = _PYDANTIC_WORDS.get(kind)
    message = words.format(**error.get("ctx", {})) if words else str(error["msg"])
    return f"{message}, got {show(value)}"


_PYDANTIC_WORDS = {
    "string_type": "expected a string",
    "bool_type": "expected true or false",
    "bool_parsing": "expected true or false",
    "int_type": "expected a whole number",
    "int_parsing": "expected a whole number",
    "int_from_float": "expected a whole number",
    "float_type": "expected a number",
    "float_parsing": "expected a number",
    "greater_than": "must be greater than {gt}",
    "greater_than_equal": "must be at least {ge}",
    "less_than": "must be less than {lt}",
    "less_than_equal": "must be at most {le}",
    "too_short": "must have at least {min_length} items",
    "too_long": "must have at most {max_length} items",
    "string_too_short": "must be at least {min_length} characters",
    "string_too_long": "must be at most {max_length} characters",
    "literal_error": "expected {expected}",
    "url_parsing": "expected a URL",
    "url_scheme": "expected a URL with scheme {expected_schemes}",
}


def _unknown_key(typed: str, allowed: Sequence[str]) -> str:
    lowered = typed.lower()
    close = difflib.get_close_matches(lowered, allowed, n=1) or [
        # Abbreviations ("desc") are too short for difflib's cutoff.
        known
        for known in allowed
        if len(lowered) >= 3 and known.startswith(lowered)
    ]
    hint = f'did you mean "{close[0]}"?' if close else "known keys: " + ", ".join(allowed)
    return f"unknown key ({hint})"


def _keys_at(model: type[BaseModel], loc: tuple[Any, ...]) -> list[str]:
    """The TOML keys of the table at ``loc`` (fields filled from a table key excluded)."""
    table = _type_at(model, loc)
    if not (isinstance(table, type) and issubclass(table, BaseModel)):
        return []
    return [
        name
        for name, info in table.model_fields.items()
        if not (isinstance(info.json_schema_extra, dict) and info.json_schema_extra.get("from_key"))
    ]


def _field_extra(model: type[BaseModel], loc: tuple[Any, ...]) -> dict[str, Any]:
    parent = _type_at(model, loc[:-1])
    if isinstance(parent, type) and issubclass(parent, BaseModel) and loc:
        info = _field(parent, loc[-1])
        if info is not None and isinstance(info.json_schema_extra, dict):
            return info.json_schema_extra
    return {}


def _alias(model: type[BaseModel], key: str | int) -> str | int:
    info = model.model_fields.get(key) if isinstance(key, str) else None
    alias = info.validation_alias if info is not None else None
    return alias if isinstance(alias, str) else key


def _field(model: type[BaseModel], key: object) -> Any:
    """The field of ``model`` called ``key``, by name or by alias."""
    for name, info in model.model_fields.items():
        if key in (name, info.validation_alias):
            return info
    return None


def _type_at(model: type[BaseModel], loc: tuple[Any, ...]) -> object:
    """The annotated type found at key path ``loc`` inside ``model`` (None if unknown)."""
    current: object = model
    for part in loc:
        current = _unwrap(current)
        origin = get_origin(current)
        if isinstance(current, type) and issubclass(current, BaseModel):
            info = _field(current, part)
            if info is None:
                return None
            current = info.annotation
        elif origin in (tuple, list, Sequence):
            current = get_args(current)[0]
        elif origin in (dict, Mapping):
            current = get_args(current)[1]
        else:
            return None
    return _unwrap(current)


def _unwrap(annotation: object) -> object:
    """Strip ``Annotated[...]`` and ``| None``."""
    while True:
        origin = get_origin(annotation)
        if origin is Annotated:
            annotation = get_args(annotation)[0]
        elif origin in (Union, UnionType):
            args = [arg for arg in get_args(annotation) if arg is not NoneType]
            if len(args) != 1:
                return annotation
            annotation = args[0]
        else:
            return annotation


def _path(data: object, loc: Sequence[Any]) -> str:
    """The key path as written in TOML; named array items by their name."""
    path = ""
    node = data
    for part in loc:
        if part == "[key]":  # pydantic's marker for a problem with a table key itself
            continue
        if isinstance(part, int):
            items = node if isinstance(node, list) else []
            path += _item_label(items, part)
            node = items[part] if 0 <= part < len(items) else None
        else:
            key = str(part)
            shown = key if _BARE_KEY_RE.fullmatch(key) else json.dumps(key, ensure_ascii=False)
            path = f"{path}.{shown}" if path else shown
            node = node.get(key) if isinstance(node, Mapping) else None
    return path


def _item_label(items: list[Any], index: int) -> str:
    """``["sev2"]`` for an item whose name is unique among its siblings, else ``[1]``."""
    if 0 <= index < len(items) and isinstance(items[index], Mapping):
        name = items[index].get("name")
        names = [item.get("name") for item in items if isinstance(item, Mapping)]
        if isinstance(name, str) and name and names.count(name) == 1:
            return "[" + json.dumps(name, ensure_ascii=False) + "]"
    return f"[{index}]"


def _dotted(loc: Sequence[Any]) -> str:
    return ".".join(str(part) for part in loc)


def _position(data: object, loc: Sequence[Any]) -> tuple[int, ...]:
    """Where ``loc`` is in the file: the index of each key in its table (missing keys last)."""
    position: list[int] = []
    node = data
    for part in loc:
        if isinstance(node, Mapping):
            keys = list(node)
            position.append(keys.index(part) if part in keys else len(keys))
            node = node.get(part)
        elif isinstance(node, list) and isinstance(part, int):
            position.append(part)
            node = node[part] if 0 <= part < len(node) else None
        else:
            position.append(1 << 30)
            node = None
    return tuple(position)
