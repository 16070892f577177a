"""smlp's ``data prepare`` as a SageMaker Processing job in the scikit-learn container.

Stands alone, like ``training_scripts/``: SageMaker copies only this file into the container
(a FullyReplicated ``code`` input), so it imports nothing from smlp. It imports only what the
scikit-learn container ships: numpy and pyarrow (aws/sagemaker-scikit-learn-container,
``requirements.txt``: numpy, pandas, pyarrow==25.0.0 for 1.9-0; the 1.4-2 base Dockerfile
installs pyarrow==17.0.0).

Two jobs, because statistics must be global while the input is sharded:

``fit`` (one instance, the whole input FullyReplicated) streams every object once. It decides
each column's kind over all rows (numeric when every non-missing cell parses as a number, else
categorical), the problem type and the classes, checks for infinite values, counts each
object's rows per split, and fits the schema on the training rows only: the fill value
(median; exact up to 1,000,000 values per column, else the median of a uniform reservoir
sample of that size seeded by ``--seed``, recorded as ``fill_method``), mean and population
standard deviation (merged per block, Chan et al.), and the 50 most frequent categories (ties
by value; a missing cell is ``__missing__``). Statistics are gathered as the kinds are decided;
a column that turns out to be text after blocks of numbers is counted again in a second pass,
for that column only. It writes ``schema.json`` (the same fields and meaning as
``smlp.data.schema.Schema``) and ``plan.json``: the objects, their rows per split and the
number of the first shard each object writes per split.

``apply`` (``instance_count`` instances, the input ShardedByS3Key, the fit output
FullyReplicated) encodes the objects it was given with that schema and writes SageMaker's CSV
(target first, no header, features as float32) into ``<split>/part-NNNNN.csv``: the shard
numbers come from the plan, so the output does not depend on how SageMaker spread the objects
or on how many instances there were. Each instance lists what it wrote (rows, bytes, sha256)
in ``summary/<host>.json``.

Why the fit reads everything on one instance: per-instance statistics merged afterwards
would need every instance to agree on each column's kind before counting (a column of numbers
in one shard may hold text in another) and exact category counts to be shipped around; a fit
on a sample would make categories and means depend on the sample. One streaming reader is
exact and deterministic, costs one instance for one read of the input (the time is in
benchmarks/processing.py), and the encoding and writing, the heavier part, is what the apply
job spreads over the instances.

Split assignment needs no global row numbers: a row's split is decided by a seeded hash of
(the object's key below the input prefix, the row's index within the object), mapped to
[0, 1) and compared with the split fractions. The same row lands in the same split in both
jobs and on any instance. Classification splits are therefore not stratified (each class is
split by the fractions in expectation); a class missing from a split is an error. The split
is not the one local ``smlp data prepare`` draws for the same file, but the schema means the
same: column order, fill values, scaling, categories, classes, label-first rows.

Paths follow the Processing contract (SageMaker Developer Guide,
build-your-own-processing-container.md): inputs under ``/opt/ml/processing/input/<name>``,
outputs under ``/opt/ml/processing/output/<name>``, the hosts in
``/opt/ml/config/resourceconfig.json`` (``current_host``, ``hosts``), and the first 1 KB of
``/opt/ml/output/message`` becomes DescribeProcessingJob's ``ExitMessage``. ``--base-dir``
moves ``/opt/ml`` for a local run.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

SPLITS = ("train", "validation", "test")
MISSING = "__missing__"  # smlp.data.schema.MISSING
MAX_CATEGORIES = 50  # smlp.data.schema.MAX_CATEGORIES
MAX_CLASSES = 200  # smlp.data.labels.MAX_CLASSES
MIN_ROWS = 10  # smlp.data.prepare.MIN_ROWS
MEDIAN_SAMPLE = 1_000_000  # smlp.data.stream.MEDIAN_SAMPLE
SAMPLED_MEDIAN = (f"median of a seeded uniform sample of at most {MEDIAN_SAMPLE:,} training "
                  "values per column (exact below that)")
BLOCK_BYTES = 16 << 20
TRUE_VALUES = {"true", "True", "TRUE"}  # Arrow's CSV booleans (ConvertOptions defaults)
FALSE_VALUES = {"false", "False", "FALSE"}
MASK64 = (1 << 64) - 1


class PrepareError(Exception):
    """A problem with the input: one line, written to the job's ExitMessage."""


# -- the contract ---------------------------------------------------------------------------
class Paths:
    def __init__(self, base: Path) -> None:
        self.base = base
        self.data = base / "processing" / "input" / "data"
        self.fitted = base / "processing" / "input" / "schema"
        self.output = base / "processing" / "output"
        self.resources = base / "config" / "resourceconfig.json"
        self.message = base / "output" / "message"

    def host(self) -> tuple[str, list[str]]:
        if not self.resources.exists():  # a local run without the file: one host
            return "algo-1", ["algo-1"]
        config = json.loads(self.resources.read_text())
        return config["current_host"], list(config["hosts"])


def input_files(folder: Path) -> list[tuple[str, Path]]:
    """Every object File mode downloaded, by its key below the input prefix (sorted); empty
    objects and the markers and checksums Spark and Hadoop leave beside their output
    (``_SUCCESS``, ``.part-0.crc``) are not data."""
    if not folder.is_dir():
        return []
    found = [(path.relative_to(folder).as_posix(), path) for path in folder.rglob("*")
             if path.is_file() and not path.name.startswith((".", "_"))
             and path.stat().st_size > 0]
    return sorted(found)


# -- reading --------------------------------------------------------------------------------
PARQUET = (".parquet", ".pq")
PARQUET_ROWS = 131_072


def header(path: Path, name: str) -> list[str]:
    """The column names: a CSV object's first line, a Parquet object's schema."""
    if path.suffix.lower() in PARQUET:
        import pyarrow.parquet as pq

        try:
            return list(pq.read_schema(path).names)
        except (pa.ArrowInvalid, OSError) as exc:
            raise PrepareError(f"{name}: not a readable Parquet file "
                               f"({str(exc).splitlines()[0]})") from None
    with open(path, newline="", encoding="utf-8-sig") as handle:
        try:
            row = next(csv.reader(handle))
        except StopIteration:
            raise PrepareError(f"{name}: empty object; expected a CSV file with a header") from None
        except UnicodeDecodeError:
            raise PrepareError(f"{name}: not UTF-8 text") from None
    return row


def batches(path: Path, names: list[str], name: str):
    """Every column as text, in blocks: missing cells null, as Arrow's CSV reader makes them.
    A Parquet object's typed values are spelled as Arrow casts them (its NaN as missing),
    so both formats meet the same column kinds."""
    if path.suffix.lower() in PARQUET:
        yield from parquet_batches(path, names, name)
        return
    options = pacsv.ConvertOptions(column_types={n: pa.string() for n in names},
                                   strings_can_be_null=True)
    try:
        reader = pacsv.open_csv(path, read_options=pacsv.ReadOptions(block_size=BLOCK_BYTES),
                                convert_options=options)
        for batch in reader:
            if batch.num_rows:
                yield batch
    except (pa.ArrowInvalid, OSError) as exc:
        raise PrepareError(f"{name}: not a readable CSV file "
                           f"({str(exc).splitlines()[0]})") from None


def parquet_batches(path: Path, names: list[str], name: str):
    import pyarrow.parquet as pq

    try:
        for batch in pq.ParquetFile(path).iter_batches(batch_size=PARQUET_ROWS, columns=names):
            if not batch.num_rows:
                continue
            columns = []
            for field, column in zip(batch.schema, batch.columns, strict=True):
                kind = field.type
                if pa.types.is_dictionary(kind):
                    column, kind = column.dictionary_decode(), kind.value_type
                if pa.types.is_binary(kind) or pa.types.is_large_binary(kind):
                    raise PrepareError(f"{name}: column {field.name!r} holds binary values; "
                                       "expected numbers or text")
                if pa.types.is_floating(kind):
                    column = pc.if_else(pc.is_nan(column), pa.nulls(1, kind)[0], column)
                columns.append(pc.cast(column, pa.string()))
            yield pa.RecordBatch.from_arrays(columns, names=names)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, OSError) as exc:
        raise PrepareError(f"{name}: not a readable Parquet file "
                           f"({str(exc).splitlines()[0]})") from None


def split_of(seed: int, key: str, start: int, count: int) -> np.ndarray:
    """0 train, 1 validation, 2 test... as uniform numbers in [0, 1): splitmix64 of the
    object's seeded key hash plus the row index (Steele, Lea, Flood 2014)."""
    base = int.from_bytes(hashlib.sha256(f"{seed}\0{key}".encode()).digest()[:8], "little")
    index = np.arange(start, start + count, dtype=np.uint64)
    with np.errstate(over="ignore"):
        z = np.uint64(base) + (index + np.uint64(1)) * np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z = z ^ (z >> np.uint64(31))
    return (z >> np.uint64(11)).astype(np.float64) * (1.0 / (1 << 53))


def assign(uniform: np.ndarray, fractions: dict[str, float]) -> np.ndarray:
    """Split codes 0, 1, 2 (train, validation, test) from uniform numbers."""
    first = fractions["train"]
    second = first + fractions["validation"]
    return np.where(uniform < first, 0, np.where(uniform < second, 1, 2)).astype(np.int8)


def as_numbers(column: Any) -> np.ndarray | None:
    """float64 with NaN for missing, or None when a non-missing cell is not a number."""
    try:
        values = pc.cast(column, pa.float64())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None
    return floats(values)


def strings(values: list[str]) -> Any:
    """A string array made from numpy text: pyarrow converts Python lists and scalars through
    its pandas support, which imports pandas (about a second per job); see ``floats``."""
    return pa.array(np.array(values, dtype=str), pa.string())


def literal(value: str) -> Any:
    return strings([value])[0]


def floats(values: Any) -> np.ndarray:
    """float64 values with NaN for nulls, read from the Arrow buffer: pyarrow's to_numpy
    imports pandas (about a second per job) to set up its conversions."""
    values = pc.fill_null(pc.cast(values, pa.float64()), pa.array(np.array([np.nan]))[0])
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    data = values.buffers()[1]
    if data is None:
        return np.empty(0, dtype=np.float64)
    return np.frombuffer(data, dtype=np.float64,
                         count=values.offset + len(values))[values.offset:]


def present(column: Any) -> np.ndarray:
    """Which cells hold a value, as numpy booleans (see ``floats``)."""
    return floats(pc.is_valid(column)) == 1.0


def as_text(column: Any, kind: str) -> Any:
    """Categories as smlp's in-memory path spells them: Arrow booleans as true/false."""
    if kind == "bool":
        column = pc.if_else(pc.is_in(column, strings(sorted(TRUE_VALUES))), literal("true"),
                            literal("false"))
        column = pc.if_else(pc.is_null(column), pa.nulls(1, pa.string())[0], column)
    return column


# -- the fit: one pass over every object ------------------------------------------------------
class ColumnKind:
    """What a column's cells have been so far: all numbers, all Arrow booleans, or text."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.numeric = True
        self.boolean = True
        self.integer = True
        self.present = 0

    def observe(self, column: Any, source: str, first_row: int) -> np.ndarray | None:
        """The block as numbers (NaN for missing) while every cell so far is one, else None."""
        count = len(column) - column.null_count
        self.present += count
        values = None
        if self.numeric:
            values = as_numbers(column) if count else np.full(len(column), np.nan)
            if values is None:
                self.numeric = False
            else:
                infinite = np.isinf(values)
                if infinite.any():
                    row = first_row + int(np.flatnonzero(infinite)[0]) + 1
                    raise PrepareError(f"{source}: column {self.name!r} has an infinite value "
                                       f"in data row {row}; replace it with a number or leave "
                                       "the cell empty (missing)")
                finite = values[~np.isnan(values)]
                self.integer = self.integer and bool(np.all(finite == np.floor(finite)))
        if self.boolean and count:
            self.boolean = bool(pc.all(pc.is_in(
                column.drop_null(), strings(sorted(TRUE_VALUES | FALSE_VALUES)))).as_py())
        return values

    @property
    def kind(self) -> str:
        if self.numeric:
            return "numeric"
        return "bool" if self.boolean else "text"


def count_text(counts: dict[str, int], column: Any) -> None:
    text = pc.fill_null(column, literal(MISSING))
    for item in pc.value_counts(text).to_pylist():
        counts[item["values"]] = counts.get(item["values"], 0) + item["counts"]


class FeatureStats:
    """A feature's kind and its training-row statistics, gathered in the same pass: moments
    while its cells are numbers, category counts once they are not. A column that turns out
    to be text after numeric blocks is counted again in a second pass (``rescan``)."""

    def __init__(self, name: str, rng: np.random.Generator) -> None:
        self.kind = ColumnKind(name)
        self.moments = Moments(rng)
        self.counts: dict[str, int] = {}
        self.rescan = False

    def add(self, column: Any, train: np.ndarray, train_rows: Any, source: str,
            first_row: int) -> None:
        had_numbers = self.kind.numeric and self.kind.present > 0
        values = self.kind.observe(column, source, first_row)
        if values is not None:
            chosen = values[train]
            self.moments.add(chosen[~np.isnan(chosen)])
            return
        self.rescan = self.rescan or had_numbers
        if not self.rescan:
            count_text(self.counts, column.filter(train_rows))

    def categories(self) -> dict[str, int]:
        """The counts with Arrow's boolean spellings as smlp writes them (true, false)."""
        if self.kind.kind != "bool":
            return self.counts
        merged: dict[str, int] = {}
        for value, count in self.counts.items():
            name = value if value == MISSING else "true" if value in TRUE_VALUES else "false"
            merged[name] = merged.get(name, 0) + count
        return merged


class TargetStats:
    """The target's kind, its values per split while there are few (the classes), and the
    training labels' moments (a constant regression target is refused)."""

    def __init__(self, name: str, rng: np.random.Generator) -> None:
        self.kind = ColumnKind(name)
        self.labels = Moments(rng)
        self.counts: list[dict[str, int]] = [{} for _ in SPLITS]
        self.overflow = False

    def add(self, column: Any, kept: np.ndarray, codes: np.ndarray, source: str,
            first_row: int) -> None:
        values = self.kind.observe(column, source, first_row)
        if values is not None:
            self.labels.add(values[kept & (codes == 0)])
        if self.overflow:
            return
        for index in range(len(SPLITS)):
            chosen = kept & (codes == index)
            if chosen.any():
                count_text(self.counts[index], column.filter(pa.array(chosen)))
        if len(self.distinct()) > MAX_CLASSES:
            self.overflow = True
            self.counts = [{} for _ in SPLITS]

    def distinct(self) -> set[str]:
        return set().union(*self.counts)


def survey(files: list[tuple[str, Path]], args: argparse.Namespace
           ) -> tuple[dict[str, Any], dict[str, Any]]:
    """One pass over every object: column kinds, the problem type and classes, rows per
    split and object, and the schema's statistics over the training rows (plus a second pass
    only for a column that turned out to be text after blocks of numbers)."""
    if not files:
        raise PrepareError("no input objects under the input prefix")
    names = header(files[0][1], files[0][0])
    for name in (args.target, args.id_column):
        if name is not None and name not in names:
            what = "target" if name == args.target else "id"
            raise PrepareError(f"{files[0][0]}: {what} column {name!r} not found; columns "
                               f"are {', '.join(names)}")
    duplicated = sorted({n for n in names if names.count(n) > 1})
    if duplicated:
        raise PrepareError(f"{files[0][0]}: column name {duplicated[0]!r} appears more than "
                           "once; give every column its own name")
    features = [n for n in names if n not in (args.target, args.id_column)]
    if not features:
        raise PrepareError("no feature columns besides the target and ID")
    fractions = fraction_args(args.splits)
    rng = np.random.default_rng(args.seed)
    stats = {name: FeatureStats(name, rng) for name in features}
    target = TargetStats(args.target, np.random.default_rng(args.seed))
    ids = 0
    entries = []
    dropped = 0
    for key, path in files:
        if header(path, key) != names:
            raise PrepareError(f"{key}: its header differs from {files[0][0]}'s; every object "
                               f"needs the columns {', '.join(names)} in that order")
        rows = {split: 0 for split in SPLITS}
        seen = 0
        for batch in batches(path, names, key):
            column = batch.column(args.target)
            kept = present(column)
            dropped += int((~kept).sum())
            codes = assign(split_of(args.seed, key, seen, batch.num_rows), fractions)
            target.add(column, kept, codes, key, seen)
            train = kept & (codes == 0)
            train_rows = pa.array(train)
            for name, feature in stats.items():
                feature.add(batch.column(name), train, train_rows, key, seen)
            if args.id_column:
                ids += batch.num_rows - batch.column(args.id_column).null_count
            for index, split in enumerate(SPLITS):
                rows[split] += int((kept & (codes == index)).sum())
            seen += batch.num_rows
        entries.append({"key": key, "size": path.stat().st_size, "rows": rows})
    missing = [n for n, f in stats.items() if f.kind.present == 0]
    missing += [args.target] if target.kind.present == 0 else []
    missing += [args.id_column] if args.id_column and ids == 0 else []
    if missing:
        raise PrepareError(f"column {missing[0]!r} is all missing; drop it or fill it in")
    problem, classes = decide_problem(target.kind, target.distinct(), target.overflow, args)
    totals = {split: sum(e["rows"][split] for e in entries) for split in SPLITS}
    if sum(totals.values()) < MIN_ROWS:
        raise PrepareError(f"{sum(totals.values())} rows with a target; need at least "
                           f"{MIN_ROWS}")
    if totals["test"] == 0 or totals["validation"] == 0:
        raise PrepareError("too few rows for a validation and a test split")
    check_targets(problem, classes, target, args.target)
    kinds = {name: feature.kind.kind for name, feature in stats.items()}
    kinds[args.target] = target.kind.kind
    if args.id_column:
        kinds[args.id_column] = "text"
    recount(files, names, [n for n, f in stats.items() if f.rescan], stats, target.kind.kind,
            args)
    scanned = {"columns": names, "kinds": kinds, "problem_type": problem, "classes": classes,
               "objects": entries, "rows": totals, "dropped_rows": dropped}
    return scanned, schema_json(features, stats, scanned, args)


def recount(files: list[tuple[str, Path]], names: list[str], columns: list[str],
            stats: dict[str, FeatureStats], target_kind: str, args: argparse.Namespace) -> None:
    """Second pass, only for columns found to be text after blocks of numbers."""
    if not columns:
        return
    fractions = fraction_args(args.splits)
    for name in columns:
        stats[name].counts = {}
    for key, path in files:
        seen = 0
        for batch in batches(path, names, key):
            kept = present(batch.column(args.target))
            codes = assign(split_of(args.seed, key, seen, batch.num_rows), fractions)
            seen += batch.num_rows
            train_rows = pa.array(kept & (codes == 0))
            for name in columns:
                count_text(stats[name].counts, batch.column(name).filter(train_rows))


def decide_problem(target: ColumnKind, labels: set[str], overflow: bool,
                   args: argparse.Namespace) -> tuple[str, list[str]]:
    """As ``smlp.data.labels.decide``: text and booleans are classes, numbers regression."""
    wanted = args.problem_type
    name = args.target
    if wanted == "regression" or (wanted == "auto" and target.numeric):
        if not target.numeric:
            raise PrepareError(f"target column {name!r} must be numeric for regression; use "
                               "--problem-type auto, binary or multiclass")
        return "regression", []
    if overflow or len(labels) > MAX_CLASSES:
        raise PrepareError(f"target column {name!r} has more than {MAX_CLASSES} distinct "
                           "values; is it a regression target? use --problem-type regression")
    if target.numeric:  # numbers as classes: in numeric order, spelled as Arrow casts them
        numbers = sorted({float(v) for v in labels})
        kind = pa.int64() if target.integer else pa.float64()
        classes = pc.cast(pa.array(np.array(numbers)).cast(kind), pa.string()).to_pylist()
    elif target.boolean:
        classes = sorted({"true" if v in TRUE_VALUES else "false" for v in labels})
    else:
        classes = sorted(labels)
    problem = wanted if wanted != "auto" else ("binary" if len(classes) == 2 else "multiclass")
    if len(classes) < 2:
        raise PrepareError(f"target column {name!r} has one class in every row; "
                           "classification needs at least two")
    if problem == "binary" and len(classes) != 2:
        raise PrepareError(f"problem type binary, but target column {name!r} has "
                           f"{len(classes)} classes; use --problem-type multiclass")
    if problem == "multiclass" and len(classes) == 2:
        raise PrepareError(f"problem type multiclass, but target column {name!r} has 2 "
                           "classes; use --problem-type binary")
    return problem, classes


def label_codes(column: Any, kind: str, classes: list[str]) -> np.ndarray:
    """Class codes 0..K-1 (float64) for a classification target column."""
    if kind == "numeric":
        numbers = as_numbers(column)
        reference = np.array([float(c) for c in classes])
        return np.searchsorted(reference, numbers).astype(np.float64)
    text = as_text(column, kind)
    return floats(pc.index_in(text, value_set=strings(classes)))


class Moments:
    """Count, mean and squared deviations merged per block, plus the median's sample."""

    def __init__(self, rng: np.random.Generator) -> None:
        self.rng = rng
        self.count = 0
        self.mean = 0.0
        self.m2 = 0.0
        self.values: list[np.ndarray] = []
        self.reservoir: np.ndarray | None = None

    def add(self, values: np.ndarray) -> None:
        if not values.size:
            return
        n, mean = values.size, float(values.mean())
        total = self.count + n
        delta = mean - self.mean
        self.m2 += float(((values - mean) ** 2).sum()) + delta * delta * self.count * n / total
        self.mean += delta * n / total
        seen = self.count
        self.count = total
        self._sample(values, seen)

    def _sample(self, values: np.ndarray, seen: int) -> None:
        if self.reservoir is None:
            room = MEDIAN_SAMPLE - seen
            head, values = values[:room], values[room:]
            if head.size:
                self.values.append(head.copy())
            if not values.size:
                return
            self.reservoir = np.concatenate(self.values)
            self.values = []
            seen = MEDIAN_SAMPLE
        # Reservoir sampling (Vitter's algorithm R): value t (0-based) takes slot j ~ U[0, t]
        # when j falls inside the reservoir; a later value wins a slot drawn twice.
        slots = self.rng.integers(0, np.arange(seen, seen + values.size) + 1)
        chosen = slots < MEDIAN_SAMPLE
        self.reservoir[slots[chosen]] = values[chosen]

    def median(self) -> float:
        sample = self.reservoir if self.reservoir is not None else np.concatenate(self.values)
        return float(np.median(sample))


def check_targets(problem: str, classes: list[str], target: TargetStats, name: str) -> None:
    if problem == "regression":
        if target.labels.count and target.labels.m2 == 0.0:
            raise PrepareError(f"target column {name!r} has the same value in every "
                               "training row; there is nothing to learn")
        return
    per_class = np.zeros((len(SPLITS), len(classes)), dtype=np.int64)
    for index, counts in enumerate(target.counts):
        values = list(counts)
        if not values:
            continue
        codes = label_codes(strings(values), target.kind.kind, classes).astype(np.int64)
        for value, code in zip(values, codes, strict=True):
            per_class[index, code] += counts[value]
    for code, label in enumerate(classes):
        empty = [split for index, split in enumerate(SPLITS) if per_class[index, code] == 0]
        if empty:
            raise PrepareError(f"class {label!r} of target {name!r} has no rows in the "
                               f"{', '.join(empty)} split; add rows of it or drop the class")


def schema_json(features: list[str], stats: dict[str, FeatureStats], scanned: dict[str, Any],
                args: argparse.Namespace) -> dict[str, Any]:
    """The fields of ``smlp.data.schema.Schema``, in its order."""
    encoded = []
    sampled = False
    for name in features:
        feature = stats[name]
        if feature.kind.numeric:
            moment = feature.moments
            if moment.count == 0:
                raise PrepareError(f"column {name!r} is all missing in the training rows; drop "
                                   "it or fill it in")
            sampled = sampled or moment.reservoir is not None
            std = (moment.m2 / moment.count) ** 0.5 if args.standardize else 1.0
            encoded.append({"kind": "numeric", "name": name, "fill": moment.median(),
                            "mean": moment.mean if args.standardize else 0.0,
                            "scale": std if std > 0 else 1.0})
        else:
            ranked = sorted(feature.categories().items(), key=lambda item: (-item[1], item[0]))
            encoded.append({"kind": "categorical", "name": name,
                            "categories": [value for value, _ in ranked[:MAX_CATEGORIES]]})
    schema: dict[str, Any] = {"schema_version": 1, "target": args.target,
                              "id_column": args.id_column, "standardize": args.standardize,
                              "features": encoded}
    if scanned["problem_type"] != "regression":
        schema["problem_type"] = scanned["problem_type"]
        schema["classes"] = scanned["classes"]
    if sampled:
        schema["fill_method"] = SAMPLED_MEDIAN
    return schema


def rows_per_shard(schema: dict[str, Any], shard_mb: float) -> int:
    """Rows that make a shard of about ``shard_mb``: the plan numbers shards before any row
    is encoded, so the size per row is estimated (a float32 as text is up to ~12 bytes with
    its comma, a one-hot 0 or 1 two, the label ~10)."""
    width = 10
    for feature in schema["features"]:
        width += 12 if feature["kind"] == "numeric" else 2 * len(feature["categories"])
    return max(100, int(shard_mb * (1 << 20) / width))


def shard_plan(scanned: dict[str, Any], rows_per_shard: int) -> dict[str, Any]:
    """Each object's first shard number per split: shards numbered in object order."""
    following = {split: 0 for split in SPLITS}
    for entry in scanned["objects"]:
        entry["first_shard"] = dict(following)
        for split in SPLITS:
            following[split] += -(-entry["rows"][split] // rows_per_shard)
    return {**scanned, "rows_per_shard": rows_per_shard, "shards": following}


# -- apply: encode and write shards ----------------------------------------------------------
class ShardWriter:
    """Writes one split's rows of one object into numbered shards, hashing as it goes."""

    def __init__(self, folder: Path, split: str, first: int, rows_per_shard: int) -> None:
        self.folder = folder / split
        self.folder.mkdir(parents=True, exist_ok=True)
        self.split = split
        self.index = first
        self.rows_per_shard = rows_per_shard
        self.handle: Any = None
        self.digest: Any = None
        self.rows = 0
        self.size = 0
        self.written: list[dict[str, Any]] = []

    def write(self, lines: Any) -> None:
        """``lines``: a string array, one output line (with its newline) per row."""
        offset = 0
        while offset < len(lines):
            if self.handle is None:
                self.handle = open(self.folder / f"part-{self.index:05d}.csv", "wb")
                self.digest = hashlib.sha256()
            take = min(self.rows_per_shard - self.rows, len(lines) - offset)
            data = text_bytes(lines.slice(offset, take))
            self.handle.write(data)
            self.digest.update(data)
            self.rows += take
            self.size += len(data)
            offset += take
            if self.rows == self.rows_per_shard:
                self.close()

    def close(self) -> None:
        if self.handle is None:
            return
        self.handle.close()
        self.written.append({"split": self.split, "index": self.index, "rows": self.rows,
                             "size": self.size, "sha256": self.digest.hexdigest()})
        self.handle = None
        self.index += 1
        self.rows = self.size = 0


def text_bytes(lines: Any) -> memoryview:
    """The bytes of a (sliced) string array's values, back to back, without a copy."""
    _, offsets, data = lines.buffers()
    bounds = np.frombuffer(offsets, dtype=np.int32, count=len(lines) + 1,
                           offset=lines.offset * 4)
    return memoryview(data)[int(bounds[0]):int(bounds[-1])]


def encode(batch: Any, schema: dict[str, Any], kinds: dict[str, str], label: np.ndarray
           ) -> Any:
    """Each row as its CSV line: the label (float64) first, then every encoded feature as
    float32, each field the text Arrow's CSV writer gives it (it casts to string the same
    way), so the shards read as smlp's own splits. One-hot groups are ready-made text."""
    fields = [pc.cast(pa.array(label, pa.float64()), pa.string())]
    for feature in schema["features"]:
        column = batch.column(feature["name"])
        if feature["kind"] == "numeric":
            values = as_numbers(column)
            if values is None:
                raise PrepareError(f"column {feature['name']!r}: a value that is not a number")
            values = np.where(np.isnan(values), feature["fill"], values)
            scaled = ((values - feature["mean"]) / feature["scale"]).astype(np.float32)
            fields.append(pc.cast(pa.array(scaled), pa.string()))
            continue
        categories = feature["categories"]
        width = len(categories)
        patterns = [",".join("1" if j == i else "0" for j in range(width))
                    for i in range(width)] + [",".join(["0"] * width)]
        text = pc.fill_null(as_text(column, kinds[feature["name"]]), literal(MISSING))
        index = pc.fill_null(pc.index_in(text, value_set=strings(categories)),
                             pa.array(np.array([width], np.int32))[0])
        fields.append(pc.take(strings(patterns), index))
    fields[-1] = pc.binary_join_element_wise(fields[-1], literal(""), literal("\n"))
    return pc.binary_join_element_wise(*fields, literal(","))


def apply(paths: Paths) -> list[dict[str, Any]]:
    schema = json.loads((paths.fitted / "schema.json").read_text())
    plan = json.loads((paths.fitted / "plan.json").read_text())
    planned = {entry["key"]: entry for entry in plan["objects"]}
    kinds, target = plan["kinds"], schema["target"]
    fractions = plan["fractions"]
    written: list[dict[str, Any]] = []
    for key, path in input_files(paths.data):
        entry = planned.get(key)
        if entry is None or entry["size"] != path.stat().st_size:
            raise PrepareError(f"{key}: not the object the fit job read (added or changed "
                               "since); run smlp data prepare again")
        writers = {split: ShardWriter(paths.output, split, entry["first_shard"][split],
                                      plan["rows_per_shard"]) for split in SPLITS}
        seen = 0
        for batch in batches(path, plan["columns"], key):
            column = batch.column(target)
            kept = present(column)
            codes = assign(split_of(plan["seed"], key, seen, batch.num_rows), fractions)
            seen += batch.num_rows
            if plan["problem_type"] == "regression":
                label = as_numbers(column)
            else:
                label = label_codes(column, kinds[target], plan["classes"])
            for index, split in enumerate(SPLITS):
                chosen = kept & (codes == index)
                if chosen.any():
                    rows = batch.filter(pa.array(chosen))
                    writers[split].write(encode(rows, schema, kinds, label[chosen]))
        for split, writer in writers.items():
            writer.close()
            rows = sum(item["rows"] for item in writer.written)
            if rows != entry["rows"][split]:
                raise PrepareError(f"{key}: {rows} {split} rows, the fit job counted "
                                   f"{entry['rows'][split]}; the object changed between jobs")
            written += writer.written
    return written


# -- entry point ----------------------------------------------------------------------------
def fraction_args(text: str) -> dict[str, float]:
    values = [float(part) for part in text.split(",")]
    return dict(zip(SPLITS, values, strict=True))


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("step", choices=("fit", "apply"))
    parser.add_argument("--target")
    parser.add_argument("--id-column", default=None)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--splits", default="0.7,0.15,0.15")
    parser.add_argument("--standardize", choices=("true", "false"), default="true")
    parser.add_argument("--problem-type", default="auto",
                        choices=("auto", "regression", "binary", "multiclass"))
    parser.add_argument("--shard-mb", type=float, default=64.0,
                        help="target shard size (smlp's data.shard_mb)")
    parser.add_argument("--base-dir", default="/opt/ml", type=Path)
    args = parser.parse_args(argv)
    args.standardize = args.standardize == "true"
    if args.step == "fit" and not args.target:
        parser.error("fit needs --target")
    return args


def skip_pandas_probe() -> None:
    """pyarrow imports pandas (about a second) the first time it builds an array, to ask
    whether the input is a pandas object; nothing here is. Let that probe find no pandas:
    pyarrow remembers the answer. (Python scalars and lists as compute arguments would import
    it all the same: literals are made from numpy, see ``strings``.)"""
    import importlib.abc

    class Refuse(importlib.abc.MetaPathFinder):
        def find_spec(self, name: str, *_: Any) -> Any:
            if name == "pandas" or name.startswith("pandas."):
                raise ModuleNotFoundError("pandas is not needed here", name=name)
            return None

    if "pandas" in sys.modules:
        return
    refuse = Refuse()
    sys.meta_path.insert(0, refuse)
    try:
        pa.lib._pandas_api.have_pandas  # noqa: B018
    except AttributeError:  # another pyarrow's internals: it may import pandas, that is all
        pass
    finally:
        sys.meta_path.remove(refuse)


def main(argv: list[str] | None = None) -> int:
    args = parse(sys.argv[1:] if argv is None else argv)
    skip_pandas_probe()
    paths = Paths(args.base_dir)
    host, hosts = paths.host()
    started = time.monotonic()
    try:
        files = input_files(paths.data)
        if args.step == "fit":
            if len(hosts) != 1:
                raise PrepareError(f"the fit step runs on one instance, not {len(hosts)}")
            scanned, schema = survey(files, args)
            plan = shard_plan(scanned, rows_per_shard(schema, args.shard_mb))
            plan.update(seed=args.seed, fractions=fraction_args(args.splits))
            folder = paths.output / "schema"
            folder.mkdir(parents=True, exist_ok=True)
            (folder / "schema.json").write_text(json.dumps(schema, indent=2))
            (folder / "plan.json").write_text(json.dumps(plan, indent=2))
            print(f"fit: {len(files)} object(s), rows {plan['rows']}, dropped "
                  f"{plan['dropped_rows']}, shards {plan['shards']} "
                  f"({time.monotonic() - started:.1f} s)", flush=True)
        else:
            written = apply(paths)
            folder = paths.output / "summary"
            folder.mkdir(parents=True, exist_ok=True)
            (folder / f"{host}.json").write_text(json.dumps(
                {"host": host, "objects": [key for key, _ in files], "shards": written},
                indent=2))
            print(f"apply on {host}: {len(files)} object(s), {len(written)} shard(s), "
                  f"{sum(s['rows'] for s in written)} rows "
                  f"({time.monotonic() - started:.1f} s)", flush=True)
    except PrepareError as exc:
        print(f"error: {exc}", file=sys.stderr, flush=True)
        exit_message(paths, str(exc))
        return 1
    except Exception as exc:  # a bug: the traceback goes to the log, one line to ExitMessage
        import traceback

        traceback.print_exc()
        exit_message(paths, f"unexpected {type(exc).__name__}: {exc} (see the job's log)")
        return 2
    return 0


def exit_message(paths: Paths, text: str) -> None:
    """DescribeProcessingJob's ExitMessage: the first 1 KB of /opt/ml/output/message."""
    try:
        paths.message.parent.mkdir(parents=True, exist_ok=True)
        paths.message.write_bytes(" ".join(text.split()).encode()[:1024])
    except OSError:
        pass


if __name__ == "__main__":
    sys.exit(main())
