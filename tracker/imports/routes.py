"""Import pages: upload, mapping, preview, commit (with a progress bar for big files), history, withdraw, and
the unmatched ledger lines finance assigns to commissions. Finance (and admins) import; everyone reads history."""
from __future__ import annotations

from contextlib import contextmanager

from flask import Blueprint, flash, request, url_for
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import joinedload
from sqlalchemy.orm.exc import StaleDataError

from tracker import transitions
from tracker.auth.roles import EVERYONE, FINANCE, STAFF, roles_required
from tracker.extensions import db
from tracker.imports import matching, service, sweep
from tracker.imports import reconciliation as reconcile
from tracker.imports import summary as import_summary
from tracker.imports import unmatched as unmatched_page
from tracker.imports.forms import AccountRuleForm, AssignForm, CommitForm, SupplierRuleForm, UploadForm
from tracker.errors import abort_with
from tracker.funding.rules import current_year
from tracker.models import BudgetLine, Commission, FundingYear, LedgerTransaction
from tracker.money import format_pence
from tracker.web import XLSX_MIMETYPE, is_htmx, render, see_other, send_download

bp = Blueprint("imports", __name__, url_prefix="/imports")

BACKGROUND_ROWS = 2_000  # files with more rows than this commit in the background with a progress bar


@bp.app_template_filter("iso_uk_date")
def iso_uk_date(text: str | None) -> str:
    """A date kept as ISO text in a draft's JSON (2025-05-01), shown as 01/05/2025."""
    from datetime import date

    try:
        return date.fromisoformat(text).strftime("%d/%m/%Y") if text else ""
    except (TypeError, ValueError):
        return ""


@bp.app_template_test("reinvoiceable_credit")
def reinvoiceable_credit(line: LedgerTransaction) -> bool:
    """A ledger line finance may mark "to be re-invoiced" (a credit)."""
    from tracker.models.ledger import can_be_reinvoiced

    return can_be_reinvoiced(line)


def _done(url: str, message: str | None = None):
    if message:
        flash(message, "success")
    return see_other(url)


def get_draft_or_404(token: str) -> service.Draft:
    """A draft belongs to whoever uploaded it (admins may see any)."""
    draft = service.load_draft(token)
    if draft is None or (draft.created_by_id != current_user.id and not current_user.has_role("admin")):
        # Another person's draft reads as missing too: its address says nothing about what they uploaded.
        abort_with(404, "There is no import waiting at this address: it was imported, discarded or never "
                        "uploaded. Upload the file again.")
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
    """Every import: who, when, the file, what it did, its status. Stale drafts (and issued files no record
    keeps) are swept away first."""
    sweep.sweep_drafts()
    sweep.sweep_orphans()
    return render("imports/index.html", batches=service.batches(), unmatched=matching.unmatched_count())


@bp.route("/<int:batch_id>")
@roles_required(*EVERYONE)
def batch(batch_id: int):
    """One import: summary, mapping, counts, problems, rows left out; progress while it commits."""
    batch = service.get_batch_or_404(batch_id)
    done, total = service.progress_of(batch)
    return render("imports/batch.html", "progress", batch=batch, done=done, total=total,
                  shown=batch.problems[:service.SHOWN_PROBLEMS], problem_text=service.problem_text,
                  field_labels=_field_labels(batch.kind))


def _field_labels(kind: str) -> dict[str, str]:
    """The mapping page's words for each field ("Net amount", not "net_pence"), for the batch page's Columns."""
    from tracker.imports.headers import FIELDS

    return {spec.name: spec.label for spec in FIELDS.get(kind, ())}


@bp.route("/<int:batch_id>/progress")
@roles_required(*EVERYONE)
def progress(batch_id: int):
    """The progress component the batch page polls while a commit runs (replaces itself when done)."""
    batch = service.get_batch_or_404(batch_id)
    done, total = service.progress_of(batch)
    if batch.status != "committing" and is_htmx():
        # Finished: reload the whole page so the summary shows.
        return see_other(url_for("imports.batch", batch_id=batch.id))
    return render("imports/batch.html", "progress", batch=batch, done=done, total=total,
                  shown=batch.problems[:service.SHOWN_PROBLEMS], problem_text=service.problem_text,
                  field_labels=_field_labels(batch.kind))


@bp.route("/<int:batch_id>/file")
@roles_required(*EVERYONE)
def original(batch_id: int):
    """The file exactly as it was uploaded."""
    batch = service.get_batch_or_404(batch_id)
    try:
        return send_download(service.stored_file(batch), batch.filename)
    except FileNotFoundError:
        abort_with(404, "The uploaded file of this import is missing from the data folder. Restore it from the "
                        "backup.")


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
        abort_with(422, exc.message)
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
    form.over_budget_seen.data = _digest(p.get("over_budget") or [])
    summary = p.get("summary") or {}
    references = import_summary.commission_references(r.get("commission_id") for r in summary.get("sample", []))
    return render("imports/preview.html", "form", status=status, draft=draft, p=p, form=form, refusal=refusal,
                  shown=p["problems"][:service.SHOWN_PROBLEMS], problem_text=service.problem_text,
                  year_warnings=import_summary.year_warnings(summary), methods=import_summary.METHODS,
                  references=references, held_groups=matching.HELD_GROUPS)


@bp.route("/drafts/<token>/problems.xlsx")
@roles_required(FINANCE)
def draft_problems(token: str):
    """The preview's problems as a spreadsheet, to correct the file."""
    draft = get_draft_or_404(token)
    try:
        problems = (draft.preview or {}).get("problems") or service.preview(draft)["problems"]
    except service.ImportRefused as exc:
        return _mapping_page(draft, {"_file": exc.message}, exc.status)
    return _xlsx(service.problems_workbook(problems), f"{draft.filename.rsplit('.', 1)[0]}-problems.xlsx")


@bp.route("/drafts/<token>/commit", methods=["POST"])
@roles_required(FINANCE)
def commit(token: str):
    """Import every row in one transaction (big files in the background with a progress bar).

    A draft commits at most once: a second request for it (a double click, another tab) is sent to the import
    the first one made."""
    if service.load_draft(token) is None:
        earlier = service.batch_of_draft(token)
        if earlier is not None and (earlier.created_by_id == current_user.id or current_user.has_role("admin")):
            return _already(earlier)
    draft = get_draft_or_404(token)
    form = CommitForm()
    if draft.preview is None or draft.kind == "commissions":
        service.preview(draft)  # a register is small: its over-budget question is asked of the budget as it is now
    over_budget = draft.preview.get("over_budget") or []
    if over_budget and not (form.confirm_over_budget.data and form.over_budget_seen.data == _digest(over_budget)):
        # The form's question, asked of the whole file: nothing is imported until the person confirms the lines
        # listed (again, when the list changed since the preview they read).
        db.session.rollback()
        message = ("The import takes budget lines over their budgets (listed below): confirm it, or correct the "
                   "register, before importing.")
        form.confirm_over_budget.errors = [message]
        return _preview_page(draft, form, 422, refusal=message)
    leave_out = bool(form.leave_out.data)
    try:
        if draft.preview["counts"]["read"] > bp_background_rows():
            batch = service.commit_in_background(draft, leave_out=leave_out, user_id=current_user.id)
            _record_over_budget(batch, over_budget)
            return _done(url_for("imports.batch", batch_id=batch.id))
        batch = service.commit(draft, leave_out=leave_out, user_id=current_user.id)
        _record_over_budget(batch, over_budget)
    except service.AlreadyCommitted as exc:
        db.session.rollback()
        return _already(exc.batch)
    except service.ImportRefused as exc:
        db.session.rollback()
        if exc.batch is not None and exc.batch.status == "failed":
            return _done(url_for("imports.batch", batch_id=exc.batch.id))
        form.leave_out.errors = [exc.message] if exc.status == 422 else []
        return _preview_page(draft, form, exc.status, refusal=exc.message)
    return _done(url_for("imports.batch", batch_id=batch.id), service._summary_line(batch) + ".")


def _digest(warnings: list[str]) -> str:
    """A short fingerprint of an over-budget list, so the commit knows which one the person confirmed."""
    import hashlib

    return hashlib.sha256("\n".join(warnings).encode()).hexdigest()[:16] if warnings else ""


def _record_over_budget(batch, warnings: list[str]) -> None:
    """The audit trail keeps the over-budget decision, as the commission form's ``_record_over_budget`` does."""
    if warnings:
        service.record_over_budget(batch, warnings)
        db.session.commit()


def _already(batch):
    flash(f"This upload was already committed as import {batch.id}; it was not imported again.", "info")
    return _done(url_for("imports.batch", batch_id=batch.id))


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

def _commission_choices() -> list[tuple[int, str]]:
    commissions = db.session.scalars(select(Commission).options(joinedload(Commission.provider))
                                     .order_by(Commission.reference)).all()
    return [(0, "Choose a commission")] + [
        (c.id, f"{c.reference} {c.title} ({c.provider.name}, {c.start_date:%d/%m/%Y} to {c.end_date:%d/%m/%Y})")
        for c in commissions]


def _budget_line_choices() -> list[tuple[int, str]]:
    """Budget lines of years that are not closed, newest year first."""
    lines = db.session.scalars(
        select(BudgetLine).join(FundingYear).where(FundingYear.status != "closed")
        .options(joinedload(BudgetLine.funding_year), joinedload(BudgetLine.funding_stream),
                 joinedload(BudgetLine.category), joinedload(BudgetLine.strand))
        .order_by(FundingYear.start_date.desc(), BudgetLine.id)).all()
    return [(0, "None")] + [(l.id, f"{l.funding_year.label}: {l.name}") for l in lines]


def _assign_form() -> AssignForm:
    form = AssignForm()
    form.commission.choices = _commission_choices()
    form.budget_line.choices = _budget_line_choices()
    return form


@bp.route("/unmatched", methods=["GET"])
@roles_required(*STAFF)
def unmatched():
    """Ledger lines on no commission and no budget line, grouped by supplier, with why each did not match."""
    filters = unmatched_page.parse_filters(request.args)
    return _unmatched_page(_assign_form(), 400 if filters.problems else 200, filters)


def _unmatched_page(form, status, filters):
    page = unmatched_page.page_of(filters)
    year = current_year()
    # Caches keep the page and its fragment apart by web.py's Vary: HX-Request on every GET.
    return render("imports/unmatched.html", "content_block", status=status, page=page, form=form, filters=filters,
                  total=matching.unmatched_count(), held=matching.held_lines(), held_groups=matching.HELD_GROUPS,
                  apportioned_year=year, apportioned=reconcile.apportioned(year) if year is not None else [])


@bp.route("/unmatched/assign", methods=["POST"])
@roles_required(FINANCE)
def assign():
    """Put the ticked lines (or every line of the ticked suppliers) against a commission or a budget line.

    Remembering the supplier, or taking a commission's spend over its value, first shows what will move and asks
    for confirmation."""
    form = _assign_form()
    filters = unmatched_page.parse_filters(request.form)
    if not form.validate_on_submit():
        return _unmatched_page(form, 422, filters)
    wanted = set(form.lines.data or [])
    lines = db.session.scalars(select(LedgerTransaction).where(LedgerTransaction.id.in_(wanted),
                                                               *matching.UNASSIGNED)).all() if wanted else []
    seen = {l.id for l in lines}
    for line in unmatched_page.lines_in_groups(filters, form.groups.data or []):
        if line.id not in seen:
            seen.add(line.id)
            lines.append(line)
    if not lines:
        form.lines.errors = ["Those lines are no longer unassigned; reload the page"]
        return _unmatched_page(form, 422, filters)
    closed = [l for l in lines if l.funding_year_id and db.session.get(FundingYear, l.funding_year_id).is_closed]
    if closed:
        form.lines.errors = [f"Line {closed[0].reference} is in a closed funding year and cannot be changed"]
        return _unmatched_page(form, 409, filters)
    if form.budget_line.data and not form.commission.data:
        line = db.session.get(BudgetLine, form.budget_line.data)
        other = [l for l in lines if l.funding_year_id != line.funding_year_id]
        if other:
            form.budget_line.errors = [f"Line {other[0].reference} is dated {other[0].posting_date:%d/%m/%Y}, outside "
                                       f"{line.funding_year.label}: choose a budget line of its own year"]
            return _unmatched_page(form, 422, filters)
        with _lines_still_there():
            count = matching.assign_to_budget_line(lines, line)
            db.session.commit()
        return _done(url_for("imports.unmatched", **filters.args()),
                     f"{count} line{'s' if count != 1 else ''} put on budget line {line.name} ({line.funding_year.label}).")
    commission = db.session.get(Commission, form.commission.data)
    # Confirmed: exactly the lines shown (ticked and followers) move, nothing found since.
    follow = form.confirm.data != "yes"
    plan = matching.plan_assignment(lines, commission, remember=form.remember.data and follow)
    if follow and (plan.followers or plan.over_by):
        return render("imports/confirm_assign.html", "content_block", plan=plan, form=form, filters=filters)
    try:
        with _lines_still_there():
            count = matching.assign(lines, commission, remember=form.remember.data, follow=follow)
            db.session.commit()
    except matching.ClosedYear as exc:
        db.session.rollback()
        form.lines.errors = [str(exc)]
        return _unmatched_page(form, 409, filters)
    message = f"{count} line{'s' if count != 1 else ''} assigned to {commission.reference}."
    if plan.over_by:
        message += (f" Its spend is now {format_pence(plan.spent_after)}, {format_pence(plan.over_by)} over its value "
                    f"of {format_pence(commission.value_pence)}.")
    return _done(url_for("imports.unmatched", **filters.args()), message)


@contextmanager
def _lines_still_there():
    """An assignment whose lines went while it was being made (their import withdrawn at the same moment): the
    UPDATE of a deleted line finds no row. Nothing is assigned; a 409 says why and links back to the list."""
    try:
        yield
    except StaleDataError:
        db.session.rollback()
        raise transitions.Lost("Some of these lines were taken out while you were assigning them (their import "
                               "was withdrawn at the same moment), so nothing was assigned. The list as it is now "
                               "is linked below.", link=(url_for("imports.unmatched"), "See the unmatched lines now"))


@bp.route("/ledger/<int:line_id>/reinvoice", methods=["POST"])
@roles_required(FINANCE)
def reinvoice(line_id: int):
    """Mark a contract's credit line "to be re-invoiced" (``reinvoice=yes``) or back to an agreed credit (``no``),
    if it is still as the person saw it (``seen``); a change meanwhile is a 409 and nothing is saved."""
    from tracker.imports import credits

    line = credits.get_line_or_404(line_id)
    wanted = credits.parse_answer(request.form.get("reinvoice"), "is to be re-invoiced")
    seen = credits.parse_answer(request.form.get("seen"), "was to be re-invoiced when you saw it")
    if line.commission_id is None:
        abort_with(422, f"Ledger line {line.reference} is on no contract: only a contract's credit can be marked "
                        "to be re-invoiced.")
    try:
        credits.mark_reinvoice(line, wanted, seen)
    except credits.Stale:
        db.session.rollback()
        abort_with(409, f"Someone else changed ledger line {line.reference} a moment ago; nothing was saved. "
                        "Reload the contract's page to see it as it is now, then try again.")
    db.session.commit()
    words = ("is marked to be re-invoiced: it stays outstanding" if wanted
             else "is an agreed credit: it settles what was paid")
    return _done(url_for("commissions.show", commission_id=line.commission_id) + "#ledger",
                 f"Credit {line.reference} ({format_pence(line.net_pence)}) {words}.")


def _held_action(action, line_id: int, done_message: str):
    """Confirm or release one held line: a conditional update, so a double click (or a second tab) acts once and
    the second is told nothing changed; a line in a closed year is refused (409)."""
    try:
        changed = action(line_id)
    except matching.HeldRefused as exc:
        db.session.rollback()
        abort_with(409, str(exc))
    if not changed:
        db.session.rollback()
        return _done(url_for("imports.unmatched") + "#held",
                     "That line is no longer held (someone has just confirmed or moved it); nothing changed.")
    db.session.commit()
    line = db.session.get(LedgerTransaction, line_id)
    return _done(url_for("imports.unmatched") + "#held", done_message.format(line=line))


@bp.route("/held/<int:line_id>/confirm", methods=["POST"])
@roles_required(FINANCE)
def confirm_held(line_id: int):
    """Confirm a held line's match: it counts on its contract from now on."""
    return _held_action(matching.confirm_held, line_id,
                        "Line {line.reference} confirmed: it counts on {line.commission.reference} now.")


@bp.route("/held/<int:line_id>/release", methods=["POST"])
@roles_required(FINANCE)
def release_held(line_id: int):
    """Take a held line off its contract: it joins the unmatched lines, to be assigned where it belongs."""
    return _held_action(matching.release_held, line_id,
                        "Line {line.reference} taken off its contract: it is among the unmatched lines, to assign.")


# --- matching rules -----------------------------------------------------------------------------------------

@bp.route("/rules", methods=["GET"])
@roles_required(*STAFF)
def rules():
    """The remembered supplier rules and the account rules: seen, changed and deleted here."""
    return _rules_page(AccountRuleForm(), 200)


def _rules_page(form, status):
    form.budget_line.choices = form.budget_line.choices or _budget_line_choices()
    return render("imports/rules.html", "content_block", status=status, form=form,
                  supplier_rules=matching.supplier_rules(), account_rules=matching.account_rules())


@bp.route("/rules/supplier/<int:alias_id>", methods=["GET", "POST"])
@roles_required(FINANCE)
def edit_supplier_rule(alias_id: int):
    """Send a remembered supplier's lines to another commission (future imports; lines already assigned stay)."""
    alias = matching.get_supplier_rule_or_404(alias_id)
    form = SupplierRuleForm()
    form.commission.choices = _commission_choices()
    if request.method == "GET":
        form.commission.data = alias.commission_id
        return render("imports/rule_edit.html", "form", alias=alias, form=form)
    if not form.validate_on_submit():
        return render("imports/rule_edit.html", "form", status=422, alias=alias, form=form)
    matching.change_supplier_rule(alias, db.session.get(Commission, form.commission.data))
    db.session.commit()
    return _done(url_for("imports.rules"), f"The rule for supplier {alias.value} now sends its lines to "
                                           f"{alias.commission.reference}.")


@bp.route("/rules/supplier/<int:alias_id>/delete", methods=["POST"])
@roles_required(FINANCE)
def delete_supplier_rule(alias_id: int):
    """Forget the remembered commission (the supplier stays known as the provider); assigned lines stay."""
    alias = matching.get_supplier_rule_or_404(alias_id)
    value = alias.value
    matching.delete_supplier_rule(alias)
    db.session.commit()
    return _done(url_for("imports.rules"), f"The rule for supplier {value} is deleted; lines already assigned "
                                           "stay where they are.")


@bp.route("/rules/account", methods=["POST"])
@roles_required(FINANCE)
def add_account_rule():
    """Map an account code to a budget line for its year; the year's unassigned lines on that account move now."""
    form = AccountRuleForm()
    form.budget_line.choices = _budget_line_choices()
    if not form.validate_on_submit():
        return _rules_page(form, 422)
    line = db.session.get(BudgetLine, form.budget_line.data)
    try:
        rule, moved = matching.add_account_rule(form.account_code.data, line)
    except matching.RuleRefused as exc:
        form.account_code.errors = [exc.message]
        return _rules_page(form, 409)
    db.session.commit()
    return _done(url_for("imports.rules"), f"Account {rule.account_code} now goes to {line.name} "
                                           f"({line.funding_year.label}); {moved} unassigned line"
                                           f"{'s' if moved != 1 else ''} moved there.")


@bp.route("/rules/account/<int:rule_id>/delete", methods=["POST"])
@roles_required(FINANCE)
def delete_account_rule(rule_id: int):
    """Delete an account rule; lines it already moved stay on the budget line."""
    rule = matching.get_account_rule_or_404(rule_id)
    code = rule.account_code
    matching.delete_account_rule(rule)
    db.session.commit()
    return _done(url_for("imports.rules"), f"The rule for account {code} is deleted; lines already on the budget "
                                           "line stay there.")


# --- reconciliation -----------------------------------------------------------------------------------------

@bp.route("/reconciliation")
@roles_required(*EVERYONE)
def reconciliation():
    """Ledger total = on a commission + on a budget line only + unassigned, per stream and account; each import
    checked against what it recorded (?year=2025-26&quarter=2, quarter blank for the whole year)."""
    try:
        year, quarter = reconcile.choose(request.args)
    except reconcile.ReconciliationError as exc:
        abort_with(400, str(exc))
    years = db.session.scalars(select(FundingYear).order_by(FundingYear.start_date.desc())).all()
    return render("imports/reconciliation.html", "report", r=reconcile.reconcile(year, quarter), years=years)


@bp.route("/reconciliation.<any(xlsx, csv):export_format>")
@roles_required(*EVERYONE)
def reconciliation_download(export_format: str):
    """The reconciliation as a spreadsheet, the same figures as the page."""
    from tracker.returns.exports import MIMETYPES, export_rows

    try:
        year, quarter = reconcile.choose(request.args)
    except reconcile.ReconciliationError as exc:
        abort_with(400, str(exc))
    r = reconcile.reconcile(year, quarter)
    content = export_rows(reconcile.columns(), reconcile.rows_for_download(r), export_format, sheet="Reconciliation")
    name = f"ledger reconciliation {year.label}{f' Q{quarter}' if quarter else ''}.{export_format}"
    return send_download(content, name, MIMETYPES[export_format])


def _xlsx(data: bytes, name: str):
    return send_download(data, name, XLSX_MIMETYPE)
