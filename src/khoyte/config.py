"""One typed settings object, read from ``KHOYTE_*`` environment variables (and ``.env``).

Build it with ``Settings()`` inside an application factory or a command, never at import time.
Every setting is documented here; ``docs/settings.md`` is generated from these descriptions and
a test checks it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
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
    db_pool_size: int = Field(
        20,
        ge=1,
        description="PostgreSQL: connections each process keeps open (and up to 10 more at "
        "peaks). Fewer than the requests a process works on at once means connections opened "
        "and closed per request (measured: hundreds a minute under load). Keep processes × "
        "(size + 10) under PostgreSQL's max_connections.",
    )
    max_file_bytes: int = Field(
        512 * 1024 * 1024,
        description="Largest file `khoyte validate`/`ingest` reads from disk, in bytes.",
    )

    # --- judging (validate/policy.py) -------------------------------------------------------
    validation_profile: str = Field(
        "hub",
        description="Hồ sơ đánh giá / judging profile: `hub` (Sở Y tế: đếm mọi lượt khám, chỉ "
        "từ chối hồ sơ không xác định được — the default) or `payer` (công thức chữ của QĐ "
        "130/4750 là lỗi — the written formulas as errors). `khoyte rules` shows it.",
    )
    validation_policy: Path | None = Field(
        None,
        description="Tệp chính sách riêng (TOML) / the deployment's policy file laid over the "
        "built-in one: any rule's severity, tolerance, exemptions (see docs/validation.md).",
    )

    # --- gateway (intake: khoyte serve / ingest / watch) -----------------------------------
    max_body_bytes: int = Field(
        50 * 1024 * 1024,
        description="Giới hạn kích thước một lần gửi / largest submission body accepted, in bytes.",
    )
    max_request_body_bytes: int = Field(
        64 * 1024,
        ge=1024,
        description="Giới hạn thân yêu cầu của mọi tuyến khác (đăng nhập, biểu mẫu, JSON) / "
        "largest body of every other route (sign-in, forms, JSON), in bytes; checked while it "
        "streams in, before anyone is authenticated.",
    )
    request_timeout: float = Field(
        60.0,
        description="Thời gian tối đa nhận thân một yêu cầu (mọi tuyến) / seconds allowed to "
        "receive one request body, on every route.",
    )
    rate_limit_per_minute: int = Field(
        600,
        description="Số lần gửi mỗi phút cho một mã truy cập / submissions per minute per "
        "credential (per server process); 0 disables the limit.",
    )
    archive_retention_years: int = Field(
        10,
        ge=1,
        description="Số năm lưu tệp gốc / years each raw file is kept; fixed per file when it is "
        "received, so lowering it later never shortens what is already archived.",
    )
    metrics_access: Literal["public", "permission", "off"] = Field(
        "public",
        description="Ai đọc được /metrics / who may read `/metrics` (submission and refusal "
        "counts): `public` (anyone who reaches the server: keep it behind the proxy), "
        "`permission` (signed-in users holding `admin_facilities`), `off` (404).",
    )
    intake_parallel_per_credential: int = Field(
        4,
        ge=0,
        description="Số tệp nhận song song mỗi mã truy cập / files one credential may have in "
        "flight at once (per server process); more wait their turn before their body is read, "
        "which bounds the memory one credential can hold; 0: no limit.",
    )
    archive_quota_bytes_per_day: int = Field(
        1024 * 1024 * 1024,
        ge=0,
        description="Dung lượng lưu trữ tối đa mỗi cơ sở mỗi ngày / bytes one facility's "
        "credentials may add to the raw archive per UTC day (new files only; resending a file "
        "already archived is free); 0 turns the quota off. Over it: 429 `quota_exceeded`.",
    )
    forwarded_allow_ips: str = Field(
        "",
        description="Địa chỉ proxy tin cậy / addresses of reverse proxies whose "
        "`X-Forwarded-For`/`X-Forwarded-Proto` are believed (comma-separated IPs or networks, "
        "`*` for any). Empty: no proxy is trusted, the TCP peer is the client "
        "(`khoyte serve --forwarded-allow-ips`).",
    )
    watch_interval: float = Field(
        1.0,
        description="Chu kỳ quét thư mục nhận tệp / seconds between scans of `khoyte watch`.",
    )

    # --- warehouse and dashboard (khoyte.warehouse, khoyte.web.dashboard) ---------------------
    open_dashboard: bool = Field(
        False,
        description="Bảng điều khiển mở cho khách (chỉ đọc, toàn tỉnh) / dashboard open to "
        "anonymous visitors, read-only, whole province (demo; off in production).",
    )
    warehouse_source: Path | None = Field(
        None,
        description="Thư mục tệp XML (đầu ra `khoyte synth`) nạp vào kho khi chưa có cổng "
        "tiếp nhận / folder of claim files loaded into the warehouse when there is no gateway.",
    )
    warehouse_refresh_seconds: float = Field(
        1.0,
        description="Chu kỳ cập nhật kho phân tích / seconds between warehouse refreshes "
        "in the web app (0: no background refresh).",
    )
    persons_link_seconds: float = Field(
        2.0,
        description="Chu kỳ liên kết hồ sơ mới vào chỉ mục người bệnh / seconds between online "
        "linking rounds of the web app (a submission to this process links at once; 0: only "
        "then). Records taken by another process are linked within this time.",
    )
    pseudonym_key: SecretStr | None = Field(
        None,
        description="Khóa băm mã người bệnh ẩn danh / key of the pseudonymous person key in the "
        "warehouse. Empty: a random key kept in `DATA_DIR/warehouse.key`.",
    )
    store_keys: SecretStr | None = Field(
        None,
        description="Khóa mã hóa định danh trong kho vận hành (Nghị định 13/2023) / keys that "
        "encrypt patient identifiers in the operational store: `k1:<64 hex>,k2:<64 hex>`, the "
        "last one encrypts. Empty: kept in `DATA_DIR/store.keys` (see docs/operations.md).",
    )
    silent_days: int = Field(
        7,
        description="Số ngày không gửi dữ liệu thì coi là im lặng / days without data after "
        "which a facility is listed as silent.",
    )

    # --- alerts and their delivery (khoyte.surveillance: issue 15) -----------------------------
    alert_rules: Path | None = Field(
        None,
        description="Tệp quy tắc cảnh báo (TOML) / the deployment's alert rules file; empty: the "
        "built-in rules (see docs/alerts.md).",
    )
    alerts_interval_seconds: float = Field(
        60.0,
        ge=0,
        description="Chu kỳ đánh giá cảnh báo và gửi thư / seconds between runs of the alert "
        "rules and the delivery outbox in the web app (0: only `khoyte alerts run`).",
    )
    alert_escalate_minutes: int = Field(
        60,
        ge=1,
        description="Sau bao nhiêu phút chưa ai xác nhận thì chuyển lên cấp tỉnh / minutes an "
        "alert may stay unacknowledged before it escalates to the province's leaders.",
    )
    delivery_max_attempts: int = Field(
        6,
        ge=1,
        description="Số lần gửi thử (thư, webhook) trước khi vào danh sách thất bại / attempts "
        "per e-mail or webhook before it goes to the dead-letter list.",
    )
    delivery_backoff_seconds: float = Field(
        30.0,
        ge=0,
        description="Thời gian chờ trước lần gửi lại đầu tiên, gấp đôi mỗi lần / seconds before "
        "the first retry, doubled after each failure.",
    )
    digest_hour: int = Field(
        7,
        ge=0,
        le=23,
        description="Giờ gửi thư tổng hợp hằng ngày (giờ Việt Nam) / hour of the daily digest "
        "e-mail, Vietnam time (UTC+7).",
    )
    smtp_host: str = Field(
        "", description="Máy chủ SMTP / SMTP server; empty: no e-mail is sent (kept pending)."
    )
    smtp_port: int = Field(587, description="Cổng SMTP / SMTP port.")
    smtp_user: str = Field("", description="Tài khoản SMTP / SMTP user (empty: no login).")
    smtp_password: SecretStr | None = Field(None, description="Mật khẩu SMTP / SMTP password.")
    smtp_tls: Literal["starttls", "ssl", "none"] = Field(
        "starttls",
        description="Mã hoá SMTP / SMTP encryption: `starttls`, `ssl` (implicit TLS) or `none` "
        "(a relay on the same host only).",
    )
    smtp_sender: str = Field(
        "khoyte@localhost", description="Địa chỉ người gửi / the sender's e-mail address."
    )
    alert_webhook_url: str = Field(
        "",
        description="Địa chỉ webhook nhận mọi cảnh báo toàn tỉnh (IOC) / URL that receives every "
        "alert as signed JSON; empty: none.",
    )
    alert_webhook_secret: SecretStr | None = Field(
        None,
        description="Khoá ký HMAC-SHA256 của webhook / key of the webhook's HMAC-SHA256 "
        "signature (`X-Khoyte-Signature`). Required when a webhook URL is set.",
    )
    report_max_bytes: int = Field(
        20 * 1024 * 1024,
        ge=1024,
        description="Dung lượng tối đa tệp báo cáo đơn vị gửi lên / largest file a unit may send "
        "in answer to a report request, in bytes.",
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
