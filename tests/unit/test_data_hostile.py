"""Input files that used to crash `smlp data prepare` or slip through it."""

from __future__ import annotations

from pathlib import Path

import pytest

from smlp.config.data import SplitFractions
from smlp.data.prepare import prepare_table, read_table
from smlp.errors import DataError, SchemaMismatchError


def _csv(tmp_path: Path, header: str, rows: list[str], name: str = "in.csv") -> Path:
    path = tmp_path / name
    path.write_text(header + "\n" + "\n".join(rows) + "\n", encoding="utf-8")
    return path


def _rows(n: int = 60, make=lambda i: f"{i},{i % 7},{i * 0.5}") -> list[str]:
    return [make(i) for i in range(n)]


def _prepare(path: Path, target: str = "y") -> object:
    return prepare_table(read_table(path), target, None, SplitFractions(), 0, True, str(path))


def test_duplicate_column_names_are_named(tmp_path: Path) -> None:
    path = _csv(tmp_path, "x,x,y", _rows())
    with pytest.raises(DataError, match=r"in.csv: column name 'x' appears more than once "
                                        r"\(columns 1 and 2\)"):
        _prepare(path)


def test_non_utf8_csv_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "latin.csv"
    lines = [b"x,city,y"] + [f"{i},Berlin,{i}".encode() for i in range(30)]
    lines[12] = b"11,M\xfcnchen,11"
    path.write_bytes(b"\n".join(lines) + b"\n")
    with pytest.raises(DataError, match=r"latin.csv:13: not UTF-8 text \(byte 0xfc\)"):
        read_table(path)


@pytest.mark.parametrize("column,value", [("x", "inf"), ("z", "-inf"), ("y", "inf")])
def test_infinite_values_are_refused_with_their_row(tmp_path: Path, column: str,
                                                    value: str) -> None:
    def make(i: int) -> str:
        cells = {"x": str(i), "z": str(i % 7), "y": str(i * 0.5)}
        if i == 4:
            cells[column] = value
        return ",".join(cells[c] for c in ("x", "z", "y"))

    path = _csv(tmp_path, "x,z,y", _rows(make=make))
    with pytest.raises(DataError, match=rf"column '{column}' has an infinite value "
                                        rf"\({value}\) in data row 5"):
        _prepare(path)


def test_constant_target_is_refused(tmp_path: Path) -> None:
    path = _csv(tmp_path, "x,z,y", _rows(make=lambda i: f"{i},{i % 3},2.5"))
    with pytest.raises(DataError, match=r"target column 'y' has the same value \(2.5\) in "
                                        "every row"):
        _prepare(path)


def test_transform_input_with_infinity_is_a_schema_error(tmp_path: Path) -> None:
    import pyarrow as pa

    prepared = _prepare(_csv(tmp_path, "x,z,y", _rows()))
    batch = pa.table({"x": [1.0, float("inf")], "z": [1.0, 2.0]})
    with pytest.raises(SchemaMismatchError, match="column x: an infinite value"):
        prepared.schema.encode(batch, "new.csv")


def test_cli_prepare_exits_3_without_traceback(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from smlp.cli.main import app

    path = _csv(tmp_path, "x,x,y", _rows())
    result = CliRunner().invoke(app, ["data", "prepare", "--input", str(path), "--target", "y",
                                      "--store", str(tmp_path / "store")])
    assert result.exit_code == 3, result.output
    assert "Traceback" not in result.output
    assert "appears more than once" in result.output
