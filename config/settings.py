"""Settings, read from the environment once.

Every value has a default that runs on SQLite with no setup; production sets
DEBUG=false, SECRET_KEY, ALLOWED_HOSTS, DATABASE_URL and the mail settings.
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent


def env(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool) -> bool:
    """A boolean is only true/false (or 1/0); anything else is a configuration error."""
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    value = raw.strip().lower()
    if value in ("true", "1"):
        return True
    if value in ("false", "0"):
        return False
    raise ImproperlyConfigured(f"{name} must be true or false, not {raw!r}")


def env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a whole number, not {raw!r}") from None


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in env(name, default).split(",") if item.strip()]


DEBUG = env_bool("DEBUG", False)
# Required when DEBUG is off: a production start without a key stops here, before any
# command runs, rather than at the first signed cookie (tests set one in tests/pytest_env.py,
# `make run` runs with DEBUG=true and the development key below).
SECRET_KEY = env("SECRET_KEY")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "SECRET_KEY is not set: with DEBUG=false (production) set SECRET_KEY to a long "
            "random value, or DEBUG=true for local development. / SECRET_KEY fehlt: im "
            "Produktivbetrieb (DEBUG=false) SECRET_KEY auf einen langen Zufallswert setzen, "
            "für die lokale Entwicklung DEBUG=true."
        )
    SECRET_KEY = "insecure-development-key-never-use-in-production"
# old keys, comma-separated, while rotating SECRET_KEY: signed links and the encrypted event
# source secrets made with them stay readable
SECRET_KEY_FALLBACKS = env_list("SECRET_KEY_FALLBACKS")

# the test client's "testserver" is added by Django's test set-up, never here
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")
SITE_URL = env("SITE_URL", "http://127.0.0.1:8000").rstrip("/")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_htmx",
    "template_partials",
    "django_q",
    "anymail",
    "axes",
    "kommunikation",
    "conversations",
    "templates_app",
    "compliance",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "axes.middleware.AxesMiddleware",  # last: turns a lockout into the lockout page
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

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
                "django.template.context_processors.i18n",
            ],
        },
    }
]

DATABASES = {
    "default": dj_database_url.parse(
        env("DATABASE_URL", f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
        conn_max_age=env_int("DB_CONN_MAX_AGE", 60),
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets the web server read while the qcluster worker writes; the busy
    # timeout makes concurrent writers wait instead of failing at once.
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
    }
    DATABASES["default"]["CONN_MAX_AGE"] = 0
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
# Every authenticate() call (our /anmelden/, /admin/login/, anything later) passes Axes'
# backend first, which refuses a locked-out client before any password is checked.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
# Login lockout (django-axes), two separate counts: an account after N failures from
# anywhere, a client IP after M failures for any usernames (spraying); higher for the IP,
# as a whole office may share one address. Locked for the cool-off after the last failure;
# tries during a lockout do not extend it, so an attacker cannot keep an account shut with
# one try now and then. Failures are not reset by a success: an attacker's own valid
# account must not clear the count of the address he sprays from.
LOGIN_FAILURES_PER_ACCOUNT = env_int("LOGIN_FAILURES_PER_ACCOUNT", 5)
LOGIN_FAILURES_PER_IP = env_int("LOGIN_FAILURES_PER_IP", 20)
# Reverse proxies in front of the app that append to X-Forwarded-For (nginx with
# $proxy_add_x_forwarded_for counts 1); 0 = the header is ignored and REMOTE_ADDR counts.
TRUSTED_PROXY_COUNT = env_int("TRUSTED_PROXY_COUNT", 0)
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_FAILURE_LIMIT = LOGIN_FAILURES_PER_ACCOUNT  # the handler applies LOGIN_FAILURES_PER_IP
AXES_HANDLER = "config.security.LoginLockoutHandler"
AXES_CLIENT_IP_CALLABLE = "config.security.client_ip"
AXES_LOCKOUT_CALLABLE = "config.security.lockout_response"
AXES_COOLOFF_TIME = timedelta(minutes=env_int("LOGIN_COOLOFF_MINUTES", 15))
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_RESET_ON_SUCCESS = False
# Axes' tables hold usernames and addresses of every brand: no admin pages for them
# (staff admins are brand-scoped); operators use `manage.py axes_reset` & co. No log of
# successful logins either (personal data nobody reads; the audit log is ours).
AXES_ENABLE_ADMIN = False
AXES_DISABLE_ACCESS_LOG = True

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "de"
LANGUAGES = [("de", _("Deutsch")), ("en", _("Englisch")), ("nl", _("Niederländisch"))]
LOCALE_PATHS = [BASE_DIR / "config" / "locale"]
TIME_ZONE = env("TIME_ZONE", "Europe/Berlin")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(env("STATIC_ROOT", str(BASE_DIR / "var" / "static")))
MEDIA_URL = "media/"
MEDIA_ROOT = Path(env("MEDIA_ROOT", str(BASE_DIR / "var" / "media")))

CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.db.DatabaseCache",
        "LOCATION": "kk_cache",
    }
    if env("CACHE", "db") == "db"
    else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
}

# Mail: SMTP by default (a local sink for `make run`), an ESP through anymail by
# setting EMAIL_BACKEND=anymail.backends.<esp>.EmailBackend and ANYMAIL_* keys.
EMAIL_BACKEND = env("EMAIL_BACKEND", "django.core.mail.backends.smtp.EmailBackend")
EMAIL_HOST = env("EMAIL_HOST", "127.0.0.1")
EMAIL_PORT = env_int("EMAIL_PORT", 1025)
EMAIL_HOST_USER = env("EMAIL_HOST_USER")
EMAIL_HOST_PASSWORD = env("EMAIL_HOST_PASSWORD")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
EMAIL_USE_SSL = env_bool("EMAIL_USE_SSL", False)
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 30)
EMAIL_FILE_PATH = BASE_DIR / "var" / "mail"
# Mailboxes of Microsoft 365 / Google Workspace (OAuth2, XOAUTH2 over IMAP and SMTP).
# The client id and secret (Microsoft) or the service-account key file (Google) given here
# serve every mailbox that leaves its own fields empty: one app registration for the
# installation. The login URL changes only for national clouds (login.microsoftonline.us).
MAIL_OAUTH_MICROSOFT_LOGIN_URL = env(
    "MAIL_OAUTH_MICROSOFT_LOGIN_URL", "https://login.microsoftonline.com"
)
MAIL_OAUTH_MICROSOFT_CLIENT_ID = env("MAIL_OAUTH_MICROSOFT_CLIENT_ID")
MAIL_OAUTH_MICROSOFT_CLIENT_SECRET = env("MAIL_OAUTH_MICROSOFT_CLIENT_SECRET")
MAIL_OAUTH_GOOGLE_SERVICE_ACCOUNT_FILE = env("MAIL_OAUTH_GOOGLE_SERVICE_ACCOUNT_FILE")
MAIL_OAUTH_TIMEOUT = env_int("MAIL_OAUTH_TIMEOUT", 20)
# a token with less than this left is fetched anew (Exchange ends IMAP sessions at expiry)
MAIL_OAUTH_REFRESH_MARGIN_SECONDS = env_int("MAIL_OAUTH_REFRESH_MARGIN_SECONDS", 300)
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", "Kundenkommunikation <noreply@localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

ANYMAIL = {
    # "user:password" that the ESP sends as HTTP basic auth on inbound and tracking
    # webhooks; several may be given, comma-separated, to rotate.
    "WEBHOOK_SECRET": env_list("ANYMAIL_WEBHOOK_SECRET") or None,
}
for _key, _value in os.environ.items():
    if _key.startswith("ANYMAIL_") and _key != "ANYMAIL_WEBHOOK_SECRET":
        ANYMAIL[_key.removeprefix("ANYMAIL_")] = _value

# django-q2: the ORM broker by default, Redis when Q2_BROKER=redis://...
Q2_BROKER = env("Q2_BROKER")
Q_CLUSTER = {
    "name": "kk",
    "workers": env_int("Q2_WORKERS", 2),
    "timeout": 300,
    "retry": 360,  # must exceed timeout, or a running task is delivered twice
    "max_attempts": 3,
    "ack_failures": True,
    "catch_up": False,
    "save_limit": 500,
    "poll": 0.5,
    "bulk": 10,
    "label": _("Hintergrundaufgaben"),
    "time_zone": TIME_ZONE,
    "sync": env_bool("Q2_SYNC", False),
}
if Q2_BROKER.startswith(("redis://", "rediss://")):
    Q_CLUSTER["redis"] = Q2_BROKER
else:
    Q_CLUSTER["orm"] = "default"

# How long a conversation may wait for a first answer, per priority (hours);
# seed 003's priority matrix.
SLA_HOURS = {"urgent": 1, "high": 4, "normal": 24, "low": 48}
SLA_HOURS_WHATSAPP = 4
# seed 001: a WhatsApp message is ideally answered within 15 minutes (4 hours at most)
SLA_MINUTES_WHATSAPP_IDEAL = 15

# SMS length allowed for a template (checked when it is saved): segments, and characters
# where the gateway has its own cap (Bitrix24 refuses more than 200; 0 = no cap).
SMS_MAX_SEGMENTS = env_int("SMS_MAX_SEGMENTS", 3)
SMS_MAX_CHARS = env_int("SMS_MAX_CHARS", 0)

# Subject-based threading only joins a conversation this recent.
THREADING_SUBJECT_WINDOW_DAYS = env_int("THREADING_SUBJECT_WINDOW_DAYS", 14)

# The daily scans (kommunikation/events/scans.py).
# Seasonal greetings: occasion=MM-DD (or easter[+-N] for a day relative to Easter Sunday),
# the day their events are recorded; the rules then decide when and to whom they go.
SCAN_SEASONAL_DATES = env_list("SCAN_SEASONAL_DATES", "christmas=12-18,new_year=12-30")
# A customer with no order or invoice for this many months is inactive (once per silence).
SCAN_INACTIVE_MONTHS = env_int("SCAN_INACTIVE_MONTHS", 12)
# Hours after our last message without a customer answer that make an event, one per
# threshold (seed 002: 48 h SMS reminder, 72 h call, 14 days escalation email).
SCAN_NO_RESPONSE_HOURS = [int(h) for h in env_list("SCAN_NO_RESPONSE_HOURS", "48,72,336")]
# sevDesk (kommunikation/sevdesk): credentials per brand from the environment, or an
# admin-managed SevdeskConnection. SEVDESK_API_TOKEN (+ SEVDESK_BASE_URL) serves the brand
# SEVDESK_BRAND (or the only brand); SEVDESK_TOKEN_<SLUG> one brand each (slug upper-cased,
# "-" as "_").
SEVDESK_BASE_URL = env("SEVDESK_BASE_URL", "https://my.sevdesk.de/api/v1")
SEVDESK_API_TOKEN = env("SEVDESK_API_TOKEN")
SEVDESK_BRAND = env("SEVDESK_BRAND")
SEVDESK_TOKENS = {
    name.removeprefix("SEVDESK_TOKEN_").lower().replace("_", "-"): value
    for name, value in os.environ.items()
    if name.startswith("SEVDESK_TOKEN_") and value
}
SEVDESK_TIMEOUT = env_int("SEVDESK_TIMEOUT", 30)  # seconds per request
SEVDESK_PAGE_SIZE = env_int("SEVDESK_PAGE_SIZE", 1000)  # the API allows 1..1000
# updateAfter reaches this far behind the last high-water mark: clocks and slow commits
SEVDESK_OVERLAP_MINUTES = env_int("SEVDESK_OVERLAP_MINUTES", 10)
# Letters (kommunikation/letters, issue 11 §3): per brand through Pingen v2 (hybrid mail) or
# printed in the office (daily print batch). LETTER_MODE is the default for every brand
# ("selfprint" or "pingen"); an admin-managed LetterConnection overrides it per brand. The
# PINGEN_* credentials serve the brand PINGEN_BRAND (or every brand when empty) and win over
# stored ones, as sevDesk's do.
LETTER_MODE = env("LETTER_MODE", "selfprint")
if LETTER_MODE not in ("selfprint", "pingen"):
    raise ImproperlyConfigured(f"LETTER_MODE must be selfprint or pingen, not {LETTER_MODE!r}")
PINGEN_API_URL = env("PINGEN_API_URL", "https://api.pingen.com")
PINGEN_IDENTITY_URL = env("PINGEN_IDENTITY_URL", "https://identity.pingen.com")
PINGEN_CLIENT_ID = env("PINGEN_CLIENT_ID")
PINGEN_CLIENT_SECRET = env("PINGEN_CLIENT_SECRET")
PINGEN_ORGANISATION_ID = env("PINGEN_ORGANISATION_ID")
PINGEN_WEBHOOK_SECRET = env("PINGEN_WEBHOOK_SECRET")
PINGEN_BRAND = env("PINGEN_BRAND")
PINGEN_TIMEOUT = env_int("PINGEN_TIMEOUT", 30)  # seconds per request
# the daily print batch for brands that print themselves (config/schedules.py); cron in
# Europe/Berlin, empty: no scheduled batch, only the page and `manage.py print_letters`
LETTER_PRINT_CRON = env("LETTER_PRINT_CRON", "0 15 * * 1-5")

# Call tasks (kommunikation/channels/call.py, issue 11 §4): staff call inside the call window
# (SEND_WINDOW_CALL below, on working days, narrowed to a brand's opening hours); a slot
# needs this many minutes before the window closes; "nicht erreicht" tries again this many
# minutes later (in the next slot), at most CALL_MAX_ATTEMPTS calls, then the rule's
# fallback channel.
CALL_SLOT_MINUTES = env_int("CALL_SLOT_MINUTES", 15)
CALL_RETRY_MINUTES = env_int("CALL_RETRY_MINUTES", 120)
CALL_MAX_ATTEMPTS = env_int("CALL_MAX_ATTEMPTS", 3)

# WhatsApp Cloud API (kommunikation/channels/whatsapp.py): the Graph API's address and
# version, the timeout per request (seconds), the customer service window (hours) and a
# safety margin before its end (minutes: a reply typed in the last minute may reach Meta
# after the window closed). Credentials per brand: the admin's WhatsAppNumber, or
# WHATSAPP_ACCESS_TOKEN_<SLUG>, WHATSAPP_APP_SECRET_<SLUG>, WHATSAPP_VERIFY_TOKEN_<SLUG>
# (slug upper-cased, "-" as "_"), which win over the stored ones.
WHATSAPP_GRAPH_URL = env("WHATSAPP_GRAPH_URL", "https://graph.facebook.com").rstrip("/")
WHATSAPP_API_VERSION = env("WHATSAPP_API_VERSION", "v23.0")
WHATSAPP_TIMEOUT = env_int("WHATSAPP_TIMEOUT", 15)
WHATSAPP_WINDOW_HOURS = env_int("WHATSAPP_WINDOW_HOURS", 24)
WHATSAPP_WINDOW_MARGIN_MINUTES = env_int("WHATSAPP_WINDOW_MARGIN_MINUTES", 5)
WHATSAPP_MEDIA_MAX_BYTES = env_int("WHATSAPP_MEDIA_MAX_BYTES", 100 * 1024 * 1024)
# the webhook task's pause after a small batch, so that the next webhooks gather: one batch
# of many costs the worker a fraction of many batches of one (conversations.whatsapp)
WHATSAPP_GATHER_MS = env_int("WHATSAPP_GATHER_MS", 100)
WHATSAPP_CREDENTIALS: dict[str, dict[str, str]] = {}
for _name, _value in os.environ.items():
    for _field in ("access_token", "app_secret", "verify_token"):
        _prefix = f"WHATSAPP_{_field.upper()}_"
        if _name.startswith(_prefix) and _value:
            _slug = _name.removeprefix(_prefix).lower().replace("_", "-")
            WHATSAPP_CREDENTIALS.setdefault(_slug, {})[_field] = _value
# Push (kommunikation/channels/push.py, issue 11 §5): Firebase Cloud Messaging HTTP v1.
# Per brand a Firebase service account (its JSON): the admin's PushConnection, or
# FCM_SERVICE_ACCOUNT_<SLUG> (the JSON itself or the path of the file; slug upper-cased,
# "-" as "_"), which wins over the stored one. FCM_BASE_URL for tests and proxies.
FCM_BASE_URL = env("FCM_BASE_URL", "https://fcm.googleapis.com").rstrip("/")
FCM_TIMEOUT = env_int("FCM_TIMEOUT", 10)  # seconds per request (token and send)
FCM_SERVICE_ACCOUNTS: dict[str, str] = {
    _name.removeprefix("FCM_SERVICE_ACCOUNT_").lower().replace("_", "-"): _value
    for _name, _value in os.environ.items()
    if _name.startswith("FCM_SERVICE_ACCOUNT_") and _value
}

# SMS (kommunikation/channels/sms.py, issue 11 §2): SMS_PROVIDER is "messagebird" (Bird's
# legacy SMS REST API) or "sevenio" (seven.io), empty: SMS are not sent (failed with the
# reason). SMS_API_KEY is the provider's key. Per brand: SMS_PROVIDER_<SLUG>, SMS_API_KEY_<SLUG>,
# SMS_SIGNING_KEY_<SLUG> and SMS_WEBHOOK_SECRET_<SLUG> (slug upper-cased, "-" as "_") win over
# the common values. Callbacks: MessageBird signs them (MessageBird-Signature-JWT with the
# account's signing key, SMS_SIGNING_KEY); seven.io calls a URL that carries
# SMS_WEBHOOK_SECRET. SITE_URL is the public address the providers call back.
SMS_PROVIDER = env("SMS_PROVIDER")
SMS_API_KEY = env("SMS_API_KEY")
SMS_SIGNING_KEY = env("SMS_SIGNING_KEY")
SMS_WEBHOOK_SECRET = env("SMS_WEBHOOK_SECRET")
SMS_MESSAGEBIRD_URL = env("SMS_MESSAGEBIRD_URL", "https://rest.messagebird.com").rstrip("/")
SMS_SEVENIO_URL = env("SMS_SEVENIO_URL", "https://gateway.seven.io/api").rstrip("/")
SMS_TIMEOUT = env_int("SMS_TIMEOUT", 15)  # seconds per request
SMS_BRANDS: dict[str, dict[str, str]] = {}
for _name, _value in os.environ.items():
    for _field in ("provider", "api_key", "signing_key", "webhook_secret"):
        _prefix = f"SMS_{_field.upper()}_"
        if _name.startswith(_prefix) and _value:
            _slug = _name.removeprefix(_prefix).lower().replace("_", "-")
            SMS_BRANDS.setdefault(_slug, {})[_field] = _value
for _provider in [SMS_PROVIDER, *(b.get("provider", "") for b in SMS_BRANDS.values())]:
    if _provider not in ("", "messagebird", "sevenio"):
        raise ImproperlyConfigured(
            f"SMS_PROVIDER must be messagebird or sevenio, not {_provider!r}"
        )
# Dunning levels of the daily overdue scan: days after the due date (reminder, 1. and 2.
# Mahnung), the fee per level (EUR) and the new deadline given in the letter.
DUNNING_DAYS = [int(d) for d in env_list("DUNNING_DAYS", "1,14,28")]
DUNNING_FEES = env_list("DUNNING_FEES", "0,5,10")
DUNNING_NEW_DUE_DAYS = env_int("DUNNING_NEW_DUE_DAYS", 7)
DUNNING_IBAN = env("DUNNING_IBAN")
# Segmentation (seed 000): value tier by net revenue of the last 12 months (EUR, A >= first,
# B >= second, else C), activity by the days since the last order or invoice.
SEGMENT_TIER_A = env_int("SEGMENT_TIER_A", 10000)
SEGMENT_TIER_B = env_int("SEGMENT_TIER_B", 2000)
SEGMENT_NEW_DAYS = env_int("SEGMENT_NEW_DAYS", 90)  # first order/invoice this recent: new
SEGMENT_ACTIVE_DAYS = env_int("SEGMENT_ACTIVE_DAYS", 180)
SEGMENT_OCCASIONAL_DAYS = env_int("SEGMENT_OCCASIONAL_DAYS", 365)

# Inbound mail limits. A larger message is stored raw and shown in the inbox from its
# headers alone (sender, subject, threading), flagged, its text and attachments left in
# the raw message (admin: "Rohdaten von E-Mails"). Attachments beyond the count stay in
# the raw message too, and the message is flagged. Parsing takes about 3x the message
# size in memory (manage.py bench --only largemail).
INGEST_MAX_MESSAGE_BYTES = env_int("INGEST_MAX_MESSAGE_BYTES", 50 * 1024 * 1024)
INGEST_MAX_ATTACHMENTS = env_int("INGEST_MAX_ATTACHMENTS", 100)
# An ESP posts inbound mail as JSON or form data, base64 inflating it by a third:
# webhooks read bodies up to this size although DATA_UPLOAD_MAX_MEMORY_SIZE (2.5 MB,
# kept for every other view) is smaller, so a mail with attachments is not refused.
WEBHOOK_MAX_BODY_BYTES = env_int("WEBHOOK_MAX_BODY_BYTES", INGEST_MAX_MESSAGE_BYTES * 3 // 2)

# Attachments of one reply from the inbox, together (a larger upload is refused with a
# German message; mail servers commonly take 25 MB, base64 adds a third).
REPLY_ATTACHMENTS_MAX_BYTES = env_int("REPLY_ATTACHMENTS_MAX_BYTES", 20 * 1024 * 1024)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", "INFO")},
    "loggers": {
        "django.db.backends": {"level": "INFO"},
        "weasyprint": {"level": "WARNING"},
        "fontTools": {"level": "WARNING"},
    },
}

SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False  # htmx reads the token from the page, not the cookie
X_FRAME_OPTIONS = "DENY"  # the message viewer allows same-origin framing itself
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
if not DEBUG:
    SESSION_COOKIE_SECURE = env_bool("SECURE_COOKIES", True)
    CSRF_COOKIE_SECURE = env_bool("SECURE_COOKIES", True)
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# --- sending: compliance gate and outbox (issue 5) ------------------------------------
# Send windows per channel, local time Europe/Berlin ("HH:MM-HH:MM", end exclusive);
# a channel without a window (email, letter) may be used at any time.
COMPLIANCE_SEND_WINDOWS = {
    "sms": env("SEND_WINDOW_SMS", "08:00-20:00"),
    "whatsapp": env("SEND_WINDOW_WHATSAPP", "08:00-22:00"),
    "call": env("SEND_WINDOW_CALL", "09:00-17:00"),
}
COMPLIANCE_NO_MARKETING_ON_REST_DAYS = env_bool("NO_MARKETING_ON_REST_DAYS", False)
COMPLIANCE_HOLIDAY_STATE = env("HOLIDAY_STATE", "")  # e.g. "BY" adds Bavaria's holidays
# Seed 002: promotional messages per customer and channel per COMPLIANCE_CAP_DAYS days
COMPLIANCE_WEEKLY_CAPS = {
    "email": env_int("CAP_EMAIL_PER_WEEK", 3),
    "sms": env_int("CAP_SMS_PER_WEEK", 2),
}
COMPLIANCE_CAP_DAYS = 7
COMPLIANCE_DUPLICATE_HOURS = env_int("DUPLICATE_WINDOW_HOURS", 24)
COMPLIANCE_LINK_DAYS = env_int("PREFERENCE_LINK_DAYS", 365)  # preference links (unsubscribe: never)
COMPLIANCE_DOUBLE_OPT_IN_DAYS = env_int("DOUBLE_OPT_IN_DAYS", 7)

# Automation (issue 9): a step due relative to the event itself that the engine reaches
# late (a backlog, a sync lagging) is still sent within this many hours, else skipped
AUTOMATION_LATE_HOURS = env_int("AUTOMATION_LATE_HOURS", 24)

OUTBOX_BATCH_SIZE = env_int("OUTBOX_BATCH_SIZE", 200)
OUTBOX_MAX_ATTEMPTS = env_int("OUTBOX_MAX_ATTEMPTS", 8)
OUTBOX_RETRY_BASE_SECONDS = env_int("OUTBOX_RETRY_BASE_SECONDS", 60)
OUTBOX_RETRY_MAX_SECONDS = env_int("OUTBOX_RETRY_MAX_SECONDS", 6 * 3600)
# a claimed row whose worker died is claimed again after this long
OUTBOX_LEASE_SECONDS = env_int("OUTBOX_LEASE_SECONDS", 300)
# sent messages are written back in groups of this size (also the most a killed
# worker can send twice)
OUTBOX_WRITE_BACK_EVERY = env_int("OUTBOX_WRITE_BACK_EVERY", 20)
# messages per minute per provider, shared by all workers (0 = unlimited)
OUTBOX_PROVIDER_BUDGETS = {
    "email": env_int("BUDGET_EMAIL_PER_MINUTE", 0),
    "sms": env_int("BUDGET_SMS_PER_MINUTE", 600),
    "whatsapp": env_int("BUDGET_WHATSAPP_PER_MINUTE", 600),
}
# open pixel and click redirect for plain SMTP (ESPs track themselves)
OUTBOX_TRACK_SMTP = env_bool("OUTBOX_TRACK_SMTP", True)

# Bounds for rendering one message from a template edited in the admin (templates_app.sandbox):
# steps (loop iterations x nodes of the loop body, filter calls), characters of output,
# milliseconds (0 = no time limit); a larger message fails with the reason on its outbox row
# and is refused when the template is saved (rendered with the example values).
TEMPLATE_RENDER_MAX_STEPS = env_int("TEMPLATE_RENDER_MAX_STEPS", 100_000)
TEMPLATE_RENDER_MAX_OUTPUT = env_int("TEMPLATE_RENDER_MAX_OUTPUT", 1_000_000)
TEMPLATE_RENDER_TIMEOUT_MS = env_int("TEMPLATE_RENDER_TIMEOUT_MS", 2000)
# the largest width/length/decimal places a filter accepts (ljust, truncatechars, floatformat ...)
TEMPLATE_MAX_FILTER_ARGUMENT = env_int("TEMPLATE_MAX_FILTER_ARGUMENT", 1000)
# {% for %} inside {% for %} ...: at most this deep (checked when a template is saved)
TEMPLATE_MAX_LOOP_DEPTH = env_int("TEMPLATE_MAX_LOOP_DEPTH", 3)

# The event API (issue 9): the largest request body accepted (a batch of 500 events fits)
EVENT_API_MAX_BYTES = env_int("EVENT_API_MAX_BYTES", 1024 * 1024)
