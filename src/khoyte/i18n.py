"""Words a person reads on the pages: Vietnamese first, English with ``?lang=en``."""

from __future__ import annotations

from khoyte.validate.codelists import VISIT_TYPES_VI

VISIT_TYPES_EN = {
    "01": "Examination",
    "02": "Outpatient treatment",
    "03": "Inpatient treatment",
    "04": "Day inpatient treatment",
    "05": "Chronic outpatient, examination and drugs",
    "06": "Observation at commune station / regional clinic",
    "07": "Drugs by appointment (no examination)",
    "08": "Chronic outpatient with services and/or drugs",
    "09": "Inpatient under 4 hours",
    "10": "Other",
}
TIERS = {
    "vi": {"tinh": "Tuyến tỉnh", "khu_vuc": "Khu vực", "xa": "Trạm y tế xã", "tu_nhan": "Tư nhân"},
    "en": {
        "tinh": "Provincial",
        "khu_vuc": "Regional",
        "xa": "Commune station",
        "tu_nhan": "Private",
    },
}
SEXES = {
    "vi": {"1": "Nam", "2": "Nữ", "3": "Chưa xác định"},
    "en": {"1": "Male", "2": "Female", "3": "Unknown"},
}

_T: dict[str, tuple[str, str]] = {
    "title": ("Khám chữa bệnh toàn tỉnh", "Examination and treatment, whole province"),
    "site": ("Kho dữ liệu y tế tỉnh", "Provincial health data hub"),
    "nav_kcb": ("Khám chữa bệnh", "Examination & treatment"),
    "nav_completeness": ("Đầy đủ, kịp thời", "Completeness & timeliness"),
    "nav_users": ("Người dùng", "Users"),
    "nav_audit": ("Nhật ký kiểm toán", "Audit trail"),
    "lang_other": ("English", "Tiếng Việt"),
    "from": ("Từ ngày", "From"),
    "to": ("Đến ngày", "To"),
    "commune": ("Xã/phường", "Commune"),
    "facility": ("Cơ sở KCB", "Facility"),
    "tier": ("Tuyến", "Tier"),
    "loai_kcb": ("Hình thức KCB", "Visit type"),
    "all": ("Tất cả", "All"),
    "apply": ("Xem", "Show"),
    "reset": ("Bỏ lọc", "Clear filters"),
    "province": ("Toàn tỉnh", "Whole province"),
    "facilities_reporting": ("Cơ sở có dữ liệu", "Facilities reporting"),
    "visits": ("Lượt KCB", "Visits"),
    "outpatient": ("Ngoại trú", "Outpatient"),
    "inpatient": ("Nội trú", "Inpatient"),
    "emergencies": ("Cấp cứu", "Emergencies"),
    "deaths": ("Tử vong", "Deaths"),
    "bed_days": ("Ngày điều trị", "Bed-days"),
    "cost_total": ("Tổng chi phí (đ)", "Total cost (VND)"),
    "cost_bhyt": ("BHYT thanh toán (đ)", "Paid by BHYT (VND)"),
    "cost_patient": ("Người bệnh trả (đ)", "Paid by patients (VND)"),
    "bhyt_records": ("Hồ sơ BHYT", "BHYT records"),
    "cost_total_kpi": ("Tổng chi phí (triệu đồng)", "Total cost (million VND)"),
    "cost_bhyt_kpi": ("BHYT thanh toán (triệu đồng)", "Paid by BHYT (million VND)"),
    "cost_patient_kpi": ("Người bệnh trả (triệu đồng)", "Paid by patients (million VND)"),
    "by_loai_kcb": ("Lượt KCB theo hình thức", "Visits by visit type"),
    "by_sex": ("Lượt KCB theo giới tính", "Visits by sex"),
    "by_age_band": ("Lượt KCB theo nhóm tuổi", "Visits by age band"),
    "top_icd10": ("10 bệnh chính thường gặp (ICD-10)", "Top 10 main diagnoses (ICD-10)"),
    "persons_served": ("Số người được KCB", "Persons served"),
    "visits_per_person": ("Lượt KCB mỗi người", "Visits per person"),
    "discharges": (
        "Ra viện nội trú (còn sống, không chuyển tuyến)",
        "Inpatient discharges (alive, not transferred)",
    ),
    "readmitted": ("Tái nhập viện trong 30 ngày", "Re-admitted within 30 days"),
    "readmission_rate": ("Tỷ lệ tái nhập viện 30 ngày (%)", "30-day re-admission rate (%)"),
    "referrals": (
        "Chuyển tuyến giữa các cơ sở (giấy chuyển tuyến, XML13)",
        "Referrals between facilities (referral papers, XML13)",
    ),
    "ref_from": ("Nơi chuyển đi", "Referred from"),
    "ref_to": ("Nơi chuyển đến", "Referred to"),
    "followed_up": ("Nơi đến đã khám", "Seen at destination"),
    "within_days": ("trong {n} ngày", "within {n} days"),
    "monthly": (
        "Lượt KCB theo tháng, so với cùng kỳ năm trước",
        "Visits by month vs same period last year",
    ),
    "daily": (
        "Lượt KCB theo ngày, so với cùng kỳ năm trước",
        "Visits by day vs same period last year",
    ),
    "breakdown_commune": (
        "Theo xã/phường (bấm để xem chi tiết)",
        "By commune (click to drill down)",
    ),
    "breakdown_facility": (
        "Theo cơ sở KCB (bấm để xem chi tiết)",
        "By facility (click to drill down)",
    ),
    "code": ("Mã", "Code"),
    "name": ("Tên", "Name"),
    "count": ("Số lượt", "Count"),
    "month": ("Tháng", "Month"),
    "date": ("Ngày", "Date"),
    "last_year": ("Cùng kỳ năm trước", "Same period last year"),
    "value": ("Giá trị", "Value"),
    "group": ("Nhóm", "Group"),
    "show_table": ("Xem dạng bảng", "Show as table"),
    "show_chart": ("Xem biểu đồ", "Show as chart"),
    "download_png": ("Tải ảnh PNG", "Download PNG"),
    "download_xlsx": ("Tải XLSX", "Download XLSX"),
    "download_csv": ("Tải CSV", "Download CSV"),
    "as_of": ("Số liệu cập nhật lúc", "Data as of"),
    "catching_up": (
        "Số liệu chưa đầy đủ: kho phân tích đang nạp các hồ sơ đã nhận (bắt đầu lúc {since} UTC). "
        "Hãy tải lại trang sau ít phút.",
        "Numbers incomplete: the warehouse is still loading records already received (since "
        "{since} UTC). Reload the page in a few minutes.",
    ),
    "loading": ("Đang tải…", "Loading…"),
    "no_data": ("Không có dữ liệu", "No data"),
    "error": ("Không tải được số liệu", "Could not load the data"),
    "sex": ("Giới tính", "Sex"),
    "age_band": ("Nhóm tuổi", "Age band"),
    "completeness_title": (
        "Tính đầy đủ và kịp thời của báo cáo",
        "Reporting completeness and timeliness",
    ),
    "days_with_data": ("Số ngày có dữ liệu", "Days with data"),
    "days": ("Số ngày", "Days"),
    "records": ("Số hồ sơ", "Records"),
    "rejected": ("Bị từ chối", "Rejected"),
    "first_received": ("Nhận lần đầu", "First received"),
    "last_received": ("Nhận gần nhất", "Last received"),
    "last_day_with_data": ("Ngày gần nhất có dữ liệu", "Last day with data"),
    "silent": ("Cơ sở im lặng", "Silent facilities"),
    "silent_days": ("Số ngày không gửi", "Days silent"),
    "reporting_per_day": ("Số cơ sở có dữ liệu mỗi ngày", "Facilities with data per day"),
    "facility_view": ("Theo dõi hằng tháng của cơ sở", "Facility's monthly view"),
    "back_province": ("Về toàn tỉnh", "Back to the province"),
    "skip": ("Bỏ qua, đến nội dung chính", "Skip to main content"),
    "sort_hint": ("Bấm tiêu đề cột để sắp xếp", "Click a column header to sort"),
    "filters_title": ("Bộ lọc", "Filters"),
    "export": ("Xuất dữ liệu", "Export"),
    # the layout shared by every page (khoyte.layout)
    "nav_label": ("Điều hướng chính", "Main navigation"),
    "account": ("Tài khoản", "Account"),
    "signed_in_as": ("Đang đăng nhập", "Signed in as"),
    "sign_in": ("Đăng nhập", "Sign in"),
    "sign_out": ("Đăng xuất", "Sign out"),
    "lang_switch": ("Ngôn ngữ", "Language"),
    "filters_selected": ("Đang xem", "Showing"),
    "remove_filter": ("Bỏ bộ lọc", "Remove filter"),
    "period": ("Thời gian", "Period"),
    "home": ("Về trang chính", "Go to the main page"),
    "back": ("Quay lại trang trước", "Back to the previous page"),
    "error_code": ("Mã lỗi", "Error code"),
    "footer": (
        "Kho dữ liệu y tế tập trung — Sở Y tế",
        "Central health data hub — Department of Health",
    ),
    "facility_code": ("Mã cơ sở", "Facility code"),
    # the IOC dashboards of groups 4–8 and the data-entry form (issue 13)
    "nav_ioc": ("Chỉ tiêu IOC", "IOC indicators"),
    "nav_entry": ("Nhập số liệu", "Data entry"),
    "ioc_groups": ("Nhóm chỉ tiêu", "Indicator groups"),
    "actual": ("Thực hiện", "Actual"),
    "plan": ("Kế hoạch", "Plan"),
    "achieved": ("Đạt (% kế hoạch)", "Achieved (% of plan)"),
    "orgunit": ("Đơn vị", "Org unit"),
    "approved_only": ("Chỉ báo cáo đã duyệt", "Approved reports only"),
    "show_all": ("Mọi báo cáo", "All reports"),
    "showing_approved": ("Chỉ tính báo cáo đã duyệt", "Counting approved reports only"),
    "showing_all": ("Tính mọi báo cáo (cả chưa duyệt)", "Counting all reports (approved or not)"),
    "reports_approved": ("báo cáo đã duyệt", "reports approved"),
    "source": ("Nguồn số liệu", "Data source"),
    "by_orgunit": ("Theo đơn vị", "By org unit"),
    "by_option": ("Theo phân tổ", "By disaggregation"),
    "no_plan": ("chưa có kế hoạch", "no plan"),
    "million_vnd": ("triệu đồng", "million VND"),
    "data_set": ("Bộ dữ liệu", "Data set"),
    "element": ("Chỉ tiêu", "Data element"),
    "disaggregation": ("Phân tổ", "Disaggregation"),
    "last_period": ("Kỳ trước", "Last period"),
    "range": ("Khoảng các kỳ trước", "Range of earlier periods"),
    "open_form": ("Mở biểu", "Open the form"),
    "saved": ("Đã lưu", "Saved"),
    "saving": ("Đang lưu…", "Saving…"),
    "save_failed": ("Chưa lưu được", "Not saved"),
    "not_a_number": ("không phải là số", "not a number"),
    "locked": ("Báo cáo đã duyệt và khóa: không sửa được", "Approved and locked: read only"),
    "approve": ("Duyệt báo cáo", "Approve the report"),
    "approved": ("Đã duyệt; báo cáo bị khóa", "Approved; the report is locked"),
    "entry_hint": (
        "Tab hoặc Enter để sang ô kế tiếp; số lưu tự động khi rời ô. Số viết kiểu Việt Nam: 1.234,5",
        "Tab or Enter moves to the next cell; a value is saved when you leave its cell. "
        "Numbers as 1,234.5",
    ),
}
WORDS = _T  # both languages of a word, for lists built at import time (khoyte.layout.NAV)

# Titles of the error pages people see (the API keeps the JSON error shape).
ERROR_TITLES: dict[int, tuple[str, str]] = {
    400: ("Yêu cầu không hợp lệ", "Bad request"),
    403: ("Không có quyền truy cập trang này", "You may not open this page"),
    404: ("Không tìm thấy trang", "Page not found"),
    405: ("Thao tác không được hỗ trợ", "Not supported"),
    422: ("Tham số không hợp lệ", "Invalid parameters"),
    429: ("Quá nhiều yêu cầu", "Too many requests"),
    500: ("Lỗi hệ thống", "Something went wrong"),
    503: ("Hệ thống tạm thời không sẵn sàng", "Temporarily unavailable"),
}
ERROR_HINTS: dict[int, tuple[str, str]] = {
    403: (
        "Tài khoản của bạn không có vai trò được mở trang này. Nếu bạn cần, hãy nhờ quản trị "
        "viên của Sở cấp thêm vai trò.",
        "Your account has no role that opens this page. If you need it, ask the Department's "
        "administrator for the role.",
    ),
    404: (
        "Địa chỉ có thể đã gõ sai, hoặc nằm ngoài phạm vi dữ liệu của bạn.",
        "The address may be mistyped, or outside the data you may see.",
    ),
    500: (
        "Lỗi đã được ghi lại. Hãy thử lại sau ít phút; nếu vẫn lỗi, báo cho bộ phận CNTT "
        "kèm thời điểm xảy ra.",
        "The error has been logged. Retry in a few minutes; if it persists, tell IT the time "
        "it happened.",
    ),
}


def pair(value: tuple[str, str], lang: str) -> str:
    return value[1] if lang == "en" else value[0]


def texts(lang: str) -> dict[str, str]:
    i = 1 if lang == "en" else 0
    return {k: v[i] for k, v in _T.items()}


def visit_types(lang: str) -> dict[str, str]:
    return dict(VISIT_TYPES_EN) if lang == "en" else dict(VISIT_TYPES_VI)


def lang_of(value: str | None) -> str:
    return "en" if value == "en" else "vi"
