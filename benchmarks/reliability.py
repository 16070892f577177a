"""What survives, and what is caught: kill -9, concurrent writers, tampering, relocation.

Runs real ``smlp`` commands in temporary project folders and prints one table row per case.
It reports; it asserts nothing and measures no speed. A protection not in place prints
"NOT PROTECTED" with what happened instead of failing.

    .venv/bin/python benchmarks/reliability.py
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from _common import ROOT, SMLP

CONFIG = """\
data:
  rows: 1500
algorithms:
  xgboost:
    hyperparameters: {num_round: 20}
  sklearn-gbm:
    hyperparameters: {n_estimators: 20}
"""
LONG = CONFIG.replace("{num_round: 20}", "{num_round: 1000000, early_stopping_rounds: null}")
STORE = "smlp-artifacts"
WAIT_SECONDS = 300
WRITERS, PER_WRITER = 4, 20

rows: list[tuple[str, str, str]] = []  # case, verdict, detail
repaired: dict[str, Callable[[], bool]] = {}  # a tampering -> whether a run undid it


def run(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([SMLP, *args], cwd=project, capture_output=True, text=True,
                          timeout=WAIT_SECONDS)


def must(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    result = run(project, *args)
    if result.returncode != 0:
        raise SystemExit(f"setup failed: smlp {' '.join(args)}\n{result.stdout}{result.stderr}")
    return result


def error_line(result: subprocess.CompletedProcess[str]) -> str:
    text = result.stdout + result.stderr
    for line in text.splitlines():
        if line.startswith("error:"):
            return line[:160]
    if "Traceback" in text:
        return "a traceback: " + text.strip().splitlines()[-1][:140]
    return f"exit {result.returncode}"


def manifest(project: Path) -> dict:
    return json.loads((project / STORE / "manifest.json").read_text())


def record(case: str, verdict: str, detail: str) -> None:
    rows.append((case, verdict, detail))
    print(f"  {case}: {verdict}", file=sys.stderr, flush=True)


def copy(base: Path, name: str) -> Path:
    target = base.parent / name
    shutil.copytree(base, target, symlinks=True)
    return target


def fresh(base: Path) -> Path:
    """``base`` as set up, at its own path: the manifest may record absolute paths, and
    only the relocation cases are about moving a project."""
    shutil.rmtree(base)
    shutil.copytree(base.parent / "pristine", base, symlinks=True)
    return base


# -- kill -9 ---------------------------------------------------------------------------------
def in_progress(project: Path) -> list[Path]:
    found = []
    for status in (project / ".smlp" / "jobs").glob("*/job.json"):
        try:
            if json.loads(status.read_text())["status"] == "InProgress":
                found.append(status.parent)
        except (OSError, ValueError):
            continue
    return found


def kill_9(base: Path) -> None:
    project = fresh(base)
    (project / "smlp.yaml").write_text(LONG)
    before = manifest(project)["stages"]["train"]
    process = subprocess.Popen([SMLP, "train", "--algo", "xgboost"], cwd=project,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               start_new_session=True)
    deadline = time.monotonic() + WAIT_SECONDS
    while not in_progress(project) and time.monotonic() < deadline:
        time.sleep(0.2)
    jobs = in_progress(project)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    try:  # the killed command's orphaned training process (same process group)
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    partial = project / STORE / "models" / ".model.tar.gz.k9x2ab.tmp"
    partial.parent.mkdir(parents=True, exist_ok=True)
    partial.write_bytes(b"what a cut-short atomic write leaves")
    os.utime(partial, (time.time() - 10, time.time() - 10))
    status = run(project, "status")
    try:
        state = manifest(project)
        record("kill -9: manifest", "survived", "valid JSON after the kill")
    except ValueError as exc:
        record("kill -9: manifest", "NOT PROTECTED", f"invalid JSON: {exc}")
        return
    kept = state["stages"].get("train") == before
    record("kill -9: last completed train record", "survived" if kept else "NOT PROTECTED",
           "kept as it was" if kept else "replaced or lost")
    attempt = (state.get("extra") or {}).get("interrupted", {}).get("train")
    shown = "interrupted" in status.stdout
    record("kill -9: the killed stage", "detected" if attempt and shown else "NOT PROTECTED",
           f"recorded interrupted ({attempt['error']}); smlp status shows it" if attempt
           else "no record of the killed stage")
    stuck = [j.name for j in jobs if json.loads((j / "job.json").read_text())["status"]
             == "InProgress"]
    record("kill -9: job folder left InProgress", "cleaned" if jobs and not stuck
           else "NOT PROTECTED", "marked Stopped (interrupted)" if jobs and not stuck
           else f"still InProgress: {', '.join(stuck) or 'no job folder seen'}")
    record("kill -9: hidden *.tmp partial", "cleaned" if not partial.exists()
           else "NOT PROTECTED", "removed by the next command" if not partial.exists()
           else "left in the store")


# -- concurrent writers ----------------------------------------------------------------------
WRITER = """\
import sys
import time
from smlp.manifest import Artifact, Candidate, update_manifest
from smlp.store import LocalStore

store = LocalStore(__import__("pathlib").Path(sys.argv[1]))
time.sleep(max(0.0, float(sys.argv[4]) - time.time()))  # all writers start together
for i in range(int(sys.argv[3])):
    name = f"w{sys.argv[2]}-{i:02d}"
    candidate = Candidate(name=name, algo="xgboost", job_name=name, hyperparameters={},
                          model=Artifact(uri=store.uri(f"models/{name}.tar.gz"), sha256="0"))
    update_manifest(store, lambda m, c=candidate: m.candidates.__setitem__(c.name, c))
"""


def concurrent(base: Path) -> None:
    project = fresh(base)
    before = len(manifest(project)["candidates"])
    start = str(time.time() + 5)  # after every writer has imported smlp
    processes = [subprocess.Popen([sys.executable, "-c", WRITER, str(project / STORE), str(n),
                                   str(PER_WRITER), start], cwd=ROOT, stderr=subprocess.PIPE,
                                  text=True) for n in range(WRITERS)]
    errors = [p.communicate(timeout=WAIT_SECONDS)[1] for p in processes]
    failed = [e.strip().splitlines()[-1] for e, p in zip(errors, processes, strict=True)
              if p.returncode]
    try:
        kept = len(manifest(project)["candidates"]) - before
    except ValueError:
        record("concurrent writers", "NOT PROTECTED", "the manifest is not valid JSON")
        return
    total = WRITERS * PER_WRITER
    detail = f"{WRITERS} processes x {PER_WRITER} candidates: {kept} of {total} kept"
    if failed:
        detail += f"; {len(failed)} writers failed ({failed[0][:80]})"
    record("concurrent writers", "survived" if kept == total else "NOT PROTECTED", detail)


# -- tampering -------------------------------------------------------------------------------
def tampered(base: Path, case: str, change: Callable[[Path], str], *command: str,
             prepare: tuple[str, ...] | None = None) -> None:
    project = fresh(base)
    if prepare:
        must(project, *prepare)
    what = change(project)
    result = run(project, *command)
    if result.returncode == 0 and what in repaired and repaired[what]():
        record(f"tamper: {case}", "repaired", f"{what}; `smlp {' '.join(command)}` served "
               "the verified model: the changed file was detected and unpacked again")
    elif result.returncode != 0 and "Traceback" not in result.stdout + result.stderr:
        record(f"tamper: {case}", "detected", f"{what}; `smlp {' '.join(command)}`: "
               f"{error_line(result)}")
    else:
        record(f"tamper: {case}", "NOT PROTECTED", f"{what}; `smlp {' '.join(command)}` "
               + ("exit 0" if result.returncode == 0 else error_line(result)))


def stored(project: Path, uri: str) -> Path:
    """The file a manifest URI (absolute or store-relative) names in ``project``'s store."""
    return project / STORE / uri.split(STORE + "/", 1)[-1]


def append_row(split: str) -> Callable[[Path], str]:
    def change(project: Path) -> str:
        path = stored(project, manifest(project)["data"]["splits"][split]["uri"])
        lines = path.read_text().splitlines()
        path.write_text("\n".join(lines + lines[-1:]) + "\n")
        return f"a row appended to {path.name}"
    return change


def model_archive(project: Path) -> str:
    path = stored(project, manifest(project)["candidates"]["xgboost"]["model"]["uri"])
    with open(path, "ab") as handle:
        handle.write(b"\0" * 16)
    return f"16 bytes appended to {path.name}"


def model_cache(project: Path) -> str:
    digest = manifest(project)["candidates"]["xgboost"]["model"]["sha256"]
    cache = project / ".smlp" / "models" / digest[:16]  # the served model's extracted files
    files = sorted(p for p in cache.rglob("*") if p.is_file() and not p.name.startswith("."))
    if not files:
        return "no extracted model cache found"
    target = files[0]
    original = target.read_bytes()
    target.write_bytes(original + b" ")
    what = f"one byte appended to the cached {target.name}"
    repaired[what] = lambda: target.read_bytes() == original
    return what


def manifest_sha(project: Path) -> str:
    state = manifest(project)
    state["candidates"]["xgboost"]["model"]["sha256"] = "0" * 64
    (project / STORE / "manifest.json").write_text(json.dumps(state, indent=2))
    return "the xgboost model's recorded sha256 edited"


def manifest_json(project: Path) -> str:
    path = project / STORE / "manifest.json"
    path.write_text(path.read_text()[:-40])
    return "manifest.json cut short"


# -- relocation ------------------------------------------------------------------------------
def relocated(base: Path, how: str) -> None:
    fresh(base)
    if how == "copied":
        project = copy(base, "relocated-copy")
    else:
        project = base.parent / "relocated-move"
        base.rename(project)
        base.mkdir()
    results = [run(project, "compare"), run(project, "transform")]
    broken = [r for r in results if r.returncode != 0]
    if broken:
        record(f"relocation: project {how}", "NOT PROTECTED",
               "compare/transform fail: " + error_line(broken[0]))
        return
    outputs = [line for line in results[1].stdout.splitlines() if line.startswith("/")]
    outside = [o for o in outputs if not o.startswith(str(project))]
    if outside:
        record(f"relocation: project {how}", "NOT PROTECTED",
               f"works, but writes outside the copy: {outside[0]}")
        return
    record(f"relocation: project {how}", "survived", "compare and transform work in place")


def main() -> None:
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="smlp-reliability-") as tmp:
        base = Path(tmp) / "base"
        base.mkdir()
        (base / "smlp.yaml").write_text(CONFIG)
        print("setting up a project: data, train, compare, transform", file=sys.stderr)
        for command in (("data", "generate"), ("train", "--algo", "xgboost,sklearn-gbm"),
                        ("compare",)):
            must(base, *command)
        shutil.copytree(base, base.parent / "pristine", symlinks=True)
        kill_9(base)
        concurrent(base)
        tampered(base, "test split", append_row("test"), "compare")
        tampered(base, "train split", append_row("train"), "train", "--algo", "xgboost")
        tampered(base, "model archive", model_archive, "transform", "--model", "xgboost")
        tampered(base, "extracted model cache", model_cache, "transform", "--model", "xgboost",
                 prepare=("transform", "--model", "xgboost"))
        tampered(base, "manifest sha256", manifest_sha, "transform", "--model", "xgboost")
        tampered(base, "manifest JSON", manifest_json, "status")
        relocated(base, "copied")
        relocated(base, "moved")
    width = max(len(case) for case, _, _ in rows)
    print(f"\n{'case':<{width}}  {'verdict':<13}  detail")
    print(f"{'-' * width}  {'-' * 13}  {'-' * 40}")
    for case, verdict, detail in rows:
        print(f"{case:<{width}}  {verdict:<13}  {detail}")
    weak = sum(1 for _, verdict, _ in rows if verdict == "NOT PROTECTED")
    print(f"\n{len(rows) - weak} of {len(rows)} cases protected "
          f"({time.perf_counter() - started:.0f} s)")


if __name__ == "__main__":
    main()
