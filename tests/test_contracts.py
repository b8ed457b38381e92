"""Typed contracts at the boundaries: the models describe exactly the JSON clients already read
(no key added, renamed or lost), and OpenAPI says what the API takes and answers."""

from __future__ import annotations

import json
from typing import Any

from khoyte.analytics.contracts import FilterParams, KcbTwin, PeopleTwin, ReferralFlow
from khoyte.gateway.contracts import Receipt, RecordHistory, SubmissionList
from tests.gateway_helpers import FAC_A, Gateway, claim, db_url_fixture, gateway_fixture

assert db_url_fixture  # the fixture `db_url`
assert gateway_fixture  # the fixture `gateway`


def _same(model: Any, body: dict[str, Any], **dump: Any) -> None:
    assert model.model_validate(body).model_dump(mode="json", by_alias=True, **dump) == body


def test_the_receipt_model_is_the_stored_receipt(gateway: Gateway) -> None:
    r = gateway.post_xml(claim("LK1"))
    assert r.status_code == 201, r.text
    posted = r.json()
    stored = gateway.client.get(r.headers["location"], headers=gateway.auth()).json()
    assert posted == stored
    _same(Receipt, stored)
    assert list(Receipt.model_fields) == list(stored)  # same keys, same order
    listing = gateway.client.get("/api/v1/submissions", headers=gateway.auth()).json()
    _same(SubmissionList, listing)
    history = gateway.client.get(f"/api/v1/records/{FAC_A}/LK1", headers=gateway.auth()).json()
    assert "record" not in history["current"]  # a facility credential does not see content
    _same(RecordHistory, history, exclude_unset=True)


def test_a_rejected_file_carries_a_valid_receipt(gateway: Gateway) -> None:
    r = gateway.post_xml(b"PK\x03\x04 not xml")
    assert r.status_code == 422
    _same(Receipt, r.json()["error"]["details"]["receipt"])


def test_openapi_describes_parameters_security_and_errors(gateway: Gateway) -> None:
    spec = gateway.client.get("/openapi.json").json()
    params = [p["name"] for p in spec["paths"]["/api/v1/dashboards/kcb"]["get"]["parameters"]]
    assert params == ["from", "to", "commune", "facility", "tier", "loai_kcb"]
    assert spec["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    text = json.dumps(spec)
    assert "HTTPValidationError" not in text  # 422 is documented in the project's shape
    for path, ops in spec["paths"].items():
        for method, op in ops.items():
            responses = op["responses"]
            if path in ("/healthz", "/readyz", "/metrics") or "401" not in responses:
                continue
            assert responses["401"]["content"]["application/json"]["schema"] == {
                "$ref": "#/components/schemas/ErrorBody"
            }, (method, path)
            if "422" in responses:
                assert "ErrorBody" in json.dumps(responses["422"]), (method, path)
            guarded = path.startswith(("/api/v1/dashboards", "/api/v1/submissions", "/api/v1/rec"))
            if guarded and op.get("security") is None:
                raise AssertionError(f"{method} {path} declares no security scheme")
    receipt = spec["paths"]["/api/v1/submissions"]["post"]["responses"]["201"]
    assert receipt["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Receipt"
    }


def test_filter_parameters_treat_empty_as_unset_and_check_the_rest() -> None:
    p = FilterParams.model_validate({"from": "", "commune": "", "loai_kcb": "1"})
    assert (p.date_from, p.commune, p.loai_kcb) == (None, None, "01")
    for bad in (
        {"tier": "nope"},
        {"facility": "x' OR 1=1"},
        {"from": "2025-02-01", "to": "2025-01-01"},
    ):
        try:
            FilterParams.model_validate(bad)
        except ValueError:
            continue
        raise AssertionError(f"accepted {bad}")


def test_twin_models_keep_the_documented_key_order() -> None:
    assert list(KcbTwin.model_fields) == [
        "period", "filters", "facilities_reporting", "visits", "emergencies", "deaths",
        "bed_days", "costs", "bhyt_records", "top_icd10", "monthly", "suppressed_below",
        "as_of", "ready", "catching_up_since",
    ]  # fmt: skip
    assert list(PeopleTwin.model_fields) == [
        "period", "filters", "persons", "referrals", "suppressed_below",
        "as_of", "ready", "catching_up_since",
    ]  # fmt: skip
    flow = ReferralFlow.model_validate({"from": "82001", "from_name": "A", "to": "82003",
                                        "to_name": "B", "count": 3, "followed_up": None})  # fmt: skip
    assert flow.model_dump(by_alias=True)["from"] == "82001"  # the JSON says "from"
