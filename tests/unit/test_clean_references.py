"""What counts as referenced: keys, folders and names anywhere in the manifest's JSON."""

from __future__ import annotations

from pathlib import Path

from smlp.clean import unreferenced
from smlp.store import LocalStore


def _store(tmp_path: Path, keys: list[str]) -> LocalStore:
    store = LocalStore(tmp_path / "store")
    for key in keys:
        store.write_bytes(key, b"x" * 10)
    return store


def test_stage_names_do_not_protect_a_whole_prefix(tmp_path: Path) -> None:
    # "data", "compare" and "transform" are stage names in every manifest: a one-segment
    # string must not keep everything under the prefix of the same name.
    store = _store(tmp_path, ["data/old/train/train.csv", "data/new/train/train.csv",
                              "compare/gone/test.csv.out", "transform/t-1/x.csv.out"])
    raw = {"stages": {"data": {"outputs": {"train": {"uri": "data/new/train/train.csv"}}},
                      "compare": {}, "transform": {"parameters": {"output": "transform"}}}}
    items, kept = unreferenced(store, raw)
    assert sorted(i.key for i in items) == ["compare/gone/test.csv.out",
                                            "data/old/train/train.csv",
                                            "transform/t-1/x.csv.out"]
    assert kept == 1


def test_absolute_uris_quoted_values_folders_and_trials_are_references(tmp_path: Path) -> None:
    store = _store(tmp_path, [
        "code/abc/sourcedir.tar.gz", "code/old/sourcedir.tar.gz",
        "transform/t-2/a.csv.out", "transform/t-2/b.csv.out",
        "training/tune-1-003-ffff/output/model.tar.gz", "training/tune-0-001-eeee/output/m",
        "training/job-a/output/model.tar.gz", "training/job-a/sourcedir.tar.gz",
    ])
    raw = {
        "candidates": {"c": {"hyperparameters": {  # SageMaker's JSON-quoted hyperparameter
            "sagemaker_submit_directory": f'"{store.uri("code/abc/sourcedir.tar.gz")}"'},
            "model": {"uri": store.uri("training/job-a/output/model.tar.gz")}}},
        "stages": {"transform": {"parameters": {"output": "transform/t-2"}}},
        "tuning": {"tune-1": {"trials": []}},
        "extra": {"elsewhere": "/not/in/the/store/file.csv"},
    }
    items, kept = unreferenced(store, raw)
    assert sorted(i.key for i in items) == ["code/old/sourcedir.tar.gz",
                                            "training/tune-0-001-eeee/output/m"]
    assert kept == 6  # job-a's sibling archive stays with its model


class RecordingMeanwhile(LocalStore):
    """A store where a stage records a new model while clean makes its first list."""

    def __init__(self, root: Path, manifest: bytes) -> None:
        super().__init__(root)
        self.manifest = manifest
        self.listed = 0

    def list(self, prefix: str) -> list[str]:
        self.listed += 1
        if self.listed == 1:
            self.write_bytes("manifest.json", self.manifest)
        return super().list(prefix)


def test_a_manifest_changed_while_listing_makes_clean_list_again(tmp_path: Path) -> None:
    import json

    from smlp.clean import clean

    before = json.dumps({"schema_version": 1}).encode()
    after = json.dumps({"schema_version": 1, "extra": {
        "note": "training/new-job/output/model.tar.gz"}}).encode()
    store = RecordingMeanwhile(tmp_path / "store", after)
    store.write_bytes("manifest.json", before)
    store.write_bytes("training/new-job/output/model.tar.gz", b"model")
    store.write_bytes("training/old-job/output/model.tar.gz", b"old")
    report = clean(store, tmp_path / ".smlp" / "jobs")
    assert [i.key for i in report.items] == ["training/old-job/output/model.tar.gz"]
    assert store.exists("training/new-job/output/model.tar.gz")
    assert not store.exists("training/old-job/output/model.tar.gz")
