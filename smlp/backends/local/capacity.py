"""Will a training job's data fit in this machine's memory? Asked before any job starts.

The local entry points read every channel (every shard of a split, in name order, straight
into place: training_scripts/_sm_io.read_channel) into one float64 matrix, and the library then
makes its own copy (XGBoost's DMatrix and its quantised histogram index, faiss's float32
vectors, scikit-learn's float32 array and sort indices): ``BYTES_PER_VALUE`` per feature value,
plus ``BASE_BYTES`` for the interpreter and the libraries. Rows are estimated from each file's
size and the length of its first lines, so the check costs a read of 1 MiB per file.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from smlp.errors import BackendError

MIB = 1 << 20
GIB = 1 << 30
SAMPLE_BYTES = MIB
BASE_BYTES = 512 * MIB
BYTES_PER_VALUE = {"xgboost": 8 + 4 + 1, "knn": 8 + 4, "sklearn-gbm": 8 + 4 + 4}


@dataclass(frozen=True)
class Estimate:
    rows: int
    features: int
    bytes: int


def estimate(algorithm: str, channels: dict[str, str]) -> Estimate | None:
    """Memory a local job of ``algorithm`` needs for these channel folders (None: not local)."""
    rows = features = 0
    for uri in channels.values():
        if uri.startswith("s3://"):
            return None
        folder = Path(uri)
        files = [folder] if folder.is_file() else sorted(
            p for p in folder.glob("*") if p.is_file() and not p.name.startswith("."))
        for path in files:
            counted, width = _rows(path)
            rows += counted
            features = max(features, width - 1)  # label first
    per_value = BYTES_PER_VALUE.get(algorithm, 16)
    return Estimate(rows, features, BASE_BYTES + rows * (features + 1) * per_value)


def _rows(path: Path) -> tuple[int, int]:
    """(estimated lines, fields per line) from the file's size and its first MiB."""
    size = path.stat().st_size
    with open(path, "rb") as handle:
        head = handle.read(SAMPLE_BYTES)
    lines = head.count(b"\n") or 1
    width = head.split(b"\n", 1)[0].count(b",") + 1 if head.strip() else 0
    if len(head) >= size:
        return head.count(b"\n") + (1 if head and not head.endswith(b"\n") else 0), width
    return int(size / (len(head) / lines)), width


def available_bytes() -> int | None:
    """Memory this machine can give a new process now (Linux MemAvailable, else physical)."""
    try:
        with open("/proc/meminfo") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        import os

        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def check(algorithm: str, channels: dict[str, str]) -> None:
    """Refuse, before it starts, a local job whose data would not fit in memory."""
    need = estimate(algorithm, channels)
    have = available_bytes()
    if need is None or have is None or need.bytes <= have:
        return
    raise BackendError(
        f"{algorithm}: training locally needs about {need.bytes / GIB:.1f} GiB of memory "
        f"({need.rows:,} rows × {need.features} features in its channels), and this machine "
        f"has {have / GIB:.1f} GiB available; train it on SageMaker instead: "
        f"`smlp train --algo {algorithm} --backend sagemaker` (with `store: s3://BUCKET/PREFIX`;"
        " `smlp config init --backend sagemaker` writes both)")
