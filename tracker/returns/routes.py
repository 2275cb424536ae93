"""Returns to the PCC: preview, notes, draft download, issue and issued downloads; list downloads; the CLI."""
from __future__ import annotations

from datetime import datetime
from pathlib import Path

import click
from flask import Blueprint, current_app, flash, request, url_for
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from tracker.auth.roles import ADMIN, EVERYONE, FINANCE, MANAGER, roles_required
from tracker.errors import abort_with
from tracker.extensions import db
from tracker.funding.rules import (
    choose_quarter, choose_year, no_such_year_message, parse_quarter, year_by_label, year_named,
)
from tracker.models import FundingYear, User
from tracker.models.base import utcnow
from tracker.periods import QUARTER_NAMES
from tracker.returns import exports, service
from tracker.returns.forms import IssueForm, NotesForm, choice_from_args
from tracker.returns.workbook import workbook_bytes
from tracker.web import XLSX_MIMETYPE, is_htmx, render, see_other, send_download

bp = Blueprint("returns", __name__)


def _years() -> list[FundingYear]:
    return db.session.scalars(select(FundingYear).order_by(FundingYear.start_date.desc())).all()


def _prepare_context(year: FundingYear | None, quarter: int, form: NotesForm | None = None) -> dict:
    ctx = {"year": year, "quarter": quarter, "years": _years(), "quarter_names": QUARTER_NAMES, "data": None,
           "versions": [], "draft": None}
    if year is None:
        return ctx
    versions = service.issued_versions(year, quarter)
    draft = service.get_draft(year, quarter)
    ctx.update(versions=versions, draft=draft, data=service.draft_data(year, quarter))
    if form is None:
        form = NotesForm(narrative=service.current_narrative(year, quarter, draft, versions))
    ctx["form"] = form
    return ctx


@bp.route("/returns/")
@roles_required(*EVERYONE)
def index():
    """The returns archive: every issued return, newest first, with its downloads (``?year=&quarter=`` narrow
    it). Managers and finance also see the returns being prepared and where to prepare the next one."""
    year = choose_year(request.args, default=lambda: None)
    quarter = choose_quarter(request.args, default=None)
    can_prepare = current_user.has_role(MANAGER, FINANCE)
    ctx = {"returns": service.issued_returns(year, quarter), "year": year, "quarter": quarter, "years": _years(),
           "quarter_names": QUARTER_NAMES, "can_prepare": can_prepare, "drafts": [], "default": None}
    if can_prepare:
        ctx["drafts"] = service.drafts()
        ctx["default"] = choice_from_args({})
    return render("returns/index.html", "archive", **ctx)


@bp.route("/returns/prepare")
@roles_required(MANAGER, FINANCE)
def prepare():
    """Prepare a return: the figures as the workbook will hold them, the notes, the draft download, Issue."""
    choice = choice_from_args(request.args)
    return render("returns/prepare.html", "return_body", **_prepare_context(choice.year, choice.quarter))


@bp.route("/returns/<year_label>/q<int:quarter>/notes", methods=["POST"])
@roles_required(MANAGER, FINANCE)
def notes(year_label: str, quarter: int):
    """Save the notes typed for the return (kept on the draft until it is issued); with ``action=issue``, then go
    on to the confirmation page, so what was typed is never lost on the way to issuing."""
    year, quarter = year_named(year_label), parse_quarter(quarter)
    form = NotesForm()
    if not form.validate():
        db.session.rollback()
        return render("returns/prepare.html", "return_body", status=422, form_errors=True,
                      **_prepare_context(year, quarter, form))
    service.save_notes(year, quarter, (form.narrative.data or "").replace("\r\n", "\n"), current_user)
    db.session.commit()
    if request.form.get("action") == "issue":
        return see_other(url_for("returns.issue", year_label=year.label, quarter=quarter))
    flash("Notes saved. They go on the Notes sheet of the draft and of the return when it is issued.", "success")
    return see_other(url_for("returns.prepare", year=year.label, quarter=quarter))


@bp.route("/returns/<year_label>/q<int:quarter>/notes/autosave", methods=["POST"])
@roles_required(MANAGER, FINANCE)
def autosave(year_label: str, quarter: int):
    """Keep the notes draft as it is typed (HTMX, a pause after typing); answers a short status line. Without
    JavaScript this is never called: Save notes and Check and issue both save what was typed."""
    year, quarter = year_named(year_label), parse_quarter(quarter)
    form = NotesForm()
    if not form.validate():
        db.session.rollback()
        message = "; ".join(form.narrative.errors) or "The form expired. Reload the page."
        return render("returns/_autosave.html", status=422, message=message, failed=True)
    service.save_notes(year, quarter, (form.narrative.data or "").replace("\r\n", "\n"), current_user)
    db.session.commit()
    if not is_htmx():
        return see_other(url_for("returns.prepare", year=year.label, quarter=quarter))
    return render("returns/_autosave.html", message=f"Draft notes saved at {datetime.now():%H:%M}.", failed=False)


@bp.route("/returns/<year_label>/q<int:quarter>/draft.xlsx")
@roles_required(MANAGER, FINANCE)
def draft(year_label: str, quarter: int):
    """The return as it stands now, marked DRAFT: the same workbook issuing would freeze."""
    year, quarter = year_named(year_label), parse_quarter(quarter)
    content = workbook_bytes(service.draft_data(year, quarter, generated_at=utcnow().replace(second=0)))
    return send_download(content, service.download_name(year.label, quarter), XLSX_MIMETYPE)


def _confirm_page(year: FundingYear, quarter: int, form: IssueForm | None = None, status: int = 200):
    check = service.check_before_issue(year, quarter)
    version = check.data.version
    if form is None:
        form = IssueForm(next_version=version, version=str(version), narrative=check.data.narrative)
    narrative = form.narrative.data if form.narrative.data is not None else check.data.narrative
    return render("returns/confirm.html", None, status=status, year=year, quarter=quarter, check=check, form=form,
                  version=version, narrative=narrative, quarter_names=QUARTER_NAMES,
                  last=service.issued_versions(year, quarter)[:1], form_errors=status != 200)


@bp.route("/returns/<year_label>/q<int:quarter>/issue", methods=["GET", "POST"])
@roles_required(MANAGER, FINANCE)
def issue(year_label: str, quarter: int):
    """GET: the confirmation page (headline figures, the notes as they will appear, warnings). POST: issue it,
    freezing the file, its figures and the forecasts, with the notes shown. Allowed in a closed year (see ADR)."""
    year, quarter = year_named(year_label), parse_quarter(quarter)
    if request.method == "GET":
        return _confirm_page(year, quarter)
    version = service.next_version(year, quarter)
    form = IssueForm(next_version=version)
    if not form.validate():
        db.session.rollback()
        if getattr(form, "csrf_token", None) is not None and form.csrf_token.errors:
            abort_with(400, "The form expired. Reload the page and try again.")
        return _confirm_page(year, quarter, form, status=422)
    if not (form.version.data or "").strip():
        abort_with(400, "Issue the return from its check page: open the return and press Check and issue.")
    if (form.version.data or "").strip() != str(version):
        from tracker.transitions import Lost

        db.session.rollback()
        latest = service.issued_versions(year, quarter)[:1]
        raise Lost(f"Version {version - 1} of this return was issued while you were checking it. "
                   "Go back to the return to see it before issuing a correction.", latest[0] if latest else None,
                   service.version_link(latest[0]) if latest else None)
    try:
        record = service.issue(year, quarter, current_user, narrative=form.narrative.data or "",
                               reason=form.correction_reason.data or "")
    except service.NeedsReason as exc:  # the form checks this first; kept for the command line's sake
        db.session.rollback()
        abort_with(422, str(exc))
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        service.discard_file(record)
        abort_with(409, "Someone else issued this return at the same moment. Reload the page to see their version.")
    flash(f"Issued {year.label} Q{quarter} version {record.version}. Its file is kept exactly as issued.", "success")
    return see_other(url_for("returns.view", return_id=record.id))


@bp.route("/returns/issued/<int:return_id>")
@roles_required(*EVERYONE)
def view(return_id: int):
    """An issued return on screen, read from the figures frozen when it was issued (never recomputed)."""
    from tracker.returns.frozen import thaw

    record = service.get_return_or_404(return_id)
    others = service.issued_versions(record.funding_year, record.quarter)
    return render("returns/view.html", None, record=record, frozen=thaw(record.frozen), others=others,
                  quarter_names=QUARTER_NAMES)


@bp.route("/returns/issued/<int:return_id>.xlsx")
@roles_required(*EVERYONE)
def download(return_id: int):
    """An issued return: the bytes stored when it was issued, every time."""
    record = service.get_return_or_404(return_id)
    try:
        content = service.stored_bytes(record)
    except service.StoredFileMissing as exc:
        current_app.logger.error("%s", exc)
        abort_with(404, "The file for this return is missing. Tell an administrator.")
    response = send_download(content, service.download_name(record.funding_year.label, record.quarter, record.version),
                             XLSX_MIMETYPE, etag=record.sha256, last_modified=record.issued_at)
    response.headers["X-Content-SHA256"] = record.sha256
    return response


def _export(name: str, fmt: str):
    try:
        listing = exports.LISTINGS[name](request.args)
        content = exports.export_rows(listing.columns, listing.rows, fmt, listing.name)
    except exports.ExportError as exc:
        db.session.rollback()
        abort_with(400, str(exc))
    stamp = datetime.now().strftime("%Y-%m-%d")
    return send_download(content, f"{listing.name} {stamp}.{fmt}", exports.MIMETYPES[fmt])


@bp.route("/exports/commissions.<any(xlsx, csv):export_format>")
@roles_required(*EVERYONE)
def export_commissions(export_format: str):
    """The commissions register with the same filters as its page (?year=&status=&strand=&q= ...)."""
    return _export("commissions", export_format)


@bp.route("/exports/budget.<any(xlsx, csv):export_format>")
@roles_required(*EVERYONE)
def export_budget(export_format: str):
    """The budget page's figures as on screen (?year=2025-26&quarter=4), with a Total row."""
    return _export("budget", export_format)


@bp.route("/exports/ledger.<any(xlsx, csv):export_format>")
@roles_required(*EVERYONE)
def export_ledger(export_format: str):
    """Ledger lines (?year=&quarter=&period=&commission=&unmatched=1&q=)."""
    return _export("ledger", export_format)


@bp.route("/exports/milestones.<any(xlsx, csv):export_format>")
@roles_required(*EVERYONE)
def export_milestones(export_format: str):
    """Milestones (?year=&status=&programme=)."""
    return _export("milestones", export_format)


@bp.route("/exports/audit.<any(xlsx, csv):export_format>")
@roles_required(ADMIN)
def export_audit(export_format: str):
    """The audit trail (?realm=&object_type=); administrators only, like the audit pages."""
    return _export("audit", export_format)


@click.command("export-return")
@click.option("--year", "year_label", required=True, help="Funding year, e.g. 2025-26.")
@click.option("--quarter", type=click.IntRange(1, 4), required=True, help="Quarter 1-4 (Q1 is April to June).")
@click.option("--issue", "do_issue", is_flag=True, help="Issue it (the next version) instead of writing a draft.")
@click.option("--by", "by_email", default="", help="E-mail of the user issuing it (recorded as issued by).")
@click.option("--reason", default="", help="Why a corrected version (2 or later) is issued (required for those).")
@click.argument("out", type=click.Path(dir_okay=False, writable=True, path_type=Path))
def export_return_command(year_label: str, quarter: int, do_issue: bool, by_email: str, out: Path, reason: str):
    """Write the quarterly return workbook to OUT (a draft unless --issue is given)."""
    year = year_by_label(year_label)
    if year is None:
        raise click.ClickException(no_such_year_message(year_label))
    user = None
    if by_email:
        user = db.session.scalar(select(User).where(User.email == by_email.strip().lower()))
        if user is None:
            raise click.ClickException(f"There is no user {by_email!r}.")
    if do_issue:
        try:
            record = service.issue(year, quarter, user, reason=reason)
        except service.NeedsReason as exc:
            raise click.ClickException(f"{exc} Give it with --reason.") from None
        try:
            db.session.commit()
        except IntegrityError as exc:
            db.session.rollback()
            service.discard_file(record)
            raise click.ClickException("Someone else issued this return at the same moment; try again.") from exc
        content = service.stored_bytes(record)
        label = f"issued version {record.version} (SHA-256 {record.sha256})"
    else:
        content = workbook_bytes(service.draft_data(year, quarter, generated_at=utcnow().replace(second=0)))
        label = "draft"
    out.write_bytes(content)
    click.echo(f"Wrote the {year.label} Q{quarter} return, {label}, to {out} ({len(content):,} bytes).")

