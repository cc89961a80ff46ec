"""The staff's server-rendered pages under ``/staff``: login, logout, a landing page, triage.

Pages authenticate with the session cookie set at login; every form carries a CSRF token
(Flask-WTF). The JSON API never reads that cookie (bearer tokens only), so it needs no CSRF
token: CSRF is checked on this blueprint, and on any page decorated with
``backend.staff.pages.staff_page_required``, not app-wide.
"""

from __future__ import annotations

from flask import Flask, Request
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface
from flask_wtf.csrf import CSRFProtect

csrf = CSRFProtect()

# Paths served to machines: residents' phones, Open311 clients, staff tools with bearer tokens.
STATELESS_PREFIXES = ("/api/", "/open311/")


class PageSessionInterface(SecureCookieSessionInterface):
    """Flask's signed-cookie session, opened only for pages.

    The JSON API and Open311 never read the session cookie (see above). Opening it anyway
    costs each of their requests a signer built, the cookie looked for and the answer checked
    for changes: about 5 % of an intake request's instructions (docs/BENCHMARKS.md). There
    Flask gets its null session instead: it reads as empty, refuses writes with an error, and
    no cookie is ever sent.
    """

    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        """The page's session; None (Flask's null session) on a stateless path."""
        if request.path.startswith(STATELESS_PREFIXES):
            return None
        return super().open_session(app, request)


def register_staff_pages(app: Flask) -> None:
    """Bind CSRF protection, harden the session cookie and mount the ``/staff`` blueprint."""
    from backend.staff.admin import bp as admin_bp
    from backend.staff.casework import bp as casework_bp
    from backend.staff.dashboard import bp as dashboard_bp
    from backend.staff.questionnaires import bp as questionnaires_bp
    from backend.staff.queue_map import bp as map_bp
    from backend.staff.triage import bp as triage_bp
    from backend.staff.views import bp

    # CSRF is an attack on ambient credentials; only the staff pages have them (the session
    # cookie). Checking every POST app-wide would refuse the residents' and Open311 clients'
    # API calls, so the check is opt-in: the /staff blueprint and staff_page_required.
    app.config.setdefault("WTF_CSRF_CHECK_DEFAULT", False)
    csrf.init_app(app)
    app.session_interface = PageSessionInterface()
    if app.config.get("SESSION_COOKIE_SAMESITE") is None:
        app.config["SESSION_COOKIE_SAMESITE"] = "Lax"
    public_url = str(app.config.get("PUBLIC_BASE_URL") or "")
    if public_url.startswith("https://") and not (app.testing or app.debug):
        app.config["SESSION_COOKIE_SECURE"] = True
    app.register_blueprint(bp)
    app.register_blueprint(triage_bp)
    app.register_blueprint(questionnaires_bp)
    app.register_blueprint(casework_bp)
    app.register_blueprint(dashboard_bp)
    app.register_blueprint(map_bp)
    app.register_blueprint(admin_bp)
