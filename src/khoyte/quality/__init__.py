"""The data-quality workspace (issue 11 item 4): what is wrong with each facility's data, how
often, since when, how much money the payer may refuse because of it, and how to fix it.

Pages (``/quality`` for the Department of Health's specialists, ``/findings`` for facility
staff), their JSON twins (``/api/v1/quality…``) and XLSX/CSV exports, all over the same query
functions (``quality.queries``), which read the operational store (``gw_record``,
``gw_record_version``, ``gw_finding``) with SQLAlchemy Core on SQLite and PostgreSQL.
Counting rules: ``docs/quality.md``.
"""
