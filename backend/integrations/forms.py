"""Form bodies with PHP-style bracket keys, as Bitrix24 and amoCRM send them:
`data[FIELDS][ID]=5&leads[status][0][id]=7` → {"data": {"FIELDS": {"ID": "5"}}, …}."""

import re
from typing import Any
from urllib.parse import parse_qsl

from backend.integrations.base import MalformedDelivery

_KEY = re.compile(r"^([^\[\]]+)((?:\[[^\[\]]*\])*)$")


class MalformedForm(ValueError):
    pass


def parse_bracket_form(body: bytes | str) -> dict[str, Any]:
    try:
        text = body.decode("utf-8") if isinstance(body, bytes) else body
        pairs = parse_qsl(text, keep_blank_values=True, strict_parsing=bool(text))
    except ValueError as exc:
        raise MalformedForm(f"not a form body: {exc}") from exc
    root: dict[str, Any] = {}
    for key, value in pairs:
        match = _KEY.match(key)
        if not match:
            raise MalformedForm(f"unreadable key {key!r}")
        parts = [match.group(1), *re.findall(r"\[([^\[\]]*)\]", match.group(2))]
        node = root
        for part in parts[:-1]:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise MalformedForm(f"key {key!r} clashes with a plain value")
            node = child
        node[parts[-1]] = value
    return root


def delivery_form(body: bytes) -> dict[str, Any]:
    """A vendor's delivery read as a form; one that is not a form cannot be read."""
    try:
        return parse_bracket_form(body)
    except MalformedForm as exc:
        raise MalformedDelivery(str(exc)) from exc


def form_part(body: bytes, name: str) -> dict[str, Any] | None:
    """The part of a delivery's form under `name` (the vendor's signature, say), or None
    when the body is no form or the part is not a group of keys."""
    try:
        part = parse_bracket_form(body).get(name)
    except MalformedForm:
        return None
    return part if isinstance(part, dict) else None
