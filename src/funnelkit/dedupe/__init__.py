"""Duplicate leads: find the pairs that may be one person, say why, and say how to merge them.

A :class:`Matcher` composes matching rules (:func:`same_email`, :func:`similar_name`,
:func:`same_phone`, or the host's own :class:`Rule`), finds candidate pairs among the leads of a
store or a list without comparing every pair with every other (each rule gives blocking keys,
and only leads sharing one are compared), and explains any pair.  :class:`MergePolicy` says how
``Pipeline.merge`` combines two leads' attributes; a merged lead is in the stage
:data:`MERGED_STAGE`, moved there by :data:`MERGE_EVENT` (:data:`UNMERGE_EVENT` undoes it).
Standard library only, except the phone rule, which needs ``phonenumbers``
(``pip install 'funnelkit[dedupe]'``).

>>> from datetime import datetime, timezone
>>> from funnelkit import Lead
>>> from funnelkit.dedupe import Matcher
>>> at = datetime(2026, 3, 2, tzinfo=timezone.utc)
>>> leads = [Lead("L1", "lead", created_at=at, attributes={"email": "Jo.Doe@gmail.com"}),
...          Lead("L2", "lead", created_at=at, attributes={"email": "jodoe+demo@gmail.com"})]
>>> [(c.a, c.b, c.score) for c in Matcher().candidates(leads)]
[('L1', 'L2', 1.0)]
"""

from __future__ import annotations

from funnelkit._core.reserved import MERGE_EVENT, MERGED_STAGE, UNMERGE_EVENT
from funnelkit.dedupe._matcher import CandidateIterator, Matcher
from funnelkit.dedupe._merge_policy import MergePolicy
from funnelkit.dedupe._normalise import (
    DOT_BLIND_PROVIDERS,
    FREE_MAIL_DOMAINS,
    PLUS_TAG_PROVIDERS,
    company_from_domain,
    normalize_company,
    normalize_email,
    normalize_name,
    normalize_phone,
)
from funnelkit.dedupe._rules import (
    SameEmail,
    SamePhone,
    SimilarName,
    default_rules,
    name_differences,
    same_email,
    same_phone,
    similar_name,
    typos,
)
from funnelkit.dedupe._typing import Rule
from funnelkit.dedupe._values import Candidate, Evidence, combine

__all__ = [
    "DOT_BLIND_PROVIDERS",
    "FREE_MAIL_DOMAINS",
    "MERGED_STAGE",
    "MERGE_EVENT",
    "PLUS_TAG_PROVIDERS",
    "UNMERGE_EVENT",
    "Candidate",
    "CandidateIterator",
    "Evidence",
    "Matcher",
    "MergePolicy",
    "Rule",
    "SameEmail",
    "SamePhone",
    "SimilarName",
    "combine",
    "company_from_domain",
    "default_rules",
    "name_differences",
    "normalize_company",
    "normalize_email",
    "normalize_name",
    "normalize_phone",
    "same_email",
    "same_phone",
    "similar_name",
    "typos",
]
