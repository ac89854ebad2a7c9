"""The exceptions and warnings that rulekd raises.

Each subclasses the standard exception a caller would already catch
(``ValueError``, ``NotFittedError``), so ``except ValueError`` keeps working.
"""

from __future__ import annotations

import os
import sys

from sklearn.exceptions import NotFittedError

__all__ = [
    "RulekdError",
    "RuleFormatError",
    "DomainError",
    "TeacherError",
    "MissingDependencyError",
    "NotFittedError",
    "SolverTimeoutWarning",
]


class RulekdError(Exception):
    """Base class of every rulekd-specific exception."""


class RuleFormatError(RulekdError, ValueError):
    """A rule set, rule or condition is malformed (bad JSON, bad schema, bad value)."""


class DomainError(RulekdError, ValueError):
    """A :class:`~rulekd.Domain` is malformed or does not match the data."""


class TeacherError(RulekdError, ValueError):
    """The teacher cannot be used (no probabilities, wrong classes, not fitted)."""


class MissingDependencyError(RulekdError, ImportError):
    """An optional dependency is not installed; the message names the extra."""


class SolverTimeoutWarning(UserWarning):
    """Z3 did not answer within its time limit; the finding is ``unknown``."""


def require(module: str, extra: str):
    """Import ``module`` or raise a one-line :class:`MissingDependencyError`.

    Parameters
    ----------
    module : str
        Importable module name, e.g. ``"torch"``.
    extra : str
        The rulekd extra that installs it, e.g. ``"torch"``.
    """
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise MissingDependencyError(
            f"{module!r} is required for this feature; install it with "
            f"`pip install rulekd[{extra}]`."
        ) from exc


def user_stacklevel() -> int:
    """The ``stacklevel`` that makes a warning name the first line outside rulekd (the caller's ``fit``),
    however deep inside rulekd it is raised: counted from the function that calls ``warnings.warn``."""
    package = os.path.dirname(os.path.abspath(__file__))  # src/rulekd
    frame, level = sys._getframe(1), 1
    while frame is not None and os.path.abspath(frame.f_code.co_filename).startswith(package + os.sep):
        frame, level = frame.f_back, level + 1
    return level
