"""Result types: every decision carries its value, a one-line reason and its numbers."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class Decision:
    """One decision: what was chosen, because of what, instead of what."""

    key: str
    title: str
    choice: str
    reason: str
    alternatives: tuple[str, ...] = ()
    numbers: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["alternatives"] = list(self.alternatives)
        return data


@dataclass(frozen=True)
class Warning_:
    """A design-review finding: which answers clash, and what to change."""

    code: str
    message: str
    answers: tuple[str, ...]
    fix: str
    # The answer changes that fix it: re-deciding with them removes this warning and adds none
    # (`review.attach_fixes` picks them; `copier update --data k=v` applies them).
    fix_answers: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "message": self.message,
            "answers": list(self.answers),
            "fix": self.fix,
            "fix_answers": dict(self.fix_answers),
        }


@dataclass(frozen=True)
class FactorVote:
    """One API-vs-self-hosted factor: -1 votes API, +1 self-hosted, 0 neutral."""

    factor: str
    label: str
    vote: int
    explanation: str

    @property
    def leaning(self) -> str:
        return {-1: "api", 0: "neutral", 1: "self_hosted"}[self.vote]

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "leaning": self.leaning}


@dataclass(frozen=True)
class GpuSizing:
    """The GPU node pool for one environment."""

    tier: str
    gpu_label: str
    instance_type: str
    accelerator: str
    gpus_per_node: int
    gpu_memory_gb: float
    gpus_per_replica: int
    replicas: int  # = max_replicas (the Deployment's and HPA's ceiling)
    min_replicas: int
    max_replicas: int
    replicas_needed: int  # what the peak asks for; more than max_replicas when the node cap binds
    replicas_per_node: int
    min_nodes: int
    max_nodes: int
    hourly_per_node: float
    capacity_rps_per_replica: float
    model_memory_gb: float
    fits: bool

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
