"""Sending requests to an endpoint: one callable shape for a local URL and SageMaker's runtime.

An invoker takes ``(body, content_type, accept, target_variant)`` and returns the response
body and the variant that answered (``X-Amzn-Invoked-Production-Variant``).
"""

from __future__ import annotations

from collections.abc import Callable

from smlp.errors import DataError

Invoker = Callable[[bytes, str, str, str | None], tuple[bytes, str]]


def http_invoker(url: str, timeout: float = 60.0) -> Invoker:
    """POST /invocations on a local (or any contract-speaking) endpoint."""
    import httpx

    client = httpx.Client(base_url=url.rstrip("/"), timeout=timeout)

    def send(body: bytes, content_type: str, accept: str, variant: str | None
             ) -> tuple[bytes, str]:
        headers = {"Content-Type": content_type, "Accept": accept}
        if variant:
            headers["X-Amzn-SageMaker-Target-Variant"] = variant
        try:
            response = client.post("/invocations", content=body, headers=headers)
        except httpx.HTTPError as exc:
            raise DataError(f"{url}: the endpoint does not answer ({exc})") from None
        if response.status_code >= 400:
            raise DataError(f"{url}: {response.status_code} {response.text.strip()}")
        return response.content, response.headers.get("X-Amzn-Invoked-Production-Variant", "")

    return send
