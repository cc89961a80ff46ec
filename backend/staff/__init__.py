"""The staff's server-rendered pages under ``/staff``: login, logout, a landing page, triage.

Pages authenticate with the session cookie set at login; every form carries a CSRF token
(Flask-WTF). The JSON API never reads that cookie (bearer tokens only), so it needs no CSRF
token: CSRF is checked on this blueprint, and on any page decorated with
``backend.auth.staff_page_required``, not app-wide.
"""

from __future__ import annotations

from flask import Flask
from flask_wtf.csrf import CSRFProtect

csrf = CSRFProtect()


def register_staff_pages(app: Flask) -> None:
    """Bind CSRF protection, harden the session cookie and mount the ``/staff`` blueprint."""
    from backend.staff.triage import bp as triage_bp
    from backend.staff.views import bp

    # CSRF is an attack on ambient credentials; only the staff pages have them (the session
    # cookie). Checking every POST app-wide would refuse the residents' and Open311 clients'
    # API calls, so the check is opt-in: the /staff blueprint and staff_page_required.
    app.config.setdefault("WTF_CSRF_CHECK_DEFAULT", False)
    csrf.init_app(app)
    if app.config.get("SESSION_COOKIE_SAMESITE") is None:
        app.config["SESSION_COOKIE_SAMESITE"] = "Lax"
    public_url = str(app.config.get("PUBLIC_BASE_URL") or "")
    if public_url.startswith("https://") and not (app.testing or app.debug):
        app.config["SESSION_COOKIE_SECURE"] = True
    app.register_blueprint(bp)
    app.register_blueprint(triage_bp)
