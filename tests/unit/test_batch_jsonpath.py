"""The JSONPath subset SageMaker documents for CSV rows: what each form selects, what fails."""

from __future__ import annotations

import pytest

from smlp.batch.jsonpath import parse_path
from smlp.errors import ConfigError


@pytest.mark.parametrize(
    ("expr", "width", "expected"),
    [
        (None, 4, [0, 1, 2, 3]),
        ("", 4, [0, 1, 2, 3]),
        ("$", 4, [0, 1, 2, 3]),
        ("$[1:]", 4, [1, 2, 3]),
        ("$[:-1]", 4, [0, 1, 2]),
        ("$[2:5]", 6, [2, 3, 4]),
        ("$[2:5]", 4, [2, 3]),  # slices clamp, as in Python
        ("$[-2:]", 5, [3, 4]),
        ("$[:]", 3, [0, 1, 2]),
        ("$[0]", 4, [0]),
        ("$[-1]", 4, [3]),
        ("$[1,3,5]", 6, [1, 3, 5]),
        ("$[0,-1]", 6, [0, 5]),
        ("$[0,2:4,-1]", 6, [0, 2, 3, 5]),
        ("$[ 0 , -1 ]", 3, [0, 2]),
        ("$[1,1]", 3, [1, 1]),
    ],
)
def test_resolves_supported_forms(expr: str | None, width: int, expected: list[int]) -> None:
    assert parse_path(expr, "transform.input_filter").resolve(width) == expected


def test_whole_row_is_flagged() -> None:
    assert parse_path("$", "transform.input_filter").is_whole_row
    assert not parse_path("$[0:]", "transform.input_filter").is_whole_row


@pytest.mark.parametrize("expr", ["$[5]", "$[-6]", "$[0,7]"])
def test_index_outside_the_row_is_an_error(expr: str) -> None:
    with pytest.raises(IndexError, match="but rows have 5"):
        parse_path(expr, "transform.input_filter").resolve(5)


@pytest.mark.parametrize(
    "expr",
    [
        "$.features",
        "$[*]",
        "$[::2]",
        "$[1:2:3]",
        "$[a]",
        "$['a']",
        "$[]",
        "$[1",
        "[1:]",
        "$..x",
        "$[1][2]",
        "$[1,]",
        "$[1.5]",
    ],
)
def test_unsupported_forms_name_the_option(expr: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_path(expr, "transform.output_filter")
    assert str(info.value) == (
        f"transform.output_filter: unsupported JSONPath {expr!r}; "
        "expected forms like $[1:] or $[0,-1]"
    )
