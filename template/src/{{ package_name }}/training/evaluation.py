"""Held-out metrics of the trained model and of the trivial baseline, and the quality gate."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import numpy.typing as npt

from ..tasks.heads import TaskEvaluation
from .settings import FamilyContract, QualityGate

FloatArray = npt.NDArray[np.float32]


def baseline_scores(contract: FamilyContract, y_train: npt.NDArray[Any], rows: int) -> FloatArray:
    """The trivial model: the training class shares (majority class wins) or the training mean."""
    if contract.is_classifier:
        counts = np.bincount(y_train.astype(np.int64), minlength=contract.n_outputs).astype(np.float64)
        shares = counts / counts.sum()
        return np.tile(shares.astype(np.float32), (rows, 1))
    return np.full((rows, 1), float(np.mean(y_train)), dtype=np.float32)


def score(contract: FamilyContract, y_true: npt.NDArray[Any], scores: FloatArray) -> dict[str, float]:
    """Every metric of the task, computed from served-style `scores`."""
    # Imported here: the register and promote steps use this module without scikit-learn (~2 s).
    from sklearn import metrics as skm  # type: ignore[import-untyped]

    if not contract.is_classifier:
        predicted = scores[:, 0].astype(np.float64)
        truth = y_true.astype(np.float64)
        return {
            "rmse": float(np.sqrt(skm.mean_squared_error(truth, predicted))),
            "mae": float(skm.mean_absolute_error(truth, predicted)),
            "r2": float(skm.r2_score(truth, predicted)),
        }
    labels = list(range(contract.n_outputs))
    proba = np.clip(scores.astype(np.float64), 1e-7, 1.0)
    proba = proba / proba.sum(axis=1, keepdims=True)
    predicted = np.argmax(proba, axis=1)
    result = {
        "accuracy": float(skm.accuracy_score(y_true, predicted)),
        "f1_macro": float(skm.f1_score(y_true, predicted, labels=labels, average="macro", zero_division=0)),
        "log_loss": float(skm.log_loss(y_true, proba, labels=labels)),
    }
    present = np.unique(y_true)
    if contract.task == "binary" and len(present) == 2:
        result["roc_auc"] = float(skm.roc_auc_score(y_true, proba[:, 1]))
    elif len(present) == contract.n_outputs:
        result["roc_auc"] = float(skm.roc_auc_score(y_true, proba, multi_class="ovr", labels=labels))
    return result


def report(
    contract: FamilyContract,
    gate: QualityGate,
    model_metrics: dict[str, float],
    baseline_metrics: dict[str, float],
    snapshot: dict[str, Any],
    *,
    task: TaskEvaluation | None = None,
) -> dict[str, Any]:
    """The evaluation report logged with the run (evaluation/report.json and .md).

    With a task head (decisions.task), the gate also asks the head to beat its own baseline on
    production-shaped requests: a core model that passes but a head that finds nothing fails.
    """
    metric = contract.primary_metric
    if metric not in model_metrics:
        passed, lines = False, [f"FAIL: {metric} could not be computed on the held-out set (a class is missing)"]
    else:
        passed, lines = gate.check(model_metrics[metric], baseline_metrics.get(metric, float("nan")))
    task_section: dict[str, Any] | None = None
    if task is not None:
        score, base = task.metrics[task.primary], task.baseline[task.primary]
        ok = task.beats_baseline
        passed = passed and ok
        lines.append(
            f"{'pass' if ok else 'FAIL'}: task head {task.primary} {score:.4f} beats its baseline {base:.4f} "
            f"on {task.examples} production-shaped requests"
        )
        task_section = {
            "primary": task.primary,
            "metrics": task.metrics,
            "baseline_metrics": task.baseline,
            "examples": task.examples,
            "beats_baseline": ok,
            "notes": task.notes,
        }
    return {
        "family": contract.family,
        "task": contract.task,
        "primary_metric": metric,
        "higher_is_better": contract.higher_is_better,
        "score": model_metrics.get(metric),
        "baseline_score": baseline_metrics.get(metric),
        "baseline": contract.baseline,
        "metrics": model_metrics,
        "baseline_metrics": baseline_metrics,
        "quality_gate": {**gate.to_dict(), "passed": passed, "checks": lines},
        "held_out_rows": snapshot.get("test_rows"),
        "split": snapshot.get("split"),
        "task_head": task_section,
    }


def task_metrics(task: TaskEvaluation) -> dict[str, float]:
    """The head's metrics as MLflow metrics: task.<name> and task.baseline_<name>."""
    named = {f"task.{name}": value for name, value in task.metrics.items()}
    named.update({f"task.baseline_{name}": value for name, value in task.baseline.items()})
    return {name: float(value) for name, value in named.items() if math.isfinite(float(value))}


def report_markdown(data: dict[str, Any]) -> str:
    rows = "\n".join(
        f"| {name} | {value:.4f} | {data['baseline_metrics'].get(name, float('nan')):.4f} |"
        for name, value in sorted(data["metrics"].items())
    )
    checks = "\n".join(f"- {line}" for line in data["quality_gate"]["checks"])
    task = data.get("task_head")
    task_part = ""
    if task:
        task_rows = "\n".join(
            f"| {name} | {value:.4f} | {task['baseline_metrics'].get(name, float('nan')):.4f} |"
            for name, value in sorted(task["metrics"].items())
        )
        task_part = (
            f"\n## Task head ({task['examples']} production-shaped requests)\n\n"
            f"| metric | head | baseline |\n|---|---|---|\n{task_rows}\n"
        )
    verdict = "passed" if data["quality_gate"]["passed"] else "FAILED"
    return (
        f"# Evaluation: {data['family']} ({data['task']})\n\n"
        f"Held-out rows: {data['held_out_rows']} (split: {data['split']}). "
        f"Baseline: {data['baseline']}.\n\n"
        f"| metric | model | baseline |\n|---|---|---|\n{rows}\n\n"
        f"## Quality gate on {data['primary_metric']}: {verdict}\n\n{checks}\n{task_part}"
    )
