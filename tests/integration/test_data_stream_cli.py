"""``smlp data prepare`` on a CSV above ``smlp.data.stream.STREAM_BYTES`` streams, says how it
filled values, and the pipeline trains and predicts on what it wrote (issue 14)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from smlp.data import stream
from tests.integration.cli_helpers import manifest, smlp
from tests.unit.test_data_stream import write_raw


def test_a_large_csv_is_prepared_in_blocks_and_trains(project: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(stream, "STREAM_BYTES", 0)
    monkeypatch.setattr(stream, "BLOCK_BYTES", 8192)
    monkeypatch.setattr(stream, "MEDIAN_SAMPLE", 500)
    write_raw(project / "raw.csv", 3000)
    result = smlp("data", "prepare", "--input", "raw.csv", "--target", "y", "--id-column", "id")
    assert "fill values: median of a seeded uniform sample of at most 500" in result.output
    data = manifest(project)["data"]
    assert sum(data["rows"].values()) == 3000 - len(range(0, 3000, 53))
    schema = json.loads(Path(data["schema"]["uri"]).read_text())
    assert schema["fill_method"].startswith("median of a seeded uniform sample")
    smlp("train", "--algo", "xgboost", "--hp", "num_round=5")
    smlp("compare")
    smlp("transform", "--input", "raw.csv", "--output", "out")
    assert len((project / "out" / "raw.csv.out").read_text().splitlines()) == 3001
