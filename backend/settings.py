"""Settings from the environment (PLANTRACK_*), with safe defaults for a laptop.

Production refuses to start with anything that only makes sense in development: a
generated secret, the Firebase Auth emulator, the embedded SQLite database.
"""

import os
import re
import secrets
from pathlib import Path
from typing import Literal

import msgspec

# What the app sends as X-App-Version ("1.4.2"): one to four numbers with dots.
APP_VERSION_PATTERN = r"^[0-9]{1,6}(\.[0-9]{1,6}){0,3}$"
SECRET_FILE = "secret_key"  # noqa: S105 - a file name, not a secret
MIN_SECRET_LENGTH = 32


class SettingsError(Exception):
    """The configuration is unusable; the message says what to set."""


class Settings(msgspec.Struct, kw_only=True, frozen=True):
    env: Literal["dev", "prod"] = "dev"
    database_url: str = ""
    # A streaming replica for read-only reports (funnel, cohorts, plan vs fact, health
    # statistics); empty: the primary serves them. PostgreSQL only.
    reports_database_url: str = ""
    secret_key: str = msgspec.field(default="")
    secret_key_generated: bool = False
    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 1
    log_level: str = "INFO"
    var_dir: str = "var"
    db_pool_size: int = 10
    # Run the outbox worker inside the web process: one process for a laptop demo.
    # In production run `plantrack worker` separately, as many as needed.
    embedded_worker: bool = False
    firebase_project_id: str = "plantrack-dev"
    # Where the public certificates of Firebase ID tokens are published (x509 PEM by key
    # id); another URL for tests and air-gapped mirrors.
    firebase_certs_url: str = (
        "https://www.googleapis.com/robot/v1/metadata/x509/securetoken@system.gserviceaccount.com"
    )
    access_token_minutes: int = 15
    refresh_token_days: int = 30
    # "kid:secret,kid:secret": the first signs, all verify (key rotation). Empty: one
    # key derived from the secret key.
    jwt_keys: str = msgspec.field(default="")
    media_dir: str = ""  # default: <var_dir>/media
    # Pictures in an S3-compatible object store instead: s3://bucket/prefix (the prefix
    # optional), reached with the standard AWS variables; empty: the media directory.
    media_url: str = ""
    s3_endpoint_url: str = ""  # another S3-compatible server (MinIO, Yandex, moto…)
    s3_access_key_id: str = msgspec.field(default="")
    s3_secret_access_key: str = msgspec.field(default="")
    s3_region: str = ""
    # FCM: a service-account key (the standard variable), and optionally another
    # FCM-compatible base URL (tests, staging relays). No key: pushes go to the log.
    fcm_credentials: str | None = None
    fcm_endpoint: str | None = None
    # How long a worker holds a claimed outbox message before another may take it.
    worker_lease_seconds: int = 120
    # The longest the worker waits for FCM or a clinic's CRM to answer a call; a vendor
    # that hangs is then not called again for as long, and its messages are retried.
    vendor_timeout_seconds: float = 15.0
    firebase_auth_emulator_host: str | None = None
    # Where clinics' systems reach us (the inbound URLs shown to the exchange);
    # default http://HOST:PORT.
    public_url: str = ""
    # Browser origins allowed to call the API (CORS), e.g. the patient web app; empty:
    # no cross-origin access at all.
    cors_origins: tuple[str, ...] = ()
    # Requests per minute, shared by every server process (counted in the database);
    # 0 turns a budget off. Sign-in per client address, the patient API per patient,
    # staff routes per staff user, clinic systems' deliveries per integration.
    rate_limit_auth: int = 20
    rate_limit_patient: int = 300
    rate_limit_staff: int = 1200
    rate_limit_webhooks: int = 6000
    rate_limit_window_seconds: int = 60
    # SMS to patients without the app (backend/messages/sms.py, backend/services/sms.py).
    # No provider: texts are written to the log and marked `logged`.
    sms_provider: Literal["", "smsru"] = ""
    sms_api_id: str = msgspec.field(default="")
    sms_endpoint: str = ""  # another SMS.ru-compatible base URL (tests, relays)
    sms_sender_name: str = ""  # an approved sender name ("from"); empty: the account's
    sms_timeout_seconds: float = 10.0
    sms_weekly_limit: int = 3  # SMS per patient in any seven days; 0: none but codes
    # The patient's web page (patient_web/): requests per window per client address,
    # and where the app can be installed from (shown on every page).
    rate_limit_links: int = 120
    app_store_url: str = ""
    google_play_url: str = ""
    # The oldest app version the patient API still serves (X-App-Version, "1.4.2"); an
    # older app gets 426 with the store links above. Empty: every version is served.
    min_app_version: str = ""
    # Staff alerts by e-mail: smtp://user:password@host:port (or smtps://); empty: the
    # e-mails are written to the log. The From address of every alert.
    smtp_url: str = msgspec.field(default="")
    smtp_from: str = "plantrack <alerts@plantrack.invalid>"

    def __repr__(self) -> str:  # never print the secret
        return (
            f"Settings(env={self.env!r}, database_url={_redact(self.database_url)!r}, "
            f"reports_database_url={_redact(self.reports_database_url)!r}, ...)"
        )

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


# Environment variable → field. Only these are read; anything else is ignored.
ENV_VARS = {
    "PLANTRACK_ENV": "env",
    "PLANTRACK_DATABASE_URL": "database_url",
    "PLANTRACK_REPORTS_DATABASE_URL": "reports_database_url",
    "PLANTRACK_SECRET_KEY": "secret_key",
    "PLANTRACK_HOST": "host",
    "PLANTRACK_PORT": "port",
    "PLANTRACK_WORKERS": "workers",
    "PLANTRACK_LOG_LEVEL": "log_level",
    "PLANTRACK_VAR_DIR": "var_dir",
    "PLANTRACK_DB_POOL_SIZE": "db_pool_size",
    "PLANTRACK_EMBEDDED_WORKER": "embedded_worker",
    "PLANTRACK_FIREBASE_PROJECT_ID": "firebase_project_id",
    "PLANTRACK_FIREBASE_CERTS_URL": "firebase_certs_url",
    "PLANTRACK_ACCESS_TOKEN_MINUTES": "access_token_minutes",
    "PLANTRACK_REFRESH_TOKEN_DAYS": "refresh_token_days",
    "PLANTRACK_JWT_KEYS": "jwt_keys",
    "PLANTRACK_MEDIA_DIR": "media_dir",
    "PLANTRACK_MEDIA_URL": "media_url",
    "AWS_ENDPOINT_URL": "s3_endpoint_url",
    "AWS_ACCESS_KEY_ID": "s3_access_key_id",
    "AWS_SECRET_ACCESS_KEY": "s3_secret_access_key",
    "AWS_REGION": "s3_region",
    "GOOGLE_APPLICATION_CREDENTIALS": "fcm_credentials",
    "PLANTRACK_FCM_ENDPOINT": "fcm_endpoint",
    "PLANTRACK_WORKER_LEASE_SECONDS": "worker_lease_seconds",
    "PLANTRACK_VENDOR_TIMEOUT_SECONDS": "vendor_timeout_seconds",
    "FIREBASE_AUTH_EMULATOR_HOST": "firebase_auth_emulator_host",
    "PLANTRACK_PUBLIC_URL": "public_url",
    "PLANTRACK_CORS_ORIGINS": "cors_origins",
    "PLANTRACK_RATE_LIMIT_AUTH": "rate_limit_auth",
    "PLANTRACK_RATE_LIMIT_PATIENT": "rate_limit_patient",
    "PLANTRACK_RATE_LIMIT_STAFF": "rate_limit_staff",
    "PLANTRACK_RATE_LIMIT_WEBHOOKS": "rate_limit_webhooks",
    "PLANTRACK_RATE_LIMIT_WINDOW_SECONDS": "rate_limit_window_seconds",
    "PLANTRACK_SMS_PROVIDER": "sms_provider",
    "PLANTRACK_SMS_API_ID": "sms_api_id",
    "PLANTRACK_SMS_ENDPOINT": "sms_endpoint",
    "PLANTRACK_SMS_FROM": "sms_sender_name",
    "PLANTRACK_SMS_TIMEOUT_SECONDS": "sms_timeout_seconds",
    "PLANTRACK_SMS_WEEKLY_LIMIT": "sms_weekly_limit",
    "PLANTRACK_RATE_LIMIT_LINKS": "rate_limit_links",
    "PLANTRACK_APP_STORE_URL": "app_store_url",
    "PLANTRACK_GOOGLE_PLAY_URL": "google_play_url",
    "PLANTRACK_MIN_APP_VERSION": "min_app_version",
    "PLANTRACK_SMTP_URL": "smtp_url",
    "PLANTRACK_SMTP_FROM": "smtp_from",
}

LISTS = {"cors_origins"}  # comma-separated in the environment


def load_settings(environ: dict[str, str] | None = None) -> Settings:
    """Read, default and check the settings. Raises SettingsError with what to fix."""
    environ = dict(os.environ if environ is None else environ)
    raw: dict = {field: environ[var] for var, field in ENV_VARS.items() if environ.get(var)}
    for field in LISTS & raw.keys():
        raw[field] = [part.strip().rstrip("/") for part in raw[field].split(",") if part.strip()]
    try:
        settings = msgspec.convert(raw, Settings, strict=False)
    except msgspec.ValidationError as exc:
        name = next((v for v, f in ENV_VARS.items() if f"$.{f}" in str(exc)), "a setting")
        raise SettingsError(f"{name}: {exc}") from exc

    var_dir = Path(settings.var_dir)
    changes: dict = {}
    if not settings.database_url:
        changes["database_url"] = _default_database_url(var_dir)
    if not settings.media_dir:
        changes["media_dir"] = str(var_dir / "media")
    if not settings.public_url:
        changes["public_url"] = f"http://{settings.host}:{settings.port}"
    if not settings.secret_key and settings.env == "dev":
        changes["secret_key"] = _dev_secret(var_dir)
        changes["secret_key_generated"] = True
    settings = msgspec.structs.replace(settings, **changes)
    check_settings(settings)
    return settings


def _default_database_url(var_dir: Path) -> str:
    return f"sqlite:///{var_dir / 'plantrack.sqlite3'}"


def database_url(environ: dict[str, str] | None = None) -> str:
    """Just the database URL, for tools that need nothing else (Piccolo's CLI)."""
    environ = dict(os.environ if environ is None else environ)
    given = environ.get("PLANTRACK_DATABASE_URL")
    return given or _default_database_url(Path(environ.get("PLANTRACK_VAR_DIR") or "var"))


def check_settings(settings: Settings) -> None:
    url = settings.database_url
    if not (url.startswith("sqlite:///") or url.startswith(("postgresql://", "postgres://"))):
        raise SettingsError(
            "PLANTRACK_DATABASE_URL must be sqlite:///PATH or postgresql://USER@HOST/DB"
        )
    replica = settings.reports_database_url
    if replica and (settings.is_sqlite or not replica.startswith(("postgresql://", "postgres://"))):
        raise SettingsError(
            "PLANTRACK_REPORTS_DATABASE_URL: a postgresql:// replica of a PostgreSQL primary"
        )
    for origin in settings.cors_origins:
        if not origin.startswith(("https://", "http://")) or origin.count("/") != 2:
            raise SettingsError(
                f"PLANTRACK_CORS_ORIGINS: {origin!r} is not an origin like https://app.example"
            )
    budgets = (settings.rate_limit_auth, settings.rate_limit_patient, settings.rate_limit_staff)
    if min(*budgets, settings.rate_limit_webhooks) < 0 or settings.rate_limit_window_seconds < 1:
        raise SettingsError("PLANTRACK_RATE_LIMIT_*: budgets are >= 0 (0: off), windows >= 1 s")
    if not 0 < settings.vendor_timeout_seconds <= 300:
        raise SettingsError("PLANTRACK_VENDOR_TIMEOUT_SECONDS: more than 0, at most 300")
    check_sms_settings(settings)
    check_media_settings(settings)
    if settings.smtp_url:
        from backend.messages.email import parse_smtp_url

        try:
            parse_smtp_url(settings.smtp_url)
        except ValueError as exc:
            raise SettingsError(str(exc)) from exc
    if settings.env != "prod":
        return
    problems = []
    if not settings.secret_key:
        problems.append("PLANTRACK_SECRET_KEY is required")
    elif settings.secret_key_generated:
        problems.append("PLANTRACK_SECRET_KEY must be set, not generated")
    elif len(settings.secret_key) < MIN_SECRET_LENGTH:
        problems.append(f"PLANTRACK_SECRET_KEY must be at least {MIN_SECRET_LENGTH} characters")
    if settings.firebase_auth_emulator_host:
        problems.append("FIREBASE_AUTH_EMULATOR_HOST is set: the emulator accepts unsigned tokens")
    if not settings.firebase_certs_url.startswith("https://"):
        problems.append("PLANTRACK_FIREBASE_CERTS_URL must be an https:// address")
    if not settings.public_url.startswith("https://"):
        problems.append("PLANTRACK_PUBLIC_URL must be the service's https:// address")
    if settings.is_sqlite:
        problems.append("PLANTRACK_DATABASE_URL must point at PostgreSQL in production")
    if problems:
        raise SettingsError("refusing to start in production: " + "; ".join(problems))


def check_sms_settings(settings: Settings) -> None:
    if settings.sms_provider == "smsru" and not settings.sms_api_id:
        raise SettingsError("PLANTRACK_SMS_PROVIDER=smsru needs PLANTRACK_SMS_API_ID")
    if settings.sms_endpoint and not settings.sms_endpoint.startswith(("https://", "http://")):
        raise SettingsError("PLANTRACK_SMS_ENDPOINT: a base URL like https://sms.ru")
    if settings.sms_weekly_limit < 0 or settings.sms_timeout_seconds <= 0:
        raise SettingsError(
            "PLANTRACK_SMS_WEEKLY_LIMIT is >= 0 (0: no SMS but sign-in codes); "
            "PLANTRACK_SMS_TIMEOUT_SECONDS > 0"
        )
    if settings.rate_limit_links < 0:
        raise SettingsError("PLANTRACK_RATE_LIMIT_LINKS: >= 0 (0: off)")
    for name, url in (
        ("PLANTRACK_APP_STORE_URL", settings.app_store_url),
        ("PLANTRACK_GOOGLE_PLAY_URL", settings.google_play_url),
    ):
        if url and not url.startswith("https://"):
            raise SettingsError(f"{name}: an https:// address")
    if settings.min_app_version and not re.match(APP_VERSION_PATTERN, settings.min_app_version):
        raise SettingsError("PLANTRACK_MIN_APP_VERSION: a version like 1.4.2, or empty (off)")


def _dev_secret(var_dir: Path) -> str:
    """A secret generated once per checkout and kept under var/, for development only."""
    path = var_dir / SECRET_FILE
    if path.exists():
        return path.read_text().strip()
    var_dir.mkdir(parents=True, exist_ok=True)
    secret = secrets.token_urlsafe(48)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process won the race; use its secret
        return path.read_text().strip()
    with os.fdopen(fd, "w") as f:
        f.write(secret)
    return secret


def check_media_settings(settings: Settings) -> None:
    url = settings.media_url
    if not url:
        return
    bucket = url.removeprefix("s3://").split("/", 1)[0]
    if not url.startswith("s3://") or not 3 <= len(bucket) <= 63:
        raise SettingsError("PLANTRACK_MEDIA_URL must be s3://BUCKET or s3://BUCKET/PREFIX")
    endpoint = settings.s3_endpoint_url
    if endpoint and not endpoint.startswith(("https://", "http://")):
        raise SettingsError("AWS_ENDPOINT_URL must be an http(s):// address")
    if settings.env == "prod" and endpoint.startswith("http://"):
        raise SettingsError("AWS_ENDPOINT_URL must be https:// in production")


def _redact(url: str) -> str:
    if "@" not in url or "://" not in url:
        return url
    scheme, rest = url.split("://", 1)
    creds, host = rest.rsplit("@", 1)
    user = creds.split(":", 1)[0]
    return f"{scheme}://{user}:***@{host}"
