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
    found = difflib.get_close_matches(word.lower(), list(lowered), n=limit, cutoff=0.6)
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
