"""Settings, read from the environment only (see README, "Configuration")."""

from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from config.env import env_bool, env_int, env_list, env_rate, env_str

BASE_DIR = Path(__file__).resolve().parent.parent

DEBUG = env_bool("DEBUG", default=False)

# Without DEBUG there is no default: the servers and the Celery worker refuse to
# start (config.env.require_secret_key), while offline commands such as
# makemigrations still run.
SECRET_KEY = env_str("SECRET_KEY") or ("demo-only-insecure-key-never-use-in-production" if DEBUG else "")

ALLOWED_HOSTS = env_list(
    "ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]", "testserver"] if DEBUG else []
)
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

DATABASE_URL = env_str("DATABASE_URL")
REDIS_URL = env_str("REDIS_URL")
# Embedded mode: no services at all, one process, for the demo on a bare machine.
EMBEDDED = REDIS_URL is None

INSTALLED_APPS = [
    "tickets.admin_site.MinhuAdminConfig",  # django.contrib.admin with the hotline's site
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "channels",
    "departments",
    "tickets",
    "feedback",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "config.middleware.BodySizeLimitMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

if DATABASE_URL:
    # Persistent connections: opening one per request costs 5-6x the throughput.
    DATABASES = {
        "default": dj_database_url.parse(
            DATABASE_URL, conn_max_age=env_int("DB_CONN_MAX_AGE", 600), conn_health_checks=True
        )
    }
    # Parameters bound by PostgreSQL, not quoted into the SQL by Python, and each
    # statement a connection runs often prepared once: less CPU on both sides.
    is_postgresql = DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql"
    if is_postgresql and env_bool("DB_SERVER_SIDE_BINDING", True):
        DATABASES["default"]["OPTIONS"] = {"server_side_binding": True}
    if is_postgresql:
        # Django's backend, its health check without a round trip (config/postgresql).
        DATABASES["default"]["ENGINE"] = "config.postgresql"
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": env_str("SQLITE_PATH", str(BASE_DIR / "db.sqlite3")),
            # IMMEDIATE takes the write lock when a transaction begins, so two writers
            # never both read a stale row and then collide.
            "OPTIONS": {"transaction_mode": "IMMEDIATE", "timeout": 20},
        }
    }

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

if REDIS_URL:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# Live updates (tickets.broadcast, tickets.sockets). With Redis, every broadcast to the
# sockets of one ASGI process is one entry in that process's queue (at most
# `WS_PROCESS_CAPACITY`, dropped after `WS_EXPIRY` seconds), then one message in each
# socket's buffer (at most `WS_CAPACITY`, the oldest dropped first). A socket that misses
# a message is told to resync (tickets.sockets.sequence), so an overflow costs a reload.
WS_CAPACITY = env_int("MINHU_WS_CAPACITY", 500, minimum=10)
WS_PROCESS_CAPACITY = env_int("MINHU_WS_PROCESS_CAPACITY", 10000, minimum=100)
WS_EXPIRY = env_int("MINHU_WS_EXPIRY", 60, minimum=5)
if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "tickets.sockets.layer.ChannelLayer",
            "CONFIG": {
                # The read timeout must outlast the layer's 5 s blocking pop.
                "hosts": [{"address": REDIS_URL, "socket_connect_timeout": 2, "socket_timeout": 10}],
                "prefix": "minhu-ws",
                "capacity": WS_CAPACITY,
                # Channels of the form specific.<process>!<socket> share their process's queue.
                "channel_capacity": {"specific.*": WS_PROCESS_CAPACITY},
                "expiry": WS_EXPIRY,
                # A socket's group memberships outlive the longest day on duty.
                "group_expiry": 86400,
                "pool_size": env_int("MINHU_WS_REDIS_POOL", 64, minimum=4),
            },
        }
    }
else:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels.layers.InMemoryChannelLayer",
            "CONFIG": {"capacity": WS_CAPACITY, "expiry": WS_EXPIRY},
        }
    }

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", "简体中文"), ("en", "English")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = env_str("TIME_ZONE", "Asia/Shanghai")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}
WHITENOISE_USE_FINDERS = DEBUG
MEDIA_ROOT = Path(env_str("MEDIA_ROOT", str(BASE_DIR / "media")))

# Closed, rejected and merged tickets are archived (read-only) this many days later.
MINHU_ARCHIVE_AFTER_DAYS = env_int("MINHU_ARCHIVE_AFTER_DAYS", 30, minimum=1)

# 补充材料: a unit may pause a ticket's resolve clock this many times, each for at
# most this many days, while the citizen supplies what is missing.
MINHU_PAUSE_MAX_COUNT = env_int("MINHU_PAUSE_MAX_COUNT", 2, minimum=1)
MINHU_PAUSE_MAX_DAYS = env_int("MINHU_PAUSE_MAX_DAYS", 15, minimum=1)

# 重办: a ticket the citizen rated unsatisfied this many times is flagged to the centre.
MINHU_REOPEN_FLAG_COUNT = env_int("MINHU_REOPEN_FLAG_COUNT", 2, minimum=1)

# Likely duplicates (tickets.duplicates): another open ticket from the same phone within
# this many hours, or of the same category within this many metres or at the same
# address, or with a very similar description, within this many days.
MINHU_DUPLICATE_REPORTER_HOURS = env_int("MINHU_DUPLICATE_REPORTER_HOURS", 24, minimum=1)
MINHU_DUPLICATE_PLACE_DAYS = env_int("MINHU_DUPLICATE_PLACE_DAYS", 7, minimum=1)
MINHU_DUPLICATE_METERS = env_int("MINHU_DUPLICATE_METERS", 300, minimum=10)

# Where citizens open the site: links in SMS are this plus the page's path
# (https://12345.example.gov.cn). Unset, SMS carry the path alone.
MINHU_PUBLIC_URL = env_str("MINHU_PUBLIC_URL", "http://127.0.0.1:8000" if DEBUG else "").rstrip("/")
# The link in a citizen's SMS opens their ticket without its access code this long.
MINHU_TRACKING_LINK_DAYS = env_int("MINHU_TRACKING_LINK_DAYS", 180, minimum=1)

# Notices to units and citizens (tickets.notifications). SMS goes to the gateway at
# MINHU_SMS_GATEWAY_URL when one is set, else to the log; email through Django's mail
# (SMTP at EMAIL_HOST when set, else the console).
MINHU_SMS_GATEWAY_URL = env_str("MINHU_SMS_GATEWAY_URL", "")
MINHU_SMS_GATEWAY_TOKEN = env_str("MINHU_SMS_GATEWAY_TOKEN", "")
# Comments under a citizen's Weibo post go through the Weibo relay when one is set.
MINHU_WEIBO_RELAY_URL = env_str("MINHU_WEIBO_RELAY_URL", "")
MINHU_WEIBO_RELAY_TOKEN = env_str("MINHU_WEIBO_RELAY_TOKEN", "")
MINHU_NOTIFICATION_BACKENDS = {
    "sms": "tickets.notifications.HttpSmsBackend" if MINHU_SMS_GATEWAY_URL
    else "tickets.notifications.LogBackend",
    "weibo": "tickets.notifications.HttpWeiboBackend" if MINHU_WEIBO_RELAY_URL
    else "tickets.notifications.LogBackend",
    "email": "tickets.notifications.EmailBackend",
}
# A failed notice is retried after 30 s, 60 s, 120 s ... (capped at an hour), this many attempts in all.
MINHU_NOTIFY_BACKOFF_SECONDS = env_int("MINHU_NOTIFY_BACKOFF_SECONDS", 30, minimum=1)
MINHU_NOTIFY_MAX_ATTEMPTS = env_int("MINHU_NOTIFY_MAX_ATTEMPTS", 8, minimum=1)
EMAIL_HOST = env_str("EMAIL_HOST", "")
EMAIL_PORT = env_int("EMAIL_PORT", 587, minimum=1)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", True)
EMAIL_TIMEOUT = 10
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "12345@localhost")
EMAIL_BACKEND = (
    "django.core.mail.backends.smtp.EmailBackend" if EMAIL_HOST
    else "django.core.mail.backends.console.EmailBackend"
)

# Intake webhooks (tickets.intake): one shared secret per channel, for the HMAC the
# gateway signs each delivery with. Unset, the channel answers 503 and takes nothing.
# During a rotation give the new and the old secret, comma-separated: either signs.
MINHU_INTAKE_SECRETS = {
    "sms": env_list("MINHU_INTAKE_SECRET_SMS", []),
    "weibo": env_list("MINHU_INTAKE_SECRET_WEIBO", []),
}
for _channel, _secrets in MINHU_INTAKE_SECRETS.items():
    if any(len(_secret) < 16 for _secret in _secrets):
        raise ImproperlyConfigured(f"MINHU_INTAKE_SECRET_{_channel.upper()}: each secret needs 16 characters or more.")
# A signed delivery is taken this many seconds either side of the server's clock.
MINHU_INTAKE_WINDOW_SECONDS = env_int("MINHU_INTAKE_WINDOW_SECONDS", 300, minimum=30)
# Text that arrives with no category (SMS, Weibo) lands in this one until the centre
# or a routing rule gives it a better one; it is created when missing.
MINHU_INTAKE_CATEGORY = env_str("MINHU_INTAKE_CATEGORY", "unclassified")

# Bodies above this are refused with 413 before any parsing (webhooks and API alike).
MINHU_MAX_BODY_BYTES = env_int("MINHU_MAX_BODY_BYTES", 64 * 1024, minimum=1024)
DATA_UPLOAD_MAX_MEMORY_SIZE = MINHU_MAX_BODY_BYTES
# Photos with a report or a reply: each checked to be an image of at most this size.
MINHU_MAX_PHOTOS = env_int("MINHU_MAX_PHOTOS", 4, minimum=0)
MINHU_MAX_PHOTO_BYTES = env_int("MINHU_MAX_PHOTO_BYTES", 5 * 1024 * 1024, minimum=1024)
# Forms that carry photos take bodies up to this size (the photos plus the text).
MINHU_MAX_UPLOAD_BYTES = MINHU_MAX_PHOTOS * MINHU_MAX_PHOTO_BYTES + MINHU_MAX_BODY_BYTES
FILE_UPLOAD_PERMISSIONS = 0o640
# Open311 clients: reports and updates each key may POST (django-ratelimit's count/period).
MINHU_OPEN311_RATE = env_rate("MINHU_OPEN311_RATE", "600/m")
# The public forms are rate-limited per client address. Behind a reverse proxy every
# request comes from the proxy: name the header it sets to the client's address (one it
# overwrites, such as X-Real-IP), or all citizens share one limit.
_client_ip_header = env_str("MINHU_CLIENT_IP_HEADER", "")
if _client_ip_header:
    RATELIMIT_IP_META_KEY = "HTTP_" + _client_ip_header.upper().replace("-", "_")


REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"]
    + (["rest_framework.renderers.BrowsableAPIRenderer"] if DEBUG else []),
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "config.api.exception_handler",
    "DEFAULT_THROTTLE_RATES": {"token": env_str("MINHU_TOKEN_THROTTLE", "10/min")},
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Minhu staff API",
    "DESCRIPTION": "The staff REST API of the Minhu citizen hotline back office.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "ChannelEnum": "tickets.models.Channel",
        "EntryChannelEnum": [("staff", "Staff"), ("phone", "Phone call")],
    },
}

CELERY_BROKER_URL = REDIS_URL or "memory://"
CELERY_RESULT_BACKEND = None
# Embedded mode runs tasks in process, so the demo needs no worker.
CELERY_TASK_ALWAYS_EAGER = EMBEDDED
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TIMEZONE = TIME_ZONE
# With the broker down, a request must not hang on it: publishing gives up within
# about two seconds, the commit stands, and the catch-up sends the notices later.
CELERY_BROKER_CONNECTION_TIMEOUT = 2
# A Redis that accepts the connection and then never answers must not hold a request
# either: every socket read and write to the broker times out.
CELERY_BROKER_TRANSPORT_OPTIONS = {"socket_timeout": 3, "socket_connect_timeout": 2}
CELERY_TASK_PUBLISH_RETRY_POLICY = {"max_retries": 2, "interval_start": 0, "interval_step": 0.5,
                                    "interval_max": 1}
# A red card must follow its deadline within 60 s: sweep twice a minute.
CELERY_BEAT_SCHEDULE = {
    "sla-sweep": {"task": "tickets.tasks.sla_sweep_task", "schedule": 30.0},
    "feedback-expiry": {"task": "tickets.tasks.feedback_expiry_task", "schedule": 300.0},
    "archive": {"task": "tickets.tasks.archive_task", "schedule": 3600.0},
    "notification-catch-up": {"task": "tickets.tasks.notification_sweep_task", "schedule": 60.0},
    # The statistics' rollups follow the event log this far behind (feedback.stats.rollup).
    "stats-catch-up": {"task": "feedback.tasks.stats_catch_up_task", "schedule": 15.0},
    # The tickets at risk now, as the statistics pages show them (feedback.stats.selectors).
    "stats-at-risk": {"task": "feedback.tasks.stats_at_risk_task", "schedule": 30.0},
}

LOGIN_URL = "admin:login"
# A refused citizen form gets a page in plain words; staff pages keep Django's.
CSRF_FAILURE_VIEW = "tickets.citizen.views.csrf_failure"

if not DEBUG:
    SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", True)
    CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", True)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_CONTENT_TYPE_NOSNIFF = True

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "INFO"}},
}
