"""Reading and writing the tables the command line works on (CSV, Parquet).

Every failure is a :class:`TableError` whose message names the file, the
problem and the fix; nothing here overwrites a file unless asked to.
"""

from __future__ import annotations

import contextlib
import csv
import os
import sys
import tempfile
import warnings
from pathlib import Path
from typing import Any, Iterator, Mapping, Sequence

import numpy as np
import pandas as pd

from .exceptions import RulekdError

__all__ = ["TableError", "read_table", "split_target", "check_new_file", "check_writable", "write_csv",
           "refuse_inside_model_directory"]

CSV_SUFFIXES = (".csv", ".tsv", ".txt")
PARQUET_SUFFIXES = (".parquet", ".pq")


class TableError(RulekdError, ValueError):
    """A data file that cannot be used as given."""


def read_table(path: str | Path, *, encoding: str = "utf-8", text_columns: Sequence[str] = (),
               text_levels: Mapping[str, Sequence[str]] | None = None, keep_blank_lines: bool = False) -> pd.DataFrame:
    """A DataFrame from a CSV (``,``; ``.tsv``: tab) or Parquet file; text columns become categories.

    ``text_columns``: CSV columns read as text whatever their values look like
    (a model's categorical features with text levels: a file whose rows hold
    only the levels ``"1"`` and ``"2"`` would otherwise be read as numbers).
    ``text_levels``: their levels; a level that pandas would read as missing
    (``"NA"``, ``"null"``, ``"None"``, ...) is read as that level in its column
    (only an empty field is missing there), as the model knows it.
    A file whose first row has more fields than its header is refused (pandas
    would otherwise take the first column as an index and shift every
    column); a delimiter at the end of every line is tolerated. In a
    one-column file an empty line is a missing value, not skipped (but
    those at the end are).
    ``keep_blank_lines`` (predict: one answer per line): an empty line
    between rows is a row of missing values, listed (0-based) in
    ``frame.attrs["blank_rows"]``. Empty lines (or lines of spaces) above
    the header and at the end are dropped.
    """
    p = Path(path)
    if not p.exists():
        raise TableError(f"Data file {str(p)!r} does not exist.")
    if p.is_dir():
        raise TableError(f"{str(p)!r} is a directory; pass a CSV or Parquet file.")
    suffix = p.suffix.lower()
    if suffix in PARQUET_SUFFIXES:
        try:
            import pyarrow  # noqa: F401
        except ImportError:
            raise TableError(
                f"Reading {str(p)!r} needs pyarrow: pip install 'rulekd[parquet]' (or convert the file to CSV)."
            ) from None
        try:
            frame = pd.read_parquet(p)
        except Exception as exc:  # pyarrow raises its own error types for damaged files
            raise TableError(f"{str(p)!r} is not a readable Parquet file: {exc}") from None
        if frame.columns.duplicated().any():
            dup = sorted({str(c) for c in frame.columns[frame.columns.duplicated()]})
            raise TableError(f"{str(p)!r} has duplicate column names {dup}; rename them.")
    elif suffix in CSV_SUFFIXES:
        sep = "\t" if suffix == ".tsv" else ","
        with open(p, "rb") as fh:
            magic = fh.read(8)
        if magic.startswith((b"PK\x03\x04", b"\xd0\xcf\x11\xe0")):  # a zip (.xlsx) or an OLE file (.xls)
            raise TableError(f"{str(p)!r} is a spreadsheet workbook (or another binary file), not CSV text; save it "
                             f"as CSV (in Excel: Save As, 'CSV UTF-8') and pass that file.")
        try:
            with open(p, newline="", encoding=encoding) as fh, _large_fields():
                lead = 0  # empty lines above the header (pandas skips them; the header is the first row)
                header = None
                for row in csv.reader(fh, delimiter=sep):
                    if lead == 0 and row and row[0].startswith("\ufeff"):
                        row[0] = row[0][1:]  # a byte-order mark (Excel's "CSV UTF-8"): pandas drops it too
                    if not _is_blank(row):
                        header = row
                        break
                    lead += 1
        except UnicodeDecodeError:
            raise TableError(_not_encoded(p, encoding)) from None
        except LookupError:
            raise TableError(f"Unknown text encoding {encoding!r}; use e.g. utf-8 or latin-1.") from None
        if not header:
            raise TableError(f"{str(p)!r} is empty: it has no header row.")
        # The names pandas gives the columns: an empty header cell is "Unnamed: <position>" (the per-column
        # options below are keyed by these names).
        header = [h if h else f"Unnamed: {i}" for i, h in enumerate(header)]
        dup = sorted({h for h in header if header.count(h) > 1})
        if dup:
            raise TableError(f"{str(p)!r} has duplicate column names {dup}; rename them so each feature has one name.")
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always", pd.errors.ParserWarning)
                frame = pd.read_csv(p, sep=sep, encoding=encoding, low_memory=False, index_col=False, skiprows=lead,
                                    skip_blank_lines=len(header) > 1,
                                    dtype={c: str for c in text_columns if c in header} or None,
                                    **_na_options(header, text_levels or {}))
        except UnicodeDecodeError:
            raise TableError(_not_encoded(p, encoding)) from None
        except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
            # A header with one field holding ';' (a spreadsheet's export) and rows with commas in them.
            raise TableError(f"{str(p)!r} is not a well-formed CSV file: {str(exc).strip().rstrip('.')}."
                             + (separator_hint(header) if len(header) == 1 else "")) from None
        if any(issubclass(w.category, pd.errors.ParserWarning) and "does not match length" in str(w.message)
               for w in caught):
            raise TableError(
                f"{str(p)!r} has rows with more fields than its header ({len(header)} columns: "
                f"{', '.join(map(repr, header[:10]))}{' ...' if len(header) > 10 else ''}); name every column "
                f"in the header or remove the extra fields." + (separator_hint(header) if len(header) == 1 else "")
            )
        if keep_blank_lines or len(header) == 1:
            frame = _blank_lines_as_rows(frame, p, sep, encoding, lead)
    else:
        raise TableError(
            f"{str(p)!r}: unknown file type {suffix or '(none)'!r}; use .csv, .tsv or .parquet."
        )
    if len(frame) == 0:
        raise TableError(f"{str(p)!r} has a header but no rows.")
    frame.columns = [str(c) for c in frame.columns]
    for c in frame.columns:
        col = frame[c]
        if col.dtype == object or pd.api.types.is_string_dtype(col.dtype):
            if _nested(col) is not None:
                continue  # lists (Parquet): refused by refuse_nested where the column is used, not when dropped
            kinds = {type(v).__name__ for v in col.dropna()}
            if "Decimal" in kinds and kinds <= {"Decimal", "int", "float"}:  # a Parquet decimal column: numbers
                frame[c] = col.astype("float64")
                continue
            if kinds == {"bool"}:  # True / False with empty cells: the same binary feature as without them
                frame[c] = col.astype("float64")
                continue
            if len(kinds) > 1:
                frame[c] = col.map(lambda v: v if pd.isna(v) else str(v))
            frame[c] = frame[c].astype("category")
    return frame


@contextlib.contextmanager
def _large_fields() -> Iterator[None]:
    """Python's csv reader refuses a field over 128 KiB (a long free-text note); pandas reads any."""
    old = csv.field_size_limit()
    csv.field_size_limit(min(sys.maxsize, 2**31 - 1))
    try:
        yield
    finally:
        csv.field_size_limit(old)


def _is_blank(row: list[str]) -> bool:
    """An empty line, or one of spaces only, as pandas's ``skip_blank_lines`` skips them."""
    return not row or (len(row) == 1 and not row[0].strip())


def _blank_lines_as_rows(frame: pd.DataFrame, p: Path, sep: str, encoding: str, lead: int) -> pd.DataFrame:
    """``frame`` with one row per line of data: the empty lines pandas skipped put back as rows of missing
    values (a skipped empty line shifted every later answer against the input lines), listed 0-based in
    ``frame.attrs["blank_rows"]``; empty lines at the end dropped. A one-column file, which pandas reads
    with its empty lines as missing values, loses only those at the end."""
    with open(p, newline="", encoding=encoding) as fh, _large_fields():
        rows = csv.reader(fh, delimiter=sep)
        for _ in range(lead + 1):  # the empty lines above the header, and the header
            next(rows, None)
        flags = [_is_blank(row) for row in rows]
    total = len(flags)
    while total and flags[total - 1]:
        total -= 1
    blank = [i for i in range(total) if flags[i]]
    one_column = frame.shape[1] == 1
    if len(frame) != (len(flags) if one_column else total - len(blank)):
        return frame  # the two readers disagree on the rows: as read
    if one_column:  # there an empty line is a missing value (the file has no other way to write one)
        return frame.iloc[:total]
    frame = frame.set_axis([i for i in range(total) if not flags[i]]).reindex(range(total))
    frame.attrs["blank_rows"] = blank
    return frame


def _not_encoded(p: Path, encoding: str) -> str:
    """The message for a file that is not ``encoding`` text, with the offset of the first bad byte in the file
    (pandas counts it within the chunk it was decoding)."""
    at = _first_undecodable(p, encoding)
    return (f"{str(p)!r} is not {encoding} text{'' if at is None else f' (byte {at})'}; re-save it as UTF-8 or "
            f"pass --encoding ({_encoding_guess(p)}).")


def _raw_text(path: str | Path, columns: Sequence[str] | None, encoding: str) -> pd.DataFrame | None:
    """``columns`` (``None``: every one) of a CSV file as the text written in it (no number parsing, no
    missing-value words), or None for another kind of file or one ``read_table`` will refuse (it names
    the problem)."""
    p = Path(path)
    if p.suffix.lower() not in CSV_SUFFIXES or (columns is not None and not columns):
        return None
    try:
        return pd.read_csv(p, sep="\t" if p.suffix.lower() == ".tsv" else ",", encoding=encoding,
                           usecols=None if columns is None else list(columns), dtype=str, keep_default_na=False,
                           index_col=False, low_memory=False)
    except (OSError, ValueError, UnicodeDecodeError, pd.errors.ParserError, LookupError):
        return None


def na_tokens(path: str | Path, frame: pd.DataFrame, encoding: str = "utf-8") -> dict[str, dict[str, int]]:
    """Per text column of ``frame`` (``read_table(path)``) with missing values, the words pandas read as
    missing ("NA", "null", "None", ...; not empty cells) and how often: a level such as "NA" (not
    applicable) becomes a missing value silently otherwise."""
    from pandas._libs.parsers import STR_NA_VALUES

    cols = [c for c in frame.columns if frame[c].isna().any()
            and (frame[c].dtype == object or isinstance(frame[c].dtype, pd.CategoricalDtype)
                 or pd.api.types.is_string_dtype(frame[c].dtype))]
    raw = _raw_text(path, cols, encoding)
    out = {}
    for c in cols if raw is not None else []:
        text = raw[c].str.strip()
        counts = text[text.isin(STR_NA_VALUES - {""})].value_counts()
        if len(counts):
            out[c] = {str(k): int(v) for k, v in counts.items()}
    return out


# A number written with leading zeros: a code ("007"), not an amount.
ZERO_PADDED = r"0\d+"


def zero_padded_columns(path: str | Path, encoding: str = "utf-8") -> list[str]:
    """The CSV columns holding numbers written with leading zeros ("01234", "007"): codes such as postal or
    diagnosis codes, which reading as numbers would merge ("007" and "7") and order."""
    raw = _raw_text(path, None, encoding)
    if raw is None:
        return []  # not a CSV file, or one read_table refuses (it names the problem)

    def codes(col: pd.Series) -> bool:  # digits only (a code has no sign, no point), one at least zero-padded
        cells = col.str.strip()
        cells = cells[cells != ""]
        return bool(len(cells)) and cells.str.fullmatch(r"\d+").all() and cells.str.fullmatch(ZERO_PADDED).any()

    return [str(c) for c in raw.columns if codes(raw[c])]


def _na_options(header: Sequence[str], text_levels: Mapping[str, Sequence[str]]) -> dict:
    """``read_csv`` keywords that keep a model's levels such as "NA" as text in their columns (pandas reads
    them as missing by default: a model fitted on the level "NA" answered those rows as missing)."""
    from pandas._libs.parsers import STR_NA_VALUES

    clash = {c: set(lv) & STR_NA_VALUES for c, lv in text_levels.items() if c in header}
    clash = {c: v for c, v in clash.items() if v}
    if not clash:
        return {}
    return {"keep_default_na": False,
            "na_values": {c: sorted(STR_NA_VALUES - clash.get(c, set())) for c in header}}


def _nested(col: pd.Series) -> Any:
    """The first value of ``col`` that is a container (a Parquet list or struct), or None."""
    # infer_dtype (C speed) says "mixed" for containers: text and number columns are not scanned in Python
    if col.dtype != object or pd.api.types.infer_dtype(col, skipna=True) not in ("mixed", "mixed-integer"):
        return None
    return next((v for v in col.dropna() if isinstance(v, (list, tuple, dict, set, np.ndarray))), None)


def refuse_nested(frame: pd.DataFrame, source: str) -> None:
    """A TableError naming the first column of ``frame`` that holds lists or structs (never a feature)."""
    for c in frame.columns:
        v = _nested(frame[c])
        if v is not None:
            raise TableError(f"Column {str(c)!r} of {source!r} holds {type(v).__name__} values, which cannot be a "
                             f"feature or a group; drop it (distill: --drop {c}) or flatten it into columns of "
                             f"numbers or text.")


def _first_undecodable(path: Path, encoding: str) -> int | None:
    """The offset in the file of the first byte that ``encoding`` cannot decode (None if none is found)."""
    import codecs

    decoder = codecs.getincrementaldecoder(encoding)()
    offset = 0
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError as exc:
                # the decoder may hold a few bytes of the previous chunk (an unfinished character)
                pending = len(decoder.getstate()[0]) if hasattr(decoder, "getstate") else 0
                return offset + exc.start - pending
            offset += len(chunk)
        try:
            decoder.decode(b"", final=True)  # a character cut short at the end of the file
        except UnicodeDecodeError as exc:
            return offset + exc.start - len(decoder.getstate()[0]) if hasattr(decoder, "getstate") else offset
    return None


def _encoding_guess(path: Path) -> str:
    """The --encoding to suggest: UTF-16 where the file opens with its byte-order mark, else latin-1."""
    with open(path, "rb") as fh:
        head = fh.read(2)
    return "utf-16: the file starts with a UTF-16 byte-order mark" if head in (b"\xff\xfe", b"\xfe\xff") \
        else "e.g. latin-1"


def separator_hint(columns: Sequence[Any]) -> str:
    """A sentence for a file read as one column whose name holds another separator (';' from a
    spreadsheet), else ''."""
    have = [str(c) for c in columns]
    sep = next((s for s in (";", "\t", "|") if len(have) == 1 and s in have[0]), None)
    if sep is None:
        return ""
    return (f" It was read as one column: its fields look separated by {sep!r}, not commas; re-save it "
            f"with commas ({'or as a .tsv file' if sep == chr(9) else 'e.g. from a spreadsheet as CSV'}).")


def split_target(frame: pd.DataFrame, target: str, source: str) -> tuple[pd.DataFrame, np.ndarray]:
    """Features and labels; the target column must exist and have no missing labels."""
    if target not in frame.columns:
        hint = separator_hint(frame.columns)
        raise TableError(
            f"{source!r} has no column {target!r} (columns: {', '.join(map(repr, list(frame.columns)[:20]))})"
            + (f".{hint}" if hint else "; pass --target with one of them.")
        )
    y = frame[target]
    if y.isna().any():
        raise TableError(
            f"The target column {target!r} of {source!r} has {int(y.isna().sum())} missing labels; drop those rows."
        )
    X = frame.drop(columns=[target])
    if X.shape[1] == 0:
        raise TableError(f"{source!r} has no feature columns besides the target {target!r}.")
    values = y.astype(object).to_numpy() if isinstance(y.dtype, pd.CategoricalDtype) else y.to_numpy()
    return X, values


def check_new_file(path: str | Path, force: bool, *, inputs: tuple = ()) -> Path:
    """``path`` as a Path, after checking it may be written (never overwrites without ``force``, never
    one of the command's ``inputs``, even with it: the data a command reads are not its output)."""
    from ._io import is_stream

    p = Path(path)
    if is_stream(p):  # /dev/stdout, a FIFO: written to, nothing replaced, so no --force needed
        return p
    if p.exists() and p.is_dir():
        raise TableError(f"{str(p)!r} is a directory; give a file name.")
    for src in inputs:
        if src is not None and os.path.realpath(p) == os.path.realpath(src):
            raise TableError(f"{str(p)!r} is the input data {str(src)!r}; writing there would replace the data. "
                             f"Give the output a name of its own.")
    if p.exists() and not force:
        raise TableError(f"{str(p)!r} already exists; pass --force to overwrite it or choose another name.")
    parent = p.parent if str(p.parent) else Path(".")
    if not parent.is_dir():
        raise TableError(f"The folder {str(parent)!r} of {str(p)!r} does not exist.")
    refuse_inside_model_directory(p)
    check_writable(parent)
    return p


def refuse_inside_model_directory(path: str | Path) -> None:
    """A file or folder written inside a model directory breaks it (its manifest lists every file)."""
    from ._persist import enclosing_model_directory

    inside = enclosing_model_directory(path)
    if inside is not None:
        raise TableError(
            f"{str(path)!r} lies inside the rulekd model directory {str(inside)!r}, whose manifest lists every "
            f"file in it: writing there would stop the model from loading. Choose a path outside it."
        )


def check_writable(folder: str | Path) -> None:
    """Refuse, before any work is done, a folder that cannot be written into (by a probe file)."""
    try:
        fd, probe = tempfile.mkstemp(prefix=".rulekd-write-test-", dir=folder)
    except OSError as exc:
        raise TableError(
            f"Cannot write into the folder {str(folder)!r} ({exc.strerror or exc}); fix its permissions or "
            f"choose another output path."
        ) from None
    os.close(fd)
    os.unlink(probe)


# Output names that promise another format than the CSV text the commands write.
NOT_CSV_SUFFIXES = PARQUET_SUFFIXES + (".xlsx", ".xls", ".json", ".feather", ".arrow", ".gz", ".bz2", ".zip", ".xz",
                                       ".zst")


def refuse_non_csv_output(path: str | Path) -> None:
    """An output named ``.parquet`` (or another non-CSV format) would hold CSV text nothing reads as that
    format: refused before any work is done."""
    suffix = Path(path).suffix.lower()
    if suffix in NOT_CSV_SUFFIXES:
        raise TableError(f"{str(path)!r} names a {suffix} file, but predictions are written as CSV text; name "
                         f"the output .csv (or .tsv for tab-separated values).")


def write_csv(frame: pd.DataFrame, path: str | Path, force: bool) -> Path:
    """Write ``frame`` as UTF-8 CSV (tab-separated for a ``.tsv`` name) through a temporary file (an atomic
    replace with ``force``; without it, a file that appeared since the check is kept)."""
    from ._io import atomic_write_text

    refuse_non_csv_output(path)
    p = check_new_file(path, force)
    sep = "\t" if p.suffix.lower() == ".tsv" else ","
    try:
        atomic_write_text(p, frame.to_csv(index=False, sep=sep), replace=force)
    except FileExistsError:
        raise TableError(f"{str(p)!r} appeared while rulekd was working; it was kept. Pass --force to replace "
                         f"it, or choose another output path.") from None
    except OSError as exc:
        raise TableError(f"Cannot write {str(p)!r}: {exc.strerror or exc}.") from None
    return p

