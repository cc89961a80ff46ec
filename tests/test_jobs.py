"""The job registry (``backend/jobs.py``) names work the workers really have."""

from __future__ import annotations

import importlib
import shlex

from backend import jobs
from backend.runtime import procfile_processes


def test_every_registered_job_is_a_function_of_the_workers() -> None:
    for job in jobs.ALL_JOBS:
        module, _, name = job.path.rpartition(".")
        assert module == "workers.jobs", job
        assert callable(getattr(importlib.import_module(module), name, None)), job
        assert job.queue in jobs.QUEUES, job


def test_every_job_of_the_workers_is_registered() -> None:
    workers_jobs = importlib.import_module("workers.jobs")
    registered = {job.path.rpartition(".")[2] for job in jobs.ALL_JOBS}
    entry_points = {
        name
        for name, value in vars(workers_jobs).items()
        if callable(value)
        and getattr(value, "__module__", None) == "workers.jobs"
        and not name.startswith("_")
    }
    assert entry_points - registered <= HELPERS, entry_points - registered


# Functions of workers.jobs that other jobs and the CLI call in-process, never queued.
HELPERS = {"links_in_transaction", "link_report_now", "mark_own_row_done"}


def test_the_procfile_worker_listens_on_every_queue_in_priority_order() -> None:
    words = shlex.split(procfile_processes()["worker"])
    assert tuple(word for word in words if word in jobs.QUEUES) == jobs.QUEUES
