"""The documentation a project points to exists in the project (issue #20, item 7).

test_render.check_rendered_project runs `dangling_documentation` on every answer set of the matrix;
these tests show that the checker finds what it must (so that a clean result means something), and
that each cloud's infrastructure page names that cloud's resources.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from conftest import render_project
from doc_links import broken_links, dangling_doc_paths, dangling_documentation

pytestmark = pytest.mark.render


def _write(root: Path, relative: str, text: str) -> Path:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_the_checker_finds_missing_files_anchors_and_named_docs(tmp_path: Path) -> None:
    _write(tmp_path, "docs/data.md", "# Data\n\n## Run one day\n\ntext\n")
    readme = _write(
        tmp_path,
        "README.md",
        "[ok](docs/data.md) [anchor ok](docs/data.md#run-one-day) [gone](docs/gone.md)\n"
        "[bad anchor](docs/data.md#nowhere) [outside](../elsewhere.md) [web](https://example.com/x.md)\n\n"
        "    [in a code block](docs/not-a-link.md)\n\n`[inline code](docs/also-not.md)`\n",
    )
    problems = broken_links(tmp_path, readme)
    assert len(problems) == 3, problems
    assert any("docs/gone.md" in p and "does not hold" in p for p in problems)
    assert any("#nowhere" in p for p in problems)
    assert any("leaves the project" in p for p in problems)

    workflow = _write(tmp_path, ".github/workflows/x.yml", "# see docs/infrastructure.md and docs/data.md\n")
    assert dangling_doc_paths(tmp_path, workflow) == [
        ".github/workflows/x.yml names docs/infrastructure.md, which the project does not hold"
    ]
    _write(tmp_path, "docs/infrastructure.md", "# Infrastructure\n")
    assert dangling_documentation(tmp_path) == [
        "README.md: link 'docs/gone.md' names a file the project does not hold",
        "README.md: link 'docs/data.md#nowhere': data.md has no heading #nowhere",
        "README.md: link '../elsewhere.md' leaves the project",
        # named in text (code included) is still named: a reader would look for it
        "README.md names docs/also-not.md, which the project does not hold",
        "README.md names docs/gone.md, which the project does not hold",
        "README.md names docs/not-a-link.md, which the project does not hold",
    ]


@pytest.mark.parametrize("cloud", ["aws", "gcp", "azure"])
def test_the_infrastructure_page_is_the_projects_own(tmp_path: Path, cloud: str) -> None:
    project = render_project(tmp_path / cloud, cloud=cloud)
    page = (project / "docs" / "infrastructure.md").read_text(encoding="utf-8")
    decisions = yaml.safe_load((project / "platform.yaml").read_text(encoding="utf-8"))["decisions"]
    for env, names in decisions["names"]["environments"].items():
        assert f"### {env}" in page
        for uri in names["uris"].values():
            assert f"`{uri}`" in page
        assert decisions["gpu"]["environments"][env]["instance_type"] in page
    assert decisions["cloud"]["kubernetes"] in page
    assert f"modules/{cloud}" in page
    others = {"aws", "gcp", "azure"} - {cloud}
    assert not any(f"modules/{other}" in page for other in others)
    assert dangling_documentation(project) == []
