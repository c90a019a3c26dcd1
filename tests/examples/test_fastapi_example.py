"""The FastAPI example (examples/fastapi) on the real PostgreSQL server, through its TestClient.

Form fills capture leads, webhook events record touchpoints and moves, and the async after-hook
is awaited by ``adeliver_pending`` from a background task.  Skipped when FastAPI or httpx is not
installed or the server is unreachable, unless ``FUNNELKIT_REQUIRE_SERVERS=1`` (as in CI), where
that fails instead.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from _servers import postgres as postgres  # noqa: PLC0414 - the session fixture, re-exported

if TYPE_CHECKING:
    from collections.abc import Iterator
    from types import ModuleType

    from _servers import Server

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "fastapi" / "leads_api.py"

pytestmark = pytest.mark.postgres


def _needs(module: str) -> None:
    """Import *module*, or skip (fail with FUNNELKIT_REQUIRE_SERVERS=1) saying what to install."""
    try:
        importlib.import_module(module)
    except ImportError:
        message = f"{module} is not installed (it is in funnelkit's test extra: pip install -e '.[test]')"
        if os.environ.get("FUNNELKIT_REQUIRE_SERVERS") == "1":
            pytest.fail(f"FUNNELKIT_REQUIRE_SERVERS=1 but {message}", pytrace=False)
        pytest.skip(message)


@pytest.fixture(scope="module")
def leads_api() -> ModuleType:
    """The example's module, imported from its file."""
    for module in ("fastapi", "httpx", "sqlalchemy"):
        _needs(module)
    spec = importlib.util.spec_from_file_location("funnelkit_example_leads_api", EXAMPLE)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def app(leads_api: ModuleType, postgres: Server) -> Any:
    """The app on the PostgreSQL server, in tables of its own (a fresh prefix per test).

    Its delivery loop runs once, at start-up: each request's own background task is then what
    delivers, so the tests see its rows delivered when the response comes back.
    """
    from funnelkit.stores import SQLAlchemyStore  # noqa: PLC0415

    store = SQLAlchemyStore(postgres.engine, schema=postgres.schema, prefix=postgres.prefix())
    return leads_api.create_app(store, delivery_interval=3600)


@pytest.fixture
def client(app: Any) -> Iterator[Any]:
    """FastAPI's TestClient, with the app's lifespan (its delivery loop) running."""
    from fastapi.testclient import TestClient  # noqa: PLC0415

    with TestClient(app) as client:
        yield client


FILL = {"email": "Ana@Acme.example", "company": "Acme", "employees": 450}


def _wait_for(found: Any, seconds: float = 20) -> Any:
    """Poll *found* until it gives something true (the app's delivery loop runs on its own)."""
    deadline = time.monotonic() + seconds
    while not (value := found()):
        assert time.monotonic() < deadline, "the app's delivery loop did not get there in time"
        time.sleep(0.02)
    return value


def test_a_form_fill_captures_a_lead_that_qualifies_by_its_size(client: Any, app: Any) -> None:
    """The first fill captures and converts the lead; 450 people make it an MQL (auto move)."""
    response = client.post("/forms/demo", json=FILL)
    assert response.status_code == 201, response.text
    body = response.json()
    assert (body["id"], body["stage"], body["new"]) == ("ana@acme.example", "mql", True)
    assert body["attributes"] == {"company": "Acme", "employees": 450}
    small = client.post("/forms/newsletter", json={**FILL, "email": "bo@tiny.example",
                                                   "employees": 12}).json()
    assert small["stage"] == "lead"
    again = client.post("/forms/pricing", json={**FILL, "channel": "paid_search"}).json()
    assert (again["new"], again["version"]) == (False, body["version"])
    lead = client.get("/leads/ana@acme.example").json()
    assert [h["event"] for h in lead["history"]] == ["convert", "qualify"]
    assert [h["actor"] for h in lead["history"]] == ["form:demo", "funnelkit.auto"]
    assert [(t["kind"], t["channel"]) for t in lead["touchpoints"]] == [
        ("form_submit", "web"), ("form_submit", "paid_search")]
    assert app.state.pipeline.store.outbox() == []


def test_webhooks_record_touchpoints_and_moves_and_the_async_hook_is_awaited(
    client: Any, app: Any,
) -> None:
    """E-mail events become touchpoints; a CRM move opens a handoff that SalesInbox announces."""
    client.post("/forms/demo", json=FILL)
    opened = client.post("/webhooks/email", json={"lead_id": "ana@acme.example",
                                                  "kind": "email_open"})
    assert opened.json() == {"moved": []}
    moved = client.post("/webhooks/crm", json={"lead_id": "ana@acme.example",
                                               "event": "hand_to_sales", "actor": "crm:sync"})
    assert moved.status_code == 200, moved.text
    assert moved.json()["stage"] == "sql"
    # The response came back after the background task awaited adeliver_pending().
    (message,) = app.state.inbox.sent
    assert message["lead"] == "ana@acme.example"
    assert (message["company"], message["team"]) == ("Acme", "sales")
    assert message["due"] is not None
    store = app.state.pipeline.store
    assert store.outbox() == []
    assert [row.hook for row in store.outbox(undelivered_only=False)] == ["after_handoff"]
    kinds = [t["kind"] for t in client.get("/leads/ana@acme.example").json()["touchpoints"]]
    assert kinds == ["form_submit", "email_open"]


def test_funnel_errors_are_http_answers_that_say_what_to_do(client: Any, app: Any) -> None:
    """Unknown leads are 404, refused moves 409/422 with the reasons, bad payloads 422."""
    missing = client.post("/webhooks/crm", json={"lead_id": "nobody", "event": "convert",
                                                 "actor": "crm"})
    assert missing.status_code == 404
    assert missing.json()["error"] == "NotFound"
    client.post("/forms/newsletter", json={**FILL, "email": "bo@tiny.example", "employees": 12})
    refused = client.post("/webhooks/crm", json={"lead_id": "bo@tiny.example",
                                                 "event": "qualify", "actor": "crm"})
    assert refused.status_code == 422
    assert refused.json()["error"] == "PolicyRefused"
    assert any("employees" in reason for reason in refused.json()["reasons"])
    skipped = client.post("/webhooks/crm", json={"lead_id": "bo@tiny.example", "event": "win",
                                                 "actor": "crm"})
    assert skipped.status_code == 409
    no_reason = client.post("/webhooks/crm", json={"lead_id": "bo@tiny.example",
                                                   "event": "disqualify", "actor": "crm"})
    assert (no_reason.status_code, no_reason.json()["error"]) == (422, "ReasonRequired")
    typo = client.post("/webhooks/crm", json={"lead_id": "bo@tiny.example", "event": "nurture",
                                              "actor": "crm", "when": "2026-03-02T09:00:00Z"})
    assert typo.status_code == 422  # an unknown field is refused, as fire refuses when=
    assert client.get("/leads/bo@tiny.example").json()["stage"] == "lead"
    assert client.post("/forms/demo", json={**FILL, "email": "not an address"}).status_code == 422


def test_the_delivery_loop_retries_a_failed_delivery(leads_api: ModuleType, postgres: Server) -> None:
    """A SalesInbox call that fails is retried by the app's own loop, not lost."""
    from fastapi.testclient import TestClient  # noqa: PLC0415

    from funnelkit.stores import SQLAlchemyStore  # noqa: PLC0415

    class Flaky(leads_api.SalesInbox):  # type: ignore[name-defined,misc]
        failures = 1

        async def after_handoff(self, handoff: Any, lead: Any, key: str) -> None:
            if self.failures:
                self.failures -= 1
                raise ConnectionError("chat service down")
            await super().after_handoff(handoff, lead, key)

    store = SQLAlchemyStore(postgres.engine, schema=postgres.schema, prefix=postgres.prefix())
    app = leads_api.create_app(store, inbox=Flaky(), delivery_interval=0.05,
                               backoff=timedelta(milliseconds=200))
    with TestClient(app) as client:
        client.post("/forms/demo", json=FILL)
        client.post("/webhooks/crm", json={"lead_id": "ana@acme.example",
                                           "event": "hand_to_sales", "actor": "crm"})
        # The background task's delivery (or the loop's, whichever claimed the row) fails ...
        errors = _wait_for(lambda: [r.last_error for r in store.outbox(undelivered_only=False)
                                    if r.last_error])
        assert "chat service down" in errors[0]
        # ... and the loop, running every 0.05 s, delivers it once it is due again (0.2 s).
        _wait_for(lambda: app.state.inbox.sent)
    assert [m["lead"] for m in app.state.inbox.sent] == ["ana@acme.example"]
    assert store.outbox() == []
    assert store.outbox(undelivered_only=False)[0].attempts == 2
