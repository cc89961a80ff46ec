"""The service catalogue the classifier predicts (DESIGN.md's default Open311 service codes)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Service:
    """One service category: its Open311 code and its French and English names."""

    code: str
    fr: str
    en: str


SERVICES: tuple[Service, ...] = (
    Service("streetlight", "Éclairage public en panne", "Street light out"),
    Service("traffic_signal", "Feu tricolore défectueux", "Traffic signal fault"),
    Service(
        "road_sign",
        "Panneau de signalisation endommagé ou manquant",
        "Damaged or missing road sign",
    ),
    Service(
        "road_damage",
        "Chaussée ou trottoir dégradé (nid-de-poule...)",
        "Pothole, damaged road or pavement",
    ),
    Service("graffiti", "Tags et graffitis", "Graffiti"),
    Service("illegal_dumping", "Dépôt sauvage, encombrants", "Illegal dumping"),
    Service("waste_bins", "Poubelles débordantes, propreté", "Overflowing bins, litter"),
    Service("abandoned_vehicle", "Véhicule abandonné ou épave", "Abandoned vehicle"),
    Service("noise", "Nuisances sonores", "Noise"),
    Service(
        "public_order",
        "Tranquillité publique (rodéos, regroupements, squats...)",
        "Public order, antisocial behaviour",
    ),
    Service("street_furniture", "Mobilier urbain endommagé", "Damaged street furniture"),
    Service("water_leak", "Fuite d'eau, inondation, égout", "Water leak, flooding, drains"),
    Service("other", "Autre", "Other"),
)

SERVICE_CODES: tuple[str, ...] = tuple(s.code for s in SERVICES)
# The fallback category: unknown language, empty text, nothing the catalogue covers.
OTHER = "other"
_BY_CODE = {s.code: s for s in SERVICES}


def is_service_code(code: str) -> bool:
    """Return True if ``code`` is one of the catalogue's service codes."""
    return code in _BY_CODE


def service_name(code: str, lang: str = "fr") -> str:
    """Return the display name of a service code in French (default) or English."""
    service = _BY_CODE[code]
    return service.en if lang == "en" else service.fr
