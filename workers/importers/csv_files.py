"""Reading text files: checks, encoding and delimiter detection, and CSV rows as a stream."""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from workers.importers.rows import ImportFileError, Progress

SAMPLE_BYTES = 1 << 20


def check_file(path: Path) -> int:
    """The size of a file that exists and is not empty; a clear error otherwise."""
    if not path.exists():
        raise ImportFileError(f"{path}: no such file")
    if path.is_dir():
        raise ImportFileError(f"{path}: a folder, not a file")
    size = path.stat().st_size
    if size == 0:
        raise ImportFileError(f"{path}: the file is empty")
    return size


def read_sample(path: Path, size: int = SAMPLE_BYTES) -> bytes:
    """The first bytes of a file (never the whole file)."""
    with path.open("rb") as fh:
        return fh.read(size)


def detect_encoding(sample: bytes) -> str:
    """UTF-8 (with or without BOM) when the sample decodes as such, else Windows-1252/latin-1.

    French spreadsheets saved as "CSV" are Windows-1252; the official files before 2019 are
    latin-1 (the same letters). A multi-byte character cut at the end of the sample is allowed.
    """
    if sample.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    try:
        codecs.getincrementaldecoder("utf-8")().decode(sample, final=False)
        return "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        sample.decode("cp1252")
        return "cp1252"
    except UnicodeDecodeError:
        return "latin-1"


def is_ascii(sample: bytes) -> bool:
    """Whether a sample holds only ASCII bytes (then every encoding reads it alike)."""
    return all(b < 0x80 for b in sample)


def detect_delimiter(header_line: str) -> str:
    """The delimiter of a CSV file, from its header line: the most frequent of ; , tab |."""
    counts = {d: header_line.count(d) for d in (";", ",", "\t", "|")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


def first_line(sample: bytes, encoding: str) -> str:
    """The first line of a sample, decoded."""
    text = sample.decode(encoding, errors="replace").lstrip("\ufeff")
    return text.splitlines()[0] if text.strip() else ""


class CsvFile:
    """A CSV file read as a stream of rows with their line numbers, and a progress in bytes.

    The encoding and delimiter are detected from the first MiB unless given.
    """

    def __init__(
        self, path: Path, *, encoding: str | None = None, delimiter: str | None = None
    ) -> None:
        self.path = path
        self.size = check_file(path)
        sample = read_sample(path)
        self.encoding = encoding or detect_encoding(sample)
        try:
            codecs.lookup(self.encoding)
        except LookupError as exc:
            raise ImportFileError(f"unknown encoding {self.encoding!r}") from exc
        head = first_line(sample, self.encoding)
        if not head.strip():
            raise ImportFileError(f"{path}: the file is empty (no header line)")
        self.delimiter = delimiter or detect_delimiter(head)
        self.header = self._read_header()

    def _read_header(self) -> list[str]:
        with self._open() as (reader, _raw):
            try:
                header = next(reader)
            except StopIteration as exc:
                raise ImportFileError(f"{self.path}: the file is empty") from exc
        names = [h.strip().lstrip("\ufeff") for h in header]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ImportFileError(f"{self.path}: the header repeats the columns {dupes}")
        return names

    @contextmanager
    def _open(self) -> Iterator[tuple[Any, IO[bytes]]]:
        with self.path.open("rb") as raw:
            text = io.TextIOWrapper(raw, encoding=self.encoding, newline="")
            yield csv.reader(text, delimiter=self.delimiter), raw

    def records(self, progress: Progress | None = None) -> Iterator[tuple[int, list[str]]]:
        """Yield (first line number, fields) for every data row; blank lines are skipped."""
        sent = 0
        with self._open() as (reader, raw):
            last = 0
            try:
                next(reader)
                last = reader.line_num
                for count, fields in enumerate(reader, start=1):
                    start, last = last + 1, reader.line_num
                    if progress is not None and count % 1000 == 0:
                        position = raw.tell()
                        progress(position - sent)
                        sent = position
                    if not fields or not any(f.strip() for f in fields):
                        continue
                    yield start, fields
            except UnicodeDecodeError as exc:
                raise ImportFileError(
                    f"{self.path} around line {last + 1}: bytes that are not {self.encoding} "
                    f"({exc.reason}); give the file's encoding with --encoding"
                ) from exc
            except csv.Error as exc:
                raise ImportFileError(f"{self.path} line {last + 1}: {exc}") from exc
        if progress is not None:
            progress(self.size - sent)

    def dict_rows(
        self, progress: Progress | None = None
    ) -> Iterator[tuple[int, dict[str, str] | None, str | None]]:
        """Yield (line, {column: value}, None), or (line, None, reason) for a short/long row."""
        width = len(self.header)
        for line, fields in self.records(progress):
            if len(fields) != width:
                yield (
                    line,
                    None,
                    f"{len(fields)} fields where the header has {width} "
                    f"(delimiter {self.delimiter!r}, quoting?)",
                )
                continue
            yield line, dict(zip(self.header, fields, strict=True)), None
