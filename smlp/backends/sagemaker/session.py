"""boto3 clients, the checks made before any job is sent, and the one place AWS errors are mapped.

Throttling and transient errors are retried by botocore itself (``standard`` retry mode:
exponential backoff with jitter); what is left when retries run out, and every other AWS error,
becomes one smlp error carrying the AWS code and a hint on what to do.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from smlp.errors import AwsError, BackendError, ConfigError, SmlpError

# AWS error code -> what to do about it. Every code here is covered by a test.
HINTS: dict[str, str] = {
    "AccessDenied": "the caller lacks an IAM permission for this call; check the policy of "
                    "your credentials (not the execution role)",
    "AccessDeniedException": "the caller lacks an IAM permission for this call; check the "
                             "policy of your credentials (not the execution role)",
    "ValidationException": "SageMaker rejected the request; `--dry-run` shows what was sent",
    "ResourceLimitExceeded": "an account quota is reached (instances or concurrent jobs); ask "
                             "for more in Service Quotas or choose another instance type",
    "ResourceInUse": "a resource with this name exists already; re-run to get a new job name",
    "ResourceNotFound": "no such job or model in this account and region",
    "ThrottlingException": "AWS kept throttling after every retry; wait and re-run, or raise "
                           "backend.max_attempts",
    "ProvisionedThroughputExceededException": "AWS kept throttling after every retry; wait "
                                              "and re-run",
    "ServiceUnavailable": "SageMaker is unavailable right now; wait and re-run",
    "InternalFailure": "SageMaker failed internally; wait and re-run",
    "ExpiredToken": "your credentials have expired; refresh them (e.g. `aws sso login`)",
    "ExpiredTokenException": "your credentials have expired; refresh them (e.g. `aws sso login`)",
    "RequestExpired": "the request expired; check this machine's clock",
    "UnrecognizedClientException": "the access key is not valid in this partition; check your "
                                   "credentials and backend.region",
    "InvalidClientTokenId": "the access key is not valid; check your credentials",
    "InvalidSignatureException": "the secret key does not match the access key",
    "SignatureDoesNotMatch": "the secret key does not match the access key",
    "NoSuchBucket": "the bucket does not exist; create it (`smlp infra deploy`) or fix store:",
}


def resolve_region(configured: str | None) -> str | None:
    """``backend.region``, else the region the AWS CLI would use (env or ~/.aws/config)."""
    if configured:
        return configured
    import botocore.session

    return botocore.session.get_session().get_config_variable("region") or None


class AwsSession:
    """One boto3 session per backend, with clients created once and retrying by themselves."""

    def __init__(self, region: str, max_attempts: int = 10, boto_session: Any = None) -> None:
        self.region = region
        self.max_attempts = max_attempts
        self._boto = boto_session
        self._clients: dict[str, Any] = {}
        self._lock = threading.Lock()  # boto3 clients are thread-safe; creating them is not

    @property
    def boto(self) -> Any:
        with self._lock:
            if self._boto is None:
                import boto3

                self._boto = boto3.session.Session(region_name=self.region)
            return self._boto

    def client(self, service: str) -> Any:
        from botocore.config import Config

        boto = self.boto
        with self._lock:
            if service not in self._clients:
                config = Config(
                    region_name=self.region,
                    retries={"total_max_attempts": self.max_attempts, "mode": "standard"},
                    user_agent_extra="smlp",
                )
                self._clients[service] = boto.client(service, config=config)
            return self._clients[service]

    # -- checks made before the first job -----------------------------------------------------
    def check_credentials(self) -> None:
        from smlp.aws import require_credentials

        require_credentials(self.boto, "; `--dry-run` works without them")

    def check_bucket(self, bucket: str) -> None:
        """The store's bucket exists, is reachable, and is in the jobs' region."""
        from botocore.exceptions import ClientError

        s3 = self.client("s3")
        try:
            head = s3.head_bucket(Bucket=bucket)
        except ClientError as exc:
            code = _code(exc)
            if code in {"404", "NoSuchBucket", "NotFound"}:
                raise ConfigError(f"store: bucket {bucket} does not exist; create it "
                                  "(`smlp infra deploy`) or fix `store:`") from None
            if code in {"403", "AccessDenied", "Forbidden"}:
                raise ConfigError(f"store: no access to bucket {bucket} with these "
                                  "credentials (HeadBucket was denied)") from None
            raise map_error(exc, "HeadBucket") from None
        region = head.get("ResponseMetadata", {}).get("HTTPHeaders", {}).get(
            "x-amz-bucket-region") or head.get("BucketRegion")
        if region is None:
            with aws_errors("GetBucketLocation"):
                location = s3.get_bucket_location(Bucket=bucket).get("LocationConstraint")
            region = {None: "us-east-1", "": "us-east-1", "EU": "eu-west-1"}.get(
                location, location)
        if region != self.region:
            raise ConfigError(
                f"store: bucket {bucket} is in {region} but backend.region is {self.region}; "
                "SageMaker reads and writes S3 in its own region: use a bucket there or set "
                f"backend.region: {region}"
            )


def _code(exc: BaseException) -> str:
    return str(getattr(exc, "response", {}).get("Error", {}).get("Code", ""))


def map_error(exc: BaseException, operation: str) -> SmlpError:
    """The smlp error for a botocore/boto3 exception raised by ``operation``."""
    from botocore import exceptions as bx

    if isinstance(exc, SmlpError):
        return exc
    if isinstance(exc, bx.ClientError):
        error = exc.response.get("Error", {})
        code = str(error.get("Code") or exc.response.get("ResponseMetadata", {}).get(
            "HTTPStatusCode", "Unknown"))
        message = error.get("Message") or str(exc)
        operation = getattr(exc, "operation_name", None) or operation
        hint = HINTS.get(code)
        return AwsError(code, f"{message} ({hint})" if hint else message, operation)
    if isinstance(exc, (bx.NoCredentialsError, bx.PartialCredentialsError)):
        return ConfigError(f"no usable AWS credentials ({exc}); run `aws configure` or "
                           "`aws sso login`")
    if isinstance(exc, bx.NoRegionError):
        return ConfigError("no AWS region: set backend.region (or AWS_DEFAULT_REGION)")
    if isinstance(exc, (bx.EndpointConnectionError, bx.ConnectionClosedError,
                        bx.ConnectTimeoutError, bx.ReadTimeoutError)):
        return BackendError(f"cannot reach AWS for {operation}: {exc}; check the network "
                            "(retried by botocore already)")
    if isinstance(exc, bx.ParamValidationError):
        return BackendError(f"smlp built an invalid {operation} request: {exc}")
    return BackendError(f"{operation} failed: {type(exc).__name__}: {exc}")


@contextmanager
def aws_errors(operation: str) -> Iterator[None]:
    """Translate every AWS exception raised inside into an smlp error, once."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        yield
    except (ClientError, BotoCoreError) as exc:
        raise map_error(exc, operation) from None
