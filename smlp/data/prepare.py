"""Turn a raw table into SageMaker's training format: target first, no header, numeric only."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from smlp.config.data import SplitFractions
from smlp.data.schema import Schema, fit_schema
from smlp.errors import DataError

SPLITS = ("train", "validation", "test")
MIN_ROWS = 10


@dataclass
class PreparedData:
    schema: Schema
    splits: dict[str, Any]  # split name -> float array, target in column 0
    dropped_rows: int  # rows without a target value


def read_table(path: Path) -> Any:
    """Read a CSV or Parquet file into a pyarrow Table, with one-line errors naming the file."""
    import pyarrow as pa

    if not path.exists():
        raise DataError(f"{path}: input file not found")
    if path.is_dir():
        raise DataError(f"{path}: is a folder; expected a CSV or Parquet file")
    if path.stat().st_size == 0:
        raise DataError(f"{path}: input file is empty")
    suffix = path.suffix.lower()
    try:
        if suffix in {".parquet", ".pq"}:
            import pyarrow.parquet as pq

            table = pq.read_table(path)
        else:
            import pyarrow.csv as pacsv

            table = pacsv.read_csv(
                path, convert_options=pacsv.ConvertOptions(strings_can_be_null=True)
            )
    except (pa.ArrowInvalid, OSError) as exc:
        kind = "Parquet" if suffix in {".parquet", ".pq"} else "CSV"
        message = str(exc).splitlines()[0]
        if "UTF8" in message or "utf-8" in message.lower():
            raise _not_utf8(path) from None
        raise DataError(f"{path}: not a readable {kind} file ({message})") from None
    if table.num_rows == 0:
        raise DataError(f"{path}: input file has a header but no rows")
    _check_unique_names(table.schema.names, str(path))
    for field in table.schema:
        if pa.types.is_binary(field.type) or pa.types.is_large_binary(field.type):
            if suffix not in {".parquet", ".pq"}:
                raise _not_utf8(path)  # pyarrow reads a column with bad UTF-8 as binary
            raise DataError(f"{path}: column {field.name!r} holds binary values; expected "
                            "numbers or text")
    return table


def _require_columns(names: list[str], target: str, id_column: str | None,
                     source: str) -> None:
    """The target (and ID) column the user named are in the file's header."""
    if target not in names:
        raise DataError(f"{source}: target column {target!r} not found; columns are "
                        + ", ".join(names))
    if id_column is not None and id_column not in names:
        raise DataError(f"{source}: id column {id_column!r} not found; columns are "
                        + ", ".join(names))


def _check_unique_names(names: list[str], source: str) -> None:
    seen: dict[str, int] = {}
    for position, name in enumerate(names, start=1):
        if name in seen:
            raise DataError(f"{source}: column name {name!r} appears more than once (columns "
                            f"{seen[name]} and {position}); give every column its own name")
        seen[name] = position


def _not_utf8(path: Path) -> DataError:
    """Name the first line that is not UTF-8; a CSV read here must be UTF-8 text."""
    import codecs

    decoder = codecs.getincrementaldecoder("utf-8")()
    line = 1
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError as exc:
                line += chunk[: exc.start].count(b"\n")
                return DataError(f"{path}:{line}: not UTF-8 text (byte 0x{chunk[exc.start]:02x});"
                                 " save the file as UTF-8 (e.g. `iconv -f latin1 -t utf-8`)")
            line += chunk.count(b"\n")
    return DataError(f"{path}: not UTF-8 text; save the file as UTF-8")


def prepare_table(table: Any, target: str, id_column: str | None, splits: SplitFractions,
                  seed: int, standardize: bool, source: str,
                  problem_type: str = "regression") -> PreparedData:
    """Validate columns, split reproducibly by ``seed``, fit the schema on train, encode all.

    ``problem_type`` ``auto`` decides from the target (see ``labels.decide``); classification
    targets are encoded to 0..K-1 and split stratified on the label.
    """
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    columns = table.schema.names
    _require_columns(columns, target, id_column, source)
    _check_unique_names(columns, source)
    for name in columns:
        if table.column(name).null_count == table.num_rows:
            raise DataError(f"{source}: column {name!r} is all missing; drop it or fill it in")
        _check_finite(table.column(name), name, source)

    from smlp.data import labels as label_rules

    decided = label_rules.decide(table.column(target), target, problem_type, source)
    if decided != "regression":
        return _prepare_classification(table, target, id_column, splits, seed, standardize,
                                       source, decided)
    try:
        labels = pc.cast(table.column(target), pa.float64())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        raise label_rules.not_numeric(table.column(target), target, source) from None
    keep = pc.and_(pc.is_valid(labels), pc.invert(pc.is_nan(labels)))
    dropped = table.num_rows - (pc.sum(keep).as_py() or 0)
    if dropped:
        table = table.filter(keep)
        labels = labels.filter(keep)
    if table.num_rows < MIN_ROWS:
        raise DataError(f"{source}: {table.num_rows} rows with a target; need at least {MIN_ROWS}")
    low, high = pc.min_max(labels).values()
    if low.as_py() == high.as_py():
        raise DataError(f"{source}: target column {target!r} has the same value "
                        f"({low.as_py():g}) in every row; there is nothing to learn")

    order = np.random.default_rng(seed).permutation(table.num_rows)
    n_train = max(1, int(round(splits.train * table.num_rows)))
    n_validation = max(1, int(round(splits.validation * table.num_rows)))
    bounds = {
        "train": order[:n_train],
        "validation": order[n_train:n_train + n_validation],
        "test": order[n_train + n_validation:],
    }
    if len(bounds["test"]) == 0:
        raise DataError(f"{source}: too few rows for a test split")
    train_table = table.take(pa.array(bounds["train"]))
    schema = fit_schema(train_table, target, id_column, standardize, source)
    label_values = labels.to_numpy()
    arrays = {}
    for split, index in bounds.items():
        part = train_table if split == "train" else table.take(pa.array(index))
        features = schema.encode(part, source)
        arrays[split] = np.column_stack([label_values[index], features.astype(np.float64)])
    return PreparedData(schema=schema, splits=arrays, dropped_rows=int(dropped))


def _prepare_classification(table: Any, target: str, id_column: str | None,
                            splits: SplitFractions, seed: int, standardize: bool, source: str,
                            problem_type: str) -> PreparedData:
    """Labels to 0..K-1 (the label map goes into the schema), splits stratified on them."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    from smlp.data import labels as label_rules

    column = table.column(target)
    keep = pc.is_valid(column)
    if pa.types.is_floating(column.type):
        keep = pc.and_(keep, pc.invert(pc.is_nan(column)))
    dropped = table.num_rows - (pc.sum(keep).as_py() or 0)
    if dropped:
        table = table.filter(keep)
    if table.num_rows < MIN_ROWS:
        raise DataError(f"{source}: {table.num_rows} rows with a target; need at least {MIN_ROWS}")
    classes, codes = label_rules.encode_labels(table.column(target), target, problem_type, source)
    rng = np.random.default_rng(seed)
    bounds = label_rules.stratified_split(codes, classes, splits, rng, target, source)
    train_table = table.take(pa.array(bounds["train"]))
    schema = fit_schema(train_table, target, id_column, standardize, source)
    schema = schema.model_copy(update={"problem_type": problem_type, "classes": classes})
    arrays = {}
    for split, index in bounds.items():
        part = train_table if split == "train" else table.take(pa.array(index))
        features = schema.encode(part, source)
        arrays[split] = np.column_stack([codes[index].astype(np.float64),
                                         features.astype(np.float64)])
    return PreparedData(schema=schema, splits=arrays, dropped_rows=int(dropped))


def _check_finite(column: Any, name: str, source: str) -> None:
    """Infinity breaks fill values, scaling and every metric: refuse it, naming the first row."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    if not pa.types.is_floating(column.type):
        return
    infinite = pc.is_inf(column)
    if not pc.any(infinite).as_py():
        return
    row = int(np.flatnonzero(infinite.to_numpy(zero_copy_only=False))[0])
    value = column[row].as_py()
    raise DataError(f"{source}: column {name!r} has an infinite value ({value}) in data row "
                    f"{row + 1}; replace it with a number or leave the cell empty (missing)")


WRITE_ROWS = 1 << 16  # rows formatted at a time by ``write_split_shards``


def _split_table(array: Any) -> Any:
    """Label-first columns as the CSV writer formats them: label float64, features float32."""
    import numpy as np
    import pyarrow as pa

    columns = [pa.array(array[:, 0], pa.float64())]
    columns += [pa.array(array[:, i].astype(np.float32)) for i in range(1, array.shape[1])]
    return pa.Table.from_arrays(columns, names=[f"c{i}" for i in range(len(columns))])


def write_split(array: Any, path: Path) -> None:
    """Write label-first rows, no header; features as float32 text (what the models see)."""
    import pyarrow.csv as pacsv

    pacsv.write_csv(_split_table(array), path, pacsv.WriteOptions(include_header=False))


def write_split_shards(array: Any, folder: Path, min_shards: int, shard_bytes: int) -> list[Any]:
    """``write_split``'s bytes as shards in ``folder`` (smlp.data.shards), formatted
    ``WRITE_ROWS`` rows at a time: the same lines, cut where a shard is full."""
    import io

    import pyarrow.csv as pacsv

    from smlp.data.shards import ShardWriter, line_ends

    table = _split_table(array)
    writer = ShardWriter(folder, table.num_rows, min_shards, shard_bytes)
    options = pacsv.WriteOptions(include_header=False)
    for start in range(0, table.num_rows, WRITE_ROWS):
        buffer = io.BytesIO()
        pacsv.write_csv(table.slice(start, WRITE_ROWS), buffer, options)
        text = buffer.getbuffer()
        writer.write(text, line_ends(text))
        del text
    return writer.close()
