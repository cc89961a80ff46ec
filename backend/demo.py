"""A realistic demo data set: reports over a year with daily, weekly and seasonal rhythms.

Everything is generated here (seeded), in French and English, so that every page and job has
something to show on a fresh machine. No real person is in it.
"""

from __future__ import annotations

import json
import math
import random
import secrets
from collections.abc import Callable
from datetime import datetime, timedelta

from shapely.geometry import Point, shape
from sqlmodel import Session, col, select

from backend.db import utcnow
from backend.demo_casework import add_casework_demo
from backend.models import (
    Area,
    Report,
    ReportStatus,
    ReportUpdate,
    RoutingRule,
    Service,
    StaffUser,
    Team,
)
from backend.services.assignment import deadline_settings, due_date, route_team
from backend.services.catalogue import DEFAULT_SERVICES
from backend.services.staff import create_staff, generate_password, get_staff_by_email

# code: (share of reports, French texts, English texts, night-time share)
TEXTS: dict[str, tuple[float, list[str], list[str], float]] = {
    "streetlight": (
        0.14,
        [
            "Lampadaire éteint depuis {n} jours {place}",
            "L'éclairage public ne marche plus {place}, c'est tout noir le soir",
            "lampadaire qui clignote toute la nuit {place}",
            "Plus de lumière {place}, on ne voit rien en rentrant",
        ],
        ["Street light out {place_en}", "The lamp post has been flickering for {n} days"],
        0.55,
    ),
    "traffic_signal": (
        0.05,
        [
            "Feu tricolore bloqué au rouge {place}",
            "Le feu piéton ne passe plus au vert {place}",
            "feu orange clignotant depuis ce matin au carrefour",
        ],
        ["Traffic light stuck on red {place_en}", "Pedestrian signal not working"],
        0.2,
    ),
    "road_sign": (
        0.04,
        [
            "Panneau stop arraché {place}",
            "Le panneau sens interdit est tourné, les voitures se trompent",
            "panneau de limitation tombé par terre",
        ],
        ["Stop sign knocked down {place_en}", "Road sign missing at the junction"],
        0.1,
    ),
    "road_damage": (
        0.16,
        [
            "Énorme nid de poule {place}, dangereux pour les deux-roues",
            "Trottoir défoncé {place}, une poussette ne passe pas",
            "chaussée affaissée après les travaux {place}",
            "Des pavés descellés sur le trottoir",
        ],
        ["Huge pothole {place_en}", "Broken pavement, dangerous for wheelchairs"],
        0.1,
    ),
    "graffiti": (
        0.07,
        [
            "Tags sur la façade de l'école {place}",
            "Graffitis sur l'abribus, encore",
            "tag injurieux sur le mur {place}",
        ],
        ["Graffiti on the bus shelter", "Offensive tag on a wall {place_en}"],
        0.1,
    ),
    "illegal_dumping": (
        0.15,
        [
            "Dépôt sauvage d'encombrants {place} : matelas, canapé",
            "Gravats abandonnés sur le trottoir {place}",
            "Quelqu'un a encore jeté un frigo {place}",
        ],
        ["Fly-tipping: mattress and sofa dumped {place_en}", "Rubble left on the pavement"],
        0.15,
    ),
    "waste_bins": (
        0.13,
        [
            "Poubelles qui débordent {place}, ça sent très mauvais",
            "Conteneurs pleins depuis {n} jours, les goélands éventrent les sacs",
            "Propreté déplorable {place}, déchets partout",
        ],
        ["Overflowing bins {place_en}", "Litter everywhere, bins not emptied for {n} days"],
        0.1,
    ),
    "abandoned_vehicle": (
        0.04,
        [
            "Voiture épave sans plaques {place} depuis des semaines",
            "Scooter brûlé abandonné {place}",
        ],
        ["Abandoned car without plates {place_en}"],
        0.1,
    ),
    "noise": (
        0.07,
        [
            "Musique très forte tous les soirs {place}",
            "Bruit de chantier dès 6h du matin",
            "Nuisances sonores d'un bar jusqu'à 3h",
        ],
        ["Loud music every night {place_en}", "Construction noise before 7am"],
        0.7,
    ),
    "public_order": (
        0.06,
        [
            "Rodéos de motos tous les soirs {place}",
            "Regroupements bruyants dans le hall, squat {place}",
            "Course de scooters sur la place, c'est dangereux",
        ],
        ["Motorbike rodeos every evening {place_en}", "Squat in the empty building"],
        0.65,
    ),
    "street_furniture": (
        0.04,
        [
            "Banc cassé {place}",
            "Potelet arraché sur le trottoir",
            "Abribus vitre brisée {place}",
        ],
        ["Broken bench {place_en}", "Bus shelter glass smashed"],
        0.15,
    ),
    "water_leak": (
        0.04,
        [
            "Fuite d'eau importante sur la chaussée {place}",
            "Égout bouché, la rue est inondée à chaque pluie",
            "bouche d'égout qui déborde {place}",
        ],
        ["Water leak on the road {place_en}", "Blocked drain, the street floods"],
        0.2,
    ),
    "other": (
        0.01,
        ["Arbre dangereux qui penche sur la route", "Pigeons morts dans le parc"],
        ["Dangerous tree leaning over the road"],
        0.1,
    ),
}

PLACES = [
    "rue de Rome",
    "sur la Canebière",
    "boulevard National",
    "avenue du Prado",
    "rue Paradis",
    "cours Julien",
    "place Castellane",
    "boulevard Baille",
    "chemin du Littoral",
    "rue d'Aubagne",
    "avenue de la Capelette",
    "traverse de la Martine",
    "devant l'école",
    "près du marché",
    "à l'arrêt de bus",
]


# The demo city's teams: (code, name, department). The roads department has two teams, split
# by arrondissement (the routing rules below), to show rules by area.
TEAMS: tuple[tuple[str, str, str], ...] = (
    ("eclairage", "Éclairage public", "lighting"),
    ("voirie-nord", "Voirie Nord (2e, 3e, 13e-16e)", "roads"),
    ("voirie-sud", "Voirie Sud", "roads"),
    ("proprete", "Propreté", "cleanliness"),
    ("police-municipale", "Police municipale", "police_municipale"),
    ("eau", "Eau et assainissement", "water"),
    ("accueil", "Accueil des demandes", "general"),
)
# Arrondissements of the north (INSEE codes 13202, 13203, 13213...13216): the quartiers'
# codes begin with them.
NORTH = ("13202", "13203", "13213", "13214", "13215", "13216")
# Services counted in working days (the roads department works weekdays).
WORKING_DAYS = ("road_damage", "road_sign", "street_furniture", "traffic_signal")
# Demo accounts: (e-mail, role, team, department). Agents work their team's services.
ACCOUNTS: tuple[tuple[str, str, str | None, str | None], ...] = (
    ("agent.voirie@demo.lanterne.fr", "agent", "voirie-sud", None),
    ("agent.proprete@demo.lanterne.fr", "agent", "proprete", None),
    ("agent.eclairage@demo.lanterne.fr", "agent", "eclairage", None),
    ("superviseur.voirie@demo.lanterne.fr", "supervisor", "voirie-nord", "roads"),
    ("analyste@demo.lanterne.fr", "analyst", None, None),
    ("admin@demo.lanterne.fr", "admin", None, None),
)


def demo_organisation(session: Session) -> list[str]:
    """Teams, routing rules and demo accounts, unless the city already has teams.

    Returns lines for the operator: each account created, with its password (shown once).
    """
    if session.exec(select(Team).limit(1)).first() is not None:
        return []
    departments = {code: dept for code, _name, dept in TEAMS}
    for code, name, department in TEAMS:
        session.add(Team(code=code, name=name, department=department))
    session.flush()
    services = list(session.exec(select(Service)))
    for service in services:
        if service.code in WORKING_DAYS:
            service.working_days = True
            session.add(service)
        team = next((c for c, dept in departments.items() if dept == service.department), "accueil")
        if service.department == "roads":
            for prefix in NORTH:
                session.add(
                    RoutingRule(
                        service_code=service.code, area_prefix=prefix, team_code="voirie-nord"
                    )
                )
            team = "voirie-sud"
        session.add(RoutingRule(service_code=service.code, team_code=team))
    session.commit()
    lines = []
    for email, role, account_team, account_department in ACCOUNTS:
        if get_staff_by_email(session=session, email=email) is not None:
            continue
        codes = []
        if role == "agent" and account_team:
            codes = [s.code for s in services if s.department == departments[account_team]]
        password = generate_password()
        create_staff(
            session=session,
            email=email,
            role=role,
            password=password,
            service_codes=codes,
            department=account_department,
            team_code=account_team,
            actor="demo",
        )
        lines.append(f"  {role:<10} {email}  password: {password}")
    return lines


def _timestamp(rng: random.Random, start: datetime, days: int, night_share: float) -> datetime:
    """A time with the city's rhythms: more in summer, fewer on Sundays, day or night."""
    while True:
        day = rng.randrange(days)
        when = start + timedelta(days=day)
        season = 1.0 + 0.25 * math.cos(2 * math.pi * (when.timetuple().tm_yday - 200) / 365)
        weekday = when.weekday()
        week = 0.6 if weekday == 6 else (0.85 if weekday == 5 else 1.0)
        if rng.random() < season * week / 1.25:
            break
    if rng.random() < night_share:
        hour = rng.choice([21, 22, 23, 0, 1, 2, 3, 4, 5])
    else:
        hour = min(20, max(7, int(rng.gauss(13, 3.5))))
    return when.replace(hour=hour, minute=rng.randrange(60), second=rng.randrange(60))


def _area_sampler(
    session: Session, rng: random.Random
) -> Callable[[], tuple[float, float, str | None]]:
    areas = list(session.exec(select(Area)))
    if not areas:
        # No areas loaded: central Marseille, land side; the worker assigns H3 cells.
        def in_bbox() -> tuple[float, float, str | None]:
            return rng.uniform(43.27, 43.34), rng.uniform(5.36, 5.42), None

        return in_bbox
    levels: dict[str, int] = {}
    for area in areas:
        levels[area.level] = levels.get(area.level, 0) + 1
    finest = max(levels, key=lambda lvl: levels[lvl])
    chosen = [a for a in areas if a.level == finest]
    # Uneven adoption of the app: a few quartiers report a lot, many a little.
    weights = [rng.paretovariate(1.5) for _ in chosen]
    shapes = [shape(json.loads(a.geometry)) for a in chosen]

    def sample() -> tuple[float, float, str | None]:
        index = rng.choices(range(len(chosen)), weights=weights)[0]
        geom = shapes[index]
        min_x, min_y, max_x, max_y = geom.bounds
        for _ in range(200):
            x, y = rng.uniform(min_x, max_x), rng.uniform(min_y, max_y)
            if geom.contains(Point(x, y)):
                return y, x, chosen[index].code
        return chosen[index].centroid_lat, chosen[index].centroid_lon, chosen[index].code

    return sample


def demo_steps() -> list[Callable[..., str]]:
    """The demo's further steps, from the packages that declare a ``lanterne.demo`` entry point.

    The web never imports ``workers`` (DESIGN.md); the events calendar, the official
    incidents and the report clusters are written by worker-side code (the importers), which
    joins the demo this way, as worker commands join ``lanterne`` (decision 0015).
    """
    from importlib.metadata import entry_points

    found = sorted(entry_points(group="lanterne.demo"), key=lambda e: e.name)
    return [entry.load() for entry in found]


def generate_demo(
    *,
    session: Session,
    count: int,
    days: int,
    seed: int,
    if_empty: bool = False,
    progress: Callable[[int], None] | None = None,
) -> str:
    """Create ``count`` demo reports over the last ``days`` days; return a summary line."""
    if if_empty and session.exec(select(Report.id).limit(1)).first() is not None:
        return "Reports already exist: demo data not loaded."
    rng = random.Random(seed)
    now = utcnow()
    start = (now - timedelta(days=days)).replace(hour=0, minute=0, second=0, microsecond=0)
    target_days = {s.code: s.target_days for s in DEFAULT_SERVICES}
    codes = list(TEXTS)
    shares = [TEXTS[c][0] for c in codes]
    sample_position = _area_sampler(session, rng)
    accounts = demo_organisation(session)
    settings = deadline_settings()
    catalogue = {s.code: s for s in session.exec(select(Service))}
    routes: dict[tuple[str, str | None], str | None] = {}
    holders = {
        staff.team_code: staff.id
        for staff in session.exec(select(StaffUser).where(col(StaffUser.role) == "agent"))
        if staff.team_code
    }
    fixed = 0
    for index in range(count):
        code = rng.choices(codes, weights=shares)[0]
        _share, fr_texts, en_texts, night = TEXTS[code]
        english = rng.random() < 0.15
        template = rng.choice(en_texts if english else fr_texts)
        place = rng.choice(PLACES)
        text = template.format(n=rng.randint(2, 15), place=place, place_en=f"on {place}")
        created = min(_timestamp(rng, start, days, night), now - timedelta(minutes=5))
        lat, lon, area_code = sample_position()
        report = Report(
            tracking_id=secrets.token_urlsafe(18),
            description=text,
            description_public=text,
            lat=lat,
            lon=lon,
            area_code=area_code,
            service_code=code,
            predicted_code=code,
            confidence=round(rng.uniform(0.6, 0.99), 3),
            language="en" if english else "fr",
            status=ReportStatus.RECEIVED,
            source="demo",
            external_id=f"demo-{seed}-{index}",
            created_at=created,
            updated_at=created,
        )
        # Who works it and by when, as routing would have said at intake.
        # The demo rules name arrondissements (5 characters): one lookup per one.
        key = (code, area_code[:5] if area_code else None)
        if key not in routes:
            routes[key] = route_team(session=session, service_code=code, area_code=area_code)
        report.team_code = routes[key]
        service = catalogue.get(code)
        if service is not None:
            report.due_at = due_date(
                start=created,
                target_days=service.target_days,
                working_days=service.working_days,
                settings=settings,
            )
        # Two open cases in three are held by the team's agent (the rest wait in the team).
        if report.team_code in holders and rng.random() < 0.67:
            report.assignee_id = holders[report.team_code]
        history: list[tuple[ReportStatus, datetime, str | None]] = [
            (ReportStatus.RECEIVED, created, None),
        ]
        # Read by an agent within two days ("open"); the latest ones still wait ("received").
        read_at = created + timedelta(hours=rng.uniform(1, 48))
        if read_at < now:
            history.append((ReportStatus.OPEN, read_at, None))
            report.status = ReportStatus.OPEN
            report.updated_at = read_at
        # Resolution: most things get fixed, in about the service's target time.
        fix_delay = timedelta(days=rng.expovariate(1 / max(1, target_days[code])))
        if report.status == ReportStatus.OPEN and created + fix_delay < now and rng.random() < 0.85:
            in_progress = max(created + fix_delay * rng.uniform(0.2, 0.6), read_at)
            fix_delay = max(fix_delay, in_progress - created)
            fixed_at = created + fix_delay
            history.append((ReportStatus.IN_PROGRESS, in_progress, "Intervention planifiée."))
            history.append((ReportStatus.FIXED, fixed_at, "Réparé par les services de la Ville."))
            report.status = ReportStatus.FIXED
            report.closed_at = fixed_at
            report.updated_at = fixed_at
            fixed += 1
        session.add(report)
        session.flush()
        assert report.id is not None
        for status, when, note in history:
            # The demo's notes are the project's own words, with nothing personal: published
            # as they are (a real note waits for the worker's scrubbing).
            session.add(
                ReportUpdate(
                    report_id=report.id,
                    status=status,
                    public_note=note,
                    public_note_published=note,
                    public_note_removed=[] if note else None,
                    created_at=when,
                )
            )
        if index % 500 == 499:
            session.commit()
        if progress is not None:
            progress(1)
    session.commit()
    casework = add_casework_demo(session=session, rng=rng)
    open_now = session.exec(
        select(Report.id).where(col(Report.source) == "demo", col(Report.closed_at).is_(None))
    ).all()
    lines = [
        f"{count} demo reports over {days} days: {fixed} fixed, {len(open_now)} still open "
        f"(seed {seed}); {casework}."
    ]
    for step in demo_steps():
        lines.append(step(session=session, seed=seed, days=days, now=now))
    if accounts:
        lines.append("Demo staff accounts (log in at /staff/login):\n" + "\n".join(accounts))
    return "\n".join(lines)
