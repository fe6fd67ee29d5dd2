"""Tests: fast hashing, jobs run inline, the same database engine choice as base (DATABASE_URL)."""

import tempfile

from .base import *  # noqa: F403

DEBUG = False
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
HUEY = {**HUEY, "immediate": True}  # noqa: F405
STORAGES["staticfiles"] = {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}  # noqa: F405
AXES_ENABLED = True
# Files of imports and exports made by tests stay out of var/.
IMPORT_DIR = Path(tempfile.gettempdir()) / "dealercrm-test-imports"  # noqa: F405
EXPORT_DIR = Path(tempfile.gettempdir()) / "dealercrm-test-exports"  # noqa: F405
