"""Extensions, created unbound here and bound to an app in ``create_app``."""

from __future__ import annotations

from flask_babel import Babel
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_smorest import Api

from backend.db import Database
from backend.redis_conn import RedisConnection

db = Database()
redis_conn = RedisConnection()
api = Api()
limiter = Limiter(key_func=get_remote_address)
babel = Babel()
