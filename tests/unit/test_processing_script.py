"""processing_scripts/prepare.py run as SageMaker Processing runs it: a subprocess under an
``/opt/ml``-shaped folder (inputs in ``processing/input/<name>``, outputs read back from
``processing/output/<name>``, hosts in ``config/resourceconfig.json``; SageMaker Developer
Guide, build-your-own-processing-container.md), with only what the container has.

The schema it fits must mean what smlp's own fit means: the reference is
``smlp.data.schema.fit_schema`` and ``Schema.encode`` on the same training rows.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "processing_scripts" / "prepare.py"
SPLITS = ("train", "validation", "test")
FIT_ARGS = ["--target", "price", "--id-column", "house", "--seed", "7",
            "--splits", "0.6,0.2,0.2", "--shard-mb", "0.004"]


def script_module() -> Any:
    spec = importlib.util.spec_from_file_location("prepare_script", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    spec.loader.exec_module(module)
    return module


def write_objects(folder: Path, rows: int = 1200, seed: int = 0) -> dict[str, Path]:
    """Three CSV objects (one in a sub-prefix): numbers with gaps, text, booleans, an ID."""
    rng = np.random.default_rng(seed)
    objects = {"a.csv": rows // 2, "b.csv": rows // 4, "more/c.csv": rows - rows // 2 - rows // 4}
    written = {}
    for key, count in objects.items():
        path = folder / key
        path.parent.mkdir(parents=True, exist_ok=True)
        lines = ["house,size,age,city,garden,price"]
        for i in range(count):
            size = "" if rng.random() < 0.1 else f"{rng.normal(100, 30):.3f}"
            age = str(int(rng.integers(0, 80)))
            city = rng.choice(["Lyon", "Paris", "Nice", "", "Brest"], p=[.3, .3, .2, .1, .1])
            garden = rng.choice(["True", "False"])
            price = "" if rng.random() < 0.02 else f"{rng.normal(300, 50):.2f}"
            lines.append(f"{key}-{i},{size},{age},{city},{garden},{price}")
        path.write_text("\n".join(lines) + "\n")
        written[key] = path
    return written


def run(base: Path, *args: str, host: str = "algo-1",
        hosts: int = 1) -> subprocess.CompletedProcess:
    config = base / "config"
    config.mkdir(parents=True, exist_ok=True)
    (config / "resourceconfig.json").write_text(json.dumps(
        {"current_host": host, "hosts": [f"algo-{i + 1}" for i in range(hosts)]}))
    return subprocess.run([sys.executable, str(SCRIPT), *args, "--base-dir", str(base)],
                          capture_output=True, text=True, timeout=300)


def fit_then_apply(tmp: Path, objects: dict[str, Path], instances: int) -> Path:
    """The fit job on one host, then the apply job on ``instances`` hosts, each given whole
    objects (ShardedByS3Key); returns the merged output prefix, as S3 would hold it."""
    fit_base = tmp / "fit" / "opt" / "ml"
    for key, path in objects.items():
        target = fit_base / "processing" / "input" / "data" / key
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(path, target)
    done = run(fit_base, "fit", *FIT_ARGS)
    assert done.returncode == 0, done.stderr
    merged = tmp / f"s3-{instances}"
    keys = sorted(objects)
    for number in range(instances):
        host = f"algo-{number + 1}"
        base = tmp / f"apply-{instances}-{host}" / "opt" / "ml"
        for key in keys[number::instances]:
            target = base / "processing" / "input" / "data" / key
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(objects[key], target)
        shutil.copytree(fit_base / "processing" / "output" / "schema",
                        base / "processing" / "input" / "schema")
        done = run(base, "apply", host=host, hosts=instances)
        assert done.returncode == 0, done.stderr
        shutil.copytree(base / "processing" / "output", merged, dirs_exist_ok=True)
    shutil.copytree(fit_base / "processing" / "output" / "schema", merged / "schema",
                    dirs_exist_ok=True)
    return merged


def test_contract_run_fits_smlps_schema_and_writes_planned_shards(tmp_path):
    """CSV and Parquet objects, spread over two hosts."""
    import pyarrow.parquet as pq

    from smlp.data.prepare import read_table
    from smlp.data.schema import Schema, fit_schema

    objects = write_objects(tmp_path / "raw")
    # One object as Parquet (typed columns: floats with nulls, ints, text, booleans).
    parquet = objects.pop("b.csv").with_suffix(".parquet")
    pq.write_table(read_table(parquet.with_suffix(".csv")), parquet)
    objects["b.parquet"] = parquet
    out = fit_then_apply(tmp_path, objects, instances=2)
    schema = Schema.model_validate_json((out / "schema" / "schema.json").read_text())
    plan = json.loads((out / "schema" / "plan.json").read_text())

    # The reference: smlp's own fit on the training rows the script's rule picks, each object
    # read as smlp reads a file.
    module = script_module()
    fractions = {"train": 0.6, "validation": 0.2, "test": 0.2}
    parts: dict[str, list[Any]] = {split: [] for split in SPLITS}
    for key in sorted(objects):
        table = read_table(objects[key]).cast(read_table(objects["a.csv"]).schema)
        codes = module.assign(module.split_of(7, key, 0, table.num_rows), fractions)
        kept = table.column("price").is_valid().to_numpy(zero_copy_only=False)
        for index, split in enumerate(SPLITS):
            parts[split].append(table.filter(pa.array(kept & (codes == index))))
    tables = {split: pa.concat_tables(parts[split]) for split in SPLITS}
    expected = fit_schema(tables["train"], "price", "house", True, "reference")
    assert len(schema.features) == len(expected.features)
    for ours, theirs in zip(schema.features, expected.features, strict=True):
        if theirs.kind == "numeric":
            assert (ours.name, ours.kind) == (theirs.name, "numeric")
            assert (ours.fill, ours.mean, ours.scale) == pytest.approx(
                (theirs.fill, theirs.mean, theirs.scale), rel=1e-12)
        else:
            assert ours == theirs
    assert [f.name for f in schema.features] == ["size", "age", "city", "garden"]
    assert schema.features[2].categories == expected.features[2].categories
    assert "__missing__" in schema.features[2].categories
    assert sorted(schema.features[3].categories) == ["false", "true"]  # Arrow's booleans
    assert schema.problem_type == "regression" and schema.fill_method == "median"
    assert plan["dropped_rows"] == sum(
        read_table(p).column("price").null_count for p in objects.values())

    # Every split: shards 0..n-1 in row order, label first, features as smlp encodes them.
    for split in SPLITS:
        files = sorted((out / split).glob("part-*.csv"))
        assert [f.name for f in files] == [f"part-{i:05d}.csv" for i in range(len(files))]
        assert len(files) == plan["shards"][split] and len(files) > 1
        rows = np.concatenate([np.loadtxt(f, delimiter=",", ndmin=2) for f in files])
        table = tables[split]
        assert rows.shape == (table.num_rows, 1 + schema.n_features)
        np.testing.assert_array_equal(rows[:, 0], table.column("price").to_numpy())
        np.testing.assert_array_equal(rows[:, 1:].astype(np.float32), schema.encode(table))

    # What the instances listed is what they wrote.
    listed = [shard for summary in (out / "summary").glob("*.json")
              for shard in json.loads(summary.read_text())["shards"]]
    assert len(listed) == sum(plan["shards"].values())
    for shard in listed:
        path = out / shard["split"] / f"part-{shard['index']:05d}.csv"
        assert hashlib.sha256(path.read_bytes()).hexdigest() == shard["sha256"]
        assert path.stat().st_size == shard["size"]
        assert shard["rows"] <= plan["rows_per_shard"]


def test_output_does_not_depend_on_the_instance_count(tmp_path):
    objects = write_objects(tmp_path / "raw", rows=600, seed=3)
    for marker in ("_SUCCESS", "more/empty.csv", "more/.c.csv.crc"):  # not data: skipped
        (tmp_path / "raw" / marker).write_bytes(b"" if "crc" not in marker else b"\x00\x01")
        objects[marker] = tmp_path / "raw" / marker
    one = fit_then_apply(tmp_path / "one", objects, instances=1)
    three = fit_then_apply(tmp_path / "three", objects, instances=3)
    for split in SPLITS:
        ours = {f.name: f.read_bytes() for f in (one / split).glob("*.csv")}
        theirs = {f.name: f.read_bytes() for f in (three / split).glob("*.csv")}
        assert ours == theirs and ours


def test_classification_target_codes_and_classes(tmp_path):
    from smlp.data.schema import Schema

    base = tmp_path / "opt" / "ml"
    data = base / "processing" / "input" / "data"
    data.mkdir(parents=True)
    rng = np.random.default_rng(1)
    lines = ["x,kind"] + [f"{rng.normal():.3f},{rng.choice(['cat', 'dog', 'eel'])}"
                          for _ in range(600)]
    (data / "pets.csv").write_text("\n".join(lines) + "\n")
    done = run(base, "fit", "--target", "kind")
    assert done.returncode == 0, done.stderr
    schema = Schema.model_validate_json(
        (base / "processing" / "output" / "schema" / "schema.json").read_text())
    assert (schema.problem_type, schema.classes) == ("multiclass", ["cat", "dog", "eel"])
    shutil.copytree(base / "processing" / "output" / "schema",
                    base / "processing" / "input" / "schema")
    assert run(base, "apply").returncode == 0
    labels = np.concatenate([np.loadtxt(f, delimiter=",", ndmin=2)[:, 0] for split in SPLITS
                             for f in (base / "processing" / "output" / split).glob("*.csv")])
    assert sorted(set(labels)) == [0.0, 1.0, 2.0] and len(labels) == 600


@pytest.mark.parametrize("header, row, expected", [
    ("x,y", "inf,1", "column 'x' has an infinite value in data row 2"),
    ("x,z", "1,2", "target column 'y' not found; columns are x, z"),
    ("x,y", "1,", None),  # fine alone: the header check below is what fails
])
def test_bad_input_fails_with_one_line_exit_message(tmp_path, header, row, expected):
    base = tmp_path / "opt" / "ml"
    data = base / "processing" / "input" / "data"
    data.mkdir(parents=True)
    lines = [header] + [f"{i},{i * 2}" for i in range(20)]
    lines.insert(2, row)
    (data / "a.csv").write_text("\n".join(lines) + "\n")
    if expected is None:
        (data / "b.csv").write_text("y,x\n1,2\n")
        expected = "b.csv: its header differs from a.csv's"
    done = run(base, "fit", "--target", "y")
    assert done.returncode == 1
    message = (base / "output" / "message").read_text()
    assert expected in message and "\n" not in message
    assert "Traceback" not in done.stderr


def test_apply_refuses_objects_the_fit_did_not_read(tmp_path):
    objects = write_objects(tmp_path / "raw", rows=200)
    out = fit_then_apply(tmp_path, objects, instances=1)
    base = tmp_path / "late" / "opt" / "ml"
    (base / "processing" / "input" / "data").mkdir(parents=True)
    (base / "processing" / "input" / "data" / "new.csv").write_text(
        (objects["a.csv"]).read_text())
    shutil.copytree(out / "schema", base / "processing" / "input" / "schema")
    done = run(base, "apply")
    assert done.returncode == 1
    assert "new.csv: not the object the fit job read" in (base / "output" / "message").read_text()


def test_script_imports_only_what_the_scikit_learn_container_ships():
    """aws/sagemaker-scikit-learn-container requirements.txt: numpy, pandas, pyarrow ...; and
    nothing from smlp (SageMaker copies only this file)."""
    import ast

    # The oldest allowed container, 1.4-2, runs Python 3.10 (its base Dockerfile).
    tree = ast.parse(SCRIPT.read_text(), feature_version=(3, 10))
    imported = {alias.name.split(".")[0] for node in ast.walk(tree)
                if isinstance(node, ast.Import) for alias in node.names}
    imported |= {node.module.split(".")[0] for node in ast.walk(tree)
                 if isinstance(node, ast.ImportFrom) and node.module}
    stdlib = set(sys.stdlib_module_names) | {"__future__"}
    assert imported - stdlib == {"numpy", "pyarrow"}


def test_moments_merge_blocks_and_sample_the_median_beyond_the_limit():
    """Mean and standard deviation merged over blocks equal numpy's over all values; beyond
    MEDIAN_SAMPLE values the median comes from the seeded reservoir (``fill_method``)."""
    module = script_module()
    moments = module.Moments(np.random.default_rng(5))
    values = np.random.default_rng(2).normal(size=module.MEDIAN_SAMPLE + 50_000)
    for block in np.array_split(values, 7):
        moments.add(block)
    assert moments.reservoir is not None
    assert moments.count == values.size
    assert moments.mean == pytest.approx(values.mean(), rel=1e-9)
    assert (moments.m2 / moments.count) ** 0.5 == pytest.approx(values.std(), rel=1e-9)
    assert abs(moments.median() - np.median(values)) < 0.01


def test_a_column_of_numbers_that_turns_to_text_later_is_categorical_from_its_first_row(
        tmp_path):
    """The kinds are decided over every object: a column whose first object holds only
    numbers and a later one text is categorical, its categories counted over all training
    rows (a second pass), as smlp's fit counts them when the column is read as text."""
    import pyarrow.csv as pacsv

    from smlp.data.schema import Schema, fit_schema

    raw = tmp_path / "raw"
    raw.mkdir()
    rng = np.random.default_rng(4)
    objects = {}
    for key, codes in (("a.csv", ["1", "2", "3"]), ("b.csv", ["2", "x", "y"])):
        lines = ["code,v,y"] + [f"{rng.choice(codes)},{rng.normal():.3f},{rng.normal():.3f}"
                                for _ in range(300)]
        (raw / key).write_text("\n".join(lines) + "\n")
        objects[key] = raw / key
    base = tmp_path / "opt" / "ml"
    shutil.copytree(raw, base / "processing" / "input" / "data")
    done = run(base, "fit", "--target", "y", "--seed", "11")
    assert done.returncode == 0, done.stderr
    schema = Schema.model_validate_json(
        (base / "processing" / "output" / "schema" / "schema.json").read_text())

    module = script_module()
    fractions = {"train": 0.7, "validation": 0.15, "test": 0.15}
    options = pacsv.ConvertOptions(column_types={"code": pa.string()}, strings_can_be_null=True)
    train = []
    for key in sorted(objects):
        table = pacsv.read_csv(objects[key], convert_options=options)
        codes = module.assign(module.split_of(11, key, 0, table.num_rows), fractions)
        train.append(table.filter(pa.array(codes == 0)))
    expected = fit_schema(pa.concat_tables(train), "y", None, True, "reference")
    assert schema.features[0].kind == "categorical"
    assert schema.features[0].categories == expected.features[0].categories
    assert set(schema.features[0].categories) == {"1", "2", "3", "x", "y"}


def test_a_class_missing_from_a_split_is_refused(tmp_path):
    """Hash splits are not stratified: a class too rare to reach every split is an error
    naming it (smlp's stratified local split needs 3 rows per class for the same reason)."""
    base = tmp_path / "opt" / "ml"
    data = base / "processing" / "input" / "data"
    data.mkdir(parents=True)
    lines = ["x,kind"] + [f"{i},common" for i in range(200)] + ["1,rare", "2,rare"]
    (data / "a.csv").write_text("\n".join(lines) + "\n")
    done = run(base, "fit", "--target", "kind")
    assert done.returncode == 1
    message = (base / "output" / "message").read_text()
    assert message.startswith("class 'rare' of target 'kind' has no rows in the ")
    assert message.endswith("split; add rows of it or drop the class")
