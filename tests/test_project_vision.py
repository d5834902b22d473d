"""Tier 3: the PyTorch detector in the object-detection project that holds it.

`detection_aws_realtime` (ci/matrix.yaml) renders object detection with its default option, whose
catalog entry names a torchvision framework: the project holds src/<package>/vision/ and its tests
(tests/vision: images, validation, the model contract, export, precision, the stream; tests/stack:
training through MLflow and the Triton ensemble on a real server), and no scikit-learn stand-in for
the family. This module checks that layout and runs those tests in the project's own environment.
A tabular project holds none of it (tests/test_render_vision.py checks that statically).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import run_project_tests

pytestmark = pytest.mark.project

NAME = "detection_aws_realtime"
# Each topic's test file; a helper's new module without a test fails here.
UNIT_TESTS = {"test_images.py", "test_model.py", "test_precision.py", "test_stream.py"}
STACK_TESTS = {"test_vision_training.py", "test_vision_serving.py", "test_vision_monitoring.py"}


def test_the_detection_project_holds_the_pytorch_detector(stack_project: Callable[[str], Path]) -> None:
    project = stack_project(NAME)
    (package,) = project.glob("src/*/vision")
    assert (package / "settings.py").is_file() and (package / "inference.py").is_file()
    assert not list(project.glob("src/*/training/families/vision.py")), "no scikit-learn stand-in for the family"
    assert not list(project.glob("src/*/tasks/heads/detection.py")), "no sliding-window head"
    assert "torchvision" in (project / "pyproject.toml").read_text(encoding="utf-8")
    units = {path.name for path in (project / "tests" / "vision").glob("test_*.py")}
    stacks = {path.name for path in (project / "tests" / "stack").glob("test_vision_*.py")}
    assert units >= UNIT_TESTS, f"missing {UNIT_TESTS - units}"
    assert stacks >= STACK_TESTS, f"missing {STACK_TESTS - stacks}"
    files = [*(f"tests/vision/{name}" for name in sorted(units)), *(f"tests/stack/{name}" for name in sorted(stacks))]
    command = ["uv", "run", "--frozen", "pytest", "-q", "-p", "no:cacheprovider", *files]
    run_project_tests(project, command, "vision (data, model, precision, stream, training, serving)", timeout=1800)
