"""Funnel diagrams, drawn by ``transitions`` once per funnel (never per lead).

``transitions`` is good at this: one ``GraphMachine`` over the funnel's stages and moves gives
Mermaid and Graphviz DOT text.  The machine built here has one model that never moves; it lives
only while the text is drawn, and :class:`funnelkit.Funnel` keeps the text.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, Literal, cast

from funnelkit._core.errors import MissingExtra

if TYPE_CHECKING:
    from funnelkit._definition.funnel import Funnel

__all__ = ["dot", "mermaid"]

# Styles of the stage kinds (transitions turns them into Graphviz attributes or Mermaid classDefs);
# the initial stage gets a double border in DOT and the `[*] -->` arrow in Mermaid.
_STYLES: dict[str, dict[str, str]] = {
    "won": {"fillcolor": "#c8e6c9", "color": "#2e7d32", "style": "rounded,filled"},
    "lost": {"fillcolor": "#ffcdd2", "color": "#c62828", "style": "rounded,filled"},
    "initial": {"peripheries": "2", "color": "#1565c0", "style": "rounded,filled"},
}
_EXTRA = "pip install 'funnelkit[diagrams]'"


class _Model:
    """The one model the drawing machine needs; it never moves."""


def _machine(funnel: Funnel, engine: Literal["graphviz", "mermaid"], *, quote: bool) -> Any:
    from transitions import State  # noqa: PLC0415 - transitions is only needed to draw
    from transitions.extensions.diagrams import GraphMachine  # noqa: PLC0415

    class LabelledState(State):
        def __init__(self, *args: Any, label: str = "", **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.label = label

    base_nodes = cast("dict[str, Any]", GraphMachine.style_attributes["node"])
    node_styles: dict[str, Any] = {**base_nodes, **_STYLES}

    class Machine(GraphMachine):
        state_cls = LabelledState
        # transitions declares it a plain attribute, so it cannot become a ClassVar here
        style_attributes = {**GraphMachine.style_attributes, "node": node_styles}  # noqa: RUF012

    def label(text: str) -> str:
        # Mermaid's `state "..." as id` ends at the first double quote: write it as an entity.
        return text.replace('"', "#quot;") if quote else text

    machine = Machine(
        model=_Model(),
        states=[{"name": s.name, "label": label(s.label)} for s in funnel.stages],
        transitions=[
            {"trigger": event, "source": stage.name, "dest": funnel.target(stage.name, event)}
            for stage in funnel.stages
            for event in funnel.events_from(stage.name)
        ],
        initial=funnel.initial,
        auto_transitions=False,
        graph_engine=engine,
        title=funnel.name,
        show_state_attributes=False,
    )
    graph = next(iter(machine.model_graphs.values()))
    graph.reset_styling()
    for stage in funnel.stages:
        if stage.outcome in ("won", "lost"):
            graph.set_node_style(stage.name, stage.outcome)
    graph.set_node_style(funnel.initial, "initial")
    return graph


def mermaid(funnel: Funnel) -> str:
    """Mermaid ``stateDiagram-v2`` source: labels, won/lost styled, the initial stage marked.

    ``transitions`` writes the title as bare front matter and ``Class`` in capitals (Mermaid's
    lexer is case-insensitive, but the documented keyword is ``class``); both are normalised
    here so the text is the documented syntax.
    """
    graph = _machine(funnel, "mermaid", quote=True)
    lines = str(graph.get_graph().draw(None)).replace("\\l", "").splitlines()
    out: list[str] = []
    for number, line in enumerate(lines):
        if number == 1 and lines[0] == "---":
            out.append(f"title: {json.dumps(funnel.name)}")  # a JSON string is valid YAML
        elif line.lstrip().startswith("Class "):
            out.append(line.replace("Class ", "class ", 1))
        else:
            out.append(line.rstrip())
    if f"[*] --> {funnel.initial}" not in (line.strip() for line in lines):
        out.append(f"  [*] --> {funnel.initial}")
    return "\n".join(out) + "\n"


def dot(funnel: Funnel) -> str:
    """Graphviz DOT source; needs the small pure-Python ``graphviz`` package (no binary)."""
    try:
        import graphviz  # noqa: F401, PLC0415 - only to fail early with a clear message
    except ImportError:
        raise MissingExtra(
            f"to_dot() needs the 'graphviz' package: {_EXTRA} (to_mermaid() needs nothing more)"
        ) from None
    graph = _machine(funnel, "graphviz", quote=False).get_graph()
    source = getattr(graph, "source", None)
    if not isinstance(source, str) or not source.lstrip().startswith("digraph"):
        # transitions fell back to Mermaid: never pass that off as DOT.
        raise MissingExtra(f"transitions could not load its graphviz backend; {_EXTRA}")
    return source
