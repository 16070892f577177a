"""Local Batch Transform on both cores: blocks and files side by side, the same bytes out.

The models are real (each algorithm's training script, loaded the way the local backend loads
them); the inputs are several files of several blocks each, so parallel work crosses both
block and file boundaries.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pytest

from smlp.algorithms.entry_points import Predictor, load_predictor
from smlp.batch import BatchOptions, run_batch
from smlp.batch.engine import usable_cores
from smlp.errors import SchemaMismatchError
from tests.unit.test_training_scripts import make_data, run_job

BLOCK = 8 * 1024  # bytes: every file below is several blocks
JOINED = BatchOptions(input_filter="$[1:]", join_source="Input", output_filter="$[0,-1]")
SCRIPTS = {
    "xgboost": ("xgboost_builtin.py", {"num_round": "30", "max_depth": "4", "eta": "0.3"}),
    "sklearn-gbm": ("sklearn_gbm.py", {"n_estimators": "30", "max_depth": "3",
                                       "random_state": "0"}),
    "knn": ("knn_builtin.py", {"feature_dim": "8", "k": "5", "predictor_type": "regressor",
                               "sample_size": "5000"}),
}


def labelled_folder(folder: Path, rows: tuple[int, ...] = (900, 30, 0, 1500)) -> Path:
    """``part-0000k.csv`` shards of ``label,x0..x7`` rows (one tiny, one empty)."""
    folder.mkdir(parents=True)
    rng = np.random.default_rng(3)
    for k, count in enumerate(rows):
        x = rng.normal(size=(count, 8))
        lines = [f"{v[0]:.6g}," + ",".join(f"{c:.6g}" for c in v[1:])
                 for v in np.column_stack([x.sum(axis=1), x])]
        (folder / f"part-{k:05d}.csv").write_text("".join(line + "\n" for line in lines))
    return folder


def outputs(folder: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in sorted(folder.iterdir())}


class Recording(Predictor):
    """The real predictor, noting which threads called it."""

    def __init__(self, predictor: Predictor) -> None:
        super().__init__(predictor.module, predictor.model)
        self.callers: set[str] = set()

    def __call__(self, features: np.ndarray) -> np.ndarray:
        self.callers.add(threading.current_thread().name)
        return super().__call__(features)


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    x, y = make_data(2000)
    trained = {}
    for algorithm, (script, hps) in SCRIPTS.items():
        root = tmp_path_factory.mktemp(algorithm)
        job = run_job(root / "job", script, hps, {"train": (x, y)})
        assert job.returncode == 0, job.log
        trained[algorithm] = job.model_dir
    return trained


@pytest.mark.parametrize("algorithm", list(SCRIPTS))
def test_parallel_output_equals_one_worker(tmp_path: Path, models: dict[str, Path],
                                           algorithm: str) -> None:
    source = labelled_folder(tmp_path / "in")
    predictor = Recording(load_predictor(algorithm, models[algorithm]))  # type: ignore[arg-type]
    one = run_batch(source, tmp_path / "one", predictor, 8, JOINED, block_size=BLOCK, workers=1)
    assert predictor.callers == {threading.main_thread().name}
    predictor.callers.clear()
    two = run_batch(source, tmp_path / "two", predictor, 8, JOINED, block_size=BLOCK, workers=2)
    assert predictor.callers and all(n.startswith("smlp-batch") for n in predictor.callers)
    assert outputs(tmp_path / "two") == outputs(tmp_path / "one")
    assert [(i.name, o.name, n) for i, o, n in two.files] == \
        [(i.name, o.name, n) for i, o, n in one.files] == [
            (f"part-0000{k}.csv", f"part-0000{k}.csv.out", n)
            for k, n in enumerate((900, 30, 0, 1500))]
    labels = [line.split(",")[0] for line in (tmp_path / "two" / "part-00003.csv.out")
              .read_text().splitlines()]
    assert labels == [line.split(",")[0] for line in (source / "part-00003.csv")
                      .read_text().splitlines()]


def test_blocks_are_predicted_side_by_side_with_one_thread_each(tmp_path: Path) -> None:
    source = labelled_folder(tmp_path / "in", rows=(600, 600))
    meet = threading.Barrier(2, timeout=60)  # the first two calls pass only together
    threads: list[int] = []
    calls: list[int] = []
    lock = threading.Lock()

    def predict(features: np.ndarray) -> np.ndarray:
        with lock:
            calls.append(len(calls))
            first_two = len(calls) <= 2
        if first_two:
            meet.wait()
        return features.sum(axis=1)

    predict.set_threads = threads.append  # type: ignore[attr-defined]
    run_batch(source, tmp_path / "out", predict, 8, JOINED, block_size=BLOCK, workers=2)
    assert threads == [max(1, usable_cores() // 2)]


def test_small_input_runs_on_the_calling_thread(tmp_path: Path) -> None:
    source = labelled_folder(tmp_path / "in", rows=(10,)) / "part-00000.csv"
    threads: list[int] = []
    seen: list[tuple[str, int]] = []
    before = threading.active_count()

    def predict(features: np.ndarray) -> np.ndarray:
        seen.append((threading.current_thread().name, threading.active_count()))
        return features.sum(axis=1)

    predict.set_threads = threads.append  # type: ignore[attr-defined]
    run_batch(source, tmp_path / "out", predict, 8, JOINED, workers=2)
    assert seen == [(threading.main_thread().name, before)]
    assert threads == [usable_cores()]  # alone, one prediction may use every core


def test_a_predict_without_set_threads_sees_blocks_in_order_one_at_a_time(
        tmp_path: Path) -> None:
    source = labelled_folder(tmp_path / "in", rows=(700, 5, 700))
    firsts: list[float] = []
    inside: list[int] = []
    lock = threading.Lock()

    def stateful(features: np.ndarray) -> np.ndarray:  # a replay: its answers come in order
        with lock:
            inside.append(1)
            assert len(inside) == 1
        firsts.append(float(features[0, 0]))
        with lock:
            inside.pop()
        return features.sum(axis=1)

    result = run_batch(source, tmp_path / "out", stateful, 8, JOINED, block_size=BLOCK,
                       workers=2)
    assert result.rows == 1405
    rows = [float(np.float32(line.split(",")[1])) for path in sorted(source.iterdir())
            for line in path.read_text().splitlines()]
    assert len(firsts) > 6
    positions = [rows.index(value) for value in firsts]
    assert positions == sorted(positions) and positions[0] == 0


@pytest.mark.parametrize("workers", [1, 2])
def test_an_error_names_file_and_line_whatever_the_workers(tmp_path: Path,
                                                           workers: int) -> None:
    source = labelled_folder(tmp_path / "in", rows=(900, 900))
    bad = source / "part-00001.csv"
    lines = bad.read_text().splitlines()
    lines[700] += ",9"
    bad.write_text("\n".join(lines) + "\n")
    with pytest.raises(SchemaMismatchError) as info:
        run_batch(source, tmp_path / "out", lambda f: f.sum(axis=1), 8, JOINED,
                  block_size=BLOCK, workers=workers)
    assert str(info.value) == f"{bad}: line 701: expected 9 columns like the first row, got 10"
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["part-00000.csv.out"]


def test_unseen_categories_add_up_the_same(tmp_path: Path) -> None:
    from smlp.data.schema import fit_schema

    schema = fit_schema(pa.table({"y": [1.0, 2.0, 3.0], "color": ["red", "blue", "red"],
                                  "size": [1.0, 2.0, 3.0]}), "y", None, False, "train")
    folder = tmp_path / "in"
    folder.mkdir()
    colors = ["red", "blue", "green", "", "pink"]
    for k in range(3):
        body = "".join(f"{colors[(i * (k + 1)) % 5]},{i}\n" for i in range(2000))
        (folder / f"part-{k}.csv").write_text("color,size\n" + body)
    options = BatchOptions(unseen_categories="warn", named_output=True)
    one = run_batch(folder, tmp_path / "one", lambda f: f.sum(axis=1), schema.n_features,
                    options, encoder=schema, block_size=BLOCK, workers=1)
    two = run_batch(folder, tmp_path / "two", lambda f: f.sum(axis=1), schema.n_features,
                    options, encoder=schema, block_size=BLOCK, workers=2)
    assert two.unseen == one.unseen == {"color": {"green": 1200, None: 1200, "pink": 1200}}
    assert outputs(tmp_path / "two") == outputs(tmp_path / "one")


def test_omp_num_threads_keeps_a_run_on_one_core(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    assert usable_cores() == 1
    source = labelled_folder(tmp_path / "in", rows=(900,))
    callers: set[str] = set()

    def predict(features: np.ndarray) -> np.ndarray:
        callers.add(threading.current_thread().name)
        return features.sum(axis=1)

    run_batch(source, tmp_path / "out", predict, 8, JOINED, block_size=BLOCK)
    assert callers == {threading.main_thread().name}


@pytest.mark.parametrize("workers", [1, 2, 3])
def test_blocks_read_ahead_of_the_written_ones_stay_bounded(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, workers: int) -> None:
    """The memory bound: at most two blocks per worker between reading and writing."""
    from smlp.batch import engine

    source = labelled_folder(tmp_path / "in", rows=(1200, 40, 1200))
    read_blocks, finish = engine.read_blocks, engine._finish
    read = written = 0
    ahead: list[int] = []

    def counting_reads(*args: Any) -> Iterator[Any]:
        nonlocal read
        for block in read_blocks(*args):
            read += 1
            ahead.append(read - written)
            yield block

    def counting_writes(*args: Any) -> int:
        nonlocal written
        blocks = finish(*args)
        written += blocks
        return blocks

    monkeypatch.setattr(engine, "read_blocks", counting_reads)
    monkeypatch.setattr(engine, "_finish", counting_writes)
    run_batch(source, tmp_path / "out", lambda f: f.sum(axis=1), 8, JOINED,
              block_size=BLOCK, workers=workers)
    assert read == written > 4 * workers
    assert max(ahead) == (2 * workers if workers > 1 else 1)


def test_set_threads_caps_each_prediction(models: dict[str, Path]) -> None:
    """What keeps workers x threads within the cores: xgboost's nthread, faiss's per-thread
    OpenMP setting in the thread that predicts."""
    import json

    import faiss

    booster = load_predictor("xgboost", models["xgboost"])
    booster.set_threads(1)  # type: ignore[attr-defined]
    config = json.loads(booster.model.save_config())  # type: ignore[attr-defined]
    assert config["learner"]["generic_param"]["nthread"] == "1"

    knn = load_predictor("knn", models["knn"])
    knn.set_threads(1)  # type: ignore[attr-defined]
    seen: list[int] = []

    def predict_in_a_thread() -> None:
        knn(make_data(50)[0])
        seen.append(faiss.omp_get_max_threads())

    worker = threading.Thread(target=predict_in_a_thread)
    worker.start()
    worker.join()
    assert seen == [1]


@pytest.mark.parametrize("workers", [1, 2])
def test_open_files_stay_bounded_over_many_small_shards(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, workers: int) -> None:
    from smlp.batch import engine

    source = labelled_folder(tmp_path / "in", rows=(900, *([0] * 40), *([3] * 40), 900))
    opened, commit = engine._Output.open, engine._Output.commit
    now: list[int] = [0]
    most: list[int] = []

    def counting_open(path: Path, output_dir: Path) -> engine._Output:
        now[0] += 1
        most.append(now[0])
        return opened(path, output_dir)

    def counting_commit(self: engine._Output) -> None:
        now[0] -= 1
        commit(self)

    monkeypatch.setattr(engine._Output, "open", staticmethod(counting_open))
    monkeypatch.setattr(engine._Output, "commit", counting_commit)
    result = run_batch(source, tmp_path / "out", lambda f: f.sum(axis=1), 8, JOINED,
                       block_size=BLOCK, workers=workers)
    assert len(result.files) == 82 and result.rows == 1920
    assert now == [0] and max(most) <= 4 * workers + 1
