"""The SageMaker training-job contract, shared by the scripts in this folder.

This module travels with the scripts into SageMaker's containers, so it imports nothing from
smlp and only numpy (plus pyarrow or pandas when present) from outside the standard library.
It covers what every entry point needs: the ``/opt/ml`` layout (``$OPT_ML`` overrides the base
so smlp's local backend can point it at a job folder), string hyperparameters, header-less
CSV channels with the target in column 0, and the ``output/failure`` file a failed job reports.
"""

from __future__ import annotations

import csv
import json
import os
import sys
import traceback
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

NO_HEADER_HINT = "SageMaker CSV input has no header"


class JobError(Exception):
    """A problem with the job's inputs; its message becomes the one-line FailureReason."""


# --------------------------------------------------------------------------- the /opt/ml layout


def opt_ml() -> Path:
    """The job's base folder: ``$OPT_ML`` when set (local backend), else ``/opt/ml``."""
    return Path(os.environ.get("OPT_ML") or "/opt/ml")


def output_dir() -> Path:
    return Path(os.environ.get("SM_OUTPUT_DIR") or opt_ml() / "output")


def model_dir() -> Path:
    path = Path(os.environ.get("SM_MODEL_DIR") or opt_ml() / "model")
    path.mkdir(parents=True, exist_ok=True)
    return path


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise JobError(f"{path.name}: not valid JSON ({exc})") from None


def read_hyperparameters() -> dict[str, str]:
    """``input/config/hyperparameters.json`` as SageMaker writes it: every value a string."""
    raw = _read_json(opt_ml() / "input" / "config" / "hyperparameters.json")
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise JobError("hyperparameters.json: expected a JSON object")
    return {str(name): value if isinstance(value, str) else json.dumps(value)
            for name, value in raw.items()}


def check_channels(known: tuple[str, ...], required: tuple[str, ...]) -> set[str]:
    """The channels the job declares; fails like SageMaker's toolkit on a missing or extra one.

    ``inputdataconfig.json`` is the declaration; without it, the folders present count.
    """
    config = _read_json(opt_ml() / "input" / "config" / "inputdataconfig.json")
    if isinstance(config, dict):
        for name in config:
            if name not in known:
                raise JobError(
                    f"Extraneous channel found: {name}; this algorithm reads "
                    + ", ".join(known)
                )
        names: Iterable[str] = config
    else:
        names = [n for n in known if channel_path(n).is_dir()]
    declared = set(names)
    for name in required:
        if name not in declared:
            raise JobError(f"Missing required channel: {name}")
    return declared


def channel_path(name: str) -> Path:
    return opt_ml() / "input" / "data" / name


def channel_files(root: Path) -> list[Path]:
    """Data files of a channel folder in a stable order; hidden files skipped."""
    if not root.is_dir():
        return []
    return sorted(
        p for p in root.rglob("*")
        if p.is_file() and not any(part.startswith(".") for part in p.relative_to(root).parts)
    )


# ------------------------------------------------------------------------------ hyperparameters


@dataclass(frozen=True)
class Param:
    """How one string hyperparameter becomes a typed value."""

    kind: type  # int, float or str
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[str, ...] | None = None
    required: bool = False
    also: tuple[str, ...] = ()  # literal strings accepted besides the kind, e.g. "auto"

    def parse(self, name: str, text: str) -> Any:
        text = text.strip()
        if text in self.also:
            return text
        if self.kind is str:
            if self.choices is not None and text not in self.choices:
                raise JobError(
                    f"hyperparameter {name}: expected one of {', '.join(self.choices)}, "
                    f"got {text!r}"
                )
            return text
        try:
            number = float(text)
        except ValueError:
            raise JobError(f"hyperparameter {name}: expected a number, got {text!r}") from None
        if self.kind is int:
            if not number.is_integer():
                raise JobError(f"hyperparameter {name}: expected an integer, got {text!r}")
            number = int(number)
        if self.minimum is not None and number < self.minimum:
            raise JobError(f"hyperparameter {name}: expected >= {self.minimum:g}, got {text}")
        if self.maximum is not None and number > self.maximum:
            raise JobError(f"hyperparameter {name}: expected <= {self.maximum:g}, got {text}")
        return number


def parse_hyperparameters(raw: dict[str, str], schema: dict[str, Param]) -> dict[str, Any]:
    """Type-check every value; unknown names fail the job instead of being silently ignored.

    Names starting with ``_`` or ``sagemaker_`` are SageMaker's own (``_tuning_objective_metric``,
    ``sagemaker_program``) and are passed through untouched.
    """
    values: dict[str, Any] = {}
    for name, text in raw.items():
        if name.startswith(("_", "sagemaker_")):
            values[name] = text
            continue
        param = schema.get(name)
        if param is None:
            raise JobError(
                f"unknown hyperparameter {name!r}; known: {', '.join(sorted(schema))}"
            )
        values[name] = param.parse(name, text)
    missing = [name for name, param in schema.items() if param.required and name not in values]
    if missing:
        raise JobError(f"missing required hyperparameter: {', '.join(missing)}")
    return values


# ------------------------------------------------------------------------------------ CSV data


def read_channel(
    name: str, *, required: bool, folder: str | Path | None = None
) -> tuple[np.ndarray, np.ndarray] | None:
    """A channel's CSV files as (target, features) float64 arrays, or None if it has none.

    SageMaker's CSV convention: no header, target in column 0, features after, numeric only;
    empty fields are missing values (NaN). ``folder`` overrides ``$OPT_ML/input/data/<name>``
    (script mode gets it as ``--train``). A channel of several files (a split's shards) is
    read file by file, in name order, straight into the two arrays: no list of per-file
    matrices to concatenate, only one file's parse in memory besides them.
    """
    root = Path(folder) if folder else channel_path(name)
    files = channel_files(root)
    if not files:
        if required:
            raise JobError(f"No data in {name} channel: {root} has no files")
        return None
    key = None
    if _PARSED is not None:
        key = tuple(_file_key(path) for path in files)
        if key in _PARSED:
            return _PARSED[key]
    widths = {path: _width(path) for path in files}
    present = [path for path in files if widths[path]]
    if not present:
        raise JobError(f"No data in {name} channel: its files are empty")
    if len({widths[path] for path in present}) > 1:
        raise JobError(f"{name} channel: files disagree on the number of columns "
                       f"{sorted({widths[path] for path in present})}")
    width = widths[present[0]]
    if width < 2:
        raise JobError(f"{name} channel: expected the target plus at least one feature column")
    capacity = sum(_line_count(path) for path in present)
    target = np.empty(capacity, dtype=np.float64)
    features = np.empty((capacity, width - 1), dtype=np.float64)
    rows = 0
    for path in present:
        shown = f"{name}/{path.relative_to(root).as_posix()}"
        rows += _read_into(path, shown, width, target, features, rows)
    if rows < capacity:  # blank lines: the rows read, still contiguous (views, no copy)
        target, features = target[:rows], features[:rows]
    if np.isnan(target).any():
        row = int(np.flatnonzero(np.isnan(target))[0]) + 1
        raise JobError(f"{name} channel row {row}: missing target value in column 0")
    if key is not None and _PARSED is not None:
        target.flags.writeable = False
        features.flags.writeable = False
        _PARSED[key] = (target, features)
    return target, features


# Parsed channels, kept by a process that runs many jobs on the same files (smlp's local
# tuning workers run one trial after another in-process). None, the default, keeps nothing.
_PARSED: dict[tuple[tuple[int, int, int, int], ...], tuple[np.ndarray, np.ndarray]] | None = None


def cache_parsed_files(enabled: bool = True) -> None:
    """Parse each channel's files once per process instead of once per job.

    Files are known by device, inode, size and mtime, so the hard links that later job folders
    make to the same files hit the cache; cached arrays are read-only.
    """
    global _PARSED
    _PARSED = {} if enabled else None


def _file_key(path: Path) -> tuple[int, int, int, int]:
    info = os.stat(path)
    return (info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns)


def _width(path: Path) -> int:
    """Fields on the file's first line (0: the file is empty)."""
    with open(path, "rb") as handle:
        first = handle.readline()
    return first.count(b",") + 1 if first.strip() else 0


def _line_count(path: Path) -> int:
    """Lines in the file (a last line without a newline counts): at least its rows."""
    lines = 0
    last = b"\n"
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            lines += chunk.count(b"\n")
            last = chunk[-1:]
    return lines + (last != b"\n")


def _read_into(path: Path, shown: str, width: int, target: np.ndarray,
               features: np.ndarray, start: int) -> int:
    """Parse one file into ``target[start:]`` and ``features[start:]``; its row count.
    With pyarrow each column goes from its buffers into place; else via one matrix."""
    try:
        table = _pyarrow_table(path, width)
    except ImportError:
        matrix = read_csv_matrix(path, shown)
        count = matrix.shape[0]
        target[start:start + count] = matrix[:, 0]
        features[start:start + count] = matrix[:, 1:]
        return count
    except Exception as exc:  # pyarrow's own error types
        raise JobError(_diagnose(path, shown, exc)) from None
    for i, column in enumerate(table.columns):
        position = start
        for chunk in column.chunks:
            values = _float64_values(chunk)
            if i == 0:
                target[position:position + len(chunk)] = values
            else:
                features[position:position + len(chunk), i - 1] = values
            position += len(chunk)
    return table.num_rows


def read_csv_matrix(path: Path, shown: str | None = None) -> np.ndarray:
    """One header-less numeric CSV file as a 2-D float64 array, parsed once, in C.

    ``shown`` names the file in error messages (``train/part-0.csv``).
    """
    with open(path, "rb") as handle:
        first = handle.readline()
    if not first.strip():
        return np.empty((0, 0))
    for reader in (_read_pyarrow, _read_pandas, _read_numpy):
        try:
            result = reader(path, first.count(b",") + 1)
        except ImportError:
            continue
        except Exception as exc:  # every parser has its own error types
            raise JobError(_diagnose(path, shown or str(path), exc)) from None
        if result.ndim == 1:
            result = result.reshape(1, -1)
        return result
    raise AssertionError("numpy is always importable")


def _pyarrow_table(path: Path, width: int) -> Any:
    """The file as float64 columns (ImportError without pyarrow)."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    names = [f"f{i}" for i in range(width)]
    return pacsv.read_csv(
        path,
        read_options=pacsv.ReadOptions(autogenerate_column_names=True),
        convert_options=pacsv.ConvertOptions(
            column_types=dict.fromkeys(names, pa.float64()), strings_can_be_null=False
        ),
    )


def _read_pyarrow(path: Path, width: int) -> np.ndarray:
    table = _pyarrow_table(path, width)
    out = np.empty((table.num_rows, width), dtype=np.float64)
    for i, column in enumerate(table.columns):
        start = 0
        for chunk in column.chunks:
            out[start:start + len(chunk), i] = _float64_values(chunk)
            start += len(chunk)
    return out


def _float64_values(chunk: Any) -> np.ndarray:
    """A float64 Arrow array as numpy, nulls as NaN, read from its buffers.

    pyarrow's own ``to_numpy`` imports pandas (~0.2 s, a third of a small job's run time).
    Arrow's layout is fixed: buffer 0 the validity bitmap (LSB first), buffer 1 the values.
    """
    validity, data = chunk.buffers()[:2]
    values = np.frombuffer(data, dtype=np.float64, count=chunk.offset + len(chunk))
    values = values[chunk.offset:]
    if chunk.null_count:
        bits = np.unpackbits(np.frombuffer(validity, dtype=np.uint8), bitorder="little")
        values = np.where(bits[chunk.offset:chunk.offset + len(chunk)] == 1, values, np.nan)
    return values


def _read_pandas(path: Path, width: int) -> np.ndarray:
    import pandas as pd

    return pd.read_csv(path, header=None, dtype=np.float64).to_numpy()


def _read_numpy(path: Path, width: int) -> np.ndarray:
    return np.loadtxt(path, delimiter=",", dtype=np.float64, ndmin=2)


def _diagnose(path: Path, shown: str, exc: Exception) -> str:
    """Find the first bad line with the slow csv module; only runs once a job is failing."""
    width: int | None = None
    with open(path, newline="", encoding="utf-8", errors="replace") as handle:
        for number, row in enumerate(csv.reader(handle), start=1):
            if not row:
                continue
            if width is None:
                width = len(row)
            elif len(row) != width:
                return f"{shown} line {number}: {len(row)} columns, expected {width}"
            for field in row:
                if field.strip() and not _is_number(field):
                    hint = f"; {NO_HEADER_HINT}" if number == 1 else ""
                    return f"{shown} line {number}: non-numeric value {field!r}{hint}"
    first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return f"{shown}: cannot parse as numeric CSV ({first_line})"


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


# -------------------------------------------------------------------------------- job outcome


def write_failure(reason: str) -> None:
    """Write ``output/failure`` (what DescribeTrainingJob shows) when that folder exists."""
    folder = output_dir()
    if folder.is_dir():
        (folder / "failure").write_text(reason.strip() + "\n")


def run_job(main: Callable[[], None]) -> int:
    """Run a training entry point; any error becomes a one-line failure reason and exit 1."""
    try:
        main()
    except JobError as exc:
        reason = " ".join(str(exc).split())
    except Exception as exc:  # report any crash the way SageMaker would
        traceback.print_exc()
        detail = " ".join(str(exc).split())[:500]
        reason = f"AlgorithmError: {type(exc).__name__}: {detail}"
    else:
        sys.stdout.flush()
        return 0
    print(f"ERROR: {reason}", file=sys.stderr, flush=True)
    write_failure(reason)
    return 1
