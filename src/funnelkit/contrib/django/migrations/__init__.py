"""The migrations of funnelkit's tables (one per schema version the Django app has known)."""
