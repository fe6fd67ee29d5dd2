"""Production: refuses to start without its secrets."""

from .base import *  # noqa: F403
from .base import get_from_env

DEBUG = False
SECRET_KEY = get_from_env("SECRET_KEY", required=True)
FIELD_ENCRYPTION_KEY = get_from_env("FIELD_ENCRYPTION_KEY", required=True)
SEARCH_HASH_KEY = get_from_env("SEARCH_HASH_KEY", required=True)
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
