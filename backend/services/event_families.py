"""The families an event's risk profile counts, and which incidents and reports fall in each.

One place for the grouping, read by the workers (what to count) and by the web (the labels).
An incident's ``kind`` matches a family when it equals one of its ``incident_kinds`` or starts
with it followed by ``:`` (``main_courante`` matches ``main_courante:rixe``); an exact kind
listed under another family wins over a prefix. A report matches by its ``service_code``.
What matches no family is not counted.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Family:
    """A group of incident kinds and report services counted together."""

    code: str
    label_fr: str
    label_en: str
    incident_kinds: tuple[str, ...] = ()
    service_codes: tuple[str, ...] = ()

    def label(self, lang: str) -> str:
        """The label in ``lang`` (French unless ``en``)."""
        return self.label_en if lang == "en" else self.label_fr


FAMILIES: tuple[Family, ...] = (
    Family(
        "public_order",
        "ordre public",
        "public order",
        incident_kinds=(
            "main_courante:rixe",
            "main_courante:agression",
            "main_courante:ivresse",
            "main_courante:trouble",
            "main_courante:vol",
            "transport:agression",
            "public_order",
        ),
        service_codes=("public_order",),
    ),
    Family(
        "noise",
        "bruit",
        "noise",
        incident_kinds=("main_courante:tapage", "noise"),
        service_codes=("noise",),
    ),
    Family(
        "waste",
        "déchets et propreté",
        "waste and litter",
        incident_kinds=("waste", "main_courante:depot"),
        service_codes=("waste_bins", "illegal_dumping"),
    ),
    Family(
        "accidents",
        "accidents de la route",
        "road accidents",
        incident_kinds=("road_accident", "accident"),
    ),
    Family(
        "hospital",
        "admissions aux urgences",
        "hospital admissions",
        incident_kinds=("hospital", "hospital_admission", "urgences"),
    ),
    Family(
        "lighting",
        "éclairage",
        "lighting",
        incident_kinds=("lighting_outage",),
        service_codes=("streetlight",),
    ),
    Family(
        "damage",
        "dégradations",
        "damage",
        incident_kinds=("transport:degradation", "main_courante:degradation"),
        service_codes=("graffiti", "street_furniture", "road_sign", "traffic_signal"),
    ),
)
BY_CODE = {f.code: f for f in FAMILIES}
_EXACT = {kind: f.code for f in FAMILIES for kind in f.incident_kinds}
_SERVICES = {code: f.code for f in FAMILIES for code in f.service_codes}


def incident_family(kind: str) -> str | None:
    """The family of an incident kind (exact match first, then by prefix), or None."""
    if kind in _EXACT:
        return _EXACT[kind]
    head = kind
    while ":" in head:
        head = head.rsplit(":", 1)[0]
        if head in _EXACT:
            return _EXACT[head]
    return None


def report_family(service_code: str | None) -> str | None:
    """The family of a report's service code, or None."""
    return _SERVICES.get(service_code or "")


def family_label(code: str, lang: str) -> str:
    """A family's label in ``lang`` (the code itself when unknown)."""
    family = BY_CODE.get(code)
    return family.label(lang) if family else code
