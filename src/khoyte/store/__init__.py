"""The operational store: SQLAlchemy 2 models on one ``Base``, SQLite by default, PostgreSQL when
``KHOYTE_DATABASE_URL`` says so; schema changes are Alembic migrations (``migrate``)."""
