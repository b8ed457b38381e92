"""Aggregate reporting (issue 13): the data model (data elements with disaggregations, data sets,
indicators, plan targets) as data files, the statutory forms filled from the claims, import of
aggregate spreadsheets with receipts, and DHIS2 exchange (``dataValueSets`` JSON/CSV, ADX).

Modules: ``metadata`` (the data files), ``periods``, ``models`` (tables ``ag_*``), ``store``
(values in and out), ``forms`` and ``workbook`` (the statutory forms), ``importer`` (uploads),
``dhis2`` (exchange formats), ``web`` and ``cli``.
"""
