"""The SQL text SQLiteStore and DjangoStore share: one builder, two placeholder styles."""

from __future__ import annotations

from funnelkit.stores._sqlite import SQLiteStore, SQLTextStore, Statements


def _texts(sql: Statements) -> dict[str, str]:
    return {name: value for name, value in vars(sql).items() if isinstance(value, str)}


def test_placeholder_styles_differ_only_in_their_marks() -> None:
    """Every statement built with ``%s`` is the ``?`` one with its marks replaced."""
    qmark, pyformat = _texts(Statements("p_")), _texts(Statements("p_", "%s"))
    assert qmark.keys() == pyformat.keys()
    for name, text in qmark.items():
        if name != "mark":
            assert pyformat[name] == text.replace("?", "%s"), name


def test_owner_flag_spells_the_owner_guard_out() -> None:
    """With owner_flag the update tests no parameter for NULL, and takes one more parameter."""
    plain, flagged = Statements("p_").update_lead, Statements("p_", owner_flag=True).update_lead
    assert "owner IS ?" in plain
    assert "owner IS ?" not in flagged
    assert flagged.count("?") == plain.count("?") + 1


def test_sqlite_store_reads_through_the_shared_methods() -> None:
    """SQLiteStore defines no read of its own: history, handoffs and the outbox are shared."""
    for name in ("load", "history", "touchpoints", "handoffs", "merges", "outbox",
                 "ack_outbox", "transitions"):
        assert name not in vars(SQLiteStore)
        assert name in vars(SQLTextStore)
