"""API vs self-hosted: one vote per factor from the reference's table, with an explanation each."""

from __future__ import annotations

from typing import Any

from .answers import Answers
from .model_choice import catalog_entry
from .records import Decision, FactorVote
from .tables import table


def _volume(answers: Answers, rule: dict[str, Any]) -> FactorVote:
    low, high = rule["api_below_monthly_requests"], rule["self_hosted_above_monthly_requests"]
    n = answers.monthly_requests
    if n < low:
        return FactorVote("volume", rule["label"], -1, f"{n:,} requests/month is under {low:,}: API")
    if n > high:
        return FactorVote("volume", rule["label"], 1, f"{n:,} requests/month is over {high:,}: self-hosted")
    return FactorVote("volume", rule["label"], 0, f"{n:,} requests/month is between {low:,} and {high:,}")


def _latency(answers: Answers, rule: dict[str, Any]) -> FactorVote:
    ms = answers.latency_p95_ms
    if ms < rule["self_hosted_below_ms"]:
        return FactorVote(
            "latency", rule["label"], 1, f"p95 {ms} ms needs < {rule['self_hosted_below_ms']} ms: self-hosted"
        )
    if ms >= rule["api_at_or_above_ms"]:
        return FactorVote("latency", rule["label"], -1, f"p95 {ms} ms tolerates an API round trip")
    return FactorVote("latency", rule["label"], 0, f"p95 {ms} ms is between the API and self-hosted bands")


def _side(value: str, rule: dict[str, Any]) -> int:
    """+1 when the table lists `value` on the self-hosted side, -1 on the API side, 0 on neither."""

    def listed(side: str) -> bool:
        entry = rule[side]
        return value in entry if isinstance(entry, list) else value == entry

    return 1 if listed("self_hosted") else -1 if listed("api") else 0


def _customization(answers: Answers, rule: dict[str, Any]) -> FactorVote:
    vote = _side(answers.customization, rule)
    why = {1: "domain-specific fine-tuning: self-hosted", -1: "a general use case: an API model fits"}
    return FactorVote("customization", rule["label"], vote, why.get(vote, f"{answers.customization}: no preference"))


def _privacy(answers: Answers, rule: dict[str, Any]) -> FactorVote:
    vote = _side(answers.data_sensitivity, rule)
    why = {
        1: f"{answers.data_sensitivity.upper()} data stays in your cloud",
        -1: f"{answers.data_sensitivity} data may go to an external API",
    }
    return FactorVote("privacy", rule["label"], vote, why.get(vote, f"{answers.data_sensitivity}: no preference"))


def _team(answers: Answers, rule: dict[str, Any]) -> FactorVote:
    if answers.ml_team:
        return FactorVote("team", rule["label"], 1, "an ML team can run and tune models")
    return FactorVote("team", rule["label"], -1, "no ML engineers to run a model")


def _budget(answers: Answers, rule: dict[str, Any]) -> FactorVote:
    vote = _side(answers.budget_style, rule)
    why = {1: "high volume justifies fixed infrastructure", -1: "predictable per-call costs preferred"}
    return FactorVote("budget", rule["label"], vote, why.get(vote, f"{answers.budget_style}: no preference"))


_FACTOR_FUNCTIONS = {
    "volume": _volume,
    "latency": _latency,
    "customization": _customization,
    "privacy": _privacy,
    "team": _team,
    "budget": _budget,
}


def factor_votes(answers: Answers) -> list[FactorVote]:
    rules = table("hosting")["factors"]
    return [_FACTOR_FUNCTIONS[name](answers, rules[name]) for name in rules]


def api_available(use_case: str) -> bool:
    return catalog_entry(use_case).get("api") is not None


def recommended_hosting(answers: Answers) -> str:
    """The factors' verdict: a positive sum means self-hosted; ties go to the API."""
    if not api_available(answers.use_case) or answers.serving_pattern == "edge":
        return "self_hosted"
    return "self_hosted" if sum(v.vote for v in factor_votes(answers)) > 0 else "api"


def decide_hosting(answers: Answers) -> Decision:
    votes = factor_votes(answers)
    score = sum(v.vote for v in votes)
    recommended = recommended_hosting(answers)
    chosen = answers.hosting or recommended
    if not api_available(answers.use_case):
        reason = "because no hosted API serves this use case; the model runs in your cluster"
    elif answers.serving_pattern == "edge" and chosen == recommended:
        reason = "because the edge pattern runs the model on the device"
    elif chosen == recommended:
        leaning = [v.factor for v in votes if v.vote == (1 if chosen == "self_hosted" else -1)]
        reason = f"because the factors score {score:+d} ({', '.join(leaning)} lean {chosen.replace('_', '-')})"
    else:
        reason = f"because you chose it, against the factors' {recommended.replace('_', '-')} (score {score:+d})"
    return Decision(
        key="hosting",
        title="API or self-hosted",
        choice=chosen,
        reason=reason,
        alternatives=tuple(h for h in ("api", "self_hosted") if h != chosen),
        numbers={
            "score": score,
            "recommended": recommended,
            "overridden": chosen != recommended,
            "factors": [v.to_dict() for v in votes],
        },
    )
