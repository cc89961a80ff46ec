"""What every import shares: streaming CSV reading, positions, the validate-then-commit engine,
upserts keyed on (source, external id), rejected rows and the summary.

How "a file with bad rows commits nothing" still streams: without ``skip_bad`` the file is read
twice. The first pass parses and checks every row (dates, positions, codes) and writes nothing;
if any row is bad, the import stops there with the list of bad rows. The second pass parses the
file again and upserts it in batches (5,000 rows by default), one short transaction each, so a
1 GB file never sits in memory nor in one long transaction that would lock SQLite against the
web process. With ``skip_bad`` one pass is enough: bad rows are left out as they come.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
import json
import math
import re
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Protocol

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, SQLModel, select

from backend.db import utcnow
from backend.models import Area
from backend.services import outbox
from backend.services.areas import OutsideCityError, area_for_position

DEFAULT_BATCH_SIZE = 5_000
SAMPLE_BYTES = 1 << 20
LISTED_REJECTIONS = 20
LINK_INCIDENTS_JOB = "workers.jobs.link_incidents"
# Parameters per statement stay well under SQLite's limit (32,766) and PostgreSQL's (65,535).
_LOOKUP_CHUNK = 900

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


# ---------------------------------------------------------------------------------------------
# Reading text files
# ---------------------------------------------------------------------------------------------


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


# ---------------------------------------------------------------------------------------------
# Positions: areas, the city's limits, a street gazetteer
# ---------------------------------------------------------------------------------------------


def _fold(text: str) -> str:
    text = unicodedata.normalize("NFKD", text.lower())
    text = "".join(c for c in text if not unicodedata.combining(c))
    text = re.sub(r"[^a-z0-9]+", " ", text)
    return " ".join(text.split())


# Abbreviations of street types in French addresses, as clerks type them.
_STREET_TYPES = {
    "bd": "boulevard",
    "bld": "boulevard",
    "blvd": "boulevard",
    "bvd": "boulevard",
    "boul": "boulevard",
    "av": "avenue",
    "ave": "avenue",
    "r": "rue",
    "pl": "place",
    "ch": "chemin",
    "chem": "chemin",
    "imp": "impasse",
    "trav": "traverse",
    "tse": "traverse",
    "crs": "cours",
    "qu": "quai",
    "all": "allee",
    "rte": "route",
    "mte": "montee",
    "sq": "square",
    "esp": "esplanade",
    "prom": "promenade",
    "rpt": "rond point",
    "st": "saint",
    "ste": "sainte",
}
_STOPWORDS = frozenset({"de", "du", "des", "la", "le", "les", "l", "d"})


def street_key(address: str) -> str:
    """A street name folded for matching: no house number, postcode, city, accents, abbreviations.

    ``"12 bis, Bd de la Pomme 13011 Marseille"`` -> ``"boulevard de la pomme"``.
    """
    text = _fold(address)
    text = re.sub(r"\b\d{5}\b.*$", "", text)  # postcode and what follows
    text = re.sub(r"\bmarseille\b.*$", "", text)
    text = re.sub(r"^\d+\s*(bis|ter|quater|[a-d])?\s+", "", text.strip())
    text = re.sub(r"^\d+\s+", "", text)  # "12 14 rue ..." (ranges)
    words = [_STREET_TYPES.get(w, w) for w in text.split()]
    return " ".join(words)


def _loose_key(key: str) -> str:
    return " ".join(w for w in key.split() if w not in _STOPWORDS)


class Gazetteer:
    """Street names to positions (the reference ``streets.json`` format:
    a list of ``{"name", "quartier", "centroid": [lon, lat]}``)."""

    def __init__(self, streets: Iterable[dict[str, Any]]) -> None:
        self._exact: dict[str, tuple[float, float]] = {}
        loose: dict[str, list[tuple[float, float]]] = {}
        for street in streets:
            lon, lat = (float(v) for v in street["centroid"])
            key = street_key(str(street["name"]))
            self._exact.setdefault(key, (lat, lon))
            loose.setdefault(_loose_key(key), []).append((lat, lon))
        # A loose key ("rue rome") that two streets share is ambiguous, hence unusable.
        self._loose = {k: v[0] for k, v in loose.items() if len(v) == 1}

    def __len__(self) -> int:
        return len(self._exact)

    @classmethod
    def load(cls, path: Path) -> Gazetteer:
        """Read a gazetteer file, with a clear error when it is not one."""
        check_file(path)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            return cls(data)
        except (ValueError, KeyError, TypeError) as exc:
            raise ImportFileError(
                f"{path}: not a street gazetteer (a JSON list of "
                f'{{"name", "quartier", "centroid": [lon, lat]}}): {exc}'
            ) from exc

    def locate(self, address: str) -> tuple[float, float]:
        """(lat, lon) of the street of an address; RowError when the street is unknown."""
        key = street_key(address)
        if not key:
            raise RowError(f"address {address!r} names no street")
        found = self._exact.get(key) or self._loose.get(_loose_key(key))
        if found is None:
            raise RowError(f"street of {address!r} not found in the street gazetteer")
        return found


@dataclass(frozen=True)
class CitySettings:
    """What positions need from the configuration."""

    bbox: tuple[float, float, float, float] | None
    h3_resolution: int

    @classmethod
    def from_app(cls) -> CitySettings:
        """The settings of the current Flask app."""
        from flask import current_app

        return cls(
            bbox=current_app.config.get("CITY_BBOX"),
            h3_resolution=int(current_app.config.get("H3_RESOLUTION", 8)),
        )


class Locator:
    """Turns positions, addresses and area codes into (lat, lon, area code), or a RowError."""

    def __init__(
        self, *, session: Session, city: CitySettings, gazetteer: Gazetteer | None = None
    ) -> None:
        self.session = session
        self.city = city
        self.gazetteer = gazetteer
        self._areas: dict[str, tuple[float | None, float | None]] = {}
        children: dict[str, list[tuple[float, float]]] = {}
        for area in session.exec(select(Area)):
            self._areas[area.code] = (area.centroid_lat, area.centroid_lon)
            if area.parent_code and area.centroid_lat is not None and area.centroid_lon is not None:
                children.setdefault(area.parent_code, []).append(
                    (area.centroid_lat, area.centroid_lon)
                )
        for parent, points in children.items():
            # An upper level named only as a parent (an arrondissement): its quartiers' mean.
            self._areas.setdefault(
                parent,
                (sum(p[0] for p in points) / len(points), sum(p[1] for p in points) / len(points)),
            )

    def area_of(self, lat: float, lon: float) -> str:
        """The area code of a position inside the city; RowError outside it."""
        if not (-90 <= lat <= 90 and -180 <= lon <= 180):
            raise RowError(f"position ({lat}, {lon}) is not in degrees (latitude, longitude)")
        try:
            return area_for_position(
                session=self.session,
                lat=lat,
                lon=lon,
                bbox=self.city.bbox,
                h3_resolution=self.city.h3_resolution,
            )
        except OutsideCityError as exc:
            raise RowError(str(exc)) from exc

    def address(self, text: str) -> tuple[float, float]:
        """(lat, lon) of an address, with the gazetteer."""
        if self.gazetteer is None:
            raise RowError("an address needs a street gazetteer (--streets FILE)")
        return self.gazetteer.locate(text)

    def area_centroid(self, code: str) -> tuple[float | None, float | None]:
        """The centre of a known area; no position when no areas are loaded; else a RowError."""
        if not self._areas:
            return None, None
        if code not in self._areas:
            raise RowError(f"unknown area code {code!r}")
        return self._areas[code]


# ---------------------------------------------------------------------------------------------
# Summary and rejected rows
# ---------------------------------------------------------------------------------------------


@dataclass
class ImportSummary:
    """What an import did (or, with ``dry_run``, would do)."""

    rows: int = 0
    inserted: int = 0
    updated: int = 0
    duplicates: int = 0
    rejected: int = 0
    rejections: list[Row] = field(default_factory=list)
    skipped: Counter[str] = field(default_factory=Counter)
    committed: bool = False
    dry_run: bool = False
    skip_bad: bool = False
    enqueued_jobs: int = 0
    notes: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        """The summary as lines of text for the terminal."""
        if self.dry_run:
            head = "Dry run, nothing written:"
        elif self.committed:
            head = "Imported:"
        else:
            head = "Nothing imported:"
        out = [
            f"{head} {self.rows} rows read, {self.inserted} inserted, {self.updated} updated, "
            f"{self.rejected} rejected."
        ]
        if self.duplicates:
            out.append(f"{self.duplicates} rows repeated an earlier external id (the last kept).")
        for reason, count in sorted(self.skipped.items()):
            out.append(f"Skipped {count}: {reason}.")
        out.extend(self.notes)
        if self.rejections:
            shown = len(self.rejections)
            more = f" (first {shown} of {self.rejected})" if self.rejected > shown else ""
            out.append(f"Rejected rows{more}:")
            out.extend(f"  {r.where}: {r.reason}" for r in self.rejections)
        if self.rejected and not self.skip_bad and not self.dry_run:
            out.append("The file has bad rows: nothing was written. Fix them, or give --skip-bad.")
        return out


class RejectLog:
    """Rejected rows: the first few kept for the summary, all written to a CSV file if asked."""

    def __init__(self, summary: ImportSummary, path: Path | None) -> None:
        self.summary = summary
        self._fh: IO[str] | None = None
        self._writer: Any = None
        if path is not None:
            self._fh = path.open("w", encoding="utf-8", newline="")
            self._writer = csv.writer(self._fh)
            self._writer.writerow(["file", "line", "last_line", "reason"])

    def add(self, row: Row) -> None:
        """Record one rejected row."""
        self.summary.rejected += 1
        if len(self.summary.rejections) < LISTED_REJECTIONS:
            self.summary.rejections.append(row)
        if self._writer is not None:
            self._writer.writerow([row.file, row.line, row.last_line or row.line, row.reason])

    def close(self) -> None:
        """Close the rejects file."""
        if self._fh is not None:
            self._fh.close()


# ---------------------------------------------------------------------------------------------
# Writing: upserts that work on SQLite and PostgreSQL
# ---------------------------------------------------------------------------------------------


def dialect_insert(session: Session, table: sa.Table) -> Any:
    """``INSERT`` of the session's dialect, which has ``on_conflict_do_update``."""
    name = session.get_bind().dialect.name
    if name == "postgresql":
        return postgresql.insert(table)
    if name == "sqlite":
        return sqlite.insert(table)
    raise ImportFileError(f"imports need SQLite or PostgreSQL, not {name}")


def existing_keys(
    session: Session, table: sa.Table, source_column: str, source: str, keys: Sequence[str]
) -> set[str]:
    """Which external ids of one source are already stored."""
    found: set[str] = set()
    for start in range(0, len(keys), _LOOKUP_CHUNK):
        chunk = list(keys[start : start + _LOOKUP_CHUNK])
        stmt = sa.select(table.c.external_id).where(
            table.c[source_column] == source, table.c.external_id.in_(chunk)
        )
        found.update(str(k) for k in session.execute(stmt).scalars())
    return found


def link_job_id(what: str, ids: Iterable[int]) -> str:
    """The job id of a linking job, derived from its ids (a re-import queues the same job)."""
    return f"link-{what}-{row_hash(sorted(ids))[1:21]}"


class Writer(Protocol):
    """Stores one batch of validated rows (keyed on ``external_id``) in one transaction."""

    def existing(self, keys: Sequence[str]) -> set[str]:
        """Which keys are already stored."""
        ...

    def write(self, batch: list[dict[str, Any]]) -> tuple[int, int, int]:
        """Upsert and commit a batch; return (inserted, updated, jobs enqueued)."""
        ...


INCIDENT_FIELDS = (
    "external_id",
    "kind",
    "occurred_at",
    "lat",
    "lon",
    "address",
    "area_code",
    "count",
    "attributes",
)


class IncidentWriter:
    """Upserts incidents of one source; enqueues their linking in the same transaction."""

    def __init__(self, session: Session, source: str, *, link: bool = True) -> None:
        if not source or len(source) > 64:
            raise ImportFileError("--source must be a name of 1 to 64 characters")
        self.session = session
        self.source = source
        self.link = link
        self.table = SQLModel.metadata.tables["incident"]

    def existing(self, keys: Sequence[str]) -> set[str]:
        """Which external ids of this source are stored."""
        return existing_keys(self.session, self.table, "source", self.source, keys)

    def write(self, batch: list[dict[str, Any]]) -> tuple[int, int, int]:
        """Upsert a batch of incidents and commit it with its linking job."""
        keys = [r["external_id"] for r in batch]
        before = self.existing(keys)
        now = utcnow()
        rows = [
            {"source": self.source, "imported_at": now, **{k: r.get(k) for k in INCIDENT_FIELDS}}
            for r in batch
        ]
        for row in rows:
            row["count"] = 1 if row["count"] is None else row["count"]
            row["attributes"] = row["attributes"] or {}
        stmt = dialect_insert(self.session, self.table)
        stmt = stmt.on_conflict_do_update(
            index_elements=["source", "external_id"],
            set_={name: stmt.excluded[name] for name in (*INCIDENT_FIELDS[1:], "imported_at")},
        ).returning(self.table.c.id)
        try:
            ids = [int(i) for i in self.session.execute(stmt, rows).scalars()]
            messages = []
            if self.link and ids:
                messages.append(
                    outbox.add_job(
                        session=self.session,
                        job_path=LINK_INCIDENTS_JOB,
                        args=[sorted(ids)],
                        job_id=link_job_id("incidents", ids),
                        queue="default",
                    )
                )
            self.session.commit()
        except BaseException:
            self.session.rollback()
            raise
        jobs = len(messages)
        inserted = sum(1 for k in keys if k not in before)
        return inserted, len(keys) - inserted, jobs


# ---------------------------------------------------------------------------------------------
# The engine
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ImportOptions:
    """How to run an import."""

    skip_bad: bool = False
    dry_run: bool = False
    batch_size: int = DEFAULT_BATCH_SIZE
    rejects_path: Path | None = None


ProgressFactory = Callable[[str, int], AbstractContextManager[Progress | None]]


def _no_progress(_label: str, _length: int) -> AbstractContextManager[Progress | None]:
    return nullcontext(None)


def run_import(
    *,
    source: RowSource,
    writer: Writer,
    options: ImportOptions,
    progress: ProgressFactory = _no_progress,
) -> ImportSummary:
    """Validate then write a stream of rows; see the module docstring for the passes.

    Parameters
    ----------
    source
        The parsed file; its ``rows()`` is read once per pass.
    writer
        Stores batches of validated rows (keyed on ``external_id``).
    options
        ``skip_bad`` leaves bad rows out instead of refusing the file; ``dry_run`` only checks.
    progress
        Makes a progress callback (bytes read) for a labelled pass.

    Returns
    -------
    ImportSummary
        Counts, the first rejected rows, and whether anything was committed.
    """
    summary = ImportSummary(dry_run=options.dry_run, skip_bad=options.skip_bad)
    if options.dry_run:
        passes = ["check"]
    elif options.skip_bad:
        passes = ["write"]
    else:
        passes = ["validate", "write"]
    rejects = RejectLog(summary, options.rejects_path)
    try:
        for number, mode in enumerate(passes):
            first = number == 0
            source.skipped.clear()
            label = {"check": "Checking", "validate": "Checking", "write": "Importing"}[mode]
            with progress(label, source.size) as tick:
                _one_pass(source, writer, mode, first, summary, rejects, options, tick)
            if first:
                summary.skipped = Counter(source.skipped)
            if mode == "validate" and summary.rejected:
                break
    finally:
        rejects.close()
    if summary.rows == 0 and not summary.skipped:
        raise ImportFileError("the file has no data rows")
    return summary


def _one_pass(
    source: RowSource,
    writer: Writer,
    mode: str,
    first: bool,
    summary: ImportSummary,
    rejects: RejectLog,
    options: ImportOptions,
    tick: Progress | None,
) -> None:
    batch: dict[str, dict[str, Any]] = {}

    def flush() -> None:
        if not batch:
            return
        values = list(batch.values())
        if mode == "write":
            inserted, updated, jobs = writer.write(values)
            summary.inserted += inserted
            summary.updated += updated
            summary.enqueued_jobs += jobs
            summary.committed = True
        elif mode == "check":
            known = writer.existing(list(batch))
            summary.inserted += len(values) - len(known)
            summary.updated += len(known)
        batch.clear()

    for row in source.rows(tick):
        if first:
            summary.rows += 1
        if row.values is None:
            if first:
                rejects.add(row)
            continue
        key = row.values["external_id"]
        if key in batch and first:
            summary.duplicates += 1
        batch[key] = row.values
        if len(batch) >= options.batch_size:
            flush()
    flush()
