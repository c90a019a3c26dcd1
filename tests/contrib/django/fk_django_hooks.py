"""Hooks the integration tests name by dotted path in settings.FUNNELKIT["HOOKS"]."""

SEEN: list[tuple[str, str]] = []


class Audit:
    """Records every committed move (an after-hook)."""

    def after_transition(self, *, lead, transition, key):
        SEEN.append((lead.id, transition.event))
