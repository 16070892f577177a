"""What the manifest recorded is what compare and transform use: changed artifacts are refused."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.integration.cli_helpers import assert_one_line_error, smlp, write_small_config

STORE = "s3://smlp-test/projects/demo"


def _test_split(store: Any) -> str:
    """The recorded test split's URI (where the data stage put it)."""
    from smlp.manifest import load_manifest
    from smlp.store import LocalStore

    if isinstance(store, Path):
        store = LocalStore(store)
    return load_manifest(store).require_data().splits["test"].shards[0].uri


def _edit_labels(text: str) -> str:
    """The same rows with every label doubled: a test split that flatters a worse model."""
    lines = []
    for line in text.splitlines():
        label, rest = line.split(",", 1)
        lines.append(f"{float(label) * 2},{rest}")
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("command", [("compare",), ("transform", "--model", "xgboost")])
def test_an_edited_test_split_is_refused(trained: Path, command: tuple[str, ...]) -> None:
    test = Path(_test_split(trained / "smlp-artifacts"))
    test.write_text(_edit_labels(test.read_text()))
    result = smlp(*command, ok=False)
    assert_one_line_error(result, f"{test}: sha256", code=4)
    assert "the test split was changed" in result.output
    assert "smlp data generate" in result.output
    assert not (trained / "smlp-artifacts/compare").exists()  # refused before any job
    assert not (trained / "smlp-artifacts/transform").exists()


def test_a_missing_test_split_is_refused(trained: Path) -> None:
    Path(_test_split(trained / "smlp-artifacts")).unlink()
    assert_one_line_error(smlp("compare", ok=False), "the test split is missing", code=4)


def test_an_edited_test_split_on_s3_is_refused(project: Path, make_store: Any) -> None:
    store = make_store("s3")
    write_small_config(project)
    smlp("data", "generate", "--store", STORE)
    smlp("train", "--algo", "xgboost", "--store", STORE)
    uri = _test_split(store)
    key = uri.removeprefix("s3://smlp-test/")
    body = store.client.get_object(Bucket="smlp-test", Key=key)["Body"].read().decode()
    # As `aws s3 cp` would write it: new bytes, none of smlp's metadata.
    store.client.put_object(Bucket="smlp-test", Key=key, Body=_edit_labels(body).encode())
    result = smlp("compare", "--store", STORE, ok=False)
    assert_one_line_error(result, f"{uri}: sha256", code=4)
    result = smlp("transform", "--model", "xgboost", "--store", STORE, ok=False)
    assert_one_line_error(result, "the test split was changed", code=4)
    assert store.list("compare") == [] and store.list("transform") == []
    # Restored bytes (still without metadata) are read and hashed: accepted again.
    store.client.put_object(Bucket="smlp-test", Key=key, Body=body.encode())
    smlp("compare", "--store", STORE)


def test_best_is_the_compared_model_not_the_name(trained: Path) -> None:
    smlp("compare")
    smlp("train", "--algo", "xgboost", "--hp", "num_round=1")  # same name, a worse model
    result = smlp("transform", ok=False)
    assert_one_line_error(result, "the comparison is stale: xgboost was retrained after "
                          "`smlp compare` ranked it best; run `smlp compare`", code=4)
    assert not (trained / "smlp-artifacts/transform").exists()
    assert "the comparison is stale: xgboost was retrained" in smlp("status").output
    smlp("transform", "--model", "xgboost")  # named explicitly, it is served
    smlp("compare")
    assert "stale" not in smlp("status").output
    smlp("transform")
