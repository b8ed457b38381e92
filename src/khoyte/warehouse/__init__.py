"""The analytics store: a star schema on DuckDB holding the current version of every accepted
record, loaded incrementally from the operational store (``khoyte.handoff.VersionSource``).

Everything outside this package talks to :class:`khoyte.warehouse.engine.AnalyticsEngine`.
"""
