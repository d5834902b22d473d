"""Tier 3: the PyTorch vision model in each task's project, run by the project's own tests.

Five representative answer sets (ci/matrix.yaml) render the five vision tasks, each with its
default option, whose catalog entry names a torchvision framework and a task:

- `detection_aws_realtime`: object detection, real-time (and the stream pipeline), its image ETL,
  drift and training DAGs also under a real Airflow scheduler;
- `image_gcp_batch`: image classification behind the batch worker;
- `segmentation_edge_gcp`: segmentation, also shipped as the quantized edge bundle;
- `ocr_gcp_realtime`: OCR, a CRNN reading text lines (CTC), and the data stack tests (the ETL into
  Feast, locally and with the cloud wiring) in a vision project;
- `face_azure_realtime`: face recognition, ArcFace embeddings matched to enrolled identities.

Each project holds src/<package>/vision/ with its own task module only, and its tests
(tests/vision: images, validation, the model contract, export, precision, the task module;
tests/stack: training through MLflow, the Triton ensemble on a real server, and the serving
pattern's own stack test). This module checks that layout and runs those tests in the project's
own environment. A tabular project holds none of it (tests/test_render_vision.py checks that).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import project_decisions, run_bench, run_project_tests, top_level_tests

pytestmark = pytest.mark.project

TASKS = ("detection", "classification", "segmentation", "ocr", "face")
# set -> (task, the unit test files it must hold, the stack tests it runs)
SETS: dict[str, tuple[str, set[str], list[str]]] = {
    "detection_aws_realtime": (
        "detection",
        {"test_images.py", "test_model.py", "test_precision.py", "test_stream.py", "test_detection.py"},
        # the image ETL, drift and training DAGs under a real Airflow scheduler (tabular's in test_project_data)
        ["test_vision_training.py", "test_vision_serving.py", "test_vision_monitoring.py", "test_airflow_scheduler.py"],
    ),
    "image_gcp_batch": (
        "classification",
        {"test_images.py", "test_model.py", "test_precision.py", "test_classification.py"},
        ["test_vision_training.py", "test_vision_serving.py", "test_batch_stack.py"],
    ),
    "segmentation_edge_gcp": (
        "segmentation",
        {"test_images.py", "test_model.py", "test_precision.py", "test_segmentation.py"},
        ["test_vision_training.py", "test_vision_serving.py", "test_vision_edge.py"],
    ),
    "ocr_gcp_realtime": (
        "ocr",
        {"test_images.py", "test_model.py", "test_precision.py", "test_ocr.py"},
        # the data stack (ETL into Feast, local and cloud wiring) in a vision project too, and the cloud
        # ETL from stored images through the DAG
        [
            "test_vision_training.py",
            "test_vision_serving.py",
            "test_vision_monitoring.py",
            "test_data_stack.py",
            "test_vision_data_stack.py",
        ],
    ),
    "face_azure_realtime": (
        "face",
        {"test_images.py", "test_model.py", "test_precision.py", "test_face.py"},
        ["test_vision_training.py", "test_vision_serving.py", "test_vision_monitoring.py"],
    ),
}


@pytest.mark.parametrize("name", sorted(SETS))
def test_the_project_holds_and_runs_its_vision_task(stack_project: Callable[[str], Path], name: str) -> None:
    task, unit_tests, stack_tests = SETS[name]
    project = stack_project(name)
    (package,) = project.glob("src/*/vision")
    modules = {path.name for path in package.glob("*.py")}
    assert {"settings.py", "task.py", "inference.py", f"{task}.py"} <= modules
    assert not {f"{other}.py" for other in TASKS if other != task} & modules, "another task's module"
    assert not list(project.glob("src/*/training/families/vision.py")), "no scikit-learn stand-in for the family"
    assert not list(project.glob("src/*/tasks")), "no task layer"
    assert "torchvision" in (project / "pyproject.toml").read_text(encoding="utf-8")
    units = {path.name for path in (project / "tests" / "vision").glob("test_*.py")}
    assert units >= unit_tests, f"missing {unit_tests - units}"
    assert not {f"test_{other}.py" for other in TASKS if other != task} & units, "another task's tests"
    missing = [file for file in stack_tests if not (project / "tests" / "stack" / file).is_file()]
    assert not missing, f"missing stack tests {missing}"
    files = [*(f"tests/vision/{file}" for file in sorted(units)), *(f"tests/stack/{file}" for file in stack_tests)]
    if project_decisions(project)["serving_pattern"]["choice"] == "edge":  # make smoke's edge stage, its unit tests
        files.append("tests/test_smoke_edge.py")
    files = list(dict.fromkeys([*top_level_tests(project), *files]))  # its top-level unit tests too
    command = ["uv", "run", "--frozen", "pytest", "-q", "-p", "no:cacheprovider", *files]
    run_project_tests(project, command, f"vision {task} (data, model, precision, training, serving)", timeout=2400)


@pytest.mark.xdist_group("image_gcp_batch")
def test_the_accuracy_bench_shows_the_local_classifier_clearing_its_gate(
    stack_project: Callable[[str], Path],
) -> None:
    """ci/benches/vision_accuracy.py on one generated day: the project's recipe (576 images, 30 epochs)
    beats the task's baseline and reaches the gate's minimum; a 1-epoch recipe stands in for the
    comparison so the test stays short (the bench's default comparison trains a second full model)."""
    project = stack_project("image_gcp_batch")
    stdout = run_bench("vision_accuracy", project, "--days", "2026-12-03", "--against", "epochs=1")
    minimum = float(re.search(r"gate minimum ([\d.]+)", stdout).group(1))  # type: ignore[union-attr]
    row = re.search(r"^2026-12-03\s+project\s+(\d+)\s+(\d+)\s+([\d.]+)\s+([\d.]+)", stdout, re.MULTILINE)
    assert row, stdout
    train, test, accuracy, baseline = int(row[1]), int(row[2]), float(row[3]), float(row[4])
    assert train + test > 500, "the day holds the classification recipe's 576 images"
    assert accuracy > baseline and accuracy >= minimum, f"accuracy {accuracy} (baseline {baseline}, gate {minimum})"
    assert re.search(r"project / against \(mean accuracy\): [\d.]+x", stdout)


@pytest.mark.xdist_group("image_gcp_batch")
def test_the_serving_bench_compares_the_ensemble_with_onnxruntime_in_process(
    stack_project: Callable[[str], Path],
) -> None:
    """ci/benches/vision_serving.py on the task's network with fresh weights (nothing to train: the
    serving cost is the graph's): the Triton ensemble at two concurrencies and onnxruntime in process on
    the same images. `mlflow models serve` serves a registered champion, which this tier does not
    train: the bench says why its rows are missing."""
    project = stack_project("image_gcp_batch")
    arguments = ("--untrained", "--images", "8", "--requests", "16", "--concurrency", "1", "4")
    stdout = run_bench("vision_serving", project, *arguments)
    rows = {
        (match[1], match[2]): float(match[3])
        for match in re.finditer(r"^(triton ensemble|onnxruntime in process)\s+(\S+)\s+([\d.]+)", stdout, re.M)
    }
    assert set(rows) == {("triton ensemble", "c=1"), ("triton ensemble", "c=4"), ("onnxruntime in process", "b=32")}
    assert all(images_per_s > 0 for images_per_s in rows.values()), rows
    assert "mlflow models serve: skipped (--untrained" in stdout
    assert not (project / "mlflow.db").exists(), "the bench left MLflow's default database in the project"
