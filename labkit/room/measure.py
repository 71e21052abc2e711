"""The registry of measured answers: ``@measured(notebook, question)`` and the lookup.

:mod:`.answers` (notebooks 00-05) and :mod:`.answers_later` (06-11) register into it;
importing :mod:`.answers` loads both.
"""

from __future__ import annotations

from collections.abc import Callable

_ANSWERS: dict[tuple[str, str], Callable[[], str]] = {}
_computed: dict[tuple[str, str], str] = {}


def measured(notebook: str, question: str) -> Callable[[Callable[[], str]], Callable[[], str]]:
    def register(fn: Callable[[], str]) -> Callable[[], str]:
        _ANSWERS[(notebook, question)] = fn
        return fn

    return register


def known_questions() -> list[tuple[str, str]]:
    return sorted(_ANSWERS)


def measured_answer(notebook: str, question: str) -> str | None:
    """The option the experiment bears out, or None where the view cannot measure it."""
    key = (notebook, question)
    if key not in _ANSWERS:
        return None
    if key not in _computed:
        _computed[key] = _ANSWERS[key]()
    return _computed[key]


def _nearest(value: float, options: dict[str, float]) -> str:
    return min(options, key=lambda option: abs(options[option] - value))


def _claim(notebook: str, name: str):
    """The value of one of ``notebook``'s claims (importing its concept's claims module)."""
    from ..claims import claims_for

    return claims_for(notebook)[name].value()
