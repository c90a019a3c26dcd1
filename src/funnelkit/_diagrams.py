"""Funnel diagrams, drawn by ``transitions`` once per funnel (never per lead)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from funnelkit._errors import MissingExtra

if TYPE_CHECKING:
    from funnelkit._funnel import Funnel

__all__ = ["dot", "mermaid"]

# Fill colours of the stage kinds; the initial stage gets a double border.
_STYLES: dict[str, dict[str, str]] = {
    "won": {"fillcolor": "#c8e6c9", "color": "#2e7d32", "style": "rounded,filled"},
    "lost": {"fillcolor": "#ffcdd2", "color": "#c62828", "style": "rounded,filled"},
    "initial": {"peripheries": "2", "color": "#1565c0", "style": "rounded,filled"},
}


class _Model:
    """The one model the drawing machine needs; it never moves."""


def _machine(funnel: Funnel, engine: str) -> Any:
    from transitions import State  # noqa: PLC0415 - transitions is only needed to draw
    from transitions.extensions.diagrams import GraphMachine  # noqa: PLC0415

    class LabelledState(State):  # type: ignore[misc]
        def __init__(self, *args: Any, label: str = "", **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.label = label

    class Machine(GraphMachine):  # type: ignore[misc]
        state_cls = LabelledState
        style_attributes = {
            **GraphMachine.style_attributes,
            "node": {**GraphMachine.style_attributes["node"], **_STYLES},
        }

    machine = Machine(
        model=_Model(),
        states=[{"name": s.name, "label": s.label} for s in funnel.stages],
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
    return machine


def mermaid(funnel: Funnel) -> str:
    """Mermaid ``stateDiagram-v2`` source: labels, won/lost styled, the initial stage marked."""
    machine = _machine(funnel, "mermaid")
    source = str(next(iter(machine.model_graphs.values())).get_graph().draw(None))
    return source.replace("\\l", "")


def dot(funnel: Funnel) -> str:
    """Graphviz DOT source; needs the small pure-Python ``graphviz`` package (no binary)."""
    try:
        import graphviz  # noqa: F401, PLC0415 - only to fail early with a clear message
    except ImportError:
        raise MissingExtra(
            "to_dot() needs the 'graphviz' package: pip install 'funnelkit[diagrams]' "
            "(to_mermaid() needs nothing more)"
        ) from None
    machine = _machine(funnel, "graphviz")
    graph = next(iter(machine.model_graphs.values())).get_graph()
    if not hasattr(graph, "source"):  # transitions fell back to Mermaid: never pass that off as DOT
        raise MissingExtra("transitions could not load its graphviz backend; pip install 'funnelkit[diagrams]'")
    return str(graph.source)
