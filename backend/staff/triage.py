"""The ``/staff/triage`` and ``/staff/reports/<id>`` pages: the triage queue and a report.

A blueprint of its own (``staff_triage``) beside the ``/staff`` pages, sharing their layout
(``render_staff``), their login, their CSRF protection (``staff_page_required``) and their error
pages. Agents and supervisors only, within their scope; everything goes through
``backend.services.triage``, as the JSON API does.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from flask import Blueprint, Response, current_app, redirect, request, url_for
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response as BaseResponse

from backend.api.reports import contact_cipher
from backend.auth import (
    can_read_contacts,
    current_staff,
    harden_page,
    service_scope,
    staff_page_required,
)
from backend.extensions import db, redis_conn
from backend.models import Report, ReportStatus
from backend.services import public_notes, triage
from backend.services.catalogue import list_services
from backend.services.contacts import ContactDetails
from backend.staff import report_view
from backend.staff.views import _error_page, _lang, render_staff

bp = Blueprint("staff_triage", __name__, url_prefix="/staff", template_folder="templates")

PAGE_SIZE = 50
TRIAGE_ROLES = ("agent", "supervisor")

TEXT: dict[str, dict[str, str]] = {
    "fr": {
        "heading": "File de tri",
        "intro": (
            "Les signalements de vos services, les plus urgents d'abord. Priorité = incertitude "
            "du classement + retard sur le délai cible du service + liens avec des incidents "
            "officiels."
        ),
        "needs_triage": "Catégorie",
        "to_triage": "à vérifier",
        "routed": "déjà vérifiée",
        "service": "Service",
        "area": "Quartier (code)",
        "status": "Statut",
        "open_statuses": "ouverts",
        "filter": "Filtrer",
        "all": "tous",
        "count": "signalements",
        "none": "Aucun signalement pour ces filtres.",
        "priority": "Priorité",
        "uncertainty": "incertitude",
        "lateness": "retard",
        "links": "liens",
        "report": "Signalement",
        "received_on": "reçu le",
        "age": "âge",
        "days": "j",
        "target": "délai cible",
        "confidence": "confiance",
        "description": "Description",
        "incidents": "Incidents officiels liés",
        "no_incidents": "aucun",
        "at": "à",
        "after": "après",
        "before": "avant",
        "hours": "h",
        "open": "Ouvrir",
        "previous": "Page précédente",
        "next": "Page suivante",
        "page": "Page",
        "saved_category": "Catégorie enregistrée (étiquette de référence pour le classifieur).",
        "saved_status": "Statut enregistré.",
        "detail_heading": "Signalement",
        "original": "Texte du signalement (réservé au personnel)",
        "public_text": "Texte publiable (données personnelles retirées)",
        "not_yet": "pas encore",
        "address": "Adresse",
        "address_public": "Adresse publiable",
        "note_published": "Publiée :",
        "note_removed": "retiré :",
        "note_nothing_removed": "rien de retiré",
        "note_pending": "en cours de nettoyage : rien n'en est publié pour l'instant",
        "position": "Position",
        "photo": "Photo",
        "prediction": "Classement automatique",
        "model": "modèle",
        "hint": "Catégorie choisie par l'habitant",
        "no_hint": "aucune",
        "history": "Historique",
        "when": "Date",
        "public_note": "Note publique",
        "author": "Auteur",
        "corrections": "Corrections de catégorie",
        "correct": "Corriger la catégorie",
        "correct_help": (
            "Enregistrée comme étiquette de référence pour réentraîner le classifieur ; "
            "le signalement quitte la file de tri."
        ),
        "save_category": "Enregistrer la catégorie",
        "change_status": "Changer le statut",
        "note_help": "Lue par l'habitant sur sa page de suivi ; obligatoire pour un rejet.",
        "save_status": "Enregistrer le statut",
        "no_transition": "Aucun changement de statut possible.",
        "contact": "Coordonnées de l'habitant",
        "has_contact": "L'habitant a laissé des coordonnées.",
        "no_contact": "Aucune coordonnée.",
        "show_contact": "Afficher les coordonnées (lecture journalisée)",
        "email": "E-mail",
        "phone": "Téléphone",
        "consent": "accepte les notifications",
        "back_to_queue": "Retour à la file de tri",
        "kind": "Type",
        "distance": "Distance",
        "lag": "Décalage",
        "rule": "Règle",
        "source": "Source",
        "m": "m",
        "colon": "\u00a0:",
        "received_label": "Reçu le",
        "confidence_label": "Confiance",
    },
    "en": {
        "heading": "Triage queue",
        "intro": (
            "The reports of your services, most urgent first. Priority = uncertainty of the "
            "category + lateness against the service's target + links to official incidents."
        ),
        "needs_triage": "Category",
        "to_triage": "to check",
        "routed": "already checked",
        "service": "Service",
        "area": "Quartier (code)",
        "status": "Status",
        "open_statuses": "open",
        "filter": "Filter",
        "all": "all",
        "count": "reports",
        "none": "No report for these filters.",
        "priority": "Priority",
        "uncertainty": "uncertainty",
        "lateness": "lateness",
        "links": "links",
        "report": "Report",
        "received_on": "received",
        "age": "age",
        "days": "d",
        "target": "target",
        "confidence": "confidence",
        "description": "Description",
        "incidents": "Linked official incidents",
        "no_incidents": "none",
        "at": "at",
        "after": "after",
        "before": "before",
        "hours": "h",
        "open": "Open",
        "previous": "Previous page",
        "next": "Next page",
        "page": "Page",
        "saved_category": "Category saved (a gold label for the classifier).",
        "saved_status": "Status saved.",
        "detail_heading": "Report",
        "original": "The report's text (staff only)",
        "public_text": "Publishable text (personal data removed)",
        "not_yet": "not yet",
        "address": "Address",
        "address_public": "Publishable address",
        "note_published": "Published:",
        "note_removed": "removed:",
        "note_nothing_removed": "nothing removed",
        "note_pending": "being scrubbed: nothing of it is public yet",
        "position": "Position",
        "photo": "Photo",
        "prediction": "Automatic category",
        "model": "model",
        "hint": "Category chosen by the resident",
        "no_hint": "none",
        "history": "History",
        "when": "Date",
        "public_note": "Public note",
        "author": "Author",
        "corrections": "Category corrections",
        "correct": "Correct the category",
        "correct_help": (
            "Stored as a gold label to retrain the classifier; the report leaves the triage queue."
        ),
        "save_category": "Save the category",
        "change_status": "Change the status",
        "note_help": "Read by the resident on their tracking page; required for a rejection.",
        "save_status": "Save the status",
        "no_transition": "No status change possible.",
        "contact": "The resident's contact details",
        "has_contact": "The resident left contact details.",
        "no_contact": "No contact details.",
        "show_contact": "Show the contact details (the read is logged)",
        "email": "E-mail",
        "phone": "Phone",
        "consent": "accepts notifications",
        "back_to_queue": "Back to the triage queue",
        "kind": "Kind",
        "distance": "Distance",
        "lag": "Lag",
        "rule": "Rule",
        "source": "Source",
        "m": "m",
        "colon": ":",
        "received_label": "Received",
        "confidence_label": "Confidence",
    },
}

STATUS_NAMES: dict[str, dict[str, str]] = {
    "fr": {
        "received": "reçu",
        "open": "ouvert",
        "in_progress": "en cours",
        "fixed": "réparé",
        "closed": "clos",
        "rejected": "rejeté",
        "duplicate": "doublon",
    },
    "en": {
        "received": "received",
        "open": "open",
        "in_progress": "in progress",
        "fixed": "fixed",
        "closed": "closed",
        "rejected": "rejected",
        "duplicate": "duplicate",
    },
}

# The worst injury of an accident (BAAC), as linking counts it.
# The kinds of personal data the scrubber removes (``nlp.scrub.KINDS``), as agents read them.
KIND_NAMES: dict[str, dict[str, str]] = {
    "fr": {
        "name": "nom",
        "phone": "téléphone",
        "email": "e-mail",
        "address": "adresse",
        "plate": "plaque",
        "iban": "IBAN",
    },
    "en": {
        "name": "name",
        "phone": "phone",
        "email": "e-mail",
        "address": "address",
        "plate": "plate",
        "iban": "IBAN",
    },
}
SEVERITY_NAMES: dict[str, dict[str, str]] = {
    "fr": {
        "killed": "tué",
        "hospitalised": "blessé hospitalisé",
        "light_injury": "blessé léger",
        "unhurt": "indemne",
    },
    "en": {
        "killed": "killed",
        "hospitalised": "hospitalised",
        "light_injury": "light injury",
        "unhurt": "unhurt",
    },
}

ERRORS: dict[str, dict[str, str]] = {
    "fr": {
        "not_found": "Aucun signalement n'a ce numéro.",
        "unknown_service": "Ce service n'existe pas dans le catalogue.",
        "transition": "Ce changement de statut n'est pas possible depuis le statut actuel.",
        "received": "Un signalement ne revient jamais au statut « reçu ».",
        "duplicate": "Un doublon se marque en le fusionnant avec le signalement d'origine.",
        "already": "Le signalement a déjà ce statut.",
        "note_required": "Une note publique est obligatoire pour un rejet : dites pourquoi.",
        "note_too_long": "La note publique est limitée à 2 000 caractères.",
        "unknown_status": "Statut inconnu.",
    },
    "en": {
        "not_found": "No report has this number.",
        "unknown_service": "This service is not in the catalogue.",
        "transition": "This status change is not possible from the current status.",
        "received": "A report never goes back to 'received'.",
        "duplicate": "A duplicate is marked by merging it with the original report.",
        "already": "The report already has this status.",
        "note_required": "A public note is required for a rejection: say why.",
        "note_too_long": "The public note is limited to 2,000 characters.",
        "unknown_status": "Unknown status.",
    },
}


@bp.after_request
def _harden(response: Response) -> Response:
    # The error pages too, not only those behind staff_page_required.
    return harden_page(response)


@bp.errorhandler(HTTPException)
def _error(error: HTTPException) -> tuple[str, int]:
    # Pages answer with pages (an expired form, a 404...), like the other /staff pages.
    return _error_page(error)


def _lang_args() -> dict[str, Any]:
    lang = request.args.get("lang")
    return {"lang": lang} if lang in ("fr", "en") else {}


def _when(moment: datetime | str | None, lang: str) -> str:
    """A time for staff, in the city's time zone: ``04/03/2024 18:00`` or ``2024-03-04 18:00``."""
    if moment is None:
        return "–"
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    local = moment.astimezone(ZoneInfo(current_app.config.get("PUBLIC_TIMEZONE", "Europe/Paris")))
    return local.strftime("%Y-%m-%d %H:%M" if lang == "en" else "%d/%m/%Y %H:%M")


def _number(value: float | None, lang: str, digits: int = 1) -> str:
    if value is None:
        return "–"
    text = f"{value:.{digits}f}"
    return text.replace(".", ",") if lang == "fr" else text


def _context(lang: str) -> dict[str, Any]:
    return {
        "tr": TEXT[lang],
        "status_names": STATUS_NAMES[lang],
        "severity_names": SEVERITY_NAMES[lang],
        "kind_names": KIND_NAMES[lang],
        "when": lambda moment: _when(moment, lang),
        "num": lambda value, digits=1: _number(value, lang, digits),
        "lang_args": _lang_args(),
    }


def _not_found(lang: str) -> tuple[str, int]:
    # Missing and out-of-scope ids get the same page.
    return render_staff("staff/error.html", code=404, message=ERRORS[lang]["not_found"]), 404


def _flag(value: str | None) -> bool | None:
    return {"1": True, "0": False}.get(value or "1", True)


@bp.route("/triage")
@staff_page_required(*TRIAGE_ROLES)
def queue() -> str:
    """The triage queue (filters: category to check or not, service, quartier, status)."""
    lang = _lang()
    staff = current_staff()
    scope = service_scope(staff, db.session)
    services = [s for s in list_services(session=db.session) if scope is None or s.code in scope]
    service_code = request.args.get("service_code") or None
    status = request.args.get("status") or None
    filters = triage.TriageFilters(
        needs_triage=_flag(request.args.get("needs_triage")),
        service_code=service_code if service_code in {s.code for s in services} else None,
        area_code=(request.args.get("area_code") or "").strip()[:64] or None,
        status=status if status in {s.value for s in ReportStatus} else None,
    )
    page = max(request.args.get("page", 1, type=int) or 1, 1)
    items, total = report_view.triage_queue(
        session=db.session,
        staff=staff,
        filters=filters,
        page=page,
        page_size=PAGE_SIZE,
        lang=lang,
    )
    query: dict[str, Any] = {
        k: v
        for k, v in request.args.items()
        if k in ("needs_triage", "service_code", "area_code", "status", "lang")
    }
    pages = max((total + PAGE_SIZE - 1) // PAGE_SIZE, 1)
    return render_staff(
        "staff/triage.html",
        items=items,
        total=total,
        filters=filters,
        services=[(s.code, s.name(lang)) for s in services],
        statuses=[s.value for s in ReportStatus],
        page=page,
        pages=pages,
        previous_url=url_for("staff_triage.queue", **query, page=page - 1) if page > 1 else None,
        next_url=url_for("staff_triage.queue", **query, page=page + 1) if page < pages else None,
        saved=request.args.get("saved"),
        **_context(lang),
    )


def _detail_page(
    report: Report,
    *,
    contact: ContactDetails | None = None,
    error: str | None = None,
    status: int = 200,
) -> tuple[str, int]:
    lang = _lang()
    view = report_view.staff_view(session=db.session, report=report, lang=lang, contact=contact)
    return (
        render_staff(
            "staff/report.html",
            r=view,
            services=[(s.code, s.name(lang)) for s in list_services(session=db.session)],
            error=error,
            saved=request.args.get("saved"),
            can_read_contacts=can_read_contacts(current_staff()),
            **_context(lang),
        ),
        status,
    )


def _back_to_report(report_id: int) -> BaseResponse:
    # A form's URL opened directly (the language switch of a page answering a POST): the
    # report's own page instead of a 405.
    return redirect(url_for("staff_triage.report", report_id=report_id, **_lang_args()))


def _visible(report_id: int) -> Report | None:
    return triage.visible_report(session=db.session, staff=current_staff(), report_id=report_id)


@bp.route("/reports/<dbint:report_id>")
@staff_page_required(*TRIAGE_ROLES)
def report(report_id: int) -> tuple[str, int]:
    """A report: its words, the classifier's guess, its history, its linked incidents, forms."""
    found = _visible(report_id)
    if found is None:
        return _not_found(_lang())
    return _detail_page(found)


@bp.route("/reports/<dbint:report_id>/category", methods=["GET", "POST"])
@staff_page_required(*TRIAGE_ROLES)
def correct_category(report_id: int) -> BaseResponse | tuple[str, int]:
    """Save the category chosen in the form (a gold label), then back to the queue."""
    if request.method == "GET":
        return _back_to_report(report_id)
    lang = _lang()
    found = _visible(report_id)
    if found is None:
        return _not_found(lang)
    try:
        triage.correct(
            session=db.session,
            report=found,
            service_code=request.form.get("service_code", ""),
            staff=current_staff(),
        )
    except triage.UnknownCategoryError:
        return _detail_page(found, error=ERRORS[lang]["unknown_service"], status=400)
    # The report has left the queue (and perhaps the agent's services): on to the next one.
    return redirect(url_for("staff_triage.queue", saved="category", **_lang_args()))


def _status_error(exc: triage.StatusChangeError, status: str, current: str, lang: str) -> str:
    errors = ERRORS[lang]
    if exc.reason != "transition":
        return errors.get(exc.reason, str(exc))
    if status == current:
        return errors["already"]
    return errors.get(status, errors["transition"])


@bp.route("/reports/<dbint:report_id>/status", methods=["GET", "POST"])
@staff_page_required(*TRIAGE_ROLES)
def change_status(report_id: int) -> BaseResponse | tuple[str, int]:
    """Save the status and public note of the form, then back to the report."""
    if request.method == "GET":
        return _back_to_report(report_id)
    lang = _lang()
    found = _visible(report_id)
    if found is None:
        return _not_found(lang)
    status = request.form.get("status", "")
    if status not in {s.value for s in ReportStatus}:
        return _detail_page(found, error=ERRORS[lang]["unknown_status"], status=422)
    current = found.status
    try:
        update = triage.change_status(
            session=db.session,
            report=found,
            status=status,
            public_note=request.form.get("public_note"),
            staff=current_staff(),
        )
    except triage.StatusChangeError as exc:
        code = 409 if exc.reason == "transition" else 422
        return _detail_page(found, error=_status_error(exc, status, current, lang), status=code)
    if update.public_note and update.id is not None:
        # The report page then shows the note as published and what was removed from it.
        public_notes.wait_until_scrubbed(
            session=db.session,
            connection=redis_conn.client,
            update_id=update.id,
            wait_seconds=current_app.config["CLASSIFY_WAIT_SECONDS"],
        )
    return redirect(
        url_for("staff_triage.report", report_id=report_id, saved="status", **_lang_args())
    )


@bp.route("/reports/<dbint:report_id>/contact", methods=["GET", "POST"])
@staff_page_required(*TRIAGE_ROLES)
def show_contact(report_id: int) -> BaseResponse | tuple[str, int]:
    """The report page with the resident's contact details (a POST: each read is logged)."""
    if request.method == "GET":
        return _back_to_report(report_id)
    found = _visible(report_id)
    if found is None:
        return _not_found(_lang())
    staff = current_staff()
    if not can_read_contacts(staff):
        return _detail_page(found, status=403)
    contact = triage.read_contact_logged(
        session=db.session, cipher=contact_cipher(), report=found, staff=staff
    )
    return _detail_page(found, contact=contact)
