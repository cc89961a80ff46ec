"""The validate-then-commit engine of every import: its passes, rejected rows and the summary.

How "a file with bad rows commits nothing" still streams: without ``skip_bad`` the file is read
twice. The first pass parses and checks every row (dates, positions, codes) and writes nothing;
if any row is bad, the import stops there with the list of bad rows. The second pass parses the
file again and upserts it in batches (5,000 rows by default), one short transaction each, so a
1 GB file never sits in memory nor in one long transaction that would lock SQLite against the
web process. With ``skip_bad`` one pass is enough: bad rows are left out as they come.
"""

from __future__ import annotations

import csv
from collections import Counter
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from workers.importers.rows import ImportFileError, Progress, Row, RowSource
from workers.importers.writers import Writer

DEFAULT_BATCH_SIZE = 5_000
LISTED_REJECTIONS = 20


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
