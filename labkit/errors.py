"""One exception type for learner-facing mistakes, shown as one sentence.

Every check in labkit raises :class:`LabError` with a message that names the bad
value and says how to fix it.  Inside Jupyter, :func:`install_notebook_handler`
makes such errors print as that one sentence instead of a long traceback.
"""

from __future__ import annotations

import math
from typing import Any

__all__ = [
    "LabError",
    "RedisUnavailable",
    "check_positive",
    "check_non_negative",
    "check_ttl",
    "check_choice",
    "install_notebook_handler",
]


class LabError(ValueError):
    """A mistake in how the lab was called: the message says what and how to fix it."""


class RedisUnavailable(LabError, ConnectionError):
    """The Redis named by a URL could not be reached."""


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and not (
        isinstance(value, float) and math.isnan(value)
    )


def check_positive(name: str, value: Any, unit: str = "", hint: str = "") -> Any:
    """Return ``value`` if it is a number > 0, else raise a one-sentence LabError."""
    if not _is_number(value) or value <= 0:
        unit_s = f" {unit}" if unit else ""
        extra = f" {hint}" if hint else ""
        raise LabError(f"{name} must be a number > 0{unit_s} (got {value!r}).{extra}")
    return value


def check_non_negative(name: str, value: Any, unit: str = "", hint: str = "") -> Any:
    """Return ``value`` if it is a number >= 0, else raise a one-sentence LabError."""
    if not _is_number(value) or value < 0:
        unit_s = f" {unit}" if unit else ""
        extra = f" {hint}" if hint else ""
        raise LabError(f"{name} must be a number >= 0{unit_s} (got {value!r}).{extra}")
    return value


def check_ttl(value: Any, name: str = "ttl_seconds") -> float | None:
    """A TTL is None (never expires) or a number of seconds > 0."""
    if value is None:
        return None
    if not _is_number(value) or value <= 0:
        raise LabError(
            f"{name} must be > 0 seconds (got {value!r}). Use None for no expiry."
        )
    return float(value)


def check_choice(name: str, value: Any, choices: Any) -> Any:
    """Return ``value`` if it is one of ``choices``, else list the valid ones."""
    valid = list(choices)
    if value not in valid:
        raise LabError(
            f"Unknown {name} {value!r}. Choose one of: {', '.join(map(str, valid))}."
        )
    return value


def install_notebook_handler() -> bool:
    """In IPython, show a LabError as one line instead of a traceback.

    Returns True when a handler was installed (that is, we run inside IPython).
    """
    try:
        from IPython import get_ipython
    except ImportError:  # plain Python: nothing to do
        return False
    shell = get_ipython()
    if shell is None:
        return False

    def _show(shell: Any, etype: type, evalue: BaseException, tb: Any, tb_offset: Any = None):
        print(f"⚠️  {evalue}")
        return None

    shell.set_custom_exc((LabError,), _show)
    return True
