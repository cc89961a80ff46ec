"""Day and night from the sun: civil dawn and dusk, and a clock that splits time between them.

The co-occurrence detector splits space-time into day and night with :class:`DayClock`;
linking tells whether a report was filed at night with :func:`civil_twilight_utc`.
"""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
# zenith angle of the sun at civil dawn and dusk (the sun 6 degrees below the horizon)
CIVIL_TWILIGHT_ZENITH = 96.0


def civil_twilight_utc(day: dt.date, lat: float, lon: float) -> tuple[dt.datetime, dt.datetime]:
    """Civil dawn and dusk (sun 6 degrees below the horizon) in UTC for one day and place.

    Uses NOAA's low-precision solar formulas (the equation of time and declination of
    Spencer, 1971), accurate to a couple of minutes at mid-latitudes. Polar day or night is
    clamped to an all-day or all-night day.
    """
    doy = day.timetuple().tm_yday
    g = 2 * math.pi / 365 * (doy - 1 + 0.5)  # fractional year at noon
    eqtime = 229.18 * (
        0.000075
        + 0.001868 * math.cos(g)
        - 0.032077 * math.sin(g)
        - 0.014615 * math.cos(2 * g)
        - 0.040849 * math.sin(2 * g)
    )
    decl = (
        0.006918
        - 0.399912 * math.cos(g)
        + 0.070257 * math.sin(g)
        - 0.006758 * math.cos(2 * g)
        + 0.000907 * math.sin(2 * g)
        - 0.002697 * math.cos(3 * g)
        + 0.00148 * math.sin(3 * g)
    )
    phi = math.radians(lat)
    cos_ha = math.cos(math.radians(CIVIL_TWILIGHT_ZENITH)) / (
        math.cos(phi) * math.cos(decl)
    ) - math.tan(phi) * math.tan(decl)
    ha = math.degrees(math.acos(min(1.0, max(-1.0, cos_ha))))
    midnight = dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC)
    dawn = midnight + dt.timedelta(minutes=720 - 4 * (lon + ha) - eqtime)
    dusk = midnight + dt.timedelta(minutes=720 - 4 * (lon - ha) - eqtime)
    return dawn, dusk


class DayClock:
    """Cumulative daylight seconds, to split any time interval into day and night."""

    def __init__(self, start: float, end: float, lat: float, lon: float) -> None:
        first = dt.datetime.fromtimestamp(start, dt.UTC).date() - dt.timedelta(days=1)
        last = dt.datetime.fromtimestamp(end, dt.UTC).date() + dt.timedelta(days=1)
        days = [first + dt.timedelta(days=i) for i in range((last - first).days + 1)]
        pairs = [civil_twilight_utc(d, lat, lon) for d in days]
        self.dawn = np.array([p[0].timestamp() for p in pairs])
        self.dusk = np.array([p[1].timestamp() for p in pairs])
        lengths = self.dusk - self.dawn
        self.cum = np.concatenate([[0.0], np.cumsum(lengths)])

    def daylight_before(self, t: npt.ArrayLike) -> FloatArray:
        """Daylight seconds between the clock's origin and each ``t``."""
        tt = np.asarray(t, dtype=np.float64)
        i = np.searchsorted(self.dawn, tt, side="right") - 1
        i = np.clip(i, 0, self.dawn.size - 1)
        partial = np.clip(tt - self.dawn[i], 0.0, self.dusk[i] - self.dawn[i])
        return np.asarray(self.cum[i] + partial, dtype=np.float64)

    def is_night(self, t: npt.ArrayLike) -> npt.NDArray[np.bool_]:
        """Whether each instant lies between dusk and the next dawn."""
        tt = np.asarray(t, dtype=np.float64)
        i = np.clip(np.searchsorted(self.dawn, tt, side="right") - 1, 0, self.dawn.size - 1)
        return np.asarray(~((tt >= self.dawn[i]) & (tt < self.dusk[i])), dtype=bool)
