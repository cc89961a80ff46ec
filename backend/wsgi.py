"""The WSGI entry point for gunicorn: ``gunicorn backend.wsgi:app``.

On a database that ``lanterne db upgrade`` has not brought up to date it prints one line and
stops instead of answering 500s.
"""

import sys

from backend import migrate
from backend.app import create_app
from backend.config import config_from_env

app = create_app(config_from_env())

if problem := migrate.not_migrated(app.config["DATABASE_URL"]):
    print(f"Lanterne web not started: {problem}", file=sys.stderr)
    # 4 is gunicorn's "App failed to load": its master stops, where any other code would
    # have it boot a new worker again and again.
    sys.exit(4)
