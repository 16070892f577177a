"""Entry point for running the AWS CDK CLI by hand from this folder (``cdk synth``, ``cdk deploy``).

``smlp infra ...`` does the same without it; both build ``smlp.infra.stack`` from the smlp
config, so the templates are identical. The config is the context value ``config``
(``cdk deploy -c config=../my.yaml``), else ``$SMLP_CONFIG``, else ``../smlp.yaml`` if present,
else the packaged defaults.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def config_path() -> Path | None:
    context = json.loads(os.environ.get("CDK_CONTEXT_JSON") or "{}")
    given = context.get("config") or os.environ.get("SMLP_CONFIG")
    if given:
        return Path(given)
    default = ROOT / "smlp.yaml"
    return default if default.is_file() else None


def main() -> int:
    sys.path.insert(0, str(ROOT))  # this checkout's smlp, even when it is not pip-installed
    from smlp.config import load_config
    from smlp.errors import SmlpError
    from smlp.infra.stack import build_app
    from smlp.infra.toolkit import infra_settings

    try:
        app, _ = build_app(infra_settings(load_config(config_path())))
    except SmlpError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    app.synth()  # the CLI reads the assembly from $CDK_OUTDIR and reports cdk-nag findings
    return 0


if __name__ == "__main__":
    sys.exit(main())
