"""Benchmark: candidate duplicates among N synthetic leads with planted duplicates.

Workload (seeded): N leads (default 1,000,000), of which a share (default 2%) are planted
duplicates of other leads, one duplicate per original, so there are N x share planted pairs.

- **People**: a first name (about 200 common English ones) and a surname: half the people one
  of about 1,000 common US surnames (the more common, the likelier: weight 1/(rank + 10)), half
  one of 50,000 made-up ones of two or three syllables (the long tail); the full name is unique
  per company; a company drawn from about 200,000 whose sizes follow
  a Pareto law (alpha 1.2, capped at 3,000 leads: a few large accounts, a long tail of small
  ones), each with one address convention (``first.last``, ``flast``, ``firstl`` or ``first``)
  and a domain made from its name.  60% give a work address, 40% a personal one (Gmail,
  Yahoo, Outlook, Hotmail, iCloud, AOL); 60% give their company's name (with or without a legal
  form) and 75% a phone number (US, UK, German or French) written in one of several
  international formats.  Addresses and numbers are unique among the originals.
- **Duplicates**, each of a different original, of five kinds:

  ========================  =====  ==============================================================
  kind                      share  what differs from the original
  ========================  =====  ==============================================================
  email case                30%    the address in other case; the name in other case; the phone
                                   in another format or left out
  gmail dots / +tag         15%    a Gmail address with dots moved and/or a ``+tag``
  colleague's import        30%    another address on the company's domain (another convention);
                                   a typo in the name (60%) or "Last, First"; the phone in another
                                   format or left out
  personal vs work          15%    a personal address instead of the work one; the company's name
                                   or web address given; a typo in the name (30%)
  phone only                10%    another personal address, the name as "J. Smith" or a first name
                                   only, no company; the phone in another format
  ========================  =====  ==============================================================

The matcher's default rules (``Matcher()``: same email, similar name at one company, same
phone) find candidates; ``--no-phone`` leaves the phone rule out, and ``--difflib`` replaces the
name rule's typo count by difflib's ratio on the whole name (``>= 0.85``, same companies, same
blocking keys), the measure it was chosen against.  Printed: recall and precision
of the planted pairs (goal >= 0.98 each), recall per kind, the time to read and block the leads
and to compare the pairs, the pairs compared against n(n-1)/2, and the largest block.

Run: ``.venv/bin/python benchmarks/bench_dedupe.py [--leads N] [--share S] [--no-phone]
[--difflib]``
(the default takes about two minutes, making the leads included; ``--leads 100000`` about ten
seconds).
"""

from __future__ import annotations

import argparse
import gc
import random
import resource
import string
import time
from collections import Counter
from datetime import UTC, datetime
from difflib import SequenceMatcher
from itertools import accumulate

from funnelkit import Lead
from funnelkit.dedupe import (
    FREE_MAIL_DOMAINS,
    Evidence,
    Matcher,
    same_email,
    same_phone,
    similar_name,
)

AT = datetime(2026, 3, 2, tzinfo=UTC)


def words(text: str) -> list[str]:
    return text.split()


FIRST = words("""james mary john patricia robert jennifer michael linda william elizabeth david barbara
richard susan joseph jessica thomas sarah charles karen christopher lisa daniel nancy matthew betty
anthony margaret mark sandra donald ashley steven kimberly paul emily andrew donna joshua michelle
kenneth carol kevin amanda brian dorothy george melissa timothy deborah ronald stephanie edward
rebecca jason sharon jeffrey laura ryan cynthia jacob kathleen gary amy nicholas angela eric
shirley jonathan anna stephen brenda larry pamela justin emma scott nicole brandon helen benjamin
samantha samuel katherine gregory christine alexander debra frank rachel patrick carolyn raymond
janet jack catherine dennis maria jerry heather tyler diane aaron ruth jose julie adam olivia
nathan joyce henry virginia douglas victoria zachary kelly peter lauren kyle christina ethan joan
walter evelyn noah judith jeremy megan christian andrea keith cheryl roger hannah terry jacqueline
gerald martha harold gloria sean teresa austin ann carl sara arthur madison lawrence frances
dylan kathryn jesse janice jordan jean bryan abigail billy alice joe judy bruce sophia gabriel
grace logan denise albert amber willie doris alan marilyn juan danielle wayne beverly elijah
isabella randy theresa roy diana vincent natalie ralph brittany eugene charlotte russell marie
bobby kayla mason alexis philip lori louis""")

SURNAMES = words("""smith johnson williams brown jones garcia miller davis rodriguez martinez hernandez
lopez gonzalez wilson anderson thomas taylor moore jackson martin lee perez thompson white harris
sanchez clark ramirez lewis robinson walker young allen king wright scott torres nguyen hill
flores green adams nelson baker hall rivera campbell mitchell carter roberts gomez phillips evans
turner diaz parker cruz edwards collins reyes stewart morris morales murphy cook rogers gutierrez
ortiz morgan cooper peterson bailey reed kelly howard ramos kim cox ward richardson watson brooks
chavez wood james bennett gray mendoza ruiz hughes price alvarez castillo sanders patel myers long
ross foster jimenez powell jenkins perry russell sullivan bell coleman butler henderson barnes
gonzales fisher vasquez simmons romero jordan patterson alexander hamilton graham reynolds griffin
wallace moreno west cole hayes bryant herrera gibson ellis tran medina aguilar stevens murray ford
castro marshall owens harrison fernandez mcdonald woods washington kennedy wells vargas henry chen
freeman webb tucker guzman burns crawford olson simpson porter hunter gordon mendez silva shaw
snyder mason dixon munoz hunt hicks holmes palmer wagner black robertson boyd rose stone salazar
fox warren mills meyer rice schmidt garza daniels ferguson nichols stephens soto weaver ryan
gardner payne grant dunn kelley spencer hawkins arnold pierce vazquez hansen peters santos hart
bradley knight elliott cunningham duncan armstrong hudson carroll lane riley andrews alvarado ray
delgado berry perkins hoffman johnston matthews pena richards contreras willis carpenter lawrence
sandoval guerrero george chapman rios estrada ortega watkins greene nunez wheeler valdez harper
burke larson santiago maldonado morrison franklin carlson austin dominguez carr lawson jacobs
obrien lynch singh vega bishop montgomery oliver jensen harvey williamson gilbert dean sims
espinoza howell li wong reid hanson le mccoy garrett burton fuller wang weber welch rojas lucas
marquez fields park yang little banks padilla day walsh bowman schultz luna fowler mejia davidson
acosta brewer may holland juarez newman pearson curtis cortez douglas schneider joseph barrett
navarro figueroa keller avila wade molina stanley hopkins campos barnett bates chambers caldwell
beck lambert miranda byrd craig ayala lowe frazier powers neal leonard gregory carrillo sutton
fleming rhodes shelton schwartz norris jennings watts duran walters cohen mcdaniel moran parks
steele vaughn becker holt deleon barker terry hale leon hail benson haynes horton miles lyons
pham graves bush thornton wolfe warner cabrera mckinney mann zimmerman dawson lara fletcher page
mccarthy love robles cervantes solis erickson reeves chang klein salinas fuentes baldwin daniel
simon velasquez hardy higgins aguirre lin cummings chandler sharp barber bowen ochoa dennis robbins
liu ramsey francis griffith paul blair oconnor cardenas pacheco cross calderon quinn moss swanson
chan rivas khan rodgers serrano fitzgerald rosales stevenson christensen manning gill curry mclaughlin
harmon mcgee gross doyle garner newton burgess reese walton blake trujillo adkins brady goodman
roman webster goodwin fischer huang potter delacruz montoya todd wu hines mullins castaneda malone
cannon tate mack sherman hubbard hodges zhang guerra wolf valencia saunders franco rowe gallagher
farmer hammond hampton townsend ingram wise gallegos clarke barton schroeder maxwell waters logan
camacho strickland norman person colon parsons frank harrington glover osborne buchanan casey floyd
patton ibarra ball tyler suarez bowers orozco salas cobb gibbs andrade bauer conner moody escobar
mcguire lloyd mueller hartman french kramer mcbride pope lindsey velazquez norton mccormick sparks
flynn yates hogan marsh macias villanueva zamora pratt stokes owen ballard lang brock villarreal
charles drake barrera cain patrick pineda burnett mercado santana shepherd bautista ali shaffer
lamb trevino mckenzie hess beil olsen cochran morton nash wilkins petersen briggs shah roth nicholson
holloway lozano rangel flowers hoover short arias mora valenzuela bryan meyers weiss underwood
bass greer summers houston carson morrow clayton whitaker decker yoder collier zuniga carey wilcox
melendez poole roberson larsen conley davenport copeland massey lam huff rocha cameron jefferson
hood monroe anthony pittman huynh randall singleton kirk combs mathis christian skinner bradford
richard galvan wall boone kirby wilkinson bridges bruce atkinson velez meza roy vincent york hodge
villa abbott allison tapia gates chase sosa sweeney farrell wyatt dalton horn barron phelps yu
dickerson heath foley atkins mathews bonilla acevedo benitez zavala hensley glenn cisneros harrell
shields rubio huffman choi boyer garrison arroyo bond kane hancock callahan dillon cline wiggins
grimes arellano melton oneill savage ho beltran pitts parrish ponce rich booth koch golden ware
brennan mcdowell marks cantu humphrey baxter sawyer clay tanner hutchinson kaur berg wiley gilmore
russo villegas hobbs keith wilkerson ahmed beard mcclain montes mata rosario vang walter henson
oneal mosley mcclure beasley stephenson snow huerta preston vance barry johns eaton blackwell
dyer prince macdonald solomon guevara stafford english hurst woodard cortes shannon kemp nolan
mccullough merritt murillo moon salgado strong kline cordova barajas roach rosas winters jacobson
lester knox bullock kerr leach meadows orr davila whitehead pruitt kent conway mckee barr david
dejesus marin berger mcintyre blankenship gaines palacios cuevas bartlett durham dorsey mccall
odonnell stein browning stout lowery sloan mclean hendricks calhoun sexton chung gentry hull duarte
ellison nielsen gillespie buck middleton sellers leblanc esparza hardin bradshaw mcintosh howe
livingston frost glass morse knapp herman stark bravo noble spears weeks corona frederick buckley
mcfarland hebert enriquez hickman quintero randolph schaefer walls trejo house reilly pennington
michael conrad giles benjamin crosby fitzpatrick donovan mays mahoney valentine raymond medrano
hahn mcmillan small bentley felix peck lucero boyle hanna pace rush hurley harding mcconnell
bernal nava ayers everett ventura avery pugh mayer bender shepard mcmahon landry case sampson moses
magana blackburn dunlap gould duffy vaughan herring mckay espinosa rivers farley bernard ashley
friedman potts truong costa correa blevins nixon clements fry delarosa best benton lugo portillo
dougherty crane haley phan villalobos blanchard horne finley quintana lynn esquivel bean dodson
mullen xiong hayden cano levy huber richmond moyer lim frye sheppard mccarty avalos booker waller
parra woodward jaramillo krueger rasmussen brandt peralta donaldson stuart faulkner maynard galindo
coffey estes sanford burch maddox vo oconnell vu andersen spence mcpherson church schmitt stanton
leal cherry compton dudley sierra pollard alfaro hester proctor lu hinton novak good madden mccann
terrell jarvis dickson reyna cantrell mayo branch hendrix rollins rowland whitney duke odom daugherty
travis tang archer""")

SYLLABLES = words("""ba be bi bo bu ca ce co cu da de di do du fa fe fi fo ga ge go ha he hi ho ka ke
ki ko la le li lo lu ma me mi mo mu na ne ni no nu pa pe pi po ra re ri ro ru sa se si so su ta
te ti to tu va ve vi vo wa we wi ya yo za zo bar ber bel dan den dor fen fin gan gor han hel kan
kel lan len lor man mer mor nan nor par per ran ren ros san sel sor tan ten tor van ver wen win
ax ex ix on an en in ar er ir or ur al el il ol ul""")
ONSETS = words("b br c ch cl d dr f fl g gr h j k kr l m n p pl pr r s sh st t tr v w z")
VOWELS = words("a e i o u ae ai au ea ee ie io oa ou")
CODAS = ["", "", "", "n", "r", "l", "s", "t", "ck", "nd", "rt", "ll", "m", "ng", "x", "sk"]

TAGS = ["webinar", "news", "demo", "q3", "promo", "ads", "trial", "crm", "events", "2026"]
LEGAL = ["", "", "", " Inc.", " Inc", " LLC", " Ltd", " Ltd.", " GmbH", " SA", " Corp.", " Group"]
PERSONAL = [("gmail.com", 60), ("yahoo.com", 12), ("outlook.com", 10), ("hotmail.com", 8),
            ("icloud.com", 5), ("aol.com", 5)]
SURNAME_WEIGHTS = list(accumulate(1 / (rank + 10) for rank in range(len(SURNAMES))))
US_AREAS = ["212", "213", "305", "312", "404", "415", "503", "512", "617", "646", "702", "713",
            "718", "801", "808", "917", "206", "303", "425", "469"]


class DifflibName:
    """The name rule with difflib's ratio (Ratcliff-Obershelp) on the whole name, for comparison.

    Same companies and blocking keys as ``similar_name()``; the better ratio of the names' words
    in order and sorted, counted from 0.85.
    """

    name = "difflib_name"

    def __repr__(self) -> str:
        return f"DifflibName(min_ratio={self.min_ratio})"

    def __init__(self, min_ratio: float = 0.85) -> None:
        self.rule = similar_name()
        self.min_ratio = min_ratio

    def prepare(self, lead):
        return self.rule.prepare(lead)

    def keys(self, prepared):
        return self.rule.keys(prepared)

    def compare(self, a, b):
        if a.companies.isdisjoint(b.companies) or a.starts.isdisjoint(b.starts):
            return None
        ratio = max(SequenceMatcher(None, *sorted((" ".join(a.words), " ".join(b.words)))).ratio(),
                    SequenceMatcher(None, *sorted((" ".join(sorted(a.words)),
                                                   " ".join(sorted(b.words))))).ratio())
        if ratio < self.min_ratio:
            return None
        return Evidence(self.name, round(ratio, 4), f"ratio {ratio:.2f}")


class Person:
    """One original lead's facts, kept to make its duplicate."""

    __slots__ = ("company", "email", "first", "last", "name", "phone", "work")

    def __init__(self, first: str, last: str, company: int) -> None:
        self.first, self.last, self.company = first, last, company
        self.name = f"{first.title()} {last.title()}"
        self.email = ""
        self.work = False
        self.phone: tuple[str, str] | None = None  # (country, national digits)


def surname_pool(rng: random.Random, size: int) -> list[str]:
    """Made-up surnames for the long tail: two or three syllables (onset, vowel, coda)."""
    made: set[str] = set()
    while len(made) < size:
        made.add("".join(rng.choice(ONSETS) + rng.choice(VOWELS) + rng.choice(CODAS)
                         for _ in range(rng.choice((2, 2, 3)))))
    return sorted(made - set(SURNAMES))


def surname(rng: random.Random, tail: list[str]) -> str:
    """Half the people have a common surname (the more common, the likelier), half a rare one."""
    if rng.random() < 0.5:
        return rng.choices(SURNAMES, cum_weights=SURNAME_WEIGHTS)[0]
    return rng.choice(tail)


def companies(rng: random.Random, people: int) -> tuple[list[str], list[str], list[int], list[str]]:
    """Company names, domains, sizes summing to *people*, and address conventions."""
    names: list[str] = []
    seen: set[str] = set()
    sizes: list[int] = []
    total = 0
    while total < people:
        size = min(3000, int(rng.paretovariate(1.2)), people - total)
        while True:
            word = "".join(rng.choice(SYLLABLES) for _ in range(rng.choice((2, 3, 3))))
            if rng.random() < 0.25:
                word += rng.choice(["labs", "soft", "tech", "works", "data", "ware", "net"])
            if word not in seen and not any(d.startswith(word + ".") for d in FREE_MAIL_DOMAINS):
                break
        seen.add(word)
        names.append(word.title())
        sizes.append(size)
        total += size
    tlds = [".com"] * 14 + [".io", ".co.uk", ".de", ".fr", ".net", ".com.au"]
    domains = [name.lower() + rng.choice(tlds) for name in names]
    conventions = [rng.choice(["first.last", "first.last", "flast", "firstl", "first"])
                   for _ in names]
    return names, domains, sizes, conventions


def local_part(first: str, last: str, convention: str) -> str:
    return {"first.last": f"{first}.{last}", "flast": f"{first[0]}{last}",
            "firstl": f"{first}{last[0]}", "first": first,
            "firstlast": f"{first}{last}", "first_last": f"{first}_{last}"}[convention]


def phone_digits(rng: random.Random) -> tuple[str, str]:
    roll = rng.random()
    if roll < 0.6:
        return "1", rng.choice(US_AREAS) + str(rng.randint(200, 999)) + f"{rng.randint(0, 9999):04d}"
    if roll < 0.75:
        head = rng.choice(["20", "7700", "7911", "161"])
        return "44", head + "".join(rng.choice(string.digits) for _ in range(10 - len(head)))
    if roll < 0.85:
        head = rng.choice(["30", "151", "89", "40"])
        return "49", head + "".join(rng.choice(string.digits) for _ in range(8))
    return "33", rng.choice("67") + "".join(rng.choice(string.digits) for _ in range(8))


def written_phone(rng: random.Random, phone: tuple[str, str], avoid: str | None = None) -> str:
    code, digits = phone
    if code == "1":
        a, b, c = digits[:3], digits[3:6], digits[6:]
        forms = [f"+1 {a} {b} {c}", f"+1 ({a}) {b}-{c}", f"+1-{a}-{b}-{c}", f"+1{digits}",
                 f"+1.{a}.{b}.{c}", f"+1 {a}-{b}-{c}"]
    else:
        head, tail = digits[:2], digits[2:]
        spaced = " ".join(tail[i:i + 2] for i in range(0, len(tail), 2))
        forms = [f"+{code} {head} {tail}", f"+{code}{digits}", f"+{code} {head} {spaced}",
                 f"+{code}-{head}-{tail}", f"+{code} ({head}) {tail}"]
        if code == "44":
            forms.append(f"+44 (0){head} {tail}")
    choices = [f for f in forms if f != avoid] or forms
    return rng.choice(choices)


def typo(rng: random.Random, text: str) -> str:
    letters = [i for i, c in enumerate(text) if c.isalpha()]
    i = rng.choice(letters)
    kind = rng.choice(["substitute", "delete", "insert", "transpose"])
    if kind == "substitute":
        return text[:i] + rng.choice(string.ascii_lowercase) + text[i + 1:]
    if kind == "delete" and len(letters) > 3:
        return text[:i] + text[i + 1:]
    if kind == "transpose" and i + 1 < len(text) and text[i + 1].isalpha():
        return text[:i] + text[i + 1] + text[i] + text[i + 2:]
    return text[:i] + rng.choice(string.ascii_lowercase) + text[i:]


def recase(rng: random.Random, text: str) -> str:
    return rng.choice([text.upper(), text.lower(), text.title(), text.swapcase()])


def gmail_variant(rng: random.Random, local: str) -> str:
    bare = local.replace(".", "")
    variant = local
    if rng.random() < 0.7:
        cuts = sorted(rng.sample(range(1, len(bare)), k=min(len(bare) - 1, rng.randint(0, 2))))
        parts, last = [], 0
        for cut in cuts:
            parts.append(bare[last:cut])
            last = cut
        parts.append(bare[last:])
        variant = ".".join(parts)
    if variant == local or rng.random() < 0.5:
        variant += "+" + rng.choice(TAGS)
    return variant


def make_leads(n: int, share: float, seed: int) -> tuple[list[Lead], set[tuple[str, str]],
                                                          dict[tuple[str, str], str]]:
    rng = random.Random(seed)
    planted_count = round(n * share)
    originals = n - planted_count
    surnames = surname_pool(rng, 50_000)
    names, domains, sizes, conventions = companies(rng, originals)
    emails: set[str] = set()
    phones: set[tuple[str, str]] = set()
    people: list[Person] = []
    attributes: list[dict[str, str]] = []
    for company, size in enumerate(sizes):
        used: set[tuple[str, str]] = set()
        for _ in range(size):
            while True:
                first, last = rng.choice(FIRST), surname(rng, surnames)
                if (first, last) not in used:
                    break
            used.add((first, last))
            person = Person(first, last, company)
            person.work = rng.random() < 0.6
            if person.work:
                local = local_part(first, last, conventions[company])
                domain = domains[company]
            else:
                local = local_part(first, last, rng.choice(["first.last", "firstlast", "flast",
                                                            "first_last"]))
                if rng.random() < 0.5:
                    local += str(rng.randint(1, 99))
                domain = rng.choices([d for d, _ in PERSONAL], [w for _, w in PERSONAL])[0]
            email = f"{local}@{domain}"
            number = 2
            while email.replace(".", "") in emails:
                email = f"{local}{number}@{domain}"
                number += 1
            emails.add(email.replace(".", ""))
            person.email = email
            attrs = {"name": person.name, "email": email}
            if rng.random() < 0.6:
                attrs["company"] = names[company] + rng.choice(LEGAL)
            if rng.random() < 0.75:
                while True:
                    phone = phone_digits(rng)
                    if phone not in phones:
                        break
                phones.add(phone)
                person.phone = phone
                attrs["phone"] = written_phone(rng, phone)
            people.append(person)
            attributes.append(attrs)

    # Each kind's originals are drawn from the leads it can apply to, each original once.
    shares = [("gmail dots / +tag", 0.15, lambda p: p.email.endswith("@gmail.com")),
              ("colleague's import", 0.30, lambda p: p.work),
              ("personal vs work", 0.15, lambda p: p.work),
              ("phone only", 0.10, lambda p: p.phone is not None),
              ("email case", 0.30, lambda p: True)]
    taken: set[int] = set()
    chosen: list[int] = []
    kinds: list[str] = []
    for number, (kind, part, fits) in enumerate(shares):
        count = (planted_count - len(chosen) if number == len(shares) - 1
                 else round(planted_count * part))
        pool = [i for i, person in enumerate(people) if i not in taken and fits(person)]
        picked = rng.sample(pool, k=count)
        taken.update(picked)
        chosen += picked
        kinds += [kind] * count
    planted: list[tuple[int, dict[str, str]]] = []
    kind_of: dict[int, str] = {}

    def personal_email(first: str, last: str) -> str:
        while True:
            local = local_part(first, last, rng.choice(["firstlast", "first_last", "flast"]))
            email = f"{local}{rng.randint(100, 9999)}@{rng.choice(['gmail.com', 'yahoo.com', 'outlook.com'])}"
            if email.replace(".", "") not in emails:
                emails.add(email.replace(".", ""))
                return email

    def phone_of(person: Person, original: dict[str, str], keep: float) -> dict[str, str]:
        if person.phone is None or rng.random() >= keep:
            return {}
        return {"phone": written_phone(rng, person.phone, avoid=original.get("phone"))}

    for index, kind in zip(chosen, kinds, strict=True):
        person, original = people[index], attributes[index]
        first, last = person.first, person.last
        if kind == "email case":
            local, domain = person.email.split("@")
            dup = {"email": f"{recase(rng, local)}@{rng.choice([domain, domain.upper()])}",
                   "name": rng.choice([person.name, person.name.lower(), person.name.upper()]),
                   **phone_of(person, original, 0.7)}
            if "company" in original and rng.random() < 0.5:
                dup["company"] = original["company"]
        elif kind == "gmail dots / +tag":
            local = person.email.split("@")[0]
            dup = {"email": f"{gmail_variant(rng, local)}@gmail.com",
                   "name": rng.choice([person.name, person.name.lower()]),
                   **phone_of(person, original, 0.7)}
        elif kind == "colleague's import":
            domain = person.email.split("@")[1]
            others = [c for c in ("first.last", "flast", "firstl", "firstlast")
                      if local_part(first, last, c) != person.email.split("@")[0]]
            while True:
                email = f"{local_part(first, last, rng.choice(others))}@{domain}"
                if email.replace(".", "") not in emails:
                    break
                email = f"{local_part(first, last, 'first.last')}{rng.randint(2, 999)}@{domain}"
                if email.replace(".", "") not in emails:
                    break
            emails.add(email.replace(".", ""))
            roll = rng.random()
            name = (typo(rng, person.name) if roll < 0.6 else
                    f"{last.title()}, {first.title()}" if roll < 0.8 else person.name)
            dup = {"email": email, "name": name, **phone_of(person, original, 0.5)}
        elif kind == "personal vs work":
            company = names[person.company]
            dup = {"email": personal_email(first, last),
                   "name": typo(rng, person.name) if rng.random() < 0.3 else person.name,
                   "company": rng.choice([company + rng.choice(LEGAL),
                                          "www." + domains[person.company],
                                          "https://" + domains[person.company] + "/"]),
                   **phone_of(person, original, 0.5)}
        else:  # phone only
            dup = {"email": personal_email(first, last),
                   "name": rng.choice([f"{first[0].upper()}. {last.title()}", first.title()]),
                   **phone_of(person, original, 1.0)}
        kind_of[len(planted)] = kind
        planted.append((index, dup))

    everything = attributes + [dup for _, dup in planted]
    order = list(range(len(everything)))
    rng.shuffle(order)
    ids = [""] * len(everything)
    for number, position in enumerate(order):
        ids[position] = f"L{number:07d}"
    leads = [Lead(ids[position], "lead", created_at=AT, attributes=everything[position])
             for position in order]
    pairs: set[tuple[str, str]] = set()
    kinds_by_pair: dict[tuple[str, str], str] = {}
    for number, (index, _) in enumerate(planted):
        pair = tuple(sorted((ids[index], ids[originals + number])))
        pairs.add(pair)  # type: ignore[arg-type]
        kinds_by_pair[pair] = kind_of[number]  # type: ignore[index]
    return leads, pairs, kinds_by_pair


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leads", type=int, default=1_000_000)
    parser.add_argument("--share", type=float, default=0.02, help="planted duplicates")
    parser.add_argument("--seed", type=int, default=20260302)
    parser.add_argument("--threshold", type=float, default=0.8)
    parser.add_argument("--no-phone", action="store_true", help="leave the phone rule out")
    parser.add_argument("--difflib", action="store_true",
                        help="compare names by difflib's ratio instead of counting typos")
    args = parser.parse_args()

    started = time.perf_counter()
    leads, planted, kinds = make_leads(args.leads, args.share, args.seed)
    print(f"{len(leads):,} leads, {len(planted):,} planted pairs, made in "
          f"{time.perf_counter() - started:.1f} s (seed {args.seed})")
    names = DifflibName() if args.difflib else similar_name()
    rules = [same_email(), names] + ([] if args.no_phone else [same_phone()])
    matcher = Matcher(rules, threshold=args.threshold)
    print(repr(matcher))

    gc.collect()
    gc.disable()  # as timeit does: a million values alive would make the collector the figure
    started = time.perf_counter()
    found = matcher.candidates(leads)
    blocked = time.perf_counter()
    candidates = list(found)
    finished = time.perf_counter()
    gc.enable()

    pairs = {(c.a, c.b) for c in candidates}
    hits = pairs & planted
    recall = len(hits) / len(planted)
    precision = len(hits) / len(pairs) if pairs else 1.0
    n = len(leads)
    all_pairs = n * (n - 1) // 2
    print(f"read, prepared and blocked: {blocked - started:.1f} s; compared: "
          f"{finished - blocked:.1f} s; total {finished - started:.1f} s")
    print(f"blocks of 2+ leads: {found.blocks:,}; largest block: {found.largest_block:,} leads")
    print(f"pairs compared: {found.compared:,} of n(n-1)/2 = {all_pairs:,} "
          f"({found.compared / all_pairs:.2e} of them; {found.compared / n:.2f} per lead)")
    print(f"candidates: {len(pairs):,}; planted found: {len(hits):,} of {len(planted):,}")
    print(f"recall {recall:.5f}   precision {precision:.5f}   (goal >= 0.98 each)")
    by_kind = Counter(kinds.values())
    found_kind = Counter(kinds[p] for p in hits)
    for kind, total in sorted(by_kind.items()):
        print(f"  {kind:<20} {found_kind[kind]:>7,} of {total:>7,}  recall "
              f"{found_kind[kind] / total:.4f}")
    rules_of_false = Counter("+".join(e.rule for e in c.evidence) for c in candidates
                             if (c.a, c.b) not in planted)
    print(f"false candidates by evidence: {dict(rules_of_false.most_common())}")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak resident memory: {peak:,.0f} MiB (leads included)")
    print(f"run at {datetime.now(UTC):%Y-%m-%d %H:%M} UTC")


if __name__ == "__main__":
    main()
