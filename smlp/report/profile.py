"""The data profile: each original column's missing share and distribution, train beside test,
and the target's distribution. The splits hold encoded values (scaled numbers, one-hot
groups, missing cells already filled), so columns are decoded back with the schema, and the
missing share comes from the source file when the manifest records one that is still there."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from smlp.report.figures import PALETTE, Figure, draw

TOP_CATEGORIES = 10
OTHER = "(other)"


@dataclass
class ColumnProfile:
    name: str
    kind: str
    missing: float | None  # share of the source's cells, None when unknown
    train: str  # a one-line summary
    test: str


@dataclass
class Profile:
    columns: list[ColumnProfile]
    missing_note: str
    target: str
    rows: dict[str, int] = field(default_factory=dict)


def decode(schema: Any, features: Any) -> dict[str, Any]:
    """Each original column back in its own units: numbers unscaled, categories by name."""
    import numpy as np

    out: dict[str, Any] = {}
    position = 0
    for feature in schema.features:
        if feature.kind == "numeric":
            out[feature.name] = features[:, position] * feature.scale + feature.mean
            position += 1
            continue
        width = len(feature.categories)
        block = features[:, position:position + width]
        names = np.array(list(feature.categories) + [OTHER], dtype=object)
        chosen = np.where(block.max(axis=1) > 0, block.argmax(axis=1), width)
        out[feature.name] = names[chosen]
        position += width
    return out


def missing_shares(manifest: Any, schema: Any) -> tuple[dict[str, float] | None, str]:
    """Missing share per column in the recorded source file, and where it comes from."""
    from pathlib import Path

    from smlp.fileio import sha256_file

    stage = manifest.stages.get("data")
    source = stage.inputs.get("source") if stage is not None else None
    if source is None:
        if stage is not None and stage.command.startswith("smlp data generate"):
            return {f.name: 0.0 for f in schema.features}, "synthetic data: no missing cells"
        return None, "missing share unknown: the manifest records no source file"
    path = Path(source.uri)
    if source.uri.startswith("s3://") or not path.is_file() or sha256_file(path) != source.sha256:
        return None, (f"missing share unknown: the source {source.uri} is not on this machine "
                      "as recorded")
    import pyarrow.compute as pc

    from smlp.data.prepare import read_table

    table = read_table(path)
    shares = {}
    for feature in schema.features:
        column = table.column(feature.name)
        missing = column.null_count
        if feature.kind == "numeric" and column.num_chunks:
            try:
                missing += int(pc.sum(pc.is_nan(column)).as_py() or 0)
            except Exception:  # noqa: BLE001 - not a float column: nulls are all there is
                pass
        shares[feature.name] = missing / max(1, table.num_rows)
    return shares, f"missing share of each column in {source.uri} (before splitting)"


def _summary(values: Any, kind: str) -> str:
    import numpy as np

    if kind == "numeric":
        q = np.quantile(values, [0.0, 0.5, 1.0])
        return f"mean {np.mean(values):.4g}, median {q[1]:.4g}, range {q[0]:.4g} – {q[2]:.4g}"
    names, counts = np.unique(values.astype(str), return_counts=True)
    order = np.argsort(-counts, kind="stable")[:3]
    top = ", ".join(f"{names[i]} {counts[i] / len(values):.0%}" for i in order)
    return f"{len(names)} values; {top}"


def profile(manifest: Any, schema: Any, train: Any, test: Any, split: str) -> Profile:
    shares, note = missing_shares(manifest, schema)
    train_columns, test_columns = decode(schema, train.features), decode(schema, test.features)
    columns = [ColumnProfile(name=f.name, kind=f.kind,
                             missing=None if shares is None else shares.get(f.name),
                             train=_summary(train_columns[f.name], f.kind),
                             test=_summary(test_columns[f.name], f.kind))
               for f in schema.features]
    return Profile(columns=columns, missing_note=note, target=schema.target,
                   rows={"train": len(train.labels), split: len(test.labels)})


def distributions(schema: Any, train: Any, test: Any, split: str) -> Figure:
    """Small multiples: every column, then the target, train and test overlaid."""
    import math

    import numpy as np

    train_columns, test_columns = decode(schema, train.features), decode(schema, test.features)
    panels = [(f.name, f.kind, train_columns[f.name], test_columns[f.name])
              for f in schema.features]
    if getattr(schema, "problem_type", "regression") == "regression":
        panels.append((f"target: {schema.target}", "numeric", train.labels, test.labels))
    else:
        names = np.array(list(schema.classes), dtype=object)
        panels.append((f"target: {schema.target}", "categorical",
                       names[train.labels.astype(np.int64)], names[test.labels.astype(np.int64)]))
    columns = 4
    rows = math.ceil(len(panels) / columns)

    def paint(fig: Any) -> None:
        axes = np.atleast_1d(fig.subplots(rows, columns)).reshape(-1)
        for ax, (name, kind, a, b) in zip(axes, panels, strict=False):
            if kind == "numeric":
                bins = np.histogram_bin_edges(np.concatenate([a, b]), bins=30)
                ax.hist(a, bins=bins, density=True, histtype="step", color=PALETTE[0],
                        label="train")
                ax.hist(b, bins=bins, density=True, histtype="step", color=PALETTE[1],
                        label=split)
            else:
                names, counts = np.unique(np.asarray(a).astype(str), return_counts=True)
                top = names[np.argsort(-counts, kind="stable")][:TOP_CATEGORIES]
                share_a = [np.mean(np.asarray(a).astype(str) == n) for n in top]
                share_b = [np.mean(np.asarray(b).astype(str) == n) for n in top]
                place = np.arange(len(top))
                ax.bar(place - 0.2, share_a, width=0.4, color=PALETTE[0], label="train")
                ax.bar(place + 0.2, share_b, width=0.4, color=PALETTE[1], label=split)
                ax.set_xticks(place, top, rotation=45, ha="right", fontsize=7)
            ax.set_title(name, fontsize=9)
            ax.tick_params(labelsize=7)
        axes[0].legend(fontsize=7)
        for ax in axes[len(panels):]:
            ax.set_visible(False)

    return draw("data-profile.png", "Distributions, train vs test", (12.0, 2.4 * rows), paint)
