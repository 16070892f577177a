"""``smlp transform``: Batch Transform of a file or folder with a chosen candidate."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from smlp.backends.base import Backend, TransformJobSpec, TransformResult
from smlp.batch.options import batch_options
from smlp.config import Config, TransformConfig
from smlp.data.schema import Schema, load_schema
from smlp.errors import (
    BackendError,
    ConfigError,
    DataError,
    IntegrityError,
    MissingStageError,
)
from smlp.events import Event, EventSink, ignore
from smlp.manifest import (
    Candidate,
    DataRecord,
    Manifest,
    artifact_format,
    data_command,
    load_manifest,
    record_stage,
    verify_split,
)
from smlp.manifest_io import to_key
from smlp.naming import job_name
from smlp.store import Store

# The prepared splits carry the label in column 0: feed the rest, keep label + prediction.
LABELLED_FILTERS = {"input_filter": "$[1:]", "join_source": "Input", "output_filter": "$[0,-1]"}


def choose_candidate(manifest: Manifest, model: str) -> Candidate:
    candidates = manifest.require_candidates()
    if model == "best":
        if manifest.best is None:
            raise MissingStageError("a best model", "smlp compare")
        stale = manifest.stale_best()
        if stale is not None:
            raise IntegrityError(f"the comparison is stale: {stale}; run `smlp compare` "
                                 "(or pick a model with --model NAME)")
        return candidates[manifest.best]
    if model not in candidates:
        raise ConfigError(f"--model: no candidate named {model!r}; candidates are "
                          + ", ".join(sorted(candidates)) + " (or 'best')")
    return candidates[model]


def check_servable(candidate: Candidate, backend: str) -> None:
    """Refuse, before any job, a model that ``backend`` cannot read (a k-NN model trained by
    the other backend); XGBoost and scikit-learn models serve on either."""
    expected = artifact_format(candidate.algo, backend)
    if candidate.artifact_format in (None, expected):
        return
    verb = "tune" if candidate.source == "tune" else "train"
    raise BackendError(
        f"candidate {candidate.name}: its {candidate.algo} model was trained by the "
        f"{candidate.backend} backend ({candidate.artifact_format}), which the {backend} "
        f"backend cannot serve (it reads {expected}); re-run `smlp {verb} --algo "
        f"{candidate.algo} --backend {backend}`, or use --backend {candidate.backend}"
    )


def has_header(path: Path, schema: Schema) -> bool:
    """A first line naming the schema's raw columns means raw input that needs the schema."""
    known = {f.name for f in schema.features} | {schema.target}
    return bool(set(first_line_names(path)) & known)


def first_line_names(path: Path) -> list[str]:
    """The fields of the first non-empty line of the file (or the folder's first file)."""
    files = [path] if path.is_file() else sorted(
        p for p in path.iterdir() if p.is_file() and not p.name.startswith("."))
    for file in files:
        with open(file, encoding="utf-8-sig", errors="replace") as handle:
            first = handle.readline().strip()
        if first:
            return [field.strip().strip('"') for field in first.split(",")]
    return []


def batch_predict(store: Store, backend: Backend, candidate: Candidate, data: DataRecord,
                  input_uri: str, output_uri: str, options: TransformConfig,
                  schema: Schema | None = None, events: EventSink = ignore,
                  name: str | None = None) -> TransformResult:
    """Run one transform job for ``candidate``; raises if the job does not complete."""
    from smlp.errors import JobFailedError

    job = TransformJobSpec(
        name=name or job_name(candidate.name, "transform"),
        algorithm=candidate.algo,
        model_uri=candidate.model.uri,
        model_sha256=candidate.model.sha256 or None,
        container_version=_container_version(candidate),
        input_uri=input_uri,
        output_uri=output_uri,
        n_features=len(data.features),
        options=options,
        schema=schema,
    )
    result = backend.transform(job, events)
    if result.status != "Completed":
        raise JobFailedError(job.name, result.failure_reason or result.status)
    return result


def _container_version(candidate: Candidate) -> str:
    from smlp.algorithms import get_algorithm

    return candidate.container_version or get_algorithm(candidate.algo).default_container_version


def labelled_options(options: TransformConfig) -> TransformConfig:
    """Options for a prepared split: filters default to label-in, label+prediction-out."""
    updates = {key: value for key, value in LABELLED_FILTERS.items()
               if getattr(options, key) is None}
    return options.model_copy(update=updates)


def transform(config: Config, store: Store, backend: Backend, input_path: str | None = None,
              output: str | None = None, model: str | None = None,
              events: EventSink = ignore, probabilities: bool = False) -> TransformResult:
    """A classifier's output is mapped back to the original labels (or, with
    ``probabilities``, one probability per class under a header of class names)."""
    options = config.transform
    manifest = load_manifest(store)
    data = manifest.require_data()
    candidate = choose_candidate(manifest, model or options.model)
    if candidate.data_sha256 and candidate.data_sha256 != data.splits["train"].sha256:
        raise IntegrityError(f"candidate {candidate.name} was trained on other data than the "
                             "manifest's current splits; re-run `smlp train`")
    check_servable(candidate, backend.name)
    source = input_path or options.input
    schema = None
    if source is None:
        input_uri = data.splits["test"].uri
        verify_split(store, data.splits["test"], "test split", data_command(manifest))
        options = labelled_options(options)
        recorded = load_schema(store, data)  # read (and checked) once: encoding and classes
    else:
        local = Path(source)
        if not local.exists():
            raise DataError(f"{source}: transform input not found")
        input_uri = str(local.resolve())
        recorded = load_schema(store, data)
        if has_header(local, recorded):
            schema = recorded
            _note_missing_id(local, schema, options, events)
    classes = _classifier_output(recorded, candidate, options, probabilities)
    name = job_name(candidate.name, "transform")
    destination = output or options.output
    output_uri = str(Path(destination).resolve()) if destination else store.uri(
        f"transform/{name}")
    # Store keys where inside the store, as the manifest keeps artifacts: a moved project's
    # record names what it used, not where the project once was.
    parameters = {"model": candidate.name, "input": to_key(store.root, input_uri),
                  "output": to_key(store.root, output_uri),
                  "raw_input": schema is not None,
                  **options.model_dump(include={"input_filter", "join_source", "output_filter",
                                                "batch_strategy", "split_type", "raw",
                                                "unseen_categories"})}
    with record_stage(store, "transform", f"smlp transform --model {candidate.name}",
                      parameters) as record:
        record.inputs["model"] = candidate.model
        record.jobs.append(name)
        events(Event("info", f"batch transform with {candidate.name} as job {name}"))
        result = batch_predict(store, backend, candidate, data, input_uri, output_uri, options,
                               schema, events, name=name)
        if classes is not None:
            _relabel_outputs(store, result.outputs, classes, candidate.algo, probabilities,
                             header=batch_options(options, schema).named_output,
                             first_is_label=source is None and options.join_source == "Input"
                             and options.output_filter == LABELLED_FILTERS["output_filter"])
        record.metrics["rows"] = result.rows
        record.metrics["seconds"] = round(result.seconds, 3)
        if result.unseen_categories:
            record.metrics["unseen_categories"] = {
                column: sum(values.values())
                for column, values in result.unseen_categories.items()}
            _warn_unseen(result.unseen_categories, events)
        for uri in result.outputs:
            record.outputs[Path(uri).name] = _output_artifact(store, uri)
    return result


def _classifier_output(schema: Schema, candidate: Candidate, options: TransformConfig,
                       probabilities: bool) -> Any:
    """(classes, target) for classification data, checked before any job; None: regression."""
    if probabilities or schema.problem_type != "regression":
        from smlp.stages.transform_labels import check_filter, check_probabilities

        if probabilities:
            check_probabilities(candidate.algo, schema.problem_type)
        check_filter(options.output_filter)
    if schema.problem_type == "regression":
        return None
    return schema.classes, schema.target


def _relabel_outputs(store: Store, outputs: list[str], classes: Any, algo: str,
                     probabilities: bool, header: bool, first_is_label: bool) -> None:
    import tempfile

    from smlp.stages.transform_labels import relabel

    names, target = classes
    for uri in outputs:
        if not uri.startswith("s3://"):
            relabel(Path(uri), names, algo, probabilities, header, first_is_label, target)
            continue
        with tempfile.TemporaryDirectory(prefix="smlp-labels-") as tmp:
            local = Path(tmp) / Path(uri).name
            local.write_bytes(store.read_bytes(store.key(uri)))
            relabel(local, names, algo, probabilities, header, first_is_label, target)
            store.write_bytes(store.key(uri), local.read_bytes())


def _note_missing_id(path: Path, schema: Schema, options: TransformConfig,
                     events: EventSink) -> None:
    """Named output carries the ID only where the input has it: say so when it does not."""
    from smlp.batch.options import batch_options

    wanted = batch_options(options, schema).id_column
    if wanted is not None and wanted not in first_line_names(path):
        events(Event("info", f"{path}: no {wanted!r} column (the ID column recorded at "
                             "prepare); the output has the predictions only"))


def _warn_unseen(unseen: dict[str, dict[str | None, int]], events: EventSink) -> None:
    from smlp.batch.options import describe_unseen

    for column, values in sorted(unseen.items()):
        rows = sum(values.values())
        events(Event("info", f"warning: column {column}: {rows:,} row{'' if rows == 1 else 's'} "
                             f"with categories the model was not trained on, predicted as an "
                             f"unknown category: {describe_unseen(values)} (set "
                             "transform.unseen_categories: error to refuse them)",
                     {"unseen_categories": {column: rows}}))


def _output_artifact(store: Store, uri: str) -> Any:
    from smlp.fileio import sha256_bytes, sha256_file
    from smlp.manifest import Artifact

    if uri.startswith("s3://"):
        body = store.read_bytes(store.key(uri))
        return Artifact(uri=uri, sha256=sha256_bytes(body), size=len(body))
    path = Path(uri)
    return Artifact(uri=uri, sha256=sha256_file(path), size=path.stat().st_size)
