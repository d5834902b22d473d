"""FP32 / FP16 / INT8 side by side: mAP@0.5 on held-out images, latency p50/p95 at batch 1 and 32
(onnxruntime on this machine's CPU), file size, ratios to FP32 and what the precision gate serves.
One run, one table; trains nothing.

    uv run python benchmarks/precision.py [--onnx path/to/model.onnx] [--images DIR] [--out DIR] [--runs N]

--onnx: an FP32 export with the model contract; default: the FP32 export the champion's training run
logged to MLflow (serving.model_uri, models:/<name>@champion).
--images: an interval folder (<images>/<interval>/ with annotations.json) or the images root
(vision.images, default); without images there, a clean synthetic interval is generated in --out.
The images are split with vision.seed: vision.test_fraction of them are evaluated, INT8 is calibrated
on up to vision.calibration_images of the others.
"""

from __future__ import annotations

import argparse
import importlib
import random
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = yaml.safe_load((ROOT / "platform.yaml").read_text(encoding="utf-8"))["project"]["package"]
settings_module: Any = importlib.import_module(f"{PACKAGE}.vision.settings")
manifests_module: Any = importlib.import_module(f"{PACKAGE}.vision.manifests")
synthetic_module: Any = importlib.import_module(f"{PACKAGE}.vision.synthetic")
task_module: Any = importlib.import_module(f"{PACKAGE}.vision.task")
precision_module: Any = importlib.import_module(f"{PACKAGE}.vision.precision")


def interval_dirs(location: Path) -> list[Path]:
    """`location` itself when it is an interval (it holds a manifest), else the intervals under it."""
    manifest = manifests_module.manifest_path(location)
    return [location] if manifest.is_file() else list(manifests_module.interval_dirs(location))


def load_samples(folders: list[Path], settings: Any) -> list[tuple[bytes, Any]]:
    """(encoded image, ground truth in the task's prediction shape) per image."""
    from PIL import Image

    task = task_module.task_module(settings)
    samples = []
    for _, path, annotation in manifests_module.iter_samples(folders, settings.classes):
        with Image.open(path) as image:
            size = (image.height, image.width)
        samples.append((path.read_bytes(), task.truth(annotation, size)))
    return samples


def champion_fp32_onnx(scratch: Path) -> Path:
    """The FP32 model step logged by the champion's training run (the served file may be FP16/INT8)."""
    import mlflow
    from mlflow import MlflowClient

    config: Any = importlib.import_module(f"{PACKAGE}.config")
    serving: Any = importlib.import_module(f"{PACKAGE}.serving.settings").ServingSettings.from_platform()
    uri = config.mlflow_tracking_uri()
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    name, _, alias = serving.model_uri.removeprefix("models:/").partition("@")
    if not alias:
        raise SystemExit(f"serving.model_uri {serving.model_uri!r} names no alias; pass --onnx PATH")
    try:
        steps: Any = importlib.import_module(f"{PACKAGE}.vision.steps")  # FP32_ARTIFACT: where training logs it
        version = MlflowClient().get_model_version_by_alias(name, alias)
        local = mlflow.artifacts.download_artifacts(
            run_id=version.run_id, artifact_path=steps.FP32_ARTIFACT, dst_path=str(scratch)
        )
    except Exception as error:  # no registry, no champion, no artifact: all mean the same to the user
        message = f"no champion FP32 export in MLflow at {uri} ({error}); run `make train` or pass --onnx PATH"
        raise SystemExit(message) from error
    return Path(local)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--onnx", type=Path, help="the FP32 model step (default: the champion's, from MLflow)")
    parser.add_argument("--images", type=Path, help="an interval folder or the images root (default vision.images)")
    parser.add_argument("--out", type=Path, default=ROOT / ".local" / "precision", help="FP16/INT8 files, report")
    parser.add_argument("--runs", type=int, default=30, help="timed runs per batch size")
    parser.add_argument("--count", type=int, default=0, help="synthetic images when none exist (default vision)")
    args = parser.parse_args(argv)

    settings = settings_module.VisionSettings.from_platform()
    folders = interval_dirs(args.images or settings.images_dir)
    source = ", ".join(str(folder) for folder in folders)
    if not folders:  # nothing generated yet: a clean synthetic interval of the configured kind
        interval = args.out / "images" / "benchmark"
        start = datetime(2026, 1, 1, tzinfo=UTC)
        synthetic_module.generate_interval(
            interval,
            start,
            start + timedelta(days=1),
            count=args.count or settings.sample_images,
            classes=settings.classes,
            task=settings.task,
            seed=settings.seed,
            min_side=settings.min_side,
        )
        folders, source = [interval], f"{interval} (generated: no images under {settings.images_dir})"
    samples = load_samples(folders, settings)
    random.Random(settings.seed).shuffle(samples)
    held_out = max(1, round(len(samples) * settings.test_fraction))
    evaluation, rest = samples[:held_out], samples[held_out:]
    if not rest:
        print(f"need at least 2 images for an evaluation and a calibration set; found {len(samples)} in {source}")
        return 2

    onnx = args.onnx or champion_fp32_onnx(args.out / "champion")
    began = time.perf_counter()
    report = precision_module.evaluate_precisions(
        onnx,
        settings,
        [image for image, _ in evaluation],
        [truth for _, truth in evaluation],
        [image for image, _ in rest],
        args.out,
        latency_runs=args.runs,
    )
    seconds = time.perf_counter() - began
    model = f"{settings.architecture}, {settings.image_size} px, {settings.num_classes} classes"
    print(f"# Precision: {onnx} ({model})")
    print(f"images: {source}; {len(evaluation)} evaluated, {report.calibration_images} for INT8 calibration\n")
    print(report.to_markdown())
    print(f"convert + quantize + evaluate + time: {seconds:.1f} s; files and precision.json in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
