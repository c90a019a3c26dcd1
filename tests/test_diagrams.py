"""Diagrams: Mermaid and DOT drawn by transitions once per funnel, styled and labelled."""

from __future__ import annotations

import re
import sys

import pytest

from funnelkit import Funnel, MissingExtra, templates


def test_mermaid_is_state_diagram_v2_with_labels_styles_and_initial() -> None:
    """The Mermaid text uses documented stateDiagram-v2 syntax with labels, classes and [*]."""
    funnel = templates.inbound()
    text = funnel.to_mermaid()
    lines = [line.strip() for line in text.splitlines()]
    assert lines[:4] == ["---", 'title: "inbound"', "---", "stateDiagram-v2"]
    assert 'state "Marketing qualified lead" as mql' in lines
    assert "class customer s_won" in lines
    assert "class disqualified s_lost" in lines
    assert "class subscriber s_initial" in lines
    assert lines.count("[*] --> subscriber") == 1
    assert "mql --> sql: hand_to_sales" in lines
    assert not any(line.startswith("Class ") for line in lines)
    assert any(line.startswith("classDef s_won ") for line in lines)
    # Every edge of the funnel is drawn once.
    edges = [line for line in lines if re.fullmatch(r"\w+ --> \w+: \w+", line)]
    expected = sum(len(funnel.events_from(s.name)) for s in funnel.stages)
    assert len(edges) == expected


def test_mermaid_escapes_quotes_in_labels() -> None:
    """A double quote in a label cannot end Mermaid's state string early."""
    funnel = (Funnel.builder("q").stage("a", "t", label='The "hot" ones')
              .stage("won", "t", outcome="won").move("win", "a", "won").build())
    assert 'state "The #quot;hot#quot; ones" as a' in funnel.to_mermaid()


def test_diagrams_are_built_once_per_funnel() -> None:
    """A second call returns the very same text object: drawn once, then kept."""
    funnel = templates.temperature()
    assert funnel.to_mermaid() is funnel.to_mermaid()
    assert funnel.to_dot() is funnel.to_dot()


def test_dot_has_labels_styles_and_initial_marker() -> None:
    """The DOT text labels stages, fills won and lost, and doubles the initial border."""
    text = templates.temperature().to_dot()
    assert text.startswith("digraph temperature {")
    assert re.search(r'cold \[label="Cold\\l" color="#1565c0" peripheries=2', text)
    assert re.search(r'customer \[label="Customer\\l" .*fillcolor="#c8e6c9"', text)
    assert re.search(r'lost \[label="Lost\\l" .*fillcolor="#ffcdd2"', text)
    assert "hot -> customer [label=buy]" in text


def test_to_dot_without_graphviz_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without the graphviz package, to_dot raises MissingExtra naming funnelkit[diagrams]."""
    monkeypatch.setitem(sys.modules, "graphviz", None)  # makes `import graphviz` fail
    funnel = templates.predictable_revenue()
    with pytest.raises(MissingExtra, match=re.escape("funnelkit[diagrams]")) as info:
        funnel.to_dot()
    assert isinstance(info.value, ImportError)
    assert funnel.to_mermaid().lstrip().startswith("---")  # Mermaid needs nothing more
