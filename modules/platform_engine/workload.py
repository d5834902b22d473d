"""One unit of work per use case: what one request carries, as the API prices it and a GPU serves it.

The catalog gives each use case a `request`: its unit (tokens, audio minutes, thousands of
characters, images, rows) and how many units one request carries. The hosted API's price is per
unit (prices.yaml `api`) and the GPU throughput counts the same unit, so the API-versus-self-hosted
comparison prices the same work on both sides (a 90-second clip is 1.5 audio minutes for the API
*and* for the GPU, never a 90-second price against a tiny request's throughput).

Throughput kinds:
  tier     one-shot models (classifiers, detectors, tabular): the reference scale table's requests
           per second per GPU tier (`sizing.yaml tiers[].capacity_rps`), for the request as described
  decode   generation: output tokens per second (bandwidth bound), divided by the request's output tokens
  metered  work that grows with the input (audio, speech synthesis): the model's units per
           GPU-second on a T4 (`catalog.yaml options[].throughput`), times the tier's compute speed
"""

from __future__ import annotations

from typing import Any

from .tables import table

THROUGHPUT_KINDS = ("tier", "decode", "metered")
# One-shot models: the tier's req/s counts the request itself (also the smoke pool's throughput).
TIER_THROUGHPUT: dict[str, Any] = {"kind": "tier", "units_per_request": 1.0, "units_per_gpu_second": 0.0}


def request_of(use_case: str) -> dict[str, Any]:
    """The catalog's unit of work for a use case: {unit, label, amount or input/output tokens}."""
    request: dict[str, Any] = table("catalog")["use_cases"][use_case]["request"]
    return request


def unit_of_work(use_case: str) -> dict[str, Any]:
    """The request as platform.yaml records it: the catalog's record, the unit's name for people,
    and the units one request carries."""
    request = request_of(use_case)
    return {
        **request,
        "unit_label": table("catalog")["units"][request["unit"]],
        "units_per_request": units_per_request(request),
    }


def units_per_request(request: dict[str, Any]) -> float:
    """How many of the unit one request carries (tokens: input plus output)."""
    if request["unit"] == "tokens":
        return float(request["input_tokens"] + request["output_tokens"])
    return float(request["amount"])


def api_cost_per_request(pricing: dict[str, Any], request: dict[str, Any]) -> float:
    """The API price of one request: its tokens at per-1K prices, or its units at the unit price.

    The price must count the request's unit; a mismatch is a table error, not a number to guess."""
    if pricing["unit"] != request["unit"]:
        raise ValueError(
            f"the API price counts {pricing['unit']!r} but the use case's request is measured in "
            f"{request['unit']!r}; fix prices.yaml or catalog.yaml so both count the same unit"
        )
    if request["unit"] == "tokens":
        return float(
            request["input_tokens"] / 1000 * pricing["input_per_1k"]
            + request["output_tokens"] / 1000 * pricing["output_per_1k"]
        )
    return float(request["amount"] * pricing["per_unit"])


def throughput_spec(request: dict[str, Any], option: dict[str, Any], generation: bool) -> dict[str, Any]:
    """How a GPU serves this request (recorded with the sizing inputs): the kind, the units one
    request carries for that kind, and the model's units per GPU-second on a T4 (metered only)."""
    if generation:
        return {"kind": "decode", "units_per_request": float(request["output_tokens"]), "units_per_gpu_second": 0.0}
    if option.get("throughput"):
        return {
            "kind": "metered",
            "units_per_request": units_per_request(request),
            "units_per_gpu_second": float(option["throughput"]["units_per_gpu_second"]),
        }
    return dict(TIER_THROUGHPUT)


def decode_tokens_per_second(params_b: float, decode_speed: float = 1.0) -> float:
    """Output tokens/s one replica of a generation model decodes: the reference's 70B example
    (50 requests/minute of 200 output tokens on one A100), scaled by model size and by the GPU's
    memory bandwidth, capped at the table's ceiling for small models."""
    rule = table("sizing")["generation"]
    reference = rule["reference_requests_per_minute"] / 60.0 * rule["reference_output_tokens"]
    scaled = reference * rule["reference_params_b"] / params_b
    return float(min(rule["max_output_tokens_per_second"], scaled) * decode_speed)


def replica_rps(throughput: dict[str, Any], tier: dict[str, Any], params_b: float) -> float:
    """Requests/s one replica serves on `tier`, counting the request's own unit of work."""
    kind = throughput["kind"]
    if kind == "decode":
        tokens = decode_tokens_per_second(params_b, float(tier["decode_speed"]))
        return tokens / float(throughput["units_per_request"])
    if kind == "metered":
        per_second = throughput["units_per_gpu_second"] * float(tier["compute_speed"])
        return float(per_second / throughput["units_per_request"])
    if kind == "tier":
        return float(tier["capacity_rps"])
    raise ValueError(f"throughput kind {kind!r} is not one of {', '.join(THROUGHPUT_KINDS)}")


def throughput_basis(throughput: dict[str, Any], request: dict[str, Any], tier: dict[str, Any], rps: float) -> str:
    """One line for people: what a replica serves, in the request's unit."""
    kind = throughput["kind"]
    if kind == "decode":
        tokens = rps * throughput["units_per_request"]
        return (
            f"{tokens:,.0f} output tokens/s per replica on {tier['label']} = {rps:.3g} requests/s of {request['label']}"
        )
    if kind == "metered":
        units = throughput["units_per_gpu_second"] * float(tier["compute_speed"])
        unit_label = table("catalog")["units"][request["unit"]]
        return (
            f"{units:.3g} {unit_label} per GPU-second on {tier['label']} = {rps:.3g} requests/s of {request['label']}"
        )
    return f"{rps:g} requests/s of {request['label']} per GPU on {tier['label']} (reference scale table)"
