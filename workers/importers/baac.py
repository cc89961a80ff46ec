"""The official French road-accident files (BAAC, ONISR), as ``road_accident`` incidents.

Two inputs:

* the **yearly set** ``caracteristiques``, ``lieux``, ``vehicules`` and ``usagers`` joined on
  ``Num_Acc`` (give the ``caracteristiques`` file or a folder of sets). From 2019 on the files
  are ``;``-separated UTF-8 with decimal-comma degrees; before, ``,``-separated latin-1 with
  degrees x 100000 and the commune split in ``dep`` (``130``) and ``com`` (``201``);
* a **joined extract**, one row per road user (``Num_Acc``, ``catv``, ``grav``... in one file,
  like ``baac_bicycle_accidents_2017-2021.csv``), grouped into one incident per accident
  (its rows must be consecutive).

Only the city's communes are kept (Marseille's arrondissements 13201-13216 by default); other
accidents are skipped and counted. What the detectors and staff need is kept in ``attributes``:
lighting (``lum``, and ``night``), intersection type (``int``), weather (``atm``), collision,
vehicle categories (``catv``), the worst injury (``grav``, ``severity``) and the casualties.

Memory: the yearly set keeps the city's accidents of one year while it reads the three other
files (a few thousand for Marseille, whatever the national file's size); the extract streams.
"""

from __future__ import annotations

from pathlib import Path

from workers.importers.baac_extract import BaacExtract
from workers.importers.baac_labels import MARSEILLE_COMMUNES
from workers.importers.baac_yearly import FILE_PREFIXES, BaacYearly, find_set
from workers.importers.positions import Locator
from workers.importers.rows import ImportFileError


def open_baac(
    path: Path,
    locator: Locator,
    *,
    communes: frozenset[str] = MARSEILLE_COMMUNES,
    encoding: str | None = None,
) -> BaacExtract | BaacYearly:
    """The right reader for a path: a folder of yearly sets, a ``caracteristiques`` file, or a
    joined extract (told apart by its name and header)."""
    if not path.exists():
        raise ImportFileError(f"{path}: no such file or folder")
    if path.is_dir():
        caracs = sorted(
            p
            for p in path.iterdir()
            if p.is_file()
            and p.suffix.lower() == ".csv"
            and p.name.lower().startswith(FILE_PREFIXES["caracteristiques"])
        )
        if not caracs:
            raise ImportFileError(f"{path}: no caracteristiques-YEAR.csv file in this folder")
        return BaacYearly(
            [find_set(c) for c in caracs], locator, communes=communes, encoding=encoding
        )
    if path.name.lower().startswith(FILE_PREFIXES["caracteristiques"]):
        return BaacYearly([find_set(path)], locator, communes=communes, encoding=encoding)
    for kind in ("lieux", "vehicules", "usagers"):
        if path.name.lower().startswith(FILE_PREFIXES[kind]):
            raise ImportFileError(
                f"{path}: a BAAC {kind} file; give its caracteristiques file (the set is read "
                "from there) or the folder"
            )
    return BaacExtract(path, locator, communes=communes, encoding=encoding)
