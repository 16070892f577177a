"""Mistakes a new user makes at the command line: one line each, naming what they typed, with a
suggestion when a name is close to a real one."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.integration.cli_helpers import assert_one_line_error, smlp


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["trian"], "smlp: no such command 'trian'; did you mean 'train'?"),
        (["data", "prepair"], "smlp data: no such command 'prepair'; did you mean 'prepare'?"),
        (["train", "--algoo", "xgboost"], "smlp train: no such option --algoo; did you mean "
                                          "'--algo'?"),
        (["compare", "--metrc", "rmse"], "no such option --metrc; did you mean '--metric'?"),
        (["compare", "--metric", "rmsee"], "--metric: expected one of rmse"),
        (["compare", "--metric", "rmsee"], "got 'rmsee'; did you mean 'rmse'?"),
        (["train", "--backend", "sagemake"], "--backend: expected one of local, sagemaker, got "
                                             "'sagemake'; did you mean 'sagemaker'?"),
        (["data", "generate", "--rows", "5"], "--rows: Input should be greater than or equal"),
        (["data", "generate", "--splits", "0.8,0.1,0.2"], "--splits: train + validation + test "
                                                          "must be 1.0, got 1.1"),
        (["data", "generate", "--splits", "0.8,0.2"], "--splits 0.8,0.2: expected three "
                                                      "fractions"),
    ],
)
def test_usage_mistakes_are_one_line_with_a_suggestion(project: Path, args: list[str],
                                                       expected: str) -> None:
    result = smlp(*args, ok=False)
    assert_one_line_error(result, expected, code=2)
    assert "╭" not in result.output  # no boxed panel


def test_a_bad_value_in_a_file_names_the_file_and_suggests(project: Path) -> None:
    (project / "smlp.yaml").write_text("compare:\n  metrc: rmse\n")
    assert_one_line_error(smlp("status", ok=False),
                          "smlp.yaml: compare.metrc: unknown key; did you mean 'metric'?", code=2)
    (project / "smlp.yaml").write_text("algorithms:\n  xgboost:\n    hyperparameters: "
                                       "{max_dpeth: 3}\n")
    assert_one_line_error(smlp("data", "generate", ok=False),
                          "max_dpeth: not a xgboost hyperparameter; did you mean 'max_depth'?",
                          code=2)


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--hp", "max_depth=abc"], "--hp max_depth=abc: expected an integer, got 'abc'"),
        (["--hp", "max_dept=3"], "--hp max_dept=3: no selected algorithm has a hyperparameter "
                                 "'max_dept'; did you mean 'max_depth'?"),
        (["--algo", "xgbost"], "--algo: unknown algorithm 'xgbost'; expected one of xgboost, "
                               "knn, sklearn-gbm; did you mean 'xgboost'?"),
        (["--algo", "knn", "--hp", "knn.k=0"], "--hp knn.k=0: expected >= 1, got 0"),
    ],
)
def test_training_flags_are_blamed_by_name(project: Path, args: list[str],
                                           expected: str) -> None:
    smlp("data", "generate", "--rows", "300")
    assert_one_line_error(smlp("train", "--algo", "xgboost", *args, ok=False)
                          if "--algo" not in args else smlp("train", *args, ok=False),
                          expected, code=2)


def test_splits_flag_sets_the_split_sizes(project: Path) -> None:
    smlp("data", "generate", "--rows", "1000", "--splits", "0.8,0.1,0.1")
    from tests.integration.cli_helpers import manifest

    rows = manifest(project)["data"]["rows"]
    assert rows == {"train": 800, "validation": 100, "test": 100}


def test_help_lists_commands_in_pipeline_order_and_flags_take_no_value() -> None:
    text = smlp("--help").output
    order = [name for name in ("data", "train", "tune", "compare", "transform", "run", "status")
             if f" {name} " in text]
    positions = [text.index(f" {name} ") for name in order]
    assert positions == sorted(positions) and len(order) == 7
    assert "<bool>" not in smlp("train", "--help").output
    assert "<bool>" not in smlp("-h").output


@pytest.mark.parametrize(
    ("yaml_text", "expected"),
    [
        ("backend:\n  kind: sagemaker\n  region: eu-wset-1\n",
         "smlp.yaml: backend.region: 'eu-wset-1' is not a region SageMaker runs in; did you "
         "mean eu-west-1"),
        ("infra:\n  region: useast1\n", "smlp.yaml: infra.region: 'useast1' is not a region "
                                        "SageMaker runs in; did you mean us-east-1"),
    ],
)
def test_a_mistyped_region_is_refused_with_the_closest_ones(project: Path, yaml_text: str,
                                                            expected: str) -> None:
    (project / "smlp.yaml").write_text(yaml_text)
    assert_one_line_error(smlp("status", ok=False), expected, code=2)


def test_config_init_refuses_a_mistyped_region(project: Path) -> None:
    result = smlp("config", "init", "--backend", "sagemaker", "--bucket", "my-bucket",
                  "--role-arn", "arn:aws:iam::123456789012:role/smlp", "--region", "us-est-1",
                  ok=False)
    assert_one_line_error(result, "--region: 'us-est-1' is not a region SageMaker runs in; "
                                  "did you mean ", code=2)
    assert "us-east-1" in result.output
    assert not (project / "smlp.yaml").exists()


@pytest.mark.usefixtures("no_credentials")
@pytest.mark.parametrize("command", [["train"], ["status"], ["compare"], ["transform"]])
def test_missing_credentials_read_the_same_on_every_command(command: list[str]) -> None:
    result = smlp(*command, "--store", "s3://smlp-nowhere/x", ok=False)
    assert_one_line_error(result, "no AWS credentials found: run `aws configure` or "
                                  "`aws sso login`, or set AWS_PROFILE")


@pytest.mark.usefixtures("no_credentials")
def test_infra_errors_use_the_documented_exit_codes(project: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(project))  # no node, no cdk, no npx
    monkeypatch.delenv("SMLP_CDK", raising=False)
    monkeypatch.delenv("JSII_NODE", raising=False)
    result = smlp("infra", "deploy", ok=False)
    assert result.exit_code == 2, result.output  # set-up problem, like a config error
    assert "error:" in result.output and "Traceback" not in result.output


def test_metric_choices_match_the_config() -> None:
    import typing

    from smlp.cli.common import METRICS
    from smlp.config.compare import Metric

    assert METRICS == typing.get_args(Metric)


def test_run_takes_algo_and_metric(project: Path) -> None:
    from tests.integration.cli_helpers import manifest, write_small_config

    write_small_config(project)
    smlp("run", "--algo", "xgboost", "--metric", "mae", "--no-report")
    assert not (project / "smlp-artifacts" / "report").exists()  # --no-report
    recorded = manifest(project)
    assert list(recorded["candidates"]) == ["xgboost"]
    import json

    comparison = json.loads(Path(recorded["comparison"]["uri"]).read_text())
    assert comparison["metric"] == "mae"


def _commands(group: object, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found = []
    for name, command in getattr(group, "commands", {}).items():
        if getattr(command, "hidden", False):
            continue
        if hasattr(command, "commands"):
            found += _commands(command, (*path, name))
        else:
            found.append((*path, name))
    return found


def every_command() -> list[tuple[str, ...]]:
    import typer.main

    from smlp.cli.main import app

    return _commands(typer.main.get_command(app))


def test_every_command_has_an_example_and_no_bool_metavar() -> None:
    missing = []
    for command in every_command():
        text = smlp(*command, "--help").output
        assert "<bool>" not in text, command
        if "Example" not in text:
            missing.append(" ".join(command))
    assert not missing, f"commands without an example in their help: {missing}"


def test_defaults_stated_in_help_are_the_real_defaults() -> None:
    """Flags default to the config; where help names the config key and its default value,
    that value must be the packaged default."""
    import re

    from smlp.config import Config

    def shown(value: object) -> str:
        if isinstance(value, bool):
            return "on" if value else "off"
        if value is None:
            return "none"
        if hasattr(value, "model_dump"):
            return ",".join(f"{v:g}" for v in value.model_dump().values())
        return str(value)

    defaults = Config()
    checked = 0
    for command in every_command():
        text = " ".join(smlp(*command, "--help").output.replace("│", " ").split())
        for key, value in re.findall(r"default: ([a-z_]+(?:\.[a-z_]+)*), ([^)]+)\)", text):
            node: object = defaults
            for part in key.split("."):
                node = getattr(node, part)
            assert shown(node) == value.strip(), (command, key, value)
            checked += 1
    assert checked >= 8


@pytest.mark.parametrize("command", ["train", "tune", "compare", "transform", "run"])
def test_every_command_that_runs_jobs_takes_verbose(command: str) -> None:
    assert "--verbose" in smlp(command, "--help").output


def test_version_is_answered_before_the_cli_loads() -> None:
    """`smlp --version` must not pay for typer, rich and every command (most of a second)."""
    import subprocess
    import sys
    from importlib.metadata import version

    code = ("import sys; sys.argv = ['smlp', '--version']; from smlp.cli.entry import run; "
            "run(); print(sorted(m for m in ('typer', 'rich', 'pydantic') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.splitlines()
    assert out == [f"smlp {version('smlp')}", "[]"]


def test_every_error_raised_has_a_documented_exit_code() -> None:
    """SmlpError itself exits 1, which the README keeps for the unexpected: every deliberate
    error is one of its documented subclasses."""
    import re

    root = Path(__file__).resolve().parents[2] / "smlp"
    offenders = [f"{path.relative_to(root)}:{number}"
                 for path in root.rglob("*.py")
                 for number, line in enumerate(path.read_text().splitlines(), 1)
                 if re.search(r"raise SmlpError\(", line)]
    assert not offenders
