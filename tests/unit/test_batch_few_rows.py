"""A few rows are parsed, encoded and written in Python (no pyarrow import for a small
transform, issue 14) and must give what Arrow's reader gives: every case runs both ways and
compares output bytes, unseen-category counts and error messages."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.csv as pcsv
import pytest

import smlp.batch.reader as reader
from smlp.batch import BatchOptions, run_batch
from smlp.batch.few_rows import QUICK_ROWS, split_rows
from smlp.data.schema import CategoricalFeature, NumericFeature, Schema
from smlp.errors import SmlpError
from smlp.number_text import ARROW_NULLS, arrow_float32, arrow_float64

PARSE_FEW = reader._parse_few
SCHEMA = Schema(target="y", id_column="id", features=[
    NumericFeature(name="f", fill=0.5, mean=1.0, scale=2.0),
    NumericFeature(name="g", fill=-1.0),
    CategoricalFeature(name="city", categories=["north", "__missing__", "south"]),
])


def weighted(features: np.ndarray) -> np.ndarray:  # float32 out, every column counts
    weights = np.arange(1, features.shape[1] + 1, dtype=np.float32)
    return np.nan_to_num(features, nan=7.0) @ weights / 3


def labels(features: np.ndarray) -> np.ndarray:
    return np.where(np.nan_to_num(features[:, 0]) > 0, "yes", "no")


def counts(features: np.ndarray) -> np.ndarray:
    return np.arange(len(features), dtype=np.int64) - 2


def _run(tmp_path: Path, name: str, text: str | bytes, predict: Any, width: int,
         options: BatchOptions, encoder: Any) -> tuple[bytes | str, dict[str, Any]]:
    src = tmp_path / f"{name}.csv"
    src.write_bytes(text if isinstance(text, bytes) else text.encode())
    try:
        result = run_batch(src, tmp_path / name, predict, width, options, encoder=encoder)
    except SmlpError as exc:
        return str(exc).replace(str(src), "<src>"), {}
    return (tmp_path / name / src.with_suffix(".csv.out").name).read_bytes(), result.unseen


def both_ways(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str | bytes,
              predict: Any = weighted, width: int = 2, options: BatchOptions | None = None,
              encoder: Any = None) -> tuple[Any, Any]:
    options = options or BatchOptions()
    parsed: list[bool] = []

    def spy(*args: Any) -> Any:
        parsed.append((block := PARSE_FEW(*args)) is not None)
        return block

    monkeypatch.setattr(reader, "_parse_few", spy)
    quick = _run(tmp_path, "quick", text, predict, width, options, encoder)
    monkeypatch.setattr(reader, "_parse_few", lambda *args: None)
    arrow = _run(tmp_path, "arrow", text, predict, width, options, encoder)
    assert quick == arrow
    return quick, parsed


HEADERLESS = [
    "1,2\n3,4.5\n-1,0.25\n",
    "1,2\r\n\r\n3,\n\n,NA\r\n-0,nan\n5,6",  # CRLF, empty lines, missing cells, no last newline
    "0.1,1e-7\n+3,.5\n7.,1E+05\n",
    "16777217,0.30000001192092896\n3.4028235e38,1e-40\n",  # float32 midpoint, subnormal
    "1,2\n3,oops\n",  # Arrow's message
    "1,2\n3\n",  # a short row: Arrow's message
    '1,"2"\n3,4\n',  # quotes: Arrow
    "1,2\r3,4\n",  # a lone CR ends a line for Arrow
    "\ufeff1,2\n3,4\n",
]


@pytest.mark.parametrize("text", HEADERLESS)
@pytest.mark.parametrize("options", [
    BatchOptions(),
    BatchOptions(input_filter="$[1:]", join_source="Input"),
    BatchOptions(input_filter="$[0]", join_source="Input", output_filter="$[1:]"),
])
def test_headerless_rows_as_arrow_reads_them(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                             text: str, options: BatchOptions) -> None:
    width = 1 if options.input_filter else 2
    both_ways(tmp_path, monkeypatch, text, width=width, options=options)


RAW = [
    "id,f,g,city\nA,1.5,2,north\nB,,NA,\nC,-3,0.25,moon\nD,1e3,,south\nE,N/A,7,NA\n",
    "city,g,id,f,extra\r\nsouth,1,x1,2,t\r\nmoon,2,x2,NaN,u\r\n,3,x3,4,\r\n",
    "id,f,g,city\nA,1.5,2,north\nB,abc,1,south\n",  # not a number: Arrow's message
    "id,f,g,city\nA,1.5,2,north\nB,1e999,1,south\n",  # infinite: the schema's message
    "id,f,g\nA,1,2\n",  # a column missing
    'id,f,g,city\nA,1.5,2,"north"\n',
]


@pytest.mark.parametrize("text", RAW)
@pytest.mark.parametrize("options", [
    BatchOptions(named_output=True, id_column="id", unseen_categories="warn"),
    BatchOptions(named_output=True, id_column="id", unseen_categories="error"),
    BatchOptions(join_source="Input"),
])
@pytest.mark.parametrize("predict", [weighted, labels, counts])
def test_raw_rows_encode_as_arrow_reads_them(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                             text: str, options: BatchOptions,
                                             predict: Any) -> None:
    both_ways(tmp_path, monkeypatch, text, predict, SCHEMA.n_features, options, SCHEMA)


def test_plain_rows_take_the_python_path(tmp_path: Path,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    _, parsed = both_ways(tmp_path, monkeypatch, RAW[0], width=SCHEMA.n_features,
                          options=BatchOptions(named_output=True, id_column="id"),
                          encoder=SCHEMA)
    assert parsed == [True]
    _, parsed = both_ways(tmp_path, monkeypatch, HEADERLESS[1])
    assert parsed == [True, True]  # the last line, without its newline, is a block of its own
    _, parsed = both_ways(tmp_path, monkeypatch, HEADERLESS[-3])  # quoted
    assert parsed == [False]


def test_many_rows_go_to_arrow() -> None:
    assert split_rows(b"1,2\n" * QUICK_ROWS, 2) is not None
    assert split_rows(b"1,2\n" * (QUICK_ROWS + 1), 2) is None


def test_arrow_null_values() -> None:
    assert ARROW_NULLS == set(pcsv.ConvertOptions().null_values)


def test_cells_convert_to_arrows_floats() -> None:
    rng = np.random.default_rng(5)
    cells = ["+1", "1.", ".5", "-0", "007", "1e-320", "3.4028235e38", "3.4028236e38", "1e-45",
             "16777217", "0.1", "-.5e-3", "NA", "nan", "-nan", "1e400", "1_0", " 1", "inf"]
    for _ in range(1500):
        cells.append(f"{rng.integers(0, 10 ** rng.integers(1, 18))}e{rng.integers(-40, 40)}")
        cells.append(f"{rng.normal() * 10.0 ** rng.integers(-10, 10):.{rng.integers(1, 20)}g}")
    data = pa.py_buffer(("\n".join(cells) + "\n").encode())
    for arrow_type, convert, dtype in ((pa.float64(), arrow_float64, np.float64),
                                       (pa.float32(), arrow_float32, np.float32)):
        quick = [convert(cell) for cell in cells]
        usable = [i for i, value in enumerate(quick) if value is not None]
        assert len(usable) > len(cells) * 0.8
        try:
            table = pcsv.read_csv(data, read_options=pcsv.ReadOptions(column_names=["x"]),
                                  convert_options=pcsv.ConvertOptions(
                                      column_types={"x": arrow_type}))
            arrow = table.column("x").to_numpy(zero_copy_only=False).astype(dtype)
        except pa.ArrowInvalid:  # a cell Arrow refuses: compare cell by cell
            arrow = np.array([_one(cell, arrow_type) for cell in cells], dtype=dtype)
        ours = np.array([quick[i] for i in usable], dtype=dtype)
        np.testing.assert_array_equal(ours.view(f"u{ours.itemsize}"),
                                      arrow[usable].view(f"u{ours.itemsize}"))


def _one(cell: str, arrow_type: pa.DataType) -> float:
    try:
        value = pcsv.read_csv(pa.py_buffer(f"x\n{cell}\n".encode()),
                              convert_options=pcsv.ConvertOptions(
                                  column_types={"x": arrow_type})).column("x")[0].as_py()
    except pa.ArrowInvalid:
        return float("nan")
    return float("nan") if value is None else value


def test_a_few_raw_rows_import_no_pyarrow(tmp_path: Path) -> None:
    (tmp_path / "schema.json").write_text(SCHEMA.to_json())
    (tmp_path / "raw.csv").write_text(RAW[0])
    code = """
import sys
from pathlib import Path
import numpy as np
from smlp.batch import BatchOptions, run_batch
from smlp.data.schema import Schema
schema = Schema.model_validate_json(Path("schema.json").read_text())
run_batch(Path("raw.csv"), Path("out"), lambda x: x.sum(axis=1), schema.n_features,
          BatchOptions(named_output=True, id_column="id", unseen_categories="warn"),
          encoder=schema)
print(sorted(m for m in sys.modules if m.split(".")[0] in ("pyarrow", "pandas")))
"""
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True,
                          text=True, check=True)
    assert done.stdout.strip() == "[]"
    assert (tmp_path / "out" / "raw.csv.out").read_text().splitlines()[:2] == [
        "id,prediction", "A,3.25"]
