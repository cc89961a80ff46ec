"""What a publication needs from the configuration."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from public_site.open_data import open_data_path


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

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> PublishSettings:
        """The publication settings of an app's config."""
        return cls(
            threshold=config["MIN_PUBLISHED_COUNT"],
            tz=config["PUBLIC_TIMEZONE"],
            grid=config["PUBLIC_GRID_DEGREES"],
            out_dir=open_data_path(config),
            map_tiles=config["PUBLIC_MAP_TILES"],
            map_attribution=config["PUBLIC_MAP_ATTRIBUTION"] or "",
        )
