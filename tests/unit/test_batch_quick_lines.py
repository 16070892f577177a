"""A few rows' output lines and encoding skip ``pyarrow.compute`` (a small transform's start-up,
issue 14) and must give the Arrow path's bytes: each case runs both ways and compares."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

import smlp.batch.engine as engine
import smlp.data.schema as schema_module
from smlp.batch import BatchOptions, run_batch
from smlp.data.schema import CategoricalFeature, NumericFeature, Schema

AWKWARD = [1.5, -0.0, 1e-7, 0.000001, 123456789.0, 1e10, float("nan"), float("inf"),
           -3.4028235e38, 0.1]


def regression32(features: np.ndarray) -> np.ndarray:
    return (np.array(AWKWARD * 2, dtype=np.float32)[: len(features)] + features[:, 0] * 0)


def regression64(features: np.ndarray) -> np.ndarray:
    return np.array(AWKWARD * 2, dtype=np.float64)[: len(features)] / 3.0


def labels(features: np.ndarray) -> np.ndarray:  # a classifier's text records
    return np.where(features[:, 0] > 0, "yes", "no, \"never\"")


def _both_ways(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str, predict: object,
               width: int, options: BatchOptions) -> tuple[bytes, bytes]:
    src = tmp_path / "x.csv"
    src.write_bytes(text.encode())
    run_batch(src, tmp_path / "quick", predict, width, options)  # type: ignore[arg-type]
    with monkeypatch.context() as patch:
        patch.setattr(engine, "_quick_lines", lambda *args: None)
        run_batch(src, tmp_path / "arrow", predict, width, options)  # type: ignore[arg-type]
    return ((tmp_path / "quick" / "x.csv.out").read_bytes(),
            (tmp_path / "arrow" / "x.csv.out").read_bytes())


ROWS = "".join(f"id-{i},{i - 4}.25,{i}\n" for i in range(10))
QUOTED = 'a,"x,y",1\r\n"b",plain,-2\n c ,"say ""hi""",3'


@pytest.mark.parametrize("predict", [regression32, regression64, labels])
@pytest.mark.parametrize(("text", "width", "options"), [
    (ROWS, 2, BatchOptions(input_filter="$[1:]")),
    (ROWS, 2, BatchOptions(input_filter="$[1:]", join_source="Input")),
    (ROWS, 2, BatchOptions(input_filter="$[1:]", join_source="Input", output_filter="$[0,-1]")),
    (ROWS, 1, BatchOptions(input_filter="$[1]", join_source="Input", output_filter="$[1:]")),
    (ROWS, 2, BatchOptions(input_filter="$[1:]", join_source="Input", output_filter="$[0]")),
    (QUOTED, 1, BatchOptions(input_filter="$[2:]", join_source="Input")),
    (QUOTED, 1, BatchOptions(input_filter="$[2]", join_source="Input", output_filter="$[1,2]")),
])
def test_few_rows_write_the_arrow_paths_bytes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                              text: str, width: int, options: BatchOptions,
                                              predict: object) -> None:
    quick, arrow = _both_ways(tmp_path, monkeypatch, text, predict, width, options)
    assert quick == arrow
    assert quick.count(b"\n") == text.count("\n") + (not text.endswith("\n"))


def test_few_rows_take_the_quick_path(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    made: list[object] = []
    quick_lines = engine._quick_lines

    def spy(*args: object) -> object:
        made.append(result := quick_lines(*args))  # type: ignore[arg-type]
        return result

    monkeypatch.setattr(engine, "_quick_lines", spy)
    src = tmp_path / "x.csv"
    src.write_text(ROWS)
    run_batch(src, tmp_path / "out", regression32, 2, BatchOptions(input_filter="$[1:]"))
    assert made and all(isinstance(item, bytes) for item in made)


SCHEMA = Schema(target="y", features=[
    NumericFeature(name="f", fill=0.5, mean=1.0, scale=2.0),
    NumericFeature(name="i", fill=3.0, mean=0.0, scale=1.0),
    CategoricalFeature(name="city", categories=["north", "__missing__", "south"]),
])


@pytest.mark.parametrize("ints", [[1, 2, 3, 4, 2 ** 53], [None, 2, 3, 4, 5]])
def test_few_rows_encode_as_the_arrow_path(monkeypatch: pytest.MonkeyPatch,
                                           ints: list[int | None]) -> None:
    table = pa.table({
        "f": pa.array([1.5, None, -2.0, 0.25, 7.0], pa.float32()),
        "i": pa.array(ints, pa.int64()),
        "city": pa.array(["north", None, "moon", "south", "moon"], pa.string()),
    })
    quick_unseen: dict[str, dict[str | None, int]] = {}
    quick = SCHEMA.encode(table, "x.csv", quick_unseen)
    arrow_unseen: dict[str, dict[str | None, int]] = {}
    with monkeypatch.context() as patch:
        patch.setattr(schema_module, "_QUICK_ONE_HOT_ROWS", -1)
        patch.setattr(schema_module, "_float64", lambda column: None)
        arrow = SCHEMA.encode(table, "x.csv", arrow_unseen)
    np.testing.assert_array_equal(quick, arrow)
    assert quick_unseen == arrow_unseen == {"city": {"moon": 2}}


def test_unseen_missing_cell_counts_as_none_both_ways(monkeypatch: pytest.MonkeyPatch) -> None:
    schema = Schema(target="y", features=[CategoricalFeature(name="c", categories=["a"])])
    table = pa.table({"c": pa.array([None, "__missing__", "b", "a"], pa.string())})
    quick: dict[str, dict[str | None, int]] = {}
    schema.encode(table, "x.csv", quick)
    arrow: dict[str, dict[str | None, int]] = {}
    monkeypatch.setattr(schema_module, "_QUICK_ONE_HOT_ROWS", -1)
    schema.encode(table, "x.csv", arrow)
    assert quick == arrow == {"c": {None: 2, "b": 1}}
