"""The ``distill``, ``predict``, ``audit`` and ``export`` commands of :mod:`rulekd.cli`.

Each ``cmd_*`` takes parsed arguments and returns an exit code; bad input is a
:class:`rulekd.cli.CLIError` (or a :class:`~rulekd.exceptions.RulekdError`),
which ``main`` prints as one line with exit code 2.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import sys
import warnings
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import pandas as pd

from ._tables import (check_new_file, check_writable, read_table, refuse_inside_model_directory, refuse_nested,
                      refuse_non_csv_output, na_tokens, separator_hint, split_target, write_csv,
                      ZERO_PADDED, zero_padded_columns)
from .exceptions import RulekdError
from .verify._cli import _positive_float

MODELS = ("rules", "tree", "mlp", "hybrid")
EXPORT_FORMATS = ("text", "tree", "json", "sql", "python")


def _cli_error(msg: str) -> Exception:
    from .cli import CLIError

    return CLIError(msg)


@contextlib.contextmanager
def _progress(steps: list[str], quiet: bool) -> Iterator[Any]:
    """A step counter on stderr (tqdm), shown only on a terminal and without ``--quiet``."""
    bar = None
    if not quiet and sys.stderr.isatty():
        try:
            from tqdm import tqdm
        except ImportError:
            tqdm = None
        if tqdm is not None:
            bar = tqdm(total=len(steps), file=sys.stderr, leave=False, bar_format="{desc} [{n}/{total}] {elapsed}")

    started = [False]

    def step(name: str) -> None:
        if bar is None:
            return
        if started[0]:
            bar.update(1)
        started[0] = True
        bar.set_description_str(name)

    try:
        yield step
    finally:
        if bar is not None:
            bar.close()


def _say(args: argparse.Namespace):
    return (lambda *a: None) if getattr(args, "quiet", False) else (lambda *a: print(*a, flush=True))


# -- distill -------------------------------------------------------------------------------------
def _teacher(spec: str) -> Any:
    """``xgboost`` (default teacher, fitted here), an XGBoost model JSON file (used frozen), or a rulekd
    model directory (or its teacher file), whose teacher is used as is with its own class labels."""
    if spec == "xgboost":
        return None
    p = Path(spec)
    from ._persist import _is_model_directory, enclosing_model_directory, load

    home = (p if p.is_dir() and _is_model_directory(p)
            else enclosing_model_directory(p) if p.is_file() and p.name.startswith("teacher") else None)
    if home is not None:
        # An XGBoost JSON keeps no class labels (a model fitted on text labels reads back as 0, 1, ...):
        # the model directory's teacher adapter knows them.
        teacher = getattr(load(home), "teacher_", None)
        if teacher is None:
            raise _cli_error(f"--teacher {spec!r}: the model directory {str(home)!r} holds no teacher (it was "
                             f"left out when saved); pass an XGBoost model JSON file or 'xgboost'.")
        return teacher
    if not p.is_file():
        raise _cli_error(f"--teacher {spec!r}: expected 'xgboost' or an XGBoost model JSON file, and no such file exists.")
    import xgboost as xgb
    from sklearn.frozen import FrozenEstimator

    model = xgb.XGBClassifier()
    try:
        model.load_model(str(p))
    except (xgb.core.XGBoostError, ValueError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        # XGBoost's messages open with a time stamp and a source location ("[12:00:00] /workspace/...h:88:")
        first = re.sub(r"^\[[^\]]*\]\s*", "", first)
        first = re.sub(r"^\S+\.(?:h|cc|cu):\d+:\s*", "", first)
        raise _cli_error(f"--teacher {spec!r} is not an XGBoost model file that XGBoost can read ({first[:200]}); "
                         f"save one with XGBClassifier.save_model('model.json').") from None
    return FrozenEstimator(model)


def _drop_columns(X: pd.DataFrame, drop: list[str], source: str, target: str) -> pd.DataFrame:
    """``X`` without the ``--drop`` columns (an id, a free-text note): they are not features."""
    unknown = [c for c in drop if c not in X.columns]
    if unknown:
        hint = " (it is the target)" if target in unknown else ""
        raise _cli_error(f"--drop {unknown[0]!r}{hint}: {source!r} has no such feature column "
                         f"(columns: {', '.join(map(repr, list(X.columns)[:20]))}).")
    X = X.drop(columns=list(dict.fromkeys(drop)))
    if X.shape[1] == 0:
        raise _cli_error(f"--drop leaves no feature columns in {source!r}.")
    return X


def _in_teacher_order(X: pd.DataFrame, teacher: Any) -> pd.DataFrame:
    """``X`` with its columns in the order a loaded teacher was fitted on; the student reads columns by
    name, so this changes no answer. (The teacher adapter would reorder them too, ``_adapter._aligned``: this
    check is here for its message in the command line's words, before any fitting.)"""
    names = getattr(getattr(teacher, "estimator", None), "feature_names_in_", None)
    if names is None:
        return X
    names = [str(n) for n in names]
    if list(X.columns) == names:
        return X
    if set(X.columns) != set(names):
        missing, extra = sorted(set(names) - set(X.columns)), sorted(set(X.columns) - set(names))
        raise _cli_error(
            f"The teacher was fitted on the columns {names[:10]}{' ...' if len(names) > 10 else ''}; the data "
            f"{'lacks ' + str(missing[:10]) if missing else ''}{' and ' if missing and extra else ''}"
            f"{'has also ' + str(extra[:10]) if extra else ''}. Give the data the teacher's feature columns."
        )
    return X[names]


def _build_model(args: argparse.Namespace, teacher: Any) -> Any:
    from . import DistilledMLPClassifier, DistilledRuleClassifier, DistilledTreeClassifier, HybridClassifier

    seed = args.seed
    if not 0 <= seed < 2**32:  # the API's message named numpy's RandomState
        raise _cli_error(f"--seed must be a whole number from 0 to 4294967295, got {seed}.")
    if args.max_rules is not None and args.max_rules < 1:
        raise _cli_error(f"--max-rules must be at least 1, got {args.max_rules}.")
    if args.max_conditions is not None and args.max_conditions < 1:
        raise _cli_error(f"--max-conditions must be at least 1, got {args.max_conditions}.")
    if args.max_conditions is not None and args.model != "rules":
        raise _cli_error("--max-conditions applies to --model rules only; for a tree, --max-rules bounds its leaves.")
    if args.transparency is not None and not 0 < args.transparency <= 1:
        raise _cli_error(f"--transparency must be in (0, 1], got {args.transparency}.")
    if args.transparency is not None and args.model != "hybrid":
        raise _cli_error("--transparency applies to --model hybrid only.")
    if args.guards and args.model != "hybrid":
        raise _cli_error("--guard applies to --model hybrid only; check properties of other models with `rulekd verify`.")
    kind = getattr(args, "kind", None)  # a Namespace made in code may lack the newer options
    if kind is not None and args.model != "rules":
        raise _cli_error("--kind applies to --model rules only (a tree's leaves are disjoint; a hybrid's rules a list).")
    n_syn = _n_synthetic_arg(getattr(args, "n_synthetic", "auto"))
    domain = _domain_arg(getattr(args, "domain", None))
    if args.model == "rules":
        return DistilledRuleClassifier(teacher=teacher, max_rules=args.max_rules or 16, n_synthetic=n_syn,
                                       max_conditions=args.max_conditions, kind=kind or "list",
                                       domain=domain, random_state=seed)
    if args.model == "tree":
        return DistilledTreeClassifier(teacher=teacher, max_leaf_nodes=args.max_rules or 16, n_synthetic=n_syn,
                                       domain=domain, random_state=seed)
    if args.model == "mlp":
        return DistilledMLPClassifier(teacher=teacher, n_synthetic=n_syn, domain=domain, random_state=seed)
    # The hybrid's own candidate rule student unless a budget is given (as it was benchmarked: no polish).
    rules = None if args.max_rules is None else DistilledRuleClassifier(max_rules=args.max_rules, polish=False)
    transparency = 0.5 if args.transparency is None else args.transparency
    # --max-rules bounds the rules that answer (it sized only the candidate student's, and 24 answered for 4).
    cap = {} if args.max_rules is None else {"max_rules": args.max_rules}
    return HybridClassifier(teacher=teacher, rules=rules, transparency=transparency, guards=tuple(args.guards),
                            n_synthetic=n_syn, domain=domain, random_state=seed, **cap)


def _domain_arg(path: str | None) -> Any:
    """``--domain``: the Domain JSON file (as ``Domain.to_json`` writes it), or None."""
    if path is None:
        return None
    from .domain import Domain

    if not Path(path).is_file():
        raise _cli_error(f"--domain {path!r} is not a file; write one with Domain.from_data(X).to_json(path).")
    try:
        return Domain.from_json(Path(path))
    except RulekdError as exc:
        raise _cli_error(f"--domain {path!r}: {exc}") from None


def _declared_categories(X: pd.DataFrame, domain: Any) -> pd.DataFrame:
    """Columns a ``--domain`` declares categorical but the CSV holds as numbers (levels 1, 2, 3) become
    categories, so that the Domain written by ``Domain.to_json`` for such data is accepted."""
    if domain is None:
        return X
    cols = [s.name for s in domain.features if s.kind == "categorical" and s.name in X.columns
            and pd.api.types.is_numeric_dtype(X[s.name].dtype)
            and not isinstance(X[s.name].dtype, pd.CategoricalDtype)]
    return X.astype({c: "category" for c in cols}) if cols else X


def _check_domain_columns(X: pd.DataFrame, domain: Any, path: str | None, target: str) -> None:
    """``--domain`` must list exactly the feature columns (the file's columns less the target and
    ``--drop``); said in the CLI's words before the fit says it in the API's."""
    if domain is None:
        return
    cols = [str(c) for c in X.columns]
    extra = [c for c in cols if c not in domain]
    absent = [n for n in domain.names if n not in set(cols)]
    if not extra and not absent:
        return
    parts = []
    if extra:
        parts.append(f"the data has columns {extra[:10]} that --domain {path!r} lacks: leave them out with "
                     + " ".join(f"--drop {c}" for c in extra[:3]) + (" ..." if len(extra) > 3 else "")
                     + ", or add them to the Domain file")
    if absent:
        where = (f"; {target!r} is the target, which the Domain must not list" if target in absent
                 else "; check the column names (and --drop)")
        parts.append(f"--domain {path!r} lists features {absent[:10]} the data lacks{where}")
    raise _cli_error("--domain must list exactly the feature columns: " + "; ".join(parts) + ".")


def _n_synthetic_arg(text: str) -> Any:
    """``--n-synthetic``: "auto" or a whole number >= 0."""
    if text == "auto":
        return "auto"
    try:
        n = int(text)
    except ValueError:
        n = -1
    if n < 0:
        raise _cli_error(f"--n-synthetic must be 'auto' or a whole number >= 0, got {text!r}.")
    return n


def cmd_distill(args: argparse.Namespace) -> int:
    """Fit a student (or hybrid) on a CSV/Parquet file and save it as a model directory."""
    from ._persist import save

    say = _say(args)
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise _cli_error(f"--out {str(out)!r} exists and is not a directory.")
    if out.is_dir() and any(out.iterdir()):
        from ._persist import _is_model_directory

        if not _is_model_directory(out):  # --force would not help: say so before it is tried
            raise _cli_error(f"--out {str(out)!r} is a folder with other files, not a rulekd model directory "
                             f"(no manifest.json listing exactly its files); --force replaces only a model "
                             f"directory (rulekd never deletes another folder). Choose another folder.")
        if not args.force:
            raise _cli_error(f"--out {str(out)!r} holds a model; pass --force to replace it, or choose another "
                             f"folder.")
    _check_model_folder(out)
    with _progress(["reading data", "fitting", "saving"], args.quiet) as step:
        step("reading data")
        declared = _domain_arg(getattr(args, "domain", None))
        numeric = set() if declared is None else {f.name for f in declared.features if f.kind != "categorical"}
        codes = [c for c in zero_padded_columns(args.data, args.encoding) if c not in numeric]  # --domain wins
        frame = read_table(args.data, encoding=args.encoding, text_columns=codes)  # "01" stays "01"
        _warn_na_tokens(na_tokens(args.data, frame, args.encoding), args.data)
        X, y = split_target(frame, args.target, args.data)
        X = _drop_columns(X, args.drop, args.data, args.target)
        _refuse_unnamed(X, args.data)
        padded = [c for c in codes if c in X.columns]
        if padded:
            print(f"rulekd distill: warning: column(s) {padded[:10]} of {args.data!r} hold numbers written with "
                  f"leading zeros (such as {_padded_example(X[padded[0]])!r}): read as codes (categorical levels), "
                  f"not as numbers, so '007' and '7' stay apart. If they are amounts, write them without the zeros.",
                  file=sys.stderr)
        refuse_nested(X, args.data)
        domain_file = getattr(args, "domain", None)
        X = _declared_categories(X, declared)
        _check_domain_columns(X, declared, domain_file, args.target)
        _warn_formatted_numbers(X, args.data)
        teacher = _teacher(args.teacher)
        X = _in_teacher_order(X, teacher)
        model = _build_model(args, teacher)
        step(f"fitting {type(model).__name__} on {len(X)} rows")
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            model.fit(X, y)
        _print_warnings("distill", caught)
        step("saving")
        save(model, out, overwrite=args.force)
    pred = model.predict(X)
    say(f"{type(model).__name__} fitted on {len(X)} rows of {args.data} ({X.shape[1]} features, target {args.target!r}).")
    if hasattr(model, "rules_"):
        say(model.rules_.to_text())
    say(f"training accuracy: {np.mean(pred == y):.3f}")
    fid = getattr(model, "fidelity_", None)
    if fid is not None:
        say(f"fidelity to the teacher (held-out transfer rows): {fid:.3f}")
    if hasattr(model, "transparency_"):
        say(f"transparency (validation rows answered by rules): {model.transparency_:.3f}")
    say(f"saved to {out}/")
    return 0


_FORMATTED_NUMBER = r"^[-+]?\d{1,3}(,\d{3})+(\.\d+)?$"


def _warn_formatted_numbers(X: pd.DataFrame, source: str) -> None:
    """A warning for text columns whose values are numbers written with thousands separators ("1,000"):
    read as text, they become a categorical feature with one level per number."""
    for c in X.columns:
        col = X[c]
        if not (col.dtype == object or isinstance(col.dtype, pd.CategoricalDtype)
                or pd.api.types.is_string_dtype(col.dtype)):
            continue
        text = col.dropna().astype(str).str.strip()
        comma = text[text.str.contains(",", regex=False)]
        # Thousands only where every comma is one ("18,5" or "0,125" are decimal commas: removing the comma
        # as advised would make them 185 and 125).
        if len(comma) and comma.str.fullmatch(_FORMATTED_NUMBER).all() and not comma.str.match(r"[-+]?0,").any() \
                and text.str.replace(",", "", regex=False).str.fullmatch(r"^[-+]?\d+(\.\d+)?$").all():
            print(f"rulekd distill: warning: column {str(c)!r} of {source!r} holds numbers written with thousands "
                  f"separators (e.g. {text[text.str.contains(',')].iloc[0]!r}); they are read as text, a categorical "
                  f"feature with one level per number. Remove the separators to make it numeric.", file=sys.stderr)
            continue
        number = text.str.fullmatch(r"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?")
        kind = _text_kind(text) if len(text) and number.mean() < 0.9 else None
        if kind is not None:
            what, fix = kind
            example = text[~number].iloc[0]
            print(f"rulekd distill: warning: column {str(c)!r} of {source!r} holds {what} (e.g. {example!r}); they "
                  f"are read as text, a categorical feature with one level per value, and a value not seen in "
                  f"training is refused at predict time. {fix}", file=sys.stderr)
            continue
        odd = sorted(set(text[~number]))
        if len(text) and number.mean() >= 0.9 and 0 < len(odd) <= 3:
            # Numbers but for a marker such as "?" (UCI's missing values): a level per number, silently.
            print(f"rulekd distill: warning: column {str(c)!r} of {source!r} holds numbers except {odd} "
                  f"({int((~number).sum())} cells); it is read as text, a categorical feature with one level per "
                  f"number. If those cells are missing values, leave them empty (or write NA) to make it numeric.",
                  file=sys.stderr)


_DATE = r"\d{4}-\d{1,2}-\d{1,2}([ T]\d{1,2}:\d{2}(:\d{2}(\.\d+)?)?)?|\d{1,2}[/.]\d{1,2}[/.]\d{2,4}"


def _text_kind(text: pd.Series) -> tuple[str, str] | None:
    """What most cells of a text column are when they are numbers in disguise (dates, amounts with currency or
    percent signs, decimal commas), with the fix; None otherwise."""
    def most(mask: pd.Series) -> bool:
        return bool(mask.mean() >= 0.9)

    if most(text.str.fullmatch(_DATE)):
        return "dates", "Convert them to numbers first (e.g. the year, or days since a reference date)."
    bare = text.str.replace(r"[$€£¥%]", "", regex=True).str.strip()
    plain = r"[-+]?(\d+\.?\d*|\.\d+)"
    if (bare != text).any() and most(bare.str.replace(",", "", regex=False).str.fullmatch(plain)):
        return ("amounts written with currency or percent signs",
                "Remove the signs (and thousands separators) to make it numeric.")
    if most(text.str.fullmatch(r"[-+]?\d+,\d+")):
        return "numbers written with a decimal comma", "Write them with a decimal point to make it numeric."
    return None


def _padded_example(col: pd.Series) -> str:
    """A value of ``col`` written with a leading zero."""
    values = col.dropna().astype(str)
    hit = values[values.str.strip().str.fullmatch(ZERO_PADDED)]
    return str(hit.iloc[0]) if len(hit) else str(values.iloc[0])


def _refuse_unnamed(X: pd.DataFrame, source: str) -> None:
    """A feature whose header cell is empty: pandas names it by its position ("Unnamed: 3"), so a file with
    its columns in another order would feed another column to it (often it is a saved row index)."""
    unnamed = [c for c in X.columns if re.fullmatch(r"Unnamed: \d+", str(c))]
    if unnamed:
        raise _cli_error(
            f"{source!r} has column(s) with no name in the header ({', '.join(map(repr, unnamed[:5]))}, as pandas "
            f"calls them by position; often a saved row index). Columns are matched by name at predict time, so "
            f"name them in the header, or leave them out with --drop {str(unnamed[0])!r}."
        )


def _warn_na_tokens(found: dict[str, dict[str, int]], source: str) -> None:
    """A warning for words read as missing values in text columns ("NA" may be a level: not applicable)."""
    for c, tokens in found.items():
        shown = ", ".join(f"{t!r} ({n})" for t, n in list(tokens.items())[:5])
        print(f"rulekd distill: warning: column {c!r} of {source!r}: cells {shown} were read as missing values. "
              f"If such a word is a level of its own (e.g. 'NA' for not applicable), rename it in the file (e.g. "
              f"to 'not applicable'); empty cells are missing values.", file=sys.stderr)


def _print_warnings(command: str, caught: list) -> None:
    """The warnings a command's work raised, on stderr (deprecations left out)."""
    for w in caught:
        if not issubclass(w.category, (DeprecationWarning, FutureWarning)):
            msg = str(w.message)  # in full: a guard conflict names the rule and the guard
            msg = msg if len(msg) <= 2000 else msg[:2000] + " ... (cut at 2,000 characters)"
            print(f"rulekd {command}: warning: {msg}", file=sys.stderr)


def _check_model_folder(out: Path) -> None:
    """Before fitting: the model directory ``out`` can be created (it is written next to it, then renamed)."""
    probe = out.parent if str(out.parent) else Path(".")
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    if not probe.is_dir():
        raise _cli_error(f"--out {str(out)!r} cannot be created: {str(probe)!r} is a file, not a folder.")
    refuse_inside_model_directory(out)
    check_writable(probe)


# -- predict --------------------------------------------------------------------------------------
def _load_model(path: str) -> Any:
    from ._persist import load

    p = Path(path)
    if not p.exists():
        raise _cli_error(f"Model directory {path!r} does not exist.")
    if not p.is_dir():
        raise _cli_error(f"{path!r} is not a model directory (written by `rulekd distill` or rulekd.save).")
    return load(p)


def _text_features(model: Any) -> dict[str, list[str]]:
    """The model's categorical features whose levels are all text, with their levels: read as text from a CSV
    (a level such as "NA" as itself, not as a missing value)."""
    domain = getattr(model, "domain_", None)
    if domain is None:
        return {}
    return {s.name: list(s.levels) for s in domain.features
            if s.kind == "categorical" and s.levels and all(isinstance(v, str) for v in s.levels)}


def _features(model: Any, frame: pd.DataFrame, source: str) -> pd.DataFrame:
    names = getattr(model, "feature_names_in_", None)
    if names is None:
        n = model.n_features_in_
        if frame.shape[1] != n:
            raise _cli_error(f"{source!r} has {frame.shape[1]} columns; the model expects {n}.")
        return frame
    missing = [c for c in names if c not in frame.columns]
    if missing:
        have = [str(c) for c in frame.columns]
        hint = separator_hint(frame.columns)
        raise _cli_error(
            f"{source!r} lacks the model's feature column(s) {missing[:10]}; the model was fitted on "
            f"{len(names)} columns: {list(names)[:10]}{' ...' if len(names) > 10 else ''}. The file's columns: "
            f"{have[:10]}{' ...' if len(have) > 10 else ''}.{hint}"
        )
    return frame[list(names)]


def cmd_predict(args: argparse.Namespace) -> int:
    """Predictions of a saved model for every row of a data file, as CSV in input order."""
    model = _load_model(args.model)
    to_stdout = args.out == "-"  # as for export: "-" is the standard output, not a file named "-"
    if not to_stdout:
        refuse_non_csv_output(args.out)
    out = None if to_stdout else check_new_file(args.out, args.force, inputs=(args.data,))
    texts = _text_features(model)
    frame = read_table(args.data, encoding=args.encoding, text_columns=list(texts), text_levels=texts,
                       keep_blank_lines=True)
    blank = frame.attrs.get("blank_rows", [])
    skip = getattr(args, "skip_refused", False)
    if blank and not skip:
        shown = ", ".join(str(i + 1) for i in blank[:10]) + (" ..." if len(blank) > 10 else "")
        raise _cli_error(
            f"{args.data!r} has {len(blank)} empty line(s) between its rows (data row(s) {shown}, counted from 1 "
            f"after the header): predictions are one per row, in input order, so they would no longer line up "
            f"with the lines. Remove the empty lines, or pass --skip-refused to get an empty prediction for each."
        )
    X = _features(model, frame, args.data)
    refuse_nested(X, args.data)
    reasons = np.full(len(X), "", dtype=object)
    if skip:
        X, reasons = _refused(model, X)
        reasons[blank] = "empty line"
    ok = reasons == ""
    result = pd.DataFrame(index=pd.RangeIndex(len(X)))
    if ok.all():  # every row: the answers as they are (dtypes kept)
        _answers(model, X, args.proba, result)
        if skip:
            result["refused"] = reasons  # the same columns whether or not a row was refused
    else:
        part = _answers(model, X[ok], args.proba, pd.DataFrame(index=pd.RangeIndex(int(ok.sum())))) \
            if ok.any() else None
        for name in ["prediction"] + (["decided_by"] if hasattr(model, "decided_by") else []) + (
                [f"proba_{c}" for c in model.classes_] if args.proba else []):
            column = np.full(len(X), None, dtype=object)  # the answered rows' values as they are (no float cast)
            if part is not None:
                column[ok] = part[name].to_numpy(dtype=object)
            result[name] = column
        result["refused"] = reasons
        print(f"rulekd predict: {int((~ok).sum())} of {len(X)} rows refused (no prediction; the 'refused' column "
              f"says why)", file=sys.stderr)
    if to_stdout:
        result.to_csv(sys.stdout, index=False)
        return 0
    write_csv(result, out, args.force)
    _say(args)(f"wrote {int(ok.sum())} predictions to {out}" + (f" ({int((~ok).sum())} rows refused, left empty)"
                                                                 if not ok.all() else ""))
    return 0


def _answers(model: Any, X: pd.DataFrame, proba: bool, result: pd.DataFrame) -> pd.DataFrame:
    """``result`` (indexed like ``X``'s rows) with prediction, decided_by and the probability columns."""
    result["prediction"] = model.predict(X)
    if hasattr(model, "decided_by"):
        result["decided_by"] = model.decided_by(X)
    if proba:
        P = model.predict_proba(X)
        for k, c in enumerate(model.classes_):
            result[f"proba_{c}"] = P[:, k]
    return result


# Words a CSV reader takes for booleans (pandas reads a column of only these as bool, True being 1).
_BOOL_WORDS = {"true": 1.0, "false": 0.0}


def _refused(model: Any, X: pd.DataFrame) -> tuple[pd.DataFrame, np.ndarray]:
    """Per row, why the model would refuse it ("" where it answers): ``--skip-refused``.

    The refusals rows can earn are the Domain's: a level the model never saw, text in a numeric feature,
    infinity, and (rules answer only inside the Domain; the neural student imputes) a missing value in a
    feature that had none. Returns ``X`` with such text cells made missing (numeric features read as numbers) and the
    reasons.
    """
    domain = model.domain_
    rules = hasattr(model, "rules_")
    why = [[] for _ in range(len(X))]
    X = X.copy()
    for spec in domain.features:
        col = X[spec.name]
        if spec.kind == "categorical":
            known = pd.Index(list(spec.levels), dtype=object)
            unseen = col.notna().to_numpy() & (known.get_indexer(col.astype(object).to_numpy()) < 0)
            for i in np.flatnonzero(unseen):
                v = col.iloc[i]
                why[i].append(f"{spec.name}: level {(v.item() if isinstance(v, np.generic) else v)!r} unseen during fit")
        elif not pd.api.types.is_numeric_dtype(col.dtype) or isinstance(col.dtype, pd.CategoricalDtype):
            values = col.astype(object)
            if spec.kind == "binary":
                # One bad cell makes pandas read a True/False column as text: the other cells are still
                # the binary feature they were at fit (True is 1), only the bad one is refused.
                values = values.map(lambda v: _BOOL_WORDS.get(v.strip().lower(), v) if isinstance(v, str) else v)
            number = pd.to_numeric(values, errors="coerce")
            text = col.notna().to_numpy() & number.isna().to_numpy()
            for i in np.flatnonzero(text):
                why[i].append(f"{spec.name}: {col.iloc[i]!r} is not a number")
            X[spec.name] = number.astype("float64")
            col = X[spec.name]
        if spec.kind != "categorical" and pd.api.types.is_numeric_dtype(col.dtype):
            for i in np.flatnonzero(np.isinf(col.to_numpy(dtype=np.float64, na_value=np.nan))):
                why[i].append(f"{spec.name}: {float(col.iloc[i])!r} is not a finite number")
        if rules and not spec.allow_missing:
            for i in np.flatnonzero(col.isna().to_numpy()):
                if not any(w.startswith(f"{spec.name}: ") for w in why[i]):
                    why[i].append(f"{spec.name}: missing, never missing during fit")
    return X, np.array(["; ".join(w) for w in why], dtype=object)


# -- audit -------------------------------------------------------------------------------------------
def cmd_audit(args: argparse.Namespace) -> int:
    """The audit report of a saved model on labelled data (HTML, and JSON with --json)."""
    from .audit import audit

    model = _load_model(args.model)
    out = check_new_file(args.out, args.force, inputs=(args.data,))
    if out.suffix.lower() not in (".html", ".htm"):
        raise _cli_error(f"--out {args.out!r}: the report is HTML; use a name ending in .html (and --json for JSON).")
    json_out = check_new_file(args.json, args.force, inputs=(args.data,)) if args.json else None
    if json_out is not None and os.path.realpath(json_out) == os.path.realpath(out):
        raise _cli_error(f"--json {args.json!r} is the same file as --out; give the JSON report a name of its own "
                         f"(e.g. ending in .json).")
    texts = _text_features(model)
    codes = [args.target] if all(isinstance(c, str) for c in model.classes_.tolist()) else []
    frame = read_table(args.data, encoding=args.encoding, text_columns=list(texts) + codes, text_levels=texts)
    X, y = split_target(frame, args.target, args.data)
    y = _as_model_labels(y, model.classes_.tolist())
    for c in args.protected:
        if c == args.target:
            raise _cli_error(f"--protected {c!r} is the target (--target); name the protected feature, e.g. a "
                             f"column such as sex or age group.")
        if c not in X.columns:
            raise _cli_error(f"--protected {c!r} is not a column of {args.data!r}.")
    protected = {c: X[c] for c in args.protected} if args.protected else None
    X = _features(model, X, args.data)
    refuse_nested(X, args.data)
    refuse_nested(pd.DataFrame(protected or {}), args.data)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        report = audit(model, X, y, protected=protected, properties=_audit_properties(args.properties, model),
                       time_budget_s=args.time_budget_s, provenance=_file_provenance(args.data, args.model))
    _print_warnings("audit", caught)
    report.write_html(out, overwrite=args.force)
    if json_out is not None:
        report.write_json(json_out, overwrite=args.force)
    _say(args)(f"{report}\nwrote {out}" + (f" and {json_out}" if json_out else ""))
    return 0


def _file_provenance(data: str, model_dir: str) -> dict:
    """The data file and the model directory an audit read, with their SHA-256 (the manifest's for the model:
    it lists every file of the directory with its own). The model's replaces the fingerprint audit() takes of
    the loaded model, which a save would write anew (parameters not saved, such as a teacher, are defaults)."""
    from ._io import file_sha256

    return {"data_file": {"path": os.path.abspath(data), "sha256": file_sha256(data)},
            "model": {"sha256": file_sha256(Path(model_dir) / "manifest.json"), "path": os.path.abspath(model_dir),
                      "method": "SHA-256 of the model directory's manifest.json (it lists every file of the directory "
                                "with its SHA-256): sha256sum MODEL_DIR/manifest.json"}}


def _as_model_labels(y: Any, classes: list) -> Any:
    """A target column read as text because of a label the model lacks ("unknown" among 0 and 1): each
    value that reads as one of the model's number classes becomes that class; the others stay text, so
    the audit flags them instead of refusing the file."""
    y = pd.Series(y)
    if all(isinstance(c, str) for c in classes) or not (
            y.dtype == object or isinstance(y.dtype, (pd.CategoricalDtype, pd.StringDtype))):
        return y
    y = y.astype(object)

    def as_class(v: Any) -> Any:
        if isinstance(v, str):
            try:
                num = float(v.strip())
            except ValueError:
                return v
            for c in classes:
                if not isinstance(c, str) and num == c:
                    return c
        return v

    return y.map(as_class)


def _audit_properties(texts: list[str], model: Any) -> list[Any]:
    """``--property`` texts parsed and checked against the model's features and classes before the audit
    (inside it, a bad property only ended as the report's verification error, and the command exited 0)."""
    from .verify import parse_property

    out = []
    for text in texts:
        try:
            prop = parse_property(text)
            domain = getattr(model, "domain_", None)
            if domain is not None:
                prop.validate(domain, model.classes_.tolist())
        except ValueError as exc:
            raise _cli_error(f"--property {text!r}: {' '.join(str(exc).split())}") from None
        out.append(prop)
    return out


# -- export ------------------------------------------------------------------------------------------
def _rules_of(path: str) -> Any:
    from .rules import RuleSet

    p = Path(path)
    if p.is_dir():
        model = _load_model(path)
        if type(model).__name__ == "HybridClassifier":
            return model
        if not hasattr(model, "rules_"):
            raise _cli_error(f"The model in {path!r} ({type(model).__name__}) has no rules to export.")
        return model
    if not p.exists():
        raise _cli_error(f"{path!r} does not exist: pass a model directory or a rules JSON file.")
    return RuleSet.from_json(p)


def cmd_export(args: argparse.Namespace) -> int:
    """A model's rules as text, a tree, JSON, SQL or Python source (stdout by default)."""
    from .rules import export

    target = _rules_of(args.model)
    if type(target).__name__ == "HybridClassifier" and args.format != "text":
        raise _cli_error(
            "A hybrid's rules answer only part of the inputs (the neural student answers the rest), so they "
            "cannot be deployed alone as SQL, Python, JSON or a tree; use --format text to read them, and "
            "`rulekd predict` to score rows."
        )
    options: dict[str, Any] = {}
    sql_only = {"--table": args.table != "data", "--keep": bool(args.keep), "--order-by": bool(args.order_by),
                "--proba": args.proba, "--rule-column": args.rule_column is not None,
                "--float-literals": args.float_literals != "decimal"}
    if args.format == "sql":
        # --table a.b names a schema-qualified table (to_sql quotes each part).
        options.update(table=args.table.split(".") if "." in args.table else args.table, keep=args.keep,
                       order_by=args.order_by or None, proba=args.proba, rule_column=args.rule_column,
                       float_literals=args.float_literals)
    else:
        given = [flag for flag, used in sql_only.items() if used]
        if given:
            raise _cli_error(f"{given[0]} applies to --format sql only.")
    rules = target.rules_ if type(target).__name__ == "HybridClassifier" else target
    if args.format == "sql":
        _check_sql_columns(args, rules)
    try:
        text = export(rules, args.format, **options)  # a hybrid's rules end "else: the neural student"
    except ValueError as exc:
        if args.format == "tree" and str(exc).startswith("The tree view needs"):  # the API names style=
            raise _cli_error(str(exc).replace("Use style='list' for these rules.",
                                              "Use --format text for these rules.")) from None
        raise
    if args.out in (None, "-"):
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
        return 0
    from ._io import atomic_write_text

    out = check_new_file(args.out, args.force, inputs=(args.model,))
    try:
        atomic_write_text(out, text if text.endswith("\n") else text + "\n", replace=args.force)
    except FileExistsError:
        raise _cli_error(f"--out {args.out!r} appeared while rulekd was working; it was kept. Pass --force to "
                         f"replace it, or choose another path.") from None
    _say(args)(f"wrote {out}")
    return 0


def _check_sql_columns(args: argparse.Namespace, rules: Any) -> None:
    """The SQL result's columns must differ (regardless of case, as SQLite and DuckDB compare names);
    said with the flags that made them."""
    named = [(k, f"--keep {k}") for k in args.keep] + [("prediction", "the prediction column")]
    if args.proba:
        named += [(f"proba_{c}", "a probability column (--proba)") for c in getattr(rules, "rules_", rules).classes]
    if args.rule_column is not None:
        named.append((args.rule_column, f"--rule-column {args.rule_column}"))
    seen: dict[str, str] = {}
    for name, why in named:
        key = str(name).casefold()
        if key in seen:
            if why.startswith("--rule-column"):
                fix = "Give --rule-column another name."
            elif why.startswith("--keep"):
                fix = "Pass each column to --keep once."
            else:  # a kept input column named like an output column
                fix = (f"Keep that input column under another name (a view that renames it), or leave "
                       f"{seen[key].split(' (')[0]} out.")
            raise _cli_error(f"The query would return two columns named {str(name)!r} ({seen[key]} and {why}; "
                             f"names that differ only in case count as the same). {fix}")
        seen[key] = why


# -- parser ---------------------------------------------------------------------------------------------
def add_parsers(sub: Any) -> None:
    """Add ``distill``, ``predict``, ``audit`` and ``export`` to the sub-parsers of ``rulekd``."""
    def common(p: argparse.ArgumentParser, *, force: str, reads_data: bool = True) -> None:
        p.add_argument("--force", action="store_true", help=force)
        p.add_argument("--quiet", action="store_true", help="print nothing but errors")
        if reads_data:  # export reads no CSV: an --encoding there would do nothing
            p.add_argument("--encoding", default="utf-8", help="text encoding of CSV input (default: utf-8)")

    d = sub.add_parser("distill", help="fit a rule student, tree, neural student or hybrid and save it")
    d.add_argument("--data", required=True, metavar="TRAIN", help="training data (.csv, .tsv or .parquet)")
    d.add_argument("--target", required=True, metavar="COL", help="the label column")
    d.add_argument("--model", choices=MODELS, default="rules", help="what to distil (default: rules)")
    d.add_argument("--teacher", default="xgboost", metavar="xgboost|MODEL.json|MODEL_DIR",
                   help="'xgboost' (fitted here, the default), a fitted XGBoost model's JSON file, or a rulekd "
                        "model directory (or its teacher file), whose teacher is used as is with its labels")
    d.add_argument("--max-rules", type=int, default=None, metavar="N",
                   help="at most N rules (rules; hybrid: the rules that answer, and its candidate rule student's "
                        "budget) or leaves (tree); default 16 (hybrid: 32)")
    d.add_argument("--max-conditions", type=int, default=None, metavar="K",
                   help="rules: at most K conditions in any one rule (default: no limit)")
    d.add_argument("--transparency", type=float, default=None, metavar="F",
                   help="hybrid: share of inputs answered by rules (default 0.5)")
    d.add_argument("--guard", dest="guards", action="append", default=[], metavar="PROPERTY",
                   help='hybrid: a property that must hold for every input, e.g. "invariant sex"; repeatable')
    d.add_argument("--kind", choices=("list", "set"), default=None,
                   help="rules: an ordered rule list (first match answers; the default here) or an unordered "
                        "rule set (the API's default)")
    d.add_argument("--n-synthetic", default="auto", metavar="N|auto",
                   help="synthetic rows the teacher labels (default: auto; fewer is faster, e.g. 2000)")
    d.add_argument("--drop", action="append", default=[], metavar="COL",
                   help="a column that is not a feature (an id, a note); repeatable")
    d.add_argument("--domain", default=None, metavar="DOMAIN.json",
                   help="the legal inputs (bounds, levels, missing values allowed), as Domain.to_json writes "
                        "them; must name every feature and hold every row (default: inferred from --data)")
    d.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    d.add_argument("--out", required=True, metavar="DIR", help="model directory to write")
    common(d, force="replace a model directory already at --out")
    d.set_defaults(func=cmd_distill)

    p = sub.add_parser("predict", help="predict with a saved model")
    p.add_argument("model", metavar="DIR", help="model directory")
    p.add_argument("--data", required=True, metavar="X", help="rows to predict (.csv, .tsv or .parquet)")
    p.add_argument("--out", required=True, metavar="PRED.csv",
                   help="CSV to write: prediction (+ decided_by, probabilities); - for the standard output")
    p.add_argument("--proba", action="store_true", help="add one probability column per class")
    p.add_argument("--skip-refused", action="store_true",
                   help="rows the model refuses (a level unseen during fit, text in a numeric feature, infinity, "
                        "a missing value the rules do not cover) get no prediction and a 'refused' column saying why, "
                        "instead of stopping the whole file")
    common(p, force="overwrite --out")
    p.set_defaults(func=cmd_predict)

    a = sub.add_parser("audit", help="write the audit report of a saved model on labelled data")
    a.add_argument("model", metavar="DIR", help="model directory")
    a.add_argument("--data", required=True, metavar="TEST", help="labelled data (.csv, .tsv or .parquet)")
    a.add_argument("--target", required=True, metavar="COL", help="the label column")
    a.add_argument("--protected", nargs="+", default=[], metavar="COL", help="protected attribute columns")
    a.add_argument("--property", dest="properties", action="append", default=[], metavar="TEXT",
                   help="a property to verify; repeatable")
    a.add_argument("--time-budget-s", type=_positive_float, default=60.0, metavar="S",
                   help="verification time limit in seconds (default 60)")
    a.add_argument("--out", required=True, metavar="REPORT.html", help="HTML report to write")
    a.add_argument("--json", default=None, metavar="REPORT.json", help="also write the report as JSON")
    common(a, force="overwrite the report files")
    a.set_defaults(func=cmd_audit)

    e = sub.add_parser("export", help="export a model's rules as text, tree, JSON, SQL or Python")
    e.add_argument("model", metavar="DIR|RULES.json", help="model directory or rules JSON file")
    e.add_argument("--format", required=True, choices=EXPORT_FORMATS)
    e.add_argument("--out", default=None, metavar="FILE", help="file to write (default: stdout)")
    e.add_argument("--table", default="data", metavar="NAME",
                   help="SQL: the table the query reads (default: data; schema.table for a qualified name)")
    e.add_argument("--keep", action="append", default=[], metavar="COL",
                   help="SQL: an input column to return beside the prediction (e.g. an id); repeatable")
    e.add_argument("--order-by", action="append", default=[], metavar="COL",
                   help="SQL: order the result by this input column; repeatable")
    e.add_argument("--proba", action="store_true", help="SQL: also return one probability column per class")
    e.add_argument("--rule-column", default=None, metavar="NAME",
                   help="SQL: also return the id of the answering rule in this column")
    e.add_argument("--float-literals", choices=("decimal", "binary"), default="decimal",
                   help="SQL: thresholds as shortest decimals, or exactly as integers over powers of two (default: decimal)")
    common(e, force="overwrite --out", reads_data=False)
    e.set_defaults(func=cmd_export)
