"""The one way the bot calls the Slack Web API.

Every call goes through a `slack_sdk.WebClient` built by `make_client`, which
uses the SDK's own retry handlers: rate limits (honouring `Retry-After`),
server errors and connection errors are retried with bounded exponential
back-off, so nothing is retried forever. On top of that this module turns
Slack's answers into outcomes the services can act on:

    SlackApiError (from slack_sdk)
      └── raised by `call`; `try_call` returns a `Failure` instead

`Failure` names the method and Slack's error code ("ratelimited",
"not_in_channel", …) so a person can be told exactly what did not happen.
`is_transient` tells the failures that pass (an outage, a rate limit, a 5xx)
from those that will not (a missing channel, a bad argument): the first kind
is retried by `incidentbot.delivery` until Slack takes it.

Every call first waits for its turn in a `Pacer`, which keeps the bot within
Slack's published per-method rate limits, so a backlog drained after an
outage never trips them.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry import (
    BackoffRetryIntervalCalculator,
    ConnectionErrorRetryHandler,
    HttpRequest,
    HttpResponse,
    RateLimitErrorRetryHandler,
    RetryState,
)
from slack_sdk.http_retry.builtin_handlers import ServerErrorRetryHandler
from slack_sdk.web import SlackResponse

from incidentbot.domain.naming import with_suffix

log = logging.getLogger(__name__)

MAX_RETRIES = 3
MAX_RETRY_AFTER = 30.0  # seconds; a longer Retry-After fails the call instead of waiting
_NAME_ATTEMPTS = 20

# Errors that say "not now" rather than "never": retried later, never given up on.
TRANSIENT_ERRORS = frozenset(
    {
        "connection_error",
        "ratelimited",
        "rate_limited",
        "fatal_error",
        "internal_error",
        "service_unavailable",
        "request_timeout",
        # the outbox's own: queued behind steps Slack has not taken yet
        "slack_unavailable",
        "queued",
    }
)

# Slack's rate-limit tiers, in calls per minute per workspace
# (https://api.slack.com/apis/rate-limits). chat.postMessage is special: about
# one message per second per channel.
TIER_1, TIER_2, TIER_3, TIER_4 = 1.0, 20.0, 50.0, 100.0
METHOD_TIERS: dict[str, float] = {
    "conversations.create": TIER_2,
    "conversations.list": TIER_2,
    "conversations.setTopic": TIER_2,
    "conversations.setPurpose": TIER_2,
    "conversations.rename": TIER_2,
    "usergroups.users.list": TIER_2,
    "pins.add": TIER_2,
    "conversations.invite": TIER_3,
    "conversations.info": TIER_3,
    "conversations.join": TIER_3,
    "conversations.open": TIER_3,
    "conversations.members": TIER_4,
    "chat.update": TIER_3,
    "chat.delete": TIER_3,
    "users.lookupByEmail": TIER_3,
    "chat.postEphemeral": TIER_4,
    "views.open": TIER_4,
    "views.update": TIER_4,
    "views.publish": TIER_4,
}
POST_PER_CHANNEL = 60.0  # chat.postMessage: one per second per channel
DEFAULT_TIER = TIER_3
_CACHE_SECONDS = 300.0


class BoundedRateLimitRetryHandler(RateLimitErrorRetryHandler):
    """The SDK's rate-limit retry (it sleeps for `Retry-After`), except when Slack asks
    for a longer wait than `max_wait`: then the call fails now and is reported,
    rather than holding a worker for minutes in the middle of an incident."""

    def __init__(self, max_retry_count: int, max_wait: float = MAX_RETRY_AFTER) -> None:
        super().__init__(max_retry_count=max_retry_count)
        self.max_wait = max_wait

    def _can_retry(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        if not super()._can_retry(state=state, request=request, response=response, error=error):
            return False
        assert response is not None
        waits = [v for k, v in response.headers.items() if k.lower() == "retry-after"]
        try:
            return not waits or float(waits[0][0]) <= self.max_wait
        except (TypeError, ValueError, IndexError):
            return True


def make_client(token: str, base_url: str, *, timeout: int = 10) -> WebClient:
    """A WebClient on `base_url` that retries transient failures a bounded number of times."""
    backoff = BackoffRetryIntervalCalculator(backoff_factor=0.2)
    handlers = [
        ConnectionErrorRetryHandler(max_retry_count=MAX_RETRIES, interval_calculator=backoff),
        BoundedRateLimitRetryHandler(max_retry_count=MAX_RETRIES),
        ServerErrorRetryHandler(max_retry_count=MAX_RETRIES, interval_calculator=backoff),
    ]
    return WebClient(token=token, base_url=base_url, timeout=timeout, retry_handlers=handlers)


class Pacer:
    """Token buckets per method (and per channel for chat.postMessage).

    Each bucket refills at the method's per-minute limit times `scale`
    (kept a little under Slack's own) and holds at most `burst_seconds` of
    calls, so normal use never waits (Slack tolerates short bursts) while a
    long backlog is spread out at the sustained rate. A call that finds its
    bucket empty reserves the next token and sleeps until it is due.
    """

    def __init__(
        self,
        *,
        scale: float = 1.0,
        burst_seconds: float = 60.0,
        headroom: float = 0.9,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.scale = scale * headroom
        self.burst_seconds = burst_seconds
        self.clock = clock
        self.sleep = sleep
        self._lock = threading.Lock()
        self._buckets: dict[str, tuple[float, float]] = {}  # key -> (tokens, updated)

    def wait(self, method: str, channel: str | None = None) -> float:
        """Block until `method` may be called; returns the seconds waited."""
        if method == "chat.postMessage":
            key, per_minute = f"{method}:{channel}", POST_PER_CHANNEL
        else:
            key, per_minute = method, METHOD_TIERS.get(method, DEFAULT_TIER)
        rate = per_minute * self.scale / 60.0  # tokens per second
        capacity = max(1.0, rate * self.burst_seconds)
        with self._lock:
            now = self.clock()
            tokens, updated = self._buckets.get(key, (capacity, now))
            tokens = min(capacity, tokens + (now - updated) * rate) - 1.0
            self._buckets[key] = (tokens, now)
        delay = -tokens / rate if tokens < 0 else 0.0
        if delay > 0:
            self.sleep(delay)
        return delay


@dataclass(frozen=True, slots=True)
class Failure:
    """A Web API call that did not succeed after its retries."""

    method: str
    error: str
    detail: str = ""
    retry_after: float | None = None  # seconds Slack asked us to wait (429 Retry-After)

    def describe(self) -> str:
        extra = f" ({self.detail})" if self.detail else ""
        return f"`{self.method}` failed: `{self.error}`{extra}"


def is_transient(failure: Failure) -> bool:
    """True when the failure passes by itself: worth retrying later, not reporting now."""
    return transient_error(failure.error)


def transient_error(code: str) -> bool:
    """`is_transient` for a bare error code."""
    return code in TRANSIENT_ERRORS or code.startswith("http_5")


def error_code(exc: Exception) -> str:
    """Slack's error code for a failed call, or the exception's kind."""
    if isinstance(exc, SlackApiError):
        data = exc.response.data if isinstance(exc.response.data, dict) else {}
        code = data.get("error")
        if code:
            return str(code)
        return f"http_{exc.response.status_code}"
    return type(exc).__name__


class SlackGateway:
    """Web API calls with Slack's rules applied (joins, name collisions, lookups)."""

    def __init__(
        self,
        client: WebClient,
        *,
        on_failure: Callable[[str, str], None] | None = None,
        pacer: Pacer | None = None,
    ) -> None:
        self.client = client
        # The same client without the SDK's retry handlers, for `single_try()`.
        self._once = WebClient(
            token=client.token,
            base_url=client.base_url,
            timeout=client.timeout,
            retry_handlers=[],
        )
        self._mode = threading.local()
        self.on_failure = on_failure  # (method, error code) → metrics
        self.pacer = pacer or Pacer()
        self._lock = threading.Lock()
        self._channel_ids: dict[str, tuple[float, str]] = {}
        self._group_members: dict[str, tuple[float, frozenset[str]]] = {}
        self._people: dict[str, tuple[float, Person | Failure]] = {}
        self._names: tuple[float, dict[str, str]] | None = None  # lowercased name -> user ID
        self._bot_user_id: str | None = None

    # -- plain calls -------------------------------------------------------------
    def call(self, method: str, **kwargs: Any) -> SlackResponse:
        """Call `method`; raises `SlackApiError` when Slack says no after retries.

        Goes through the SDK's own method (`chat.postMessage` → `chat_postMessage`)
        so each argument is encoded the way that method expects.
        """
        channel = kwargs.get("channel")
        self.pacer.wait(method, channel if isinstance(channel, str) else None)
        client = self._once if getattr(self._mode, "single", False) else self.client
        return getattr(client, method.replace(".", "_"))(**_drop_none(kwargs))

    @contextmanager
    def single_try(self) -> Iterator[None]:
        """Calls made by this thread inside the block get one HTTP try, no SDK retries.

        For the outbox, which is itself the retry: it checks that a step still means
        something (a page not acknowledged meanwhile) right before each try, so a
        try must not linger in the SDK's back-off while the situation changes.
        """
        before = getattr(self._mode, "single", False)
        self._mode.single = True
        try:
            yield
        finally:
            self._mode.single = before

    def try_call(self, method: str, **kwargs: Any) -> SlackResponse | Failure:
        """Like `call`, but a failure comes back as a `Failure` value."""
        try:
            return self.call(method, **kwargs)
        except SlackApiError as exc:
            failure = Failure(method, error_code(exc), retry_after=_retry_after(exc))
        except OSError as exc:  # connection refused/reset after the retries
            failure = Failure(method, "connection_error", type(exc).__name__)
        log.warning("slack call failed", extra={"method": method, "error": failure.error})
        if self.on_failure is not None:
            self.on_failure(method, failure.error)
        return failure

    @property
    def bot_user_id(self) -> str:
        if self._bot_user_id is None:
            self._bot_user_id = str(self.call("auth.test")["user_id"])
        return self._bot_user_id

    # -- channels ----------------------------------------------------------------
    def create_channel(
        self, name: str, *, private: bool, adopt: bool = False
    ) -> tuple[str, str] | Failure:
        """Create a channel, adding `-2`, `-3`, … while the name is taken.

        With `adopt`, a taken name whose channel this bot created is taken over
        instead: that is the channel of a declare that crashed before it could
        store the channel's ID.
        """
        candidate = name
        for attempt in range(2, _NAME_ATTEMPTS + 2):
            result = self.try_call("conversations.create", name=candidate, is_private=private)
            if not isinstance(result, Failure):
                channel = result["channel"]
                return str(channel["id"]), str(channel["name"])
            if result.error != "name_taken":
                return result
            if adopt and (mine := self._own_channel(candidate)):
                return mine, candidate
            candidate = with_suffix(name, attempt)
        return Failure("conversations.create", "name_taken", f"tried {_NAME_ATTEMPTS} names")

    def _own_channel(self, name: str) -> str | None:
        channel_id = self.resolve_channel(f"#{name}")
        if isinstance(channel_id, Failure):
            return None
        info = self.try_call("conversations.info", channel=channel_id)
        if isinstance(info, Failure) or info["channel"].get("creator") != self.bot_user_id:
            return None
        return channel_id

    def invite(self, channel_id: str, user_ids: Iterable[str]) -> list[Failure]:
        """Invite people one by one so one bad user never blocks the others."""
        failures = []
        for user_id in dict.fromkeys(user_ids):
            if user_id == self.bot_user_id:
                continue
            result = self.try_call("conversations.invite", channel=channel_id, users=user_id)
            if isinstance(result, Failure) and result.error not in ("already_in_channel",):
                failures.append(Failure(result.method, result.error, f"<@{user_id}>"))
        return failures

    def resolve_channel(self, ref: str) -> str | Failure:
        """A channel ID for `C…`/`G…` or `#name` (looked up, then cached)."""
        if not ref.startswith("#"):
            return ref
        name = ref[1:].lower()
        with self._lock:
            cached = self._channel_ids.get(name)
        if cached and time.monotonic() - cached[0] < _CACHE_SECONDS:
            return cached[1]
        cursor = None
        while True:
            page = self.try_call(
                "conversations.list",
                types="public_channel,private_channel",
                exclude_archived=True,
                limit=1000,
                cursor=cursor,
            )
            if isinstance(page, Failure):
                return page
            for channel in page.get("channels", []):
                if channel.get("name") == name:
                    with self._lock:
                        self._channel_ids[name] = (time.monotonic(), str(channel["id"]))
                    return str(channel["id"])
            cursor = (page.get("response_metadata") or {}).get("next_cursor")
            if not cursor:
                return Failure("conversations.list", "channel_not_found", ref)

    def post(
        self, channel: str, *, text: str, blocks: list[dict] | None = None, **kwargs: Any
    ) -> SlackResponse | Failure:
        """Post a message; joins a public channel first if the bot is not in it."""
        args = {"channel": channel, "text": text, "blocks": blocks, **kwargs}
        result = self.try_call("chat.postMessage", **args)
        if isinstance(result, Failure) and result.error == "not_in_channel":
            joined = self.try_call("conversations.join", channel=channel)
            if isinstance(joined, Failure):
                return Failure(
                    "chat.postMessage", "not_in_channel", f"could not join: {joined.error}"
                )
            result = self.try_call("chat.postMessage", **args)
        return result

    def update(
        self, channel: str, ts: str, *, text: str, blocks: list[dict] | None = None
    ) -> SlackResponse | Failure:
        return self.try_call("chat.update", channel=channel, ts=ts, text=text, blocks=blocks)

    def ephemeral(
        self, channel: str, user: str, text: str, blocks: list[dict] | None = None
    ) -> None:
        """Tell one person something; falls back to a DM when they are not in the channel."""
        result = self.try_call(
            "chat.postEphemeral", channel=channel, user=user, text=text, blocks=blocks
        )
        if isinstance(result, Failure):
            self.try_call("chat.postMessage", channel=user, text=text, blocks=blocks)

    # -- people ------------------------------------------------------------------
    def usergroup_members(self, group_id: str) -> frozenset[str] | Failure:
        with self._lock:
            cached = self._group_members.get(group_id)
        if cached and time.monotonic() - cached[0] < _CACHE_SECONDS:
            return cached[1]
        result = self.try_call("usergroups.users.list", usergroup=group_id)
        if isinstance(result, Failure):
            return result
        members = frozenset(str(u) for u in result.get("users", []))
        with self._lock:
            self._group_members[group_id] = (time.monotonic(), members)
        return members

    def person(self, user_id: str) -> Person | Failure:
        """`users.info` of one user, cached; `Failure("users.info", "user_not_found")`
        for an ID Slack does not know. Transient failures are not cached."""
        with self._lock:
            cached = self._people.get(user_id)
        if cached and time.monotonic() - cached[0] < _CACHE_SECONDS:
            return cached[1]
        result = self.try_call("users.info", user=user_id)
        found: Person | Failure = (
            result if isinstance(result, Failure) else Person.from_api(result["user"])
        )
        if not isinstance(found, Failure) or found.error == "user_not_found":
            with self._lock:
                self._people[user_id] = (time.monotonic(), found)
        return found

    def display_name(self, user_id: str) -> str | None:
        """How Slack shows someone (display name, else real name); None when unknown."""
        found = self.person(user_id)
        return None if isinstance(found, Failure) else found.name

    def user_id_by_name(self, name: str) -> str | Failure | None:
        """The ID of the one active person whose handle, display or real name is `name`.

        Reads `users.list` once per cache period: Slack has no lookup by name.
        None when nobody (or more than one person) goes by that name.
        """
        with self._lock:
            names = self._names
        if names is None or time.monotonic() - names[0] >= _CACHE_SECONDS:
            built = self._all_names()
            if isinstance(built, Failure):
                return built
            names = (time.monotonic(), built)
            with self._lock:
                self._names = names
        return names[1].get(name.lower().lstrip("@"))

    def _all_names(self) -> dict[str, str] | Failure:
        seen: dict[str, set[str]] = {}
        cursor = None
        while True:
            page = self.try_call("users.list", limit=1000, cursor=cursor)
            if isinstance(page, Failure):
                return page
            for member in page.get("members", []):
                if member.get("deleted") or member.get("is_bot"):
                    continue
                profile = member.get("profile") or {}
                for key in (
                    member.get("name"),
                    profile.get("display_name"),
                    profile.get("real_name"),
                ):
                    if key:
                        seen.setdefault(str(key).lower(), set()).add(str(member["id"]))
            cursor = (page.get("response_metadata") or {}).get("next_cursor")
            if not cursor:
                break
        return {name: next(iter(ids)) for name, ids in seen.items() if len(ids) == 1}

    def bot_name(self, bot_id: str) -> str | None:
        """A bot's name (`bots.info`), for messages a bot posted; None when unknown."""
        result = self.try_call("bots.info", bot=bot_id)
        if isinstance(result, Failure):
            return None
        return str((result.get("bot") or {}).get("name") or "") or None


@dataclass(frozen=True, slots=True)
class Person:
    """What `users.info` says about someone: enough to refuse a role and name them."""

    id: str
    name: str  # display name, else real name, else handle
    deleted: bool = False
    is_bot: bool = False

    @classmethod
    def from_api(cls, data: dict[str, Any]) -> Person:
        profile = data.get("profile") or {}
        name = (
            profile.get("display_name")
            or profile.get("real_name")
            or data.get("real_name")
            or data.get("name")
            or data["id"]
        )
        is_bot = bool(data.get("is_bot") or data.get("is_app_user"))
        return cls(str(data["id"]), str(name), bool(data.get("deleted")), is_bot)


def _retry_after(exc: SlackApiError) -> float | None:
    if exc.response.status_code != 429:
        return None
    headers = {k.lower(): v for k, v in (exc.response.headers or {}).items()}
    value = headers.get("retry-after")
    value = value[0] if isinstance(value, list | tuple) and value else value
    try:
        return float(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def _drop_none(kwargs: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in kwargs.items() if v is not None}
