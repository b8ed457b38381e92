"""The star schema, in the SQL DuckDB and PostgreSQL share.

Facts hold the *current* version of each accepted episode (one row per ``(facility, ma_lk)``)
and its lines; ``fact_submission`` holds every version received, rejected ones included (the
completeness and timeliness views need them). Money is kept in integer đồng × 100 (exact sums).
No direct identifier is stored: ``person_key`` is a keyed hash (see ``transform.person_key``).
"""

from __future__ import annotations

from khoyte.registry.agebands import AGE_BANDS
from khoyte.warehouse import papers
from khoyte.warehouse.engine import AnalyticsEngine

SCHEMA_VERSION = "4"  # 4: the paper tables and map_person
# version of the set of aggregate tables: a store whose ``wh_meta.aggregates`` differs gets
# them (re)built from its facts when a loader opens it (4: agg_icd_day and agg_month added)
AGGREGATES_VERSION = "4"

TABLES: dict[str, str] = {
    "wh_meta": "key VARCHAR PRIMARY KEY, value VARCHAR",
    "dim_facility": (
        "ma_cskcb VARCHAR PRIMARY KEY, ten VARCHAR, tuyen VARCHAR, loai VARCHAR, ma_xa VARCHAR, "
        "ten_xa VARCHAR, ma_tinh VARCHAR, giuong INTEGER, nhan_luc INTEGER, active BOOLEAN, "
        "valid_from DATE, valid_to DATE, revision BIGINT"
    ),
    "dim_icd10": "code VARCHAR PRIMARY KEY, name_vi VARCHAR, name_en VARCHAR, chapter VARCHAR",
    "fact_episode": (
        "facility VARCHAR NOT NULL, ma_lk VARCHAR NOT NULL, version INTEGER, version_id BIGINT, "
        "received_at TIMESTAMP, standard VARCHAR, ngay_vao DATE, ngay_ra DATE, "
        "ma_loai_kcb VARCHAR, inpatient BOOLEAN, gioi_tinh VARCHAR, age INTEGER, "
        "age_band VARCHAR, person_key VARCHAR, ma_xa_cu_tru VARCHAR, ma_benh_chinh VARCHAR, "
        "icd10_chapter VARCHAR, emergency BOOLEAN, death BOOLEAN, ket_qua_dtri VARCHAR, "
        "bed_days INTEGER, t_tongchi_bv BIGINT, t_bhtt BIGINT, patient_paid BIGINT, "
        "bhyt BOOLEAN, so_ngay_dtri_sent INTEGER, ngay_giuong INTEGER, drug_cost BIGINT, "
        "drug_cost_basis VARCHAR, ma_loai_rv VARCHAR, person BIGINT"
    ),
    "fact_diagnosis": (
        "facility VARCHAR, ma_lk VARCHAR, code VARCHAR, main BOOLEAN, chapter VARCHAR, "
        "version_id BIGINT"
    ),
    "fact_drug": (
        "facility VARCHAR, ma_lk VARCHAR, ma_thuoc VARCHAR, so_luong DOUBLE PRECISION, "
        "thanh_tien_bv BIGINT, version_id BIGINT"
    ),
    "fact_service": (
        "facility VARCHAR, ma_lk VARCHAR, ma_dich_vu VARCHAR, ma_vat_tu VARCHAR, "
        "so_luong DOUBLE PRECISION, thanh_tien_bv BIGINT, version_id BIGINT"
    ),
    "fact_lab": (
        "facility VARCHAR, ma_lk VARCHAR, ma_dich_vu VARCHAR, ma_chi_so VARCHAR, "
        "gia_tri VARCHAR, don_vi_do VARCHAR, version_id BIGINT"
    ),
    "fact_submission": (
        "version_id BIGINT, facility VARCHAR, ma_lk VARCHAR, version INTEGER, "
        "submission_id VARCHAR, received_at TIMESTAMP, status VARCHAR, ngay_vao DATE"
    ),
    # the papers (XML6, XML7, XML9, XML12, XML13, XML15), fields typed per the standard
    **{name: papers.ddl(name) for name in papers.PAPER_TABLES},
    # record → pseudonymous person key from the master person index (fed by the hand-off)
    "map_person": "facility VARCHAR, ma_lk VARCHAR, person_key VARCHAR",
    "wh_person_batch": "facility VARCHAR, ma_lk VARCHAR, person_key VARCHAR, person BIGINT",
    # keys of one load batch (scratch; empty between loads)
    "wh_batch_keys": "facility VARCHAR, ma_lk VARCHAR",
    "wh_batch_ids": "version_id BIGINT",  # version ids of one delta (scratch)
}

# Pre-aggregated tables the dashboards read (see ``docs/warehouse.md``): kept equal to a
# GROUP BY over the facts by the loader, in the same transaction as the facts. Their key
# columns carry the names of the fact columns, so ``analytics.filters.where`` applies as is.
# agg_day: one row per admission day × facility × visit type (current versions only).
AGG_DAY_KEYS = ("ngay_vao", "facility", "ma_loai_kcb")
AGG_SEXES = ("1", "2", "3")
AGG_AGE_BANDS = tuple(label for _, _, label in AGE_BANDS)
# measure column -> expression over ``fact_episode e`` (every one a count or a sum)
AGG_DAY_MEASURES: dict[str, str] = {
    "visits": "COUNT(*)",
    "inpatient": "COUNT(*) FILTER (WHERE e.inpatient)",
    "emergencies": "COUNT(*) FILTER (WHERE e.emergency)",
    "deaths": "COUNT(*) FILTER (WHERE e.death)",
    "bed_days": "COALESCE(SUM(e.bed_days), 0)",
    "cost_total": "COALESCE(SUM(e.t_tongchi_bv), 0)",
    "cost_bhyt": "COALESCE(SUM(e.t_bhtt), 0)",
    "cost_patient": "COALESCE(SUM(e.patient_paid), 0)",
    "bhyt_records": "COUNT(*) FILTER (WHERE e.bhyt)",
    **{f"sex_{s}": f"COUNT(*) FILTER (WHERE e.gioi_tinh = '{s}')" for s in AGG_SEXES},
    **{
        f"age_{i}": f"COUNT(*) FILTER (WHERE e.age_band = '{b}')"
        for i, b in enumerate(AGG_AGE_BANDS)
    },
}
# agg_submission: one row per facility × admission day over every version received.
AGG_SUB_KEYS = ("ngay_vao", "facility")
AGG_SUB_MEASURES: dict[str, str] = {
    "records": "COUNT(*)",
    "rejected": "COUNT(*) FILTER (WHERE e.status = 'rejected')",
    "first_received": "MIN(e.received_at)",
    "last_received": "MAX(e.received_at)",
}
# how partial aggregates of a measure combine (delta rows merged into the table)
AGG_COMBINE = {"first_received": "MIN", "last_received": "MAX"}
# agg_icd_day: day × facility × visit type × main ICD-10 code (the top-10 list).
AGG_ICD_KEYS = (*AGG_DAY_KEYS, "ma_benh_chinh")
AGG_ICD_MEASURES = {"visits": "COUNT(*)"}
# agg_month: as agg_day, one row per month; its ``ngay_vao`` is the first day of the month.
AGG_MONTH_KEYS = AGG_DAY_KEYS
AGGREGATES: dict[str, tuple[str, tuple[str, ...], dict[str, str]]] = {
    "agg_day": ("fact_episode", AGG_DAY_KEYS, AGG_DAY_MEASURES),
    "agg_icd_day": ("fact_episode", AGG_ICD_KEYS, AGG_ICD_MEASURES),
    "agg_month": ("fact_episode", AGG_MONTH_KEYS, AGG_DAY_MEASURES),
    "agg_submission": ("fact_submission", AGG_SUB_KEYS, AGG_SUB_MEASURES),
}
# the aggregates over the current episodes (they follow every replaced/loaded version)
EPISODE_AGGREGATES = ("agg_day", "agg_icd_day", "agg_month")
# key column -> expression over ``e`` where it is not the fact column itself
AGG_KEY_EXPRS: dict[str, dict[str, str]] = {
    "agg_month": {"ngay_vao": "CAST(date_trunc('month', e.ngay_vao) AS DATE)"},
}
_KEY_TYPES = {
    "ngay_vao": "DATE",
    "facility": "VARCHAR",
    "ma_loai_kcb": "VARCHAR",
    "ma_benh_chinh": "VARCHAR",
}
for _name, (_fact, _keys, _measures) in AGGREGATES.items():
    _cols = [f"{k} {_KEY_TYPES[k]}" for k in _keys] + [
        f"{m} {'TIMESTAMP' if m in AGG_COMBINE else 'BIGINT'}" for m in _measures
    ]
    TABLES[_name] = ", ".join(_cols)
    TABLES[f"wh_delta_{_name}"] = ", ".join(_cols)  # scratch of one load (empty between)


# Tables that hold the current version only; each row carries the ``version_id`` of its episode
# version, so a superseded version is deleted by id (ids grow with arrival: DuckDB's zone maps
# skip every row group but the ones holding it, where a key comparison would scan the table).
CURRENT_TABLES = (
    "fact_episode", "fact_diagnosis", "fact_drug", "fact_service", "fact_lab",
    *papers.PAPER_TABLES,
)  # fmt: skip

INDEXES_POSTGRES = (
    "CREATE INDEX IF NOT EXISTS ix_ep_date ON fact_episode (ngay_vao)",
    "CREATE INDEX IF NOT EXISTS ix_ep_key ON fact_episode (facility, ma_lk)",
    "CREATE INDEX IF NOT EXISTS ix_dx_key ON fact_diagnosis (facility, ma_lk)",
    "CREATE INDEX IF NOT EXISTS ix_sub_fac ON fact_submission (facility, ngay_vao)",
    "CREATE INDEX IF NOT EXISTS ix_ep_vid ON fact_episode (version_id)",
    "CREATE INDEX IF NOT EXISTS ix_sub_vid ON fact_submission (version_id)",
    "CREATE INDEX IF NOT EXISTS ix_agg_day ON agg_day (ngay_vao, facility)",
    "CREATE INDEX IF NOT EXISTS ix_agg_sub ON agg_submission (ngay_vao, facility)",
    "CREATE INDEX IF NOT EXISTS ix_agg_icd ON agg_icd_day (ngay_vao, facility)",
    "CREATE INDEX IF NOT EXISTS ix_agg_month ON agg_month (ngay_vao, facility)",
    "CREATE INDEX IF NOT EXISTS ix_ep_person ON fact_episode (person)",
    "CREATE INDEX IF NOT EXISTS ix_map_person ON map_person (facility, ma_lk)",
    *(f"CREATE INDEX IF NOT EXISTS ix_{n}_vid ON {n} (version_id)" for n in papers.PAPER_TABLES),
)


# columns added to tables of an existing store (DuckDB and PostgreSQL both know IF NOT EXISTS)
ADDED_COLUMNS = {
    "dim_facility": ("nhan_luc INTEGER", "active BOOLEAN", "valid_from DATE", "valid_to DATE",
                     "revision BIGINT"),
    # measures comparable across exporters (issue 11): a store loaded before them gets NULL
    # until `khoyte warehouse rebuild`, which also recomputes bed_days from the dates
    "fact_episode": ("so_ngay_dtri_sent INTEGER", "ngay_giuong INTEGER", "drug_cost BIGINT",
                     "drug_cost_basis VARCHAR",
                     # re-admissions leave out transfers (MA_LOAI_RV 2): NULL until a rebuild
                     "ma_loai_rv VARCHAR",
                     # person_key's first 64 bits (transform.person_number): what people count
                     "person BIGINT"),
}  # fmt: skip


def create(engine: AnalyticsEngine) -> None:
    for name, cols in TABLES.items():
        engine.execute(f"CREATE TABLE IF NOT EXISTS {name} ({cols})")
    for name, added in ADDED_COLUMNS.items():
        for col in added:
            engine.execute(f"ALTER TABLE {name} ADD COLUMN IF NOT EXISTS {col}")
    if engine.name == "postgresql":
        for sql in INDEXES_POSTGRES:
            engine.execute(sql)
    engine.execute("DELETE FROM wh_meta WHERE key = 'schema_version'")
    engine.execute("INSERT INTO wh_meta VALUES ('schema_version', ?)", [SCHEMA_VERSION])


def drop(engine: AnalyticsEngine) -> None:
    for name in TABLES:
        engine.execute(f"DROP TABLE IF EXISTS {name}")


def get_meta(engine: AnalyticsEngine, key: str) -> str | None:
    rows = engine.query("SELECT value FROM wh_meta WHERE key = ?", [key])
    return str(rows[0][0]) if rows else None


def set_meta(engine: AnalyticsEngine, key: str, value: str) -> None:
    engine.execute("DELETE FROM wh_meta WHERE key = ?", [key])
    engine.execute("INSERT INTO wh_meta VALUES (?, ?)", [key, value])
