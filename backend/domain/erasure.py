"""Taking a person's name and phone out of text we kept as it came (a CRM's raw delivery,
an error a vendor answered), in the spellings such text carries them: as written, in any
letter case, JSON-escaped, URL-encoded, and a phone with or without its country code,
spaces, dashes or brackets. What is taken out is replaced by a mark, so the text keeps
its shape (a form stays a form, JSON stays JSON) and says something was there.
"""

import json
import re
from dataclasses import dataclass
from urllib.parse import quote, quote_plus

MARK = "[erased]"
MIN_PART = 3  # name words shorter than this ("Ли") are not taken out on their own

_FORMS = (
    lambda v: v,
    lambda v: json.dumps(v)[1:-1],  # \u-escaped, as an ASCII-only JSON encoder writes it
    quote,
    quote_plus,
)
# Between a phone's digits: spaces, dashes, dots, brackets, in plain or URL-encoded text.
_SEP = r"(?:[\s\-.()]|%20|%28|%29|\+)*"


@dataclass(frozen=True)
class Redaction:
    patterns: tuple[tuple[re.Pattern[str], str], ...]

    def apply(self, text: str) -> str:
        for pattern, replacement in self.patterns:
            text = pattern.sub(replacement, text)
        return text

    def apply_to_strings(self, value: object) -> object:
        """The same, on every string inside decoded JSON (its numbers and keys' shape kept)."""
        if isinstance(value, str):
            return self.apply(value)
        if isinstance(value, list):
            return [self.apply_to_strings(v) for v in value]
        if isinstance(value, dict):
            return {k: self.apply_to_strings(v) for k, v in value.items()}
        return value


def name_spellings(name: str, *, parts: bool) -> list[str]:
    """The name whole, its words the other way round, and (with `parts`) each word."""
    words = name.split()
    found = [name.strip(), " ".join(reversed(words))]
    if parts:
        found += [w for w in words if len(w) >= MIN_PART]
    return [s for s in dict.fromkeys(found) if s]


def phone_digits(phone: str) -> str:
    """The national number: the last ten digits of a Russian phone (E.164 +7…)."""
    digits = "".join(ch for ch in phone if ch.isdigit())
    return digits[-10:] if len(digits) >= 10 else digits


def redaction(name: str, phone: str | None, *, parts: bool = True) -> Redaction:
    patterns: list[tuple[re.Pattern[str], str]] = []
    # Longest first, so a whole name goes before its words.
    for spelling in sorted(name_spellings(name, parts=parts), key=len, reverse=True):
        for form in _FORMS:
            written = form(spelling)
            patterns.append((re.compile(re.escape(written), re.IGNORECASE), form(MARK)))
    digits = phone_digits(phone or "")
    if len(digits) >= 7:
        number = _SEP.join(re.escape(d) for d in digits)
        prefix = rf"(?:(?:\+|%2B)?7|8)?{_SEP}"
        patterns.append((re.compile(rf"(?<!\d){prefix}{number}(?!\d)", re.IGNORECASE), MARK))
    return Redaction(patterns=tuple(patterns))


def search_spellings(name: str, phone: str | None) -> list[str]:
    """Plain substrings that find most texts holding the name or phone (a cheap first
    look in the database; the redaction is the thorough one)."""
    found = [form(s) for s in name_spellings(name, parts=False) for form in _FORMS]
    digits = phone_digits(phone or "")
    if len(digits) >= 7:
        found.append(digits)
    return [s for s in dict.fromkeys(found) if s]
