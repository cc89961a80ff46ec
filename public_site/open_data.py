"""Where the open data files are, and under which licence (written by the publication).

The pages serve the files the worker's publication writes (``workers.publication.open_data``)
from this folder; nothing here writes.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

OPEN_DATA_DIR = "public_data"
LICENCE = "Licence Ouverte / Open Licence 2.0 (Etalab)"
LICENCE_URL = "https://www.etalab.gouv.fr/licence-ouverte-open-licence/"


def open_data_path(config: Mapping[str, Any]) -> Path:
    """Where the downloads live: ``LANTERNE_PUBLIC_DATA_PATH``, else ``instance/public_data``."""
    configured = config.get("PUBLIC_DATA_PATH")
    return Path(configured) if configured else Path(config["INSTANCE_PATH"]) / OPEN_DATA_DIR
