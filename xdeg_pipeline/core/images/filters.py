"""Filters over images' metadata: ``FIELD OP VALUE`` conditions joined by ``AND``.

``FIELD`` is ``name`` (the image's name), a provenance key (``label``, ``creator``, ``date``,
... or one of their aliases, see :data:`~.provenance.ALIASES`) or any metadata column (also the
labels inside the JSON ``metadata`` column), compared loosely (:func:`~.provenance.norm_key`).
``OP`` is ``=`` / ``!=`` (equals, case-insensitive), ``~`` (contains, case-insensitive) or
``<``, ``<=``, ``>``, ``>=`` (numbers; a date compares its year: the first 3-4 digit year in the
value, so ``c. 1650-1660`` is 1650). An image without the field matches only ``!=``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache

from xdeg_pipeline.core.images.provenance import ALIASES, norm_key, plain_text

OPS = ("<=", ">=", "!=", "=", "~", "<", ">")  # longest first
NUMERIC = frozenset({"<", "<=", ">", ">="})
_OP = re.compile(r"<=|>=|!=|=|~|<|>")
_AND = re.compile(r"\s+AND\s+")
_YEAR = re.compile(r"(?<!\d)(\d{3,4})(?!\d)")
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")
_CANONICAL = {norm_key(a): key for key, aliases in ALIASES.items() for a in (key, *aliases)}
_ALIAS_KEYS = {key: tuple(norm_key(a) for a in aliases) for key, aliases in ALIASES.items()}
_PLAIN = re.compile(r"[<&\t\n\r\f\v]|  ")  # what plain_text would change
MAX_CONDITIONS = 20
_column_key = lru_cache(maxsize=4096)(norm_key)  # the same columns on every image


def _plain(value: str) -> str:
    return plain_text(value) if _PLAIN.search(value) else value.strip()


class FilterError(ValueError):
    """A filter that cannot be read (the message is one line, for a person)."""


def _number(field: str, value: str) -> float | None:
    """The number a value stands for: a date's year, else the first number in it."""
    found = (_YEAR if field == "date" else _NUMBER).search(value)
    return float(found.group(1) if field == "date" else found.group(0)) if found else None


@dataclass(frozen=True)
class Condition:
    """One ``FIELD OP VALUE``; ``field`` is the name as normalised (:func:`norm_key`)."""

    field: str
    op: str
    value: str
    number: float | None = None

    @property
    def text(self) -> str:
        return f"{self.field}{self.op}{self.value}"

    @property
    def key(self) -> str:
        """The provenance key the field is an alias of (``artist`` -> ``creator``), else the
        field itself."""
        return self.field if self.field == "name" else _CANONICAL.get(self.field, self.field)

    def value_in(self, record: Mapping[str, str]) -> str | None:
        """The field's value in a record: its own column first, else its provenance key's."""
        got = record.get(self.field)
        return record.get(self.key) if got is None else got

    def matches(self, record: Mapping[str, str]) -> bool:
        """Whether an image's fields (:func:`fields_of`) satisfy the condition."""
        got = self.value_in(record)
        if got is None:
            return self.op == "!="
        if self.op in NUMERIC:
            n = _number(self.key, got)
            if n is None:
                return False
            return {"<": n < self.number, "<=": n <= self.number, ">": n > self.number,
                    ">=": n >= self.number}[self.op]
        got, want = got.casefold(), self.value.casefold()
        if self.op == "~":
            return want in got
        return (got == want) == (self.op == "=")


@dataclass(frozen=True)
class Filter:
    """Conditions that must all hold (an empty filter lets every image through)."""

    conditions: tuple[Condition, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.conditions)

    @property
    def text(self) -> str:
        """The filter as one line (``date<1900 AND creator~klee``)."""
        return " AND ".join(c.text for c in self.conditions)

    def matches(self, record: Mapping[str, str]) -> bool:
        return all(c.matches(record) for c in self.conditions)


def parse_condition(text: str) -> Condition:
    """One condition from ``FIELD OP VALUE`` (FilterError when it is not one)."""
    text = text.strip()
    found = _OP.search(text)
    if found is None:
        raise FilterError(f"filter {text!r} has no operator: write FIELD OP VALUE with OP one "
                          f"of {' '.join(OPS)} (e.g. date<1900)")
    field, op = text[:found.start()].strip(), found.group(0)
    value = text[found.end():].strip()
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        value = value[1:-1]
    if not field:
        raise FilterError(f"filter {text!r} has no field before {op!r} (e.g. date<1900)")
    if not value:
        raise FilterError(f"filter {text!r} has no value after {op!r}")
    condition = Condition(norm_key(field), op, value)
    if op in NUMERIC:
        number = _number(condition.key, value)
        if number is None:
            raise FilterError(f"filter {text!r}: {op} compares numbers (a date its year), "
                              f"{value!r} is not one")
        condition = Condition(condition.field, op, value, number)
    return condition


def parse_filter(texts: str | Iterable[str] | None) -> Filter:
    """A filter from one or more texts, each of conditions joined by ``AND``."""
    if texts is None:
        return Filter()
    if isinstance(texts, str):
        texts = [texts]
    parts = [p for t in texts for p in _AND.split(str(t).strip()) if p.strip()]
    if len(parts) > MAX_CONDITIONS:
        raise FilterError(f"at most {MAX_CONDITIONS} filter conditions, got {len(parts)}")
    return Filter(tuple(parse_condition(p) for p in parts))


def _json_pairs(raw: str) -> list[tuple[str, str]]:
    """label -> value pairs of a JSON ``metadata`` column (a map, or a list of
    ``{"label", "value"}``); values that are lists are joined with ``; ``."""
    try:
        data = json.loads(raw)
    except (TypeError, ValueError):
        return []
    if isinstance(data, list):
        data = [(d.get("label"), d.get("value")) for d in data if isinstance(d, dict)]
    elif isinstance(data, dict):
        data = list(data.items())
    else:
        return []
    out = []
    for label, value in data:
        if isinstance(value, list):
            value = "; ".join(str(v) for v in value if v is not None)
        if label is not None and value is not None and str(value).strip():
            out.append((str(label), str(value)))
    return out


def fields_of(name: str, meta: Mapping[str, str]) -> dict[str, str]:
    """What a filter compares for one image: ``name``, every metadata column by
    :func:`norm_key` (the JSON ``metadata`` column's labels after the columns) and each
    provenance key from its first alias that has a value; values are plain text."""
    if not meta:
        return {"name": name}
    record: dict[str, str] = {}
    for column, value in meta.items():
        if column == "metadata":
            pairs = _json_pairs(value)
        else:
            pairs = [(column, value)]
        for key, text in pairs:
            record.setdefault(_column_key(key), _plain(str(text)))
    for key, aliases in _ALIAS_KEYS.items():
        value = next((record[a] for a in aliases if record.get(a)), None)
        if value is not None:
            record[key] = value
    record = {k: v for k, v in record.items() if v}
    record["name"] = name
    return record


def search_text(record: Mapping[str, str]) -> str:
    """The words search looks in: an image's fields (:func:`fields_of`: its name and every
    metadata value, the JSON ``metadata`` column's values included), each once."""
    return " ".join(dict.fromkeys(record.values()))
