"""Co-occurrence detector: exact test, simulations under the null, and the real BAAC file."""

from __future__ import annotations

import datetime as dt
import json
import math

import numpy as np
import pytest
import shapely
from shapely.geometry import box, shape

from tests.workers.signals.baac_accidents import MARSEILLE, PARIS, baac_accidents, needs_marseille
from workers.signals.cooccurrence import (
    Incident,
    LocalProjection,
    Report,
    cooccurrence,
    exact_rate_ratio_test,
)
from workers.signals.daylight import civil_twilight_utc

UTC = dt.UTC


def test_two_poisson_rates_match_r_poisson_test() -> None:
    """R: poisson.test(c(11, 6+8+7), c(800, 1083+1050+878)) (its help page's example).

    Published output: p-value = 0.07967, 95 % CI 0.8584264 4.2772659, rate ratio 1.971488,
    expected count1 = 6.7174.
    """
    res = exact_rate_ratio_test(11, 6 + 8 + 7, 800, 1083 + 1050 + 878)
    assert res.rate_ratio == pytest.approx(1.971488, abs=5e-7)
    assert res.ci_low == pytest.approx(0.8584264, abs=5e-8)
    assert res.ci_high == pytest.approx(4.2772659, abs=5e-8)
    assert res.p_value == pytest.approx(0.07967, abs=5e-6)
    assert res.expected_exposed == pytest.approx(6.7174, abs=5e-5)


def test_strata_without_events_do_not_change_the_test() -> None:
    one = exact_rate_ratio_test(11, 21, 800, 3011)
    two = exact_rate_ratio_test([11, 0], [21, 0], [800, 50], [3011, 90])
    assert two.p_value == pytest.approx(one.p_value)
    assert two.ci_low == pytest.approx(one.ci_low)


def test_stratified_interval_covers_true_ratio() -> None:
    """Exact intervals must cover at least 95 % (up to Monte Carlo error)."""
    rng = np.random.default_rng(7)
    exposed_t = np.array([30.0, 12.0])
    unexposed_t = np.array([400.0, 250.0])
    base = np.array([0.05, 0.12])  # the night rate is higher
    true_rr = 2.5
    sims, covered = 400, 0
    for _ in range(sims):
        a = rng.poisson(base * true_rr * exposed_t)
        b = rng.poisson(base * unexposed_t)
        res = exact_rate_ratio_test(a, b, exposed_t, unexposed_t)
        covered += res.ci_low <= true_rr <= res.ci_high
    coverage = covered / sims
    assert coverage >= 0.95 - 3 * math.sqrt(0.05 * 0.95 / sims)
    assert coverage <= 0.999


def test_stratified_p_value_is_valid_under_the_null() -> None:
    """Under the null, P(p <= 0.05) must not exceed 0.05 (beyond Monte Carlo error)."""
    rng = np.random.default_rng(11)
    exposed_t = np.array([20.0, 8.0])
    unexposed_t = np.array([300.0, 200.0])
    base = np.array([0.1, 0.25])
    p_values = []
    for _ in range(400):
        a = rng.poisson(base * exposed_t)
        b = rng.poisson(base * unexposed_t)
        p_values.append(exact_rate_ratio_test(a, b, exposed_t, unexposed_t).p_value_greater)
    rejections = np.mean(np.array(p_values) <= 0.05)
    assert rejections <= 0.05 + 3 * math.sqrt(0.05 * 0.95 / 400)


# --- the space-time pipeline against a direct simulation ---------------------------------------

REGION = box(5.36, 43.28, 5.40, 43.31)  # about 3.2 km x 3.3 km in Marseille
START = dt.datetime(2021, 1, 1, tzinfo=UTC)
END = dt.datetime(2021, 4, 1, tzinfo=UTC)


def _random_reports(rng: np.random.Generator, n: int) -> list[Report]:
    reports: list[Report] = []
    span = (END - START).total_seconds()
    for _ in range(n):
        lon = rng.uniform(5.36, 5.40)
        lat = rng.uniform(43.28, 43.31)
        opened = START + dt.timedelta(seconds=float(rng.uniform(-5 * 86400, span)))
        length = dt.timedelta(days=float(rng.uniform(1, 25)))
        fixed = None if rng.random() < 0.1 else opened + length
        reports.append(Report(lon, lat, opened, fixed))
    return reports


def _is_night(ts: np.ndarray, lat: float, lon: float) -> np.ndarray:
    out = np.empty(ts.size, dtype=bool)
    for k, t in enumerate(ts):
        when = dt.datetime.fromtimestamp(float(t), UTC)
        dawn, dusk = civil_twilight_utc(when.date(), lat, lon)
        out[k] = not (dawn.timestamp() <= t < dusk.timestamp())
    return out


def test_exposed_share_and_p_value_match_direct_simulation() -> None:
    """Uniform points in space-time land in exposed space-time with the computed share."""
    rng = np.random.default_rng(2021)
    reports = _random_reports(rng, 25)
    radius = 200.0
    # an observed data set: 40 incidents, a third of them put next to open reports
    incidents = []
    for k in range(40):
        if k % 3 == 0:
            r = reports[(k // 3) % len(reports)]
            when = r.opened_at + dt.timedelta(hours=12)
            incidents.append(Incident(r.lon + 0.0005, r.lat, when))
        else:
            secs = float(rng.uniform(0, (END - START).total_seconds()))
            incidents.append(
                Incident(
                    float(rng.uniform(5.36, 5.40)),
                    float(rng.uniform(43.28, 43.31)),
                    START + dt.timedelta(seconds=secs),
                )
            )
    res = cooccurrence(reports, incidents, radius_m=radius, start=START, end=END, region=REGION)
    assert 30 <= res.test.total <= 40

    # direct simulation, with an independent exposure test (plain distances and times)
    proj = LocalProjection(REGION.centroid.x, REGION.centroid.y)
    rx, ry = proj.xy([r.lon for r in reports], [r.lat for r in reports])
    t0, t1 = START.timestamp(), END.timestamp()
    op = np.array([max(r.opened_at.timestamp(), t0) for r in reports])
    fx = np.array([t1 if r.fixed_at is None else r.fixed_at.timestamp() for r in reports])
    m = 60_000
    px = rng.uniform(5.36, 5.40, m)
    py = rng.uniform(43.28, 43.31, m)
    pt = rng.uniform(t0, t1, m)
    x, y = proj.xy(px, py)
    near = (x[:, None] - rx) ** 2 + (y[:, None] - ry) ** 2 <= radius**2
    live = (op <= pt[:, None]) & (pt[:, None] < fx)
    exposed = np.asarray((near & live).any(axis=1), dtype=bool)
    night = _is_night(pt, REGION.centroid.y, REGION.centroid.x)
    for stratum, mask in (("day", ~night), ("night", night)):
        row = next(s for s in res.strata if s.name == stratum)
        share = row.exposed_km2_days / (row.exposed_km2_days + row.unexposed_km2_days)
        sim_share = exposed[mask].mean()
        se = math.sqrt(share * (1 - share) / mask.sum())
        assert abs(sim_share - share) < 4 * se + 1e-4, stratum
    # p-value: place the same number of incidents per stratum uniformly, many times
    n_day = sum(s.exposed_incidents + s.unexposed_incidents for s in res.strata if s.name == "day")
    n_night = res.test.total - n_day
    share_day = exposed[~night].mean()
    share_night = exposed[night].mean()
    draws = rng.binomial(n_day, share_day, 200_000) + rng.binomial(n_night, share_night, 200_000)
    mc_p = float(np.mean(draws >= res.test.observed_exposed))
    assert res.test.p_value_greater == pytest.approx(mc_p, abs=4 * math.sqrt(mc_p / 200_000) + 2e-3)
    assert res.test.observed_exposed >= 10  # most of the planted third
    assert res.test.p_value_greater < 1e-6 and res.test.ci_low > 1


# --- the real BAAC extract ------------------------------------------------------------------------


def _marseille() -> shapely.Geometry:
    with (MARSEILLE / "arrondissements.geojson").open(encoding="utf-8") as fh:
        features = json.load(fh)["features"]
    return shapely.union_all([shape(f["geometry"]) for f in features])


BAAC_START = dt.datetime(2017, 1, 1, tzinfo=PARIS)
BAAC_END = dt.datetime(2022, 1, 1, tzinfo=PARIS)


def _outage_reports(
    rng: np.random.Generator, accidents: list[Incident], region: shapely.Geometry, planted: float
) -> list[Report]:
    """Street-light outage reports: random background, plus some opened before night crashes."""
    reports: list[Report] = []
    minx, miny, maxx, maxy = region.bounds
    span = (BAAC_END - BAAC_START).total_seconds()
    while len(reports) < 150:
        lon, lat = rng.uniform(minx, maxx), rng.uniform(miny, maxy)
        if not shapely.contains_xy(region, lon, lat):
            continue
        opened = BAAC_START + dt.timedelta(seconds=float(rng.uniform(0, span)))
        reports.append(Report(lon, lat, opened, opened + dt.timedelta(days=rng.uniform(3, 30))))
    for inc in accidents:
        if inc.night and rng.random() < planted:
            opened = inc.occurred_at - dt.timedelta(days=float(rng.uniform(1, 20)))
            fixed = inc.occurred_at + dt.timedelta(days=float(rng.uniform(1, 10)))
            ang, dist = rng.uniform(0, 2 * math.pi), rng.uniform(5, 40)
            dlon = dist * math.cos(ang) / (111_320 * math.cos(math.radians(inc.lat)))
            dlat = dist * math.sin(ang) / 110_574
            reports.append(Report(inc.lon + dlon, inc.lat + dlat, opened, fixed))
    return reports


@needs_marseille
def test_baac_planted_outage_effect_is_detected_and_permuted_null_is_not() -> None:
    accidents = [inc for inc, _ in baac_accidents()]
    region = _marseille()
    rng = np.random.default_rng(13)
    reports = _outage_reports(rng, accidents, region, planted=0.4)
    kwargs = {
        "radius_m": 50.0,
        "start": BAAC_START,
        "end": BAAC_END,
        "region": region,
        "night_from_incident": True,
    }
    res = cooccurrence(reports, accidents, **kwargs)
    night = res.per_stratum["night"]
    assert night.rate_ratio > 5 and night.ci_low > 1
    assert night.p_value_greater < 1e-6
    # the planted reports only precede night crashes: the day ratio stays compatible with 1
    assert res.per_stratum["day"].ci_low <= 1.0

    # the self-controlled comparison (same places, other times) sees it too
    sites = cooccurrence(reports, accidents, reference="sites", **kwargs)
    assert sites.per_stratum["night"].ci_low > 1
    assert sites.per_stratum["night"].p_value_greater < 1e-3

    # null: the same reports with their open periods shuffled among them. Reports still sit
    # where crashes happen, so the city-wide comparison is confounded by place; the
    # self-controlled one must not signal.
    order = rng.permutation(len(reports))
    shuffled = [
        Report(r.lon, r.lat, reports[j].opened_at, reports[j].fixed_at)
        for r, j in zip(reports, order, strict=True)
    ]
    null = cooccurrence(shuffled, accidents, reference="sites", **kwargs)
    assert null.per_stratum["night"].p_value_greater > 0.05
    assert null.test.p_value > 0.05
    assert null.test.total == sites.test.total
