"""Classification figures: confusion matrix, ROC and precision-recall curves (one-vs-rest per
class for multiclass) and calibration, from the scores ``smlp compare`` read back. Curves are
computed here with numpy, scored as scikit-learn defines them (ties count half in ROC AUC;
average precision is the step-wise area)."""

from __future__ import annotations

from typing import Any

from smlp.report.figures import PALETTE, Figure, draw

MAX_CURVES = 8  # classes drawn one-vs-rest (the most frequent); more only clutters the plot
BINS = 10


def confusion(labels: Any, predicted: Any, classes: int) -> Any:
    import numpy as np

    codes = np.asarray(labels).astype(np.int64)
    guess = np.asarray(predicted).astype(np.int64)
    return np.bincount(codes * classes + guess, minlength=classes * classes).reshape(classes, -1)


def curves(positive: Any, score: Any) -> dict[str, Any]:
    """ROC (fpr, tpr) and precision-recall points of ``score`` for a boolean ``positive``,
    one point per distinct score (ties move together)."""
    import numpy as np

    order = np.argsort(-np.asarray(score, dtype=float), kind="mergesort")
    ranked = np.asarray(score, dtype=float)[order]
    hits = np.asarray(positive, dtype=bool)[order]
    cuts = np.r_[np.flatnonzero(ranked[1:] != ranked[:-1]), len(ranked) - 1]
    tp = np.cumsum(hits)[cuts].astype(float)
    fp = (cuts + 1 - tp).astype(float)
    total_p, total_n = max(1.0, float(hits.sum())), max(1.0, float((~hits).sum()))
    tpr, fpr = np.r_[0.0, tp / total_p], np.r_[0.0, fp / total_n]
    precision, recall = tp / (tp + fp), tp / total_p
    ap = float(np.sum(np.diff(np.r_[0.0, recall]) * precision))
    return {"fpr": fpr, "tpr": tpr, "auc": float(np.trapezoid(tpr, fpr)),
            "precision": precision, "recall": recall, "ap": ap}


def calibration(labels: Any, scores: Any) -> tuple[Any, Any, Any]:
    """Per bin of confidence: mean confidence, observed frequency, rows. Binary: P(class 1)
    against how often class 1 occurs; multiclass: the top class's probability against how
    often it is right."""
    import numpy as np

    codes = np.asarray(labels).astype(np.int64)
    if scores.shape[1] == 2:
        confidence, correct = scores[:, 1], (codes == 1).astype(float)
    else:
        confidence = scores.max(axis=1)
        correct = (scores.argmax(axis=1) == codes).astype(float)
    bins = np.minimum((confidence * BINS).astype(np.int64), BINS - 1)
    rows = np.bincount(bins, minlength=BINS)
    used = rows > 0
    mean = np.bincount(bins, weights=confidence, minlength=BINS)[used] / rows[used]
    observed = np.bincount(bins, weights=correct, minlength=BINS)[used] / rows[used]
    return mean, observed, rows[used]


def classification_panels(name: str, labels: Any, scores: Any, classes: list[str]) -> Figure:
    """Confusion matrix; with probabilities also ROC, precision-recall and calibration."""
    import numpy as np

    k = len(classes)
    probabilities = scores if np.ndim(scores) == 2 else None
    predicted = scores.argmax(axis=1) if probabilities is not None else scores
    matrix = confusion(labels, predicted, k)
    codes = np.asarray(labels).astype(np.int64)
    shown = [1] if k == 2 else list(np.argsort(-np.bincount(codes, minlength=k),
                                               kind="stable")[:MAX_CURVES])

    def paint(fig: Any) -> None:
        axes = np.atleast_1d(fig.subplots(1, 4 if probabilities is not None else 1))
        ax = axes[0]
        share = matrix / np.maximum(1, matrix.sum(axis=1, keepdims=True))
        ax.imshow(share, cmap="Blues", vmin=0.0, vmax=1.0)
        if k <= 12:
            for i in range(k):
                for j in range(k):
                    ax.text(j, i, f"{matrix[i, j]:,}", ha="center", va="center", fontsize=7,
                            color="white" if share[i, j] > 0.5 else "black")
        ticks = [c[:12] for c in classes]
        ax.set_xticks(range(k), ticks, rotation=45, ha="right", fontsize=7)
        ax.set_yticks(range(k), ticks, fontsize=7)
        ax.set(xlabel="predicted", ylabel="actual", title="confusion matrix (row share)")
        ax.grid(False)
        if probabilities is None:
            return
        roc, pr, cal = axes[1], axes[2], axes[3]
        for index, c in enumerate(shown):
            found = curves(codes == c, probabilities[:, c])
            colour = PALETTE[index % len(PALETTE)]
            label = classes[c][:12]
            roc.plot(found["fpr"], found["tpr"], color=colour,
                     label=f"{label} (AUC {found['auc']:.3f})")
            pr.plot(np.r_[0.0, found["recall"]], np.r_[found["precision"][0], found["precision"]],
                    color=colour, label=f"{label} (AP {found['ap']:.3f})")
        roc.plot([0, 1], [0, 1], color="grey", linewidth=0.8, linestyle="--")
        roc.set(xlabel="false positive rate", ylabel="true positive rate",
                title="ROC" + (" (one vs rest)" if k > 2 else ""))
        pr.set(xlabel="recall", ylabel="precision", title="precision-recall", ylim=(0, 1.02))
        for ax in (roc, pr):
            ax.legend(fontsize=6, loc="lower right" if ax is roc else "lower left")
        mean, observed, _ = calibration(codes, probabilities)
        cal.plot([0, 1], [0, 1], color="grey", linewidth=0.8, linestyle="--")
        cal.plot(mean, observed, marker="o", markersize=3, color=PALETTE[0])
        what = "P(" + classes[1][:12] + ")" if k == 2 else "top-class probability"
        cal.set(xlabel=f"predicted {what}", ylabel="observed frequency", title="calibration",
                xlim=(0, 1), ylim=(0, 1))

    size = (16.0, 4.2) if probabilities is not None else (4.6, 4.2)
    return draw(f"{name}-classification.png", f"{name}: predictions on the test split", size,
                paint, left=0.9)
