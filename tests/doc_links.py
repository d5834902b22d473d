"""Dangling documentation in a rendered project: Markdown links that lead nowhere, and doc paths that
rendered files name (a workflow's "see docs/infrastructure.md", a Makefile comment) but the project
does not hold. Used by test_render.check_rendered_project on every answer set of the matrix.

Links are read with markdown-it (CommonMark), so code blocks, inline code and URLs are not links;
anchors are checked against the headings' GitHub-style slugs.
"""

from __future__ import annotations

import itertools
import re
from functools import cache
from pathlib import Path
from urllib.parse import unquote, urlsplit

from markdown_it import MarkdownIt

_MARKDOWN = MarkdownIt("commonmark")
SKIP_PARTS = {".git", ".venv", "__pycache__", ".local", "node_modules", ".ruff_cache", ".mypy_cache"}
BINARY_SUFFIXES = {".png", ".parquet", ".onnx", ".pyc", ".db", ".sqlite"}
# A relative path to a Markdown file named in any text: `docs/x.md`, `infra/modules/aws/README.md`.
DOC_PATH = re.compile(r"(?<![\w/.:-])((?:[\w-]+/)+[\w.-]+\.md)(?![\w/])")
# Named but not documentation the project ships, each for a reason.
NOT_PROJECT_DOCS = {
    # the domain reference the decision engine encodes, cited as the source of a number (like a paper)
    "reference/ml-cv-specialist.md": "citation",
    "reference/platform-facts.md": "citation",
    # an MLflow run artifact that the training pipeline writes
    "evaluation/report.md": "artifact",
}


def _slug(heading: str) -> str:
    """GitHub's heading anchor: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


@cache
def _anchors(path: Path) -> frozenset[str]:
    tokens = _MARKDOWN.parse(path.read_text(encoding="utf-8"))
    slugs: dict[str, int] = {}
    anchors = set()
    for opening, inline in itertools.pairwise(tokens):
        if opening.type == "heading_open" and inline.type == "inline":
            slug = _slug(inline.content.replace("`", ""))
            count = slugs.get(slug, 0)
            anchors.add(slug if count == 0 else f"{slug}-{count}")
            slugs[slug] = count + 1
    return frozenset(anchors)


def _links(path: Path) -> list[str]:
    hrefs = []
    for token in _MARKDOWN.parse(path.read_text(encoding="utf-8")):
        for child in token.children or []:
            if child.type == "link_open":
                hrefs.append(str(child.attrs.get("href", "")))
            elif child.type == "image":
                hrefs.append(str(child.attrs.get("src", "")))
    return hrefs


def broken_links(project: Path, markdown: Path) -> list[str]:
    """Relative links (and #anchors) of one Markdown file that do not resolve inside the project."""
    problems = []
    for href in _links(markdown):
        parts = urlsplit(href)
        if parts.scheme or parts.netloc or href.startswith("mailto:"):
            continue  # external: checked by people, not offline tests
        target = (markdown.parent / unquote(parts.path)).resolve() if parts.path else markdown
        where = f"{markdown.relative_to(project)}: link {href!r}"
        if not target.is_relative_to(project.resolve()):
            problems.append(f"{where} leaves the project")
        elif not target.exists():
            problems.append(f"{where} names a file the project does not hold")
        elif parts.fragment and target.suffix == ".md" and parts.fragment not in _anchors(target):
            problems.append(f"{where}: {target.name} has no heading #{parts.fragment}")
    return problems


def dangling_doc_paths(project: Path, path: Path) -> list[str]:
    """Markdown paths a text file names that exist neither from the project root nor beside the file."""
    text = path.read_text(encoding="utf-8", errors="replace")
    problems = []
    for named in sorted(set(DOC_PATH.findall(text))):
        if named in NOT_PROJECT_DOCS:
            continue
        if not ((project / named).exists() or (path.parent / named).exists()):
            problems.append(f"{path.relative_to(project)} names {named}, which the project does not hold")
    return problems


def text_files(project: Path) -> list[Path]:
    return [
        path
        for path in sorted(project.rglob("*"))
        if path.is_file()
        and not SKIP_PARTS & set(path.relative_to(project).parts)
        and path.suffix not in BINARY_SUFFIXES
    ]


def dangling_documentation(project: Path) -> list[str]:
    """Every broken link in the project's Markdown and every doc path named but missing."""
    problems = []
    for path in text_files(project):
        if path.suffix == ".md":
            problems += broken_links(project, path)
        problems += dangling_doc_paths(project, path)
    return problems
