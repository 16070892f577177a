"""What the report reads, all through the store (a folder or S3) and checked against the
manifest: the comparison, the schema, the test and train splits, each candidate's predictions
from ``smlp compare`` and, for importance, the compared models themselves."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from smlp.errors import IntegrityError, MissingStageError
from smlp.manifest import Artifact, Manifest, artifact_format, data_command, load_manifest
from smlp.store import Store


@dataclass
class Split:
    """A prepared split: the label column and the encoded feature matrix."""

    labels: Any
    features: Any


@dataclass
class ReportInputs:
    manifest: Manifest
    comparison: dict[str, Any]
    schema: Any  # smlp.data.schema.Schema
    test: Split
    train: Split
    predictions: dict[str, Any] = field(default_factory=dict)


def read_verified(store: Store, artifact: Artifact, what: str, rerun: str) -> bytes:
    """The artifact's bytes, refused unless they hash to what the manifest recorded."""
    from smlp.errors import StoreError
    from smlp.fileio import sha256_bytes

    try:
        body = store.read_bytes(store.key(artifact.uri))
    except StoreError as exc:
        if "not found" not in str(exc):
            raise
        raise IntegrityError(f"{artifact.uri}: the {what} is missing; re-run `{rerun}`") from None
    if sha256_bytes(body) != artifact.sha256:
        raise IntegrityError(f"{artifact.uri}: sha256 does not match the manifest; the {what} "
                             f"was changed after it was recorded (re-run `{rerun}`)")
    return body


def parse_matrix(body: bytes) -> Any:
    """A headerless numeric CSV (SageMaker's format) as a float64 matrix."""
    import io

    import numpy as np
    import pyarrow.csv as pacsv

    table = pacsv.read_csv(io.BytesIO(body),
                           read_options=pacsv.ReadOptions(autogenerate_column_names=True))
    return np.column_stack([table.column(i).to_numpy().astype(np.float64)
                            for i in range(table.num_columns)])


def load_inputs(store: Store) -> ReportInputs:
    """Everything but the models, read and verified."""
    from smlp.data.schema import Schema

    manifest = load_manifest(store)
    data = manifest.require_data()
    if manifest.comparison is None:
        raise MissingStageError("a comparison", "smlp compare")
    stale = manifest.stale_best()
    if stale is not None:
        raise IntegrityError(f"the comparison is stale: {stale}; run `smlp compare` first")
    comparison = json.loads(read_verified(store, manifest.comparison, "comparison",
                                          "smlp compare"))
    rerun = data_command(manifest)
    schema = Schema.model_validate_json(read_verified(store, data.schema_, "schema", rerun))
    split = comparison["split"]
    splits = {}
    for name in sorted({split, "train"}):
        matrix = read_split(store, data.splits[name], f"{name} split", rerun)
        splits[name] = Split(labels=matrix[:, 0], features=matrix[:, 1:])
    inputs = ReportInputs(manifest=manifest, comparison=comparison, schema=schema,
                          test=splits[split], train=splits["train"])
    classes = len(getattr(schema, "classes", []) or [])
    names = [shard.uri.rsplit("/", 1)[-1] for shard in data.splits[split].shards]
    for scored in comparison["candidates"]:
        if problem_type(schema) == "regression":
            found = _predictions(store, scored["name"], split, names, inputs.test.labels)
        else:
            found = _scores(store, scored, split, names, len(inputs.test.labels), classes)
        inputs.predictions[scored["name"]] = found
    return inputs


def read_split(store: Store, split: Any, what: str, rerun: str) -> Any:
    """A split's shards, each verified, as one matrix in row order (shard order)."""
    import numpy as np

    parts = [parse_matrix(read_verified(store, shard, what, rerun)) for shard in split.shards]
    return parts[0] if len(parts) == 1 else np.concatenate(parts)


def _compare_output(store: Store, name: str, shards: list[str]) -> tuple[str, bytes]:
    """(where, bytes) of ``name``'s compare outputs, one per shard, joined in shard order."""
    bodies = []
    for shard in shards:
        key = f"compare/{name}/{shard}.out"
        if not store.exists(key):
            raise IntegrityError(f"{store.uri(key)}: {name}'s predictions from `smlp compare` "
                                 "are missing; re-run `smlp compare`")
        bodies.append(store.read_bytes(key))
    where = store.uri(f"compare/{name}/{shards[0]}.out" if len(shards) == 1
                      else f"compare/{name}")
    return where, b"".join(body if body.endswith(b"\n") or not body else body + b"\n"
                           for body in bodies)


def problem_type(schema: Any) -> str:
    return getattr(schema, "problem_type", "regression")


def _scores(store: Store, scored: dict[str, Any], split: str, shards: list[str], rows: int,
            classes: int) -> Any:
    """A classifier's compare output: rows x classes probabilities, or label codes for a model
    without probabilities (k-NN), parsed as ``smlp compare`` parsed them."""
    from smlp.stages.scores import parse_scores

    where, body = _compare_output(store, scored["name"], shards)
    lines = [line for line in body.decode("utf-8").splitlines() if line.strip()]
    if len(lines) != rows:
        raise IntegrityError(f"{where}: {len(lines)} predictions for the {rows} rows "
                             f"of the {split} split; re-run `smlp compare`")
    return parse_scores(lines, scored["algo"], classes, where)


def _predictions(store: Store, name: str, split: str, shards: list[str], labels: Any) -> Any:
    """Column 1 of compare's ``label,prediction`` outputs for ``name``, whose labels must be
    the recorded split's (else the output belongs to other data)."""
    import numpy as np

    where, body = _compare_output(store, name, shards)
    matrix = parse_matrix(body)
    if matrix.shape[0] != len(labels) or not np.allclose(matrix[:, 0], labels, rtol=1e-6,
                                                         atol=1e-9):
        raise IntegrityError(f"{where}: its labels are not the {split} split's; "
                             "re-run `smlp compare`")
    return matrix[:, 1]


def model_predictor(config: Any, store: Store,
                    schema: Any = None) -> Callable[[dict[str, Any]], Any]:
    """``predictor(scored)``: a function of a feature matrix for a compared candidate, from its
    verified model archive, or a string saying why it cannot run here."""
    from smlp.algorithms.entry_points import load_script
    from smlp.backends.local import LocalBackend
    from smlp.config.backend import LocalBackendConfig

    local = config if config.backend.kind == "local" else config.model_copy(
        update={"backend": LocalBackendConfig()})
    backend = LocalBackend(local, store)
    manifest = load_manifest(store)
    classes = len(getattr(schema, "classes", []) or []) if schema is not None else 0

    def predictor(scored: dict[str, Any]) -> Any:
        algo = scored["algo"]
        candidate = manifest.candidates.get(scored["name"])
        stored_format = candidate.artifact_format if candidate is not None else None
        if stored_format not in (None, artifact_format(algo, "local")):
            return (f"its model is {stored_format}, which only its own backend's container "
                    "reads")
        folder = backend.model_dir(scored["model_uri"], scored.get("model_sha256") or None,
                                   algo)
        script = load_script(algo)
        model = script.model_fn(str(folder))
        return Model(algo=algo, model=model, predict_fn=script.predict_fn, classes=classes)

    return predictor


@dataclass
class Model:
    algo: str
    model: Any
    predict_fn: Callable[[Any, Any], Any]
    classes: int = 0  # 0: regression

    def predict(self, features: Any) -> Any:
        """Regression: one value per row. Classification: what compare scores, rows x classes
        probabilities (or label codes from a model without them)."""
        import numpy as np

        raw = np.asarray(self.predict_fn(features, self.model), dtype=np.float64)
        if not self.classes:
            return raw.reshape(-1)
        from smlp.stages.scores import LABELS_ONLY

        if self.algo in LABELS_ONLY:
            return raw.reshape(-1)
        if raw.ndim == 1 or raw.shape[1] == 1:  # P(class 1), as binary:logistic gives it
            positive = raw.reshape(-1)
            raw = np.column_stack([1.0 - positive, positive])
        total = raw.sum(axis=1, keepdims=True)
        return raw / np.where(total > 0, total, 1.0)
