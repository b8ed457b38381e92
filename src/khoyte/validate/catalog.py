"""Every rule khoyte applies, with its severity and its message in Vietnamese and English.

A finding's code is ``SCOPE.SUBJECT.RULE``: ``XML1.T_BHTT.FORMULA`` (table, field, rule),
``HOSO.XML2.BASE64`` (a record-level problem with one table of a ``HOSO``), ``FILE.MACSKCB.FORMAT``
(the envelope). ``RULES`` is the catalogue; ``khoyte rules`` prints it, the docs list it and the
tests prove each rule can fail and pass.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from khoyte.findings import Finding, Severity, clip

E, W, N = Severity.ERROR, Severity.WARNING, Severity.INFO  # N: a note (info)


@dataclass(frozen=True, slots=True)
class Rule:
    severity: Severity
    vi: str
    en: str
    fix_vi: str
    fix_en: str


_RESEND_VI = "Sửa dữ liệu trong phần mềm của cơ sở rồi gửi lại hồ sơ."
_RESEND_EN = "Correct the data in the facility's software and send the record again."
_EXPORT_VI = "Kiểm tra chức năng xuất XML của phần mềm (liên hệ nhà cung cấp) rồi gửi lại."
_EXPORT_EN = "Check the XML export of the facility's software (ask its vendor), then send again."

RULES: dict[str, Rule] = {
    # ---- field level -----------------------------------------------------------------------
    "REQUIRED": Rule(
        E,
        "bắt buộc nhưng đang để trống",
        "is required but empty",
        "Ghi giá trị theo QĐ 130/4750. " + _RESEND_VI,
        "Fill it in as QĐ 130/4750 requires. " + _RESEND_EN,
    ),
    "MAX_LENGTH": Rule(
        W,
        "dài {length} ký tự, vượt quá tối đa {max} ký tự của chuẩn",
        "is {length} characters long, over the standard's maximum of {max}",
        "Rút gọn giá trị; khoyte không tự cắt bớt dữ liệu.",
        "Shorten the value; khoyte never truncates data itself.",
    ),
    "NUMBER": Rule(
        E,
        "không phải là số",
        "is not a number",
        "Ghi số bằng chữ số, dấu chấm (.) ngăn cách phần thập phân; không ghi NaN, "
        "null, undefined hay chữ. " + _RESEND_VI,
        "Write digits with a dot (.) as decimal separator; never NaN, null, undefined "
        "or words. " + _RESEND_EN,
    ),
    "DECIMAL_COMMA": Rule(
        W,
        "dùng dấu phẩy làm dấu thập phân; đã đọc là {parsed}",
        "uses a comma as decimal separator; read as {parsed}",
        "Chuẩn dùng dấu chấm (.) làm dấu thập phân. " + _EXPORT_VI,
        "The standard uses a dot (.) as decimal separator. " + _EXPORT_EN,
    ),
    "INTEGER": Rule(E, "phải là số nguyên", "must be a whole number", _RESEND_VI, _RESEND_EN),
    "PLACEHOLDER": Rule(
        W,
        "là giá trị giữ chỗ (NaN, null, undefined, dấu chấm mẫu hoặc chữ trong trường số), "
        "không phải dữ liệu; đã coi là để trống",
        "is a placeholder (NaN, null, undefined, a dotted template or words in a number field), "
        "not data; read as missing",
        "Để trống trường khi không có giá trị, không ghi chữ giữ chỗ. " + _EXPORT_VI,
        "Leave the field empty when there is no value; never write a placeholder. " + _EXPORT_EN,
    ),
    "ZERO_NONE": Rule(
        W,
        "ghi 0 thay cho «không có»; 0 không thuộc danh mục mã nên đã coi là để trống",
        "holds 0 for 'none'; 0 is not one of its codes, so it was read as missing",
        "Để trống trường khi không có mã. " + _EXPORT_VI,
        "Leave the field empty when there is no code. " + _EXPORT_EN,
    ),
    "DATE": Rule(
        E,
        "không phải ngày hợp lệ theo định dạng yyyymmdd",
        "is not a valid date in the form yyyymmdd",
        _RESEND_VI,
        _RESEND_EN,
    ),
    "DATETIME": Rule(
        E,
        "không phải thời điểm hợp lệ theo định dạng yyyymmddHHMM (12 ký tự)",
        "is not a valid time in the form yyyymmddHHMM (12 characters)",
        _RESEND_VI,
        _RESEND_EN,
    ),
    "CODE": Rule(
        E,
        "không thuộc danh mục mã cho phép ({allowed})",
        "is not one of the allowed codes ({allowed_en})",
        _RESEND_VI,
        _RESEND_EN,
    ),
    "FORMAT": Rule(
        E, "sai định dạng: {expected}", "has the wrong form: {expected_en}", _RESEND_VI, _RESEND_EN
    ),
    "SHAPE": Rule(
        W,
        "có dạng bất thường: {expected}",
        "looks wrong: {expected_en}",
        "Kiểm tra lại giá trị.",
        "Check the value.",
    ),
    "UNKNOWN_FIELD": Rule(
        W,
        "không có trong chuẩn của bảng này; đã bỏ qua (bản gốc vẫn được lưu)",
        "is not a field of this table; ignored (the original is kept)",
        _EXPORT_VI,
        _EXPORT_EN,
    ),
    "DUPLICATE_FIELD": Rule(
        E,
        "xuất hiện {count} lần trong cùng một dòng",
        "appears {count} times in one line",
        _EXPORT_VI,
        _EXPORT_EN,
    ),
    "NESTED": Rule(
        E,
        "chứa thẻ con; chuẩn chỉ cho phép giá trị văn bản",
        "contains child elements; the standard allows only text",
        _EXPORT_VI,
        _EXPORT_EN,
    ),
    "ICD10_FORMAT": Rule(
        E,
        "không phải mã ICD-10 hợp lệ (dạng A00, A00.0, A00.00, có thể kèm † hoặc *)",
        "is not a well-formed ICD-10 code (A00, A00.0, A00.00, optionally † or *)",
        "Ghi mã ICD-10 theo QĐ 4469/QĐ-BYT. " + _RESEND_VI,
        "Use ICD-10 codes of QĐ 4469/QĐ-BYT. " + _RESEND_EN,
    ),
    "ICD10_UNKNOWN": Rule(
        W,
        "không có trong ICD-10 của WHO (mã đúng dạng nhưng không tìm thấy)",
        "is well-formed but not in WHO ICD-10",
        "Kiểm tra lại mã bệnh; nếu là mã mở rộng của Bộ Y tế thì có thể bỏ qua.",
        "Check the code; if it is a Ministry extension this may be ignored.",
    ),
    "COUNT": Rule(
        E,
        "có {count} mã, vượt quá tối đa {max}",
        "holds {count} codes, over the maximum of {max}",
        _RESEND_VI,
        _RESEND_EN,
    ),
    "ADMIN_UNIT": Rule(
        W,
        "không phải mã đơn vị hành chính hợp lệ {when}",
        "is not a valid administrative-unit code {when_en}",
        "Dùng mã đơn vị hành chính mới (QĐ 19/2025/QĐ-TTg) cho lượt khám từ 01/07/2025.",
        "Use the new administrative-unit codes (QĐ 19/2025/QĐ-TTg) for visits from 2025-07-01.",
    ),
    "LINK": Rule(
        E,
        "khác MA_LK của bảng XML1 ({expected}) trong cùng hồ sơ",
        "differs from the MA_LK of XML1 ({expected}) in the same HOSO",
        "Mọi bảng của một lượt khám phải cùng MA_LK. " + _EXPORT_VI,
        "Every table of one visit must carry the same MA_LK. " + _EXPORT_EN,
    ),
    "SUM": Rule(
        E,
        "khác tổng {what} là {expected} (chênh {diff})",
        "differs from the sum of {what_en}, which is {expected} (difference {diff})",
        _RESEND_VI,
        _RESEND_EN,
    ),
    "FORMULA": Rule(
        E,
        "theo công thức {formula} phải là {expected} (chênh {diff})",
        "by the formula {formula} it must be {expected} (difference {diff})",
        _RESEND_VI,
        _RESEND_EN,
    ),
    "SPLIT": Rule(
        W,
        "khác cách tính tạm (bước 1) {formula} = {expected}",
        "differs from the provisional split (step 1) {formula} = {expected}",
        "Kiểm tra cách phân bổ chi phí giữa quỹ BHYT và người bệnh.",
        "Check how the cost is split between the BHYT fund and the patient.",
    ),
    "RULE": Rule(
        E,
        "với MA_LOAI_KCB = {loai} phải là {expected} ({why})",
        "with MA_LOAI_KCB = {loai} it must be {expected} ({why_en})",
        _RESEND_VI,
        _RESEND_EN,
    ),
    "ORDER": Rule(
        E,
        "sớm hơn {other} ({other_value})",
        "is earlier than {other} ({other_value})",
        _RESEND_VI,
        _RESEND_EN,
    ),
    "FUTURE": Rule(
        E,
        "ở tương lai so với thời điểm tiếp nhận",
        "is in the future of the time of receipt",
        _RESEND_VI,
        _RESEND_EN,
    ),
    "MISMATCH": Rule(
        W,
        "không khớp với {other}: {detail}",
        "does not agree with {other}: {detail_en}",
        "Kiểm tra lại thông tin hành chính của người bệnh.",
        "Check the patient's administrative data.",
    ),
    "FACILITY": Rule(
        E,
        "khác mã cơ sở của tệp MACSKCB ({expected})",
        "differs from the file's facility code MACSKCB ({expected})",
        "Mỗi tệp chỉ chứa hồ sơ của chính cơ sở gửi.",
        "A file may only carry the sending facility's own records.",
    ),
    "CONDITION": Rule(E, "{detail}", "{detail_en}", _RESEND_VI, _RESEND_EN),
    "ADVICE": Rule(W, "{detail}", "{detail_en}", "Kiểm tra lại hồ sơ.", "Check the record."),
    "SEQUENCE": Rule(
        W,
        "STT không tăng dần liên tục từ 1 (gặp {value}, mong đợi {expected})",
        "STT does not run 1, 2, 3 … (found {value}, expected {expected})",
        _EXPORT_VI,
        _EXPORT_EN,
    ),
    # ---- record level (HOSO) -----------------------------------------------------------------
    "MISSING": Rule(
        E,
        "hồ sơ không có bảng {table}",
        "the HOSO has no {table} table",
        "Mỗi hồ sơ phải có bảng XML1 (tổng hợp). " + _EXPORT_VI,
        "Every HOSO must contain an XML1 (summary) table. " + _EXPORT_EN,
    ),
    "ABSENT": Rule(
        W,
        "hồ sơ không gửi {what_vi} nhưng XML1 vẫn tính tiền (T_THUOC = {value})",
        "{what_en} is not sent although XML1 counts its money (T_THUOC = {value})",
        "Gửi đủ các dòng thuốc (XML2) của lượt khám; thiếu dòng chi tiết thì không đối chiếu "
        "được chi phí.",
        "Send every drug line (XML2) of the visit; without the lines the cost cannot be checked.",
    ),
    "DUPLICATE": Rule(
        E,
        "đã xuất hiện ở hồ sơ thứ {other} của cùng tệp",
        "already appeared in HOSO #{other} of the same file",
        "Mỗi lượt khám chỉ gửi một lần trong một tệp.",
        "Send each visit once per file.",
    ),
    "DUPLICATE_TABLE": Rule(
        E,
        "bảng {table} xuất hiện {count} lần trong một hồ sơ",
        "table {table} appears {count} times in one HOSO",
        _EXPORT_VI,
        _EXPORT_EN,
    ),
    "BASE64": Rule(
        E,
        "NOIDUNGFILE không phải base64 hợp lệ (ký tự ngoài bảng chữ base64 hoặc sai phần đệm «=»)",
        "NOIDUNGFILE is not valid base64 ({detail})",
        _EXPORT_VI,
        _EXPORT_EN,
    ),
    "ENCODING": Rule(
        E,
        "nội dung bảng không phải UTF-8 ({detail})",
        "the table's document is not UTF-8 ({detail})",
        "Chuẩn yêu cầu mã hóa UTF-8. " + _EXPORT_VI,
        "The standard requires UTF-8. " + _EXPORT_EN,
    ),
    "XML": Rule(
        E,
        "nội dung bảng không phải XML hợp lệ: {detail}",
        "the table's document is not well-formed XML: {detail}",
        _EXPORT_VI,
        _EXPORT_EN,
    ),
    "UNSAFE": Rule(
        E,
        "nội dung bảng chứa khai báo DTD/thực thể, không được phép ({detail})",
        "the table's document contains a DTD or entity declaration, which is not allowed ({detail})",
        "Bỏ phần <!DOCTYPE …> khỏi tệp XML.",
        "Remove the <!DOCTYPE …> from the XML.",
    ),
    "ROOT": Rule(
        E,
        "thẻ gốc {value} không đúng; mong đợi {expected}",
        "root element {value} is wrong; expected {expected}",
        _EXPORT_VI,
        _EXPORT_EN,
    ),
    "EMPTY": Rule(
        W,
        "bảng {table} không có dòng dữ liệu nào",
        "table {table} has no lines",
        _EXPORT_VI,
        _EXPORT_EN,
    ),
    "RAW_XML": Rule(
        N,
        "bảng {table} được ghi thẳng dạng XML trong NOIDUNGFILE thay vì mã hóa base64; "
        "khoyte đã đọc được",
        "table {table} was written as raw XML inside NOIDUNGFILE instead of base64; khoyte read it",
        "Chuẩn yêu cầu NOIDUNGFILE là base64 của tài liệu XML. " + _EXPORT_VI,
        "The standard requires NOIDUNGFILE to hold the base64 of the XML document. " + _EXPORT_EN,
    ),
    "CDATA": Rule(
        N,
        "bảng {table} được ghi dạng văn bản XML (CDATA) trong NOIDUNGFILE thay vì mã hóa "
        "base64; khoyte đã đọc được",
        "table {table} was written as XML text (CDATA) inside NOIDUNGFILE instead of base64; "
        "khoyte read it",
        "Chuẩn yêu cầu NOIDUNGFILE là base64 của tài liệu XML. " + _EXPORT_VI,
        "The standard requires NOIDUNGFILE to hold the base64 of the XML document. " + _EXPORT_EN,
    ),
    "BASE64_WRAPPED": Rule(
        N,
        "base64 của bảng {table} bị ngắt dòng (hoặc chứa khoảng trắng); khoyte đã bỏ các "
        "khoảng trắng và đọc được",
        "the base64 of table {table} is wrapped over lines (or holds white space); khoyte "
        "removed the white space and read it",
        "Nên ghi base64 liền một dòng. " + _EXPORT_VI,
        "Write the base64 on one line. " + _EXPORT_EN,
    ),
    "MERGED": Rule(
        N,
        "bảng {table} được ghép vào hồ sơ đã nhận trước của cùng MA_LK (phiên bản {version}); "
        "hồ sơ ghép được kiểm tra lại toàn bộ",
        "table {table} was joined to the record already received with the same MA_LK "
        "(version {version}); the joined record was checked again as a whole",
        "Không cần làm gì; lần sau nên gửi đủ các bảng trong một hồ sơ.",
        "Nothing to do; next time, send every table of the visit in one HOSO.",
    ),
    "ONE_TABLE": Rule(
        N,
        "tệp chỉ chứa bảng {table} (tải từ cổng, một bảng mỗi tệp); đã đọc như một hồ sơ "
        "chỉ có bảng này",
        "the file holds only table {table} (a portal download, one table per file); read as "
        "a record of that table alone",
        "Gửi đủ các bảng của lượt khám (XML1 và các bảng chi tiết) trong một hồ sơ.",
        "Send all tables of a visit (XML1 and the detail tables) in one HOSO.",
    ),
    "DISTANT": Rule(
        W,
        "ngày lập tệp cách lượt khám {days} ngày ({when})",
        "the file's date is {days} days away from the visit ({when_en})",
        "Kiểm tra ngày lập tệp (NGAYLAP) và ngày vào/ra của hồ sơ.",
        "Check the file's date (NGAYLAP) and the record's admission and discharge dates.",
    ),
    "SINGLE": Rule(
        E,
        "bảng {table} phải có đúng một bản ghi, gặp {count}",
        "table {table} must hold exactly one record, found {count}",
        _EXPORT_VI,
        _EXPORT_EN,
    ),
    "UNKNOWN_TABLE": Rule(
        E,
        "LOAIHOSO «{value}» không có trong chuẩn (XML1–XML11, XML13–XML15)",
        "LOAIHOSO '{value}' is not a table of the standard (XML1–XML11, XML13–XML15)",
        _EXPORT_VI,
        _EXPORT_EN,
    ),
    "GENERATION": Rule(
        E,
        "hồ sơ theo {value} nhưng tệp theo {expected}",
        "this HOSO follows {value} but the file follows {expected}",
        "Không trộn QĐ 4210 và QĐ 130 trong một tệp.",
        "Do not mix QĐ 4210 and QĐ 130 records in one file.",
    ),
    # ---- file level (envelope) ---------------------------------------------------------------
    "FILE_EMPTY": Rule(
        E,
        "tệp rỗng",
        "the file is empty",
        "Gửi lại tệp XML có nội dung.",
        "Send the XML file with its content.",
    ),
    "FILE_ZIP": Rule(
        E,
        "tệp là tệp nén ZIP, không phải XML",
        "the file is a ZIP archive, not XML",
        "Giải nén và gửi các tệp XML bên trong.",
        "Unzip it and send the XML files inside.",
    ),
    "FILE_NOT_XML": Rule(
        E,
        "tệp không phải XML ({detail})",
        "the file is not XML ({detail})",
        "Gửi tệp XML theo QĐ 130/4750.",
        "Send an XML file of QĐ 130/4750.",
    ),
    "FILE_TOO_LARGE": Rule(
        E,
        "tệp vượt quá giới hạn {max} byte",
        "the file exceeds the limit of {max} bytes",
        "Chia thành nhiều tệp nhỏ hơn.",
        "Split it into smaller files.",
    ),
    "FILE_UNSAFE": Rule(
        E,
        "tệp chứa khai báo DTD/thực thể, không được phép ({detail})",
        "the file contains a DTD or entity declaration, which is not allowed ({detail})",
        "Bỏ phần <!DOCTYPE …> khỏi tệp XML.",
        "Remove the <!DOCTYPE …> from the XML.",
    ),
    "FILE_XML": Rule(
        E,
        "tệp không phải XML hợp lệ: {detail}",
        "the file is not well-formed XML: {detail}",
        "Tệp có thể bị cắt ngang khi xuất hoặc truyền; xuất và gửi lại.",
        "The file may have been cut off during export or transfer; export and send again.",
    ),
    "FILE_ENCODING": Rule(
        E,
        "tệp không phải UTF-8 ({detail})",
        "the file is not UTF-8 ({detail})",
        "Chuẩn yêu cầu mã hóa UTF-8. " + _EXPORT_VI,
        "The standard requires UTF-8. " + _EXPORT_EN,
    ),
    "FILE_ROOT": Rule(
        E,
        "thẻ gốc «{value}» không thuộc chuẩn (mong đợi GIAMDINHHS, "
        "CHI_TIEU_TRANG_THAI_KCB hoặc CHI_TIEU_GIAM_DINH_YKHOA)",
        "root element '{value}' is not of this standard (expected GIAMDINHHS, "
        "CHI_TIEU_TRANG_THAI_KCB or CHI_TIEU_GIAM_DINH_YKHOA)",
        "Gửi tệp XML theo QĐ 130/4750 hoặc QĐ 4210.",
        "Send an XML file of QĐ 130/4750 or QĐ 4210.",
    ),
    "FILE_NO_RECORDS": Rule(
        E, "tệp không có hồ sơ nào", "the file holds no record", _EXPORT_VI, _EXPORT_EN
    ),
    "FILE_NOTHING_READ": Rule(
        E,
        "không đọc được hồ sơ nào trong tệp: {count} hồ sơ đều không có bảng đọc được; tệp "
        "không được tiếp nhận",
        "no record of the file could be read: none of its {count} HOSO holds a readable table; "
        "the file is not taken in",
        "Xem các lỗi của từng hồ sơ bên dưới. " + _EXPORT_VI,
        "See each HOSO's findings below. " + _EXPORT_EN,
    ),
    "FILE_COUNT": Rule(
        W,
        "SOLUONGHOSO = {value} nhưng tệp có {expected} hồ sơ",
        "SOLUONGHOSO = {value} but the file holds {expected} records",
        _EXPORT_VI,
        _EXPORT_EN,
    ),
}


def _location_vi(table: str | None, stt: int | None, field: str | None, value: str | None) -> str:
    parts = []
    if table:
        parts.append(f"Bảng {table}")
    if stt is not None:
        parts.append(f"dòng STT {stt}")
    if field:
        parts.append(f"trường {field}" + (f" = «{value}»" if value is not None else ""))
    return ", ".join(parts)


def _location_en(table: str | None, stt: int | None, field: str | None, value: str | None) -> str:
    parts = []
    if table:
        parts.append(f"Table {table}")
    if stt is not None:
        parts.append(f"line STT {stt}")
    if field:
        parts.append(f"field {field}" + (f" = '{value}'" if value is not None else ""))
    return ", ".join(parts)


class _Params(dict[str, Any]):
    def __missing__(self, key: str) -> str:
        # An English template may name a parameter only given in Vietnamese form.
        base = key.removesuffix("_en")
        return str(self[base]) if base != key and base in self else ""


def make(
    rule: str,
    *,
    code: str,
    table: str | None = None,
    field: str | None = None,
    value: object = None,
    stt: int | None = None,
    severity: Severity | None = None,
    delta: Any = None,
    **params: Any,
) -> Finding:
    """Build the finding for ``rule`` at a location; ``params`` fill the message templates."""
    spec = RULES[rule]
    shown = clip(value)
    p = _Params(
        params, table=table or "", field=field or "", value=shown if shown is not None else ""
    )
    loc_vi = _location_vi(table, stt, field, shown)
    loc_en = _location_en(table, stt, field, shown)
    vi = spec.vi.format_map(p)
    en = spec.en.format_map(p)
    return Finding(
        code=code,
        severity=severity or spec.severity,
        table=table,
        stt=stt,
        field=field,
        value=shown,
        message_vi=f"{loc_vi}: {vi}. {spec.fix_vi}"
        if loc_vi
        else f"{vi[:1].upper()}{vi[1:]}. {spec.fix_vi}",
        message_en=f"{loc_en}: {en}. {spec.fix_en}"
        if loc_en
        else f"{en[:1].upper()}{en[1:]}. {spec.fix_en}",
        delta=delta,
    )


def field_finding(
    rule: str, table: str, field: str, value: object, stt: int | None, **params: Any
) -> Finding:
    """A finding on one field: its code is ``TABLE.FIELD.RULE``."""
    return make(
        rule,
        code=f"{table}.{field}.{rule}",
        table=table,
        field=field,
        value=value,
        stt=stt,
        **params,
    )
