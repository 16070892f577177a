"""Checks every command makes before its first AWS request: credentials and the region name.

One place, so a missing profile reads the same whether the S3 store, the SageMaker backend or
the CDK app found it, and a mistyped region is refused before boto3 builds an endpoint for it.
"""

from __future__ import annotations

from typing import Any

from smlp.errors import ConfigError

NO_CREDENTIALS = ("no AWS credentials found: run `aws configure` or `aws sso login`, or set "
                  "AWS_PROFILE (or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY)")


def require_credentials(session: Any = None, hint: str = "") -> None:
    """Raise one line when ``session`` (a boto3 Session; default: a new one) has none."""
    if session is None:
        import boto3

        session = boto3.session.Session()
    try:
        credentials = session.get_credentials()
    except Exception as exc:  # a broken profile, an SSO cache that cannot be read
        raise ConfigError(f"AWS credentials could not be loaded: {exc}") from None
    if credentials is None:
        raise ConfigError(NO_CREDENTIALS + hint)


def known_regions() -> list[str]:
    """Every region botocore's bundled endpoint data lists for SageMaker (offline)."""
    import botocore.session

    session = botocore.session.get_session()
    regions: set[str] = set()
    for partition in session.get_available_partitions():
        regions.update(session.get_available_regions("sagemaker", partition))
    return sorted(regions)


def region_problem(region: str) -> str | None:
    """None when botocore knows ``region``; otherwise what is wrong, with the closest names."""
    regions = known_regions()
    if region in regions:
        return None
    from smlp.suggest import close_matches

    near = close_matches(region, regions, limit=3)
    if len(near) > 1:
        hint = f"; did you mean {', '.join(near[:-1])} or {near[-1]}?"
    else:
        hint = f"; did you mean {near[0]}?" if near else "; e.g. us-east-1, eu-west-1"
    return f"{region!r} is not a region SageMaker runs in{hint}"
