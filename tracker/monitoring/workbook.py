"""Provider monitoring returns: the workbook a provider fills in for one commission and quarter, and reading it
back (checked, previewed, committed all-or-nothing, withdrawable), recorded as an import batch of kind
"monitoring" so it shows in the import history.

The workbook has a Cover (commission, provider, period, template version), an Outputs sheet (one row per
measure: its target and an empty Actual cell) and a Narrative sheet. Only the cells to fill are unlocked; the
sheets are protected so the identifying cells stay as we wrote them, and the template version, commission
and quarter are checked on upload anyway (protection without a password is a guide, not a lock).
"""
from __future__ import annotations

import io

from dataclasses import dataclass, field

from flask import current_app
from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill, Protection
from openpyxl.worksheet.datavalidation import DataValidation
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload, selectinload

from tracker import audit, files, settings
from tracker.extensions import db
from tracker.funding.rules import require_open_year
from tracker.spreadsheets.reader import SpreadsheetError, open_workbook
from tracker.spreadsheets.values import ValueProblem, is_blank, parse_field_text, parse_int, parse_text
from tracker.models import Commission, FundingYear, ImportBatch, utcnow
from tracker.models.monitoring import Measure, MeasureActual, MonitoringReturn, QuarterNarrative
from tracker.monitoring import service
from tracker.periods import QUARTER_NAMES, quarter_bounds
from tracker.text import clean_filename, strip_control

# Bump when the layout changes; workbooks made from an older layout are refused on upload.
TEMPLATE_VERSION = "VRU-MON-2"
COVER, OUTPUTS, NARRATIVE = "Cover", "Outputs", "Narrative"
HEADER_ROW = 4
COLUMNS = ("Measure ID", "Metric", "Unit", "Target this quarter", "Target for the year", "Actual")
ACTUAL_COL = 6  # F
_FILL = PatternFill("solid", fgColor="FFF2CC")  # cells to fill: pale yellow, as providers expect
_BOLD = Font(bold=True)


def quarter_label(quarter: int) -> str:
    return f"Q{quarter}"


def filename_for(commission: Commission, year: FundingYear, quarter: int) -> str:
    safe = "".join(ch if ch.isalnum() or ch in "-_" else "-" for ch in commission.reference)
    return f"monitoring-{safe}-{year.label}-Q{quarter}.xlsx"


def _year_measures(commission_id: int, year_id: int):
    return select(Measure).where(Measure.commission_id == commission_id, Measure.funding_year_id == year_id)


def _text(cell, value) -> None:
    # Text that starts with "=" must stay text, never become a live formula (provider names are typed by people);
    # a control character stored before forms refused them would make openpyxl refuse the whole workbook.
    if isinstance(value, str):
        value = strip_control(value)
    cell.value = value
    if isinstance(value, str):
        cell.data_type = "s"
        if value.startswith(("=", "+", "-", "@")):
            cell.quotePrefix = True


def build_workbook(commission: Commission, year: FundingYear, quarter: int) -> bytes:
    """The monitoring workbook for ``commission``'s measures of ``year`` and ``quarter`` as .xlsx bytes."""
    measures = db.session.scalars(_year_measures(commission.id, year.id).options(joinedload(Measure.metric))).all()
    measures = sorted(measures, key=lambda m: (m.metric.sort_order, m.metric.name))
    start, end = quarter_bounds(year.label, quarter)
    wb = Workbook()
    cover = wb.active
    cover.title = COVER
    cover["A1"] = "Monitoring return"
    cover["A1"].font = Font(bold=True, size=14)
    rows = [
        ("VRU", settings.get("vru_name")),
        ("Commission reference", commission.reference),
        ("Service", commission.title),
        ("Provider", commission.provider.name),
        ("Funding year", year.label),
        ("Quarter", quarter_label(quarter)),
        ("Period", f"{start:%d/%m/%Y} to {end:%d/%m/%Y}"),
        ("Template version", TEMPLATE_VERSION),
        ("Completed by", ""),
    ]
    for i, (label, value) in enumerate(rows, start=3):
        cover.cell(i, 1, label).font = _BOLD
        _text(cover.cell(i, 2), value)
    completed_by = cover.cell(3 + len(rows) - 1, 2)
    completed_by.protection = Protection(locked=False)
    completed_by.fill = _FILL
    cover.cell(14, 1, "Fill in the yellow cells on the Outputs and Narrative sheets, save the file as .xlsx and "
                      "send it back. Do not change the other cells: the file is checked when it is uploaded.")
    cover.column_dimensions["A"].width = 24
    cover.column_dimensions["B"].width = 60
    cover.protection.sheet = True

    out = wb.create_sheet(OUTPUTS)
    out["A1"] = strip_control(f"Outputs for {QUARTER_NAMES[quarter]} {year.label}: "
                              f"{commission.reference}")
    out["A1"].font = Font(bold=True, size=12)
    out["A2"] = "Enter the number delivered in the quarter in the Actual column (whole numbers; leave blank if none to report)."
    for col, heading in enumerate(COLUMNS, start=1):
        out.cell(HEADER_ROW, col, heading).font = _BOLD
    validation = DataValidation(type="whole", operator="between", formula1="0", formula2=str(service.MAX_VALUE),
                                allow_blank=True, showErrorMessage=True, errorTitle="Whole number",
                                error="Enter a whole number of 0 or more.")
    out.add_data_validation(validation)
    for row, m in enumerate(measures, start=HEADER_ROW + 1):
        out.cell(row, 1, m.id)
        _text(out.cell(row, 2), m.metric.name)
        _text(out.cell(row, 3), m.unit)
        out.cell(row, 4, m.target(quarter))
        out.cell(row, 5, m.target_year)
        actual = out.cell(row, ACTUAL_COL)
        actual.protection = Protection(locked=False)
        actual.fill = _FILL
        validation.add(actual)
    for letter, width in zip("ABCDEF", (12, 30, 14, 20, 20, 14)):
        out.column_dimensions[letter].width = width
    out.protection.sheet = True

    nar = wb.create_sheet(NARRATIVE)
    nar["A1"] = f"Narrative for {QUARTER_NAMES[quarter]}: what went well, what did not and why (up to {service.NARRATIVE_MAX:,} characters)"
    nar["A1"].font = _BOLD
    nar["A2"].protection = Protection(locked=False)
    nar["A2"].fill = _FILL
    nar["A2"].alignment = Alignment(wrap_text=True, vertical="top")
    nar.column_dimensions["A"].width = 100
    nar.row_dimensions[2].height = 200
    nar.protection.sheet = True

    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()


# --- reading a return back ------------------------------------------------------------------------------------

class ReturnRefused(ValueError):
    """A workbook that cannot be used at all (wrong file, commission, quarter or template); message for the user."""


@dataclass
class Problem:
    sheet: str
    row: int | None
    column: str
    message: str

    def __str__(self) -> str:
        where = f"{self.sheet} sheet" + (f", row {self.row}" if self.row else "") + (f", {self.column}" if self.column else "")
        return f"{where}: {self.message}"


@dataclass
class ParsedReturn:
    actuals: dict[int, int] = field(default_factory=dict)  # measure id -> value
    narrative: str | None = None
    completed_by: str = ""
    problems: list[Problem] = field(default_factory=list)


def _show(value) -> str:
    text = str(value)
    return text if len(text) <= 40 else text[:37] + "..."


def read_return(data: bytes, filename: str, commission: Commission, year: FundingYear, quarter: int) -> ParsedReturn:
    """Read a filled-in workbook for ``commission``, ``year`` and ``quarter``. ReturnRefused when it is not one,
    or is for another commission, year or quarter, or an old template; otherwise located problems in
    ``problems``."""
    limit = current_app.config.get("IMPORT_MAX_UNCOMPRESSED_MB", 200) * 1024 * 1024
    try:
        workbook = open_workbook(data, filename, max_uncompressed=limit, max_rows=5_000)
    except SpreadsheetError as exc:
        raise ReturnRefused(exc.message) from exc
    with workbook:
        if workbook.format == "csv" or not {COVER, OUTPUTS, NARRATIVE} <= set(workbook.sheet_names):
            raise ReturnRefused("This is not a VRU monitoring workbook (it has no Cover, Outputs and Narrative "
                                "sheets). Download the workbook for this commission and quarter and fill that in.")
        try:
            cover = {str(v[0]).strip().lower(): (parse_text(v[1]) if len(v) > 1 else None)
                     for _, v in workbook.iter_rows(COVER) if v and isinstance(v[0], str)}
            _check_identity(cover, commission, year, quarter)
            parsed = ParsedReturn(completed_by=str(cover.get("completed by") or "").strip()[:120])
            _read_outputs(workbook, commission, year, parsed)
            _read_narrative(workbook, parsed)
        except SpreadsheetError as exc:
            raise ReturnRefused(exc.message) from exc
        except ValueProblem as exc:
            raise ReturnRefused(f"A cell on the Cover sheet cannot be read: it {exc}. Download the workbook again "
                                "and fill that in.") from exc
    if not parsed.problems and not parsed.actuals and not parsed.narrative:
        raise ReturnRefused("The workbook has no actuals and no narrative filled in, so there is nothing to record.")
    return parsed


def _check_identity(cover: dict, commission: Commission, year: FundingYear, quarter: int) -> None:
    version = str(cover.get("template version") or "").strip()
    if not version:
        raise ReturnRefused("This is not a VRU monitoring workbook (its Cover has no template version). Download "
                            "the workbook for this commission and quarter and fill that in.")
    if version != TEMPLATE_VERSION:
        raise ReturnRefused(f"This workbook was made from an old template (version {version}; the current one is "
                            f"{TEMPLATE_VERSION}). Download a new workbook, copy the figures into it and upload that.")
    reference = str(cover.get("commission reference") or "").strip()
    if reference != commission.reference:
        raise ReturnRefused(f"This workbook is for commission {reference or '(none)'}, not {commission.reference}. "
                            "Upload it on that commission's page, or choose the right file.")
    got_year = str(cover.get("funding year") or "").strip()
    got_quarter = str(cover.get("quarter") or "").strip().upper()
    if got_year != year.label or got_quarter != quarter_label(quarter):
        raise ReturnRefused(f"This workbook is for {got_quarter or '(no quarter)'} {got_year or '(no year)'}, not "
                            f"{quarter_label(quarter)} {year.label}. Choose the right year and quarter "
                            "or the right file.")


def _read_outputs(workbook, commission: Commission, year: FundingYear, parsed: ParsedReturn) -> None:
    measures = {m.id for m in db.session.scalars(_year_measures(commission.id, year.id))}
    seen: set[int] = set()
    for row, values in workbook.iter_rows(OUTPUTS):
        if row <= HEADER_ROW or not values or all(is_blank(v) for v in values):
            continue
        values = tuple(values) + (None,) * (ACTUAL_COL - len(values))
        try:
            measure_id = parse_int(values[0])
        except ValueProblem as exc:
            parsed.problems.append(Problem(OUTPUTS, row, "Measure ID", f"{_show(values[0])!r} {exc}".replace("'None' ", "")))
            continue
        if measure_id not in measures:
            parsed.problems.append(Problem(OUTPUTS, row, "Measure ID",
                                           f"{measure_id} is not one of this commission's measures "
                                           f"for {year.label}"))
            continue
        if measure_id in seen:
            parsed.problems.append(Problem(OUTPUTS, row, "Measure ID", f"measure {measure_id} appears twice"))
            continue
        seen.add(measure_id)
        raw = values[ACTUAL_COL - 1]
        if is_blank(raw):
            continue
        try:
            value = parse_int(raw)
            service.check_value(value)
        except ValueProblem as exc:
            parsed.problems.append(Problem(OUTPUTS, row, "Actual", f"{_show(raw)!r} {exc}"))
            continue
        except service.MonitoringError as exc:
            parsed.problems.append(Problem(OUTPUTS, row, "Actual", f"{_show(raw)!r}: {exc}"))
            continue
        parsed.actuals[measure_id] = value


def _read_narrative(workbook, parsed: ParsedReturn) -> None:
    for row, values in workbook.iter_rows(NARRATIVE):
        if row == 2:
            raw = values[0] if values else None
            if is_blank(raw):
                return
            try:
                text = parse_field_text(raw)
            except ValueProblem as exc:
                parsed.problems.append(Problem(NARRATIVE, 2, "A", str(exc)))
                return
            if len(text) > service.NARRATIVE_MAX:
                parsed.problems.append(Problem(NARRATIVE, 2, "A", f"is longer than {service.NARRATIVE_MAX:,} characters"))
                return
            parsed.narrative = text
            return


# --- staging, preview, commit and withdrawal ---------------------------------------------------------------------

def stage_return(commission: Commission, year: FundingYear, quarter: int, data: bytes, filename: str,
                 parsed: ParsedReturn) -> MonitoringReturn:
    """Keep a clean, parsed workbook as an import batch awaiting commit (nothing is recorded yet)."""
    require_open_year(year)
    stored = files.write("monitoring", files.generated_name("xlsx"), data)
    batch = ImportBatch(kind="monitoring", filename=clean_filename(filename, default="monitoring.xlsx"),
                        stored_path=stored.path, sha256=stored.sha256, size_bytes=stored.size_bytes,
                        sheet_name=OUTPUTS, funding_year_id=year.id, status="previewed",
                        mapping={"commission": commission.reference, "year": year.label, "quarter": quarter},
                        counts={"rows": len(parsed.actuals), "narrative": bool(parsed.narrative)},
                        problems=[], total_rows=len(parsed.actuals), created_by_id=audit.acting_user_id())
    db.session.add(batch)
    db.session.flush()
    staged = MonitoringReturn(import_batch_id=batch.id, commission_id=commission.id, funding_year_id=year.id,
                              quarter=quarter,
                              values={"actuals": {str(k): v for k, v in parsed.actuals.items()},
                                      "narrative": parsed.narrative, "completed_by": parsed.completed_by},
                              previous={})
    db.session.add(staged)
    audit.record(service.REALM, "create", batch, f"{commission.reference}: Q{quarter} {year.label} monitoring return "
                 "uploaded "
                 f"({batch.filename})", None, {"actuals": len(parsed.actuals)})
    return staged


def get_monitoring_return_or_404(batch_id: int) -> MonitoringReturn:
    """A provider's uploaded monitoring return, by its import batch (a PCC return is ``returns.service.get_return_or_404``)."""
    from tracker.errors import abort_with

    staged = db.session.scalar(
        select(MonitoringReturn).where(MonitoringReturn.import_batch_id == batch_id)
        .options(joinedload(MonitoringReturn.import_batch).joinedload(ImportBatch.created_by),
                 joinedload(MonitoringReturn.funding_year),
                 joinedload(MonitoringReturn.commission).joinedload(Commission.provider)))
    if staged is None:
        abort_with(404, "There is no such monitoring return.")
    return staged


@dataclass
class PreviewLine:
    measure: Measure
    target: int
    now: int | None
    new: int | None

    @property
    def changes(self) -> bool:
        return self.new is not None and self.new != self.now


def preview_lines(commission: Commission, year: FundingYear, quarter: int,
                  actuals: dict[int, int]) -> list[PreviewLine]:
    """Each measure of the year: its target, what is recorded now and what the workbook would record (two
    queries)."""
    measures = db.session.scalars(
        _year_measures(commission.id, year.id)
        .options(joinedload(Measure.metric), selectinload(Measure.actuals))).unique().all()
    lines = []
    for m in sorted(measures, key=lambda m: (m.metric.sort_order, m.metric.name)):
        now = next((a.value for a in m.actuals if a.quarter == quarter), None)
        lines.append(PreviewLine(m, m.target(quarter), now, actuals.get(m.id)))
    return lines


def current_narrative(commission_id: int, year_id: int, quarter: int) -> str:
    return db.session.scalar(select(QuarterNarrative.text).where(
        QuarterNarrative.commission_id == commission_id, QuarterNarrative.funding_year_id == year_id,
        QuarterNarrative.quarter == quarter)) or ""


class NotAllowed(ValueError):
    """The batch is not in a state for this (e.g. committing twice); message for the user."""


def _claim(batch: ImportBatch, from_statuses: tuple[str, ...], to_status: str) -> None:
    """Move the batch on only if it is still where this request found it (a compare-and-set on its status):
    of two requests committing or withdrawing one return at once, the second is refused, so values are
    recorded once and ``previous`` holds what was there before the first commit."""
    if to_status == "committing":
        same_file = db.session.scalar(select(ImportBatch.id).where(
            ImportBatch.sha256 == batch.sha256, ImportBatch.id != batch.id,
            ImportBatch.status.in_(("committing", "committed"))).limit(1))
        if same_file is not None:
            raise NotAllowed("This workbook has already been recorded (the same file was committed before); "
                             "withdraw that return first if it needs recording again.")
    from tracker import transitions

    try:
        claimed = transitions.advance(batch, from_statuses, status=to_status)
    except IntegrityError:
        db.session.rollback()
        raise NotAllowed("This workbook is being recorded by someone else now; reload the page.") from None
    if not claimed:
        db.session.rollback()
        raise NotAllowed("Someone else has just committed or withdrawn this return; reload the page to see it.")


def commit_return(staged: MonitoringReturn) -> int:
    """Record every value of the return, or none: the caller commits the session once, and rolls back on error."""
    batch = staged.import_batch
    if batch.status != "previewed":
        raise NotAllowed(f"This return is {batch.status}, so it cannot be committed.")
    commission, year = staged.commission, staged.funding_year
    require_open_year(year)
    _claim(batch, ("previewed",), "committing")
    measures = {m.id: m for m in db.session.scalars(
        _year_measures(commission.id, year.id)
        .options(joinedload(Measure.metric), selectinload(Measure.actuals), joinedload(Measure.funding_year),
                 joinedload(Measure.commission))).unique()}
    previous: dict[str, int | None] = {}
    user_id = audit.acting_user_id()
    for key, value in (staged.values.get("actuals") or {}).items():
        measure = measures.get(int(key))
        if measure is None:
            raise NotAllowed("A measure in this return has been removed since it was uploaded; upload it again.")
        previous[key] = next((a.value for a in measure.actuals if a.quarter == staged.quarter), None)
        service.set_actual(measure, staged.quarter, int(value), user_id=user_id, batch_id=batch.id)
    narrative = staged.values.get("narrative")
    old_narrative = current_narrative(commission.id, year.id, staged.quarter) if narrative else None
    if narrative:
        service.set_narrative(commission, year, staged.quarter, narrative, user_id=user_id, batch_id=batch.id)
    staged.previous = {"actuals": previous, "narrative": old_narrative}
    batch.status = "committed"
    batch.committed_at = utcnow()
    batch.progress = batch.total_rows
    batch.counts = {**(batch.counts or {}), "changed": sum(1 for k, v in previous.items()
                                                           if v != staged.values["actuals"][k])}
    audit.record(service.REALM, "change", batch, f"{commission.reference}: Q{staged.quarter} {year.label} monitoring "
                 "return committed", {"status": "previewed"}, {"status": "committed"})
    return len(previous)


def withdraw_return(staged: MonitoringReturn) -> None:
    """Undo a committed return: each value it recorded goes back to what was there before, unless someone has
    changed it since (that later value is kept). A previewed return is simply withdrawn."""
    batch = staged.import_batch
    if batch.status not in ("previewed", "committed"):
        raise NotAllowed(f"This return is {batch.status}, so it cannot be withdrawn.")
    commission, year = staged.commission, staged.funding_year
    require_open_year(year)
    before = batch.status
    _claim(batch, (before,), "withdrawn")
    if before == "committed":
        measures = {m.id: m for m in db.session.scalars(
            _year_measures(commission.id, year.id)
            .options(joinedload(Measure.metric), selectinload(Measure.actuals), joinedload(Measure.funding_year),
                     joinedload(Measure.commission))).unique()}
        for key, old in (staged.previous.get("actuals") or {}).items():
            measure = measures.get(int(key))
            if measure is None:
                continue
            current = next((a for a in measure.actuals if a.quarter == staged.quarter), None)
            if current is not None and current.import_batch_id == batch.id:
                service.set_actual(measure, staged.quarter, old)
        narrative = db.session.scalar(select(QuarterNarrative).where(
            QuarterNarrative.commission_id == commission.id, QuarterNarrative.funding_year_id == year.id,
            QuarterNarrative.quarter == staged.quarter))
        if narrative is not None and narrative.import_batch_id == batch.id:
            service.set_narrative(commission, year, staged.quarter, staged.previous.get("narrative") or "")
    batch.withdrawn_at = utcnow()
    batch.withdrawn_by_id = audit.acting_user_id()
    audit.record(service.REALM, "change", batch, f"{commission.reference}: Q{staged.quarter} {year.label} monitoring "
                 "return withdrawn", {"status": before}, {"status": "withdrawn"})


def returns_for(commission_id: int, year_id: int) -> list[MonitoringReturn]:
    """A contract's uploaded monitoring returns for one funding year, newest first."""
    return list(db.session.scalars(
        select(MonitoringReturn).where(MonitoringReturn.commission_id == commission_id,
                                       MonitoringReturn.funding_year_id == year_id)
        .options(joinedload(MonitoringReturn.import_batch).joinedload(ImportBatch.created_by))
        .order_by(MonitoringReturn.id.desc())))


__all__ = ["TEMPLATE_VERSION", "build_workbook", "read_return", "stage_return", "commit_return", "withdraw_return",
           "ReturnRefused", "NotAllowed", "MeasureActual"]
