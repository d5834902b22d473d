"""Design review: contradictions and risky assumptions in the answers, each with its fix."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from typing import Any

from .answers import SENSITIVE, Answers, default_drift_threshold, validate
from .hosting import api_available, recommended_hosting
from .model_choice import catalog_entry, model_option, restrictive_licence
from .records import GpuSizing, Warning_
from .serving import edge_device_budget, recommended_pattern, recommended_precision
from .sizing import node_pool_for
from .tables import table


def review(
    answers: Answers,
    *,
    hosting: str,
    recommended_hosting: str,
    pattern: str,
    precision: str,
    pool: GpuSizing,
    cost: dict[str, Any],
) -> list[Warning_]:
    """Every warning that applies, in a stable order."""
    found: list[Warning_] = []
    found.extend(_sensitive_data_leaving(answers, hosting))
    if hosting != recommended_hosting and not _override_has_a_reason(answers, hosting, cost):
        found.append(
            Warning_(
                "hosting-override",
                f"hosting={hosting} contradicts the six factors, which favour {recommended_hosting}.",
                ("hosting",),
                f"keep it only for a reason the factors miss; otherwise use hosting={recommended_hosting}",
            )
        )
    if pattern != "edge":  # on devices neither the API nor a cloud fleet serves the model
        found.extend(_cost_gap(answers, hosting, cost))
    if pattern == "batch" and answers.latency_p95_ms < table("patterns")["batch_min_feasible_latency_ms"]:
        found.append(
            Warning_(
                "batch-with-tight-latency",
                f"A p95 target of {answers.latency_p95_ms} ms cannot be met through a queue.",
                ("latency_p95_ms", "serving_pattern"),
                "use serving_pattern=realtime, or relax latency_p95_ms to 1000 or more",
            )
        )
    if not pool.fits:
        found.append(
            Warning_(
                "model-does-not-fit-gpu",
                f"The model needs {pool.model_memory_gb:g} GB at {precision.upper()}, more than "
                f"{pool.gpus_per_node} x {pool.gpu_label} ({pool.gpus_per_node * pool.gpu_memory_gb:g} GB) holds.",
                ("model_size_b", "precision", "gpu_type"),
                "pick a larger gpu_type (or auto), a lower precision (int8/int4), or a smaller model",
            )
        )
    if hosting == "self_hosted" and pool.replicas_needed > pool.max_replicas:
        served = pool.max_replicas * pool.capacity_rps_per_replica / table("sizing")["headroom"]
        found.append(
            Warning_(
                "fleet-capped",
                f"The peak of {answers.peak_rps:g} req/s needs {pool.replicas_needed} replicas, but the pool is "
                f"capped at {pool.max_nodes} x {pool.instance_type} ({pool.max_replicas} replicas, about "
                f"{served:,.0f} req/s with headroom).",
                ("peak_rps", "gpu_type", "precision"),
                "raise the node cap (sizing.yaml environments.prod.max_nodes_cap) after checking quotas, "
                "or a lower precision / larger GPU, or lower peak_rps",
            )
        )
    if hosting == "self_hosted" and not answers.ml_team:
        found.append(
            Warning_(
                "self-hosted-without-ml-team",
                "A self-hosted model with no ML team: nobody to retrain, tune or answer drift alerts.",
                ("ml_team", "hosting"),
                "staff an owner for the model, or choose hosting=api where the use case has one",
            )
        )
    if pattern == "edge":
        found.extend(_edge_budget(answers, precision))
    if pattern == "edge" and hosting == "api":
        found.append(
            Warning_(
                "edge-with-api",
                "The edge pattern runs the model on the device, but hosting is a remote API.",
                ("serving_pattern", "hosting"),
                "choose hosting=self_hosted for edge, or serving_pattern=realtime",
            )
        )
    typical = float(model_option(answers)["latency_ms"])
    if answers.latency_p95_ms < typical:
        found.append(
            Warning_(
                "latency-below-model",
                f"The p95 target of {answers.latency_p95_ms} ms is below the model's typical {typical:g} ms.",
                ("latency_p95_ms", "accuracy_preference"),
                "relax latency_p95_ms, choose accuracy_preference=speed, or plan a smaller model",
            )
        )
    found.extend(_restrictive_licence(answers, hosting))
    warn_below = table("monitoring")["psi_warn_below_threshold"]
    if answers.drift_threshold < warn_below:
        found.append(
            Warning_(
                "psi-threshold-noisy",
                f"PSI {answers.drift_threshold:g} fires on sampling noise for small windows.",
                ("drift_threshold",),
                f"use at least {warn_below} ({default_drift_threshold():g} is the usual alert level)",
            )
        )
    return found


def _restrictive_licence(answers: Answers, hosting: str) -> list[Warning_]:
    """A self-hosted model whose licence binds the product (copyleft, research-only weights)."""
    found = restrictive_licence(model_option(answers))
    if found is None or hosting == "api":
        return []
    licence, asks = found
    others = [
        f"accuracy_preference={key}"
        for key, option in catalog_entry(answers.use_case)["options"].items()
        if key != answers.accuracy_preference and restrictive_licence(option) is None
    ]
    return [
        Warning_(
            "restrictive-model-licence",
            f"{model_option(answers)['model']} is licensed {licence}: {asks}.",
            ("use_case", "accuracy_preference", "hosting"),
            f"check the licence with your legal team, or choose {' or '.join(others) or 'hosting=api'}",
        )
    ]


def _edge_budget(answers: Answers, precision: str) -> list[Warning_]:
    """A model too heavy or too slow for the edge device (the engine's estimate; the project checks
    its exported, quantized artifact against the same budget)."""
    device = edge_device_budget(answers, precision)
    found = []
    if device["estimated_memory_mb"] > device["model_memory_budget_mb"]:
        found.append(
            Warning_(
                "edge-model-too-large",
                f"The model needs ~{device['estimated_memory_mb'] / 1024:,.3g} GB at {precision.upper()}; "
                f"the edge device ({device['label']}) holds ~{device['model_memory_budget_mb'] / 1024:g} GB.",
                ("serving_pattern", "model_size_b", "precision"),
                "quantize to int8/int4, distil to a smaller model, or serve realtime from the cloud",
            )
        )
    if device["estimated_latency_ms"] > device["latency_budget_ms"]:
        found.append(
            Warning_(
                "edge-model-too-slow",
                f"On the edge device the model takes ~{device['estimated_latency_ms']:g} ms, over the p95 "
                f"target of {answers.latency_p95_ms} ms.",
                ("serving_pattern", "latency_p95_ms", "accuracy_preference"),
                "choose accuracy_preference=speed, relax latency_p95_ms, or serve realtime from a cloud GPU",
            )
        )
    return found


def _monthly_pair(cost: dict[str, Any], hosting: str) -> tuple[float, float] | None:
    """(chosen, other): the monthly cost of the chosen hosting and of the other one; None without an API."""
    api, own = cost.get("api_monthly_usd"), float(cost["self_hosted_monthly_usd"])
    if api is None:
        return None
    return (own, float(api)) if hosting == "self_hosted" else (float(api), own)


def _override_has_a_reason(answers: Answers, hosting: str, cost: dict[str, Any]) -> bool:
    """Reasons the six factors miss: sensitive data kept in the account, or a cost gap."""
    if hosting == "self_hosted" and answers.data_sensitivity in SENSITIVE:
        return True
    pair = _monthly_pair(cost, hosting)
    return pair is not None and pair[0] > 0 and pair[1] > float(table("hosting")["cost_warning_ratio"]) * pair[0]


def hosted_services(answers: Answers, hosting: str) -> list[tuple[str, str]]:
    """(the answer that chose it, the service) for each service outside the account that the
    answers send request data to."""
    services = []
    entry = catalog_entry(answers.use_case)
    if hosting == "api" and entry.get("api"):
        services.append(("hosting", f"{entry['api']['name']} (hosted model API)"))
    if answers.use_case == "search_rag":
        store = table("hosting")["vector_dbs"][answers.vector_db]
        label, hosted = str(store["label"]), bool(store["hosted"])
        if hosted:
            services.append(("vector_db", label))
    return services


def _sensitive_data_leaving(answers: Answers, hosting: str) -> list[Warning_]:
    if answers.data_sensitivity not in SENSITIVE:
        return []
    found = []
    for answer, service in hosted_services(answers, hosting):
        is_api = answer == "hosting"
        found.append(
            Warning_(
                "sensitive-data-to-api" if is_api else "sensitive-data-to-hosted-service",
                f"{answers.data_sensitivity.upper()} data would leave your account for {service}.",
                ("data_sensitivity", answer),
                "choose hosting=self_hosted, or sign a data-processing agreement and redact before the call"
                if is_api
                else "choose a vector_db that runs in your account (pgvector, qdrant, chroma or weaviate)",
            )
        )
    return found


def _cost_gap(answers: Answers, hosting: str, cost: dict[str, Any]) -> list[Warning_]:
    """Far past break-even on the API, or far below it self-hosted: both figures and the break-even."""
    pair = _monthly_pair(cost, hosting)
    if not api_available(answers.use_case) or pair is None:
        return []
    chosen, other = pair
    if chosen <= float(table("hosting")["cost_warning_ratio"]) * other:
        return []
    api_monthly, self_monthly = cost["api_monthly_usd"], cost["self_hosted_monthly_usd"]
    break_even = cost.get("break_even_requests_per_month")
    where = f"break-even is ~{break_even:,} requests/month" if break_even else "the API is cheaper at any volume"
    figures = f"~${self_monthly:,.0f} self-hosted against ~${api_monthly:,.0f} on the API ({where})"
    # for sensitive data the API is no option (the data would leave the account): no cost nudge to it
    if hosting == "self_hosted" and answers.data_sensitivity not in SENSITIVE:
        return [
            Warning_(
                "below-break-even",
                f"Self-hosting {answers.monthly_requests:,} requests/month costs {figures}.",
                ("monthly_requests", "hosting"),
                "use hosting=api until volume approaches the break-even",
            )
        ]
    if hosting == "api" and cost.get("self_hosted_serves_peak", True):
        return [
            Warning_(
                "past-break-even",
                f"The API for {answers.monthly_requests:,} requests/month costs {figures}.",
                ("monthly_requests", "hosting"),
                "use hosting=self_hosted: at this volume the fixed infrastructure is the cheaper one",
            )
        ]
    return []


# ------------------------------------------------------------------------------------- fixes
SMALLER_GENERATION_MODELS_B = (70.0, 13.0, 7.0)  # the next model sizes a generation fix may suggest


def fix_candidates(code: str, answers: Answers) -> list[dict[str, Any]]:
    """Answer changes that may fix a warning, in the order of preference of its `fix` text, as
    values `copier update --data` takes (the engine's recommendation spelled out)."""
    typical = float(model_option(answers)["latency_ms"])
    hosting, pattern = recommended_hosting(answers), recommended_pattern(answers)
    candidates: dict[str, list[dict[str, Any]]] = {
        "sensitive-data-to-api": [{"hosting": "self_hosted"}, {"hosting": "self_hosted", "ml_team": True}],
        "sensitive-data-to-hosted-service": [{"vector_db": "pgvector"}],
        "hosting-override": [{"hosting": hosting}],
        "below-break-even": [{"hosting": "api"}],
        "past-break-even": [{"hosting": "self_hosted"}, {"hosting": "self_hosted", "ml_team": True}],
        "batch-with-tight-latency": [{"serving_pattern": "realtime"}, {"serving_pattern": pattern}],
        "model-does-not-fit-gpu": [
            {"gpu_type": "auto"},
            {"precision": "int8"},
            {"precision": "int4"},
            {"precision": "int4", "gpu_type": "auto"},
        ],
        # a peak no fleet under the cap serves: a lower precision, or the peak the answers can mean
        "fleet-capped": [
            {"gpu_type": "auto"},
            {"precision": "int4"},
            *([{"accuracy_preference": "speed"}] if answers.accuracy_preference != "speed" else []),
            {"peak_rps": _servable_peak(answers)},
            *({"peak_rps": round(answers.peak_rps / share, 3)} for share in (4, 16, 64)),
            *(
                {"model_size_b": size}
                for size in SMALLER_GENERATION_MODELS_B
                if answers.is_generation and size < answers.model_size_b
            ),
        ],
        "self-hosted-without-ml-team": [{"ml_team": True}, {"hosting": "api"}],
        "edge-model-too-large": [{"precision": "int8"}, {"precision": "int4"}, {"serving_pattern": "realtime"}],
        "edge-model-too-slow": [
            {"accuracy_preference": "speed"},
            {"latency_p95_ms": math.ceil(edge_device_budget(answers, "int8")["estimated_latency_ms"] * 1.5)},
            {"serving_pattern": "realtime"},
        ],
        "edge-with-api": [{"hosting": "self_hosted"}, {"serving_pattern": "realtime"}],
        "latency-below-model": [{"accuracy_preference": "speed"}, {"latency_p95_ms": math.ceil(typical * 1.5)}],
        "psi-threshold-noisy": [{"drift_threshold": default_drift_threshold()}],
        "restrictive-model-licence": [
            *(
                {"accuracy_preference": key}
                for key, option in catalog_entry(answers.use_case)["options"].items()
                if key != answers.accuracy_preference and restrictive_licence(option) is None
            ),
            {"hosting": "api"},
        ],
    }
    return candidates.get(code, [])


def _servable_peak(answers: Answers) -> float:
    """The largest peak the capped prod fleet serves with headroom (a fix for fleet-capped)."""
    pattern = answers.serving_pattern or recommended_pattern(answers)
    pool = node_pool_for(answers, answers.precision or recommended_precision(answers, pattern), "prod")
    return float(math.floor(pool.max_replicas * pool.capacity_rps_per_replica / table("sizing")["headroom"]))


FIX_SEARCH_DEPTH = 4  # a fix may need follow-ups (self-host -> staff it -> quantize -> a feasible peak)


def find_fix(code: str, answers: Answers, codes: set[str], redecide: Callable[[Answers], set[str]]) -> dict[str, Any]:
    """The smallest answer change (breadth first, up to FIX_SEARCH_DEPTH candidate fixes combined)
    after which `code` is gone and no warning outside `codes` appears; {} when none is found."""
    frontier: list[tuple[dict[str, Any], set[str]]] = [({}, {code})]
    seen: set[tuple[tuple[str, str], ...]] = set()
    for _ in range(FIX_SEARCH_DEPTH):
        next_frontier = []
        for change, targets in frontier:
            current = dataclasses.replace(answers, **change)
            for target in sorted(targets):
                for candidate in fix_candidates(target, current):
                    merged = {**change, **candidate}
                    key = tuple(sorted((k, repr(v)) for k, v in merged.items()))
                    if key in seen or all(getattr(answers, k) == v for k, v in merged.items()):
                        continue
                    seen.add(key)
                    changed = dataclasses.replace(answers, **merged)
                    if validate(changed):
                        continue
                    after = redecide(changed)
                    if code not in after and after <= codes:
                        return merged
                    next_frontier.append((merged, (after - codes) | ({code} & after)))
        frontier = next_frontier
    return {}


def attach_fixes(answers: Answers, warnings: list[Warning_], redecide: Callable[[Answers], set[str]]) -> list[Warning_]:
    """Each warning with the answer changes that remove it without raising another one."""
    codes = {w.code for w in warnings}
    return [dataclasses.replace(w, fix_answers=find_fix(w.code, answers, codes, redecide)) for w in warnings]
