from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from smlp.config.data import SplitFractions
from smlp.data.prepare import prepare_table, read_table, write_split
from smlp.data.schema import Schema
from smlp.data.synthetic import FEATURES, TARGET, generate
from smlp.errors import DataError, SchemaMismatchError

SPLITS = SplitFractions()


def test_synthetic_is_reproducible_and_realistic() -> None:
    first, second = generate(2000, 7), generate(2000, 7)
    assert first.equals(second)
    assert not first.equals(generate(2000, 8))
    assert first.schema.names == [*FEATURES, TARGET]
    target = first.column(TARGET).to_numpy()
    assert target.max() <= 5.00001 and target.min() >= 0.14
    income = first.column("MedInc").to_numpy()
    assert np.corrcoef(income, target)[0, 1] > 0.5  # income drives value, as in the census


def test_same_seed_same_split_bytes(tmp_path: Path) -> None:
    outputs = []
    for run in range(2):
        prepared = prepare_table(generate(1000, 3), TARGET, None, SPLITS, 3, True, "synthetic")
        path = tmp_path / f"train{run}.csv"
        write_split(prepared.splits["train"], path)
        outputs.append(path.read_bytes())
    assert outputs[0] == outputs[1]
    first = outputs[0].decode().splitlines()[0].split(",")
    assert len(first) == 9  # target first, 8 features, no header
    float(first[0])


def mixed_table() -> pa.Table:
    rng = np.random.default_rng(0)
    n = 200
    city = rng.choice(["Oslo", "Lima", "Pune"], n).tolist()
    city[3] = None
    size = rng.normal(100, 20, n)
    size[5] = np.nan
    return pa.table({
        "id": [f"r{i}" for i in range(n)],
        "city": city,
        "size": pa.array(size),
        "garden": rng.choice([True, False], n).tolist(),
        "price": size * 2 + rng.normal(0, 1, n),
    })


def test_prepare_encodes_categoricals_missing_values_and_id() -> None:
    prepared = prepare_table(mixed_table(), "price", "id", SPLITS, 1, True, "houses.csv")
    schema = prepared.schema
    kinds = {f.name: f.kind for f in schema.features}
    assert kinds == {"city": "categorical", "size": "numeric", "garden": "categorical"}
    assert "id" not in schema.encoded_names
    train = prepared.splits["train"]
    assert train.shape[1] == 1 + schema.n_features
    assert not np.isnan(train).any()
    size_column = 1 + schema.encoded_names.index("size")
    assert abs(train[:, size_column].mean()) < 1e-6  # standardized on train
    assert sum(len(s) for s in prepared.splits.values()) == 199  # row 5 has no price (NaN)
    assert prepared.dropped_rows == 1


def test_schema_round_trips_and_encodes_unknown_category_as_zeros() -> None:
    schema = prepare_table(mixed_table(), "price", "id", SPLITS, 1, False, "x").schema
    schema = Schema.model_validate_json(schema.model_dump_json())
    batch = pa.table({"city": ["Atlantis", "Oslo"], "size": [None, 90.0],
                      "garden": [True, None]})
    encoded = schema.encode(batch)
    city = [i for i, n in enumerate(schema.encoded_names) if n.startswith("city=")]
    assert encoded[0, city].sum() == 0
    assert encoded[1, schema.encoded_names.index("city=Oslo")] == 1
    size_fill = next(f.fill for f in schema.features if f.name == "size")
    assert encoded[0, schema.encoded_names.index("size")] == pytest.approx(size_fill)


def test_schema_rejects_text_in_numeric_column_and_missing_columns() -> None:
    schema = prepare_table(mixed_table(), "price", "id", SPLITS, 1, True, "x").schema
    with pytest.raises(SchemaMismatchError, match="column size: expected a number, got 'big'"):
        schema.encode(pa.table({"city": ["Oslo"], "size": ["big"], "garden": [True]}), "in.csv")
    with pytest.raises(SchemaMismatchError, match="missing column"):
        schema.encode(pa.table({"city": ["Oslo"]}), "in.csv")


@pytest.mark.parametrize(
    ("content", "target", "message"),
    [
        ("a,b,price\n1,2,3\n", "cost",
         "target column 'cost' not found; columns are a, b, price"),
        ("a,b,price\n" + "1,,3\n" * 20, "price", "column 'b' is all missing"),
        ("a,price\n" + "1,x\n" * 20, "price", "target column 'price' must be numeric"),
        ("a,price\n" + "1,2\n" * 5, "price", "need at least 10"),
        ("a,price\n", "price", "has a header but no rows"),
    ],
)
def test_prepare_rejects_bad_tables(tmp_path: Path, content: str, target: str,
                                    message: str) -> None:
    path = tmp_path / "in.csv"
    path.write_text(content)
    with pytest.raises(DataError, match=message):
        prepare_table(read_table(path), target, None, SPLITS, 0, True, str(path))


def test_read_table_errors(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="input file not found"):
        read_table(tmp_path / "missing.csv")
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(DataError, match="input file is empty"):
        read_table(empty)
    bad = tmp_path / "bad.parquet"
    bad.write_text("not parquet")
    with pytest.raises(DataError, match="not a readable Parquet file"):
        read_table(bad)


def test_parquet_input(tmp_path: Path) -> None:
    import pyarrow.parquet as pq

    path = tmp_path / "houses.parquet"
    pq.write_table(mixed_table(), path)
    prepared = prepare_table(read_table(path), "price", "id", SPLITS, 1, True, str(path))
    assert prepared.splits["test"].shape[0] > 0


def test_rows_without_target_are_dropped() -> None:
    table = mixed_table()
    price = table.column("price").to_pylist()
    price[0] = None
    table = table.set_column(4, "price", pa.array(price))
    prepared = prepare_table(table, "price", "id", SPLITS, 1, True, "x")
    assert prepared.dropped_rows == 2  # the null, and the NaN that row 5's size produced
