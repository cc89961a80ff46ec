"""The words of the triage pages (queue, report, punctuality), as gettext messages.

English in the code, French in ``backend/translations`` (see docs/staff.md, "Translations").
"""

from __future__ import annotations

from backend.staff.pages import N_, NP_, Message

TEXT: dict[str, Message] = {
    "heading": N_("Triage queue"),
    "intro": N_(
        "The reports of your services, most urgent first. Priority = uncertainty of the "
        "category + lateness against the service's target + links to official incidents."
    ),
    "needs_triage": N_("Category"),
    "to_triage": N_("to check"),
    "routed": N_("already checked"),
    "service": N_("Service"),
    "area": N_("Quartier (code)"),
    "status": N_("Status"),
    "open_statuses": N_("open"),
    "filter": N_("Filter"),
    "all": N_("all"),
    "count": N_("reports"),
    "none": N_("No report for these filters."),
    "priority": N_("Priority"),
    "uncertainty": N_("uncertainty"),
    "lateness": N_("lateness"),
    "links": N_("links"),
    "report": N_("Report"),
    "received_on": N_("received"),
    "age": N_("age"),
    "days": N_("d"),
    "target": N_("target"),
    "confidence": N_("confidence"),
    "description": N_("Description"),
    "incidents": N_("Linked official incidents"),
    "no_incidents": N_("none"),
    "at": N_("at"),
    "after": N_("after"),
    "before": N_("before"),
    "hours": N_("h"),
    "open": N_("Open"),
    "previous": N_("Previous page"),
    "next": N_("Next page"),
    "page": N_("Page"),
    "saved_category": N_("Category saved (a gold label for the classifier)."),
    "saved_status": N_("Status saved."),
    "detail_heading": N_("Report"),
    "original": N_("The report's text (staff only)"),
    "public_text": N_("Publishable text (personal data removed)"),
    "not_yet": N_("not yet"),
    "address": N_("Address"),
    "address_public": N_("Publishable address"),
    "note_published": N_("Published:"),
    "note_removed": N_("removed:"),
    "note_nothing_removed": N_("nothing removed"),
    "note_pending": N_("being scrubbed: nothing of it is public yet"),
    "position": N_("Position"),
    "photo": N_("Photo"),
    "prediction": N_("Automatic category"),
    "model": N_("model"),
    "hint": N_("Category chosen by the resident"),
    "no_hint": NP_("category", "none"),
    "history": N_("History"),
    "when": N_("Date"),
    "public_note": N_("Public note"),
    "author": N_("Author"),
    "corrections": N_("Category corrections"),
    "correct": N_("Correct the category"),
    "correct_help": N_(
        "Stored as a gold label to retrain the classifier; the report leaves the triage queue."
    ),
    "save_category": N_("Save the category"),
    "change_status": N_("Change the status"),
    "note_help": N_("Read by the resident on their tracking page; required for a rejection."),
    "save_status": N_("Save the status"),
    "no_transition": N_("No status change possible."),
    "contact": N_("The resident's contact details"),
    "has_contact": N_("The resident left contact details."),
    "no_contact": N_("No contact details."),
    "show_contact": N_("Show the contact details (the read is logged)"),
    "email": N_("E-mail"),
    "phone": N_("Phone"),
    "consent": N_("accepts notifications"),
    "back_to_queue": N_("Back to the triage queue"),
    "kind": N_("Kind"),
    "distance": N_("Distance"),
    "lag": N_("Lag"),
    "rule": N_("Rule"),
    "source": N_("Source"),
    "m": N_("m"),
    "colon": N_(":"),
    "received_label": N_("Received"),
    "confidence_label": N_("Confidence"),
    "area_name": N_("Quartier"),
    "search": N_("Search"),
    "search_help": N_("number, tracking id, words of the text or the address"),
    "either": N_("either"),
    "team": N_("Team"),
    "assignee": N_("Assigned to"),
    "nobody": N_("nobody"),
    "due": N_("due"),
    "due_label": N_("Due date"),
    "overdue": N_("overdue"),
    "select_all": N_("Select all the reports of this page"),
    "select": N_("Select"),
    "bulk_heading": N_("Action on the selected reports"),
    "bulk_assign": N_("Assign"),
    "bulk_status": N_("Change the status"),
    "action": N_("Action"),
    "reason": N_("Reason (required to reassign)"),
    "keep_team": N_("(the person's team)"),
    "apply": N_("Apply to the selection"),
    "saved_bulk": N_("Done: {count} reports changed."),
    "saved_filter_done": N_("Filter saved."),
    "save_filter": N_("Save these filters as"),
    "filter_name": N_("Name"),
    "save": N_("Save"),
    "my_filters": N_("My filters"),
    "delete": N_("Delete"),
    "assignment": N_("Assignment"),
    "assign_help": N_("Give the case to a team, to a person, or both."),
    "save_assignment": N_("Save the assignment"),
    "saved_assignment": N_("Assignment saved."),
    "assignments": N_("Internal history of the assignment (never public)"),
    "by": N_("by"),
    "reason_label": N_("reason"),
    "changed_by": N_("Changed meanwhile by {actor} ({when}):"),
    "your_input": N_("Your input is kept below: check it against these changes, then save again."),
    "refused": N_("Refused"),
    "punctuality": N_("Punctuality per team"),
    "punctuality_intro": N_(
        "Reports closed in the last {days} days: on time (by their due date), late, more than "
        "3 times late (they took over three times the time allowed); and the open ones past "
        "their due date."
    ),
    "closed": N_("closed"),
    "on_time": N_("on time"),
    "late": N_("late"),
    "very_late": N_("more than 3x late"),
    "open_overdue": N_("open, overdue"),
    "no_team": N_("no team"),
    "see_overdue": N_("See the overdue reports"),
}

TAB_NAMES: dict[str, Message] = {
    "work": N_("My work"),
    "mine": N_("Assigned to me"),
    "team": N_("My team"),
    "new": NP_("queue tab", "New"),
    "overdue": N_("Overdue"),
    "waiting": N_("Waiting for the resident"),
    "all": NP_("queue tab", "All"),
}

CHANGE_NAMES: dict[str, Message] = {
    "report.status_set": N_("status {from} → {to}"),
    "report.category_corrected": N_("category {from} → {to}"),
    "report.assigned": N_("assignment {from_team} → {to_team}, {to_assignee_email}"),
}

STATUS_NAMES: dict[str, Message] = {
    "received": NP_("report status", "received"),
    "open": NP_("report status", "open"),
    "in_progress": NP_("report status", "in progress"),
    "fixed": NP_("report status", "fixed"),
    "closed": NP_("report status", "closed"),
    "rejected": NP_("report status", "rejected"),
    "duplicate": NP_("report status", "duplicate"),
}

# The worst injury of an accident (BAAC), as linking counts it.
# The kinds of personal data the scrubber removes (``nlp.scrub.KINDS``), as agents read them.
KIND_NAMES: dict[str, str] = {
    "name": N_("name"),
    "phone": N_("phone"),
    "email": N_("e-mail"),
    "address": N_("address"),
    "plate": N_("plate"),
    "iban": N_("IBAN"),
}
SEVERITY_NAMES: dict[str, str] = {
    "killed": N_("killed"),
    "hospitalised": N_("hospitalised"),
    "light_injury": N_("light injury"),
    "unhurt": N_("unhurt"),
}

ERRORS: dict[str, str] = {
    "not_found": N_("No report has this number."),
    "unknown_service": N_("This service is not in the catalogue."),
    "transition": N_("This status change is not possible from the current status."),
    "received": N_("A report never goes back to 'received'."),
    "duplicate": N_("A duplicate is marked by merging it with the original report."),
    "already": N_("The report already has this status."),
    "note_required": N_("A public note is required for a rejection: say why."),
    "note_too_long": N_("The public note is limited to 2,000 characters."),
    "unknown_status": N_("Unknown status."),
    "changed_meanwhile": N_(
        "Someone changed this report while you had it open: nothing was saved."
    ),
    "bulk_empty": N_("Select at least one report."),
    "bulk_action": N_("Choose an action: assign, or change the status."),
    "bulk_refused": N_(
        "Nothing was changed: {count} selected reports cannot take this action (below)."
    ),
    "filter_name": N_("Give the filter a name."),
    "not_found_report": N_("no such report"),
    "unknown_team": N_("This team does not exist."),
    "unknown_person": N_("This person is not an active agent or supervisor."),
    "person_not_in_team": N_("This person is not in that team."),
    "person_out_of_scope": N_("This person does not work this service."),
    "reason_required": N_("A reason is required to reassign a report."),
    "reason_too_long": N_("The reason is limited to 500 characters."),
    "nothing": N_("The report is already assigned so."),
}
