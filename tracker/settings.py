"""Settings an admin can change, each with a type and a default. One place for every tunable rule."""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from flask import g, has_request_context

from tracker.extensions import db
from tracker.models import Setting
from tracker.text import is_yes


@dataclass(frozen=True)
class SettingSpec:
    key: str
    label: str
    kind: type
    default: object
    help: str = ""


SPECS: dict[str, SettingSpec] = {
    s.key: s
    for s in [
        SettingSpec("vru_name", "VRU name", str, "Violence Reduction Unit", "Shown on screens and on returns."),
        SettingSpec("pcc_name", "PCC office", str, "Office of the Police and Crime Commissioner"),
        SettingSpec("rag_amber_percent", "RAG amber from (% off profile)", Decimal, Decimal("2"),
                    "Spend this far from profile or more is amber."),
        SettingSpec("rag_red_percent", "RAG red beyond (% off profile)", Decimal, Decimal("5"),
                    "Spend further than this from profile is red."),
        SettingSpec("return_due_days", "Quarterly return due (days after quarter end)", int, 30),
        SettingSpec("year_end_claim_due_days", "Final claim due (days after 31 March)", int, 45),
        SettingSpec("ending_soon_days", "Commissions 'ending soon' within (days)", int, 90),
        SettingSpec("kpi_amber_percent", "Outputs amber from (% below target)", Decimal, Decimal("10"),
                    "Delivery this far below a measure's target or more is amber."),
        SettingSpec("kpi_red_percent", "Outputs red from (% below target)", Decimal, Decimal("25"),
                    "Delivery this far below a measure's target or more is red."),
        SettingSpec("milestone_done_needs_evidence", "A milestone needs evidence to be marked done", bool, True,
                    "A note, a link or an attached document."),
        SettingSpec("document_max_mb", "Largest document upload (MB)", int, 10),
        SettingSpec("annual_report_due_days", "Annual report due (days after 31 March)", int, 91,
                    "91 days after 31 March is 30 June."),
        SettingSpec("adjustment_period", "Year-end adjustment periods (P13-P16) count in period", int, 12,
                    "A ledger line in P13 to P16 counts in this period (1-12; 12 is March, in Q4). Its posting "
                    "date must fall in that period."),
        # Statutory documents: each a generated deadline per year, switched on or off (tracker/claims/deadlines.py).
        SettingSpec("statutory_annual_report", "Make an annual report deadline each year", bool, True),
        SettingSpec("statutory_delivery_plan", "Make a Home Office application and delivery plan deadline each year",
                    bool, True),
        SettingSpec("delivery_plan_due_days", "Application and delivery plan due (days before 1 April)", int, 60),
        SettingSpec("statutory_response_strategy", "Make a Response Strategy deadline each year", bool, True),
        SettingSpec("response_strategy_due_days", "Response Strategy due (days before 1 April)", int, 1,
                    "1 day before 1 April is 31 March."),
        SettingSpec("statutory_needs_assessment", "Make a strategic needs assessment deadline each year", bool, True),
        SettingSpec("needs_assessment_due_days", "Strategic needs assessment due (days before 1 April)", int, 90),
        SettingSpec("statutory_svd_review", "Make a Serious Violence Duty strategy review deadline each year", bool,
                    True),
        SettingSpec("svd_review_due_days", "Serious Violence Duty strategy review due (days after 31 March)", int,
                    182),
        SettingSpec("notice_days_beginning_with", "Procurement Act periods count the day itself as day 1", bool, True,
                    "\"Within 30 days beginning with\" the day: 30 days from 31 March end on 29 April. Untick to start "
                    "counting the day after."),
        SettingSpec("below_threshold_notice_days", "Below-threshold contract details notice due (days after entering "
                    "the contract)", int, 30, "The Act says \"as soon as reasonably practicable\"."),
        SettingSpec("spend_aggregate_invoices", "Spend over £500: add up an invoice's lines", bool, True,
                    "One row per supplier invoice, so two £300 lines of one invoice make a £600 payment."),
        SettingSpec("spend_publish_gross", "Spend over £500: publish amounts including VAT", bool, False,
                    "Untick to publish net amounts (VAT shown separately in the quarterly file)."),
        SettingSpec("spend_monthly_due_days", "Monthly spend file due (days after the month)", int, 30),
        SettingSpec("spend_quarterly_due_months", "Quarterly transparency files due (months after the quarter)", int, 1),
        SettingSpec("grants_360_prefix", "360Giving publisher prefix", str, "360G-examplepcc",
                    "The prefix 360Giving gave you; each grant's identifier is the prefix and our reference."),
        SettingSpec("funding_org_identifier", "Our organisation identifier (360Giving Funding Org)", str,
                    "GB-GOR-EXAMPLE", "An org-id.guide identifier for the PCC."),
        SettingSpec("digest_days", "Deadline reminders look ahead (days)", int, 14,
                    "The daily reminder lists deadlines due within this many days, as well as overdue ones."),
    ]
}


def _convert(spec: SettingSpec, text: str):
    if spec.kind is Decimal:
        return Decimal(text)
    if spec.kind is int:
        return int(text)
    if spec.kind is bool:
        return is_yes(text)
    return text


def _value(spec: SettingSpec, text: str | None):
    """What a stored text means: its default when nothing is stored or the text no longer parses (a row written
    before a setting changed type must not break a page)."""
    if text is None:
        return spec.default
    try:
        return _convert(spec, text)
    except (ValueError, ArithmeticError):
        return spec.default


def get(key: str, session=None):
    """The current value of a setting, or its default (on ``session``, the app's by default)."""
    rows = _request_rows() if session is None else None
    if rows is not None:
        return _value(SPECS[key], rows.get(key))
    row = (session or db.session).get(Setting, key)
    return _value(SPECS[key], row.value if row is not None else None)


def _request_rows() -> dict[str, str] | None:
    """Every stored setting, read once per request (a page asks for several: the RAG thresholds, the names, the
    badge's settings); None outside a request, where each call reads the database."""
    if not has_request_context():
        return None
    rows = g.get("_settings_rows")
    if rows is None:
        rows = {r.key: r.value for r in db.session.scalars(db.select(Setting))}
        g._settings_rows = rows
    return rows


def get_many(*keys: str, session=None) -> dict:
    """Several settings in one query (on ``session``, the app's by default: the deadline sync passes its own)."""
    rows = _request_rows() if session is None else None
    if rows is None:
        rows = {r.key: r.value
                for r in (session or db.session).scalars(db.select(Setting).where(Setting.key.in_(keys)))}
    return {key: _value(SPECS[key], rows.get(key)) for key in keys}


def put(key: str, value) -> None:
    """Store a setting (validated by converting it); the caller commits."""
    spec = SPECS[key]
    text = str(value).strip()
    _convert(spec, text)
    if has_request_context():
        g.pop("_settings_rows", None)  # the rest of this request reads what it now stores
    row = db.session.get(Setting, key)
    if row is None:
        db.session.add(Setting(key=key, value=text))
    else:
        row.value = text
