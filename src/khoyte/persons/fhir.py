"""A person's health record as a FHIR R4 Bundle (``fhir.resources``; its R4B models, the
R4 technical correction: Patient, Encounter, Condition, MedicationStatement, Observation are
the same resources as in R4).

Identifiers use khoyte's own systems (``urn:khoyte:…``) until the Ministry publishes naming
systems for the health ID, CCCD and the BHYT card.
"""

from __future__ import annotations

import uuid
from typing import Any

SYSTEM = {
    "health_id": "urn:khoyte:health-id",
    "cccd": "urn:khoyte:cccd",
    "card": "urn:khoyte:bhyt-card",
    "facility": "urn:khoyte:ma-cskcb",
    "record": "urn:khoyte:ma-lk",
    "icd10": "http://hl7.org/fhir/sid/icd-10",
}
_GENDER = {"1": "male", "2": "female", "3": "unknown"}


def _date(text: Any) -> str | None:
    """``yyyymmdd`` with ``00`` parts (NGAY_SINH) → ``yyyy``, ``yyyy-mm`` or ``yyyy-mm-dd``."""
    t = str(text or "")
    if len(t) < 4 or not t[:4].isdigit():
        return None
    if t[4:6] in ("", "00"):
        return t[:4]
    if t[6:8] in ("", "00"):
        return f"{t[:4]}-{t[4:6]}"
    return f"{t[:4]}-{t[4:6]}-{t[6:8]}"


def _moment(text: Any) -> str:
    """A QĐ 130 time (Viet Nam local time, no zone) as a FHIR dateTime (a zone is required
    once there is a time)."""
    t = str(text)
    return t + "+07:00" if "T" in t and not t.endswith("Z") and "+" not in t[10:] else t


def bundle(record: dict[str, Any]) -> dict[str, Any]:
    """The Bundle as JSON (validated by constructing the ``fhir.resources`` model)."""
    from fhir.resources.R4B.bundle import Bundle

    hid = record["health_id"]
    d = record["demographics"]
    ids = [{"system": SYSTEM["health_id"], "value": hid}]
    if d.get("SO_CCCD"):
        ids.append({"system": SYSTEM["cccd"], "value": d["SO_CCCD"]})
    for card in d.get("MA_THE_BHYT") or []:
        ids.append({"system": SYSTEM["card"], "value": card})
    patient: dict[str, Any] = {"resourceType": "Patient", "id": hid, "identifier": ids}
    if d.get("HO_TEN"):
        patient["name"] = [{"text": d["HO_TEN"]}]
    if d.get("GIOI_TINH") in _GENDER:
        patient["gender"] = _GENDER[d["GIOI_TINH"]]
    if born := _date(d.get("NGAY_SINH")):
        patient["birthDate"] = born
    if d.get("DIA_CHI"):
        patient["address"] = [{"text": d["DIA_CHI"], "country": "VN"}]
    if d.get("DIEN_THOAI"):
        patient["telecom"] = [{"system": "phone", "value": d["DIEN_THOAI"]}]
    entries: list[dict[str, Any]] = [patient]
    subject = {"reference": f"Patient/{hid}"}
    for n, v in enumerate(record["visits"], start=1):
        enc_id = f"enc-{n}"
        period = {
            k: _moment(v[f]) for k, f in (("start", "NGAY_VAO"), ("end", "NGAY_RA")) if v.get(f)
        }
        entries.append({
            "resourceType": "Encounter", "id": enc_id, "status": "finished",
            "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode",
                      "code": "IMP" if v.get("SO_NGAY_DTRI") else "AMB"},
            "identifier": [{"system": SYSTEM["record"], "value": v["MA_LK"]}],
            "subject": subject, "period": period,
            "serviceProvider": {"identifier": {"system": SYSTEM["facility"], "value": v["MA_CSKCB"]}},
        })  # fmt: skip
        enc = {"reference": f"Encounter/{enc_id}"}
        codes = [v.get("MA_BENH_CHINH"), *str(v.get("MA_BENH_KT") or "").split(";")]
        for k, code in enumerate(c for c in codes if c):
            entries.append({
                "resourceType": "Condition", "id": f"cond-{n}-{k}", "subject": subject,
                "encounter": enc,
                "code": {"coding": [{"system": SYSTEM["icd10"], "code": code}],
                         **({"text": v["CHAN_DOAN_RV"]} if k == 0 and v.get("CHAN_DOAN_RV") else {})},
            })  # fmt: skip
        for k, drug in enumerate(v.get("drugs", [])):
            entries.append({
                "resourceType": "MedicationStatement", "id": f"med-{n}-{k}", "status": "completed",
                "subject": subject, "context": enc,
                "medicationCodeableConcept": {"text": drug.get("TEN_THUOC") or drug.get("MA_THUOC", "?")},
                **({"dosage": [{"text": drug["LIEU_DUNG"]}]} if drug.get("LIEU_DUNG") else {}),
            })  # fmt: skip
        for k, lab in enumerate(v.get("lab_results", [])):
            obs: dict[str, Any] = {
                "resourceType": "Observation", "id": f"lab-{n}-{k}", "status": "final",
                "subject": subject, "encounter": enc,
                "code": {"text": lab.get("TEN_CHI_SO") or lab.get("MA_CHI_SO", "?")},
            }  # fmt: skip
            if lab.get("GIA_TRI") is not None:
                obs["valueString"] = str(lab["GIA_TRI"]) + (
                    f" {lab['DON_VI_DO']}" if lab.get("DON_VI_DO") else ""
                )
            entries.append(obs)
    data = {
        "resourceType": "Bundle", "type": "collection",
        "entry": [{"fullUrl": f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, hid + '/' + e['id'])}",
                   "resource": e} for e in entries],
    }  # fmt: skip
    Bundle.model_validate(data)  # refuses anything that is not a valid R4(B) Bundle
    return data
