"""Unknown URLs and wrong methods: the site's HTML page for browsers, JSON for programs."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient

BROWSER = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}


def test_an_unknown_url_answers_the_sites_page_to_a_browser_in_french_and_english(
    client: FlaskClient,
) -> None:
    response = client.get("/cette-page-n-existe-pas", headers=BROWSER)
    assert response.status_code == 404 and response.mimetype == "text/html"
    page = response.get_data(as_text=True)
    assert '<html lang="fr">' in page and "Page introuvable" in page
    assert 'href="/signaler"' in page and 'href="/?lang=fr"' in page
    # The public pages' policy: no inline script may run.
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]
    english = client.get("/no-such-page?lang=en", headers=BROWSER)
    text = english.get_data(as_text=True)
    assert english.status_code == 404 and '<html lang="en">' in text
    assert "Page not found" in text and 'href="/signaler?lang=en"' in text


@pytest.mark.parametrize(
    ("path", "headers"),
    [
        ("/api/v1/nothing-here", BROWSER),  # the API stays JSON, even for a browser
        ("/open311/v2/nothing-here", BROWSER),
        ("/no-such-page", {"Accept": "application/json"}),  # a client asking JSON
        ("/no-such-page", {}),  # no preference (curl, scripts): JSON, as before
    ],
)
def test_programs_keep_the_json_error(
    client: FlaskClient, path: str, headers: dict[str, str]
) -> None:
    response = client.get(path, headers=headers)
    assert response.status_code == 404
    assert response.is_json
    body = response.get_json()
    # The API's shape {code, status, message}, or Open311's list of errors.
    assert (body["code"] if isinstance(body, dict) else body[0]["code"]) == 404


def test_a_wrong_method_on_a_page_is_an_html_405_saying_which_methods_work(
    client: FlaskClient,
) -> None:
    response = client.delete("/", headers=BROWSER)
    assert response.status_code == 405 and response.mimetype == "text/html"
    assert "GET" in response.headers["Allow"]
    assert "Signaler un problème" in response.get_data(as_text=True)
    api = client.delete("/api/v1/services", headers=BROWSER)
    assert api.status_code == 405 and api.is_json
