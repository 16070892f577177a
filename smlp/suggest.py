"""Suggestions ("did you mean") for every name a user types: commands, flags, config keys,
algorithms, metrics, hyperparameters. One helper, so every suggestion reads the same."""

from __future__ import annotations

from collections.abc import Iterable


def close_matches(word: str, choices: Iterable[str], limit: int = 1) -> list[str]:
    """The known names nearest to ``word``: case-insensitive, then difflib's ratio, then a
    shared prefix (``--algoo`` -> ``--algo``)."""
    import difflib

    names = list(dict.fromkeys(str(choice) for choice in choices))
    lowered = {name.lower(): name for name in names}
    if word.lower() in lowered and lowered[word.lower()] != word:
        return [lowered[word.lower()]]
    found = difflib.get_close_matches(word.lower(), list(lowered), n=limit + 4, cutoff=0.6)
    found = sorted(found, key=lambda name: _edits(word.lower(), name))[:limit]
    if not found:
        found = [name for name in lowered if len(word) >= 3 and (
            name.startswith(word.lower()) or word.lower().startswith(name))][:limit]
    return [lowered[name] for name in found]


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """``"; did you mean 'x'?"`` for the closest known name, else ``""``."""
    found = close_matches(word, choices)
    if not found:
        return ""
    return "; did you mean " + " or ".join(repr(name) for name in found) + "?"


def _edits(a: str, b: str) -> int:
    """Levenshtein distance: a typo is a few edits, which difflib's ratio does not rank."""
    previous = list(range(len(b) + 1))
    for i, char_a in enumerate(a, 1):
        current = [i]
        for j, char_b in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1,
                               previous[j - 1] + (char_a != char_b)))
        previous = current
    return previous[-1]
