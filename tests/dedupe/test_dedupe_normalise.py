"""Normalisation: emails, names, companies and phone numbers, worked by hand and as properties."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest
from _dedupe_support import needs_phonenumbers
from hypothesis import given
from hypothesis import strategies as st

import funnelkit.dedupe
from funnelkit import InvalidInput, MissingExtra
from funnelkit.dedupe import (
    DOT_BLIND_PROVIDERS,
    FREE_MAIL_DOMAINS,
    PLUS_TAG_PROVIDERS,
    _normalise,
    company_from_domain,
    normalize_company,
    normalize_email,
    normalize_name,
    normalize_phone,
)

# -- emails ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(("written", "expected"), [
    ("Jane.Doe@Acme.COM", "jane.doe@acme.com"),
    ("  jane@acme.com \n", "jane@acme.com"),
    ("jane.doe+q3@acme.com", "jane.doe+q3@acme.com"),  # a company domain keeps dots and tags
    ("J.O.Doe@gmail.com", "jodoe@gmail.com"),
    ("jodoe+webinar@gmail.com", "jodoe@gmail.com"),
    ("j.o.doe+a+b@googlemail.com", "jodoe@gmail.com"),
    ("jo.doe+news@outlook.com", "jo.doe@outlook.com"),  # Outlook drops tags, keeps dots
    ("jo.doe-news@yahoo.com", "jo.doe-news@yahoo.com"),  # Yahoo's "-" is another mailbox
    ("jo@gmail.com.", "jo@gmail.com"),
    ('"odd@local"@acme.com', '"odd@local"@acme.com'),  # the last @ separates the domain
], ids=lambda v: v if isinstance(v, str) else None)
def test_normalize_email(written: str, expected: str) -> None:
    """Case always; dots and +tags only at the providers documented to ignore them."""
    assert normalize_email(written) == expected


@pytest.mark.parametrize("written", ["", "jane", "@acme.com", "jane@", "+tag@gmail.com", "...@gmail.com"])
def test_normalize_email_answers_none_for_no_address(written: str) -> None:
    """Text that is no address, or nothing left once tags and dots go, gives None."""
    assert normalize_email(written) is None


def test_normalize_email_options() -> None:
    """Empty provider lists mean case only; a host can list its own domain."""
    assert normalize_email("J.Doe+x@GMAIL.com", dots=(), plus_tags=()) == "j.doe+x@gmail.com"
    assert normalize_email("j.doe+x@acme.com", plus_tags={"acme.com"}) == "j.doe@acme.com"
    assert normalize_email("a.b@googlemail.com", dots={"googlemail.com"}) == "ab@googlemail.com"


def test_provider_lists() -> None:
    """The documented lists: Gmail alone ignores dots; every dot-blind provider drops tags."""
    assert frozenset({"gmail.com", "googlemail.com"}) == DOT_BLIND_PROVIDERS
    assert DOT_BLIND_PROVIDERS <= PLUS_TAG_PROVIDERS <= FREE_MAIL_DOMAINS
    assert "yahoo.com" not in PLUS_TAG_PROVIDERS
    assert "yahoo.com" in FREE_MAIL_DOMAINS


@given(st.text(max_size=40), st.sampled_from([(DOT_BLIND_PROVIDERS, PLUS_TAG_PROVIDERS), ((), ()),
                                               ({"a.com"}, {"a.com", "b.com"})]))
def test_normalize_email_is_idempotent(text: str, options: tuple[object, object]) -> None:
    """Normalising a normalised address changes nothing, whatever the options."""
    dots, plus_tags = options
    once = normalize_email(text, dots=dots, plus_tags=plus_tags)  # type: ignore[arg-type]
    if once is not None:
        assert normalize_email(once, dots=dots, plus_tags=plus_tags) == once  # type: ignore[arg-type]


@given(st.from_regex(r"[A-Za-z0-9.+]{1,12}@(gmail|GMAIL|googlemail|acme)\.com", fullmatch=True))
def test_normalize_email_ignores_case(address: str) -> None:
    """Upper and lower case give one address."""
    assert normalize_email(address.upper()) == normalize_email(address.lower())


# -- names and companies -------------------------------------------------------------------------


@pytest.mark.parametrize(("written", "expected"), [
    ("Jane Doe", "jane doe"),
    ("  ZOË   O'Brien-Smith ", "zoe o brien smith"),
    ("Müller, Jürgen", "muller jurgen"),
    ("Ｊａｎｅ", "jane"),  # full-width letters are their compatibility form
    ("Straße", "strasse"),
    ("李 小龍", "李 小龍"),  # letters of any script are kept
])
def test_normalize_name(written: str, expected: str) -> None:
    """Case folded, accents and compatibility forms gone, punctuation separates words."""
    assert normalize_name(written) == expected


@given(st.text(max_size=30))
def test_normalize_name_is_idempotent(text: str) -> None:
    """A normalised name normalises to itself."""
    once = normalize_name(text)
    if once is not None:
        assert normalize_name(once) == once
        assert once == once.strip()
        assert "  " not in once


@pytest.mark.parametrize(("written", "expected"), [
    ("Acme", "acme"), ("ACME Inc.", "acme"), ("Acme Labs, Inc.", "acmelabs"),
    ("Acme GmbH & Co. KG", "acme"), ("acme.com", "acme"), ("www.acme.co.uk", "acme"),
    ("https://www.acme-labs.com/about?x=1", "acmelabs"), ("Inc.", "inc"), ("Co. Ltd", "coltd"),
    ("", None), ("--", None),
    ("Société Générale SA", "societegenerale"),
])
def test_normalize_company(written: str, expected: str | None) -> None:
    """A name loses its legal form and spaces; a domain or URL gives its company label."""
    assert normalize_company(written) == expected


@pytest.mark.parametrize(("domain", "expected"), [
    ("acme.com", "acme"), ("eu.mail.acme.com", "acme"), ("acme.co.uk", "acme"),
    ("acme.com.au", "acme"), ("co.uk", "co"), ("localhost", None), ("acme-labs.io", "acmelabs"),
    ("ACME.COM.", "acme"),
])
def test_company_from_domain(domain: str, expected: str | None) -> None:
    """The label before the public suffix, without hyphens (a small rule, not the PSL)."""
    assert company_from_domain(domain) == expected


@given(st.text(max_size=30))
def test_normalize_company_is_idempotent_on_names(text: str) -> None:
    """A company key, read again as a company name, is itself."""
    once = normalize_company(text)
    if once is not None:
        assert normalize_company(once) == once


# -- phones ---------------------------------------------------------------------------------------


@needs_phonenumbers
@pytest.mark.parametrize(("written", "region", "expected"), [
    ("+1 (415) 555-0123", None, "+14155550123"),
    ("+1.415.555.0123", None, "+14155550123"),
    ("+14155550123", None, "+14155550123"),
    ("+44 (0)20 7946 0958", None, "+442079460958"),
    ("020 7946 0958", "GB", "+442079460958"),
    ("020 7946 0958", "gb", "+442079460958"),
    ("0044 20 7946 0958", "GB", "+442079460958"),
    ("(415) 555-0123", "US", "+14155550123"),
    ("+1 415 555 0100 ext. 12", None, "+14155550100;ext=12"),
    ("020 7946 0958", None, None),
    ("+1 555", None, None),
    ("call me", None, None),
])
def test_normalize_phone(written: str, region: str | None, expected: str | None) -> None:
    """E.164 from any written form; national forms need a region; extensions are kept."""
    assert normalize_phone(written, region=region) == expected


@needs_phonenumbers
@given(st.sampled_from(["1", "44", "49", "33", "39", "7", "86"]),
       st.text("0123456789", min_size=4, max_size=14),
       st.sampled_from(["{c} {n}", "+{c} {n}", "+{c}{n}", "+{c}-{n}", "+{c} ({h}) {t}", "0{n}",
                        "00{c} {n}", "+{c} {n} x{h}"]),
       st.sampled_from([None, "US", "GB", "DE", "IT", "FR"]))
def test_normalize_phone_is_idempotent(code: str, digits: str, form: str,
                                       region: str | None) -> None:
    """A number read once reads back as itself, with no region needed."""
    once = normalize_phone(form.format(c=code, n=digits, h=digits[:3], t=digits[3:]),
                           region=region)
    if once is not None:
        assert once.startswith("+")
        assert normalize_phone(once) == once


@needs_phonenumbers
@pytest.mark.parametrize("region", ["USA", "U", "", "1A", 44])
def test_normalize_phone_refuses_bad_region(region: object) -> None:
    """The region is a two-letter country code; the message says so."""
    with pytest.raises(InvalidInput, match="two-letter country code"):
        normalize_phone("+1 415 555 0123", region=region)  # type: ignore[arg-type]


@pytest.mark.parametrize("function", [normalize_email, normalize_name, normalize_company,
                                      normalize_phone])
@pytest.mark.parametrize("value", [None, 42, b"jane@acme.com", ["x"]])
def test_normalisers_refuse_what_is_not_text(function: object, value: object) -> None:
    """Every public normaliser checks its argument first and says what to pass."""
    with pytest.raises(InvalidInput, match="is not a string; pass the text"):
        function(value)  # type: ignore[operator]


def test_normalize_phone_without_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without phonenumbers, reading a phone raises MissingExtra naming funnelkit[dedupe]."""
    monkeypatch.setitem(sys.modules, "phonenumbers", None)  # makes `import phonenumbers` fail
    monkeypatch.setattr(_normalise, "_PHONENUMBERS", None)
    with pytest.raises(MissingExtra, match=r"pip install 'funnelkit\[dedupe\]'"):
        normalize_phone("+1 415 555 0123")
    assert normalize_email("a@b.com") == "a@b.com"  # the rest needs nothing more


@pytest.mark.parametrize("name", ["DOT_BLIND_PROVIDERS", "PLUS_TAG_PROVIDERS", "FREE_MAIL_DOMAINS"])
def test_the_documented_lists_are_the_lists(name: str) -> None:
    """docs/dedupe.md lists each provider list's domains, all of them and no others."""
    page = (Path(__file__).resolve().parents[2] / "docs" / "dedupe.md").read_text(encoding="utf-8")
    block = page.split(f".. data:: funnelkit.dedupe.{name}\n", 1)[1].split("\n\n.. ", 1)[0]
    listed = {d for d in re.findall(r"``([^`]+)``", block) if "." in d and "@" not in d}
    assert listed == getattr(funnelkit.dedupe, name)
