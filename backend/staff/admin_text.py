"""The words of the admin pages, as gettext messages (English here, French in the catalogue)."""

from __future__ import annotations

from backend.staff.pages import N_, NP_, Message

TEXT: dict[str, Message] = {
    "accounts": N_("Staff accounts and roles"),
    "teams": N_("Teams"),
    "keys": N_("Open311 API keys"),
    "services": N_("Service catalogue"),
    "routing": N_("Routing rules"),
    "audit": N_("Audit log"),
    "admin_nav": N_("Administration"),
    "email": N_("E-mail"),
    "role": N_("Role"),
    "team": N_("Team"),
    "department": N_("Department"),
    "services_col": N_("Services"),
    "active": N_("Active"),
    "yes": N_("yes"),
    "no": N_("no"),
    "none": N_("none"),
    "create_account": N_("Create an account"),
    "password_optional": N_("Password (empty: one is generated and shown once)"),
    "create": N_("Create"),
    "save": N_("Save"),
    "disable": N_("Disable"),
    "enable": N_("Enable"),
    "created_password": N_("Account {email} created. Its password, shown this once: {password}"),
    "created_account": N_("Account {email} created with the password you gave."),
    "saved": N_("Saved."),
    "code": N_("Code"),
    "name": N_("Name"),
    "add_team": N_("Add a team"),
    "key_name": N_("Client"),
    "prefix": N_("Key begins with"),
    "rate_limit": N_("Rate limit"),
    "can_post_updates": N_("May post status updates (back office)"),
    "created_at": N_("Created"),
    "revoked": N_("revoked"),
    "revoke": N_("Revoke"),
    "create_key": N_("Create a key"),
    "created_key": N_("Key for {name}, shown this once (give it to the client now): {key}"),
    "name_fr": N_("Name (French)"),
    "name_en": N_("Name (English)"),
    "target_days": N_("Target (days)"),
    "working_days": N_("Working days"),
    "services_help": N_(
        "Target days give each report its due date; with working days, weekends and the "
        "city's public holidays do not count."
    ),
    "service": N_("Service"),
    "area_prefix": N_("Area code begins with (empty: every area)"),
    "area_prefix_short": N_("Area prefix"),
    "priority": N_("Priority"),
    "delete": N_("Delete"),
    "add_rule": N_("Add a rule"),
    "routing_help": N_(
        "When a report's service is known, the most specific rule gives it its team: the "
        "longest matching area prefix, then the highest priority."
    ),
    "every_area": N_("every area"),
    "when": N_("When"),
    "actor": N_("Who"),
    "action": N_("Action"),
    "target": N_("Target"),
    "details": N_("Details"),
    "filter": N_("Filter"),
    "action_prefix": N_("Action (begins with)"),
    "entries": N_("entries"),
    "previous": N_("Previous page"),
    "next": N_("Next page"),
    "page": N_("Page"),
    "read_only": N_("Read-only: nobody can change or delete what is here."),
    "no_rows": NP_("admin", "Nothing yet."),
}

ERRORS: dict[str, Message] = {
    "not_found": N_("This page does not exist."),
    "no_account": N_("No account has this number."),
    "not_yourself": N_("You cannot disable your own account."),
    "target_days": N_("Target days are a whole number of days, from 0 to 365."),
}
