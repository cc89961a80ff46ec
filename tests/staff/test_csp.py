"""Content-Security-Policy of the staff pages: this site's scripts, and the inline ones that
carry the response's nonce."""

from __future__ import annotations

import html
import re
from collections.abc import Callable

from flask.testing import FlaskClient
from sqlmodel import Session

from backend.models import StaffUser
from tests.conftest import scan_signal_in_13203
from tests.public_site.test_csp import directives, scripts_of
from tests.staff.conftest import login


def sign_in(client: FlaskClient, make_staff: Callable[..., StaffUser], role: str) -> None:
    make_staff(f"{role}@ville.example", role)
    assert login(client, f"{role}@ville.example").status_code == 302


def test_staff_pages_carry_a_policy_without_inline_scripts_allowed(
    client: FlaskClient, make_staff: Callable[..., StaffUser]
) -> None:
    response = client.get("/staff/login")
    policy = directives(response.headers["Content-Security-Policy"])
    # No inline script on the login page: no nonce either.
    assert policy["script-src"] == "'self'"
    assert policy["form-action"] == "'self'" and policy["frame-ancestors"] == "'none'"
    assert scripts_of(response.get_data(as_text=True)) == []
    sign_in(client, make_staff, "agent")
    home = client.get("/staff/")
    assert directives(home.headers["Content-Security-Policy"])["script-src"] == "'self'"
    assert client.get("/staff/triage").headers["Content-Security-Policy"]


def test_the_signals_map_scripts_carry_the_nonce_of_their_response(
    client: FlaskClient,
    session: Session,
    marseille_areas: int,
    make_staff: Callable[..., StaffUser],
) -> None:
    scan_signal_in_13203(
        session,
        key="scan:csp",
        observed=12,
        expected=1,
        statistic=20,
        explanation_fr="12 signalements <script>alert(1)</script>",
        explanation_en="12 reports",
    )
    session.commit()
    sign_in(client, make_staff, "analyst")
    nonces = []
    for _ in range(2):
        response = client.get("/staff/signals")
        assert response.status_code == 200
        script_src = directives(response.headers["Content-Security-Policy"])["script-src"]
        match = re.fullmatch(r"'self' 'nonce-([A-Za-z0-9_-]{22})'", script_src)
        assert match, script_src
        nonce = match.group(1)
        nonces.append(nonce)
        # The map is a frame whose document (in srcdoc) inherits the policy.
        srcdoc = re.search(r'srcdoc="([^"]*)"', response.get_data(as_text=True))
        assert srcdoc
        document = html.unescape(srcdoc.group(1))  # the attribute's value, as the browser reads it
        inline = [s for s in scripts_of(document) if not s.get("src")]
        assert inline and all(s.get("nonce") == nonce for s in inline)
        # Leaflet from this site, not from folium's CDNs.
        # (Its URL carries a version, ``?v=<hash>``, for long caching.)
        external = [str(s["src"]).split("?")[0] for s in scripts_of(document) if s.get("src")]
        assert external == ["/static/vendor/leaflet/leaflet.js"]
        # The explanation's markup stays text inside the map's data: no element of its own.
        assert all((s["body"] or "").strip() != "alert(1)" for s in scripts_of(document))
        assert "alert(1)" in document  # still on the map, as its tooltip text
    assert nonces[0] != nonces[1]
