"""Vision accuracy bench: the project's local training recipe over several generated days, against
another recipe, with the task's baseline and the quality gate's minimum beside them.

    uv run python ci/benches/vision_accuracy.py --project build/stack/image_gcp_batch \
        [--days 2026-12-03 2026-11-20] [--against rows=288 learning_rate=0.003]

Per day and recipe: the project's synthetic generator writes the day's images (no broken ones: the
ETL would quarantine them), build_image_set splits them by vision.seed and vision.test_fraction as
the pipeline does, the model trains from scratch (vision.train.fit, the pipeline's loop) and the
task's metric scores its in-process predictions on the held-out images. A recipe is `rows=<images
per day>` plus any vision setting (`learning_rate=0.001 epochs=20`). The last lines give each
recipe's min and mean and the ratio of the means. The defaults are in benches.yaml.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from dataclasses import fields, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.append(str(Path(__file__).resolve().parent))

import inproject

ROWS = "rows"


def recipe(pairs: list[str], settings: Any, rows: int) -> tuple[dict[str, Any], int]:
    """`name=value` pairs -> (vision setting overrides typed like the settings' own values, images per day)."""
    known = {field.name for field in fields(settings)}
    overrides: dict[str, Any] = {}
    for pair in pairs:
        name, _, value = pair.partition("=")
        if name == ROWS:
            rows = int(value)
        elif name in known:
            current = getattr(settings, name)
            overrides[name] = type(current)(value) if isinstance(current, (int, float, str)) else value
        else:
            raise inproject.BenchError(f"{name!r} is neither {ROWS} nor a vision setting ({', '.join(sorted(known))})")
    return overrides, rows


def score_day(project: Path, settings: Any, rows: int, day: str, folder: Path) -> dict[str, float]:
    """Generate the day, split it, train, and score the model and the task's baseline on the test part."""
    synthetic = inproject.module(project, "vision.synthetic")
    steps = inproject.module(project, "vision.steps")
    train = inproject.module(project, "vision.train")
    manifests = inproject.module(project, "vision.manifests")
    task = inproject.module(project, "vision.task").task_module(settings)
    start = datetime.fromisoformat(day).replace(tzinfo=UTC)
    images = folder / "images"
    synthetic.generate_interval(
        images / day, start, start + timedelta(days=1), count=rows, classes=settings.classes, task=settings.task
    )
    local = replace(settings, images=str(images))
    split = steps.build_image_set(folder / "image_set", settings=local)
    samples = {sample[0]: sample for sample in manifests.iter_samples(split["intervals"], settings.classes)}
    train_part = train.load_samples([samples[i] for i in split["train"]], settings)
    test_part = train.load_samples([samples[i] for i in split["test"]], settings)
    started = time.perf_counter()
    result = train.fit(train_part, settings, progress=None)
    seconds = time.perf_counter() - started
    truths = [task.truth(sample.annotation, sample.orig_hw) for sample in test_part]
    score = task.score(train.predict(result.model, settings, test_part), truths)
    baseline_model = task.Baseline.fit(
        [task.truth(sample.annotation, sample.orig_hw) for sample in train_part],
        [sample.orig_hw for sample in train_part],
        settings.num_classes,
    )
    baseline = task.score([baseline_model.predict(sample.orig_hw) for sample in test_part], truths)
    return {"score": score, "baseline": baseline, "seconds": seconds, "train": len(train_part), "test": len(test_part)}


def run(args: argparse.Namespace) -> int:
    project: Path = args.project
    defaults = inproject.defaults("vision_accuracy")
    days = args.days or [str(day) for day in defaults["days"]]
    against = args.against if args.against is not None else [f"{k}={v}" for k, v in defaults["against"].items()]
    vision_settings = inproject.module(project, "vision.settings")
    settings = vision_settings.VisionSettings.from_platform(profile_="local")
    rows = int(inproject.module(project, "data.settings").load_settings().sample_rows)
    task = inproject.module(project, "vision.task").task_module(settings)
    overrides, other_rows = recipe(against, settings, rows)
    recipes = {"project": (settings, rows), "against": (settings.with_overrides(**overrides), other_rows)}
    print(f"project recipe: {rows} images/day, {settings.epochs} epochs, learning rate {settings.learning_rate}")
    print(f"against: {' '.join(against) or '(the same)'}; metric {task.METRIC}, gate minimum {task.MIN_METRIC}")
    table: list[list[Any]] = []
    found: dict[str, list[float]] = {name: [] for name in recipes}
    for day in days:
        for name, (chosen, count) in recipes.items():
            with tempfile.TemporaryDirectory(prefix="vision-accuracy-") as tmp:
                scored = score_day(project, chosen, count, day, Path(tmp))
            found[name].append(scored["score"])
            table.append(
                [day, name, scored["train"], scored["test"], scored["score"], scored["baseline"], scored["seconds"]]
            )
            print(f"  {day} {name}: {task.METRIC} {scored['score']:.3f} in {scored['seconds']:.0f} s", flush=True)
    print()
    headers = ["day", "recipe", "train", "test", task.METRIC, "baseline", "train s"]
    print(inproject.table(table, headers, ["", "", "", "", ".3f", ".3f", ".0f"]))
    summary = [[name, min(values), statistics.fmean(values)] for name, values in found.items()]
    print(inproject.table(summary, ["recipe", "min", "mean"], ".3f"))
    ratio = statistics.fmean(found["project"]) / max(statistics.fmean(found["against"]), 1e-9)
    print(f"project / against (mean {task.METRIC}): {ratio:.2f}x")
    return 0


def arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--days", nargs="*", default=None, help="generated days (YYYY-MM-DD)")
    parser.add_argument("--against", nargs="*", default=None, help="the other recipe: rows=N and vision settings")


if __name__ == "__main__":
    sys.exit(inproject.main_guard(run, __doc__, arguments))
