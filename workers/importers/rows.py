"""The rows every import reads: a parsed row or its rejection, the errors, and field parsing."""

from __future__ import annotations

import hashlib
import math
import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Protocol

Progress = Callable[[int], None]


class ImportFileError(ValueError):
    """A file that cannot be imported at all (missing, empty, wrong layout): nothing is written."""


class RowError(ValueError):
    """One row that cannot be imported; the message says why (the caller adds the line)."""


@dataclass(slots=True)
class Row:
    """One parsed row (or group of rows): its values ready to store, or why it was rejected."""

    file: str
    line: int
    values: dict[str, Any] | None = None
    reason: str | None = None
    last_line: int | None = None

    @property
    def where(self) -> str:
        """Where the row is, for messages: ``file.csv line 12`` or ``lines 12-14``."""
        if self.last_line is not None and self.last_line != self.line:
            return f"{self.file} lines {self.line}-{self.last_line}"
        return f"{self.file} line {self.line}"


class RowSource(Protocol):
    """A file (or set of files) read as rows. ``rows`` may be called once per pass."""

    size: int
    skipped: Counter[str]

    def rows(self, progress: Progress | None = None) -> Iterator[Row]:
        """Parse the rows, from the start."""
        ...


def row_hash(values: Iterable[Any]) -> str:
    """A stable id for a row without one: a hash of its values (a corrected row is a new id)."""
    digest = hashlib.sha256("\x1f".join(str(v) for v in values).encode("utf-8"))
    return "h" + digest.hexdigest()[:31]


def parse_number(text: str, what: str) -> float:
    """A number that may use a decimal comma (``43,2946``); a RowError otherwise."""
    value = text.strip().replace("\u00a0", "").replace(" ", "")
    if value.count(",") == 1 and "." not in value:
        value = value.replace(",", ".")
    try:
        number = float(value)
    except ValueError as exc:
        raise RowError(f"{what} {text!r} is not a number") from exc
    if not math.isfinite(number):
        raise RowError(f"{what} {text!r} is not a finite number")
    return number


def clean_code(value: Any) -> Any:
    """A source's code as an int when it is one (``"1.0"`` -> 1), else the stripped text."""
    if isinstance(value, str):
        text = value.strip()
        if re.fullmatch(r"-?\d+(\.0+)?", text):
            return int(float(text))
        return text
    return value
