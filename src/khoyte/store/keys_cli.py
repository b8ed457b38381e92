"""``khoyte keys status|new|rotate``: the keys that encrypt identifiers in the operational store
(``khoyte.store.crypto``; docs/operations.md, "Khóa mã hóa / store keys")."""

from __future__ import annotations

import secrets

import typer

keys_app = typer.Typer(
    help="Khóa mã hóa định danh trong kho vận hành / keys of the store's encrypted identifiers.",
    no_args_is_help=True,
)


@keys_app.command("status")
def status_cmd() -> None:
    """Các khóa và khóa đang dùng để mã hóa / the keys, and which one encrypts."""
    from khoyte.config import Settings
    from khoyte.store.crypto import load_keyring

    ring = load_keyring(Settings(), create=False)
    typer.echo(
        f"{ring.source}: {', '.join(ring.keys)}; mã hóa bằng / encrypting with {ring.primary}"
    )


@keys_app.command("new")
def new_cmd() -> None:
    """In một khóa ngẫu nhiên để thêm vào KHOYTE_STORE_KEYS / print a random key to append to
    KHOYTE_STORE_KEYS (its id: the next free ``kN``)."""
    typer.echo(secrets.token_hex(32))


@keys_app.command("rotate")
def rotate_cmd() -> None:
    """Mã hóa lại mọi định danh bằng khóa mới / re-encrypt every identifier with a new key.

    With the keys in ``DATA_DIR/store.keys`` a new key is added there; with
    ``KHOYTE_STORE_KEYS`` the last key of the setting is the new one. Every sealed value is
    opened with the key that sealed it and sealed with the new one, and every blind index is
    recomputed, in one transaction; then SQLite is vacuumed (PostgreSQL: ``VACUUM FULL`` of
    those tables) so no old ciphertext or plaintext page stays. Stop ``khoyte serve`` first."""
    from khoyte.config import Settings
    from khoyte.registry.cli import _audit
    from khoyte.store import crypto
    from khoyte.store.db import make_engine, migrate
    from khoyte.store.sealing import seal_gateway, seal_persons

    settings = Settings()
    ring = (
        crypto.new_key(settings) if settings.store_keys is None else crypto.load_keyring(settings)
    )
    engine = make_engine(settings)
    try:
        crypto.attach(engine, ring)
        migrate(engine)
        import khoyte.store.models  # noqa: F401  (every component's tables)
        from khoyte.store.db import Base

        whole = [
            c for c in crypto.sealed_columns(Base.metadata.sorted_tables) if c[0] != "ps_record"
        ]  # fmt: skip  (its identity: seal_persons, with indexes)
        with engine.begin() as conn:
            n = seal_gateway(conn, ring, plaintext=False, columns=whole)
            m = seal_persons(conn, ring, old_columns=False)
        with engine.connect() as conn:
            auto = conn.execution_options(isolation_level="AUTOCOMMIT")
            if engine.dialect.name == "sqlite":
                auto.exec_driver_sql("VACUUM")
            else:
                for t in ("gw_submission", "gw_finding", "gw_record_version", "ps_record"):
                    auto.exec_driver_sql(f"VACUUM FULL {t}")  # fixed names
        from khoyte.store.db import session_factory, session_scope

        with session_scope(session_factory(engine)) as s:
            _audit(s, "store.keys_rotate", ring.primary, {"values": n, "persons": m})
    finally:
        engine.dispose()
    typer.echo(
        f"Đã mã hóa lại {n} giá trị và {m} hồ sơ người bằng khóa {ring.primary} / "
        f"re-encrypted {n} values and {m} person records with key {ring.primary}"
    )


def register(app: typer.Typer) -> None:
    app.add_typer(keys_app, name="keys")
