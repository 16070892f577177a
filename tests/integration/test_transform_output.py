"""`smlp transform` output people can use, through the CLI: the ID beside each prediction
with a header, SageMaker's shape on request (--raw or the filter flags), an honest
throughput line, and unseen categories counted or refused."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from smlp.cli.transform import RATE_MIN_ROWS
from tests.data_paths import split_path
from tests.integration.cli_helpers import assert_one_line_error, manifest, smlp

CITIES = ["Oslo", "Lima", "Pune"]


def houses(n: int, seed: int) -> tuple[list[str], np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return list(rng.choice(CITIES, n)), rng.normal(100, 20, n), rng.normal(0, 1, n)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Prepared with ``--id-column id`` and a trained XGBoost candidate; built once."""
    folder = tmp_path_factory.mktemp("id-project")
    city, size, noise = houses(600, 0)
    price = size * 2 + (np.array(city) == "Oslo") * 30 + noise
    lines = ["id,city,size,price"] + [f"h{i},{c},{s:.3f},{p:.3f}"
                                      for i, (c, s, p) in enumerate(
                                          zip(city, size, price, strict=True))]
    (folder / "houses.csv").write_text("\n".join(lines) + "\n")
    (folder / "smlp.yaml").write_text("algorithms:\n  xgboost:\n"
                                      "    hyperparameters: {num_round: 20}\n")
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(folder)
        smlp("data", "prepare", "--input", "houses.csv", "--target", "price",
             "--id-column", "id")
        smlp("train", "--algo", "xgboost")
    yield folder


@pytest.fixture
def trained_with_id(built: Path, project: Path) -> Path:
    """A copy of the built project as the current folder (a copied project works as is)."""
    for item in built.iterdir():
        target = project / item.name
        if item.is_dir():
            shutil.copytree(item, target)
        else:
            shutil.copy2(item, target)
    return project


def write_new(path: Path, n: int = 8, seed: int = 1, id_column: str | None = "id",
              cities: list[str] | None = None) -> list[str]:
    """Raw rows with a header (columns in another order than at prepare); returns the IDs."""
    city, size, _ = houses(n, seed)
    city = cities or city
    ids = [f"n{i}" for i in range(n)]
    head = ["size", "city"] + ([id_column] if id_column else [])
    rows = [[f"{s:.3f}", c] + ([i] if id_column else []) for i, c, s in
            zip(ids, city, size, strict=True)]
    path.write_text("\n".join(",".join(r) for r in [head, *rows]) + "\n")
    return ids


def lines_of(path: Path) -> list[str]:
    return path.read_text().splitlines()


def test_id_and_header_by_default_and_sagemaker_shape_with_raw(trained_with_id: Path) -> None:
    ids = write_new(trained_with_id / "new.csv")
    smlp("transform", "-i", "new.csv", "-o", "named", "--model", "xgboost")
    named = lines_of(trained_with_id / "named" / "new.csv.out")
    assert named[0] == "id,prediction"
    assert [line.split(",")[0] for line in named[1:]] == ids

    smlp("transform", "-i", "new.csv", "-o", "raw", "--model", "xgboost", "--raw")
    raw = lines_of(trained_with_id / "raw" / "new.csv.out")
    assert len(raw) == len(ids)  # no header, the prediction alone: SageMaker's output
    assert [line.split(",")[1] for line in named[1:]] == raw  # the same predictions

    # The prepared test split keeps label,prediction without a header (compare reads it).
    smlp("transform", "--model", "xgboost", "-o", "split")
    split = lines_of(trained_with_id / "split" / "part-00000.csv.out")
    assert all(len(line.split(",")) == 2 for line in split)
    float(split[0].split(",")[0])


def test_input_without_the_id_column_gets_a_header_and_a_note(trained_with_id: Path) -> None:
    write_new(trained_with_id / "new.csv", id_column=None)
    result = smlp("transform", "-i", "new.csv", "-o", "out", "--model", "xgboost")
    assert "no 'id' column" in result.output
    out = lines_of(trained_with_id / "out" / "new.csv.out")
    assert out[0] == "prediction" and len(out) == 9
    float(out[1])


def test_filter_flags_give_what_the_config_keys_give(trained_with_id: Path) -> None:
    store = trained_with_id / "smlp-artifacts"
    test = split_path(store, "test").read_text().splitlines()[:6]
    (trained_with_id / "rows.csv").write_text(
        "\n".join(f"id{i}," + line.split(",", 1)[1] for i, line in enumerate(test)) + "\n")
    flags = ["--input-filter", "$[1:]", "--join-source", "Input", "--output-filter", "$[0,-1]"]
    smlp("transform", "-i", "rows.csv", "-o", "flags", "--model", "xgboost", *flags)
    by_flags = lines_of(trained_with_id / "flags" / "rows.csv.out")
    assert [line.split(",")[0] for line in by_flags] == [f"id{i}" for i in range(6)]
    assert manifest(trained_with_id)["stages"]["transform"]["parameters"]["output_filter"] \
        == "$[0,-1]"

    (trained_with_id / "keys.yaml").write_text(
        (trained_with_id / "smlp.yaml").read_text()
        + "transform: {input_filter: '$[1:]', join_source: Input, output_filter: '$[0,-1]'}\n")
    smlp("transform", "-c", "keys.yaml", "-i", "rows.csv", "-o", "keys", "--model", "xgboost")
    assert lines_of(trained_with_id / "keys" / "rows.csv.out") == by_flags

    # On input with a header the filters select raw columns, SageMaker's way: no header.
    ids = write_new(trained_with_id / "new.csv")
    smlp("transform", "-i", "new.csv", "-o", "joined", "--model", "xgboost",
         "--join-source", "Input", "--output-filter", "$[2,-1]")
    joined = lines_of(trained_with_id / "joined" / "new.csv.out")
    assert [line.split(",")[0] for line in joined] == ids

    assert_one_line_error(
        smlp("transform", "-i", "rows.csv", "--input-filter", "$[1", ok=False),
        "--input-filter: unsupported JSONPath '$[1'", 2)


def test_throughput_line_has_a_rate_only_for_enough_rows(trained_with_id: Path) -> None:
    write_new(trained_with_id / "small.csv", n=6)
    small = smlp("transform", "-i", "small.csv", "-o", "s", "--model", "xgboost").stdout
    assert "6 rows in " in small and "rows/s" not in small
    write_new(trained_with_id / "big.csv", n=RATE_MIN_ROWS, seed=3)
    big = smlp("transform", "-i", "big.csv", "-o", "b", "--model", "xgboost").stdout
    assert f"{RATE_MIN_ROWS:,} rows in " in big and " rows/s after " in big


def test_unseen_categories_warn_by_default_and_error_on_request(trained_with_id: Path) -> None:
    cities = ["Oslo", "Rome", "Lima", "Rome", "Kyiv", "Pune", "Oslo", "Lima"]
    write_new(trained_with_id / "new.csv", cities=cities)
    result = smlp("transform", "-i", "new.csv", "-o", "out", "--model", "xgboost")
    warning = next(line for line in result.output.splitlines() if "warning:" in line)
    assert "column city: 3 rows" in warning and "'Rome' (2 rows), 'Kyiv' (1 row)" in warning
    assert len(lines_of(trained_with_id / "out" / "new.csv.out")) == 9  # predicted all
    stage = manifest(trained_with_id)["stages"]["transform"]
    assert stage["metrics"]["unseen_categories"] == {"city": 3}

    (trained_with_id / "strict.yaml").write_text("transform: {unseen_categories: error}\n")
    result = smlp("transform", "-c", "strict.yaml", "-i", "new.csv", "-o", "strict",
                  "--model", "xgboost", ok=False)
    assert_one_line_error(result, "column city: categories the model was not trained on: "
                                  "'Rome' (2 rows), 'Kyiv' (1 row)", 3)
    assert not (trained_with_id / "strict" / "new.csv.out").exists()
