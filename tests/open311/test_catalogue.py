"""The attribute catalogue: ``attributes.toml`` is what GET services/{code} serves by default."""

from __future__ import annotations

import tomllib
from importlib import resources

from flask.testing import FlaskClient

from tests.open311.conftest import BASE, validate


def test_every_default_attribute_is_served_in_the_files_order(client: FlaskClient) -> None:
    text = resources.files("backend.open311").joinpath("attributes.toml").read_text("utf-8")
    catalogue = tomllib.loads(text)
    assert catalogue, "attributes.toml holds no attribute"
    services = {s["service_code"]: s for s in client.get(f"{BASE}/services.json").get_json()}
    for code, attributes in catalogue.items():
        assert services[code]["metadata"] is True
        definition = client.get(f"{BASE}/services/{code}.json?lang=en").get_json()
        validate("service_definition", definition)
        served = definition["attributes"]
        assert [a["code"] for a in served] == [a["code"] for a in attributes]
        for given, row in zip(attributes, served, strict=True):
            assert (row["datatype"], row["required"], row["variable"]) == (
                given["datatype"],
                given["required"],
                given["variable"],
            )
            assert row["description"] == given["description_en"]
            assert [v["key"] for v in row.get("values", [])] == [
                v["key"] for v in given.get("values", [])
            ]


def test_attribute_values_are_checked_against_the_catalogue(
    client: FlaskClient, api_key: str
) -> None:
    form = {"api_key": api_key, "service_code": "road_damage", "lat": "43.2951", "long": "5.3740"}
    missing = client.post(f"{BASE}/requests.json", data=form)
    assert missing.status_code == 400
    assert "attribute[size] is required" in missing.get_json()[0]["description"]
    wrong = client.post(f"{BASE}/requests.json", data={**form, "attribute[size]": "huge"})
    assert wrong.status_code == 400
    assert "'huge' not among large, medium, small" in wrong.get_json()[0]["description"]
    good = client.post(f"{BASE}/requests.json", data={**form, "attribute[size]": "small"})
    assert good.status_code == 201, good.get_data(as_text=True)
