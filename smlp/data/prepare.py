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
        raise DataError(f"{path}: not a readable {kind} file ({message})") from None
    if table.num_rows == 0:
        raise DataError(f"{path}: input file has a header but no rows")
    return table


def prepare_table(table: Any, target: str, id_column: str | None, splits: SplitFractions,
                  seed: int, standardize: bool, source: str) -> PreparedData:
    """Validate columns, split reproducibly by ``seed``, fit the schema on train, encode all."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    columns = table.schema.names
    if target not in columns:
        raise DataError(f"{source}: target column {target!r} not found; columns are "
                        + ", ".join(columns))
    if id_column is not None and id_column not in columns:
        raise DataError(f"{source}: id column {id_column!r} not found; columns are "
                        + ", ".join(columns))
    for name in columns:
        if table.column(name).null_count == table.num_rows:
            raise DataError(f"{source}: column {name!r} is all missing; drop it or fill it in")

    try:
        labels = pc.cast(table.column(target), pa.float64())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        raise DataError(f"{source}: target column {target!r} must be numeric for regression") \
            from None
    keep = pc.and_(pc.is_valid(labels), pc.invert(pc.is_nan(labels)))
    dropped = table.num_rows - (pc.sum(keep).as_py() or 0)
    if dropped:
        table = table.filter(keep)
        labels = labels.filter(keep)
    if table.num_rows < MIN_ROWS:
        raise DataError(f"{source}: {table.num_rows} rows with a target; need at least {MIN_ROWS}")

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


def write_split(array: Any, path: Path) -> None:
    """Write label-first rows, no header; features as float32 text (what the models see)."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.csv as pacsv

    columns = [pa.array(array[:, 0], pa.float64())]
    columns += [pa.array(array[:, i].astype(np.float32)) for i in range(1, array.shape[1])]
    table = pa.Table.from_arrays(columns, names=[f"c{i}" for i in range(len(columns))])
    pacsv.write_csv(table, path, pacsv.WriteOptions(include_header=False))
