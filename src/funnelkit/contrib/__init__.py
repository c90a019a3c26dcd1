"""Integrations with host frameworks, each behind an extra of its own.

``funnelkit.contrib.django`` (extra ``funnelkit[django]``) is the Django app.  Nothing here is
imported by ``import funnelkit``: a framework is loaded only when its integration is imported.
"""

__all__: list[str] = []
