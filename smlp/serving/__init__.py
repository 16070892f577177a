"""Real-time endpoints: SageMaker's inference container contract as an ASGI app.

``payload`` (bodies in, predictions out), ``variants`` (weighted routing, counters),
``capture`` (data capture JSON Lines), ``app`` (starlette routes), ``server`` (uvicorn),
``local`` (the local backend's endpoints and their registry), ``client`` (invokers),
``deploy`` (the manifest's candidates as an endpoint spec; ``smlp invoke``).
"""
