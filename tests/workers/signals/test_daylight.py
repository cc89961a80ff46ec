"""Civil dawn and dusk: the sun against the BAAC lighting field of real accidents."""

from __future__ import annotations

import datetime as dt

from tests.workers.signals.baac_accidents import baac_accidents, needs_marseille
from workers.signals.daylight import civil_twilight_utc

UTC = dt.UTC


@needs_marseille
def test_sun_agrees_with_baac_lighting_field() -> None:
    accidents = baac_accidents()
    assert len(accidents) == 233
    lat, lon = 43.29, 5.38
    agree = total = 0
    for inc, lum in accidents:
        if lum == 2:  # dusk or dawn: either side
            continue
        dawn, dusk = civil_twilight_utc(inc.occurred_at.astimezone(UTC).date(), lat, lon)
        sun_night = not (dawn <= inc.occurred_at < dusk)
        agree += sun_night == inc.night
        total += 1
    assert agree / total >= 0.9
