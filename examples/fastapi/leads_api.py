"""Acme's lead API: form fills and webhook events over HTTP, on FastAPI, SQLAlchemy and PostgreSQL.

- ``POST /forms/{form}``: the website's forms post a fill here; the first fill of an e-mail
  address captures a lead, every fill records a ``form_submit`` touchpoint, and a company of
  200 people or more qualifies as an MQL by itself (an auto move with a rule string).
- ``POST /webhooks/email``: the e-mail service reports opens and clicks (touchpoints).
- ``POST /webhooks/crm``: the CRM reports moves made by sales (``hand_to_sales``, ``win``...).
- ``GET /leads/{lead_id}``: the lead, its history and its touchpoints.

funnelkit's pipeline and stores are synchronous: every call is one database transaction, made by
a blocking driver. The endpoints are ``async def`` and hand each pipeline call to a worker thread
(``run_in_threadpool``), so the event loop never waits on the database. ``SalesInbox`` is an
``async def`` after-hook: ``fire`` writes its outbox row in the move's own transaction, and a
background task awaits ``pipeline.adeliver_pending()`` after each request that wrote something;
a delivery loop started with the app retries failed deliveries and sweeps breached SLAs.

Run it (``pip install 'funnelkit[sqlalchemy]' fastapi uvicorn psycopg[binary]``)::

    DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/test \\
        uvicorn --factory leads_api:create_app

Its tests are ``tests/examples/test_fastapi_example.py`` in the funnelkit repository.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import httpx
from fastapi import BackgroundTasks, FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from funnelkit import (
    AlreadyExists,
    ConcurrencyError,
    FunnelError,
    Handoff,
    InvalidInput,
    Lead,
    NotFound,
    PolicyRefused,
    ReasonRequired,
    StorageError,
    TransitionNotAllowed,
    UnknownEvent,
    templates,
)
from funnelkit.pipeline import Pipeline
from funnelkit.stores import SQLAlchemyStore, Store

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Mapping

DEFAULT_DATABASE_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
log = logging.getLogger("leads_api")


# -- the sales process ----------------------------------------------------------------------------


def acme_funnel() -> Any:
    """The inbound funnel; companies of 200 people or more qualify by themselves."""
    return templates.inbound(policies={"qualify": "employees >= 200"})


class SalesInbox:
    """Tells sales about each new handoff: an ``async def`` after-hook.

    Posts to ``SALES_WEBHOOK_URL`` (a chat or CRM webhook) when it is set, with an async HTTP
    client, and keeps the last messages for the API (and the tests) to show.  Delivery is at least
    once: a message already sent for a key is not sent twice by this process.
    """

    def __init__(self, webhook_url: str | None = None) -> None:
        self.webhook_url = webhook_url
        self.sent: list[dict[str, Any]] = []
        self._keys: set[str] = set()

    async def after_handoff(self, handoff: Handoff, lead: Lead, key: str) -> None:
        if key in self._keys:
            return
        message = {"lead": lead.id, "company": lead.attributes.get("company"),
                   "team": handoff.to_team, "owner": handoff.assignee,
                   "due": None if handoff.due_at is None else handoff.due_at.isoformat()}
        if self.webhook_url:
            async with httpx.AsyncClient(timeout=10) as client:
                response = await client.post(self.webhook_url, json=message)
                response.raise_for_status()  # an error leaves the row for a retry
        self._keys.add(key)
        self.sent.append(message)


# -- what the API takes and gives ---------------------------------------------------------------


class FormFill(BaseModel):
    """A form on the website, filled in."""

    model_config = ConfigDict(extra="forbid")

    email: str = Field(min_length=3, max_length=200, pattern=r"^[^@\s]+@[^@\s]+$")
    company: str = Field(min_length=1, max_length=200)
    employees: int = Field(ge=0)
    channel: str = Field(default="web", min_length=1, max_length=200)


class EmailEvent(BaseModel):
    """An event of the e-mail service's webhook."""

    model_config = ConfigDict(extra="forbid")

    lead_id: str
    kind: str = Field(description="email_open, email_click, ...")
    at: datetime | None = None


class CrmEvent(BaseModel):
    """A move made in the CRM: its event, who made it and why."""

    model_config = ConfigDict(extra="forbid")

    lead_id: str
    event: str
    actor: str
    reason: str | None = None
    context: dict[str, Any] | None = None


def _lead(lead: Lead) -> dict[str, Any]:
    return {"id": lead.id, "stage": lead.stage, "owner": lead.owner, "version": lead.version,
            "attributes": dict(lead.attributes)}


# funnelkit's errors, as HTTP answers: the message says what was wrong and what to do.
STATUS: Mapping[type[FunnelError], int] = {
    NotFound: 404,
    AlreadyExists: 409,
    ConcurrencyError: 409,  # the lead kept changing: the caller retries
    PolicyRefused: 422,
    ReasonRequired: 422,
    TransitionNotAllowed: 409,
    UnknownEvent: 422,
    InvalidInput: 422,
    StorageError: 503,
}


def _status(error: FunnelError) -> int:
    return next((code for kind, code in STATUS.items() if isinstance(error, kind)), 400)


# -- the app --------------------------------------------------------------------------------------


def create_app(
    store: Store | None = None,
    *,
    inbox: SalesInbox | None = None,
    delivery_interval: float = 30.0,
    backoff: timedelta = timedelta(seconds=30),
) -> FastAPI:
    """The API on *store* (default: ``SQLAlchemyStore`` on ``$DATABASE_URL``).

    *delivery_interval* is how often, in seconds, the app retries failed deliveries and sweeps;
    *backoff* how long a failed delivery waits before its first retry (doubling after that).
    """
    owns_store = store is None
    if store is None:
        store = SQLAlchemyStore(os.environ.get("DATABASE_URL", DEFAULT_DATABASE_URL))
    pipeline = Pipeline(acme_funnel(), store=store, backoff=backoff)
    inbox = pipeline.register(inbox or SalesInbox(os.environ.get("SALES_WEBHOOK_URL")))

    async def deliver() -> None:
        """Await the outbox's pending rows (SalesInbox is async: only adeliver_pending runs it)."""
        await pipeline.adeliver_pending()

    async def maintain() -> None:
        """Retry failed deliveries and expire breached handoffs, every *delivery_interval*."""
        while True:
            try:
                await run_in_threadpool(pipeline.sweep)  # synchronous: in a worker thread
                await pipeline.adeliver_pending()
            except FunnelError:  # the database is away: try again next time
                log.exception("outbox delivery failed; retrying in %s s", delivery_interval)
            await asyncio.sleep(delivery_interval)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        task = asyncio.create_task(maintain())
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            if owns_store:
                store.close()

    app = FastAPI(title="Acme leads", lifespan=lifespan)
    app.state.pipeline = pipeline
    app.state.inbox = inbox

    @app.exception_handler(FunnelError)
    async def funnel_error(request: Request, error: FunnelError) -> JSONResponse:
        body: dict[str, Any] = {"error": type(error).__name__, "detail": str(error)}
        if isinstance(error, PolicyRefused):
            body["reasons"] = list(error.reasons)
        return JSONResponse(body, status_code=_status(error))

    def record_fill(form: str, fill: FormFill) -> tuple[Lead, bool]:
        """One form fill, in a worker thread: capture on the first fill, then the touchpoint."""
        lead_id = fill.email.lower()
        attributes = {"company": fill.company, "employees": fill.employees}
        new = True
        try:
            pipeline.capture(lead_id, attributes=attributes)
        except AlreadyExists:
            new = False  # a returning visitor: the touchpoint is what is new
        if pipeline.get(lead_id).stage == "subscriber":
            pipeline.fire(lead_id, "convert", actor=f"form:{form}")
        pipeline.touch(lead_id, "form_submit", fill.channel, data={"form": form})
        return pipeline.get(lead_id), new

    @app.post("/forms/{form}", status_code=201)
    async def form_fill(form: str, fill: FormFill, background: BackgroundTasks) -> dict[str, Any]:
        lead, new = await run_in_threadpool(record_fill, form, fill)
        background.add_task(deliver)
        return {**_lead(lead), "new": new}

    @app.post("/webhooks/email")
    async def email_event(event: EmailEvent, background: BackgroundTasks) -> dict[str, Any]:
        moved = await run_in_threadpool(pipeline.touch, event.lead_id, event.kind, "email",
                                        at=event.at)
        background.add_task(deliver)
        return {"moved": [o.transition.event for o in moved]}

    @app.post("/webhooks/crm")
    async def crm_event(event: CrmEvent, background: BackgroundTasks) -> dict[str, Any]:
        fired = await run_in_threadpool(pipeline.fire, event.lead_id, event.event,
                                        actor=event.actor, reason=event.reason,
                                        context=event.context)
        background.add_task(deliver)
        return _lead(fired.lead)

    @app.get("/leads/{lead_id}")
    async def lead(lead_id: str) -> dict[str, Any]:
        def read() -> dict[str, Any]:
            return {**_lead(pipeline.get(lead_id)),
                    "history": [{"event": t.event, "target": t.target, "actor": t.actor,
                                 "at": t.at.isoformat()} for t in pipeline.history(lead_id)],
                    "touchpoints": [{"kind": t.kind, "channel": t.channel,
                                     "at": t.at.isoformat()}
                                    for t in pipeline.touchpoints(lead_id)]}

        return await run_in_threadpool(read)

    return app
