"""Job names SageMaker accepts: ``[a-zA-Z0-9-]``, at most 63 characters, unique per call."""

from __future__ import annotations

import re
import secrets
import time


def job_name(*parts: str) -> str:
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
    base = "-".join(re.sub(r"[^a-zA-Z0-9-]", "-", part) for part in ("smlp", *parts))
    suffix = f"-{stamp}-{secrets.token_hex(2)}"
    return base[: 63 - len(suffix)].rstrip("-") + suffix
