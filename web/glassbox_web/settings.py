"""Django settings, read once from the environment (prefix ``GLASSBOX_``).

Every ``GLASSBOX_*`` variable is parsed by :mod:`glassbox.config`: the web app's own
(:class:`~glassbox.config.WebSettings`) and, for runtime paths (media, SQLite), the services'
:func:`~glassbox.config.get_settings`, so web, worker and the services agree on ``var_dir``.
A production process without ``GLASSBOX_SECRET_KEY`` refuses to start.
"""

from __future__ import annotations

import re
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from glassbox.config import ConfigError, get_settings, load_web_settings

BASE_DIR = Path(__file__).resolve().parent.parent
SERVICES = get_settings()
VAR_DIR = SERVICES.var_dir
try:
    WEB = load_web_settings()
except ConfigError as exc:  # a bad web setting stops Django like any misconfiguration
    raise ImproperlyConfigured(str(exc)) from exc

DEBUG = WEB.debug

SECRET_KEY = WEB.secret_key
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "GLASSBOX_SECRET_KEY is required (set GLASSBOX_DEBUG=1 for a development key)"
        )
    SECRET_KEY = "glassbox-insecure-development-key-do-not-use-in-production"

ALLOWED_HOSTS = list(WEB.allowed_hosts)
CSRF_TRUSTED_ORIGINS = list(WEB.csrf_trusted_origins)

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "accounts",
    "jobs",
    "media",
    "search",
    "ops",
    "moderation",
]

MIDDLEWARE = [
    "glassbox_web.middleware.ContentSecurityPolicyMiddleware",  # outermost: every response
    "ops.logs.RequestLogMiddleware",  # a request id for the request's log lines (web/ops)
    "ops.metrics.RequestMetricsMiddleware",  # Prometheus: requests by route and status
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "glassbox_web.middleware.TokenForSafeRequestsMiddleware",
    "glassbox_web.middleware.PageLoginRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "glassbox_web.urls"
WSGI_APPLICATION = "glassbox_web.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "accounts.context_processors.roles",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.parse(
        WEB.database_url or f"sqlite:///{VAR_DIR / 'glassbox.sqlite3'}",
        conn_max_age=60,
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    # The demo's SQLite is written by the web processes and the worker at once: WAL lets
    # readers run beside a writer, IMMEDIATE transactions take the write lock up front (no
    # upgrade deadlocks), and writers wait up to 20 s instead of failing at once.
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    DATABASES["default"]["CONN_MAX_AGE"] = 0
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "media:library"
LOGOUT_REDIRECT_URL = "accounts:login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# Static files are served by whitenoise; uploaded media is NOT served publicly. Originals,
# thumbnails and heat maps go through permission-checked views in the media app.
STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
# Serve straight from the app folders too, so the demo works without collectstatic.
WHITENOISE_USE_FINDERS = True
MEDIA_ROOT = VAR_DIR / "media"
MEDIA_URL = "/media-files-are-not-served/"

# Uploads: the body may hold one file up to max_upload_bytes plus form overhead; files above
# 2.5 MB spill to a temporary file instead of memory.
DATA_UPLOAD_MAX_MEMORY_SIZE = 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 2_621_440
DATA_UPLOAD_MAX_NUMBER_FIELDS = 100
FILE_UPLOAD_PERMISSIONS = 0o640

# Security
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_SECURE = not DEBUG
CSRF_COOKIE_SECURE = not DEBUG
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # Token first: unauthenticated API calls answer 401 with WWW-Authenticate.
        "accounts.authentication.ExpiringTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": [
        "rest_framework.parsers.JSONParser",
        "rest_framework.parsers.MultiPartParser",
        "rest_framework.parsers.FormParser",
    ],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 24,
    # drf-spectacular, with the problem answers of every operation (glassbox_web/schema.py)
    "DEFAULT_SCHEMA_CLASS": "glassbox_web.schema.ProblemAutoSchema",
    "EXCEPTION_HANDLER": "glassbox_web.problems.problem_exception_handler",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Glassbox API",
    "DESCRIPTION": "Explainable image indexing and search. Errors are RFC 7807 problems.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAuthenticated"],
    "ENUM_NAME_OVERRIDES": {
        "MediaStatusEnum": "media.models.MediaItem.Status",
        "HealthStatusEnum": ["ok", "down"],
        "HealthDetailStatusEnum": ["ok", "degraded"],
        "FlagStateEnum": "moderation.models.Flag.State",
        "FlagActionEnum": "moderation.models.Flag.Action",
        "EvidenceKindEnum": ["nudity", "concept", "object", "text"],
        "MediaKindEnum": "media.models.MediaItem.Kind",
    },
}

# Login throttling and API tokens (docs/decisions.md, "Issue 9: login throttling and tokens").
# Counters live in the database so that every gunicorn worker and every web replica sees the
# same ones, and they survive a Redis outage: failed logins in accounts.LoginThrottle rows,
# DRF's throttle histories in the database cache (its table is made by a migration).
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.db.DatabaseCache",
        "LOCATION": "glassbox_cache",
        # DRF keeps one entry per client and scope; culling would forget throttle histories
        "OPTIONS": {"MAX_ENTRIES": 100_000},
    }
}
LOGIN_THROTTLE = {
    "FAILURES_PER_USERNAME": WEB.login_failures_per_username,
    "FAILURES_PER_ADDRESS": WEB.login_failures_per_address,
    "WINDOW_S": WEB.login_throttle_window_s,
}
TOKEN_MAX_AGE_DAYS = WEB.token_max_age_days
TOKEN_THROTTLE_RATE = WEB.token_throttle_rate
# Client addresses (throttles, login lockouts): only the last NUM_PROXIES X-Forwarded-For
# hops are trusted; with 0, REMOTE_ADDR alone (DRF would otherwise trust the whole header).
REST_FRAMEWORK["NUM_PROXIES"] = WEB.num_proxies
if not re.fullmatch(r"\d+/(s|sec|second|m|min|minute|h|hour|d|day)", TOKEN_THROTTLE_RATE):
    raise ImproperlyConfigured(
        f"GLASSBOX_TOKEN_THROTTLE_RATE={TOKEN_THROTTLE_RATE!r}: use N/s, N/min, N/hour or N/day"
    )

# Celery: queue ids only; a task is acknowledged after it ran, and redelivered if its worker
# dies. Analysis and indexing scale on their own queues.
REDIS_URL = WEB.redis_url
CELERY_BROKER_URL = REDIS_URL
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# "priority": a worker on several queues takes from them in the order of its -Q (kombu's Redis
# transport BRPOPs them in that order), so the analyze pool ("-Q analyze,reprocess") runs a
# reprocess only when no upload waits.
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600, "queue_order_strategy": "priority"}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
# Media tasks retry with exponential backoff (capped, with jitter) while Triton or Milvus is
# unavailable, and record a failure after the last retry.
MEDIA_TASK_MAX_RETRIES = WEB.task_max_retries
MEDIA_TASK_RETRY_BACKOFF_MAX_S = WEB.task_retry_backoff_max_s
CELERY_TASK_ROUTES = {
    "media.analyze": {"queue": "analyze"},
    "media.index": {"queue": "index"},
    "media.unindex": {"queue": "index"},
    "media.reprocess": {"queue": "reprocess"},  # read by the analyze pool, after analyze
}

# Recovery: leases on items in work, the outbox's dispatcher, the reaper and the index
# reconciler (``manage.py maintain``; docs/decisions.md, "Issue 9").
RECOVERY = {
    "LEASE_S": WEB.lease_s,
    "MAX_INTERRUPTIONS": WEB.max_interruptions,
    "REQUEUE_AFTER_S": WEB.requeue_after_s,
    "OUTBOX_POLL_S": WEB.outbox_poll_s,
    "REAP_INTERVAL_S": WEB.reap_interval_s,
    "RECONCILE_INTERVAL_S": WEB.reconcile_interval_s,
    "CONSISTENCY_INTERVAL_S": WEB.consistency_interval_s,
    "CONSISTENCY_SAMPLE": WEB.consistency_sample,
}

# Moderation (web/moderation): a claim on a flag older than this may be taken over.
MODERATION = {"CLAIM_STALE_S": WEB.moderation_claim_stale_s}

# Operations (web/ops): the scraper's token for /metrics, a worker's own metrics port.
OPS = {"METRICS_TOKEN": WEB.metrics_token, "WORKER_METRICS_PORT": WEB.worker_metrics_port}

# Logs: JSON lines carrying the request, task, item and stage they belong to (ops.logs), or
# the plain line with those fields appended (GLASSBOX_LOG_FORMAT=plain). Celery's worker keeps
# this configuration (ops.signals), so its own lines ("ready.", task received) come out alike.
if WEB.log_format not in ("json", "plain"):
    raise ImproperlyConfigured(f"GLASSBOX_LOG_FORMAT={WEB.log_format!r}: use json or plain")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"()": "ops.logs.PlainFormatter"},
        "json": {"()": "ops.logs.JsonFormatter"},
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": WEB.log_format}},
    "loggers": {
        "celery": {"handlers": ["console"], "level": "INFO", "propagate": False},
        "ops": {"handlers": ["console"], "level": "INFO"},
        "jobs": {"handlers": ["console"], "level": "INFO"},
        "glassbox": {"handlers": ["console"], "level": "INFO"},
        "media": {"handlers": ["console"], "level": "INFO"},
        "search": {"handlers": ["console"], "level": "INFO"},
        "moderation": {"handlers": ["console"], "level": "INFO"},
    },
}
