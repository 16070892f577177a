"""The run summary: data, config differences from the defaults, versions, stages, jobs."""

from __future__ import annotations

from typing import Any

from smlp.report.html import Raw, paragraph, table, text

VERSIONED = ("smlp", "numpy", "pandas", "pyarrow", "scikit-learn", "xgboost-cpu", "faiss-cpu",
             "optuna", "matplotlib")


def flatten(tree: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(tree, dict):
        out: dict[str, Any] = {}
        for key, value in tree.items():
            out.update(flatten(value, f"{prefix}{key}."))
        return out
    return {prefix.rstrip("."): tree}


def config_differences(config: Any) -> list[tuple[str, Any, Any]]:
    """(setting, default, value) for every setting the config changes."""
    from smlp.config import default_dict

    default = flatten(default_dict())
    current = flatten(config.model_dump(mode="json", by_alias=True))
    return [(key, default.get(key, "—"), current[key]) for key in sorted(current)
            if default.get(key, object()) != current[key]]


def versions() -> list[tuple[str, str]]:
    import platform
    from importlib.metadata import PackageNotFoundError, version

    found = [("python", platform.python_version())]
    for name in VERSIONED:
        try:
            found.append((name, version(name)))
        except PackageNotFoundError:
            continue
    return found


def summary_html(config: Any, manifest: Any, comparison: dict[str, Any], schema: Any) -> str:
    data = manifest.require_data()
    parts = [paragraph("Data", "lead")]
    rows = [(name, data.rows.get(name, 0), Raw(f"<code>{text(a.sha256[:12])}</code>"),
             text(a.uri)) for name, a in data.splits.items()]
    rows.append(("schema", "", Raw(f"<code>{text(data.schema_.sha256[:12])}</code>"),
                 text(data.schema_.uri)))
    parts.append(table(["split", "rows", "sha256", "where"], rows, numeric=[1]))
    encoded = sum(len(f.encoded_names) for f in schema.features)
    categorical = [f.name for f in schema.features if f.kind == "categorical"]
    named = ": " + text(", ".join(categorical)) if categorical else ""
    parts.append(paragraph(
        f"Target <code>{text(schema.target)}</code>; {len(schema.features)} columns "
        f"({len(categorical)} categorical{named}) become {encoded} model inputs; "
        f"problem type {text(getattr(schema, 'problem_type', 'regression'))}."))
    parts.append(paragraph("Candidates", "lead"))
    candidates = []
    for scored in comparison["candidates"]:
        recorded = manifest.candidates.get(scored["name"])
        candidates.append((scored["name"], scored["algo"], scored.get("source", ""),
                           getattr(recorded, "backend", None) or "—",
                           getattr(recorded, "container_version", "") or "—",
                           scored.get("job_name", "")))
    parts.append(table(["candidate", "algorithm", "from", "backend", "container",
                        "training job"], candidates))
    parts.append(paragraph("Stages", "lead"))
    stages = [(name, record.status, record.duration_s, record.finished_at or "—",
               ", ".join(record.jobs) or "—")
              for name, record in manifest.stages.items() if name != "report"]
    parts.append(table(["stage", "status", "seconds", "finished", "jobs"], stages, numeric=[2]))
    differences = config_differences(config)
    parts.append(paragraph("Configuration (differences from the defaults)", "lead"))
    parts.append(table(["setting", "default", "this config"], differences) if differences
                 else paragraph("The packaged defaults, unchanged.", "note"))
    parts.append(paragraph("Versions", "lead"))
    parts.append(table(["package", "version"], versions()))
    return "".join(parts)
