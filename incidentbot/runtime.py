"""Builds the running bot from settings and config: database, Slack client,
services, Bolt app, scheduler and web server. `app.py` and the tests both use it,
so what is tested is what runs.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any

from apscheduler.schedulers.background import BackgroundScheduler
from slack_bolt import App
from slack_sdk.errors import SlackApiError
from sqlalchemy.engine import Engine

from incidentbot.alerts.delivery import AlertDelivery
from incidentbot.alerts.endpoint import AlertsEndpoint
from incidentbot.alerts.service import AlertService
from incidentbot.clock import Clock, utcnow
from incidentbot.config import Config, Settings
from incidentbot.consequences import Consequences
from incidentbot.delivery import Outbox, RetryPolicy
from incidentbot.metrics import Metrics
from incidentbot.scheduler import Timers
from incidentbot.services.auth import Authorizer
from incidentbot.services.deps import Deps
from incidentbot.services.escalation import EscalationService
from incidentbot.services.home import HomeService
from incidentbot.services.incidents import IncidentService
from incidentbot.services.provider_webhooks import ProviderWebhooks
from incidentbot.services.providers import ProviderService
from incidentbot.services.reports import ReportService
from incidentbot.services.timeline import TimelineService
from incidentbot.services.updates import UpdateService
from incidentbot.slack.gateway import Pacer, SlackGateway, error_code, make_client
from incidentbot.slack.listeners import register_all
from incidentbot.slack.listeners.context import Services
from incidentbot.store.db import make_engine, migrate, ping
from incidentbot.web import WebApp, make_server
from incidentbot.workers import AckGate, TrackingExecutor, wait_all_idle

log = logging.getLogger(__name__)

LISTENER_THREADS = 32  # Bolt's pool: listeners up to their ack()
WORK_THREADS = 2  # what listeners do after acking; bounded so acks keep the CPU they need


class StartupError(Exception):
    """A problem that stops start-up, with a message for the operator."""


@dataclass
class Runtime:
    settings: Settings
    config: Config
    engine: Engine
    services: Services
    bolt: App
    scheduler: BackgroundScheduler
    timers: Timers
    outbox: Outbox
    executor: TrackingExecutor
    work: TrackingExecutor
    providers: ProviderService | None = None
    webhooks: ProviderWebhooks | None = None
    web: WebApp = field(init=False)
    _server: Any = field(default=None, repr=False)

    def health(self) -> tuple[bool, dict[str, Any]]:
        database = ping(self.engine)
        scheduler = "running" if self.scheduler.running else "stopped"
        mode = "socket" if self.settings.socket_mode else "http"
        details: dict[str, Any] = {
            "status": "ok" if database else "degraded",
            "database": "ok" if database else "unreachable",
            "scheduler": scheduler,
            "mode": mode,
        }
        if database:
            # Alive and storing: still 200, but say that Slack is behind and by how much.
            backlog = self.outbox.backlog()
            details["slack"] = "degraded" if backlog.count else "ok"
            details["slack_backlog"] = backlog.count
            details["slack_oldest_undelivered_seconds"] = round(backlog.oldest_seconds, 1)
        return database, details

    def wait_idle(self, timeout: float = 20.0) -> bool:
        """Wait until no listener and no post-ack work is queued or running."""
        return wait_all_idle(self.executor, self.work, timeout=timeout)

    def start_background(self) -> None:
        """Re-arm stored timers (due ones fire at once), then start the scheduler."""
        if not self.scheduler.running:
            armed = self.timers.start()
            # Pages stored but never sent (their process died) are delivered by this sweep.
            self.scheduler.add_job(
                self.services.escalations.send_pending,
                "interval",
                seconds=5,
                id="pages-sweep",
                replace_existing=True,
                coalesce=True,
                max_instances=1,
            )
            if self.providers is not None and self.webhooks is not None:
                # PagerDuty/Opsgenie events due (retries, or left by a killed process),
                # and webhooks answered but not yet acted on.
                for job, seconds in (
                    (self.providers.deliver_due, 1),
                    (self.webhooks.process_pending, 5),
                ):
                    self.scheduler.add_job(
                        job,
                        "interval",
                        seconds=seconds,
                        id=f"providers-{job.__name__}",
                        replace_existing=True,
                        coalesce=True,
                        max_instances=1,
                    )
            self.scheduler.start()
            self.outbox.start()
            log.info("scheduler started", extra={"pending_timers": armed})

    def serve(self, *, host: str = "0.0.0.0", port: int | None = None) -> Any:
        """Create (not run) the web server; call `.run()` on the result to serve."""
        self._server = make_server(
            self.web, host=host, port=self.settings.port if port is None else port
        )
        return self._server

    def stop(self, timeout: float = 9.0) -> bool:
        """Stop within `timeout` seconds: answer what was read, let post-ack work finish,
        stop the timers and the outbox. False when some work was still running then;
        it is left (its rows stay in the database for the next process to finish).
        """
        deadline = time.monotonic() + timeout
        if self._server is not None:
            self._server.close(timeout=max(deadline - time.monotonic() - 3.0, 0.5))
        idle = self.wait_idle(timeout=max(deadline - time.monotonic() - 1.5, 0.1))
        self.outbox.stop(timeout=max(deadline - time.monotonic() - 1.0, 0.1))
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)
        self.timers.shutdown(wait=idle)
        for pool in (self.executor, self.work):
            pool.shutdown(wait=idle, cancel_futures=not idle)
        self.engine.dispose()
        return idle


def build(
    settings: Settings,
    config: Config,
    *,
    clock: Clock = utcnow,
    pacer: Pacer | None = None,
) -> Runtime:
    """Wire every part; raises `StartupError` for problems an operator must fix.

    `pacer` replaces the default one that keeps calls within Slack's rate
    limits (tests compress those limits together with the stand-in's).
    """
    engine = make_engine(settings.database_url)
    try:
        migrate(engine)
    except Exception as exc:  # driver errors vary; the operator needs the reason, not a traceback
        raise StartupError(
            f"DATABASE_URL: cannot open or migrate the database ({exc.__class__.__name__}: {exc})"
        ) from exc
    client = make_client(settings.bot_token.get_secret_value(), settings.api_url)
    _check_token(client)
    metrics = Metrics()
    gateway = SlackGateway(
        client,
        on_failure=lambda method, error: metrics.slack_errors.labels(method, error).inc(),
        pacer=pacer,
    )
    scheduler = BackgroundScheduler(timezone="UTC")
    timers = Timers(engine=engine, scheduler=scheduler, clock=clock)
    outbox = Outbox(
        engine=engine,
        slack=gateway,
        clock=clock,
        policy=RetryPolicy(ceiling=settings.slack_retry_max),
    )
    metrics.watch_slack_backlog(outbox.backlog)
    deps = Deps(
        engine=engine,
        config=config,
        slack=gateway,
        timers=timers,
        outbox=outbox,
        consequences=Consequences(timers),
        metrics=metrics,
        auth=Authorizer(config, gateway),
        clock=clock,
    )
    incidents = IncidentService(deps)
    # Consequences of one event run in the order their services subscribe here:
    # on resolve, escalations are called off before the closing update is posted.
    providers = ProviderService(deps)  # PagerDuty and Opsgenie (PRODUCT.md §10)
    escalations = EscalationService(deps, incidents=incidents, providers=providers)
    updates = UpdateService(deps, incidents=incidents)
    alerts = AlertService(deps, providers=providers)
    alert_delivery = AlertDelivery(
        deps, service=alerts, incidents=incidents, escalations=escalations
    )
    services = Services(
        config=config,
        slack=gateway,
        incidents=incidents,
        timers=timers,
        escalations=escalations,
        updates=updates,
        home=HomeService(deps, incidents=incidents),
        timeline=TimelineService(deps, incidents=incidents),
        reports=ReportService(deps, incidents=incidents),
        work=TrackingExecutor(WORK_THREADS, name="work"),
        gate=AckGate(),
        alerts=alerts,
        alert_delivery=alert_delivery,
        clock=clock,
    )
    executor = TrackingExecutor(LISTENER_THREADS, name="listener")
    bolt = App(
        client=client,
        signing_secret=(
            settings.signing_secret.get_secret_value() if settings.signing_secret else ""
        ),
        token_verification_enabled=False,
        listener_executor=executor,
        # Socket Mode has no signing secret: the app token authenticates the socket.
        request_verification_enabled=not settings.socket_mode,
    )
    register_all(bolt, services)
    metrics.watch_open_incidents(incidents.open_counts)
    runtime = Runtime(
        settings, config, engine, services, bolt, scheduler, timers, outbox, executor, services.work
    )
    runtime.providers = providers
    runtime.webhooks = ProviderWebhooks(
        engine=engine,
        config=config,
        escalations=escalations,
        clock=clock,
        submit=services.work.submit,
        alerts=alerts,
        close_pages=alert_delivery.close_pages,
    )

    def webhooks(provider: str, raw: bytes, headers: Any) -> tuple[int, dict[str, Any]]:
        answer = runtime.webhooks.receive(provider, raw, headers)  # type: ignore[union-attr]
        return answer.status, answer.body

    runtime.web = WebApp(
        None if settings.socket_mode else bolt,
        runtime.health,
        metrics,
        gate=services.gate,
        alerts=AlertsEndpoint(alerts, config.alerts),
        webhooks=webhooks,
    )
    metrics.watch_open_alert_groups(alerts.open_counts)
    return runtime


def _check_token(client: Any) -> None:
    """Refuse a token Slack rejects; carry on (and warn) when Slack is just unreachable."""
    try:
        client.auth_test()
    except SlackApiError as exc:
        code = error_code(exc)
        if code in ("invalid_auth", "not_authed", "account_inactive", "token_revoked"):
            raise StartupError(f"SLACK_BOT_TOKEN: Slack rejected the token ({code})") from None
        log.warning("auth.test failed at start-up; continuing", extra={"error": code})
    except OSError as exc:
        log.warning("Slack unreachable at start-up; continuing", extra={"error": repr(exc)})
