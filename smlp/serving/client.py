"""Sending requests to an endpoint: one callable shape for a local URL and SageMaker's runtime.

An invoker takes ``(body, content_type, accept, target_variant)`` and returns the response
body and the variant that answered (``X-Amzn-Invoked-Production-Variant``).
"""

from __future__ import annotations

from collections.abc import Callable

from smlp.errors import DataError

Invoker = Callable[[bytes, str, str, str | None], tuple[bytes, str]]


class HttpInvoker:
    """POST /invocations on a local (or any contract-speaking) endpoint, one kept-alive
    connection; ``close()`` when done (``smlp.serving.deploy.invoke`` does)."""

    def __init__(self, url: str, timeout: float = 60.0) -> None:
        import httpx

        self.url = url.rstrip("/")
        self._client = httpx.Client(base_url=self.url, timeout=timeout)

    def __call__(self, body: bytes, content_type: str, accept: str, variant: str | None
                 ) -> tuple[bytes, str]:
        import httpx

        headers = {"Content-Type": content_type, "Accept": accept}
        if variant:
            headers["X-Amzn-SageMaker-Target-Variant"] = variant
        try:
            response = self._client.post("/invocations", content=body, headers=headers)
        except httpx.HTTPError as exc:
            raise DataError(f"{self.url}: the endpoint does not answer ({exc})") from None
        if response.status_code >= 400:
            raise DataError(f"{self.url}: {response.status_code} {response.text.strip()}")
        return response.content, response.headers.get("X-Amzn-Invoked-Production-Variant", "")

    def close(self) -> None:
        self._client.close()


def http_invoker(url: str, timeout: float = 60.0) -> HttpInvoker:
    return HttpInvoker(url, timeout)
