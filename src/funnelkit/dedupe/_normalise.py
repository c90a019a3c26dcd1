"""Normalisation of what the matching rules read: emails, names, companies and phone numbers.

Standard library only, except :func:`normalize_phone`, which loads ``phonenumbers`` (the
``funnelkit[dedupe]`` extra) on first use.  Every function answers None for a value it cannot
use, so a lead with a missing or malformed attribute simply gives its rule nothing to compare.
"""

from __future__ import annotations

import importlib
import re
import unicodedata
from typing import TYPE_CHECKING, Any, Final

from funnelkit._core.errors import InvalidInput, MissingExtra

if TYPE_CHECKING:
    from collections.abc import Collection

__all__ = [
    "DOT_BLIND_PROVIDERS",
    "FREE_MAIL_DOMAINS",
    "PLUS_TAG_PROVIDERS",
    "check_region",
    "company_from_domain",
    "e164",
    "normalize_company",
    "normalize_email",
    "normalize_name",
    "normalize_phone",
    "phonenumbers_module",
]

DOT_BLIND_PROVIDERS: Final[frozenset[str]] = frozenset({"gmail.com", "googlemail.com"})
"""Mail domains whose providers ignore dots in the part before ``@``: Gmail's two domains.

``j.o.doe@gmail.com`` and ``jodoe@gmail.com`` reach one mailbox.  Google Workspace domains and
every other provider treat dots as part of the address, so they are not listed.
"""

PLUS_TAG_PROVIDERS: Final[frozenset[str]] = frozenset({
    "gmail.com", "googlemail.com",                            # Google
    "outlook.com", "hotmail.com", "live.com", "msn.com",      # Microsoft
    "icloud.com", "me.com", "mac.com",                        # Apple
    "protonmail.com", "protonmail.ch", "proton.me", "pm.me",  # Proton
    "fastmail.com", "fastmail.fm",                            # Fastmail
    "yandex.ru", "yandex.com",                                # Yandex
})
"""Mail domains whose providers deliver ``name+tag@domain`` to ``name@domain``.

Yahoo is not listed: its disposable addresses use ``-`` and are separate mailboxes.  Company
domains often accept ``+tags`` too, but nothing outside the mail server says so: add yours.
"""

FREE_MAIL_DOMAINS: Final[frozenset[str]] = frozenset({
    "gmail.com", "googlemail.com", "yahoo.com", "yahoo.co.uk", "yahoo.fr", "yahoo.de",
    "ymail.com", "rocketmail.com", "outlook.com", "hotmail.com", "hotmail.co.uk", "hotmail.fr",
    "live.com", "msn.com", "aol.com", "icloud.com", "me.com", "mac.com", "protonmail.com",
    "protonmail.ch", "proton.me", "pm.me", "fastmail.com", "fastmail.fm", "gmx.com", "gmx.de",
    "gmx.net", "web.de", "t-online.de", "mail.com", "mail.ru", "yandex.ru", "yandex.com",
    "zoho.com", "qq.com", "163.com", "126.com", "naver.com", "hanmail.net", "rediffmail.com",
    "libero.it", "orange.fr", "free.fr", "laposte.net", "wanadoo.fr", "comcast.net", "att.net",
    "verizon.net", "btinternet.com", "sky.com", "seznam.cz", "wp.pl", "o2.pl", "interia.pl",
    "bol.com.br", "uol.com.br", "terra.com.br",
})
"""Personal mail domains: an address there says nothing about the person's company."""

# Words that name a company's legal form rather than the company ("Acme Inc." is "acme").
_LEGAL_FORMS: Final = frozenset({
    "inc", "incorporated", "llc", "llp", "lp", "ltd", "limited", "corp", "corporation", "co",
    "company", "plc", "gmbh", "ag", "kg", "sa", "sas", "sarl", "srl", "spa", "bv", "nv", "ab",
    "as", "asa", "oy", "oyj", "aps", "kk", "pty", "pte", "sl", "sro", "group", "holding",
    "holdings",
})
# Second-level labels under country domains (acme.co.uk): the company is the label before them.
_SECOND_LEVEL: Final = frozenset({"co", "com", "org", "net", "ac", "gov", "edu", "ltd", "plc",
                                  "ne", "or", "gv"})
_NON_WORD = re.compile(r"[\W_]+")
_DOMAIN = re.compile(
    r"^(?:[a-z][a-z0-9+.-]*://)?(?:www\.)?((?:[a-z0-9-]+\.)+[a-z][a-z0-9-]*)\.?(?::\d+)?(?:[/?#].*)?$"
)


def _fold_once(text: str) -> str:
    text = unicodedata.normalize("NFKD", unicodedata.normalize("NFKD", text).casefold())
    return "".join(c for c in text if not unicodedata.combining(c))


def _fold(text: str) -> str:
    """Case-folded, compatibility-decomposed, accent-free text, stable under a second fold."""
    folded = _fold_once(text)
    for _ in range(3):  # one round is almost always stable; a few rare characters need another
        again = _fold_once(folded)
        if again == folded:
            break
        folded = again
    return folded


def _words(text: str) -> list[str]:
    return _NON_WORD.sub(" ", _fold(text)).split()


def _require_str(value: object, what: str, example: str) -> str:
    if not isinstance(value, str):
        raise InvalidInput(
            f"{what}={value!r} is not a string; pass the text, for example {example}")
    return value


def normalize_email(
    address: str,
    *,
    dots: Collection[str] = DOT_BLIND_PROVIDERS,
    plus_tags: Collection[str] = PLUS_TAG_PROVIDERS,
) -> str | None:
    """The address as its mailbox: lower case, and for listed providers no dots or ``+tag``.

    Surrounding spaces go and the whole address is lower-cased (mail providers do not tell
    ``John@`` from ``john@``).  For a domain in *dots* the dots before ``@`` are dropped; for a
    domain in *plus_tags* everything from the first ``+`` before ``@`` is dropped.  When both
    ``gmail.com`` and ``googlemail.com`` are in *dots* (the default), Gmail's second domain is
    written ``gmail.com``.  Pass empty collections for case only.  Answers None for text that is
    not an address (no ``@``, nothing before or after it).

    >>> normalize_email(" J.O.Doe+webinar@GoogleMail.com")
    'jodoe@gmail.com'
    >>> normalize_email("J.O.Doe+webinar@GoogleMail.com", dots=(), plus_tags=())
    'j.o.doe+webinar@googlemail.com'
    >>> normalize_email("jane.doe+q3@acme.com"), normalize_email("not an address")
    ('jane.doe+q3@acme.com', None)
    """
    text = _require_str(address, "address", "'jane@acme.com'").strip().lower()
    local, at, domain = text.rpartition("@")
    domain = domain.rstrip(".")
    if not at or not local or not domain:
        return None
    if domain == "googlemail.com" and "googlemail.com" in dots and "gmail.com" in dots:
        domain = "gmail.com"
    if domain in plus_tags:
        local = local.partition("+")[0]
    if domain in dots:
        local = local.replace(".", "")
    if not local:
        return None
    return f"{local}@{domain}"


def normalize_name(name: str) -> str | None:
    """A person's name as lower-case words without accents or punctuation, in their order.

    Case is folded, accents and compatibility forms are decomposed away, and anything that is
    not a letter or digit separates words.  Answers None when no word is left.

    >>> normalize_name("  Zoë  O'Brien-Smith ")
    'zoe o brien smith'
    >>> normalize_name("---") is None
    True
    """
    words = _words(_require_str(name, "name", "'Jane Doe'"))
    return " ".join(words) if words else None


def company_from_domain(domain: str) -> str | None:
    """The company a web or mail domain stands for: the label before its public suffix.

    A small rule, not the Public Suffix List: the last label is dropped, then a generic second
    level under a two-letter country (``co``, ``com``, ``org``...), and the label left is the
    company, without hyphens.

    >>> company_from_domain("mail.acme-labs.co.uk"), company_from_domain("globex.com")
    ('acmelabs', 'globex')
    """
    labels = [label for label in domain.lower().strip(".").split(".") if label]
    if len(labels) < 2:
        return None
    top = labels.pop()
    if len(top) == 2 and len(labels) >= 2 and labels[-1] in _SECOND_LEVEL:
        labels.pop()
    key = "".join(_words(labels[-1]))
    return key or None


def normalize_company(company: str) -> str | None:
    """The company a name, a domain or a web address stands for, as one folded word.

    A domain or URL gives :func:`company_from_domain`; a name is folded like
    :func:`normalize_name` and loses its spaces and its legal form (Inc, Ltd, GmbH, SA...),
    unless it has no other word.  Answers None when no word is left.

    >>> normalize_company("Acme Labs, Inc."), normalize_company("https://www.acme-labs.com/about")
    ('acmelabs', 'acmelabs')
    """
    text = _require_str(company, "company", "'Acme Inc'").strip()
    match = _DOMAIN.match(text.lower())
    if match:
        return company_from_domain(match[1])
    words = _words(text)
    named = [w for w in words if w not in _LEGAL_FORMS] or words  # "Co Ltd" keeps its words
    return "".join(named) or None


_PHONENUMBERS: Any = None


def phonenumbers_module(user: str) -> Any:
    """The ``phonenumbers`` module, imported on first use; :class:`MissingExtra` without it."""
    global _PHONENUMBERS  # noqa: PLW0603 - the module, loaded once
    if _PHONENUMBERS is None:
        try:
            _PHONENUMBERS = importlib.import_module("phonenumbers")
        except ImportError:
            raise MissingExtra(
                f"{user} needs the 'phonenumbers' package to read phone numbers: "
                f"pip install 'funnelkit[dedupe]'"
            ) from None
    return _PHONENUMBERS


def normalize_phone(number: str, *, region: str | None = None) -> str | None:
    """The number in E.164 (``+14155550123``), read by ``phonenumbers`` (``funnelkit[dedupe]``).

    *region* is the two-letter country (``"US"``, ``"GB"``) whose national and international
    dialling formats are understood (``020 7946 0958``, ``0044 20 7946 0958`` for ``"GB"``); with
    None only numbers written with ``+`` and their country code are read.  An extension is kept
    in the RFC 3966 form (``+14155550100;ext=12``): a switchboard's extensions are different
    people.  Answers None for text that is not a possible phone number.  Raises
    :class:`~funnelkit.MissingExtra` when ``phonenumbers`` is not installed.

    >>> normalize_phone("+1 (415) 555-0123"), normalize_phone("020 7946 0958", region="GB")
    ('+14155550123', '+442079460958')
    >>> normalize_phone("020 7946 0958") is None, normalize_phone("+1 415 555 0100 x12")
    (True, '+14155550100;ext=12')
    """
    text = _require_str(number, "number", "'+1 415 555 0123'")
    country = check_region(region, "normalize_phone")
    return e164(phonenumbers_module("normalize_phone"), text, country)


def check_region(region: object, user: str) -> str | None:
    """*region* as an upper-case two-letter country code, or None; InvalidInput otherwise."""
    if region is None:
        return None
    if not isinstance(region, str) or len(region) != 2 or not region.isascii() \
            or not region.isalpha():
        raise InvalidInput(
            f"{user} region={region!r} must be a two-letter country code such as 'US' or 'GB', "
            f"or None to read only numbers written with their country code")
    return region.upper()


def e164(phonenumbers: Any, text: str, region: str | None) -> str | None:
    """*text* in E.164 with its extension, or None; *region* is upper case or None."""
    try:
        parsed = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(parsed):
        return None
    number: str = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
    if parsed.italian_leading_zero:
        # A leading zero is part of the number in Italy, but a trunk prefix elsewhere: there,
        # "+44 0..." would read back shorter, so it is no stable key (and no real number).
        again = phonenumbers.parse(number, None)
        if phonenumbers.format_number(again, phonenumbers.PhoneNumberFormat.E164) != number:
            return None
    return f"{number};ext={parsed.extension}" if parsed.extension else number
