"""What a transform writes: SageMaker's shape, smlp's named shape with the ID, unseen
categories counted or refused, and the throughput line."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pyarrow as pa
import pytest

from smlp.batch import BatchOptions, batch_options, run_batch
from smlp.batch.jsonpath import parse_path
from smlp.batch.options import describe_unseen
from smlp.batch.output import PREDICTION, OutputField, output_plan
from smlp.config import TransformConfig
from smlp.data.schema import CategoricalFeature, NumericFeature, Schema
from smlp.errors import SchemaMismatchError

SCHEMA = Schema(
    target="price", id_column="id", standardize=False,
    features=[CategoricalFeature(name="city", categories=["Oslo", "Lima"]),
              NumericFeature(name="size", fill=10.0)],
)
NAMED = BatchOptions(named_output=True, id_column="id")


def size_plus_oslo(features: np.ndarray) -> np.ndarray:
    """A "model" whose output says which encoded features it saw: size + 100 * [Oslo]."""
    return features[:, 2] + 100 * features[:, 0]


def run(tmp_path: Path, text: str, options: BatchOptions, **kwargs: object) -> tuple[str, object]:
    src = tmp_path / "new.csv"
    src.write_text(text)
    result = run_batch(src, tmp_path / "out", size_plus_oslo, SCHEMA.n_features, options,
                       encoder=SCHEMA, **kwargs)  # type: ignore[arg-type]
    return (tmp_path / "out" / "new.csv.out").read_text(), result


# -- which columns go out ----------------------------------------------------------------------
def test_named_plan_puts_the_id_beside_the_prediction_when_the_file_has_it() -> None:
    path, no_filter = Path("x.csv"), parse_path(None, "f")
    plan = output_plan(path, ["city", "id", "size"], True, NAMED, no_filter)
    assert plan.header and plan.fields == [OutputField("id", column="id"),
                                           OutputField(PREDICTION)]
    assert plan.header_line() == b"id,prediction\n"
    without_id = output_plan(path, ["city", "size"], True, NAMED, no_filter)
    assert without_id.fields == [OutputField(PREDICTION)]
    # Headerless input cannot carry names or an ID: SageMaker's shape, whatever the options.
    headerless = output_plan(path, ["c0", "c1"], False, NAMED, no_filter)
    assert not headerless.header and headerless.fields == [OutputField(PREDICTION)]


def test_sagemaker_plan_joins_and_filters_by_position() -> None:
    options = BatchOptions(join_source="Input", output_filter="$[1,-1]")
    plan = output_plan(Path("x.csv"), ["id", "city", "size"], True, options,
                       parse_path(options.output_filter, "f"))
    assert not plan.header
    assert plan.fields == [OutputField("city", column="city"), OutputField(PREDICTION)]


def test_header_names_are_quoted_like_csv() -> None:
    options = BatchOptions(named_output=True, id_column='order "no", 2')
    plan = output_plan(Path("x.csv"), ['order "no", 2', "size"], True, options,
                       parse_path(None, "f"))
    assert plan.header_line() == b'"order ""no"", 2",prediction\n'


@pytest.mark.parametrize(("config", "schema", "named"), [
    ({}, SCHEMA, True),
    ({"raw": True}, SCHEMA, False),
    ({"input_filter": "$[1:]"}, SCHEMA, False),
    ({"join_source": "Input"}, SCHEMA, False),
    ({"output_filter": "$[-1]"}, SCHEMA, False),
    ({}, None, False),  # headerless input: the schema is not applied
])
def test_named_output_unless_raw_or_filtered(config: dict, schema: Schema | None,
                                             named: bool) -> None:
    options = batch_options(TransformConfig(**config), schema)
    assert options.named_output is named
    assert options.id_column == ("id" if named else None)
    assert options.unseen_categories == ("warn" if schema is not None else None)


# -- the files ---------------------------------------------------------------------------------
def test_raw_input_with_header_gives_id_and_prediction_with_a_header(tmp_path: Path) -> None:
    text, _ = run(tmp_path, "size,id,city\n1,a7,Oslo\n2,\"b,8\",Lima\n", NAMED)
    assert text == 'id,prediction\na7,101\n"b,8",2\n'


def test_ids_go_out_as_written_whatever_pyarrow_reads_as_null(tmp_path: Path) -> None:
    ids = ["a7", "NA", "", "null", '"b,8"', "007", " c ", "N/A"] * 3
    rows = "".join(f"{i},Lima,{k}\n" for k, i in enumerate(ids))
    for block_size in (None, 24):  # one block; blocks with and without such IDs
        text, _ = run(tmp_path, "id,city,size\n" + rows, NAMED, block_size=block_size)
        assert text.splitlines() == ["id,prediction"] + [
            f"{i},{k}" for k, i in enumerate(ids)]


def test_sagemaker_shape_stays_available(tmp_path: Path) -> None:
    text, _ = run(tmp_path, "id,city,size\na7,Oslo,1\nb8,Lima,2\n", BatchOptions())
    assert text == "101\n2\n"
    joined = BatchOptions(join_source="Input", output_filter="$[0,-1]")
    text, _ = run(tmp_path, "id,city,size\na7,Oslo,1\nb8,Lima,2\n", joined)
    assert text == "a7,101\nb8,2\n"


def test_header_only_input_gives_header_only_output(tmp_path: Path) -> None:
    text, result = run(tmp_path, "id,city,size\n", NAMED)
    assert text == "id,prediction\n" and result.rows == 0  # type: ignore[attr-defined]


# -- unseen categories -------------------------------------------------------------------------
def test_schema_counts_unseen_categories_per_column() -> None:
    unseen: dict = {}
    batch = pa.table({"city": ["Oslo", "Rome", None, "Rome"], "size": [1.0, 2.0, 3.0, 4.0]})
    encoded = SCHEMA.encode(batch, unseen=unseen)
    assert unseen == {"city": {"Rome": 2, None: 1}}
    assert encoded[1, :2].tolist() == [0, 0]  # all zeros, as before
    SCHEMA.encode(batch)  # without the argument nothing is counted, nothing breaks


def test_unseen_categories_are_summed_over_blocks(tmp_path: Path) -> None:
    rows = "".join(f"r{i},{'Rome' if i % 3 == 0 else 'Oslo'},{i}\n" for i in range(60))
    options = BatchOptions(unseen_categories="warn")
    text, result = run(tmp_path, "id,city,size\n" + rows, options, block_size=64)
    assert result.unseen == {"city": {"Rome": 20}}  # type: ignore[attr-defined]
    assert len(text.splitlines()) == 60  # predicted all the same


def test_unseen_categories_error_refuses_naming_column_and_values(tmp_path: Path) -> None:
    options = BatchOptions(unseen_categories="error", named_output=True, id_column="id")
    with pytest.raises(SchemaMismatchError) as info:
        run(tmp_path, "id,city,size\na,Oslo,1\nb,Rome,2\nc,,3\nd,Rome,4\n", options)
    message = str(info.value)
    assert "new.csv: column city: categories the model was not trained on: " \
           "'Rome' (2 rows), missing (1 row)" in message
    assert "unseen_categories" in message and "\n" not in message
    assert not (tmp_path / "out" / "new.csv.out").exists()


def test_describe_unseen_shows_the_most_frequent_first() -> None:
    counts: dict[str | None, int] = {f"v{i}": i for i in range(1, 9)}
    assert describe_unseen(counts, limit=2) == "'v8' (8 rows), 'v7' (7 rows), and 6 more"


# -- the throughput line -----------------------------------------------------------------------
def test_throughput_gives_a_rate_only_where_it_measures_the_rows() -> None:
    from smlp.cli.transform import RATE_MIN_ROWS, throughput

    small = SimpleNamespace(rows=6, seconds=3.51, batch_seconds=0.02)
    assert throughput(small) == "6 rows in 3.51 s"
    big = SimpleNamespace(rows=1_000_000, seconds=4.5, batch_seconds=4.0)
    assert throughput(big) == "1,000,000 rows in 4.50 s (250,000 rows/s after 0.50 s of start-up)"
    remote = SimpleNamespace(rows=1_000_000, seconds=400.0, batch_seconds=None)
    assert throughput(remote) == "1,000,000 rows in 400.00 s"
    edge = SimpleNamespace(rows=RATE_MIN_ROWS, seconds=1.0, batch_seconds=0.5)
    assert "rows/s" in throughput(edge)
