"""The AWS side of smlp: a CDK stack for the SageMaker backend and the toolkit that deploys it.

Importing ``smlp.infra.stack`` pulls in aws_cdk (a jsii process, ~1 s); the toolkit and
outputs modules do not, so ``smlp infra outputs`` works without the ``infra`` extra.
"""

from __future__ import annotations

import os

# jsii prints a banner on every import when Node is past end-of-life (20 here); it is noise.
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
os.environ.setdefault("JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION", "1")
