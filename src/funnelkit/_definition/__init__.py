"""The funnel definition and the pure move (``Funnel.fire``), loading and diagrams."""
