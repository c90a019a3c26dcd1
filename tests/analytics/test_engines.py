"""The SQL engine gives exactly the in-memory engine's results: DuckDB, SQLite, PostgreSQL, Spark."""

from __future__ import annotations

import os
import secrets
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import _data
import pytest
from _tables import arrow_tables, duckdb_tables
from hypothesis import HealthCheck, given, settings
from test_log import T0, build, journeys

from funnelkit import InvalidInput
from funnelkit.analytics import FunnelLog, MarkovModel
from funnelkit.stores import MemoryStore, SQLiteStore

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from pathlib import Path

ibis = pytest.importorskip("ibis")
SqlLog = pytest.importorskip("funnelkit.analytics.sql").SqlLog

ANALYSES: dict[str, Callable[[Any], Any]] = {
    "conversion": lambda log: log.conversion(),
    "conversion by channel": lambda log: log.conversion(by="channel", top=3),
    "conversion by kind": lambda log: log.conversion(by="kind"),
    "conversion by owner": lambda log: log.conversion(by="owner"),
    "ordered": lambda log: log.conversion(mode="ordered"),
    "ordered in 20 days": lambda log: log.conversion(mode="ordered", window="20 days",
                                                     by="channel"),
    "custom steps": lambda log: log.conversion(steps=["lead", "sql", "customer"]),
    "time in stage": lambda log: {k: v.to_dict() for k, v in log.time_in_stage().items()},
    "time to outcome": lambda log: log.time_to_outcome(),
    "cohorts": lambda log: log.cohorts(),
    "weekly cohorts": lambda log: log.cohorts("week", horizons=["7 days"]),
    "handoffs by channel": lambda log: log.handoffs_report(),
    "handoffs by owner": lambda log: log.handoffs_report(by="owner"),
    "velocity": lambda log: log.velocity(qualified="mql", value="amount"),
    "markov model": lambda log: {"matrix": MarkovModel.fit(log).matrix(),
                                 "win": MarkovModel.fit(log).win_probability("subscriber")},
}


def _plain(value: Any) -> Any:
    return value if isinstance(value, dict) else value.to_dict()


def assert_same(memory: Any, sql: Any) -> None:
    for name, analysis in ANALYSES.items():
        assert _plain(analysis(sql)) == _plain(analysis(memory)), name


@pytest.fixture(scope="module")
def filled() -> Any:
    """A seeded history of 300 leads in a MemoryStore, and its in-memory log."""
    pipeline = _data.fill(MemoryStore())
    log = FunnelLog.from_store(pipeline.funnel, pipeline.store, as_of=_data.AS_OF)
    return pipeline, log


def test_duckdb_equals_memory(filled: Any) -> None:
    """Every analysis on DuckDB tables equals the in-memory one, exactly."""
    pipeline, log = filled
    backend = duckdb_tables(list(log.leads), _history(pipeline), list(log.handoffs))
    assert_same(log, SqlLog.from_backend(pipeline.funnel, backend, as_of=_data.AS_OF))


def test_sqlite_store_equals_memory(tmp_path: Path) -> None:
    """A SQLiteStore's own file, read by Ibis's SQLite backend, gives the same figures."""
    store = SQLiteStore(tmp_path / "funnel.db")
    pipeline = _data.fill(store, leads=150, seed=3)
    try:
        memory = FunnelLog.from_store(pipeline.funnel, store, as_of=_data.AS_OF)
        with SqlLog.from_store(pipeline.funnel, store, as_of=_data.AS_OF) as sql:
            assert_same(memory, sql)
    finally:
        store.close()


@pytest.fixture
def postgres_store() -> Iterator[Any]:
    """A SQLAlchemyStore on the real PostgreSQL server, in a schema of its own."""
    url = os.environ.get("FUNNELKIT_TEST_POSTGRES_URL")
    if not url:
        message = ("the PostgreSQL analytics test did not run: set FUNNELKIT_TEST_POSTGRES_URL="
                   "postgresql+psycopg://postgres@127.0.0.1:5432/test")
        if os.environ.get("FUNNELKIT_REQUIRE_SERVERS") == "1":
            pytest.fail(message)
        pytest.skip(message)
    sa = pytest.importorskip("sqlalchemy")
    store_class = pytest.importorskip("funnelkit.stores").SQLAlchemyStore
    engine = sa.create_engine(url)
    schema = f"fk_analytics_{secrets.token_hex(4)}"
    with engine.begin() as conn:
        conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
    store = store_class(engine, schema=schema)
    try:
        yield store
    finally:
        store.close()
        with engine.begin() as conn:
            conn.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
        engine.dispose()


@pytest.mark.postgres
def test_postgres_store_equals_memory(postgres_store: Any) -> None:
    """On the real PostgreSQL server the heavy pass runs in the database; same figures."""
    pipeline = _data.fill(postgres_store, leads=150, seed=5)
    memory = FunnelLog.from_store(pipeline.funnel, postgres_store, as_of=_data.AS_OF)
    with SqlLog.from_store(pipeline.funnel, postgres_store, as_of=_data.AS_OF) as sql:
        assert_same(memory, sql)


@pytest.mark.spark
def test_spark_equals_memory(filled: Any) -> None:
    """Spark in local mode, through Ibis's PySpark backend, gives the same figures."""
    if os.environ.get("FUNNELKIT_REQUIRE_SPARK") != "1":  # .ci/run sets it: there it must run
        pytest.importorskip("pyspark", reason="Spark tests need pyspark and a Java runtime")
    spark_sql = pytest.importorskip("pyspark.sql")
    pipeline, log = filled
    spark = (spark_sql.SparkSession.builder.master("local[1]").appName("funnelkit-tests")
             .config("spark.sql.shuffle.partitions", "2").config("spark.ui.enabled", "false")
             .config("spark.sql.session.timeZone", "UTC").getOrCreate())
    try:
        for name, table in arrow_tables(list(log.leads), _history(pipeline),
                                        list(log.handoffs)).items():
            spark.createDataFrame(table.to_pandas()).createOrReplaceTempView(f"funnelkit_{name}")
        backend = ibis.pyspark.connect(spark)
        assert_same(log, SqlLog.from_backend(pipeline.funnel, backend, as_of=_data.AS_OF))
    finally:
        spark.stop()


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(journeys())
def test_engines_agree_on_any_log(data: Any) -> None:
    """Whatever the journeys (loops, recycling, same-time moves), both engines agree."""
    funnel, js = data
    as_of = T0 + timedelta(days=400)
    memory = build(funnel, js, as_of)
    moves = [t for _, ts in js for t in ts]
    backend = duckdb_tables([lead for lead, _ in js], moves, [])
    sql = SqlLog.from_backend(funnel, backend, as_of=as_of)
    for analysis in (lambda log: log.conversion(by="channel", top=2),
                     lambda log: log.conversion(mode="ordered", window="10 days"),
                     lambda log: {k: v.to_dict() for k, v in log.time_in_stage().items()},
                     lambda log: log.time_to_outcome(), lambda log: log.cohorts(),
                     lambda log: log.velocity(qualified="mql")):
        assert _plain(analysis(sql)) == _plain(analysis(memory))


def test_sql_engine_refuses_what_it_cannot_do(filled: Any) -> None:
    """Python breakdowns, missing columns, bad tables and an early as_of are typed errors."""
    pipeline, log = filled
    backend = duckdb_tables(list(log.leads), _history(pipeline), list(log.handoffs))
    sql = SqlLog.from_backend(pipeline.funnel, backend, as_of=_data.AS_OF)
    with pytest.raises(InvalidInput, match="breakdown function"):
        sql.conversion(by=lambda lead: lead.id)
    with pytest.raises(InvalidInput, match="value function"):
        sql.velocity(value=lambda lead: 1.0)
    with pytest.raises(InvalidInput, match="before the last event"):
        SqlLog.from_backend(pipeline.funnel, backend, as_of=T0)
    with pytest.raises(InvalidInput, match="no table crm_leads"):
        SqlLog.from_backend(pipeline.funnel, backend, as_of=_data.AS_OF, prefix="crm_")
    with pytest.raises(InvalidInput, match="not an Ibis backend"):
        SqlLog.from_backend(pipeline.funnel, object(), as_of=_data.AS_OF)
    leads = backend.table("funnelkit_leads")
    with pytest.raises(InvalidInput, match="lacks column"):
        SqlLog(pipeline.funnel, leads=leads.drop("created_us"),
               transitions=backend.table("funnelkit_transitions"), as_of=_data.AS_OF)
    with pytest.raises(InvalidInput, match="must be an Ibis table"):
        SqlLog(pipeline.funnel, leads=[], transitions=[], as_of=_data.AS_OF)
    with pytest.raises(InvalidInput, match="not in funnel"):
        SqlLog.from_backend(_data.templates.predictable_revenue(), backend, as_of=_data.AS_OF)
    assert repr(sql).startswith("SqlLog('inbound'")


def test_sql_engine_from_an_in_memory_store_is_refused() -> None:
    """Stores with no database another connection can read point to FunnelLog."""
    with pytest.raises(InvalidInput, match="FunnelLog.from_store"):
        SqlLog.from_store(_data.funnel(), MemoryStore(), as_of=_data.AS_OF)


def _history(pipeline: Any) -> list[Any]:
    return [t for _, t in pipeline.store.transitions()]
