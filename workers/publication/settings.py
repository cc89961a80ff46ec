"""What a publication needs from the configuration."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass
class PublishSettings:
    """What a publication needs from the configuration."""

    threshold: int
    tz: str
    grid: float
    out_dir: Path
    # Base map tiles of the public maps (LANTERNE_PUBLIC_MAP_TILES, ..._ATTRIBUTION).
    map_tiles: str | None = None
    map_attribution: str = ""
