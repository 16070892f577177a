"""``smlp infra synth`` says what the stack creates, counted from the synthesized template,
and what it costs standing (the KMS key's monthly fee; S3 and logs are paid per use)."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
import yaml

pytest.importorskip("smlp.infra.stack", reason="needs the infra extra: pip install 'smlp[infra]'")

from smlp.infra.outputs import read_template, summarize_template  # noqa: E402
from tests.integration.cli_helpers import smlp  # noqa: E402


def _types(path: Path) -> Counter[str]:
    resources = json.loads(path.read_text(encoding="utf-8"))["Resources"]
    return Counter(resource["Type"] for resource in resources.values())


def test_cli_synth_summarises_resources_and_standing_cost(project: Path,
                                                          no_credentials: None) -> None:
    result = smlp("infra", "synth", "--out", str(project / "assembly"))
    [template] = list((project / "assembly").glob("*.template.json"))
    types = _types(template)
    created = (f"creates {types['AWS::S3::Bucket']} buckets, 1 KMS key, "
               f"{types['AWS::IAM::Role']} IAM role")
    assert f"stack smlp: {created}" in result.stderr
    assert f"{types['AWS::Logs::LogGroup']} log groups" in result.stderr
    assert types["AWS::KMS::Key"] == 1  # the packaged defaults encrypt with the stack's key
    assert "KMS key: $1.00/month each, $1.00/month standing" in result.stderr
    assert "buckets: no standing fee" in result.stderr
    assert "/aws/sagemaker/TrainingJobs" in result.stderr and "kept 30 days" in result.stderr
    assert "standing cost: $1.00/month; jobs, storage and logs are paid per use" in result.stderr
    assert result.stdout.strip() == str(template)  # stdout: the template path alone


def test_summary_of_a_stack_without_a_key_and_with_a_notebook(tmp_path: Path) -> None:
    from smlp.config.infra import InfraConfig
    from smlp.infra.stack import build_app

    # S3-managed encryption and no notebook: no key, nothing standing.
    build_app(InfraConfig(stack_name="plain", encryption="s3"), tmp_path / "plain")[0].synth()
    lines, standing = summarize_template(read_template(tmp_path / "plain" /
                                                       "plain.template.json"))
    assert standing == 0.0 and not any("KMS" in line for line in lines)
    assert lines[-1].startswith("standing cost: $0.00/month")
    # A notebook needs the key (its volume) and bills per hour while it runs.
    notebook = {"notebook": True, "notebook_subnet_id": "subnet-0123456789abcdef0",
                "notebook_security_group_ids": ["sg-0123456789abcdef0"]}
    build_app(InfraConfig(stack_name="nb", encryption="s3", **notebook),
              tmp_path / "nb")[0].synth()
    path = tmp_path / "nb" / "nb.template.json"
    lines, standing = summarize_template(read_template(path))
    roles = _types(path)["AWS::IAM::Role"]
    assert lines[0].startswith(f"creates 2 buckets, 1 KMS key, {roles} IAM roles")
    assert "1 notebook instance" in lines[0]
    assert any("notebook instance ml." in line and "per hour" in line for line in lines)
    assert standing == 1.0 and "plus the notebook's hours" in lines[-1]
    yaml.safe_dump(lines)  # plain strings, printable anywhere
