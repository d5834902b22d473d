"""The language model's data: the corpus documents as running text, and the labelled questions as
prompt/answer pairs. Train questions and every document are training text; test questions are held
out for the evaluation gate. Bad input fails here, naming the file and the fix, before training.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

SPLITS = ("train", "test")


class DataError(ValueError):
    """A document or question is malformed; the message names the file, the item and the fix."""


@dataclass(frozen=True)
class Pair:
    id: str
    question: str
    answer: str
    split: str

    def prompt(self, template: str) -> str:
        return template.format(question=self.question)


def load_documents(folder: Path) -> list[str]:
    """Every `*.md` file's text, in name order."""
    files = sorted(folder.glob("*.md")) if folder.is_dir() else []
    if not files:
        raise DataError(f"{folder}: no Markdown documents; put the corpus's *.md files there (corpus/README.md)")
    texts = []
    for path in files:
        text = path.read_text(encoding="utf-8").strip()
        if not text:
            raise DataError(f"{path}: the document is empty; write its text or delete the file")
        texts.append(text)
    return texts


def load_pairs(path: Path) -> list[Pair]:
    """The question/answer pairs of questions.yaml (`questions:` items with question, answer, split)."""
    if not path.is_file():
        raise DataError(f"{path}: missing; write the labelled questions there (corpus/README.md)")
    items = (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("questions")
    if not isinstance(items, list) or not items:
        raise DataError(f"{path}: no `questions:` list; add items with question, answer and split")
    pairs = []
    for number, item in enumerate(items, start=1):
        where = f"{path} item {number} ({item.get('id', 'no id') if isinstance(item, dict) else item!r})"
        if not isinstance(item, dict):
            raise DataError(f"{where}: not a mapping; write question, answer and split keys")
        missing = [key for key in ("question", "answer", "split") if not str(item.get(key) or "").strip()]
        if missing:
            raise DataError(f"{where}: {', '.join(missing)} missing or empty; fill them in")
        if item["split"] not in SPLITS:
            raise DataError(f"{where}: split {item['split']!r} is not one of {', '.join(SPLITS)}")
        pairs.append(Pair(str(item.get("id", number)), str(item["question"]), str(item["answer"]), item["split"]))
    if not any(pair.split == "test" for pair in pairs):
        raise DataError(f"{path}: no `split: test` questions; hold some out for the evaluation gate")
    return pairs


def training_texts(documents: list[str], pairs: list[Pair], template: str) -> list[str]:
    """What the model learns from: each document, then each training pair as prompt and answer."""
    return documents + [answered(pair, template) for pair in pairs if pair.split == "train"]


def answered(pair: Pair, template: str) -> str:
    return f"{pair.prompt(template)} {pair.answer}"
