"""Local Batch Transform on small real files: SageMaker's output, order, errors, atomicity."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from smlp.batch import BatchOptions, run_batch
from smlp.batch.jsonpath import parse_path
from smlp.errors import ConfigError, DataError, SchemaMismatchError


def row_sums(features: np.ndarray) -> np.ndarray:
    return features.sum(axis=1, dtype=np.float32)


def nan_sums(features: np.ndarray) -> np.ndarray:
    return np.nansum(features, axis=1)


def first_column(features: np.ndarray) -> np.ndarray:
    return features[:, 0].copy()


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_bytes(text.encode())
    return path


def out_text(result_path: Path) -> str:
    return result_path.read_text()


def test_predictions_one_per_line_in_input_order(tmp_path: Path) -> None:
    src = write(tmp_path, "x.csv", "1,2\n3,4.5\n-1,0.25\n")
    result = run_batch(src, tmp_path / "out", row_sums, 2, BatchOptions())
    target = tmp_path / "out" / "x.csv.out"
    assert out_text(target) == "3\n7.5\n-0.75\n"
    assert result.files == [(src, target, 3)]
    assert result.rows == 3
    assert result.seconds >= 0


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        (None, "21\n"),
        ("$", "21\n"),
        ("$[1:]", "20\n"),
        ("$[:-1]", "15\n"),
        ("$[2:5]", "12\n"),
        ("$[0]", "1\n"),
        ("$[-1]", "6\n"),
        ("$[1,3,5]", "12\n"),
        ("$[0,2:4,-1]", "14\n"),
        ("$[-3,-2]", "9\n"),
    ],
)
def test_input_filter_selects_feature_columns(
    tmp_path: Path, expr: str | None, expected: str
) -> None:
    src = write(tmp_path, "x.csv", "1,2,3,4,5,6\n")
    width = len(parse_path(expr, "transform.input_filter").resolve(6))
    run_batch(src, tmp_path / "out", row_sums, width, BatchOptions(input_filter=expr))
    assert out_text(tmp_path / "out" / "x.csv.out") == expected


@pytest.mark.parametrize(
    ("join", "output_filter", "expected"),
    [
        (None, None, "3.5\n7\n"),
        ("None", "$[-1]", "3.5\n7\n"),
        ("None", "$[0,0]", "3.5,3.5\n7,7\n"),
        ("Input", None, "id-1,1.50,2,3.5\nid-2,3,4e0,7\n"),
        ("Input", "$[0,-1]", "id-1,3.5\nid-2,7\n"),
        ("Input", "$[-1]", "3.5\n7\n"),
        ("Input", "$[1:]", "1.50,2,3.5\n3,4e0,7\n"),
        ("Input", "$[-1,0]", "3.5,id-1\n7,id-2\n"),
    ],
)
def test_join_and_output_filter_match_sagemaker(
    tmp_path: Path, join: str | None, output_filter: str | None, expected: str
) -> None:
    src = write(tmp_path, "x.csv", "id-1,1.50,2\nid-2,3,4e0\n")
    options = BatchOptions(input_filter="$[1:]", join_source=join, output_filter=output_filter)
    run_batch(src, tmp_path / "out", row_sums, 2, options)
    assert out_text(tmp_path / "out" / "x.csv.out") == expected


def test_join_keeps_text_and_requotes_fields_that_need_it(tmp_path: Path) -> None:
    src = write(tmp_path, "x.csv", 'a,"x,y",1\r\n"b",plain,2\n c ,"say ""hi""",3')
    options = BatchOptions(input_filter="$[2:]", join_source="Input")
    run_batch(src, tmp_path / "out", row_sums, 1, options)
    assert out_text(tmp_path / "out" / "x.csv.out") == (
        'a,"x,y",1,1\nb,plain,2,2\n c ,"say ""hi""",3,3\n'
    )


def test_feature_column_kept_in_output_is_both_text_and_number(tmp_path: Path) -> None:
    src = write(tmp_path, "x.csv", "k,1.50,2\nk,,NA\n")
    options = BatchOptions(input_filter="$[1:]", join_source="Input", output_filter="$[1,-1]")
    run_batch(src, tmp_path / "out", row_sums, 2, options)
    assert out_text(tmp_path / "out" / "x.csv.out") == "1.50,3.5\n,nan\n"


def test_missing_values_reach_the_model_as_nan(tmp_path: Path) -> None:
    src = write(tmp_path, "x.csv", "1,,3\nNA,2,nan\n")
    seen: list[np.ndarray] = []

    def record(features: np.ndarray) -> np.ndarray:
        seen.append(features.copy())
        return np.nansum(features, axis=1)

    run_batch(src, tmp_path / "out", record, 3, BatchOptions())
    np.testing.assert_array_equal(seen[0], np.array([[1, np.nan, 3], [np.nan, 2, np.nan]]))
    assert out_text(tmp_path / "out" / "x.csv.out") == "4\n2\n"


def test_predict_gets_c_contiguous_float32(tmp_path: Path) -> None:
    src = write(tmp_path, "x.csv", "9,1,2\n9,3,4\n")
    seen: list[np.ndarray] = []

    def record(features: np.ndarray) -> np.ndarray:
        seen.append(features)
        return row_sums(features)

    run_batch(src, tmp_path / "out", record, 2, BatchOptions(input_filter="$[1:]"))
    assert seen[0].dtype == np.float32
    assert seen[0].flags.c_contiguous
    assert seen[0].shape == (2, 2)


def test_folder_gives_one_out_per_visible_file_sorted(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    write(folder, "b.csv", "1,1\n")
    write(folder, "a.csv", "2,2\n3,3\n")
    write(folder, ".hidden.csv", "oops\n")
    (folder / "nested").mkdir()
    result = run_batch(folder, tmp_path / "out", row_sums, 2, BatchOptions())
    assert [(i.name, o.name, n) for i, o, n in result.files] == [
        ("a.csv", "a.csv.out", 2),
        ("b.csv", "b.csv.out", 1),
    ]
    assert result.rows == 3
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["a.csv.out", "b.csv.out"]
    assert out_text(tmp_path / "out" / "a.csv.out") == "4\n6\n"


@pytest.mark.parametrize("block_size", [7, 64, 1000])
def test_order_is_kept_across_many_blocks(tmp_path: Path, block_size: int) -> None:
    rows = [f"{i},{'x' * (i % 13)}" for i in range(3000)]
    rows[1234] = "1234," + "y" * 200  # longer than a block: read until the line ends
    src = write(tmp_path, "x.csv", "\n".join(rows) + "\n")
    options = BatchOptions(input_filter="$[0]", join_source="Input", output_filter="$[-1]")
    result = run_batch(src, tmp_path / "out", first_column, 1, options, block_size=block_size)
    assert result.rows == 3000
    expected = "".join(f"{i}\n" for i in range(3000))
    assert out_text(tmp_path / "out" / "x.csv.out") == expected


@pytest.mark.parametrize(
    "options",
    [
        BatchOptions(max_payload_mb=0),
        BatchOptions(max_payload_mb=1),
        BatchOptions(batch_strategy="SingleRecord"),
        BatchOptions(split_type="None"),
    ],
)
def test_batching_options_do_not_change_the_output(tmp_path: Path, options: BatchOptions) -> None:
    src = write(tmp_path, "x.csv", "".join(f"{i},1\n" for i in range(500)))
    run_batch(src, tmp_path / "out", row_sums, 2, options)
    assert out_text(tmp_path / "out" / "x.csv.out") == "".join(f"{i + 1}\n" for i in range(500))


def test_crlf_blank_lines_and_no_final_newline(tmp_path: Path) -> None:
    src = write(tmp_path, "x.csv", "\n1,2\r\n\r\n3,4")
    result = run_batch(src, tmp_path / "out", row_sums, 2, BatchOptions())
    assert result.rows == 2
    assert out_text(tmp_path / "out" / "x.csv.out") == "3\n7\n"


def test_wrong_feature_count_names_file_and_filter(tmp_path: Path) -> None:
    src = write(tmp_path, "x.csv", "1,2,3\n")
    with pytest.raises(SchemaMismatchError) as info:
        run_batch(src, tmp_path / "out", row_sums, 3, BatchOptions(input_filter="$[1:]"))
    assert str(info.value) == (
        f"{src}: expected 3 feature columns after input_filter $[1:] (3 in each row), got 2"
    )
    with pytest.raises(SchemaMismatchError, match=r"after input_filter \$ \(3 in each row\)"):
        run_batch(src, tmp_path / "out", row_sums, 4, BatchOptions())


def test_filter_index_beyond_the_row_names_the_file(tmp_path: Path) -> None:
    src = write(tmp_path, "x.csv", "1,2,3\n")
    with pytest.raises(SchemaMismatchError, match=r"x\.csv: input_filter .*selects column 5"):
        run_batch(src, tmp_path / "out", row_sums, 1, BatchOptions(input_filter="$[5]"))


@pytest.mark.parametrize("block_size", [8, 1 << 20])
def test_inconsistent_row_names_its_line(tmp_path: Path, block_size: int) -> None:
    src = write(tmp_path, "x.csv", "1,2\n3,4\n\n5,6,7\n8,9\n")
    with pytest.raises(SchemaMismatchError) as info:
        run_batch(src, tmp_path / "out", row_sums, 2, BatchOptions(), block_size=block_size)
    assert str(info.value) == f"{src}: line 4: expected 2 columns like the first row, got 3"


def test_non_numeric_value_names_file_column_and_value(tmp_path: Path) -> None:
    src = write(tmp_path, "x.csv", "a,1,2\nb,3,x7\n")
    with pytest.raises(SchemaMismatchError) as info:
        run_batch(src, tmp_path / "out", row_sums, 2, BatchOptions(input_filter="$[1:]"))
    assert str(info.value) == f"{src}: column 2: expected a number, got 'x7'"


def test_non_numeric_value_in_a_joined_feature_column(tmp_path: Path) -> None:
    src = write(tmp_path, "x.csv", "1,2\n3,oops\n")
    options = BatchOptions(join_source="Input")
    with pytest.raises(SchemaMismatchError) as info:
        run_batch(src, tmp_path / "out", row_sums, 2, options)
    assert str(info.value) == f"{src}: column 1: expected a number, got 'oops'"


def test_header_in_numeric_input_is_a_schema_error(tmp_path: Path) -> None:
    src = write(tmp_path, "x.csv", "a,b\n1,2\n")
    with pytest.raises(SchemaMismatchError, match="column 0: expected a number, got 'a'"):
        run_batch(src, tmp_path / "out", row_sums, 2, BatchOptions())


def test_error_leaves_no_out_and_no_temp_file(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    write(folder, "a.csv", "1,2\n")
    write(folder, "b.csv", "".join("1,2\n" for _ in range(200)) + "1,bad\n")
    out = tmp_path / "out"
    with pytest.raises(SchemaMismatchError, match="b.csv"):
        run_batch(folder, out, row_sums, 2, BatchOptions(), block_size=64)
    assert sorted(p.name for p in out.iterdir()) == ["a.csv.out"]  # complete; b never written


def test_predict_failure_mid_file_cleans_up(tmp_path: Path) -> None:
    src = write(tmp_path, "x.csv", "".join(f"{i},1\n" for i in range(1000)))
    calls = 0

    def flaky(features: np.ndarray) -> np.ndarray:
        nonlocal calls
        calls += 1
        if calls == 3:
            raise RuntimeError("model crashed")
        return row_sums(features)

    out = tmp_path / "out"
    with pytest.raises(RuntimeError, match="model crashed"):
        run_batch(src, out, flaky, 2, BatchOptions(), block_size=100)
    assert list(out.iterdir()) == []


def test_wrong_prediction_shape_is_a_data_error(tmp_path: Path) -> None:
    src = write(tmp_path, "x.csv", "1,2\n3,4\n")
    with pytest.raises(DataError, match=r"predictions of shape \(1,\) for 2 rows"):
        run_batch(src, tmp_path / "out", lambda x: x[:1, 0], 2, BatchOptions())


def test_empty_file_gives_empty_out(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    write(folder, "empty.csv", "")
    write(folder, "blank.csv", "\n\n")
    result = run_batch(folder, tmp_path / "out", row_sums, 2, BatchOptions())
    assert [n for _, _, n in result.files] == [0, 0]
    assert out_text(tmp_path / "out" / "empty.csv.out") == ""
    assert out_text(tmp_path / "out" / "blank.csv.out") == ""


def test_missing_input_and_empty_folder(tmp_path: Path) -> None:
    with pytest.raises(DataError) as info:
        run_batch(tmp_path / "nope.csv", tmp_path / "out", row_sums, 2, BatchOptions())
    assert str(info.value) == f"{tmp_path / 'nope.csv'}: input not found"
    (tmp_path / "empty").mkdir()
    write(tmp_path / "empty", ".DS_Store", "x")
    with pytest.raises(DataError) as info:
        run_batch(tmp_path / "empty", tmp_path / "out", row_sums, 2, BatchOptions())
    assert str(info.value) == f"{tmp_path / 'empty'}: no input files"


def test_bad_filter_fails_before_reading(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="transform.input_filter: unsupported JSONPath"):
        options = BatchOptions(input_filter="$.x")
        run_batch(tmp_path / "nope", tmp_path / "out", row_sums, 2, options)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("split_type", "RecordIO"),
        ("batch_strategy", "Multi"),
        ("join_source", "Output"),
        ("max_payload_mb", -1),
    ],
)
def test_options_are_checked(field: str, value: object) -> None:
    with pytest.raises(ConfigError, match=f"transform.{field}"):
        BatchOptions(**{field: value})  # type: ignore[arg-type]


def test_progress_reaches_the_total(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    write(folder, "a.csv", "".join(f"{i},1\n" for i in range(300)))
    write(folder, "b.csv", "")
    write(folder, "c.csv", "1,2\n3,4")
    total = sum(p.stat().st_size for p in folder.iterdir())
    calls: list[tuple[int, int]] = []
    run_batch(
        folder,
        tmp_path / "out",
        row_sums,
        2,
        BatchOptions(),
        on_progress=lambda done, total_: calls.append((done, total_)),
        block_size=128,
    )
    assert calls[0] == (0, total)
    assert calls[-1] == (total, total)
    assert all(t == total for _, t in calls)
    done = [d for d, _ in calls]
    assert done == sorted(done)
    assert len(calls) > 5


class ColorEncoder:
    """A stand-in for a recorded schema: one number, one category, by name."""

    def column_types(self) -> dict[str, pa.DataType]:
        return {"size": pa.float64(), "color": pa.string()}

    def encode(self, batch: pa.RecordBatch) -> np.ndarray:
        size = batch.column("size").to_numpy(zero_copy_only=False)
        colors = batch.column("color").to_pylist()
        red = np.array([{"red": 1, None: -10}.get(c, 0) for c in colors], np.float32)
        return np.column_stack([size, red]).astype(np.float32)


def test_encoder_reads_header_and_joins_raw_rows(tmp_path: Path) -> None:
    src = write(tmp_path, "raw.csv", "id,color,size\nA,red,1.50\nB,blue,\nC,red,2\nD,,1\n")
    options = BatchOptions(join_source="Input", input_filter="$[1:]")  # filter ignored
    result = run_batch(
        src, tmp_path / "out", nan_sums, 2, options, encoder=ColorEncoder(), block_size=16
    )
    assert result.rows == 4
    # Missing cells reach the encoder as nulls but are joined back as the text they were.
    assert out_text(tmp_path / "out" / "raw.csv.out") == (
        "A,red,1.50,2.5\nB,blue,,0\nC,red,2,3\nD,,1,-9\n"
    )


def test_encoder_header_may_start_with_a_bom(tmp_path: Path) -> None:
    src = tmp_path / "excel.csv"
    src.write_text("\ufeffcolor,size\nred,1\n", encoding="utf-8")
    options = BatchOptions(join_source="Input")
    run_batch(src, tmp_path / "out", row_sums, 2, options, encoder=ColorEncoder())
    assert out_text(tmp_path / "out" / "excel.csv.out") == "red,1,2\n"


def test_encoder_output_filter_and_missing_column(tmp_path: Path) -> None:
    src = write(tmp_path, "raw.csv", "id,color,size\nA,red,1\n")
    options = BatchOptions(join_source="Input", output_filter="$[0,-1]")
    run_batch(src, tmp_path / "out", row_sums, 2, options, encoder=ColorEncoder())
    assert out_text(tmp_path / "out" / "raw.csv.out") == "A,2\n"
    bad = write(tmp_path, "bad.csv", "id,colour,size\nA,red,1\n")
    with pytest.raises(SchemaMismatchError, match="bad.csv: header lacks column"):
        run_batch(bad, tmp_path / "out", row_sums, 2, BatchOptions(), encoder=ColorEncoder())


def test_encoder_type_error_names_column(tmp_path: Path) -> None:
    src = write(tmp_path, "raw.csv", "color,size\nred,1\nblue,big\n")
    with pytest.raises(SchemaMismatchError) as info:
        run_batch(src, tmp_path / "out", row_sums, 2, BatchOptions(), encoder=ColorEncoder())
    assert str(info.value) == f"{src}: column 1 (size): expected a number, got 'big'"


def test_xgboost_booster_predictions_round_trip(tmp_path: Path) -> None:
    xgb = pytest.importorskip("xgboost")
    rng = np.random.default_rng(0)
    features = rng.normal(size=(300, 3)).astype(np.float32)
    label = features @ np.array([1.0, -2.0, 0.5], np.float32)
    booster = xgb.train(
        {"max_depth": 3, "nthread": 1}, xgb.DMatrix(features, label=label), num_boost_round=5
    )
    lines = [f"row{i}," + ",".join(repr(float(v)) for v in row) for i, row in enumerate(features)]
    src = write(tmp_path, "x.csv", "\n".join(lines) + "\n")
    options = BatchOptions(input_filter="$[1:]", join_source="Input", output_filter="$[0,-1]")
    run_batch(src, tmp_path / "out", booster.inplace_predict, 3, options, block_size=1024)
    rows = [line.split(",") for line in out_text(tmp_path / "out" / "x.csv.out").splitlines()]
    assert [r[0] for r in rows] == [f"row{i}" for i in range(300)]
    got = np.array([float(r[1]) for r in rows], np.float32)
    np.testing.assert_array_equal(got, booster.inplace_predict(features))


def test_importing_the_package_stays_light() -> None:
    code = (
        "import sys, smlp.batch; "
        "heavy = [m for m in ('pyarrow', 'numpy', 'xgboost') if m in sys.modules]; "
        "assert not heavy, heavy"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
