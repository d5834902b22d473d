"""platform.schema.json in the template is the JSON Schema of the project's platform_schema.py models.

Every rendered project's platform.yaml is validated against those models by test_render's
check_rendered_project (config.load validates at load); this keeps the shipped schema file, which
editors and the project's own test read, in step with the models.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.static
def test_the_template_ships_the_schema_of_its_models() -> None:
    result = subprocess.run(
        [sys.executable, "ci/platform_schema.py", "--check"], cwd=REPO, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr
