"""Import pages: upload, mapping, preview, commit (with a progress bar for big files), history, withdraw, and
the unmatched ledger lines finance assigns to commissions. Finance (and admins) import; everyone reads history."""
from __future__ import annotations


from flask import Blueprint, abort, flash, make_response, redirect, request, url_for
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from tracker.auth.roles import EVERYONE, FINANCE, STAFF, roles_required
from tracker.extensions import db
from tracker.imports import matching, service
from tracker.imports.cli import register_cli
from tracker.imports.forms import AssignForm, CommitForm, UploadForm
from tracker.models import Commission, FundingYear, LedgerTransaction
from tracker.web import XLSX_MIMETYPE, is_htmx, render, send_download

bp = Blueprint("imports", __name__, url_prefix="/imports", cli_group=None)
register_cli(bp)

BACKGROUND_ROWS = 2_000  # files with more rows than this commit in the background with a progress bar


def _done(url: str, message: str | None = None):
    if message:
        flash(message, "success")
    if is_htmx():
        response = make_response("", 204)
        response.headers["HX-Redirect"] = url
        return response
    return redirect(url, 303)


def get_draft_or_404(token: str) -> service.Draft:
    """A draft belongs to whoever uploaded it (admins may see any)."""
    draft = service.load_draft(token)
    if draft is None or (draft.created_by_id != current_user.id and not current_user.has_role("admin")):
        abort(404)
    return draft


def _year_choices(form: UploadForm) -> None:
    years = db.session.scalars(select(FundingYear).order_by(FundingYear.start_date.desc())).all()
    form.year.choices = [("", "Not needed")] + [(y.label, f"{y.label}{' (closed)' if y.is_closed else ''}")
                                                for y in years]


@bp.before_request
def put_right_interrupted_imports():
    """An import cut off by a crash or restart shows as failed the next time anyone looks (one small query)."""
    service.fail_interrupted_batches()


# --- history ------------------------------------------------------------------------------------------------

@bp.route("/")
@roles_required(*EVERYONE)
def index():
    """Every import: who, when, the file, what it did, its status."""
    return render("imports/index.html", batches=service.batches(), unmatched=matching.unmatched_count())


@bp.route("/<int:batch_id>")
@roles_required(*EVERYONE)
def batch(batch_id: int):
    """One import: summary, mapping, counts, problems, rows left out; progress while it commits."""
    batch = service.get_batch_or_404(batch_id)
    done, total = service.progress_of(batch)
    return render("imports/batch.html", "progress", batch=batch, done=done, total=total,
                  shown=batch.problems[:service.SHOWN_PROBLEMS], problem_text=service.problem_text)


@bp.route("/<int:batch_id>/progress")
@roles_required(*EVERYONE)
def progress(batch_id: int):
    """The progress component the batch page polls while a commit runs (replaces itself when done)."""
    batch = service.get_batch_or_404(batch_id)
    done, total = service.progress_of(batch)
    if batch.status != "committing" and is_htmx():
        # Finished: reload the whole page so the summary shows.
        response = make_response("", 204)
        response.headers["HX-Redirect"] = url_for("imports.batch", batch_id=batch.id)
        return response
    return render("imports/batch.html", "progress", batch=batch, done=done, total=total,
                  shown=batch.problems[:service.SHOWN_PROBLEMS], problem_text=service.problem_text)


@bp.route("/<int:batch_id>/file")
@roles_required(*EVERYONE)
def original(batch_id: int):
    """The file exactly as it was uploaded."""
    batch = service.get_batch_or_404(batch_id)
    try:
        return send_download(service.stored_file(batch), batch.filename)
    except FileNotFoundError:
        abort(404)


@bp.route("/<int:batch_id>/problems.xlsx")
@roles_required(*EVERYONE)
def batch_problems(batch_id: int):
    """The batch's problems as a spreadsheet."""
    batch = service.get_batch_or_404(batch_id)
    return _xlsx(service.problems_workbook(batch.problems), f"import-{batch.id}-problems.xlsx")


@bp.route("/<int:batch_id>/withdraw", methods=["GET", "POST"])
@roles_required(FINANCE)
def withdraw(batch_id: int):
    """Take a committed import back out: its rows go, what it changed is restored; audited. GET is the
    confirmation page saying what will change (it works without JavaScript)."""
    batch = service.get_batch_or_404(batch_id)
    if request.method == "GET":
        refusal = service.withdraw_refusal(batch)
        return render("_confirm.html", None, status=refusal.status if refusal else 200,
                      heading=f"Withdraw import {batch.id}?", back=url_for("imports.batch", batch_id=batch.id),
                      intro=f"{batch.filename}, imported by {batch.created_by.name if batch.created_by else 'the command line'}.",
                      refusal=refusal.message if refusal else None,
                      effects=[] if refusal else service.withdraw_effects(batch),
                      action=url_for("imports.withdraw", batch_id=batch.id), button=f"Yes, withdraw import {batch.id}")
    try:
        notes = service.withdraw(batch, current_user.id)
    except service.ImportRefused as exc:
        db.session.rollback()
        return _refused(exc, batch)
    db.session.commit()
    return _done(url_for("imports.batch", batch_id=batch.id),
                 f"Import {batch.id} withdrawn" + (f": {'; '.join(notes)}." if notes else "."))


def _refused(exc: service.ImportRefused, batch=None):
    done, total = service.progress_of(batch) if batch else (0, 0)
    return render("imports/batch.html", "progress", status=exc.status, batch=batch, done=done, total=total,
                  shown=batch.problems[:service.SHOWN_PROBLEMS], problem_text=service.problem_text,
                  refusal=exc.message)


# --- upload, mapping, preview, commit --------------------------------------------------------------------

@bp.route("/upload", methods=["GET", "POST"])
@roles_required(FINANCE)
def upload():
    """Upload a spreadsheet and say what it is (or let the tracker decide)."""
    form = UploadForm()
    _year_choices(form)
    if request.method == "GET":
        form.kind.data = request.args.get("kind", "") if request.args.get("kind") in service.KINDS else ""
        return render("imports/upload.html", "form", form=form)
    earlier = None
    if form.validate_on_submit():
        upload = form.file.data
        try:
            draft = service.start_draft(upload.stream, upload.filename, kind=form.kind.data or None,
                                        year_label=form.year.data or None, sheet=(form.sheet.data or "").strip() or None,
                                        user_id=current_user.id)
        except service.ImportRefused as exc:
            db.session.rollback()
            form.file.errors = [exc.message]
            earlier = exc.batch
            return render("imports/upload.html", "form", status=exc.status, form=form, earlier=earlier)
        return _done(url_for("imports.mapping", token=draft.token))
    return render("imports/upload.html", "form", status=422, form=form, earlier=earlier)


@bp.route("/drafts/<token>/mapping", methods=["GET", "POST"])
@roles_required(FINANCE)
def mapping(token: str):
    """Which column holds each field, with sample values; any choice can be changed."""
    draft = get_draft_or_404(token)
    errors: dict[str, str] = {}
    if request.method == "POST":
        errors = service.set_mapping(draft, {s.name: request.form.get(f"field-{s.name}", "") for s in draft.fields})
        if not errors:
            try:
                service.preview(draft)
            except service.ImportRefused as exc:
                return _mapping_page(draft, {"_file": exc.message}, exc.status)
            return _done(url_for("imports.preview", token=draft.token))
    return _mapping_page(draft, errors, 422 if errors else 200)


def _mapping_page(draft, errors, status):
    try:
        choices = service.mapping_choices(draft)[0]
    except service.ImportRefused as exc:  # pragma: no cover - the file was read at upload
        abort(422, exc.message)
    chosen = {s.name: request.form.get(f"field-{s.name}") for s in draft.fields} if request.method == "POST" else {}
    return render("imports/mapping.html", "form", status=status, draft=draft, choices=choices, errors=errors,
                  chosen=chosen)


@bp.route("/drafts/<token>", methods=["GET"])
@roles_required(FINANCE)
def preview(token: str):
    """What the import will do: rows to add, already present (unchanged or changed), problems, totals."""
    draft = get_draft_or_404(token)
    if draft.preview is None:
        try:
            service.preview(draft)
        except service.ImportRefused as exc:
            return _mapping_page(draft, {"_file": exc.message}, exc.status)
    return _preview_page(draft, CommitForm(), 200)


def _preview_page(draft, form, status, refusal=None):
    p = draft.preview
    return render("imports/preview.html", "form", status=status, draft=draft, p=p, form=form, refusal=refusal,
                  shown=p["problems"][:service.SHOWN_PROBLEMS], problem_text=service.problem_text)


@bp.route("/drafts/<token>/problems.xlsx")
@roles_required(FINANCE)
def draft_problems(token: str):
    """The preview's problems as a spreadsheet, to correct the file."""
    draft = get_draft_or_404(token)
    problems = (draft.preview or {}).get("problems") or service.preview(draft)["problems"]
    return _xlsx(service.problems_workbook(problems), f"{draft.filename.rsplit('.', 1)[0]}-problems.xlsx")


@bp.route("/drafts/<token>/commit", methods=["POST"])
@roles_required(FINANCE)
def commit(token: str):
    """Import every row in one transaction (big files in the background with a progress bar)."""
    draft = get_draft_or_404(token)
    form = CommitForm()
    if draft.preview is None:
        service.preview(draft)
    leave_out = bool(form.leave_out.data)
    try:
        if draft.preview["counts"]["read"] > bp_background_rows():
            batch = service.commit_in_background(draft, leave_out=leave_out, user_id=current_user.id)
            return _done(url_for("imports.batch", batch_id=batch.id))
        batch = service.commit(draft, leave_out=leave_out, user_id=current_user.id)
    except service.ImportRefused as exc:
        db.session.rollback()
        if exc.batch is not None and exc.batch.status == "failed":
            return _done(url_for("imports.batch", batch_id=exc.batch.id))
        form.leave_out.errors = [exc.message] if exc.status == 422 else []
        return _preview_page(draft, form, exc.status, refusal=exc.message)
    return _done(url_for("imports.batch", batch_id=batch.id), service._summary_line(batch) + ".")


def bp_background_rows() -> int:
    from flask import current_app

    return int(current_app.config.get("IMPORT_BACKGROUND_ROWS", BACKGROUND_ROWS))


@bp.route("/drafts/<token>/cancel", methods=["POST"])
@roles_required(FINANCE)
def cancel(token: str):
    """Throw the upload away without importing anything."""
    draft = get_draft_or_404(token)
    service.discard_draft(draft)
    return _done(url_for("imports.index"), "The upload was discarded; nothing was imported.")


# --- unmatched ledger lines -----------------------------------------------------------------------------

def _assign_form() -> AssignForm:
    form = AssignForm()
    commissions = db.session.scalars(select(Commission).options(joinedload(Commission.provider))
                                     .order_by(Commission.reference)).all()
    form.commission.choices = [(0, "Choose a commission")] + [
        (c.id, f"{c.reference} {c.title} ({c.provider.name})") for c in commissions]
    return form


@bp.route("/unmatched", methods=["GET"])
@roles_required(*STAFF)
def unmatched():
    """Ledger lines no commission claims yet, for finance to assign."""
    return _unmatched_page(_assign_form(), 200)


def _unmatched_page(form, status):
    lines = matching.unmatched_lines()
    return render("imports/unmatched.html", "content_block", status=status, lines=lines, form=form,
                  total=matching.unmatched_count())


@bp.route("/unmatched/assign", methods=["POST"])
@roles_required(FINANCE)
def assign():
    """Put the ticked lines against a commission; remembered for the supplier when asked."""
    form = _assign_form()
    if not form.validate_on_submit():
        return _unmatched_page(form, 422)
    commission = db.session.get(Commission, form.commission.data)
    lines = db.session.scalars(select(LedgerTransaction).where(LedgerTransaction.id.in_(form.lines.data),
                                                               LedgerTransaction.commission_id.is_(None))).all()
    if not lines:
        form.lines.errors = ["Those lines are no longer unmatched; reload the page"]
        return _unmatched_page(form, 422)
    closed = [l for l in lines if l.funding_year_id and db.session.get(FundingYear, l.funding_year_id).is_closed]
    if closed:
        form.lines.errors = [f"Line {closed[0].reference} is in a closed funding year and cannot be changed"]
        return _unmatched_page(form, 409)
    count = matching.assign(lines, commission, remember=form.remember.data)
    db.session.commit()
    return _done(url_for("imports.unmatched"), f"{count} line{'s' if count != 1 else ''} assigned to "
                                                f"{commission.reference}.")


def _xlsx(data: bytes, name: str):
    return send_download(data, name, XLSX_MIMETYPE)
