"""One typed settings object, read from ``KHOYTE_*`` environment variables (and ``.env``).

Build it with ``Settings()`` inside an application factory or a command, never at import time.
Every setting is documented here; ``docs/settings.md`` is generated from these descriptions and
a test checks it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="KHOYTE_", env_file=".env", extra="ignore")

    data_dir: Path = Field(
        Path("khoyte-data"),
        description="Thư mục dữ liệu / data folder: SQLite file, DuckDB file, raw archive.",
    )
    database_url: str | None = Field(
        None,
        description="Operational store URL (e.g. postgresql+psycopg://user@host/db). "
        "Empty: a SQLite file in the data folder.",
    )
    max_file_bytes: int = Field(
        512 * 1024 * 1024,
        description="Largest file `khoyte validate`/`ingest` reads from disk, in bytes.",
    )

    # --- security (issue 6: users, sessions, audit trail, hardening) ---
    environment: Literal["development", "production"] = Field(
        "development",
        description="development | production. Production refuses to start with default or "
        "empty secrets and always marks cookies Secure.",
    )
    secret_key: str = Field(
        "",
        description="Secret for session/CSRF tokens (HMAC). Required (>= 32 characters) in "
        "production; empty in development: a fixed development key is used.",
    )
    audit_signing_key: str = Field(
        "",
        description="Key for HMAC-SHA256 signatures of the exported audit chain head "
        "(`khoyte audit export-head --sign`). Required in production.",
    )
    session_idle_minutes: int = Field(
        30, ge=1, description="A signed-in session ends after this many minutes without use."
    )
    session_absolute_hours: int = Field(
        12, ge=1, description="A signed-in session ends this many hours after sign-in."
    )
    login_max_failures: int = Field(
        5, ge=1, description="Failed sign-ins in a row that lock an account."
    )
    login_lockout_minutes: int = Field(
        15, ge=1, description="How long a locked account stays locked, in minutes."
    )
    login_ip_max_failures: int = Field(
        20,
        ge=1,
        description="Failed sign-ins from one address within the lock-out window before that "
        "address is rate limited (429).",
    )
    password_min_length: int = Field(12, ge=8, description="Shortest password accepted.")
    api_token_hours: int = Field(8, ge=1, description="Lifetime of user bearer tokens, in hours.")
    small_count_threshold: int = Field(
        5,
        ge=0,
        description="Counts from 1 to this value minus one are suppressed in exported or shared "
        "aggregates (0 turns suppression off).",
    )

    @property
    def sqlite_path(self) -> Path:
        return self.data_dir / "khoyte.sqlite3"

    @property
    def duckdb_path(self) -> Path:
        return self.data_dir / "warehouse.duckdb"

    @property
    def archive_dir(self) -> Path:
        return self.data_dir / "archive"

    def effective_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.sqlite_path}"
