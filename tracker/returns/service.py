"""Preparing and issuing returns: the draft's notes, issuing (freezing the exact bytes), and reading them back.

A return for a year and quarter has at most one draft (the notes being written, ``status="draft"``) and any
number of issued versions (1, 2, 3 ...). Issuing turns the draft into the next version: the workbook is
built once, its bytes are kept under DATA_DIR with their SHA-256, and every later download serves those bytes.
Returns may be prepared and issued for a closed funding year: a return reports on the year, it changes none
of its records (see docs/adr/returns-in-closed-years.md).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import insert, select
from sqlalchemy.orm import selectinload

from tracker import audit, files, transitions
from tracker.errors import abort_with
from tracker.extensions import db
from tracker import figures
from tracker.models import ForecastSnapshot, FundingYear, PccReturn, User
from tracker.models.base import utcnow
from tracker.money import format_pence
from tracker.returns.builder import ReturnData, build_return, next_version
from tracker.returns.frozen import freeze
from tracker.returns.workbook import workbook_bytes

NARRATIVE_MAX = 20_000
REASON_MAX = 2_000
RETURNS_FOLDER = "returns"


class NeedsReason(ValueError):
    """A corrected version (2 or later) was issued without saying why."""


class StoredFileMissing(RuntimeError):
    """An issued return's file is missing or its bytes no longer match the SHA-256 recorded at issue."""


def get_return_or_404(return_id: int, issued_only: bool = True) -> PccReturn:
    """An issued return by id; drafts are not downloadable by id (viewers must never see them)."""
    record = db.session.get(PccReturn, return_id, options=[selectinload(PccReturn.funding_year)])
    if record is None or (issued_only and record.status != "issued"):
        abort_with(404, "There is no issued return with that number.")
    return record


def get_draft(year: FundingYear, quarter: int) -> PccReturn | None:
    return db.session.scalar(
        select(PccReturn).where(PccReturn.funding_year_id == year.id, PccReturn.quarter == quarter,
                                PccReturn.status == "draft")
        .options(selectinload(PccReturn.prepared_by))
    )


def issued_versions(year: FundingYear, quarter: int) -> list[PccReturn]:
    """Every issued version of a return, newest first."""
    return list(db.session.scalars(
        select(PccReturn).where(PccReturn.funding_year_id == year.id, PccReturn.quarter == quarter,
                                PccReturn.status == "issued")
        .options(selectinload(PccReturn.issued_by), selectinload(PccReturn.prepared_by))
        .order_by(PccReturn.version.desc())
    ))


def current_narrative(year: FundingYear, quarter: int, draft: PccReturn | None,
                      versions: list[PccReturn]) -> str:
    """The draft's notes; without a draft, the last issued notes (a correction starts from them)."""
    if draft is not None:
        return draft.narrative
    return versions[0].narrative if versions else ""


def _ensure_draft(year: FundingYear, quarter: int, user: User | None) -> PccReturn:
    draft = get_draft(year, quarter)
    if draft is None:
        versions = issued_versions(year, quarter)
        draft = PccReturn(funding_year_id=year.id, quarter=quarter, version=next_version(year, quarter),
                          status="draft", narrative=versions[0].narrative if versions else "",
                          prepared_by_id=user.id if user else None)
        db.session.add(draft)
        db.session.flush()
    return draft


def save_notes(year: FundingYear, quarter: int, narrative: str, user: User | None) -> PccReturn:
    """Keep the narrative on the draft (made if needed); the caller commits."""
    draft = _ensure_draft(year, quarter, user)
    before = audit.snapshot(draft, ["narrative"])
    draft.narrative = narrative
    if user is not None:
        draft.prepared_by_id = user.id
    audit.record("returns", "change", draft, f"Notes for the {year.label} Q{quarter} return updated",
                 *audit.diff(before, audit.snapshot(draft, ["narrative"])))
    return draft


def draft_data(year: FundingYear, quarter: int, generated_at: datetime | None = None) -> ReturnData:
    """The return as it stands now, with the draft's notes (or the last issued notes)."""
    draft = get_draft(year, quarter)
    data = build_return(year, quarter, draft, generated_at=generated_at)
    if draft is None:
        versions = issued_versions(year, quarter)
        data.narrative = versions[0].narrative if versions else ""
    return data


def issue(year: FundingYear, quarter: int, user: User | None, now: datetime | None = None, *,
          narrative: str | None = None, reason: str = "") -> PccReturn:
    """Freeze the return as the next version: build it, keep its exact bytes and hash, its figures as JSON (the
    on-screen view) and each line's and stream's forecast (forecast movement); the caller commits.

    ``narrative``, when given, is what was typed on the page: it is saved with the issue, so notes never need a
    separate save first. Version 2 and later need a ``reason`` (NeedsReason otherwise). If the commit fails the
    stored file is removed by ``discard_file`` (called by the caller on error).
    """
    version = next_version(year, quarter)
    reason = (reason or "").strip()
    if version > 1 and not reason:
        raise NeedsReason(f"Say why version {version} corrects version {version - 1}: it is shown on the Cover and "
                          "in the list of returns.")
    issued_at = (now or utcnow()).replace(microsecond=0)
    message = (f"Someone else issued version {version} of the {year.label} Q{quarter} return at the same moment, so "
               "yours was not issued.")

    def take_the_draft() -> PccReturn:
        # draft -> issued is one UPDATE conditional on the draft still being a draft (transitions.move): of two
        # issues at once, the second finds it issued (or its version taken) and is refused before writing a file.
        if narrative is not None:
            draft = save_notes(year, quarter, narrative.replace("\r\n", "\n"), user)
        else:
            draft = _ensure_draft(year, quarter, user)
        transitions.move(draft, "draft", message=message, link=version_link, status="issued", version=version,
                         correction_reason=reason if version > 1 else "", issued_at=issued_at,
                         issued_by_id=user.id if user else None,
                         prepared_by_id=draft.prepared_by_id or (user.id if user else None))
        return draft

    draft = transitions.inserted(take_the_draft, message=message, link=version_link,
                                 winner=lambda: (issued_versions(year, quarter) or [None])[0])
    db.session.refresh(draft, ["prepared_by", "issued_by"])  # the cover names them
    data = build_return(year, quarter, draft)
    content = workbook_bytes(data)
    draft.frozen = freeze(data)
    rows = figures.snapshot_rows(data.figures)
    if rows:
        db.session.execute(insert(ForecastSnapshot), [{**r, "pcc_return_id": draft.id} for r in rows])
    stored = files.write(RETURNS_FOLDER, files.generated_name("xlsx", f"{year.label}-q{quarter}-v{draft.version}"),
                         content)
    draft.stored_path, draft.sha256, draft.size_bytes = stored.path, stored.sha256, stored.size_bytes
    audit.record("returns", "create", draft,
                 f"Issued the {year.label} Q{quarter} return, version {draft.version}",
                 after={"version": draft.version, "sha256": draft.sha256, "size_bytes": draft.size_bytes,
                        "closed_year": year.is_closed, "correction_reason": draft.correction_reason})
    return draft


def version_link(record: PccReturn) -> tuple[str, str]:
    """Where a lost issue's 409 points: the version the other person issued."""
    from flask import url_for

    return url_for("returns.view", return_id=record.id), f"See version {record.version} as it was issued"


def discard_file(record: PccReturn) -> None:
    """Remove a stored file whose issue was not committed."""
    if record.stored_path:
        files.remove(record.stored_path)


def stored_bytes(record: PccReturn) -> bytes:
    """The issued file's exact bytes, checked against the SHA-256 recorded when it was issued."""
    try:
        return files.read(record.stored_path, sha256=record.sha256)
    except (files.OutsideDataDir, FileNotFoundError):
        raise StoredFileMissing(f"The file for return {record.id} is missing from the data folder.") from None
    except files.FileChanged:
        raise StoredFileMissing(f"The file for return {record.id} does not match its recorded SHA-256.") from None


def download_name(year_label: str, quarter: int, version: int | None = None) -> str:
    if version is None:
        return f"PCC return {year_label} Q{quarter} DRAFT.xlsx"
    return f"PCC return {year_label} Q{quarter} v{version}.xlsx"


def reported_quarter(year: FundingYear) -> int:
    """The last quarter of ``year`` an issued return has reported (0 when none): the profile of quarters up to it
    is what the PCC was told, so re-profiling them needs a reason (see BudgetLineForm)."""
    from sqlalchemy import func

    return int(db.session.scalar(select(func.max(PccReturn.quarter)).where(
        PccReturn.funding_year_id == year.id, PccReturn.status == "issued")) or 0)


def issued_returns(year: FundingYear | None = None, quarter: int | None = None) -> list[PccReturn]:
    """The archive: every issued return (or one year's, one quarter's), newest year, quarter and version first."""
    query = (select(PccReturn).join(FundingYear, PccReturn.funding_year_id == FundingYear.id)
             .where(PccReturn.status == "issued")
             .options(selectinload(PccReturn.funding_year), selectinload(PccReturn.issued_by))
             .order_by(FundingYear.start_date.desc(), PccReturn.quarter.desc(), PccReturn.version.desc()))
    if year is not None:
        query = query.where(PccReturn.funding_year_id == year.id)
    if quarter is not None:
        query = query.where(PccReturn.quarter == quarter)
    return list(db.session.scalars(query))


def drafts() -> list[PccReturn]:
    """Returns being prepared (notes saved, not yet issued), for the people who may prepare them."""
    return list(db.session.scalars(
        select(PccReturn).join(FundingYear, PccReturn.funding_year_id == FundingYear.id)
        .where(PccReturn.status == "draft")
        .options(selectinload(PccReturn.funding_year), selectinload(PccReturn.prepared_by))
        .order_by(FundingYear.start_date.desc(), PccReturn.quarter.desc())))


@dataclass
class Check:
    """What the confirmation page shows before a return is issued: headline figures, notes and warnings."""

    data: ReturnData
    headline: list[figures.Figures]
    total: figures.Figures
    warnings: list[str] = field(default_factory=list)


def check_before_issue(year: FundingYear, quarter: int) -> Check:
    """The headline figures per stream and the warnings a finance officer should see before issuing."""
    data = draft_data(year, quarter)
    yf = data.figures
    streams = figures.with_not_on_a_line(yf.streams, yf)
    warnings = []
    notes = data.narrative.strip()
    if not notes:
        warnings.append("The notes are empty: the Notes sheet will say “No notes were written for this return”.")
    if yf.not_on_a_line is not None:
        f = yf.not_on_a_line
        warnings.append(f"{format_pence(f.actual_to_date)} of spend and {format_pence(f.committed)} of contracts are "
                        f"not on a budget line (“{figures.NOT_ON_A_LINE}”).")
    for line, f in yf.over_committed:
        warnings.append(f"{f.name} ({line.funding_stream.name}) is over-committed: {format_pence(f.committed)} "
                        f"committed against a budget of {format_pence(f.budget)}.")
    shown, more = unexplained_red_lines(yf.lines, notes)
    if shown:
        listed = "; ".join(f"{f.name} ({line.funding_stream.name}, variance {format_pence(f.variance)})"
                           for line, f in shown)
        warnings.append("Red budget lines the notes do not mention: " + listed
                        + (f"; and {more} more red line{'s' if more > 1 else ''} not mentioned." if more else "."))
    return Check(data, streams, figures.table_total(streams, quarter), warnings)


#: How many unexplained red lines the check names; the rest are counted (a long list is not read).
UNEXPLAINED_SHOWN = 5


def _plain(text: str) -> str:
    """Text for matching: lower case, every run of punctuation or space one space, padded so whole words match."""
    return " " + " ".join(re.findall(r"[^\W_]+", (text or "").lower())) + " "


def unexplained_red_lines(pairs, notes: str) -> tuple[list, int]:
    """The red lines (``(line, figures)`` pairs) the notes do not mention, largest variance first: the first
    ``UNEXPLAINED_SHOWN`` and how many more. A line is mentioned when the notes name, as whole words, its
    description, its category, its strand or its stream, case and punctuation aside: "serious-youth violence:"
    names the strand "Serious Youth Violence"; "staff" does not name "Staffing"."""
    said = _plain(notes)

    def mentioned(line, f) -> bool:
        names = (f.name, line.description, line.category.name, line.strand.name, line.funding_stream.name)
        return any(_plain(n).strip() and _plain(n) in said for n in names)

    red = [(line, f) for line, f in pairs if f.rag == "R" and not mentioned(line, f)]
    red.sort(key=lambda pair: (-abs(pair[1].variance), pair[1].name))
    return red[:UNEXPLAINED_SHOWN], max(0, len(red) - UNEXPLAINED_SHOWN)

