"""Policies and scoring: the rule compiler, ready policies, combinators, scoring models."""
