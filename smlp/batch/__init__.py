"""Local Batch Transform: CSV files in, ``<file>.out`` predictions out, as SageMaker does it.

``run_batch`` is loaded on first use so importing this package (for ``BatchOptions``) costs
no pyarrow or numpy import.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from smlp.batch.options import BatchOptions, BatchResult, RowEncoder, batch_options

if TYPE_CHECKING:
    from smlp.batch.engine import run_batch

__all__ = ["BatchOptions", "BatchResult", "RowEncoder", "batch_options", "run_batch"]


def __getattr__(name: str) -> Any:
    if name == "run_batch":
        from smlp.batch import engine

        return engine.run_batch
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
