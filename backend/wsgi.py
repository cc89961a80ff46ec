"""The WSGI entry point for gunicorn: ``gunicorn backend.wsgi:app``."""

from backend.app import create_app
from backend.config import config_from_env

app = create_app(config_from_env())
