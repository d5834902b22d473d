"""Mask personal data in prompts before they reach a model, the cache or a log (gateway.redaction;
on when answers.data_sensitivity is pii, financial or hipaa).

Patterns are conservative (they mask an order number that looks like a phone number rather than miss a
phone number); a card number is masked only when its digits pass the Luhn check, so ordinary long
numbers stay. Each kind is replaced by a tag ([EMAIL], [CARD] ...) the model can still read around.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

# Order matters: cards and IBANs before phone numbers (their digits would pass for one).
PATTERNS: dict[str, re.Pattern[str]] = {
    "email": re.compile(r"\b[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}\b"),
    "card": re.compile(r"(?<![\d-])(?:\d[ -]?){12,18}\d(?![\d-])"),
    "iban": re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,4})?\b"),
    "ssn": re.compile(r"\b\d{3}-\d{2}-\d{4}\b"),
    "phone": re.compile(r"(?<![\w+])\+?\(?\d[\d ().-]{7,}\d(?!\w)"),
    "ipv4": re.compile(r"\b(?:(?:25[0-5]|2[0-4]\d|1?\d?\d)\.){3}(?:25[0-5]|2[0-4]\d|1?\d?\d)\b"),
}
ORDER = ("email", "card", "iban", "ssn", "phone", "ipv4")


def luhn(digits: str) -> bool:
    total = 0
    for index, digit in enumerate(int(d) for d in reversed(digits)):
        doubled = digit * 2 if index % 2 else digit
        total += doubled - 9 if doubled > 9 else doubled
    return total % 10 == 0


def _keep(kind: str, match: str) -> bool:
    """Whether a match is not really of its kind (masking it would hide ordinary text)."""
    digits = re.sub(r"\D", "", match)
    if kind == "card":
        return not (13 <= len(digits) <= 19 and luhn(digits))
    if kind == "phone":
        return not 9 <= len(digits) <= 15
    return False


def redact(text: str, kinds: Iterable[str]) -> tuple[str, Counter[str]]:
    """The text with each match of `kinds` replaced by its tag, and how many of each were masked."""
    wanted = set(kinds)
    found: Counter[str] = Counter()
    for kind in (kind for kind in ORDER if kind in wanted):

        def replace(match: re.Match[str], kind: str = kind) -> str:
            if _keep(kind, match.group(0)):
                return match.group(0)
            found[kind] += 1
            return f"[{kind.upper()}]"

        text = PATTERNS[kind].sub(replace, text)
    return text, found


def redact_messages(
    messages: Sequence[Mapping[str, Any]], kinds: Iterable[str]
) -> tuple[list[dict[str, Any]], Counter[str]]:
    """Copies of chat messages with their text redacted (string contents and text parts)."""
    kinds = tuple(kinds)
    total: Counter[str] = Counter()

    def clean(text: str) -> str:
        cleaned, found = redact(text, kinds)
        total.update(found)
        return cleaned

    return [_map_text(message, clean) for message in messages], total


def _map_text(message: Mapping[str, Any], clean: Callable[[str], str]) -> dict[str, Any]:
    copy = dict(message)
    content = copy.get("content")
    if isinstance(content, str):
        copy["content"] = clean(content)
    elif isinstance(content, list):
        copy["content"] = [
            {**part, "text": clean(str(part["text"]))} if isinstance(part, dict) and "text" in part else part
            for part in content
        ]
    return copy
