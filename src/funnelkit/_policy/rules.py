"""The rule language: a safe expression language for config files, parsed and interpreted.

A rule such as ``budget >= 10000 and role in ('cto', 'ceo') and days_since(last_touch) < 30`` is
tokenized and parsed by a small recursive-descent parser into a tree of frozen nodes, checked
against documented limits, then compiled into plain Python closures once, when the rule is built
(:func:`compile_rule`: the one form both ``rule()`` policies and scoring rules run in).  Nothing is
ever passed to ``eval``, ``exec`` or ``compile``: the closures only read lead attributes, the
context and a short list of functions.

Values follow three-valued logic: a missing (or ``None``) attribute is *unknown*, and unknown
spreads through arithmetic and comparisons; ``and`` / ``or`` / ``not`` follow Kleene's rules
(``False and unknown`` is False, ``True or unknown`` is True).
"""

# Compiled closures share one signature, (env, ctx) or (lead, ctx, score), whether or not they
# read every argument: that uniformity is what lets them nest without adapters.
# ruff: noqa: ARG001, ARG005

from __future__ import annotations

import math
import operator
from bisect import bisect_left
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any, Final

import attrs

from funnelkit._core.errors import RuleSyntaxError

__all__ = [
    "BUILTINS",
    "EVAL_ERRORS",
    "FUNCTIONS",
    "LIMITS",
    "NAMES",
    "SCORE_NAMES",
    "UNKNOWN",
    "Clause",
    "Compiled",
    "NameTable",
    "Resolver",
    "ValueTable",
    "compile_expr",
    "compile_rule",
    "holds",
    "literal_test",
    "names_in",
    "parse",
    "reads_context",
    "table_name",
    "unparse",
]

#: Documented limits of the rule language (see ``docs/policies.md``).
LIMITS: Final[Mapping[str, int]] = {
    "max_length": 2000,  # characters in one rule
    "max_depth": 32,  # nested parentheses, brackets, calls and unary operators
    "max_number": 10**15,  # the largest number literal
    "max_string": 1000,  # characters in one string literal
    "max_items": 256,  # items in one tuple or list literal
    "max_exponent": 64,  # the largest exponent ``**`` accepts
    "max_built": 10_000,  # characters or items of a string, list or tuple ``+`` builds
    "max_bits": 4096,  # bits of an integer ``*`` or ``**`` builds
}

#: Built-in names a rule can read when the lead has no attribute of that name.
NAMES: Final[Mapping[str, str]] = {
    "stage": "the lead's stage",
    "owner": "the lead's owner, unknown when it has none",
    "source": "the channel of the lead's source, unknown when it has none",
    "created_at": "when the lead was captured",
    "stage_entered_at": "when the lead entered its stage",
    "now": "the time the rule runs (the context's at)",
    "last_touch": "the time of the lead's latest touchpoint, unknown when it has none",
    "first_touch": "the time of the lead's first touchpoint, unknown when it has none",
    "score": "the total of the lead's Score",
    "fit_score": "the fit part of the lead's Score",
    "engagement_score": "the engagement part of the lead's Score",
}

#: The functions a rule may call.
FUNCTIONS: Final[Mapping[str, str]] = {
    "days_since": "days_since(t): days from t (a datetime, date or ISO string) to now",
    "count": "count(), count(name), count(kind=..., channel=..., days=...): touchpoints so far",
    "has": "has('name'): True when the lead has the attribute and it is not None",
    "lower": "lower(s): the string in lower case",
    "len": "len(x): the length of a string, list or tuple",
    "abs": "abs(x): the absolute value of a number",
    "min": "min(x, y, ...): the smallest value",
    "max": "max(x, y, ...): the largest value",
}

#: The built-in names that read the lead's Score.
SCORE_NAMES: Final = frozenset({"score", "fit_score", "engagement_score"})
_KEYWORDS = frozenset({"and", "or", "not", "in"})
_CONSTANTS: Mapping[str, bool] = {"true": True, "True": True, "false": False, "False": False}
_REFUSED_WORDS: Mapping[str, str] = {
    "lambda": "lambdas are not allowed in rules",
    "if": "conditional expressions are not allowed in rules; combine conditions with and / or",
    "else": "conditional expressions are not allowed in rules; combine conditions with and / or",
    "for": "comprehensions and loops are not allowed in rules",
    "is": "'is' is not allowed in rules; compare with == or !=, test presence with has('name')",
    "None": "None is not a rule value; test presence with has('name')",
    "none": "none is not a rule value; test presence with has('name')",
}
_PY_KEYWORDS = frozenset({
    "import", "from", "as", "def", "class", "return", "yield", "await", "async", "while", "with",
    "del", "global", "nonlocal", "assert", "pass", "break", "continue", "raise", "try", "except",
    "finally", "elif",
})


#: The value of an expression the rule cannot know (a missing attribute, no score...).  Lead
#: attributes that are None count as missing, so None can stand for "unknown" everywhere.
UNKNOWN: Final = None


# -- the tree ------------------------------------------------------------------------------------

_col = attrs.field(default=0, eq=False, repr=False, kw_only=True)


@attrs.frozen
class Const:
    """A number, string or boolean literal."""

    value: int | float | str | bool
    col: int = _col


@attrs.frozen
class Name:
    """A lead attribute or built-in name."""

    id: str
    col: int = _col


@attrs.frozen
class Seq:
    """A tuple or list display, ``('a', 'b')`` or ``['a', 'b']``."""

    kind: str  # "tuple" or "list"
    items: tuple[Node, ...]
    col: int = _col


@attrs.frozen
class Call:
    """A call to one of :data:`FUNCTIONS`."""

    func: str
    args: tuple[Node, ...]
    kwargs: tuple[tuple[str, Node], ...] = ()
    col: int = _col


@attrs.frozen
class Unary:
    """``-x`` or ``+x``."""

    op: str
    operand: Node
    col: int = _col


@attrs.frozen
class Not:
    """``not x``."""

    operand: Node
    col: int = _col


@attrs.frozen
class Pow:
    """``base ** exponent``."""

    base: Node
    exponent: Node
    col: int = _col


@attrs.frozen
class Arith:
    """A chain of ``+ -`` (level ``"sum"``) or ``* / // %`` (level ``"term"``) operations."""

    level: str
    first: Node
    rest: tuple[tuple[str, Node], ...]
    col: int = _col


@attrs.frozen
class Compare:
    """A (possibly chained) comparison: ``a < b``, ``1 <= x < 5``, ``x in (...)``."""

    first: Node
    rest: tuple[tuple[str, Node], ...]
    col: int = _col


@attrs.frozen
class BoolOp:
    """``a and b and ...`` or ``a or b or ...``."""

    op: str
    values: tuple[Node, ...]
    col: int = _col


Node = Const | Name | Seq | Call | Unary | Not | Pow | Arith | Compare | BoolOp


# -- tokenizer -----------------------------------------------------------------------------------

_OPS2 = ("**", "//", "==", "!=", "<=", ">=")
_OPS1 = "()[],+-*/%<>="
_ESCAPES = {"\\": "\\", "'": "'", '"': '"', "n": "\n", "t": "\t"}


@attrs.frozen
class _Token:
    kind: str  # NUM STR NAME OP END
    value: Any
    col: int
    text: str


def _error(text: str, col: int, message: str) -> RuleSyntaxError:
    return RuleSyntaxError(message, text=text, offset=col)


def _tokens(text: str) -> Iterator[_Token]:
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        col = i + 1
        if ch in " \t\r\n":
            i += 1
            continue
        if ch.isdigit() or (ch == "." and i + 1 < n and text[i + 1].isdigit()):
            j = i
            while j < n and (text[j].isdigit() or text[j] == "_"):
                j += 1
            is_float = False
            if j < n and text[j] == "." and not (j + 1 < n and text[j + 1] == "."):
                is_float = True
                j += 1
                while j < n and (text[j].isdigit() or text[j] == "_"):
                    j += 1
            if j < n and text[j] in "eE":
                k = j + 1
                if k < n and text[k] in "+-":
                    k += 1
                if k < n and text[k].isdigit():
                    is_float = True
                    j = k
                    while j < n and text[j].isdigit():
                        j += 1
            raw = text[i:j]
            if j < n and (text[j].isalpha() or text[j] == "_"):
                raise _error(text, j + 1, f"unexpected {text[j]!r} after the number {raw!r}")
            if "__" in raw or raw.endswith("_") or "_." in raw or "._" in raw:
                raise _error(text, col, f"malformed number {raw!r}; put single underscores "
                             f"between digits, as in 10_000")
            yield _Token("NUM", _number(text, col, raw, is_float=is_float), col, raw)
            i = j
            continue
        if ch.isalpha() or ch == "_":
            j = i
            while j < n and (text[j].isalnum() or text[j] == "_") and text[j].isascii():
                j += 1
            if j == i:
                raise _error(text, col, f"unexpected character {ch!r}; names use ASCII letters, "
                             f"digits and '_'")
            word = text[i:j]
            if "__" in word:
                raise _error(text, col, f"{word!r}: names with double underscores are not "
                             "allowed in rules")
            if word in _REFUSED_WORDS:
                raise _error(text, col, f"{word!r}: {_REFUSED_WORDS[word]}")
            if word in _PY_KEYWORDS:
                raise _error(text, col, f"{word!r} is not allowed in rules")
            yield _Token("NAME", word, col, word)
            i = j
            continue
        if ch in "'\"":
            j = i + 1
            chars: list[str] = []
            while True:
                if j >= n or text[j] == "\n":
                    raise _error(text, col, "unterminated string; close it with the quote "
                                 f"it starts with ({ch})")
                c = text[j]
                if c == ch:
                    break
                if c == "\\":
                    nxt = text[j + 1] if j + 1 < n else ""
                    if nxt not in _ESCAPES:
                        raise _error(text, j + 1, f"unknown escape '\\{nxt}'; use \\\\, \\', "
                                     '\\", \\n or \\t')
                    chars.append(_ESCAPES[nxt])
                    j += 2
                    continue
                chars.append(c)
                j += 1
            value = "".join(chars)
            if len(value) > LIMITS["max_string"]:
                raise _error(text, col, f"string literal of {len(value)} characters is too long; "
                             f"the limit is {LIMITS['max_string']}")
            yield _Token("STR", value, col, text[i:j + 1])
            i = j + 1
            continue
        two = text[i:i + 2]
        if two in _OPS2:
            yield _Token("OP", two, col, two)
            i += 2
            continue
        if ch in _OPS1:
            yield _Token("OP", ch, col, ch)
            i += 1
            continue
        if ch == ".":
            raise _error(text, col, "attribute access ('.') is not allowed in rules; name lead "
                         "attributes directly, for example budget")
        raise _error(text, col, f"unexpected character {ch!r}")
    yield _Token("END", None, n + 1, "")


def _number(text: str, col: int, raw: str, *, is_float: bool) -> int | float:
    clean = raw.replace("_", "")
    if len(clean) > 40:
        raise _error(text, col, f"number literal {raw[:20]}... is too large; the limit is "
                     f"{LIMITS['max_number']:,}")
    value: int | float
    try:
        value = float(clean) if is_float else int(clean)
    except ValueError:
        raise _error(text, col, f"malformed number {raw!r}") from None
    if not math.isfinite(value) or abs(value) > LIMITS["max_number"]:
        raise _error(text, col, f"number literal {raw} is too large; the limit is "
                     f"{LIMITS['max_number']:,}")
    return value


# -- parser --------------------------------------------------------------------------------------

_COMPARE = frozenset({"==", "!=", "<", "<=", ">", ">="})


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = list(_tokens(text))
        self.pos = 0
        self.depth = 0

    @property
    def tok(self) -> _Token:
        return self.tokens[self.pos]

    def error(self, message: str, tok: _Token | None = None) -> RuleSyntaxError:
        return _error(self.text, (tok or self.tok).col, message)

    def advance(self) -> _Token:
        tok = self.tokens[self.pos]
        self.pos += 1
        return tok

    def at_op(self, *ops: str) -> bool:
        return self.tok.kind == "OP" and self.tok.value in ops

    def at_word(self, word: str) -> bool:
        return self.tok.kind == "NAME" and self.tok.value == word

    def expect_op(self, op: str, opened: _Token | None = None) -> None:
        if not self.at_op(op):
            where = f" to close the {opened.value!r} at column {opened.col}" if opened else ""
            raise self.error(f"expected {op!r}{where}, found {self.describe()}")
        self.advance()

    def describe(self) -> str:
        tok = self.tok
        return "the end of the rule" if tok.kind == "END" else repr(tok.text)

    def enter(self, tok: _Token) -> None:
        self.depth += 1
        if self.depth > LIMITS["max_depth"]:
            raise self.error(f"the rule nests deeper than {LIMITS['max_depth']} levels; "
                             "split it into simpler rules", tok)

    def leave(self) -> None:
        self.depth -= 1

    def parse(self) -> Node:
        if not self.text.strip():
            raise _error(self.text, 1, "the rule is empty; write a condition such as "
                         "budget >= 10000")
        node = self.or_expr()
        if self.tok.kind != "END":
            raise self.error(f"unexpected {self.describe()}; a rule is one expression "
                             "(join conditions with and / or)")
        return node

    def or_expr(self) -> Node:
        col = self.tok.col
        values = [self.and_expr()]
        while self.at_word("or"):
            self.advance()
            values.append(self.and_expr())
        return values[0] if len(values) == 1 else BoolOp("or", tuple(values), col=col)

    def and_expr(self) -> Node:
        col = self.tok.col
        values = [self.not_expr()]
        while self.at_word("and"):
            self.advance()
            values.append(self.not_expr())
        return values[0] if len(values) == 1 else BoolOp("and", tuple(values), col=col)

    def not_expr(self) -> Node:
        if self.at_word("not"):
            tok = self.advance()
            self.enter(tok)
            operand = self.not_expr()
            self.leave()
            return Not(operand, col=tok.col)
        return self.comparison()

    def comparison(self) -> Node:
        col = self.tok.col
        first = self.sum_expr()
        rest: list[tuple[str, Node]] = []
        while True:
            if self.tok.kind == "OP" and self.tok.value in _COMPARE:
                op = self.advance().value
            elif self.at_word("in"):
                self.advance()
                op = "in"
            elif self.at_word("not") and self.tokens[self.pos + 1].kind == "NAME" and (
                self.tokens[self.pos + 1].value == "in"
            ):
                self.pos += 2
                op = "not in"
            elif self.at_op("="):
                raise self.error("'=' assigns; compare with '=='")
            else:
                break
            rest.append((op, self.sum_expr()))
        return first if not rest else Compare(first, tuple(rest), col=col)

    def sum_expr(self) -> Node:
        col = self.tok.col
        first = self.term()
        rest: list[tuple[str, Node]] = []
        while self.at_op("+", "-"):
            op = self.advance().value
            rest.append((op, self.term()))
        return first if not rest else Arith("sum", first, tuple(rest), col=col)

    def term(self) -> Node:
        col = self.tok.col
        first = self.factor()
        rest: list[tuple[str, Node]] = []
        while self.at_op("*", "/", "//", "%"):
            op = self.advance().value
            rest.append((op, self.factor()))
        return first if not rest else Arith("term", first, tuple(rest), col=col)

    def factor(self) -> Node:
        if self.at_op("-", "+"):
            tok = self.advance()
            self.enter(tok)
            operand = self.factor()
            self.leave()
            return Unary(tok.value, operand, col=tok.col)
        return self.power()

    def power(self) -> Node:
        col = self.tok.col
        base = self.primary()
        if self.at_op("**"):
            tok = self.advance()
            self.enter(tok)
            exponent = self.factor()
            self.leave()
            literal = _literal_number(exponent)
            if literal is not None and abs(literal) > LIMITS["max_exponent"]:
                shown = unparse(exponent) if literal == math.inf else literal
                raise self.error(f"exponent {shown} is too large; the limit is "
                                 f"{LIMITS['max_exponent']}", tok)
            node = Pow(base, exponent, col=col)
            if _literal_number(node) == math.inf:  # constant, but too large to compute
                raise self.error("the power is too large to compute", tok)
            return node
        return base

    def primary(self) -> Node:
        tok = self.tok
        if tok.kind == "NUM":
            self.advance()
            return Const(tok.value, col=tok.col)
        if tok.kind == "STR":
            self.advance()
            return Const(tok.value, col=tok.col)
        if tok.kind == "NAME":
            return self.name()
        if tok.kind == "OP" and tok.value in "([":
            return self.display()
        if tok.kind == "END":
            raise self.error("the rule ends too early; a value is missing")
        raise self.error(f"unexpected {tok.text!r}; expected a value, a name or '('")

    def name(self) -> Node:
        tok = self.advance()
        word: str = tok.value
        if word in _CONSTANTS:
            return Const(_CONSTANTS[word], col=tok.col)
        if word in _KEYWORDS:
            raise self.error(f"unexpected {word!r}; a value is missing before it", tok)
        if self.at_op("("):
            return self.call(tok)
        if self.tok.kind == "OP" and self.tok.value == "[":
            raise self.error("indexing is not allowed in rules")
        return Name(word, col=tok.col)

    def call(self, name: _Token) -> Node:
        func: str = name.value
        if func not in FUNCTIONS:
            raise self.error(f"unknown function {func!r}; rules may call "
                             f"{', '.join(sorted(FUNCTIONS))}", name)
        opened = self.advance()
        self.enter(opened)
        args: list[Node] = []
        kwargs: list[tuple[str, Node]] = []
        while not self.at_op(")"):
            if self.tok.kind == "NAME" and self.tokens[self.pos + 1].kind == "OP" and (
                self.tokens[self.pos + 1].value == "="
            ):
                key = self.advance()
                self.advance()
                if any(k == key.value for k, _ in kwargs):
                    raise self.error(f"{func}() got {key.value!r} twice", key)
                kwargs.append((key.value, self.or_expr()))
            else:
                if kwargs:
                    raise self.error(f"{func}(): positional arguments go before keyword ones")
                args.append(self.or_expr())
            if len(args) + len(kwargs) > LIMITS["max_items"]:
                raise self.error(f"{func}() has too many arguments")
            if not self.at_op(","):
                break
            self.advance()
        self.expect_op(")", opened)
        self.leave()
        node = Call(func, tuple(args), tuple(kwargs), col=name.col)
        _check_call(self.text, node)
        return node

    def display(self) -> Node:
        opened = self.advance()
        close = ")" if opened.value == "(" else "]"
        self.enter(opened)
        items: list[Node] = []
        trailing_comma = False
        while not self.at_op(close):
            items.append(self.or_expr())
            if len(items) > LIMITS["max_items"]:
                raise self.error(f"the {'tuple' if close == ')' else 'list'} has more than "
                                 f"{LIMITS['max_items']} items; that is the limit", opened)
            trailing_comma = False
            if not self.at_op(","):
                break
            self.advance()
            trailing_comma = True
        self.expect_op(close, opened)
        self.leave()
        if close == "]":
            return Seq("list", tuple(items), col=opened.col)
        if len(items) == 1 and not trailing_comma:
            return items[0]  # plain grouping parentheses
        if not items:
            return Seq("tuple", (), col=opened.col)
        return Seq("tuple", tuple(items), col=opened.col)


def _literal_number(node: Node) -> float | None:
    """The value of a constant number expression (signs and powers folded), else None.

    A constant power that breaks the limits folds to infinity, so the parser refuses it.
    """
    if isinstance(node, Const) and not isinstance(node.value, str | bool):
        return node.value
    if isinstance(node, Unary):
        inner = _literal_number(node.operand)
        return None if inner is None else -inner if node.op == "-" else inner
    if isinstance(node, Pow):
        base, exponent = _literal_number(node.base), _literal_number(node.exponent)
        if base is None or exponent is None:
            return None
        try:
            value = _power(base, exponent)
        except (RuleRuntimeError, ArithmeticError):
            return math.inf
        return value if isinstance(value, int | float) else None
    return None


def _check_call(text: str, node: Call) -> None:
    func, nargs = node.func, len(node.args)
    keys = {k for k, _ in node.kwargs}

    def fail(message: str) -> RuleSyntaxError:
        return _error(text, node.col, f"{func}(): {message}; {FUNCTIONS[func]}")

    if func == "count":
        if nargs > 1 or not keys <= {"kind", "channel", "days"}:
            raise fail("takes at most one name and the keywords kind, channel, days")
        return
    if keys:
        raise fail("takes no keyword arguments")
    if func == "has":
        first = node.args[0] if nargs == 1 else None
        if not isinstance(first, Const) or not isinstance(first.value, str):
            raise fail("takes one attribute name in quotes")
    elif func in {"min", "max"}:
        if nargs < 1:
            raise fail("needs at least one argument")
    elif nargs != 1:
        raise fail("takes exactly one argument")


def parse(text: str) -> Node:
    """Parse *text* into a tree; raise :class:`RuleSyntaxError` with the column if it is refused."""
    if not isinstance(text, str):
        raise RuleSyntaxError(f"a rule must be a string, got {type(text).__name__} {text!r}",
                              text=repr(text), offset=1)
    if len(text) > LIMITS["max_length"]:
        raise _error(text, LIMITS["max_length"] + 1, f"the rule is {len(text)} characters long; "
                     f"the limit is {LIMITS['max_length']}")
    return _Parser(text).parse()


# -- unparse -------------------------------------------------------------------------------------

_PREC = {"or": 1, "and": 2, "not": 3, "compare": 4, "sum": 5, "term": 6, "unary": 7, "pow": 8}


def _prec(node: Node) -> int:  # noqa: PLR0911 - one return per case reads better than a lookup table here
    if isinstance(node, BoolOp):
        return _PREC[node.op]
    if isinstance(node, Not):
        return _PREC["not"]
    if isinstance(node, Compare):
        return _PREC["compare"]
    if isinstance(node, Arith):
        return _PREC[node.level]
    if isinstance(node, Unary):
        return _PREC["unary"]
    if isinstance(node, Pow):
        return _PREC["pow"]
    return 9


def _quote(value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace("'", "\\'")
    escaped = escaped.replace("\n", "\\n").replace("\t", "\\t")
    return f"'{escaped}'"


def _wrap(node: Node, above: int) -> str:
    text = unparse(node)
    return f"({text})" if _prec(node) <= above else text


def unparse(node: Node) -> str:  # noqa: PLR0911 - one return per node type
    """The canonical text of a tree: ``parse(unparse(tree)) == tree``."""
    if isinstance(node, Const):
        if isinstance(node.value, bool):
            return "true" if node.value else "false"
        if isinstance(node.value, str):
            return _quote(node.value)
        return repr(node.value)
    if isinstance(node, Name):
        return node.id
    if isinstance(node, Seq):
        inner = ", ".join(unparse(i) for i in node.items)
        if node.kind == "list":
            return f"[{inner}]"
        return f"({inner},)" if len(node.items) == 1 else f"({inner})"
    if isinstance(node, Call):
        parts = [unparse(a) for a in node.args] + [f"{k}={unparse(v)}" for k, v in node.kwargs]
        return f"{node.func}({', '.join(parts)})"
    if isinstance(node, Unary):
        above = _PREC["unary"] - 1 if isinstance(node.operand, Pow | Unary) else _PREC["unary"]
        return f"{node.op}{_wrap(node.operand, above)}"
    if isinstance(node, Not):
        above = _PREC["not"] - 1 if isinstance(node.operand, Not) else _PREC["not"]
        return f"not {_wrap(node.operand, above)}"
    if isinstance(node, Pow):
        exponent = node.exponent
        right = unparse(exponent) if isinstance(exponent, Unary | Pow) or _prec(exponent) > 8 else (
            f"({unparse(exponent)})")
        return f"{_wrap(node.base, _PREC['pow'])} ** {right}"
    if isinstance(node, Arith | Compare):
        level = _prec(node)
        parts = [_wrap(node.first, level)]
        parts += [f"{op} {_wrap(operand, level)}" for op, operand in node.rest]
        return " ".join(parts)
    return f" {node.op} ".join(_wrap(v, _PREC[node.op]) for v in node.values)


def names_in(node: Node) -> tuple[str, ...]:
    """Every name a tree reads, in order of first appearance (``has('x')`` reads nothing)."""
    found: dict[str, None] = {}

    def walk(n: Node) -> None:
        if isinstance(n, Name):
            found.setdefault(n.id)
        elif isinstance(n, Seq):
            for i in n.items:
                walk(i)
        elif isinstance(n, Call):
            if n.func in {"count", "has"}:
                return
            for a in n.args:
                walk(a)
        elif isinstance(n, Unary | Not):
            walk(n.operand)
        elif isinstance(n, Pow):
            walk(n.base)
            walk(n.exponent)
        elif isinstance(n, Arith | Compare):
            walk(n.first)
            for _, o in n.rest:
                walk(o)
        elif isinstance(n, BoolOp):
            for v in n.values:
                walk(v)

    walk(node)
    return tuple(found)


# -- compiler ------------------------------------------------------------------------------------
#
# Compiled expressions are closures ``fn(env, ctx)``: ``env`` is a list holding the value of every
# name the expression reads, resolved once per evaluation (``resolve``), with None for unknown;
# ``ctx`` is the Context (or None when nothing reads it).  Resolving names once, then reading list
# slots, is what makes a 20-rule model cheap: each name costs one C-level dict lookup per lead.

#: A compiled expression: ``fn(env, context) -> value, or None when unknown``.
Compiled = Callable[[list[Any], Any], Any]
#: A built-in name's reader: ``fn(lead, context, score) -> value or None``.
Builtin = Callable[[Any, Any, Any], Any]


class RuleRuntimeError(Exception):
    """A value the rule cannot work with (raised and caught inside rule evaluation only)."""


_TOUCHED_AT = operator.attrgetter("at")


def _last_touch(lead: Any, ctx: Any, sc: Any) -> Any:
    if ctx is None:
        return None
    touchpoints = ctx.touchpoints  # each field read costs a descriptor call: read it once
    if not touchpoints:
        return None
    at = ctx.at
    latest = max(map(_TOUCHED_AT, touchpoints))
    if latest <= at:  # the usual case: no touchpoint after ``at`` to leave out
        return latest
    return max([t for t in map(_TOUCHED_AT, touchpoints) if t <= at], default=None)


def _first_touch(lead: Any, ctx: Any, sc: Any) -> Any:
    if ctx is None or not ctx.touchpoints:
        return None
    earliest = min(map(_TOUCHED_AT, ctx.touchpoints))
    return earliest if earliest <= ctx.at else None


def _score_part(part: str) -> Builtin:
    def read(lead: Any, ctx: Any, sc: Any) -> Any:
        if isinstance(sc, int | float) and not isinstance(sc, bool):
            return sc if part == "total" else None  # a scorer that returns a bare number
        return None if sc is None else getattr(sc, part, None)

    return read


#: The readers of the built-in names (see :data:`NAMES`).
BUILTINS: Mapping[str, Builtin] = {
    "stage": lambda lead, ctx, sc: lead.stage,
    "owner": lambda lead, ctx, sc: lead.owner,
    "source": lambda lead, ctx, sc: None if lead.source is None else lead.source.channel,
    "created_at": lambda lead, ctx, sc: lead.created_at,
    "stage_entered_at": lambda lead, ctx, sc: lead.stage_entered_at,
    "now": lambda lead, ctx, sc: None if ctx is None else ctx.at,
    "last_touch": _last_touch,
    "first_touch": _first_touch,
    "score": _score_part("total"),
    "fit_score": _score_part("fit"),
    "engagement_score": _score_part("engagement"),
}
#: Built-in names and functions that read the context (time or touchpoints).
CONTEXT_NAMES: Final = frozenset({"now", "last_touch", "first_touch"})
CONTEXT_FUNCTIONS: Final = frozenset({"days_since", "count"})


@attrs.define
class NameTable:
    """The names a set of compiled expressions read, each with its slot in ``env``."""

    names: list[str] = attrs.Factory(list)
    index: dict[str, int] = attrs.Factory(dict)

    def slot(self, name: str) -> int:
        """The slot of *name*, adding it if new."""
        if name not in self.index:
            self.index[name] = len(self.names)
            self.names.append(name)
        return self.index[name]

    def freeze(self) -> Resolver:
        """A resolver for every name added so far: ``fn(attributes, lead, ctx, score) -> env``."""
        names = tuple(self.names)
        builtins = tuple((i, BUILTINS[n]) for i, n in enumerate(names) if n in BUILTINS)
        if not builtins:

            def resolve(attributes: Mapping[str, Any], lead: Any, ctx: Any, sc: Any) -> list[Any]:
                return list(map(attributes.get, names))

            return resolve

        def resolve_with_builtins(
            attributes: Mapping[str, Any], lead: Any, ctx: Any, sc: Any
        ) -> list[Any]:
            env = list(map(attributes.get, names))
            for i, builtin in builtins:
                if env[i] is None:
                    env[i] = builtin(lead, ctx, sc)
            return env

        return resolve_with_builtins


#: Reads the value of each name for one evaluation: the lead's attribute, else a built-in, else
#: None (unknown).  Built by :meth:`NameTable.freeze`.
Resolver = Callable[[Mapping[str, Any], Any, Any, Any], list[Any]]


def reads_context(node: Node) -> bool:
    """True when evaluating *node* needs the Context (the time or touchpoints)."""
    if isinstance(node, Name):
        return node.id in CONTEXT_NAMES
    if isinstance(node, Call) and node.func in CONTEXT_FUNCTIONS:
        return True
    return any(reads_context(child) for child in _children(node))


def _children(node: Node) -> tuple[Node, ...]:  # noqa: PLR0911 - one per node type
    if isinstance(node, Seq):
        return node.items
    if isinstance(node, Call):
        return (*node.args, *(v for _, v in node.kwargs))
    if isinstance(node, Unary | Not):
        return (node.operand,)
    if isinstance(node, Pow):
        return (node.base, node.exponent)
    if isinstance(node, Arith | Compare):
        return (node.first, *(o for _, o in node.rest))
    if isinstance(node, BoolOp):
        return node.values
    return ()


def _number_only(value: Any, op: str) -> Any:
    if type(value) in (int, float, bool):
        return value
    raise RuleRuntimeError(f"{op!r} needs numbers, got {type(value).__name__} {value!r}")


def _power(base: Any, exponent: Any) -> Any:
    _number_only(base, "**")
    _number_only(exponent, "**")
    if abs(exponent) > LIMITS["max_exponent"]:
        limit = LIMITS["max_exponent"]
        raise RuleRuntimeError(f"exponent {exponent!r} is over the limit of {limit}")
    if isinstance(base, int) and base.bit_length() * abs(exponent) > LIMITS["max_bits"]:
        raise RuleRuntimeError("the power is too large to compute")
    return base**exponent


_GROWS: Final = (str, list, tuple)


def _arith(op: str, left: Any, right: Any) -> Any:
    if op == "+":
        if isinstance(left, _GROWS) and isinstance(right, _GROWS) and (
                len(left) + len(right) > LIMITS["max_built"]):
            # Repeated concatenation costs the square of the length: bound what a rule builds.
            raise RuleRuntimeError(f"'+' would build a value of {len(left) + len(right):,} "
                                   f"characters or items; the limit is {LIMITS['max_built']:,}")
        return left + right
    if op == "-":
        return left - right
    _number_only(left, op)
    _number_only(right, op)
    if op == "*":
        if (type(left) is int and type(right) is int
                and left.bit_length() + right.bit_length() > LIMITS["max_bits"]):
            raise RuleRuntimeError("the product is too large to compute")
        return left * right
    if op == "/":
        return left / right
    if op == "//":
        return left // right
    return left % right


def _contains(container: Any, item: Any) -> bool:
    if not isinstance(container, str | tuple | list | set | frozenset | dict):
        raise RuleRuntimeError(f"'in' needs a string, list or tuple on its right, got "
                               f"{container!r}")
    return item in container


def _not_contains(container: Any, item: Any) -> bool:
    return not _contains(container, item)


_OPERATORS: Mapping[str, Callable[[Any, Any], Any]] = {
    "==": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
    "in": lambda left, right: _contains(right, left),
    "not in": lambda left, right: _not_contains(right, left),
}


def _as_datetime(value: Any) -> datetime:
    if isinstance(value, datetime):
        if value.utcoffset() is None:
            raise RuleRuntimeError(f"days_since() got the naive datetime {value!r}; store aware "
                                   f"ones")
        return value
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            raise RuleRuntimeError(f"days_since() cannot read {value!r} as an ISO date") from None
        return _as_datetime(parsed if len(value) > 10 else parsed.date())
    raise RuleRuntimeError(f"days_since() needs a datetime, date or ISO string, got {value!r}")


def compile_expr(node: Node, table: NameTable, *, specialise: bool = True) -> Compiled:  # noqa: PLR0911 - one branch per node
    """Compile *node* into a closure ``fn(env, ctx)``, adding the names it reads to *table*.

    With ``specialise`` (the default) the shapes rules use most (see :func:`literal_test` and
    ``days_since(name) <op> number``) get closures of their own; without it every node is
    compiled the general way.  The test suite proves the two give the same values.
    """
    if isinstance(node, Const):
        value = node.value
        return lambda env, ctx: value
    if isinstance(node, Name):
        i = table.slot(node.id)
        return lambda env, ctx: env[i]
    if isinstance(node, Seq):
        return _compile_seq(node, table, specialise)
    if isinstance(node, Call):
        return _compile_call(node, table, specialise)
    if isinstance(node, Unary):
        operand = compile_expr(node.operand, table, specialise=specialise)
        negate = node.op == "-"

        def unary(env: list[Any], ctx: Any) -> Any:
            v = operand(env, ctx)
            if v is None:
                return None
            _number_only(v, "-" if negate else "+")
            return -v if negate else +v

        return unary
    if isinstance(node, Not):
        inner = compile_expr(node.operand, table, specialise=specialise)

        def not_(env: list[Any], ctx: Any) -> Any:
            v = inner(env, ctx)
            return None if v is None else not v

        return not_
    if isinstance(node, Pow):
        base = compile_expr(node.base, table, specialise=specialise)
        exponent = compile_expr(node.exponent, table, specialise=specialise)

        def power(env: list[Any], ctx: Any) -> Any:
            b, e = base(env, ctx), exponent(env, ctx)
            return None if b is None or e is None else _power(b, e)

        return power
    if isinstance(node, Arith):
        return _compile_arith(node, table, specialise)
    if isinstance(node, Compare):
        return _compile_compare(node, table, specialise)
    return _compile_bool(node, table, specialise)


def _compile_seq(node: Seq, table: NameTable, specialise: bool) -> Compiled:
    if all(isinstance(i, Const) for i in node.items):
        values = [i.value for i in node.items if isinstance(i, Const)]
        constant: Any = values if node.kind == "list" else tuple(values)
        return lambda env, ctx: constant
    items = tuple(compile_expr(i, table, specialise=specialise) for i in node.items)
    as_list = node.kind == "list"

    def seq(env: list[Any], ctx: Any) -> Any:
        values = [f(env, ctx) for f in items]
        if any(v is None for v in values):
            return None
        return values if as_list else tuple(values)

    return seq


def _compile_arith(node: Arith, table: NameTable, specialise: bool) -> Compiled:
    first = compile_expr(node.first, table, specialise=specialise)
    rest = tuple((op, compile_expr(o, table, specialise=specialise)) for op, o in node.rest)

    def arith(env: list[Any], ctx: Any) -> Any:
        value = first(env, ctx)
        for op, f in rest:
            right = f(env, ctx)
            if value is None or right is None:
                value = None
                continue
            value = _arith(op, value, right)
        return value

    return arith


def _days(age: timedelta) -> float:
    """``days_since``'s arithmetic: an age in days, as the rule compares it."""
    return age.total_seconds() / 86400.0


_MICROSECOND: Final = timedelta(microseconds=1)
_SHORTEST: Final = (timedelta.min // _MICROSECOND, timedelta.max // _MICROSECOND)


def _age_threshold(op: str, const: Any) -> timedelta | None:
    """The age T that decides ``days_since(t) <op> const`` by one timedelta comparison.

    For op ``<``, ``<=``, ``>`` or ``>=``, ``op(_days(age), const)`` equals ``age < T`` (``<``,
    ``<=``) or ``age >= T`` (``>``, ``>=``) for every timedelta.  None for other operators and
    constants, and when every age gives the same answer (the closure then does the arithmetic).

    ``_days`` is monotone (a correctly rounded integer division, then a correctly rounded float
    division), so the ages meeting ``_days(age) >= const`` (or ``> const``) are exactly those from
    some T up: a binary search over whole microseconds finds it once, when the rule is built, and
    each evaluation is then one timedelta comparison instead of float arithmetic.
    """
    if op not in {"<", "<=", ">", ">="} or type(const) not in (int, float):
        return None
    strict = op in {"<=", ">"}  # the boundary is the first age with days > const, else >= const

    def past(micros: int) -> bool:
        days = _days(timedelta(microseconds=micros))
        return bool(days > const if strict else days >= const)

    low, high = _SHORTEST
    if past(low) or not past(high):
        return None
    while high - low > 1:  # past(low) is False and past(high) is True
        middle = (low + high) // 2
        if past(middle):
            high = middle
        else:
            low = middle
    return timedelta(microseconds=high)


def literal_test(node: Node) -> tuple[str, str, Any] | None:
    """``(name, op, literal)`` when *node* compares one name with literals, else None.

    The shapes are ``name <op> literal`` for the six comparisons (``literal`` a number, string or
    boolean) and ``name in (literal, ...)`` / ``name not in [...]`` (``literal`` the tuple of
    items).  This is the one place that recognises them: the compiler gives each a closure of its
    own, and :class:`ValueTable` groups the rules made only of them.
    """
    if not (isinstance(node, Compare) and len(node.rest) == 1 and isinstance(node.first, Name)):
        return None
    op, right = node.rest[0]
    if op in _COMPARE and isinstance(right, Const):
        return (node.first.id, op, right.value)
    if op in {"in", "not in"} and isinstance(right, Seq) and all(
        isinstance(x, Const) for x in right.items
    ):
        return (node.first.id, op, tuple(x.value for x in right.items if isinstance(x, Const)))
    return None


def _compile_compare(node: Compare, table: NameTable, specialise: bool) -> Compiled:
    special = _compile_special(node, table) if specialise else None
    if special is not None:
        return special
    first = compile_expr(node.first, table, specialise=specialise)
    rest = tuple((_OPERATORS[op], compile_expr(o, table, specialise=specialise))
                 for op, o in node.rest)

    def compare_chain(env: list[Any], ctx: Any) -> Any:
        left = first(env, ctx)
        result: Any = True
        for test, f in rest:
            right = f(env, ctx)
            if left is None or right is None:
                result = None
            elif not test(left, right):
                return False
            left = right
        return result

    return compare_chain


def _compile_special(node: Compare, table: NameTable) -> Compiled | None:
    """One closure for a comparison of a common shape, or None: what ``compare_chain`` would do.

    Each of these gives the value the general closures give for every env (the test suite's
    Hypothesis properties compare them over generated rules and values).
    """
    shape = literal_test(node)
    if shape is not None:
        name, op, literal = shape
        i = table.slot(name)
        if op in _COMPARE:  # ``name <op> literal``: one C-level operator call
            compare = _OPERATORS[op]

            def name_op_const(env: list[Any], ctx: Any) -> Any:
                v = env[i]
                return None if v is None else compare(v, literal)

            return name_op_const
        members = frozenset(literal)
        negate = op == "not in"

        def name_in_literal(env: list[Any], ctx: Any) -> Any:
            v = env[i]
            if v is None:
                return None
            try:
                found = v in members
            except TypeError:  # an unhashable value: compare one by one
                found = v in literal
            return found is not negate

        return name_in_literal
    head = node.first
    if not (len(node.rest) == 1 and isinstance(head, Call) and head.func == "days_since"
            and isinstance(head.args[0], Name) and isinstance(node.rest[0][1], Const)):
        return None
    # ``days_since(name) <op> literal``, the usual recency test.
    op, right = node.rest[0]
    compare = _OPERATORS[op]
    const = right.value  # type: ignore[union-attr]
    i = table.slot(head.args[0].id)
    threshold = _age_threshold(op, const)
    if threshold is None:

        def days_since_op_const(env: list[Any], ctx: Any) -> Any:
            v = env[i]
            if v is None or ctx is None:
                return None
            if type(v) is not datetime or v.tzinfo is None:
                v = _as_datetime(v)
            return compare(_days(ctx.at - v), const)

        return days_since_op_const
    # The same answer from one C-level timedelta comparison (see _age_threshold).
    below = op in {"<", "<="}

    def days_since_threshold(env: list[Any], ctx: Any) -> Any:
        v = env[i]
        if v is None or ctx is None:
            return None
        if type(v) is not datetime or v.tzinfo is None:
            v = _as_datetime(v)
        age = ctx.at - v
        return age < threshold if below else age >= threshold

    return days_since_threshold


def _compile_bool(node: BoolOp, table: NameTable, specialise: bool) -> Compiled:
    values = tuple(compile_expr(v, table, specialise=specialise) for v in node.values)
    if node.op == "and":

        def and_(env: list[Any], ctx: Any) -> Any:
            result: Any = True
            for f in values:
                v = f(env, ctx)
                if v is None:
                    result = None
                elif not v:
                    return False
            return result

        return and_

    def or_(env: list[Any], ctx: Any) -> Any:
        result: Any = False
        for f in values:
            v = f(env, ctx)
            if v is None:
                result = None
            elif v:
                return True
        return result

    return or_


def _compile_call(node: Call, table: NameTable, specialise: bool) -> Compiled:
    func = node.func
    if func == "has":
        i = table.slot(str(node.args[0].value))  # type: ignore[union-attr]
        return lambda env, ctx: env[i] is not None
    if func == "count":
        return _compile_count(node, table, specialise)
    args = tuple(compile_expr(x, table, specialise=specialise) for x in node.args)
    if func == "days_since":
        (arg,) = args

        def days_since(env: list[Any], ctx: Any) -> Any:
            v = arg(env, ctx)
            if v is None or ctx is None:
                return None
            return _days(ctx.at - _as_datetime(v))

        return days_since

    def call(env: list[Any], ctx: Any) -> Any:
        values = [f(env, ctx) for f in args]
        if any(v is None for v in values):
            return None
        return _apply(func, values)

    return call


def _apply(func: str, values: list[Any]) -> Any:
    if func == "lower":
        if not isinstance(values[0], str):
            raise RuleRuntimeError(f"lower() needs a string, got {values[0]!r}")
        return values[0].lower()
    if func == "len":
        if not isinstance(values[0], str | list | tuple):
            raise RuleRuntimeError(f"len() needs a string, list or tuple, got {values[0]!r}")
        return len(values[0])
    if func == "abs":
        return abs(_number_only(values[0], "abs"))
    if len(values) == 1 and isinstance(values[0], list | tuple):
        values = list(values[0])
    if not values:
        raise RuleRuntimeError(f"{func}() of an empty list")
    return min(values) if func == "min" else max(values)


def _compile_count(node: Call, table: NameTable, specialise: bool) -> Compiled:
    def part(arg: Node | None) -> Compiled | None:
        return None if arg is None else compile_expr(arg, table, specialise=specialise)

    keys = dict(node.kwargs)
    either = part(node.args[0] if node.args else None)
    kind, channel, days = part(keys.get("kind")), part(keys.get("channel")), part(keys.get("days"))

    def count(env: list[Any], ctx: Any) -> Any:
        if ctx is None:
            return None
        at = ctx.at
        name = either(env, ctx) if either else ...
        k = kind(env, ctx) if kind else ...
        c = channel(env, ctx) if channel else ...
        d = days(env, ctx) if days else ...
        if None in (name, k, c, d):
            return None
        since = None if d is ... else at - timedelta(days=_number_only(d, "days"))
        n = 0
        for tp in ctx.touchpoints:
            t = tp.at
            if t > at or (since is not None and t < since):
                continue
            if name is not ... and name not in (tp.kind, tp.channel):
                continue
            if (k is not ... and tp.kind != k) or (c is not ... and tp.channel != c):
                continue
            n += 1
        return n

    return count


#: The errors evaluating a rule can raise; each turns into an ``unknown`` verdict.
EVAL_ERRORS: Final = (RuleRuntimeError, TypeError, ValueError, ArithmeticError, OverflowError)


# -- compiled rules: the one form rule() policies and scoring rules run in ----------------------


@attrs.frozen
class Clause:
    """One top-level ``and`` operand of a rule, compiled.

    ``test`` is its closure ``fn(env, ctx)`` (see :func:`compile_expr`); ``reads`` the names it
    reads with their slots in ``env``, in order of first appearance.
    """

    node: Node = attrs.field(repr=False)
    text: str
    test: Compiled = attrs.field(repr=False)
    reads: tuple[tuple[str, int], ...]


def compile_rule(
    tree: Node, table: NameTable, *, text: str, specialise: bool = True
) -> tuple[Clause, ...]:
    """Compile a parsed rule into its clauses, adding the names they read to *table*.

    A clause is each operand of a top-level ``and`` (the whole rule when it has none), named by
    its canonical text, or by *text* stripped when it is the only one.  A ``rule()`` policy makes
    each clause a criterion; a scoring rule matches when every clause :func:`holds`.  Compiling
    rules into one *table* lets them share one ``env`` (see :meth:`NameTable.freeze`).
    """
    parts = tree.values if isinstance(tree, BoolOp) and tree.op == "and" else (tree,)
    clauses = []
    for part in parts:
        test = compile_expr(part, table, specialise=specialise)
        reads = tuple((name, table.slot(name)) for name in names_in(part))
        clauses.append(Clause(part, unparse(part) if len(parts) > 1 else text.strip(), test, reads))
    return tuple(clauses)


def holds(clauses: tuple[Clause, ...], env: list[Any], ctx: Any) -> bool:
    """True when every clause is true: not false, not unknown, and no value it cannot use."""
    try:
        for clause in clauses:
            if not clause.test(env, ctx):
                return False
    except EVAL_ERRORS:
        return False
    return True


def table_name(clauses: tuple[Clause, ...]) -> str | None:
    """The name every clause compares with literals (see :func:`literal_test`), else None.

    Rules of that kind can be looked up in a :class:`ValueTable`.  Built-in names are left out:
    the table reads the lead's attributes only.
    """
    names = {shape[0] if shape else None for shape in map(literal_test, (c.node for c in clauses))}
    name = names.pop() if len(names) == 1 else None
    return None if name is None or name in NAMES else name


# -- one table per name --------------------------------------------------------------------------
#
# Rules that only compare one name with literals (``industry == 'saas'``, ``employees >= 50 and
# employees < 200``, ``role in ('cto', 'ceo')``) give the same answer for every value of a class:
# the numbers strictly between two neighbouring numeric literals, the numbers equal to one literal,
# and (when no rule orders text) the strings equal to none of the string literals.  A ValueTable
# works a class out once, by running the rules' compiled clauses on the first value of it it sees,
# and remembers values too, so per lead a name costs one C-level dict lookup.

_ORDERING = frozenset({"<", "<=", ">", ">="})
_MEMO_TYPES: Final = frozenset({str, int, float, bool, type(None)})
#: Values remembered per table (numbers and strings seen); more are still worked out, not kept.
_MEMO_LIMIT: Final = 4096
#: What a value gives: the summed weights of the rules it meets, and their indices.
Contribution = tuple[int, tuple[int, ...]]


class ValueTable(dict[Any, int]):
    """A name's value -> the summed weights of the rules over that name that it meets.

    *rules* are ``(index, clauses, weight)`` with :func:`table_name` giving the table's name for
    every one; their clauses read the value from ``env[slot]`` of an ``env`` of *size* slots.
    ``table[value]`` is the weight (remembered for up to 4,096 values); :meth:`contribution` and
    :meth:`indices` also give the indices of the rules met.  An unhashable value raises
    ``TypeError`` on ``table[value]`` and is worked out by :meth:`contribution`.
    """

    __slots__ = ("_breaks", "_classes", "_interned", "_literals", "_rules", "_size", "_slot",
                 "_text_order", "hits")

    def __init__(
        self, rules: Sequence[tuple[int, tuple[Clause, ...], int]], *, slot: int, size: int
    ) -> None:
        super().__init__()
        self._rules = tuple(rules)
        self._slot, self._size = slot, size
        numbers: set[Any] = set()
        strings: set[str] = set()
        self._text_order = False
        for _, clauses, _ in self._rules:
            for clause in clauses:
                shape = literal_test(clause.node)
                assert shape is not None, "table_name() chose these rules"
                _, op, literal = shape
                for value in literal if op in {"in", "not in"} else (literal,):
                    if isinstance(value, str):
                        strings.add(value)
                        self._text_order |= op in _ORDERING
                    else:
                        numbers.add(value)
        self._breaks = sorted(numbers)
        self._literals = frozenset(strings)
        self._classes: dict[int, Contribution] = {}
        self._interned: dict[tuple[int, ...], Contribution] = {}
        #: Remembered values -> the indices of the rules they meet.
        self.hits: dict[Any, tuple[int, ...]] = {}
        for value in (None, *self._breaks, *self._literals):
            self._remember(value, self.contribution(value))

    def _class(self, value: Any) -> int | None:
        """The class of values that meet the same rules as *value*, or None when it has none."""
        kind = type(value)
        if (kind is int or kind is float or kind is bool) and value == value:  # noqa: PLR0124 - not NaN
            breaks = self._breaks
            i = bisect_left(breaks, value)
            return 2 * i + 1 if i < len(breaks) and breaks[i] == value else 2 * i
        if kind is str and not self._text_order and value not in self._literals:
            return -1  # equal to no literal, and no rule orders text
        return None

    def contribution(self, value: Any) -> Contribution:
        """The weights and indices of the rules *value* meets, the same every time it is asked."""
        key = self._class(value)
        found = None if key is None else self._classes.get(key)
        if found is None:
            env: list[Any] = [None] * self._size
            env[self._slot] = value
            met = tuple(index for index, clauses, _ in self._rules if holds(clauses, env, None))
            found = self._interned.get(met)
            if found is None:
                weight = sum(weight for index, _, weight in self._rules if index in met)
                found = self._interned[met] = (weight, met)
            if key is not None:
                self._classes[key] = found
        return found

    def _remember(self, value: Any, found: Contribution) -> None:
        if type(value) in _MEMO_TYPES and len(self) < _MEMO_LIMIT:
            self[value] = found[0]
            self.hits[value] = found[1]

    def __missing__(self, value: Any) -> int:
        found = self.contribution(value)
        self._remember(value, found)
        return found[0]

    def indices(self, value: Any) -> tuple[int, ...]:
        """The indices of the rules *value* meets (what :meth:`contribution` gives)."""
        try:
            found = self.hits.get(value)
        except TypeError:  # unhashable: worked out, not remembered
            return self.contribution(value)[1]
        if found is None:
            contribution = self.contribution(value)
            self._remember(value, contribution)
            found = contribution[1]
        return found
