"""The decision engine's entry point: answers in, every decision with its reason out."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .answers import Answers
from .cost import decide_cost
from .generation import with_llm
from .hosting import decide_hosting
from .model_choice import recommend_model, with_framework
from .monitoring import decide_monitoring
from .naming import decide_names
from .records import Decision, GpuSizing, Warning_
from .review import attach_fixes, review
from .serving import decide_batching, decide_pattern, decide_precision, with_edge_device
from .sizing import decide_gpu, node_pool_for
from .tables import table
from .tasks import decide_task

ENGINE_VERSION = "1"


@dataclass(frozen=True)
class Decisions:
    answers: Answers
    model: Decision
    hosting: Decision
    serving_pattern: Decision
    precision: Decision
    gpu: Decision
    batching: Decision
    monitoring: Decision
    cost: Decision
    warnings: tuple[Warning_, ...]
    names: dict[str, Any] = field(default_factory=dict)  # every cloud resource name (naming.py)
    # The use case's production contract and the head modules it needs (tasks.py), None for a
    # use case that serves the family's flat contract only.
    task: dict[str, Any] | None = None

    def records(self) -> list[Decision]:
        return [
            self.model,
            self.hosting,
            self.serving_pattern,
            self.precision,
            self.gpu,
            self.batching,
            self.monitoring,
            self.cost,
        ]

    def to_dict(self) -> dict[str, Any]:
        """Plain data for templates and platform.yaml: each decision's choice, reason and numbers."""
        out: dict[str, Any] = {}
        for record in self.records():
            out[record.key] = {
                "choice": record.choice,
                "reason": record.reason,
                "alternatives": list(record.alternatives),
                **record.numbers,
            }
        out["warnings"] = [w.to_dict() for w in self.warnings]
        out["cloud"] = dict(table("clouds")[self.answers.cloud])
        out["project"] = {"description": self.answers.described}
        out["names"] = self.names
        out["task"] = self.task
        return out


def decide(answers: Answers, *, with_fixes: bool = True) -> Decisions:
    """Pure: the same answers always give the same decisions. `with_fixes` also finds, for each
    warning, the answer changes that fix it (by deciding again with them)."""
    hosting = decide_hosting(answers)
    model = recommend_model(answers, hosting.choice)
    pattern = decide_pattern(answers)
    precision = decide_precision(answers, pattern.choice)
    pattern = with_edge_device(pattern, answers, precision.choice)
    model = with_framework(model, answers)
    gpu = decide_gpu(answers, precision.choice, hosting.choice, pattern.choice)
    pools = {
        env: node_pool_for(answers, precision.choice, env, hosting.choice, pattern.choice)
        for env in answers.environments
    }
    main_pool: GpuSizing = pools.get("prod") or next(iter(pools.values()))
    model = with_llm(model, answers, precision.choice, main_pool, hosting.choice)
    batching = decide_batching(answers, pattern.choice, main_pool)
    monitoring = decide_monitoring(answers, main_pool)
    cost = decide_cost(answers, hosting.choice, pools, node_pool_for(answers, precision.choice, "prod"), pattern.choice)
    warnings = review(
        answers,
        hosting=hosting.choice,
        recommended_hosting=hosting.numbers["recommended"],
        pattern=pattern.choice,
        precision=precision.choice,
        pool=main_pool,
        cost=cost.numbers,
    )
    if with_fixes and warnings:
        warnings = attach_fixes(answers, warnings, _warning_codes)
    return Decisions(
        answers=answers,
        model=model,
        hosting=hosting,
        serving_pattern=pattern,
        precision=precision,
        gpu=gpu,
        batching=batching,
        monitoring=monitoring,
        cost=cost,
        warnings=tuple(warnings),
        names=decide_names(answers, model.choice),
        # a framework model (vision) or a language model (generation) serves the production contract
        # itself: no smoke head around a core
        task=None if model.numbers["framework"] or model.numbers["llm"] else decide_task(answers),
    )


def _warning_codes(answers: Answers) -> set[str]:
    return {w.code for w in decide(answers, with_fixes=False).warnings}


def decide_from_mapping(data: dict[str, Any]) -> Decisions:
    return decide(Answers.from_mapping(data))
