"""Small yearly BAAC sets written from code, in the layout of their year (or a wrong one)."""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

PRE_CARAC = [
    "Num_Acc",
    "an",
    "mois",
    "jour",
    "hrmn",
    "lum",
    "agg",
    "int",
    "atm",
    "col",
    "com",
    "adr",
    "gps",
    "lat",
    "long",
    "dep",
]
PRE_LIEUX = [
    "Num_Acc",
    "catr",
    "voie",
    "v1",
    "v2",
    "circ",
    "nbv",
    "pr",
    "pr1",
    "vosp",
    "prof",
    "plan",
    "lartpc",
    "larrout",
    "surf",
    "infra",
    "situ",
    "env1",
]
PRE_VEH = ["Num_Acc", "senc", "catv", "occutc", "obs", "obsm", "choc", "manv", "num_veh"]
PRE_USERS = [
    "Num_Acc",
    "place",
    "catu",
    "grav",
    "sexe",
    "trajet",
    "secu",
    "locp",
    "actp",
    "etatp",
    "an_nais",
    "num_veh",
]
POST_CARAC = [
    "Num_Acc",
    "jour",
    "mois",
    "an",
    "hrmn",
    "lum",
    "dep",
    "com",
    "agg",
    "int",
    "atm",
    "col",
    "adr",
    "lat",
    "long",
]
POST_LIEUX = [
    "Num_Acc",
    "catr",
    "voie",
    "v1",
    "v2",
    "circ",
    "nbv",
    "vosp",
    "prof",
    "pr",
    "pr1",
    "plan",
    "lartpc",
    "larrout",
    "surf",
    "infra",
    "situ",
    "vma",
]
POST_VEH = [
    "Num_Acc",
    "id_vehicule",
    "num_veh",
    "senc",
    "catv",
    "obs",
    "obsm",
    "choc",
    "manv",
    "motor",
    "occutc",
]
POST_USERS = [
    "Num_Acc",
    "id_vehicule",
    "num_veh",
    "place",
    "catu",
    "grav",
    "sexe",
    "an_nais",
    "trajet",
    "secu1",
    "secu2",
    "secu3",
    "locp",
    "actp",
    "etatp",
]


@dataclass
class Accident:
    """One accident of a generated set."""

    num: str
    date: tuple[int, int, int]  # year, month, day
    hrmn: tuple[int, int]
    commune: str
    lat: float
    lon: float
    adr: str
    lum: int = 1
    int_: int = 1
    atm: int = 1
    catv: list[int] = field(default_factory=lambda: [1, 7])
    grav: list[int] = field(default_factory=lambda: [4, 1])


def write_set(
    folder: Path,
    year: int,
    accidents: list[Accident],
    *,
    layout: str | None = None,
    encoding: str | None = None,
) -> Path:
    """Write caracteristiques/lieux/vehicules/usagers-YEAR.csv; return the caracteristiques."""
    folder.mkdir(parents=True, exist_ok=True)
    layout = layout or ("post" if year >= 2019 else "pre")
    post = layout == "post"
    encoding = encoding or ("utf-8" if post else "latin-1")
    delimiter = ";" if post else ","
    quoting: Literal[0, 1, 2, 3] = csv.QUOTE_ALL if post else csv.QUOTE_MINIMAL
    carac, lieux, veh, users = [], [], [], []
    for a in accidents:
        y, m, d = a.date
        h, mi = a.hrmn
        if post:
            carac.append(
                {
                    "Num_Acc": a.num,
                    "jour": d,
                    "mois": f"{m:02d}",
                    "an": y,
                    "hrmn": f"{h:02d}:{mi:02d}",
                    "lum": a.lum,
                    "dep": a.commune[:2],
                    "com": a.commune,
                    "agg": 2,
                    "int": a.int_,
                    "atm": a.atm,
                    "col": 3,
                    "adr": a.adr,
                    "lat": f"{a.lat:.7f}".replace(".", ","),
                    "long": f"{a.lon:.7f}".replace(".", ","),
                }
            )
        else:
            carac.append(
                {
                    "Num_Acc": a.num,
                    "an": y % 100,
                    "mois": m,
                    "jour": d,
                    "hrmn": h * 100 + mi,
                    "lum": a.lum,
                    "agg": 2,
                    "int": a.int_,
                    "atm": a.atm,
                    "col": 3,
                    "com": a.commune[2:],
                    "adr": a.adr,
                    "gps": "M",
                    "lat": round(a.lat * 100_000),
                    "long": round(a.lon * 100_000),
                    "dep": a.commune[:2] + "0",
                }
            )
        lieux.append({"Num_Acc": a.num, "catr": 4, "circ": 2, "situ": 1, "surf": 1, "plan": 1})
        for n, catv in enumerate(a.catv):
            veh.append({"Num_Acc": a.num, "num_veh": f"A0{n + 1}", "catv": catv, "id_vehicule": n})
        for n, grav in enumerate(a.grav):
            users.append(
                {
                    "Num_Acc": a.num,
                    "num_veh": f"A0{n % len(a.catv) + 1}",
                    "grav": grav,
                    "catu": 1,
                    "id_vehicule": n % len(a.catv),
                }
            )
    columns = (
        [POST_CARAC, POST_LIEUX, POST_VEH, POST_USERS]
        if post
        else [PRE_CARAC, PRE_LIEUX, PRE_VEH, PRE_USERS]
    )
    names = ["caracteristiques", "lieux", "vehicules", "usagers"]
    for name, header, rows in zip(names, columns, [carac, lieux, veh, users], strict=True):
        with (folder / f"{name}-{year}.csv").open("w", encoding=encoding, newline="") as fh:
            writer = csv.DictWriter(
                fh, fieldnames=header, delimiter=delimiter, quoting=quoting, restval=""
            )
            writer.writeheader()
            for row in rows:
                writer.writerow({k: v for k, v in row.items() if k in header})
    return folder / f"caracteristiques-{year}.csv"


def marseille_2017() -> list[Accident]:
    """Two accidents in Marseille and one in Paris, 2017."""
    return [
        Accident(
            "201700000101",
            (2017, 7, 14),
            (22, 30),
            "13201",
            43.29352,
            5.38337,
            "Cours Julien (près de la République)",
            lum=5,
            int_=2,
            catv=[7, 1],
            grav=[1, 3],
        ),
        Accident(
            "201700000102",
            (2017, 11, 3),
            (9, 5),
            "13206",
            43.28898,
            5.38196,
            "Rue de Rome",
            lum=1,
            int_=1,
            catv=[1],
            grav=[4],
        ),
        Accident("201700000103", (2017, 5, 1), (12, 0), "75101", 48.8606, 2.3376, "Rue de Rivoli"),
    ]


def marseille_2020() -> list[Accident]:
    """Two accidents in Marseille and one in Aix-en-Provence, 2020."""
    return [
        Accident(
            "202000000201",
            (2020, 1, 15),
            (8, 5),
            "13206",
            43.29029,
            5.37782,
            "Place Estrangin Pastré, côté préfecture",
            lum=1,
            int_=3,
            catv=[50, 7],
            grav=[2, 1],
        ),
        Accident(
            "202000000202",
            (2020, 12, 24),
            (18, 45),
            "13201",
            43.29352,
            5.38337,
            "Cours Julien",
            lum=3,
            int_=6,
            catv=[80],
            grav=[4],
        ),
        Accident("202000000203", (2020, 6, 2), (10, 0), "13001", 43.5283, 5.4497, "Cours Mirabeau"),
    ]
