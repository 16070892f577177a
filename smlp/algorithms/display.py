"""How a training metric reads on screen: its name, and the split it was computed on.

A built-in algorithm names its metrics after the channel they were computed on (``test:mse``);
smlp feeds some channels another split (k-NN's ``test`` channel gets the validation split, so
the test split stays unseen until ``smlp compare``). Shown bare, ``test:mse`` would read as a
test-split score.
"""

from __future__ import annotations

from smlp.algorithms import ALGORITHMS


def metric_split(algorithm: str, metric: str) -> str | None:
    """The prepared split a metric named ``<channel>:<name>`` was computed on, if known."""
    spec = ALGORITHMS.get(algorithm)
    channel, sep, _ = metric.partition(":")
    if spec is None or not sep:
        return None
    return spec.channels.get(channel)


def metric_label(algorithm: str, metric: str) -> str:
    """``test:mse (validation split)`` where the channel's name is not the split's."""
    return metric + _on(algorithm, metric)


def shown_metrics(algorithm: str, metrics: dict[str, float]) -> str:
    """A job's final metrics as one line, labelled, leaving out ``train:*`` (fit, not score)."""
    return ", ".join(f"{name}={value:.4f}{_on(algorithm, name)}"
                     for name, value in metrics.items() if not name.startswith("train:"))


def _on(algorithm: str, metric: str) -> str:
    split = metric_split(algorithm, metric)
    return "" if split is None or split == metric.partition(":")[0] else f" ({split} split)"
