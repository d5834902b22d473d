"""The OpenAI-compatible LLM gateway: one endpoint in front of the project's language models.

settings (platform.yaml `gateway:`), routing (which group answers: the rules), redaction (personal
data masked before a model sees it), provider (LiteLLM's custom provider over this project's Triton),
router (LiteLLM's Router: retries, fallbacks, the Redis cache), limits (per-key rate limits in Redis),
accounting (tokens priced from the engine's price table, the daily budget), metrics (Prometheus),
app (the FastAPI server) and bench (its overhead over a direct call). `python -m <package>.gateway
serve` runs it (make gateway-serve); docs/gateway.md.
"""

import os

# LiteLLM fetches its model price map from GitHub at import unless told to use its bundled copy; the
# gateway prices requests from platform.yaml and must start without a network.
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
