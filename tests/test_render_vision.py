"""Tier 2: the PyTorch detector is rendered into the projects that chose it, and only there.

Object detection's default option names a torchvision framework (catalog.yaml): its project holds
src/<package>/vision/, the `vision` dependency group (torch, torchvision ...), platform.yaml's
`vision:` section (read here by the rendered package's own VisionSettings, for both profiles),
image statistics as the feature contract, docs/vision.md and the vision make targets, and no
scikit-learn stand-in or sliding-window head. A tabular project and object detection's edge
pattern (which keeps the ONNX-only path) hold none of it.
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
        "detection_edge": render_project(
            root / "detection_edge", use_case="object_detection", serving_pattern="edge", hosting="self_hosted"
        ),
    }


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
    assert not list(project.glob("src/*/training/families/vision.py"))
    assert not list(project.glob("src/*/training/families/sklearn_export.py"))
    assert not list(project.glob("src/*/tasks/heads/*.py"))[1:], "no head modules beyond __init__"
    pyproject = (project / "pyproject.toml").read_text(encoding="utf-8")
    assert "vision = [" in pyproject
    for package in TORCH_PACKAGES:
        assert package in pyproject, package
    assert (project / "docs" / "vision.md").is_file()


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


@pytest.mark.parametrize("name", ["tabular", "detection_edge"])
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
