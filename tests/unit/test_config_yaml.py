"""Hostile and broken config files: refused in one short line, quickly, naming the file."""

from __future__ import annotations

from pathlib import Path

import pytest

from smlp.config import load_config
from smlp.errors import ConfigError

BOMB = """\
a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
data: *g
"""


def _write(tmp_path: Path, body: str | bytes) -> Path:
    path = tmp_path / "smlp.yaml"
    if isinstance(body, bytes):
        path.write_bytes(body)
    else:
        path.write_text(body, encoding="utf-8")
    return path


def test_alias_bomb_is_refused_before_it_expands(tmp_path: Path) -> None:
    # 9**7 = 4.8 million strings once expanded; safe_load would build them all.
    with pytest.raises(ConfigError) as raised:
        load_config(_write(tmp_path, BOMB))
    message = str(raised.value)
    assert "expands to more than 100,000 values" in message
    assert str(tmp_path / "smlp.yaml") in message
    assert len(message) < 300


def test_aliases_used_sensibly_still_work(tmp_path: Path) -> None:
    config = load_config(_write(tmp_path, "infra:\n  tags: &t {team: ml}\n"
                                          "algorithms:\n  xgboost:\n    enabled: true\n"))
    assert config.infra.tags["team"] == "ml"


def test_duplicate_keys_are_errors_naming_both_lines(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"smlp.yaml:3: duplicate key 'rows' \(first on line 2\)"):
        load_config(_write(tmp_path, "data:\n  rows: 1000\n  rows: 2000\n"))


def test_merge_keys_are_not_duplicates(tmp_path: Path) -> None:
    body = ("algorithms:\n  xgboost:\n    hyperparameters: &hp {max_depth: 4}\n"
            "  sklearn-gbm:\n    hyperparameters:\n      <<: *hp\n      n_estimators: 30\n")
    config = load_config(_write(tmp_path, body))
    assert config.algorithms.get("sklearn-gbm").hyperparameters["max_depth"] == 4


def test_non_utf8_config_names_the_line(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"smlp.yaml:3: not UTF-8 text \(byte 0xff\)"):
        load_config(_write(tmp_path, b"data:\n  rows: 1000\n  seed: \xff\n"))


def test_huge_values_are_not_echoed_back(tmp_path: Path) -> None:
    huge = "x" * 1_000_000
    with pytest.raises(ConfigError) as raised:
        load_config(_write(tmp_path, f"compare:\n  metric: {huge}\n"))
    message = str(raised.value)
    assert "compare.metric" in message
    assert len(message) < 600
    assert "more characters" in message


def test_deep_nesting_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="smlp.yaml"):
        load_config(_write(tmp_path, "data: " + "[" * 5000 + "]" * 5000 + "\n"))


def test_a_folder_given_as_config(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="is a folder"):
        load_config(tmp_path)


def test_large_honest_config_loads(tmp_path: Path) -> None:
    tags = "".join(f"    key{i:05d}: value-{i}\n" for i in range(20_000))
    config = load_config(_write(tmp_path, "infra:\n  tags:\n" + tags))
    assert len(config.infra.tags) == 20_001  # and the default project tag
