"""One exception type for learner-facing mistakes, shown as one sentence.

Every check in labkit raises :class:`LabError` with a message that names the bad
value and says how to fix it.  Inside Jupyter, :func:`install_notebook_handler`
makes such errors print as that one sentence instead of a long traceback.
"""

from __future__ import annotations

import math
import numbers
import textwrap
from typing import Any

__all__ = [
    "LabError",
    "RedisUnavailable",
    "check_positive",
    "check_non_negative",
    "check_ttl",
    "check_choice",
    "check_integer_amount",
    "check_value",
    "is_number",
    "one_sentence",
    "install_notebook_handler",
]


class LabError(ValueError):
    """A mistake in how the lab was called: the message says what and how to fix it."""


class RedisUnavailable(LabError, ConnectionError):
    """The Redis named by a URL could not be reached."""


# A TTL longer than a century is a typo (and past Redis's PX range when added to now).
MAX_TTL_SECONDS = 100 * 365 * 24 * 3600

NOT_FOUND_HINT = (
    "to cache 'not found' on purpose, store a sentinel such as '<not-found>' "
    "with a short ttl_seconds"
)


def is_number(value: Any) -> bool:
    """Any real number (int, float, numpy's) except bool and nan."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        return False
    return not math.isnan(float(value))


def one_sentence(message: str, width: int = 88, indent: str = "") -> str:
    """``message`` wrapped at ``width`` columns without breaking a word or a URL."""
    return textwrap.fill(
        " ".join(message.split()), width=width, subsequent_indent=indent,
        break_long_words=False, break_on_hyphens=False,
    )


def check_positive(name: str, value: Any, unit: str = "", hint: str = "") -> Any:
    """Return ``value`` if it is a number > 0, else raise a one-sentence LabError."""
    if not is_number(value) or value <= 0:
        unit_s = f" {unit}" if unit else ""
        extra = f" {hint}" if hint else ""
        raise LabError(f"{name} must be a number > 0{unit_s} (got {value!r}).{extra}")
    return value


def check_non_negative(name: str, value: Any, unit: str = "", hint: str = "") -> Any:
    """Return ``value`` if it is a number >= 0, else raise a one-sentence LabError."""
    if not is_number(value) or value < 0:
        unit_s = f" {unit}" if unit else ""
        extra = f" {hint}" if hint else ""
        raise LabError(f"{name} must be a number >= 0{unit_s} (got {value!r}).{extra}")
    return value


def check_ttl(value: Any, name: str = "ttl_seconds") -> float | None:
    """A TTL is None (never expires) or a number of seconds > 0."""
    if value is None:
        return None
    if not is_number(value) or value <= 0 or not math.isfinite(float(value)):
        raise LabError(f"{name} must be > 0 seconds (got {value!r}). Use None for no expiry.")
    if value > MAX_TTL_SECONDS:
        raise LabError(
            f"{name} must be > 0 seconds and at most a century (got {value!r}). Use None for no expiry."
        )
    return float(value)


def check_value(value: Any, name: str = "value") -> str:
    """A cache value is a string (numbers are stored as their text); None is refused."""
    if value is None:
        raise LabError(f"A cache cannot store None as the {name}; {NOT_FOUND_HINT}.")
    if isinstance(value, (bytes, bytearray)):
        raise LabError(f"The {name} must be text, not bytes (got {value!r}); decode it first.")
    return value if isinstance(value, str) else str(value)


def check_integer_amount(amount: Any, name: str = "amount") -> int:
    """A whole number (int or numpy integer, not bool) for incr()."""
    if isinstance(amount, bool) or not isinstance(amount, numbers.Integral):
        raise LabError(
            f"incr() {name} must be a whole number (got {amount!r}); "
            "to count fractions, count a smaller unit (for example milliseconds) in whole numbers."
        )
    return int(amount)


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
        print(one_sentence(f"⚠️  {evalue}", indent="   "))
        return None

    shell.set_custom_exc((LabError,), _show)
    return True
