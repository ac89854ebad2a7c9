"""Exports of a rule set: text listings, a tree view, SQL and Python source.

Every export reads the one rule IR (:class:`~rulekd.rules.RuleSet`) and keeps
its exact semantics: the answering rule is the first match of an ordered list,
or the matching rule of highest confidence (ties: the earliest) of an unordered
set; a missing value makes a condition take its ``missing`` flag; numeric
conditions compare through :meth:`Condition.exact_bound`, so float32-cast
thresholds of imported trees become exact float64 comparisons. Nothing a user
provides (feature names, levels, labels, rule ids) ever becomes code: SQL
receives it as quoted identifiers and string literals, Python through
``repr()`` of plain ``str`` / ``int`` / ``float`` / ``bool`` values.
See ``docs/exports.md``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any, Mapping, Sequence

from ._ir import MISSING_OPS, Condition, RuleSet, _format_level, _level_key

__all__ = ["EXPORT_FORMATS", "export", "to_python", "to_sql", "to_text"]

EXPORT_FORMATS = ("text", "tree", "sql", "python", "json")

_INF = math.inf
_DBL_MAX = 1.7976931348623157e308


# -- input -------------------------------------------------------------------
def _resolve(model_or_rules: Any) -> tuple[RuleSet, dict[str, tuple] | None]:
    """The rule set of ``model_or_rules`` and, for a fitted student, its categorical levels."""
    if isinstance(model_or_rules, RuleSet):
        return model_or_rules, None
    rs = getattr(model_or_rules, "rules_", None)
    if isinstance(rs, RuleSet) and hasattr(model_or_rules, "student_"):
        raise TypeError(
            f"A {type(model_or_rules).__name__}'s rules answer only part of the inputs (its neural student "
            "answers the rest), so the hybrid itself is not exported. Export a rule student instead; to "
            "deploy the hybrid's rules alone, pass its rules_ (a RuleSet): the rows no rule answers then get "
            "NULL (SQL) or None (Python), to be sent to the hybrid."
        )
    if isinstance(rs, RuleSet):
        levels = None
        domain = getattr(model_or_rules, "domain_", None)
        if domain is not None:
            levels = {s.name: tuple(s.levels) for s in domain.features if s.kind == "categorical"}
        return rs, levels
    if hasattr(model_or_rules, "fit"):
        from sklearn.utils.validation import check_is_fitted

        check_is_fitted(model_or_rules)  # an unfitted rule student: NotFittedError
    raise TypeError(
        "Exports read a RuleSet or a fitted rule student (DistilledTreeClassifier, "
        f"DistilledRuleClassifier) that has rules_; got {type(model_or_rules).__name__}."
    )


def _priority(rs: RuleSet) -> list[int]:
    """Rule indices in the order evaluation tries them (see ``RuleSet.decide``)."""
    n = len(rs.rules)
    if rs.ordered:
        return list(range(n))
    return sorted(range(n), key=lambda i: (-rs.rules[i].confidence, i))


# -- text ----------------------------------------------------------------------
def to_text(model_or_rules: Any, style: str = "list", *, ids: bool = False) -> str:
    """A readable listing of the rules.

    Parameters
    ----------
    model_or_rules : RuleSet or fitted rule student
    style : {"list", "tree"}, default="list"
        ``"list"``: an ``if / elif / else`` listing, in the order evaluation
        tries the rules (an ordered list in its order, an unordered set from
        the highest confidence down, ties in rule order), so it reads as a
        decision list with the same answers. ``"tree"``: a scikit-learn
        ``export_text``-like tree; only for rules whose leaves form a tree
        (``DistilledTreeClassifier``, :func:`from_sklearn_tree`,
        :func:`from_xgboost_tree`), else a ``ValueError``.
    ids : bool, default=False
        Append each rule's id (``[r0]``) to its line.

    Returns
    -------
    str

    Examples
    --------
    >>> from rulekd.rules import Condition, Rule, RuleSet
    >>> rs = RuleSet(rules=(Rule((Condition("x", "<=", 1.5),), "a", confidence=0.6),
    ...                     Rule((Condition("y", "in", {"u"}),), "b", confidence=0.9)),
    ...              classes=("a", "b", "c"), default="c", ordered=False)
    >>> print(to_text(rs, ids=True))
    if y in {"u"} then "b"  [r1]
    elif x <= 1.5 then "a"  [r0]
    else "c"
    """
    rs, levels = _resolve(model_or_rules)
    if style == "list":
        return _list_text(rs, ids)
    if style == "tree":
        return _tree_text(rs, _build_tree(rs, levels), ids)
    raise ValueError(f"style must be 'list' or 'tree', got {style!r}.")


def _list_text(rs: RuleSet, ids: bool) -> str:
    lines = []
    for k, i in enumerate(_priority(rs)):
        r = rs.rules[i]
        line = f"{'if' if k == 0 else 'elif'} {r.condition_text()} then {_format_level(r.prediction)}"
        lines.append(line + (f"  [{rs.rule_id(i)}]" if ids else ""))
    lines.append(f"else{rs.default_text(': ')}")
    return "\n".join(lines)


# -- tree view -----------------------------------------------------------------
# Rebuilding a tree from its leaves' conditions. Each rule is projected on each
# feature to a region: a set of values plus whether a missing value lies in it.
# Values are a closed float interval (lo, hi) or None (empty) for numeric
# features, a frozenset of levels for categorical ones (a RuleSet alone knows
# only the levels its conditions name: the rest is one extra level, _OTHER),
# and a bool for features only tested for missingness. A split is valid where
# every rule's region lies wholly on one side; a leaf holds one rule whose
# region is exactly the path to it. Then tree and rules answer alike.

_OTHER = object()  # every level that no condition names


@dataclass
class _Node:
    rule: int | None = None  # a leaf: the rule's index (None: no rules, the default)
    left_cond: Condition | None = None
    right_cond: Condition | None = None
    left: "_Node | None" = None
    right: "_Node | None" = None

    @property
    def is_leaf(self) -> bool:
        return self.left is None


class _Space:
    """Value regions of one feature: ``kind`` is "num", "cat" or "bare"."""

    def __init__(self, kind: str, universe: frozenset = frozenset()):
        self.kind = kind
        self.universe = universe

    @property
    def full(self) -> Any:
        return (-_INF, _INF) if self.kind == "num" else self.universe if self.kind == "cat" else True

    def empty(self, a: Any) -> bool:
        return a is None if self.kind == "num" else not a

    def inter(self, a: Any, b: Any) -> Any:
        if self.kind == "num":
            if a is None or b is None:
                return None
            lo, hi = max(a[0], b[0]), min(a[1], b[1])
            return (lo, hi) if lo <= hi else None
        return a & b if self.kind == "cat" else a and b

    def subset(self, a: Any, b: Any) -> bool:
        if self.kind == "num":
            return a is None or (b is not None and b[0] <= a[0] and a[1] <= b[1])
        return a <= b if self.kind == "cat" else (not a) or b

    def disjoint(self, a: Any, b: Any) -> bool:
        if self.kind == "num":
            return a is None or b is None or a[1] < b[0] or b[1] < a[0]
        return a.isdisjoint(b) if self.kind == "cat" else not (a and b)

    def values(self, c: Condition) -> Any:
        """The non-missing values where ``c`` holds."""
        if c.op in MISSING_OPS:
            return self.full if c.op == "is not missing" else _empty_of(self)
        if self.kind == "num":
            op, t = c.exact_bound()
            if op == "<=":
                lo, hi = -_INF, t
            elif op == "<":
                lo, hi = -_INF, math.nextafter(t, -_INF) if t > -_INF else None
            elif op == ">":
                lo, hi = math.nextafter(t, _INF) if t < _INF else None, _INF
            else:
                lo, hi = t, _INF
            return None if lo is None or hi is None or lo > hi else (lo, hi)
        inside = c.value & self.universe
        return inside if c.op == "in" else self.universe - c.value


def _tree_error(reason: str) -> ValueError:
    return ValueError(
        "The tree view needs rules from a tree (DistilledTreeClassifier, from_sklearn_tree, "
        f"from_xgboost_tree): {reason} Use style='list' for these rules."
    )


def _build_tree(rs: RuleSet, levels: Mapping[str, Sequence] | None = None) -> _Node:
    """Rebuild a tree whose leaves are exactly the rules; ``ValueError`` where none exists."""
    if not rs.rules:
        return _Node(rule=None)
    kinds: dict[str, str] = {}
    named: dict[str, set] = {}
    for r in rs.rules:
        for c in r.conditions:
            kind = "num" if c.is_numeric else "cat" if c.is_categorical else "bare"
            prev = kinds.get(c.feature, "bare")
            if prev != "bare" and kind != "bare" and prev != kind:
                raise _tree_error(f"feature {c.feature!r} is compared both as a number and as a category.")
            kinds[c.feature] = kind if prev == "bare" else prev
            if c.is_categorical:
                named.setdefault(c.feature, set()).update(c.value)
    spaces = {}
    for f, kind in kinds.items():
        universe: frozenset = frozenset()
        if kind == "cat":
            known = levels.get(f) if levels is not None else None
            extra = set(known) if known is not None else {_OTHER}
            universe = frozenset(named.get(f, set()) | extra)
        spaces[f] = _Space(kind, universe)
    proj: list[dict[str, tuple[Any, bool]]] = []
    for r in rs.rules:
        p: dict[str, tuple[Any, bool]] = {}
        for c in r.conditions:
            sp = spaces[c.feature]
            vals, miss = p.get(c.feature, (sp.full, True))
            p[c.feature] = (sp.inter(vals, sp.values(c)), miss and c.missing)
        proj.append(p)
    return _grow(rs, spaces, proj, list(range(len(rs.rules))), {})


def _grow(rs: RuleSet, spaces: dict, proj: list, group: list[int], path: dict) -> _Node:
    if len(group) == 1:
        i = group[0]
        for f, (vals, miss) in proj[i].items():
            sp = spaces[f]
            pvals, pmiss = path.get(f, (sp.full, True))
            if not sp.subset(pvals, vals) or (pmiss and not miss):
                raise _tree_error(
                    f"rule {rs.rule_id(i)!r} does not cover all the inputs its branch leads to "
                    "(its conditions leave a gap that another branch does not take)."
                )
        return _Node(rule=i)
    best = None
    for cand in _candidates(rs, spaces, proj, group):
        split = _try_split(spaces, proj, group, *cand)
        if split is not None and (best is None or split[0] > best[0]):
            best = split
    if best is None:
        ids = ", ".join(repr(rs.rule_id(i)) for i in group[:6])
        raise _tree_error(
            f"no condition splits the rules {ids}{', ...' if len(group) > 6 else ''} into two groups "
            "(they overlap, or leave gaps between them)."
        )
    _, f, left_cond, right_cond, left, right, left_region, right_region = best
    sp = spaces[f]
    pvals, pmiss = path.get(f, (sp.full, True))
    lpath = {**path, f: (sp.inter(pvals, left_region[0]), pmiss and left_region[1])}
    rpath = {**path, f: (sp.inter(pvals, right_region[0]), pmiss and right_region[1])}
    return _Node(
        left_cond=left_cond,
        right_cond=right_cond,
        left=_grow(rs, spaces, proj, left, lpath),
        right=_grow(rs, spaces, proj, right, rpath),
    )


def _candidates(rs: RuleSet, spaces: dict, proj: list, group: list[int]):
    """Split candidates ``(feature, left condition)``: the rules' own conditions first."""
    seen = set()
    for i in group:
        for c in rs.rules[i].conditions:
            sp = spaces[c.feature]
            if c.op in MISSING_OPS:
                cand = Condition(c.feature, "is missing")
            elif sp.kind == "num":
                lo, _ = sp.values(c) or (None, None)
                if lo is None:
                    continue
                cand = c if lo == -_INF else c.negate()  # the left branch is the lower half-line
            else:
                cand = _cat_condition(c.feature, sp, sp.values(c))
            key = (c.feature, _key(sp, cand))
            if key not in seen:
                seen.add(key)
                yield c.feature, cand
    # Missing or not, where a rule's conditions leave only the missing value.
    for i in group:
        for f, (vals, miss) in proj[i].items():
            if miss and spaces[f].empty(vals) and (f, "missing") not in seen:
                seen.add((f, "missing"))
                yield f, Condition(f, "is missing")
    # Categorical splits whose level set no single condition names (nested level-set splits):
    # groups of rules that share levels, joined through overlaps.
    for f, sp in spaces.items():
        if sp.kind != "cat":
            continue
        comps: list[frozenset] = []
        for i in group:
            vals = proj[i].get(f, (sp.full, True))[0]
            if vals:
                joined = [cv for cv in comps if cv & vals]
                comps = [cv for cv in comps if not cv & vals] + [vals.union(*joined)]
        if len(comps) < 2:
            continue
        for cv in comps:
            cand = _cat_condition(f, sp, cv)
            key = (f, _key(sp, cand))
            if key not in seen:
                seen.add(key)
                yield f, cand


def _cat_condition(f: str, sp: _Space, vals: frozenset) -> Condition:
    """``f in S`` for the side of a level split that does not hold the unnamed levels."""
    inside = vals if _OTHER not in vals else sp.universe - vals
    return Condition(f, "in", inside)


def _key(sp: _Space, cand: Condition) -> Any:
    return "missing" if cand.op in MISSING_OPS else sp.values(cand)


def _try_split(spaces: dict, proj: list, group: list[int], f: str, cand: Condition):
    """``(score, f, left, right conditions, left rules, right rules, regions)`` or None."""
    sp = spaces[f]
    left: list[int] = []
    right: list[int] = []
    if cand.op == "is missing":
        for i in group:
            vals, miss = proj[i].get(f, (sp.full, True))
            if sp.empty(vals) and miss:
                left.append(i)
            elif not miss and not sp.empty(vals):
                right.append(i)
            else:
                return None
        if not left or not right:
            return None
        return (0, f, cand, Condition(f, "is not missing"), left, right, (_empty_of(sp), True), (sp.full, False))
    S = sp.values(cand)
    Sc = _complement(sp, S)
    na_left = na_right = False
    na_only: list[int] = []
    score = 0
    for i in group:
        vals, miss = proj[i].get(f, (sp.full, True))
        if sp.empty(vals):
            if not miss:
                return None  # a rule no input satisfies has no place in a tree
            na_only.append(i)
            continue
        if sp.subset(vals, S):
            left.append(i)
            na_left |= miss
            score += _touches(sp, vals, S)
        elif sp.disjoint(vals, S):
            right.append(i)
            na_right |= miss
            score += _touches(sp, vals, Sc)
        else:
            return None
    if na_left and na_right:
        return None
    if na_only:
        if na_right:
            right += na_only
        else:
            left += na_only
            na_left = True
    if not left or not right:
        return None
    left.sort()
    right.sort()
    if sp.kind == "cat":
        # Each side holds exactly its rules' levels; a level that no rule here names
        # takes neither branch (no rule matches it, so the default answers).
        lv = frozenset().union(*(proj[i].get(f, (sp.full, True))[0] for i in left))
        rv = frozenset().union(*(proj[i].get(f, (sp.full, True))[0] for i in right))
        return (score, f, _cat_side(f, sp, lv, na_left), _cat_side(f, sp, rv, na_right), left, right,
                (lv, na_left), (rv, na_right))
    lc = replace(cand, missing=na_left)
    rc = replace(cand.negate(), missing=na_right)
    return (score, f, lc, rc, left, right, (S, na_left), (Sc, na_right))


def _cat_side(f: str, sp: _Space, levels: frozenset, missing: bool) -> Condition:
    if not levels:
        return Condition(f, "is missing")
    if _OTHER in levels:
        return Condition(f, "not in", sp.universe - levels, missing)
    return Condition(f, "in", levels, missing)


def _empty_of(sp: _Space) -> Any:
    return None if sp.kind == "num" else frozenset() if sp.kind == "cat" else False


def _complement(sp: _Space, S: Any) -> Any:
    if sp.kind == "cat":
        return sp.universe - S
    if sp.kind == "bare":
        return not S
    lo, hi = S  # a lower half-line [-inf, hi]
    return (math.nextafter(hi, _INF), _INF) if hi < _INF else None


def _touches(sp: _Space, vals: Any, side: Any) -> int:
    """Does a rule's region end where the split does (the split is its own condition)?"""
    if side is None:
        return 0
    if sp.kind == "num":
        return int(vals[1] == side[1] if side[0] == -_INF else vals[0] == side[0])
    return int(vals == side)


def _tree_text(rs: RuleSet, root: _Node, ids: bool) -> str:
    lines: list[str] = []

    def leaf(node: _Node, pad: str) -> None:
        label = rs.default if node.rule is None else rs.rules[node.rule].prediction
        rid = rs.default_id if node.rule is None else rs.rule_id(node.rule)
        shown = rs.default_text("").strip() if node.rule is None else _format_level(label)
        lines.append(f"{pad}|--- class: {shown}" + (f"  [{rid}]" if ids else ""))

    def walk(node: _Node, depth: int) -> None:
        pad = "|   " * depth
        if node.is_leaf:
            leaf(node, pad)
            return
        lines.append(f"{pad}|--- {node.left_cond}")
        walk(node.left, depth + 1)
        lines.append(f"{pad}|--- {node.right_cond}")
        walk(node.right, depth + 1)

    walk(root, 0)
    return "\n".join(lines)


# -- literals ------------------------------------------------------------------
def _check_label(v: Any, what: str) -> None:
    if not isinstance(v, (str, int, float)):  # bool is an int
        raise ValueError(f"Only str, int, float and bool {what} can be exported, got {v!r} ({type(v).__name__}).")


def _py_literal(v: Any) -> str:
    """Python source for a plain scalar, never through a subclass's own ``__repr__``."""
    if isinstance(v, bool):
        return "True" if v else "False"
    if isinstance(v, int):
        return int.__repr__(v)
    if isinstance(v, float):
        if math.isnan(v):
            return 'float("nan")'
        if math.isinf(v):
            return "_INF" if v > 0 else "-_INF"
        return float.__repr__(v)
    if isinstance(v, str):
        return str.__repr__(v)
    raise ValueError(f"Cannot export the value {v!r} ({type(v).__name__}); use str, int, float or bool.")


def _py_tuple(items: Sequence[str]) -> str:
    return "(" + ", ".join(items) + ("," if len(items) == 1 else "") + ")"


def _sql_decimal(x: float) -> str:
    """Shortest round-trip decimal with an exponent, so engines read it as a double."""
    r = float.__repr__(x)
    return r.upper() if "e" in r else r + "E0"


def _sql_binary(x: float) -> str:
    """``x`` as integer arithmetic on powers of two: exact in any IEEE-754 engine."""
    if x == int(x) and abs(x) < 2.0**53:
        return str(int(x))
    m, e = math.frexp(x)
    mant, k = int(m * 2**53), e - 53
    while mant % 2 == 0:
        mant //= 2
        k += 1
    expr = f"CAST({mant} AS DOUBLE PRECISION)"
    op, n = (" / ", -k) if k < 0 else (" * ", k)
    while n > 0:
        step = min(n, 62)
        expr += f"{op}{1 << step}"
        n -= step
    return f"({expr})"


def _sql_string(s: str) -> str:
    _no_nul(s)
    return "'" + str.replace(s, "'", "''") + "'"


def _sql_ident(name: str) -> str:
    if not isinstance(name, str) or not name:
        raise ValueError(f"An SQL identifier must be a non-empty string, got {name!r}.")
    _no_nul(name)
    return '"' + str.replace(name, '"', '""') + '"'


def _no_nul(s: str) -> None:
    if "\x00" in s:
        raise ValueError(f"{s!r} contains a NUL character, which SQL text cannot carry; rename it.")


# -- SQL -----------------------------------------------------------------------
def to_sql(
    model_or_rules: Any,
    table: str | Sequence[str] = "data",
    *,
    order_by: str | Sequence[str] | None = None,
    keep: Sequence[str] = (),
    proba: bool = False,
    rule_column: str | None = None,
    prediction_column: str = "prediction",
    proba_prefix: str = "proba_",
    float_literals: str = "decimal",
) -> str:
    """One portable ANSI ``SELECT CASE WHEN ... END`` query: one prediction per row.

    Parameters
    ----------
    model_or_rules : RuleSet or fitted rule student
    table : str or sequence of str, default="data"
        The table (or view) the rows come from; a sequence is a qualified name
        (``("main", "data")`` -> ``"main"."data"``). Always double-quoted.
    order_by : str or sequence of str, optional
        Column(s) for an ``ORDER BY``. SQL tables have no row order: without
        it the rows come in the order the engine scans them (insertion order
        for SQLite and DuckDB, not guaranteed by the standard).
    keep : sequence of str, default=()
        Input columns to carry into the result before the prediction (a key
        to join the predictions back on).
    proba : bool, default=False
        Add one probability column per class, named ``proba_prefix + str(class)``.
    rule_column : str, optional
        Also return the id of the answering rule (``'default'`` where none does)
        in a column of this name, like ``RuleSet.decided_by``.
    prediction_column : str, default="prediction"
    proba_prefix : str, default="proba_"
    float_literals : {"decimal", "binary"}, default="decimal"
        ``"decimal"``: each threshold as its shortest round-trip decimal with
        an exponent (``0.5E0``), exact in engines that read decimals correctly
        rounded (DuckDB, PostgreSQL). ``"binary"``: as an integer scaled by
        powers of two (``(CAST(3 AS DOUBLE PRECISION) / 8)``), exact in any
        IEEE-754 engine, e.g. SQLite releases whose decimal reader is off by
        an ulp for some 17-digit literals.

    Returns
    -------
    str
        The query text, without a closing semicolon. A missing value is SQL
        ``NULL``; categorical levels are compared with ``IN`` lists of literals.

    Examples
    --------
    >>> from rulekd.rules import Condition, Rule, RuleSet
    >>> rs = RuleSet(rules=(Rule((Condition("age", "<=", 30.5, missing=True),
    ...                           Condition("job", "in", {"it", "law"})), "yes"),),
    ...              classes=("no", "yes"), default="no")
    >>> print(to_sql(rs, table="people"))
    SELECT
      CASE
        WHEN ("t"."age" IS NULL OR "t"."age" <= 30.5E0)
         AND "t"."job" IN ('it', 'law')
        THEN 'yes'
        ELSE 'no'
      END AS "prediction"
    FROM "people" "t"
    """
    rs, _ = _resolve(model_or_rules)
    if float_literals not in ("decimal", "binary"):
        raise ValueError(f"float_literals must be 'decimal' or 'binary', got {float_literals!r}.")
    flt = _sql_decimal if float_literals == "decimal" else _sql_binary

    def flt_value(x: float) -> str:
        """A float result value: typed as a double even where it is a whole number."""
        text = flt(x)
        return f"CAST({text} AS DOUBLE PRECISION)" if text.lstrip("-").isdigit() else text

    def literal(v: Any) -> str:
        if isinstance(v, bool):
            # Not the keywords TRUE / FALSE: SQLite reads them as a column of that name where the table
            # has one (any case), and would answer that column's values. Nor CAST(1 AS BOOLEAN), which
            # MySQL lacks. A comparison is a boolean in every engine (1 / 0 in SQLite and MySQL).
            return "(1 = 1)" if v else "(1 = 0)"
        if isinstance(v, int):
            return int.__repr__(v)
        if isinstance(v, float):
            if not math.isfinite(v):
                raise ValueError(f"SQL has no portable literal for {v!r}; use finite class labels.")
            return flt_value(v)
        if isinstance(v, str):
            return _sql_string(v)
        raise ValueError(f"Cannot export the value {v!r} ({type(v).__name__}) to SQL; use str, int, float or bool.")

    tables = _names(table, "table")
    if not tables:
        raise ValueError("table must name a table, got an empty sequence.")
    # Every input column is read through this alias: an ORDER BY then means the input column even
    # where an output column has the same name, and SQLite reports a missing column instead of
    # reading a double-quoted name it cannot resolve as a string.
    alias = _sql_ident("t")
    source = ".".join(_sql_ident(t) for t in tables) + " " + alias
    order = [] if order_by is None else _names(order_by, "order_by")
    keep = _names(keep, "keep")
    for label in (*rs.classes, rs.default):
        _check_label(label, "class labels")
    kinds = {_label_kind(c) for c in (*rs.classes, rs.default)}
    if len(kinds) > 1:
        raise ValueError(
            f"The class labels {list(rs.classes)} mix {' and '.join(sorted(kinds))} values, but a SQL CASE has "
            "one result type; give the labels one type (e.g. all str) before exporting to SQL."
        )

    order_idx = _priority(rs)
    whens = [_sql_rule(rs.rules[i], flt, literal, alias) for i in order_idx]

    def case(values: list[str], default: str) -> str:
        if not whens:
            return default
        lines = ["CASE"]
        for cond, v in zip(whens, values):
            lines.append(f"  WHEN {cond}")
            lines.append(f"  THEN {v}")
        lines.append(f"  ELSE {default}")
        lines.append("END")
        return "\n  ".join(lines)

    # A hybrid's rules: the rows no rule answers belong to its neural student, so they get NULL.
    student = rs.default_is_student
    columns: list[tuple[str, str]] = [(f"{alias}.{_sql_ident(k)} AS {_sql_ident(k)}", k) for k in keep]
    columns.append((case([literal(rs.rules[i].prediction) for i in order_idx],
                         "NULL" if student else literal(rs.default))
                    + f" AS {_sql_ident(prediction_column)}", prediction_column))
    if proba:
        table_p = rs.proba_table()
        for k, cls in enumerate(rs.classes):
            name = f"{proba_prefix}{cls}"
            values = [flt_value(float(table_p[i, k])) for i in order_idx]
            columns.append((case(values, "NULL" if student else flt_value(float(table_p[-1, k])))
                            + f" AS {_sql_ident(name)}", name))
    if rule_column is not None:
        values = [_sql_string(rs.rule_id(i)) for i in order_idx]
        columns.append((case(values, _sql_string(rs.default_id))
                        + f" AS {_sql_ident(rule_column)}", rule_column))
    # SQLite and DuckDB compare quoted names without regard to case: "proba_A" and "proba_a" clash.
    folded = [n.casefold() for _, n in columns]
    dup = sorted({n for _, n in columns if folded.count(n.casefold()) > 1})
    if dup:
        raise ValueError(f"The result would have several columns named {dup} (names that differ only in case "
                         "count as the same); rename keep or the output columns.")
    out = ["SELECT", ",\n".join("  " + c for c, _ in columns), f"FROM {source}"]
    if order:
        out.append("ORDER BY " + ", ".join(f"{alias}.{_sql_ident(c)}" for c in order))
    return "\n".join(out)


def _names(value: Any, what: str) -> list[str]:
    """A column or table name, or a sequence of them, as a list of str."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
        return list(value)
    raise TypeError(f"{what} must be a str or a list or tuple of str, got {value!r} ({type(value).__name__}).")


def _label_kind(v: Any) -> str:
    return "str" if isinstance(v, str) else "bool" if isinstance(v, bool) else "numeric"


def _sql_rule(rule: Any, flt: Any, literal: Any, alias: str) -> str:
    if not rule.conditions:
        return "1 = 1"
    return "\n     AND ".join(_sql_condition(c, flt, literal, alias) for c in rule.conditions)


def _sql_condition(c: Condition, flt: Any, literal: Any, alias: str) -> str:
    col = f"{alias}.{_sql_ident(c.feature)}"
    if c.op == "is missing":
        return f"{col} IS NULL"
    if c.op == "is not missing":
        return f"{col} IS NOT NULL"
    if c.is_numeric:
        test = _sql_compare(col, *c.integer_exact_bound(), flt)
    else:
        levels = sorted(c.value, key=_level_key)
        if not levels:
            test = c.op == "not in"
        else:
            kw = "IN" if c.op == "in" else "NOT IN"
            test = f"{col} {kw} ({', '.join(literal(v) for v in levels)})"
    # test: SQL that is TRUE where a present value satisfies the condition (NULL where
    # the value is missing), or a bool when the answer is the same for every present value.
    if test is True:
        return "1 = 1" if c.missing else f"{col} IS NOT NULL"
    if test is False:
        return f"{col} IS NULL" if c.missing else "1 = 0"
    return f"({col} IS NULL OR {test})" if c.missing else test


def _sql_compare(col: str, op: str, t: float, flt: Any) -> str | bool:
    """``col op t`` for every float64 value, with infinite ``t`` written by finite literals."""
    if math.isfinite(t):
        return f"{col} {op} {flt(t)}"
    big = flt(_DBL_MAX)
    if t > 0:
        return {"<=": True, "<": f"{col} <= {big}", ">": False, ">=": f"{col} > {big}"}[op]
    return {"<=": f"{col} < -{big}", "<": False, ">": f"{col} >= -{big}", ">=": True}[op]


# -- Python ----------------------------------------------------------------------
_PY_HEADER = '''"""A rule model exported by rulekd; plain Python, no imports.

``predict(row)`` answers one row: a mapping from feature name to value, where
``None`` or a float NaN is a missing value. ``predict_proba(row)`` gives the
class probabilities in ``CLASSES`` order and ``decided_by(row)`` the id of the
rule that answers (``DEFAULT_ID`` where none does). ``FEATURES`` lists the
features the rules read.
"""
'''

_PY_MISSING = '''

def _missing(value):
    if value is None:
        return True
    try:
        return bool(value != value)  # NaN is the one value unequal to itself
    except (TypeError, ValueError):  # pandas.NA and other unknown markers
        return True
'''

_PY_API = '''

def predict(row):
    """The predicted class of one row."""
    return _PREDICTIONS[_rule(row)]


def predict_proba(row):
    """The class probabilities of one row, in CLASSES order."""
    return _PROBA[_rule(row)]


def decided_by(row):
    """The id of the rule that answers one row, or DEFAULT_ID."""
    i = _rule(row)
    return RULE_IDS[i] if i >= 0 else DEFAULT_ID
'''


def to_python(model_or_rules: Any) -> str:
    """Source of a dependency-free Python module that evaluates the rules.

    The module defines ``predict(row)``, ``predict_proba(row)`` and
    ``decided_by(row)`` for one row (a mapping feature name -> value; ``None``
    or a float NaN is missing), and the constants ``CLASSES``, ``FEATURES`` and
    ``RULE_IDS``. Names, levels and labels enter the text only as ``repr()`` of
    plain ``str``, ``int``, ``float`` and ``bool`` values; thresholds are the
    exact float64 bounds, written with their round-trip ``repr``.

    Parameters
    ----------
    model_or_rules : RuleSet or fitted rule student

    Returns
    -------
    str

    Examples
    --------
    >>> from rulekd.rules import Condition, Rule, RuleSet
    >>> rs = RuleSet(rules=(Rule((Condition("x", ">", 0.5, missing=True),), 1, proba=(0.2, 0.8)),),
    ...              classes=(0, 1), default=0)
    >>> namespace = {}
    >>> exec(to_python(rs), namespace)
    >>> namespace["predict"]({"x": 0.7}), namespace["predict"]({"x": None})
    (1, 1)
    >>> namespace["predict_proba"]({"x": 0.1})
    (1.0, 0.0)
    """
    rs, _ = _resolve(model_or_rules)
    for label in (*rs.classes, rs.default):
        _check_label(label, "class labels")
    feats: list[str] = []
    numeric: set[str] = set()
    for r in rs.rules:
        for c in r.conditions:
            if c.feature not in feats:
                feats.append(c.feature)
            if c.is_numeric:
                numeric.add(c.feature)
    if rs.feature_names is not None:
        feats.sort(key=rs.feature_names.index)
    var = {f: j for j, f in enumerate(feats)}
    level_sets: dict[frozenset, str] = {}
    table = rs.proba_table()

    def levels_name(values: frozenset) -> str:
        if values not in level_sets:
            level_sets[values] = f"_LEVELS_{len(level_sets)}"
        return level_sets[values]

    def cond(c: Condition) -> str:
        j = var[c.feature]
        if c.op == "is missing":
            return f"m{j}"
        if c.op == "is not missing":
            return f"(not m{j})"
        if c.is_numeric:
            op, t = c.integer_exact_bound()
            test = f"x{j} {op} {_py_literal(t)}"
        else:
            test = f"v{j} {c.op} {levels_name(c.value)}"
        return f"(m{j} or {test})" if c.missing else f"(not m{j} and {test})"

    body = ["", "", "def _rule(row):", '    """Index of the answering rule, -1 where the default answers."""']
    for f in feats:
        j = var[f]
        key = _py_literal(f)
        if f.isascii() and f.isdigit() and str(int(f)) == f:
            # A frame's integer column label ('0' for the column 0), which RuleSet.predict reads either way.
            body.append(f"    v{j} = row[{key}] if {key} in row else row[{int(f)}]")
        else:
            body.append(f"    v{j} = row[{key}]")
        body.append(f"    m{j} = _missing(v{j})")
        if f in numeric:
            # An integer stays one: Python compares it with a float exactly (float() would round past 2**53).
            body.append(f"    x{j} = None if m{j} else (int(v{j}) if hasattr(v{j}, '__index__') else float(v{j}))")
            body.append(f"    m{j} = m{j} or x{j} != x{j}  # text such as 'nan' is a missing value, as in RuleSet.predict")
    for i in _priority(rs):
        conds = [cond(c) for c in rs.rules[i].conditions]
        if not conds:
            body.append(f"    return {i}")
            break
        body.append("    if (")
        body.append("        " + conds[0])
        body.extend(f"        and {t}" for t in conds[1:])
        body.append("    ):")
        body.append(f"        return {i}")
    else:
        body.append("    return -1")

    head = [_PY_HEADER, "_INF = float(\"inf\")"]
    head.append(f"CLASSES = {_py_tuple([_py_literal(c) for c in rs.classes])}")
    head.append(f"FEATURES = {_py_tuple([_py_literal(f) for f in feats])}")
    head.append(f"RULE_IDS = {_py_tuple([_py_literal(rs.rule_id(i)) for i in range(len(rs.rules))])}")
    student = rs.default_is_student  # a hybrid's rules: rows no rule answers belong to its neural student
    head.append(f"DEFAULT_ID = {_py_literal(rs.default_id)}")
    if student:
        head.append("# Rows no rule answers belong to the hybrid's neural student: predict and predict_proba "
                    "give None there.")
    head.append("# One entry per rule, in rule order, then the default's.")
    preds = [_py_literal(r.prediction) for r in rs.rules] + ["None" if student else _py_literal(rs.default)]
    head.append(f"_PREDICTIONS = {_py_tuple(preds)}")
    rows = [_py_tuple([_py_literal(float(p)) for p in row]) for row in table]
    if student:
        rows[-1] = "None"
    head.append("_PROBA = (\n" + "".join(f"    {r},\n" for r in rows) + ")")
    for values, name in level_sets.items():
        items = [_py_literal(v) for v in sorted(values, key=_level_key)]
        head.append(f"{name} = frozenset({_py_tuple(items)})" if items else f"{name} = frozenset()")
    source = "\n".join(head) + "\n" + _PY_MISSING + "\n".join(body) + "\n" + _PY_API
    compile(source, "<rulekd export>", "exec")  # a bug here must not ship broken code
    return source


# -- one entry point ---------------------------------------------------------------
def export(model_or_rules: Any, format: str = "text", *, path: Any = None, overwrite: bool = False,
           **options: Any) -> str:
    """Export a rule set or a fitted rule student in one of :data:`EXPORT_FORMATS`.

    Parameters
    ----------
    model_or_rules : RuleSet or fitted rule student
    format : {"text", "tree", "sql", "python", "json"}, default="text"
        ``"text"``: :func:`to_text` (``style="list"``); ``"tree"``:
        :func:`to_text` with ``style="tree"``; ``"sql"``: :func:`to_sql`;
        ``"python"``: :func:`to_python`; ``"json"``: ``RuleSet.to_json``.
    path : str or path-like, optional
        Also write the text to this file (UTF-8). An existing file is kept
        (``FileExistsError``) unless ``overwrite=True``; a directory is
        refused; a symbolic link's target is written.
    overwrite : bool, default=False
        Replace an existing file at ``path`` (atomically: the old content
        stays until the new is complete).
    **options
        Passed to the exporter (e.g. ``table=`` for SQL, ``ids=`` for text).

    Returns
    -------
    str

    Examples
    --------
    >>> from rulekd.rules import Condition, Rule, RuleSet
    >>> rs = RuleSet(rules=(Rule((Condition("x", ">", 0.5),), 1),), classes=(0, 1), default=0)
    >>> print(export(rs, "text"))
    if x > 0.5 then 1
    else 0
    """
    rs, _ = _resolve(model_or_rules)
    if "style" in options:
        raise TypeError("export takes the text style from format: format='text' for the listing, "
                        "format='tree' for the tree view (not style=).")
    if format == "text":
        text = to_text(model_or_rules, "list", **options)
    elif format == "tree":
        text = to_text(model_or_rules, "tree", **options)
    elif format == "sql":
        text = to_sql(model_or_rules, **options)
    elif format == "python":
        text = to_python(model_or_rules, **options)
    elif format == "json":
        text = rs.to_json(**options)
    else:
        raise ValueError(f"format must be one of {', '.join(EXPORT_FORMATS)}; got {format!r}.")
    if path is not None:
        from .._io import write_text

        write_text(path, text, overwrite=overwrite)
    return text
