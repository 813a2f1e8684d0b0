"""Project settings, read from the environment only here.

Every value can be given as an environment variable (or in a `.env` file at the
project root); bad values fail at start-up with a message naming the variable.
"""
from __future__ import annotations

import sys
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)


def _positive_int(name: str, default: int) -> int:
    try:
        value = env.int(name, default=default)
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name} must be a whole number: {exc}") from exc
    if value <= 0:
        raise ImproperlyConfigured(f"{name} must be greater than zero, got {value}")
    return value


def _positive_float(name: str, default: float) -> float:
    try:
        value = env.float(name, default=default)
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name} must be a number: {exc}") from exc
    if value <= 0:
        raise ImproperlyConfigured(f"{name} must be greater than zero, got {value}")
    return value


DEBUG = env.bool("DEBUG", default=False)
SECRET_KEY = env.str("SECRET_KEY", default="dev-only-insecure-key-change-me")
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

# Fernet key(s) encrypting connection secrets at rest. The first key encrypts;
# every key listed decrypts, so keys can be rotated.
# Comma-separated (`new,old`): encrypted_model_fields decrypts with each, encrypts with the first.
FIELD_ENCRYPTION_KEY = env.list("FIELD_ENCRYPTION_KEY", default=[])
if not FIELD_ENCRYPTION_KEY:
    raise ImproperlyConfigured(
        "FIELD_ENCRYPTION_KEY is not set: generate one with "
        "`python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())'` "
        "(scripts/demo.sh writes one into .env for you)"
    )

# `runconsumers` (manage.py or the installed `sf-mongo-sync`) serves no web: it leaves out the
# ASGI server (daphne installs Twisted's reactor on import), django-ninja (the API's static
# files), and the admin's autodiscovery (every admin module and what it imports); its start-up
# is part of every backfill's time. The admin app itself stays: its models are the same.
WORKER_PROCESS = sys.argv[1:2] == ["runconsumers"]
_WEB_ONLY_APPS = {"daphne", "ninja"}

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin.apps.SimpleAdminConfig" if WORKER_PROCESS else "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "encrypted_model_fields",
    "channels",
    "ninja",  # /api/v1/docs serves Swagger UI from django-ninja's static files, not from a CDN
    "connectors",
    "dashboard",
]
if WORKER_PROCESS:
    INSTALLED_APPS = [app for app in INSTALLED_APPS if app not in _WEB_ONLY_APPS]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "syncsite.urls"
ASGI_APPLICATION = "syncsite.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "syncsite" / "templates"],  # inside a package, so the wheel carries it
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "dashboard.context_processors.product",
            ],
        },
    },
]

# SQLite by default; PostgreSQL (or any database) when DATABASE_URL says so.
DATABASES = {
    "default": env.db_url("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'db.sqlite3'}"),
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    Path(DATABASES["default"]["NAME"]).parent.mkdir(parents=True, exist_ok=True)
    # Workers and the web process share the file: wait for locks instead of failing, and take
    # the write lock when a transaction starts, since a read that later upgrades to a write
    # fails at once ("database is locked") if another connection wrote meanwhile.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"timeout": 30, "init_command": "PRAGMA journal_mode=WAL;", "transaction_mode": "IMMEDIATE"}
    )

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
FORMS_URLFIELD_ASSUME_HTTPS = True  # login URLs are https; also Django 6's default

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]
LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
# Daphne serves no static files itself; WhiteNoise does, straight from the apps
# unless `collectstatic` has been run.
WHITENOISE_USE_FINDERS = True

# Alert emails (docs/alerts.md) go through Django's mail settings, given as one URL:
# smtp://user:password@host:587 (STARTTLS with smtp+tls://, TLS with smtp+ssl://).
try:
    vars().update(env.email_url("EMAIL_URL", default="smtp://localhost:25"))
except ImproperlyConfigured as exc:
    raise ImproperlyConfigured(f"EMAIL_URL: {exc} (e.g. smtp+tls://user:password@host:587)") from None
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="sync-alerts@localhost")
EMAIL_SUBJECT_PREFIX = env.str("EMAIL_SUBJECT_PREFIX", default="[sync] ")
# Django waits for a mail server forever by default: an alert must not hang the alerts worker.
EMAIL_TIMEOUT = _positive_float("EMAIL_TIMEOUT", 10.0)

CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)-7s %(name)s: %(message)s"},
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}

# --- Sync defaults. Connection rows in the admin take precedence; these seed the
# default connections (`manage.py setupsync`) and serve the embedded demo.
SYNC = {
    "KAFKA_BOOTSTRAP_SERVERS": env.str("KAFKA_BOOTSTRAP_SERVERS", default="127.0.0.1:9092"),
    "KAFKA_TOPIC_PREFIX": env.str("KAFKA_TOPIC_PREFIX", default="sync"),
    "KAFKA_TOPIC_PARTITIONS": _positive_int("KAFKA_TOPIC_PARTITIONS", 3),
    "KAFKA_REPLICATION_FACTOR": _positive_int("KAFKA_REPLICATION_FACTOR", 1),
    "KAFKA_FETCH_WAIT_MS": _positive_int("KAFKA_FETCH_WAIT_MS", 500),
    "MONGODB_URI": env.str("MONGODB_URI", default="mongodb://127.0.0.1:27017"),
    "MONGODB_DATABASE": env.str("MONGODB_DATABASE", default="salesforce"),
    "SF_LOGIN_URL": env.str("SF_LOGIN_URL", default="https://127.0.0.1:8443"),
    "SF_USERNAME": env.str("SF_USERNAME", default="admin@demo.sfemu"),
    "SF_PASSWORD": env.str("SF_PASSWORD", default="demo-password"),
    "SF_SECURITY_TOKEN": env.str("SF_SECURITY_TOKEN", default="DEMOTOKEN"),
    "SF_CLIENT_ID": env.str("SF_CLIENT_ID", default="sfemu-demo-client"),
    "SF_CLIENT_SECRET": env.str("SF_CLIENT_SECRET", default="sfemu-demo-secret"),
    "SF_API_VERSION": env.str("SF_API_VERSION", default="62.0"),
    # The Pub/Sub API (Change Data Capture, platform events); the emulator prints its own.
    "SF_PUBSUB_ENDPOINT": env.str("SF_PUBSUB_ENDPOINT", default="api.pubsub.salesforce.com:7443"),
    # A CA bundle for orgs behind a private CA (the emulator's); empty = system CAs.
    "SF_CA_BUNDLE": env.str("SF_CA_BUNDLE", default=""),
    "POLL_INTERVAL_SECONDS": _positive_float("SYNC_POLL_INTERVAL_SECONDS", 1.0),
    "APPLY_BATCH_SIZE": _positive_int("SYNC_APPLY_BATCH_SIZE", 1000),
    "CAPTURE_PAGE_SIZE": _positive_int("SYNC_CAPTURE_PAGE_SIZE", 2000),
    # Re-reads (initial load, backfill, CDC fallbacks) read this many records a query, by Id,
    # with live capture running between two chunks: smaller chunks, shorter waits for live edits.
    "REREAD_CHUNK_SIZE": _positive_int("SYNC_REREAD_CHUNK_SIZE", 1000),
    # A re-read of more records than this runs as one Bulk API 2.0 query job (a few API calls
    # per million records); smaller ones stay on REST queries (fewer calls, no job to wait for).
    "BULK_REREAD_THRESHOLD": _positive_int("SYNC_BULK_REREAD_THRESHOLD", 10_000),
    # sf-apply writes a mapping's batch through one Bulk API 2.0 ingest job (a handful of API
    # calls) instead of sObject Collections (a call per 200 records) from this backlog on.
    "BULK_WRITE_THRESHOLD": _positive_int("SYNC_BULK_WRITE_THRESHOLD", 10_000),
    # Records per Bulk API results page (maxRecords): one API call each.
    "BULK_PAGE_SIZE": _positive_int("SYNC_BULK_PAGE_SIZE", 50_000),
    # A re-read of more records than this is split into key ranges (Id ranges) of about this
    # many, which any runconsumers process running sf-capture may read (PK chunking's default).
    "REREAD_RANGE_SIZE": _positive_int("SYNC_REREAD_RANGE_SIZE", 100_000),
    # Records whose SystemModstamp is this close to "now" are re-read on the next
    # poll: a transaction that commits late can carry an earlier stamp.
    "CAPTURE_LOOKBACK_SECONDS": _positive_float("SYNC_CAPTURE_LOOKBACK_SECONDS", 5.0),
    "CLIENT_NAME": env.str("SYNC_CLIENT_NAME", default="sfmongosync"),
    # Salesforce writes pause when API usage reaches this share of the daily limit.
    "API_PAUSE_AT_SHARE": _positive_float("SYNC_API_PAUSE_AT_SHARE", 0.9),
    # Composite calls of one batch sent at once (Salesforce allows 25 concurrent long requests).
    "SALESFORCE_PARALLEL_CALLS": _positive_int("SYNC_SALESFORCE_PARALLEL_CALLS", 4),
    # The schema-watch worker compares each mapping with Salesforce's describe this often.
    "SCHEMA_CHECK_SECONDS": _positive_float("SYNC_SCHEMA_CHECK_SECONDS", 300.0),
    # The alerts worker evaluates the alert rules this often (docs/alerts.md).
    "ALERT_CHECK_SECONDS": _positive_float("SYNC_ALERT_CHECK_SECONDS", 10.0),
    # Record timelines keep this many days of lines.
    "TIMELINE_RETENTION_DAYS": _positive_int("SYNC_TIMELINE_RETENTION_DAYS", 7),
}
