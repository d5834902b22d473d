"""The corpus: Markdown documents cut into sections and chunks, and the labelled questions.

A document is one `# Title`, then `## Section` headings; a section longer than
`rag.chunking.max_words` becomes several overlapping chunks. A question names the document and the
section that answer it, so retrieval is scored by whether a chunk of that section comes back.
Bad input fails here, naming the file and the fix, before anything reaches the vector store.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import yaml

from ..config import Platform
from .settings import Chunking, load, resolve

SPLITS = ("train", "test")


class CorpusError(ValueError):
    """A document or question is malformed; the message names the file, the item and the fix."""


@dataclass(frozen=True)
class Section:
    document: str  # the file's stem
    title: str  # the document's `# Title`
    heading: str  # the `## Section` heading
    slug: str  # slug(heading): what questions name
    text: str


@dataclass(frozen=True)
class Chunk:
    id: str  # <document>/<section slug>/<n>
    document: str
    section: str
    title: str
    heading: str
    text: str

    def payload(self) -> dict[str, Any]:
        return asdict(self)

    def passage(self) -> str:
        """What the embedding model and BM25 read: the titles give a short chunk its context."""
        return f"{self.title}. {self.heading}. {self.text}"


@dataclass(frozen=True)
class Question:
    id: str
    question: str
    document: str
    section: str
    answer: str
    split: str


def slug(heading: str) -> str:
    """`## Return window (30 days)` -> `return-window-30-days`."""
    return re.sub(r"[^a-z0-9]+", "-", heading.lower()).strip("-")


def parse_document(path: Path) -> list[Section]:
    """The `##` sections of one Markdown document."""
    lines = path.read_text(encoding="utf-8").splitlines()
    titles = [line[2:].strip() for line in lines if line.startswith("# ")]
    if len(titles) != 1:
        raise CorpusError(f"{path}: a document needs exactly one `# Title` line, found {len(titles)}")
    sections: list[Section] = []
    heading: str | None = None
    body: list[str] = []

    def close() -> None:
        if heading is None:
            return
        text = " ".join(" ".join(body).split())
        if not text:
            raise CorpusError(f"{path}: section `## {heading}` has no text; write it or remove the heading")
        sections.append(Section(path.stem, titles[0], heading, slug(heading), text))

    for line in lines:
        if line.startswith("## "):
            close()
            heading, body = line[3:].strip(), []
        elif heading is not None:
            body.append(line.strip())
    close()
    if not sections:
        raise CorpusError(f"{path}: no `## Section` headings; retrieval indexes sections, add at least one")
    slugs = [section.slug for section in sections]
    if len(set(slugs)) != len(slugs):
        raise CorpusError(f"{path}: two sections share the heading slug; rename one of {sorted(slugs)}")
    return sections


def load_documents(folder: Path) -> list[Section]:
    """Every section of every `*.md` file under `folder` (sorted, so ids are stable)."""
    files = sorted(folder.glob("*.md"))
    if not files:
        raise CorpusError(f"{folder}: no Markdown documents; put *.md files there or set rag.corpus")
    return [section for path in files for section in parse_document(path)]


def chunk_sections(sections: list[Section], chunking: Chunking) -> list[Chunk]:
    """Windows of at most `max_words` words over each section, `overlap_words` apart."""
    chunks: list[Chunk] = []
    step = chunking.max_words - chunking.overlap_words
    for section in sections:
        words = section.text.split()
        starts = range(0, max(len(words) - chunking.overlap_words, 1), step)
        for n, start in enumerate(starts):
            text = " ".join(words[start : start + chunking.max_words])
            chunk_id = f"{section.document}/{section.slug}/{n}"
            chunks.append(Chunk(chunk_id, section.document, section.slug, section.title, section.heading, text))
    return chunks


def read_chunks(path: Path) -> list[Chunk]:
    """Chunks written one JSON object per line (Chunk.payload): a training set's or an index's."""
    return [Chunk(**json.loads(line)) for line in path.read_text(encoding="utf-8").splitlines() if line]


def load_questions(path: Path, sections: list[Section]) -> list[Question]:
    """The labelled questions, each checked against the documents it names."""
    if not path.is_file():
        raise CorpusError(f"{path}: no question set; write one (see corpus/README.md) or set rag.questions")
    raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    items = raw.get("questions") if isinstance(raw, dict) else None
    if not isinstance(items, list) or not items:
        raise CorpusError(f"{path}: expected a top-level `questions:` list")
    known = {(section.document, section.slug): section for section in sections}
    documents = {section.document for section in sections}
    questions: list[Question] = []
    seen: set[str] = set()
    fields = ("id", "question", "document", "section", "answer", "split")
    for position, item in enumerate(items):
        where = f"{path}: questions[{position}]"
        missing = [name for name in fields if not isinstance(item, dict) or not str(item.get(name, "")).strip()]
        if missing:
            raise CorpusError(f"{where}: missing {', '.join(missing)}")
        question = Question(**{name: str(item[name]).strip() for name in fields})
        if question.id in seen:
            raise CorpusError(f"{where}: id {question.id!r} is used twice; ids must be unique")
        seen.add(question.id)
        if question.split not in SPLITS:
            raise CorpusError(f"{where} ({question.id}): split must be train or test, got {question.split!r}")
        if question.document not in documents:
            raise CorpusError(f"{where} ({question.id}): no document {question.document!r}.md in the corpus")
        section = known.get((question.document, question.section))
        if section is None:
            raise CorpusError(
                f"{where} ({question.id}): {question.document}.md has no section {question.section!r}; "
                f"its sections are {sorted(s.slug for s in sections if s.document == question.document)}"
            )
        if question.answer not in section.text:
            raise CorpusError(f"{where} ({question.id}): the answer {question.answer!r} is not in that section's text")
        questions.append(question)
    if not any(question.split == "test" for question in questions):
        raise CorpusError(f"{path}: no `split: test` questions; the evaluation gate needs held-out questions")
    return questions


def held_out_questions(platform_: Platform | None = None) -> list[Question]:
    """The project's held-out questions (split: test) of rag.questions, checked against rag.corpus."""
    rag = load(platform_)
    sections = load_documents(resolve(rag.corpus, platform_))
    return [q for q in load_questions(resolve(rag.questions, platform_), sections) if q.split == "test"]
