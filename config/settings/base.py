"""Settings shared by every environment. Values come from the environment (django-environ)."""

import re
from pathlib import Path

import environ

BASE_DIR = Path(__file__).resolve().parent.parent.parent
env = environ.Env()

# Everything the embedded default writes (SQLite database, local outbox, private Redis)
# lives under one directory so that a checkout stays clean and is easy to reset.
DATA_DIR = Path(env("DATA_DIR", default=str(BASE_DIR / "data")))

# GENERAL
# ------------------------------------------------------------------------------
DEBUG = env.bool("DJANGO_DEBUG", default=False)
SECRET_KEY = env("DJANGO_SECRET_KEY", default="")
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
TIME_ZONE = "UTC"
LANGUAGE_CODE = "en-us"
USE_I18N = True
USE_TZ = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
# Absolute links in emails are built from this, never from the request's Host header.
SITE_URL = env("SITE_URL", default="http://localhost:8000").rstrip("/")
SITE_NAME = env("SITE_NAME", default="Paper alerts")

# DATABASES
# ------------------------------------------------------------------------------
DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{DATA_DIR / 'db.sqlite3'}"),
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Web, worker and beat share one SQLite file under `make run`: WAL lets readers run
    # beside the writer, IMMEDIATE transactions take the write lock up front (no upgrade
    # deadlocks), and the timeout makes a busy writer wait instead of failing.
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 30,
    }
else:
    DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("CONN_MAX_AGE", default=60))
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True

# APPS
# ------------------------------------------------------------------------------
INSTALLED_APPS = [
    "alerts.apps.AlertsAdminConfig",  # django.contrib.admin, with the cockpit on its home
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django_celery_beat",
    "anymail",
    "alerts",
    "subscribers",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
# The admin lives at a configurable path so that it is not where every scanner looks first.
ADMIN_URL = env("DJANGO_ADMIN_URL", default="admin/").strip("/") + "/"

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
                "csp.context_processors.nonce",
                "subscribers.context_processors.site",
            ],
        },
    },
]

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# STATIC
# ------------------------------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = DATA_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]

# CACHE (rate limits, the live preview's week of papers)
# ------------------------------------------------------------------------------
REDIS_URL = env("REDIS_URL", default="")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
        }
    }
else:
    # Without Redis each process counts rate limits on its own: right for `make run`'s one
    # web process, wrong for several (the check subscribers.W001 says so; production
    # refuses to start without REDIS_URL).
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# SECURITY
# ------------------------------------------------------------------------------
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
# Content-Security-Policy: no inline scripts, no third-party origins.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "connect-src": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
        "base-uri": ["'none'"],
        "object-src": ["'none'"],
    },
}

# EMAIL
# ------------------------------------------------------------------------------
# Default: the local outbox (one .eml file per message under data/outbox/), which an
# admin page lists. Production names an anymail backend instead.
EMAIL_BACKEND = env("DJANGO_EMAIL_BACKEND", default="alerts.outbox.OutboxEmailBackend")
EMAIL_OUTBOX_DIR = Path(env("EMAIL_OUTBOX_DIR", default=str(DATA_DIR / "outbox")))
EMAIL_FILE_PATH = env("EMAIL_FILE_PATH", default=str(DATA_DIR / "mail"))
EMAIL_HOST = env("EMAIL_HOST", default="localhost")
EMAIL_PORT = env.int("EMAIL_PORT", default=25)
EMAIL_HOST_USER = env("EMAIL_HOST_USER", default="")
EMAIL_HOST_PASSWORD = env("EMAIL_HOST_PASSWORD", default="")
EMAIL_USE_TLS = env.bool("EMAIL_USE_TLS", default=False)
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", default=30)
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", default="Paper alerts <alerts@localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
# The mailto: half of List-Unsubscribe (default: the sender's address). Mail to it
# unsubscribes when the ESP's inbound webhook posts it to /anymail/<esp>/inbound/.
UNSUBSCRIBE_MAILTO = env("UNSUBSCRIBE_MAILTO", default="")
# ESP-specific options for digest messages, as anymail's esp_extra (JSON), e.g.
# {"MessageStream": "broadcast"} for Postmark, which wants newsletters on a broadcast stream.
DIGEST_ESP_EXTRA = env.json("DIGEST_ESP_EXTRA", default={})

# The ESPs whose webhook URLs are mounted under /anymail/<esp>/: the one EMAIL_BACKEND
# sends through. anymail's other ESPs, unconfigured, would answer a stranger with a 500.
ESP_WEBHOOKS = [match[1]] if (match := re.match(r"anymail\.backends\.(\w+)\.", EMAIL_BACKEND)) else []

# Every ANYMAIL_* variable in the environment is passed to anymail as it is
# (e.g. ANYMAIL_POSTMARK_SERVER_TOKEN, ANYMAIL_WEBHOOK_SECRET).
ANYMAIL = {
    key.removeprefix("ANYMAIL_"): value
    for key, value in env.ENVIRON.items()
    if key.startswith("ANYMAIL_") and value
}
# Seconds to wait for the ESP's API: "30", or "5,30" for (connect, read). The environment
# gives text; requests needs numbers (a string would fail every send as a ValueError).
_timeout = [float(part) for part in str(ANYMAIL.get("REQUESTS_TIMEOUT", "5,30")).split(",")]
ANYMAIL["REQUESTS_TIMEOUT"] = _timeout[0] if len(_timeout) == 1 else tuple(_timeout)

# CELERY
# ------------------------------------------------------------------------------
# Without REDIS_URL tasks run in-process (eager), so the app still works with no broker.
CELERY_BROKER_URL = REDIS_URL or "memory://"
CELERY_TASK_ALWAYS_EAGER = not REDIS_URL
CELERY_TASK_EAGER_PROPAGATES = False
CELERY_TASK_IGNORE_RESULT = True
CELERY_RESULT_BACKEND = None
CELERY_TIMEZONE = "UTC"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_SERIALIZER = "json"
# A task is acknowledged only when it has finished; a worker killed mid-task leaves its
# message to be delivered again. Safe because every task re-checks row state (the claim).
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SOFT_TIME_LIMIT = env.int("CELERY_TASK_SOFT_TIME_LIMIT", default=300)
CELERY_TASK_TIME_LIMIT = env.int("CELERY_TASK_TIME_LIMIT", default=360)
# Redis re-delivers an unacknowledged message after this many seconds; it must exceed the
# longest retry countdown so a retrying task is not delivered twice.
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": env.int("CELERY_VISIBILITY_TIMEOUT", default=3 * 3600),
}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Celery's Django fixup closes the database connection before and after every task unless
# this is set, whatever CONN_MAX_AGE says: each chunk of digests then paid for a new
# PostgreSQL session (a server process and its catalog caches built anew). Set, the fixup
# closes it only every this many tasks, and config/celery.py checks it around each task
# as Django does around a request (CONN_MAX_AGE, health check, after an error).
CELERY_DB_REUSE_MAX = env.int("CELERY_DB_REUSE_MAX", default=1000)
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"

# PAPER SOURCES
# ------------------------------------------------------------------------------
# An offline demo (`make demo`): the scheduled fetches are skipped, with a note in the log
# and on the admin home, so a machine without network shows no failed fetches.
OFFLINE_DEMO = env.bool("OFFLINE_DEMO", default=False)
# arXiv categories fetched every night, besides those that active topic filters name.
ARXIV_CATEGORIES = env.list("ARXIV_CATEGORIES", default=["cs.AI", "cs.CL", "cs.CV", "cs.LG", "stat.ML"])
# Extra RSS/Atom feeds fetched every night (bioRxiv, journals, blogs).
EXTRA_FEEDS = env.list("EXTRA_FEEDS", default=[])
ARXIV_RSS_URL = env("ARXIV_RSS_URL", default="https://rss.arxiv.org/rss/")
# Categories per listing request ("cs.AI+cs.LG"): a listing stops at 2000 items, which a few
# busy categories together can reach, so the default asks for one category at a time.
ARXIV_RSS_CATEGORIES_PER_REQUEST = env.int("ARXIV_RSS_CATEGORIES_PER_REQUEST", default=1)
# Categories fetched per nightly run at most, those with the most subscribers first: 40
# requests 3 s apart are 2 minutes, well inside the fetch task's 20-minute limit.
ARXIV_MAX_CATEGORIES_PER_RUN = env.int("ARXIV_MAX_CATEGORIES_PER_RUN", default=40)
# Where `refresh_arxiv_taxonomy` reads the list of categories `cat:` accepts.
ARXIV_TAXONOMY_URL = env("ARXIV_TAXONOMY_URL", default="https://arxiv.org/category_taxonomy")
ARXIV_API_URL = env("ARXIV_API_URL", default="https://export.arxiv.org/api/query")
# API back-fill pages through results this many at a time (arXiv allows at most 2000) ...
ARXIV_API_PAGE_SIZE = env.int("ARXIV_API_PAGE_SIZE", default=200)
# ... and stops after this many, so that a too-broad query cannot run for hours.
ARXIV_API_MAX_RESULTS = env.int("ARXIV_API_MAX_RESULTS", default=5000)
HF_DAILY_URL = env("HF_DAILY_URL", default="https://huggingface.co/api/daily_papers")
# arXiv asks for at most one request every 3 seconds.
ARXIV_REQUEST_INTERVAL = env.float("ARXIV_REQUEST_INTERVAL", default=3.0)
FETCH_TIMEOUT = env.float("FETCH_TIMEOUT", default=30.0)
FETCH_RETRIES = env.int("FETCH_RETRIES", default=4)
FETCH_BACKOFF = env.float("FETCH_BACKOFF", default=5.0)
# A Retry-After longer than this is not waited out in-process (it would hold a worker);
# the fetch fails as transient and the task retries later.
FETCH_RETRY_AFTER_MAX = env.float("FETCH_RETRY_AFTER_MAX", default=120.0)
# Responses larger than this are refused rather than parsed (bounded memory).
FETCH_MAX_BYTES = env.int("FETCH_MAX_BYTES", default=20 * 1024 * 1024)
FETCH_USER_AGENT = env(
    "FETCH_USER_AGENT",
    default=f"paper-alerts/1.0 (+{SITE_URL})",
)

# DIGESTS
# ------------------------------------------------------------------------------
# Digest ids per send task: big enough to amortise the chunk's fixed work (its claim, its
# reads, its writes, the task), small enough that one task never runs long (a chunk of 500
# is about a second of a worker). `python -m bench.pipeline --chunk-sizes 100,250,500`
# measures the sizes side by side (bench/results/pipeline_chunks.md).
DIGEST_CHUNK_SIZE = env.int("DIGEST_CHUNK_SIZE", default=500)
# How far back a digest can reach: a subscriber back from a long pause gets at most this.
DIGEST_MAX_LOOKBACK_DAYS = env.int("DIGEST_MAX_LOOKBACK_DAYS", default=14)
# Papers in the optional "Trending today" section.
DIGEST_TRENDING_SIZE = env.int("DIGEST_TRENDING_SIZE", default=5)
# Papers in the "You may also like" section of a subscriber with a personal model (0: none).
DIGEST_MAY_ALSO_LIKE = env.int("DIGEST_MAY_ALSO_LIKE", default=5)
# Seconds a retraining waits after the vote that queued it: the votes of the same reading
# (a reader often rates several papers of a digest) are learnt from in one training.
READER_MODEL_TRAIN_DELAY = env.int("READER_MODEL_TRAIN_DELAY", default=20)
# The weekday (0 = Monday) a new weekly subscription's digest goes out on; each weekly
# subscriber can choose another on their preferences page.
DIGEST_WEEK_START = env.int("DIGEST_WEEK_START", default=0)
# Hand-offs to the ESP before a digest that keeps failing transiently is marked failed.
DIGEST_MAX_ATTEMPTS = env.int("DIGEST_MAX_ATTEMPTS", default=8)
# Back-off after a transient failure: base * 2^(attempt-1) seconds, capped, with jitter.
DIGEST_RETRY_BASE = env.float("DIGEST_RETRY_BASE", default=60.0)
DIGEST_RETRY_MAX = env.float("DIGEST_RETRY_MAX", default=3600.0)
# A claim older than this belongs to a dead worker (a live one is stopped by the task's
# hard time limit first), and the recovery sweep takes it over.
DIGEST_SEND_LEASE = env.int("DIGEST_SEND_LEASE", default=CELERY_TASK_TIME_LIMIT + 60)
# A pending digest queued longer ago than this lost its task message (e.g. a broker
# restart) and is queued again by the recovery sweep.
DIGEST_REQUEUE_AFTER = env.int("DIGEST_REQUEUE_AFTER", default=900)
DIGEST_REQUEUE_BATCH = env.int("DIGEST_REQUEUE_BATCH", default=20_000)
# A hand-off whose answer was lost after the ESP may have taken the message waits this long
# (seconds) for the ESP's evidence (a webhook event naming the digest) before it is sent
# again, with the same Message-ID: the only window in which a digest can arrive twice.
DIGEST_UNKNOWN_GRACE = env.int("DIGEST_UNKNOWN_GRACE", default=1800)
# An admin may send a digest again at most once in this many seconds (a double click, a
# reload of the confirmation page): each re-send is a real second email to a person.
DIGEST_RESEND_INTERVAL = env.int("DIGEST_RESEND_INTERVAL", default=600)
# Waits between reconnections when the database drops while recording sent digests.
DIGEST_DB_RETRY_DELAYS = [
    float(x) for x in env.list("DIGEST_DB_RETRY_DELAYS", default=["0.5", "1", "2", "4", "8", "15"])
]

# OPERATOR ALERTS (alerts.incidents)
# ------------------------------------------------------------------------------
# Who gets one email per incident (a late source, a stuck queue, a failure-rate jump) and
# one when it recovers: comma-separated addresses. Django mails server errors to them too.
ADMINS = [(address, address) for address in env.list("DJANGO_ADMINS", default=[])]
# The digest queue is stuck when its oldest waiting digest was created longer ago than this
# (seconds): a dispatch run's digests are normally all sent within minutes.
INCIDENT_QUEUE_STUCK_AFTER = env.int("INCIDENT_QUEUE_STUCK_AFTER", default=3600)
# The failure rate is failed / (sent + failed) over the digests finished in the last
# INCIDENT_FAILURE_WINDOW seconds; above INCIDENT_FAILURE_RATE, with at least
# INCIDENT_FAILURE_MIN failed, it is an incident.
INCIDENT_FAILURE_WINDOW = env.int("INCIDENT_FAILURE_WINDOW", default=3600)
INCIDENT_FAILURE_RATE = env.float("INCIDENT_FAILURE_RATE", default=0.2)
INCIDENT_FAILURE_MIN = env.int("INCIDENT_FAILURE_MIN", default=10)

# SUBSCRIPTIONS
# ------------------------------------------------------------------------------
# Confirmation and preferences-link emails one address may receive in 24 hours, so that
# a stranger cannot use the sign-up form to flood someone's inbox.
SUBSCRIBER_EMAILS_PER_DAY = env.int("SUBSCRIBER_EMAILS_PER_DAY", default=3)
# Who may sign up, by the domain of their address (a lab, an institute): comma separated;
# `uni.edu` allows that domain only, `*.uni.edu` any domain under it (not uni.edu itself:
# list both for both). Empty: anyone. Others need an invitation link from the admin.
SIGNUP_ALLOWED_DOMAINS = env.list("SIGNUP_ALLOWED_DOMAINS", default=[])
# Requests per client IP (django-ratelimit syntax: N/s, N/m, N/h, N/d), against bots.
RATE_LIMIT_SIGNUP = env("RATE_LIMIT_SIGNUP", default="20/h")
RATE_LIMIT_PREVIEW = env("RATE_LIMIT_PREVIEW", default="120/m")
RATE_LIMIT_RESEND = env("RATE_LIMIT_RESEND", default="10/h")
# "Send me a sample now": samples per subscriber, and requests per client IP (a lab behind
# one address has several readers), so the button cannot flood an inbox.
RATE_LIMIT_SAMPLE = env("RATE_LIMIT_SAMPLE", default="3/d")
RATE_LIMIT_SAMPLE_IP = env("RATE_LIMIT_SAMPLE_IP", default="20/h")
# Feedback links and the saved-papers pages (opening and pressing): a reader clicks a few,
# a script hammering forged tokens or votes gets a 429.
RATE_LIMIT_FEEDBACK = env("RATE_LIMIT_FEEDBACK", default="60/m")
# Behind a proxy REMOTE_ADDR is the proxy's address for every client: the client's comes
# from X-Forwarded-For, the entry the outermost of TRUSTED_PROXIES proxies wrote
# (subscribers/clientip.py). 0: no proxy in front, the header is ignored (a client could
# write anything there). Production's default is 1, the TLS proxy the README requires.
TRUSTED_PROXIES = env.int("TRUSTED_PROXIES", default=0)
# Or the name of a header the proxy overwrites on every request (e.g. HTTP_X_REAL_IP).
RATELIMIT_IP_META_KEY = env("RATELIMIT_IP_META_KEY", default="subscribers.clientip.client_ip")
# The sign-up and "send my link" forms answer no sooner than this after the request came
# in, whatever the address's state: their timing must not tell whether it is subscribed.
# It covers the work of a new address under load (bench/signup_timing.py).
SIGNUP_ANSWER_SECONDS = env.float("SIGNUP_ANSWER_SECONDS", default=0.2)
# The live preview matches filters against the papers first seen in this many days.
PREVIEW_DAYS = env.int("PREVIEW_DAYS", default=7)
# What the preview index's caches may hold in each web process, in bytes: any query costs
# the same bounded memory (alerts/search/matcher.py, bench/preview.py).
PREVIEW_CACHE_BYTES = env.int("PREVIEW_CACHE_BYTES", default=8 * 1024 * 1024)
# Compiled topic filters kept across runs (alerts.search.compiled), so a day's matching is
# evaluation, not parsing: each worker reads the file once and writes back what it compiled
# (merged with the other workers', at most every MATCHER_FILTER_STORE_SAVE_SECONDS). A
# cache: deleting it costs one day's parsing. Empty: kept in each process's memory only.
MATCHER_FILTER_STORE = env("MATCHER_FILTER_STORE", default=str(DATA_DIR / "cache" / "compiled-filters"))
MATCHER_FILTER_STORE_SAVE_SECONDS = env.int("MATCHER_FILTER_STORE_SAVE_SECONDS", default=60)
# What a run's matcher caches may hold in each worker process, in bytes: evaluated filters,
# their scored hits, phrases, prefixes (alerts/search/matcher.py; half of it goes to
# the hits composing keeps per filter). Measured real memory stays under it (the sizes are
# over-estimated). With it and RENDER_CACHE_BYTES, a worker's peak was 427 MB sending to a
# million subscribers (bench/results/pipeline_million.md).
MATCHER_CACHE_BYTES = env.int("MATCHER_CACHE_BYTES", default=128 * 1024 * 1024)
# What a run's highlighted paper blocks (a paper's title and abstract with a subscriber's
# matched terms marked, shared by the digests that mark the same words) may hold in each
# worker process, in bytes (alerts/digests/rendering.py): past it they are made again. A
# day's digests to 10,000 subscribers make about 46 MB of them (bench/render.py).
RENDER_CACHE_BYTES = env.int("RENDER_CACHE_BYTES", default=64 * 1024 * 1024)
# Distinct filter texts a worker keeps compiled (about 220 bytes each); past this many its
# store starts again from empty. A million subscribers write about 320,000.
MATCHER_FILTER_STORE_LIMIT = env.int("MATCHER_FILTER_STORE_LIMIT", default=500_000)

# OPERATIONS
# ------------------------------------------------------------------------------
# Prometheus scrapes /metrics with "Authorization: Bearer <METRICS_TOKEN>". Without a token
# only a DEBUG (local) site serves it; production answers 404 and says so in its log.
METRICS_TOKEN = env("METRICS_TOKEN", default="")
# Digest items, delivery events and fetch runs older than this many days are deleted every
# night (the daily counts of the charts and of /metrics are kept first). Digest items are
# how a paper is never sent twice: the value must exceed DIGEST_MAX_LOOKBACK_DAYS.
RETENTION_DAYS = env.int("RETENTION_DAYS", default=180)
# Rows deleted per statement: short transactions, no long lock on a busy table.
RETENTION_BATCH = env.int("RETENTION_BATCH", default=5000)

# LOGGING
# ------------------------------------------------------------------------------
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", default="INFO")},
}
