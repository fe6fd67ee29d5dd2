"""Settings shared by every environment. Everything that differs comes from environment variables."""

from __future__ import annotations

import os
from pathlib import Path

import dj_database_url
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent.parent
VAR_DIR = Path(os.environ.get("DEALERCRM_VAR_DIR", BASE_DIR / "var"))


def get_from_env(name: str, default: str | None = None, *, required: bool = False) -> str:
    """Read a setting from the environment; production passes required=True for its secrets."""
    value = os.environ.get(name)
    if value:
        return value
    if required:
        raise RuntimeError(f"Environment variable {name} must be set in production.")
    return default or ""


def env_bool(name: str, default: bool = False) -> bool:
    return os.environ.get(name, str(default)).strip().lower() in {"1", "true", "yes", "on"}


DEBUG = env_bool("DEBUG", False)
SECRET_KEY = get_from_env("SECRET_KEY", "dev-insecure-secret-key-change-me")
# Separate keys: one encrypts ID numbers (Fernet), one makes the keyed hash used for look-ups.
FIELD_ENCRYPTION_KEY = get_from_env(
    "FIELD_ENCRYPTION_KEY", "Zm9yLWRldmVsb3BtZW50LW9ubHktMzItYnl0ZS1rZXk="
)
SEARCH_HASH_KEY = get_from_env("SEARCH_HASH_KEY", "dev-only-hash-key")
ALLOWED_HOSTS = [
    h for h in get_from_env("ALLOWED_HOSTS", "127.0.0.1,localhost,testserver").split(",") if h
]
CSRF_TRUSTED_ORIGINS = [o for o in get_from_env("CSRF_TRUSTED_ORIGINS", "").split(",") if o]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_htmx",
    "template_partials",
    "axes",
    "huey.contrib.djhuey",
    "dealercrm.core",
    "dealercrm.customers",
    "dealercrm.vehicles",
    "dealercrm.search",
    "dealercrm.worklist",
    "dealercrm.messaging",
    "dealercrm.bookings",
    "dealercrm.sales",
    "dealercrm.service",
    "dealercrm.care",
    "dealercrm.feedback",
    "dealercrm.dataquality",
    "dealercrm.demo",
]

MIDDLEWARE = [
    "dealercrm.core.middleware.ServerTimingMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "axes.middleware.AxesMiddleware",
    "dealercrm.core.middleware.DealerScopeMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "dealercrm" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.i18n",
                "dealercrm.core.context_processors.shell",
            ],
        },
    }
]

# Prepared queries (dealercrm.core.prepared) are also prepared on a PostgreSQL server; turn off
# behind a connection pooler in transaction mode that cannot keep them (PgBouncer before 1.21).
DB_PREPARED_STATEMENTS = env_bool("DB_PREPARED_STATEMENTS", True)

# SQLite in var/ by default; PostgreSQL (or any engine dj-database-url knows) when DATABASE_URL is set.
DATABASE_URL = os.environ.get("DATABASE_URL", "")
if DATABASE_URL:
    DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=60)}
else:
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": VAR_DIR / "dealercrm.sqlite3",
            "OPTIONS": {
                # IMMEDIATE takes the write lock at BEGIN, so two writers queue instead of
                # failing with "database is locked" half-way through a transaction.
                "transaction_mode": "IMMEDIATE",
                "timeout": 20,
                "init_command": (
                    "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; "
                    "PRAGMA foreign_keys=ON; PRAGMA cache_size=-65536; PRAGMA mmap_size=1073741824;"
                ),
            },
        }
    }

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "core.User"
LOGIN_URL = "core:login"
LOGIN_REDIRECT_URL = "core:workspace"
LOGOUT_REDIRECT_URL = "core:login"

AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "dealercrm.core.permissions.RoleBackend",
]
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
AXES_FAILURE_LIMIT = 5
AXES_COOLOFF_TIME = 0.25  # hours
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]

LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", _("Simplified Chinese")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "dealercrm" / "locale"]
TIME_ZONE = get_from_env("TIME_ZONE", "Asia/Shanghai")
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "dealercrm" / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}

# Huey: SQLite storage beside the database by default, Redis when REDIS_URL is set.
REDIS_URL = os.environ.get("REDIS_URL", "")

# The cache: Redis when REDIS_URL is set (shared by every process: sessions are then read from
# it, sparing a database query per request); otherwise each process's memory, and sessions stay
# in the database, because a per-process cache would keep a logged-out session alive elsewhere.
if REDIS_URL:
    CACHES = {
        "default": {"BACKEND": "dealercrm.core.redis_cache.RedisCache", "LOCATION": REDIS_URL}
    }
    SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
# The signed-in user's row, cached between requests (core.user_cache); only in a cache every
# process shares, so that a deactivation or a role change is in force everywhere at once.
USER_CACHE_SECONDS = int(os.environ.get("USER_CACHE_SECONDS", "300" if REDIS_URL else "0"))
if REDIS_URL:
    HUEY = {
        "huey_class": "huey.RedisHuey",
        "name": "dealercrm",
        "url": REDIS_URL,
        "immediate": False,
    }
else:
    HUEY = {
        "huey_class": "huey.SqliteHuey",
        "name": "dealercrm",
        "filename": str(VAR_DIR / "huey.sqlite3"),
        "immediate": False,
    }

PHONENUMBER_DEFAULT_REGION = "CN"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": get_from_env("LOG_LEVEL", "WARNING")},
}

NINJA_PAGINATION_PER_PAGE = 50

STATIC_ROOT.mkdir(parents=True, exist_ok=True)

# Messaging. A channel with no provider configured by the dealer's admin uses these: the 'file'
# provider appends each message to a log under MESSAGING_FILE_DIR, so the demo sends nothing.
MESSAGING_DEFAULT_PROVIDERS = {
    "sms": get_from_env("MESSAGING_SMS_PROVIDER", "file"),
    "email": get_from_env("MESSAGING_EMAIL_PROVIDER", "file"),
    "wechat": get_from_env("MESSAGING_WECHAT_PROVIDER", "file"),
    "phone": "phone_task",
    "mail": "mail_export",
}
MESSAGING_FILE_DIR = Path(get_from_env("MESSAGING_FILE_DIR", str(VAR_DIR / "outbox")))
# Base of links put in messages (unsubscribe, surveys): the address customers reach the app at.
SITE_URL = get_from_env("SITE_URL", "http://127.0.0.1:8000")
# Outbox: messages claimed per batch, retries before 'failed', first backoff (doubles each time).
MESSAGING_BATCH_SIZE = int(get_from_env("MESSAGING_BATCH_SIZE", "500"))
MESSAGING_MAX_ATTEMPTS = int(get_from_env("MESSAGING_MAX_ATTEMPTS", "5"))
MESSAGING_RETRY_BASE_SECONDS = int(get_from_env("MESSAGING_RETRY_BASE_SECONDS", "60"))
# The server's own e-mail settings (provider 'django_email'); dealers may set their own SMTP.
EMAIL_HOST = get_from_env("EMAIL_HOST", "localhost")
EMAIL_PORT = int(get_from_env("EMAIL_PORT", "25"))
EMAIL_HOST_USER = get_from_env("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = get_from_env("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = get_from_env("EMAIL_USE_TLS", "") == "1"
DEFAULT_FROM_EMAIL = get_from_env("DEFAULT_FROM_EMAIL", "noreply@dealercrm.local")

# Data quality. Uploaded import files and finished exports are kept here (per dealer / per
# user sub-directories). Web uploads above IMPORT_MAX_UPLOAD_MB are refused with a message that
# points to the CLI (`dealercrm import`), which streams a file of any size.
IMPORT_DIR = Path(get_from_env("IMPORT_DIR", str(VAR_DIR / "imports")))
EXPORT_DIR = Path(get_from_env("EXPORT_DIR", str(VAR_DIR / "exports")))
IMPORT_MAX_UPLOAD_MB = int(get_from_env("IMPORT_MAX_UPLOAD_MB", "150"))
# Larger uploads go to a temporary file, not memory.
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
