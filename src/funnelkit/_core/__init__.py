"""The vocabulary every layer shares: errors, limits, time, and the value records."""
