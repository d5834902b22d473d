"""Tier 2: the PyTorch vision model is rendered into the projects that chose it, and only there.

Image classification, object detection, segmentation, OCR and face recognition name a torchvision
framework with a task (catalog.yaml): their projects hold src/<package>/vision/ with their own task
module only (classification.py, detection.py, segmentation.py, ocr.py or face.py), the `vision`
dependency group (torch,
torchvision ...), platform.yaml's `vision:` section (read here by the rendered package's own
VisionSettings, for both profiles), image statistics as the feature contract with the task's
prediction statistics, docs/vision.md, and no scikit-learn stand-in or task head. The
stream pipeline (tracking needs boxes) is detection's only. A tabular project holds none of it.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import render_project

pytestmark = pytest.mark.render
TORCH_PACKAGES = ("torch", "torchvision", "supervision", "onnxconverter-common", '"av')


@pytest.fixture(scope="module")
def projects(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("vision")
    return {
        "detection": render_project(root / "detection", use_case="object_detection", cloud="aws"),
        "tabular": render_project(root / "tabular", use_case="tabular"),
        "classification": render_project(
            root / "classification",
            use_case="image_classification",
            cloud="gcp",
            serving_pattern="batch",
            latency_p95_ms=2000,
        ),
        "segmentation": render_project(
            root / "segmentation", use_case="segmentation", cloud="azure", serving_pattern="edge", hosting="self_hosted"
        ),
        "ocr": render_project(root / "ocr", use_case="ocr", cloud="gcp", ci_provider="gitlab"),
        "face": render_project(
            root / "face", use_case="face_recognition", cloud="azure", serving_pattern="batch", latency_p95_ms=2000
        ),
    }


TASKS = {name: name for name in ("detection", "classification", "segmentation", "ocr", "face")}
SHAPES = ["circle", "square", "triangle", "cross"]
# Per task: its prediction statistics and the classes of its generated data (the share_<class> columns).
PREDICTION_STATS = {
    "detection": (["detections", "score_mean", "score_max"], SHAPES),
    "classification": (["score_max", "score_margin"], SHAPES),
    "segmentation": (["foreground_share", "score_mean"], SHAPES),
    "ocr": (["characters", "score_mean", "score_min"], [str(digit) for digit in range(10)]),
    "face": (["score_max", "unknown"], ["ada", "ben", "cleo", "dev", "eli", "fay", "gus", "hana"]),
}
# The task-specific dependency of the vision group (beyond torch, torchvision, torchmetrics, onnx ...).
TASK_PACKAGES = {"detection": "trackers", "segmentation": "faster-coco-eval", "ocr": "faster-coco-eval",
                 "face": "pytorch-metric-learning"}  # fmt: skip
STREAM_FILES = ("stream.py", "sinks.py", "video.py")


def _platform(project: Path) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((project / "platform.yaml").read_text(encoding="utf-8"))
    return loaded


@pytest.fixture
def rendered_package(projects: dict[str, Path]) -> Iterator[tuple[Any, Any]]:
    """The detection project's own config and vision.settings modules, imported from its src/."""
    project = projects["detection"]
    (package,) = (path.name for path in (project / "src").iterdir() if path.is_dir())
    sys.path.insert(0, str(project / "src"))
    try:
        config = importlib.import_module(f"{package}.config")
        settings = importlib.import_module(f"{package}.vision.settings")
        yield config, settings
    finally:
        sys.path.remove(str(project / "src"))
        for name in [name for name in sys.modules if name == package or name.startswith(f"{package}.")]:
            del sys.modules[name]


def test_the_detection_project_holds_the_vision_package_and_its_dependencies(projects: dict[str, Path]) -> None:
    project = projects["detection"]
    (vision,) = project.glob("src/*/vision")
    assert {"settings.py", "inference.py", "images.py", "validation.py", "triton.py", "client.py"} <= {
        path.name for path in vision.glob("*.py")
    }
    training = {path.name for path in project.glob("src/*/training/*")}
    # the feature-row families' pipeline code stays out: vision/steps.py is this project's steps module
    assert not training & {"families", "steps.py", "dataset.py", "models.py", "source.py", "evaluation.py"}
    assert {"components.py", "promotion.py", "registry.py", "run.py", "settings.py"} <= training
    # nor the feature-row serving path: vision/client.py talks to the ensemble over serving/transport.py
    serving = {path.relative_to(project / "src").as_posix().split("/", 1)[1] for path in project.glob("src/*/*/*.py")}
    feature_rows = {
        "serving/client.py",
        "serving/inputs.py",
        "serving/repository.py",
        "smoke/rows.py",
        "training/scoring.py",
    }
    assert not serving & feature_rows, serving & feature_rows
    assert {"serving/transport.py", "serving/artifacts.py"} <= serving
    assert not (project / "tests" / "stack" / "serving_demo.py").exists(), "the feature-row demo champion stays out"
    assert not list(project.glob("src/*/tasks")), "no task layer"
    pyproject = (project / "pyproject.toml").read_text(encoding="utf-8")
    assert "vision = [" in pyproject
    for package in TORCH_PACKAGES:
        assert package in pyproject, package
    assert (project / "docs" / "vision.md").is_file()


def test_an_edge_vision_project_holds_only_the_vision_bundle_code(projects: dict[str, Path]) -> None:
    """serving/edge.py (staging, measuring, publishing, syncing) is shared; the feature-row exporter and
    runner (serving/edge_rows.py), its inputs and the load test's request stay out of a project whose
    bundle holds images."""
    (package,) = projects["segmentation"].glob("src/*")
    assert (package / "serving" / "edge.py").is_file() and (package / "vision" / "edge.py").is_file()
    assert not (package / "serving" / "edge_rows.py").exists()
    assert not (package / "serving" / "inputs.py").exists()
    # nor the load test, which edge projects do not run (their device bundle is measured instead)
    assert not (package / "vision" / "load_request.py").exists() and not (package / "serving" / "load_test.py").exists()
    (detection,) = projects["detection"].glob("src/*")
    assert (detection / "vision" / "load_request.py").is_file() and (detection / "serving" / "load_test.py").is_file()
    assert (projects["segmentation"] / "tests" / "stack" / "test_vision_edge.py").is_file()
    assert not (projects["segmentation"] / "tests" / "stack" / "test_edge_stack.py").exists()
    smoke_tests = (projects["segmentation"] / "tests" / "test_smoke_edge.py").read_text(encoding="utf-8")
    assert "images_verdict" in smoke_tests and "rows_verdict" not in smoke_tests


def test_platform_yaml_vision_section_reads_for_both_profiles(
    projects: dict[str, Path], rendered_package: tuple[Any, Any]
) -> None:
    config, settings_module = rendered_package
    current = config.load(projects["detection"] / "platform.yaml")
    decisions = _platform(projects["detection"])["decisions"]
    local = settings_module.VisionSettings.from_platform(current, profile_="local")
    cloud = settings_module.VisionSettings.from_platform(current, profile_="cloud")
    framework = decisions["model"]["framework"]
    assert local.architecture == framework["local_architecture"] and local.weights is None
    assert cloud.architecture == framework["architecture"] and cloud.weights == framework["weights"]
    assert local.tolerance == framework["precision_tolerance"]
    assert local.precision == decisions["precision"]["choice"]
    assert local.images_dir == projects["detection"] / "data" / "images"
    assert cloud.images.startswith("s3://")
    assert local.licence == decisions["model"]["licence"] == "BSD-3-Clause"


def test_the_feature_contract_is_image_statistics(projects: dict[str, Path]) -> None:
    (contract,) = projects["detection"].glob("src/*/contract.yaml")
    features = yaml.safe_load(contract.read_text(encoding="utf-8"))["features"]
    assert {"width", "height", "brightness", "contrast"} <= set(features)


def test_a_bad_vision_setting_names_the_key_and_the_fix(
    projects: dict[str, Path], rendered_package: tuple[Any, Any]
) -> None:
    config, settings_module = rendered_package
    current = config.load(projects["detection"] / "platform.yaml")
    section = {**current.raw["vision"], "image_size": 100}
    with pytest.raises(settings_module.VisionConfigError, match=r"vision\.image_size must be a multiple of 32"):
        settings_module.from_section(section, current, "local")
    with pytest.raises(settings_module.VisionConfigError, match=r"vision\.architecture has no 'cloud' entry"):
        settings_module.from_section({**section, "image_size": 160, "architecture": {"local": "x"}}, current, "cloud")


@pytest.mark.parametrize("name", sorted(TASKS))
def test_each_task_project_holds_its_own_task_module_only(projects: dict[str, Path], name: str) -> None:
    project = projects[name]
    (vision,) = project.glob("src/*/vision")
    modules = {path.name for path in vision.glob("*.py")}
    assert {"task.py", "settings.py", "inference.py", "train.py", "precision.py", "triton.py"} <= modules
    assert f"{TASKS[name]}.py" in modules
    assert not ({f"{task}.py" for task in TASKS.values()} - {f"{TASKS[name]}.py"}) & modules
    assert _platform(project)["vision"]["task"] == TASKS[name]
    assert not list(project.glob("src/*/tasks")), "no task layer"
    (contract,) = project.glob("src/*/contract.yaml")
    loaded = yaml.safe_load(contract.read_text(encoding="utf-8"))
    stats, classes = PREDICTION_STATS[name]
    assert loaded["prediction_stats"] == [*stats, *(f"share_{label}" for label in classes)]
    assert loaded["classes"] == classes == _platform(project)["vision"]["classes"]
    streams = name == "detection"
    assert all(((vision / file).exists()) == streams for file in STREAM_FILES)
    assert (project / "mk" / "vision.mk").exists() == streams
    assert ("stream" in _platform(project)["vision"]) == streams
    assert ("score_threshold" in _platform(project)["vision"]) == streams
    assert list(project.glob("deploy/k8s/base/stream-worker.yaml")) == (
        [project / "deploy/k8s/base/stream-worker.yaml"] if streams else []
    )
    pyproject = (project / "pyproject.toml").read_text(encoding="utf-8")
    assert "torchvision" in pyproject
    for package in ("supervision", "trackers", '"av'):
        assert (package in pyproject) == streams, package
    # COCO manifests (detection, segmentation, ocr): faster-coco-eval is the independent reader the tests use
    assert ("faster-coco-eval" in pyproject) == (TASKS[name] in ("detection", "segmentation", "ocr"))
    assert ("pytorch-metric-learning" in pyproject) == (name == "face")
    if name in TASK_PACKAGES:
        assert TASK_PACKAGES[name] in pyproject


def test_classification_reads_a_per_profile_image_size(projects: dict[str, Path]) -> None:
    section = _platform(projects["classification"])["vision"]
    assert section["image_size"] == {"local": 64, "cloud": 224}  # ViT-B/16's checkpoint needs 224
    assert section["architecture"] == {"local": "mobilenet_v3_small", "cloud": "efficientnet_b0"}


@pytest.mark.parametrize("name", ["tabular"])
def test_projects_without_the_framework_carry_no_pytorch(projects: dict[str, Path], name: str) -> None:
    project = projects[name]
    assert not list(project.glob("src/*/vision")), "no vision package"
    pyproject = (project / "pyproject.toml").read_text(encoding="utf-8")
    assert "torch" not in pyproject and "supervision" not in pyproject
    assert "vision" not in _platform(project)
    assert not (project / "docs" / "vision.md").exists()
    assert not (project / "benchmarks").exists()
    assert not (project / "tests" / "vision").exists()
    assert not list((project / "tests" / "stack").glob("test_vision_*.py"))
    assert not (project / "mk" / "vision.mk").exists()


def test_ocr_and_face_sections_hold_their_own_settings(projects: dict[str, Path]) -> None:
    ocr, face = (_platform(projects[name])["vision"] for name in ("ocr", "face"))
    assert ocr["architecture"] == {"local": "crnn_small", "cloud": "crnn_resnet18"}
    assert "min_box_side" in ocr and "match_threshold" not in ocr  # character boxes, no identities
    assert face["architecture"] == {"local": "mobilenet_v3_small", "cloud": "mobilenet_v3_large"}
    assert face["image_size"] == {"local": 64, "cloud": 224} and -1 <= face["match_threshold"] <= 1
    assert "min_box_side" not in face
    (labels,) = projects["face"].glob("src/*/vision/face.py")
    assert not list(projects["face"].glob("src/*/vision/ocr.py"))
    assert labels.exists()
