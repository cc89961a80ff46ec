"""Open311 GeoReport v2, with mySociety's servicerequestupdates extension, as one package.

``catalogue`` (services and their attributes; the default attributes are ``attributes.toml``),
``intake`` (POST requests), ``reading`` (GET requests and tokens), ``updates`` (the extension),
``schemas`` (inputs), ``rendering`` (JSON and XML), ``views`` (the blueprint under /open311/v2/).
"""
