"""``smlp compare``: every candidate batch-predicts the same held-out split; smlp scores them.

The split is a folder of shards: the transform gives one output per shard (SageMaker's
semantics), read back in shard order so predictions line up with the split's rows.

Training metrics are not comparable across algorithms (XGBoost reports RMSE on validation,
KNN MSE on its test channel), so the leaderboard uses only smlp's own scoring of the
transform outputs on one common split.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

from smlp.backends.base import Backend
from smlp.config import Config
from smlp.errors import IntegrityError, MissingStageError
from smlp.events import Event, EventSink, ignore
from smlp.manifest import (
    Candidate,
    Manifest,
    artifact_for_bytes,
    data_command,
    load_manifest,
    now,
    record_stage,
    update_manifest,
    verify_split,
)
from smlp.metrics import HIGHER_IS_BETTER, regression_metrics, sort_key
from smlp.stages.scores import classification_metrics, read_scores
from smlp.stages.train import problem_of
from smlp.stages.transform import batch_predict, check_servable, labelled_options
from smlp.store import Store

COMPARISON_KEY = "compare/comparison.json"


@dataclass
class Scored:
    name: str
    algo: str
    source: str
    job_name: str
    hyperparameters: dict[str, str]
    metrics: dict[str, float]
    model_uri: str
    training_metrics: dict[str, float] = field(default_factory=dict)
    model_sha256: str = ""
    # Bootstrap 95% interval of every metric, and the paired difference to the best
    # (smlp.report.uncertainty); empty in comparisons written before they existed.
    interval: dict[str, list[float]] = field(default_factory=dict)
    vs_best: dict[str, Any] = field(default_factory=dict)


@dataclass
class Comparison:
    metric: str
    split: str
    best: str
    rows: int
    candidates: list[Scored]
    skipped: list[str]
    uri: str = ""
    created_at: str = ""
    bootstrap: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def compare(config: Config, store: Store, backend: Backend, metric: str | None = None,
            events: EventSink = ignore) -> Comparison:
    split = config.compare.split
    manifest: Manifest = load_manifest(store)
    data = manifest.require_data()
    problem = problem_of(store, data)
    metric = _metric(metric or config.compare.metric, problem[0])
    candidates = manifest.require_candidates()
    fresh = _fresh(manifest)
    skipped = sorted(set(candidates) - set(fresh))
    for name in skipped:
        events(Event("info", f"skipping {name}: trained on other data (re-run `smlp train`)"))
    if not fresh:
        raise MissingStageError("a model trained on the current data", "smlp train")
    for candidate in fresh.values():  # every candidate, before the first job
        check_servable(candidate, backend.name)
    options = labelled_options(config.transform)
    if problem[0] != "regression":  # probabilities need no join: labels come from the split
        options = options.model_copy(update={"join_source": None, "output_filter": None})
    score = regression_metrics if problem[0] == "regression" else classification_metrics
    split_uri = data.splits[split].uri
    verify_split(store, data.splits[split], f"{split} split", data_command(manifest))
    scored: list[Scored] = []
    outputs: dict[str, tuple[Any, Any]] = {}
    with record_stage(store, "compare", f"smlp compare --metric {metric}",
                      {"metric": metric, "split": split}) as record:
        record.inputs[split] = data.splits[split]
        for name, candidate in sorted(fresh.items()):
            events(Event("info", f"scoring {name} on the {split} split"))
            result = batch_predict(store, backend, candidate, data, split_uri,
                                   store.uri(f"compare/{name}"), options, events=events)
            record.jobs.append(result.name)
            outputs_in_order = shard_outputs(result.outputs, data.splits[split], result.name)
            if problem[0] == "regression":
                labels, predictions = _read_labelled_outputs(store, outputs_in_order)
            else:
                labels, predictions = read_scores(store, data.splits[split], outputs_in_order,
                                                  candidate, problem, split)
            outputs[name] = (labels, predictions)
            scored.append(Scored(
                name=name, algo=candidate.algo, source=candidate.source,
                job_name=candidate.job_name, hyperparameters=candidate.hyperparameters,
                metrics=score(labels, predictions), model_uri=candidate.model.uri,
                training_metrics=candidate.training_metrics,
                model_sha256=candidate.model.sha256,
            ))
        rank = sort_key(metric)
        scored.sort(key=lambda s: rank(s.metrics.get(metric)))
        comparison = Comparison(metric=metric, split=split, best=scored[0].name,
                                rows=data.rows[split], candidates=scored, skipped=skipped,
                                uri=store.uri(COMPARISON_KEY), created_at=now(),
                                bootstrap=_uncertainty(
                                    [s for s in scored if s.metrics.get(metric) is not None],
                                    outputs, metric, _known(score)))
        body = json.dumps(comparison.to_json(), indent=2).encode()
        store.write_bytes(COMPARISON_KEY, body)
        artifact = artifact_for_bytes(store, COMPARISON_KEY, body)
        record.outputs["comparison"] = artifact
        record.metrics = {s.name: s.metrics[metric] for s in scored}

        def change(manifest: Manifest) -> None:
            manifest.comparison = artifact
            manifest.best = comparison.best
            manifest.best_sha256 = scored[0].model_sha256

        update_manifest(store, change)
    return comparison


def _uncertainty(scored: list[Scored], outputs: dict[str, tuple[Any, Any]], metric: str,
                 score: Any) -> dict[str, Any]:
    """Fill each candidate's bootstrap intervals and paired difference to the best, scored by
    ``score`` on the same resamples; what was drawn (for comparison.json)."""
    from smlp.report import uncertainty

    labels = outputs[scored[0].name][0]
    resamples = uncertainty.resamples_for(len(labels), len(scored))
    samples = uncertainty.paired_samples(
        labels, {s.name: outputs[s.name][1] for s in scored}, score, resamples)
    ranked = [s.name for s in scored]
    intervals, versus = uncertainty.summarize(samples, ranked, metric,
                                              metric in HIGHER_IS_BETTER)
    for s in scored:
        s.interval = intervals[s.name]
        s.vs_best = versus.get(s.name, {})
    summary: dict[str, Any] = {"method": "percentile bootstrap, paired", "resamples": resamples,
                               "seed": uncertainty.SEED, "confidence": uncertainty.CONFIDENCE}
    if len(scored) > 1 and scored[1].vs_best:
        summary["runner_up"] = scored[1].name
        summary["p_best_better_than_runner_up"] = scored[1].vs_best["p_best_better"]
    return summary


def _known(score: Any) -> Any:
    """``score`` without the metrics a model cannot have (None: k-NN's log loss)."""

    def known(labels: Any, predictions: Any) -> dict[str, float]:
        return {k: v for k, v in score(labels, predictions).items() if v is not None}

    return known


def _metric(metric: str | None, problem_type: str) -> str:
    """The asked metric if it fits the data's problem type, else the problem's default."""
    from smlp.errors import ConfigError
    from smlp.metrics import DEFAULT_METRIC, metrics_for

    fitting = metrics_for(problem_type)
    if metric is None:
        return DEFAULT_METRIC[problem_type]
    if metric not in fitting:
        raise ConfigError(f"--metric {metric}: not a {problem_type} metric; use one of "
                          + ", ".join(fitting))
    return metric


def check_candidates(store: Store, backend: Backend, replaced: Iterable[str] = ()) -> None:
    """Refuse now what ``compare`` would refuse later: ``smlp run`` calls this before its first
    (possibly billed) training job, for the candidates that job will not replace."""
    manifest = load_manifest(store)
    if manifest.data is None:
        return
    for name, candidate in sorted(_fresh(manifest).items()):
        if name not in set(replaced):
            check_servable(candidate, backend.name)


def _fresh(manifest: Manifest) -> dict[str, Candidate]:
    """The candidates trained on the manifest's current data (the others are skipped)."""
    current = manifest.require_data().splits["train"].sha256
    return {name: candidate for name, candidate in manifest.candidates.items()
            if not candidate.data_sha256 or candidate.data_sha256 == current}


def shard_outputs(outputs: list[str], split: Any, job: str) -> list[str]:
    """The transform's outputs in the split's shard order: ``<shard file>.out`` per shard."""
    by_name = {uri.rstrip("/").rsplit("/", 1)[-1]: uri for uri in outputs}
    ordered = []
    for shard in split.shards:
        name = shard.uri.rsplit("/", 1)[-1] + ".out"
        if name not in by_name:
            raise IntegrityError(f"transform job {job}: no output {name} for the shard "
                                 f"{shard.uri}")
        ordered.append(by_name[name])
    return ordered


def _read_labelled_outputs(store: Store, uris: list[str]) -> tuple[Any, Any]:
    """Columns 0 and 1 of every ``label,prediction`` output, in order."""
    import numpy as np

    parts = [_read_labelled_output(store, uri) for uri in uris]
    if len(parts) == 1:
        return parts[0]
    return (np.concatenate([labels for labels, _ in parts]),
            np.concatenate([predictions for _, predictions in parts]))


def _read_labelled_output(store: Store, uri: str) -> tuple[Any, Any]:
    """Columns 0 and 1 of a ``label,prediction`` transform output."""
    import io

    import pyarrow as pa
    import pyarrow.csv as pacsv

    source: Any = io.BytesIO(store.read_bytes(store.key(uri))) if uri.startswith("s3://") else uri
    table = pacsv.read_csv(
        source,
        read_options=pacsv.ReadOptions(autogenerate_column_names=True),
        convert_options=pacsv.ConvertOptions(column_types={"f0": pa.float64(),
                                                           "f1": pa.float64()}),
    )
    return table.column(0).to_numpy(), table.column(1).to_numpy()
