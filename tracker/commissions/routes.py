"""The commissions register, a commission's page, its variations, and providers.

Thin views: reading is in queries.py, the rules for changing things in service.py. Every page is one
template whose blocks are returned alone to HTMX requests, and every form works as a plain POST too.
"""
from __future__ import annotations

from datetime import date
from urllib.parse import urlsplit

from flask import Blueprint, flash, request, url_for
from flask_login import current_user
from sqlalchemy import func, select
from sqlalchemy.orm import joinedload, selectinload

from tracker import audit, locking, settings
from tracker.auth.roles import EVERYONE, MANAGER, roles_required
from tracker.commissions import queries, service
from tracker.commissions.forms import CommissionForm, EndDateForm, ProviderForm, StatusForm, VariationForm
from tracker.commissions.service import COMMISSION_FIELDS, Conflict, FieldErrors, NotAllowed
from tracker.errors import abort_with
from tracker.extensions import db
from tracker.figures import paid_by_share
from tracker.funding.rules import choose_year, require_open_year
from tracker.money import format_pence
from tracker.models import (
    AuditEvent, BudgetLine, Commission, ContractEvent, FundingShare, FundingStream, FundingYear, LedgerTransaction,
    Milestone, Provider,
    Strand, User,
)
from tracker.models.commissions import COMMISSION_STATUSES
from tracker.web import is_htmx, render, see_other, whole_number

bp = Blueprint("commissions", __name__)


def _safe_next(default: str) -> str:
    """Where to go back to after a quick change: a path on this site only."""
    target = request.values.get("next") or ""
    parts = urlsplit(target)
    if target.startswith("/") and not target.startswith("//") and not parts.scheme and not parts.netloc:
        return target
    return default


# --- The register -------------------------------------------------------------------------------------------

@bp.route("/commissions/")
@roles_required(*EVERYONE)
def index():
    """The register: search, filters, sorting and pages, all carried in the URL; totals for everything filtered."""
    filters = queries.RegisterFilters.from_args(request.args)
    page = queries.register_page(filters)
    context = dict(page=page, f=filters, choices=queries.filter_choices(), statuses=COMMISSION_STATUSES,
                   off_track_choices=queries.OFF_TRACK_CHOICES,
                   can_edit=current_user.has_role(MANAGER))
    return render("commissions/index.html", "register", **context)


# --- Create and edit ----------------------------------------------------------------------------------------

def _fill_choices(form: CommissionForm) -> None:
    """The options of the form's lists (a fixed number of queries, whatever the size of the register)."""
    form.provider_id.choices = [("", "Choose a provider")] + [
        (pid, name) for pid, name in db.session.execute(select(Provider.id, Provider.name).order_by(Provider.name))]
    years = db.session.scalars(select(FundingYear).order_by(FundingYear.start_date.desc())).all()
    form.funding_year_id.choices = [("", "Choose a year")] + [
        (y.id, f"{y.label}{' (closed)' if y.is_closed else ''}") for y in years]
    form.strand_id.choices = [("", "Choose a strand")] + [
        (sid, name) for sid, name in db.session.execute(select(Strand.id, Strand.name).order_by(Strand.sort_order, Strand.name))]
    _fill_share_choices(form, years, getattr(form, "start_date", None) and form.start_date.data,
                        getattr(form, "end_date", None) and form.end_date.data)


def _fill_share_choices(form, years: list[FundingYear] | None = None, start=None, end=None) -> None:
    """Choices for each funding share row: the years set up (and those the dates reach, not yet set up), the
    streams, and only the budget lines of the row's year and stream (grouped by both when none is chosen)."""
    from tracker.commissions.shares import years_spanned

    years = years if years is not None else db.session.scalars(select(FundingYear).order_by(FundingYear.start_date.desc())).all()
    labels = {y.label: f"{y.label}{' (closed)' if y.is_closed else ''}" for y in years}
    if start and end and start <= end:
        for label in years_spanned(start, end):
            labels.setdefault(label, f"{label} (not set up yet)")
    streams = db.session.execute(select(FundingStream.id, FundingStream.name).order_by(FundingStream.name)).all()
    lines = db.session.scalars(
        select(BudgetLine).options(joinedload(BudgetLine.funding_year), joinedload(BudgetLine.funding_stream),
                                   joinedload(BudgetLine.category), joinedload(BudgetLine.strand))
        .join(FundingYear).order_by(FundingYear.start_date.desc(), BudgetLine.id)).all()
    with_lines = {l.funding_year.label for l in lines}
    # A share's year that is set up but has no lines yet can only be "not on a budget line": the form says why.
    form.years_without_lines = []
    for entry in form.shares:
        row = entry.form
        chosen = row.year_label.data
        row.year_label.choices = [("", "Choose a year")] + sorted(
            labels.items() if not chosen or chosen in labels else [*labels.items(), (chosen, chosen)])
        row.funding_stream_id.choices = [("", "Choose a stream")] + [(i, n) for i, n in streams]
        row.budget_line_id.choices = share_line_choices(lines, chosen, row.funding_stream_id.data)
        year = next((y for y in years if y.label == chosen), None)
        if year is not None and chosen not in with_lines and year not in form.years_without_lines:
            form.years_without_lines.append(year)


def share_line_choices(lines: list[BudgetLine], year_label: str | None, stream_id: int | None):
    """The budget lines a share may use: the chosen year's and stream's only; grouped when they are not chosen."""
    chosen = [l for l in lines if (not year_label or l.funding_year.label == year_label)
              and (not stream_id or l.funding_stream_id == stream_id)]
    none = "Not on a budget line yet"
    if year_label and not any(l.funding_year.label == year_label for l in lines):
        none = f"Not on a budget line yet: {year_label} has no budget lines"
    if year_label and stream_id:
        return [("", none)] + [(l.id, l.description or f"{l.category.name} – {l.strand.name}") for l in chosen]
    groups: dict[str, list] = {"": [("", none)]}
    for l in chosen:
        groups.setdefault(f"{l.funding_year.label} · {l.funding_stream.name}", []).append(
            (l.id, l.description or f"{l.category.name} – {l.strand.name}"))
    return groups


def _set_share_rows(form, shares) -> None:
    """Fill the form's share rows from ``ShareInput``s (the default split, or a variation's proposal)."""
    while len(form.shares):
        form.shares.pop_entry()
    for s in shares:
        form.shares.append_entry({"year_label": s.year_label, "funding_stream_id": s.funding_stream_id,
                                  "budget_line_id": s.budget_line_id, "amount": s.amount_pence})
    for entry in form.shares:  # re-shown as typed: clear what the request posted for rows now replaced
        for f in entry.form:
            f.raw_data = None


def _shares_button(form, commission: Commission | None):
    """"Work out the split by year" and "Add a share" re-show the form (no JavaScript needed)."""
    from tracker.commissions.shares import default_shares

    if "split" in request.form:
        value, start, end = form.value_pence.data, form.start_date.data, form.end_date.data
        if not (value and start and end and start <= end):
            form.form_errors.append("Enter the value and the start and end dates first, then work out the split.")
            return 422
        rows = form.share_inputs() or []
        line = db.session.get(BudgetLine, rows[0].budget_line_id) if rows and rows[0].budget_line_id else None
        _set_share_rows(form, default_shares(value, start, end, line, rows[0].funding_stream_id if rows else None))
        return 200
    if "add_share" in request.form:
        form.shares.append_entry()
        return 200
    return None
def _form_data(form: CommissionForm) -> dict:
    return {name: getattr(form, name).data for name in COMMISSION_FIELDS}


def _show_errors(form, errors: dict[str, str]) -> None:
    for name, message in errors.items():
        if name in form._fields and name != "shares":
            getattr(form, name).errors = list(getattr(form, name).errors or []) + [message]
        else:  # the funding shares as a whole (they do not add up, a closed year ...)
            form.form_errors.append(message)


def _render_form(form: CommissionForm, commission: Commission | None, status: int = 200, conflict=None,
                 warnings: list[str] | None = None):
    _fill_share_choices(form, None, form.start_date.data, form.end_date.data)
    if warnings:
        form.confirm_over_budget.data = False
    return render("commissions/form.html", "form", status=status, form=form, commission=commission, conflict=conflict,
                  warnings=warnings or [])


def _over_budget(form, commission: Commission | None, shares) -> list[str] | None:
    """The over-budget warnings still to confirm (None: nothing to confirm, or confirmed; the decision is audited
    by ``_record_over_budget`` once the save succeeds)."""
    from tracker.commissions.shares import over_budget_warnings

    warnings = over_budget_warnings(commission, shares or [])
    if warnings and not form.confirm_over_budget.data:
        return warnings
    return None


def _record_over_budget(commission: Commission, shares) -> None:
    from tracker.commissions.shares import over_budget_warnings

    warnings = over_budget_warnings(commission, shares or [])
    if warnings:
        audit.record("commissions", "change", commission,
                     f"{commission.reference}: taken over budget, confirmed: " + "; ".join(warnings),
                     None, {"over_budget_confirmed": warnings})


@bp.route("/commissions/new", methods=["GET", "POST"])
@roles_required(MANAGER)
def create():
    """Add a commission; a provider can be chosen or named (and added) here."""
    form = CommissionForm()
    _fill_choices(form)
    earlier = locking.sent_before(form, "Commission")
    if earlier is not None:  # the same form sent again: the commission it added
        flash("This commission was added when the form was first sent.", "success")
        return see_other(url_for(".show", commission_id=earlier))
    if request.method == "GET":
        form.version.data = 0
        year = choose_year(request.args, default=lambda: None)  # ?year= fills in the year (from a year's page)
        if year is not None:
            form.funding_year_id.data = year.id
        return _render_form(form, None)
    button = _shares_button(form, None)
    if button is not None:
        return _render_form(form, None, button)
    if not form.validate():
        return _render_form(form, None, 422)
    shares = form.share_inputs()
    if shares is None and form.value_pence.data and form.start_date.data and form.end_date.data:
        from tracker.commissions.shares import default_shares

        shares = default_shares(form.value_pence.data, form.start_date.data, form.end_date.data)
    warnings = _over_budget(form, None, shares)
    if warnings:
        return _render_form(form, None, 422, warnings=warnings)
    try:
        commission = service.create_commission(_form_data(form), form.new_provider_name.data or "", shares)
        locking.made(form.once.data, commission)
    except FieldErrors as exc:
        db.session.rollback()
        _show_errors(form, exc.errors)
        return _render_form(form, None, 422)
    _record_over_budget(commission, shares)
    db.session.commit()
    flash(f"Commission {commission.reference} added.", "success")
    return see_other(url_for(".show", commission_id=commission.id))


@bp.route("/commissions/<int:commission_id>/edit", methods=["GET", "POST"])
@roles_required(MANAGER)
def edit(commission_id: int):
    """Change a commission. The form carries the version it was shown at: a save from an older one is refused."""
    commission = service.commission_to_change_or_404(commission_id)
    form = CommissionForm(obj=commission if request.method == "GET" else None)
    if request.method == "GET":
        from tracker.commissions.shares import shares_of

        _set_share_rows(form, shares_of(commission))
        if not len(form.shares):
            form.shares.append_entry()
    _fill_choices(form)
    if request.method == "GET":
        return _render_form(form, commission)
    button = _shares_button(form, commission)
    if button is not None:
        return _render_form(form, commission, button)
    form.validate()
    if form.version.data is not None and not form.version.errors and form.version.data != commission.version:
        return _conflict(form, commission)
    if form.errors:
        return _render_form(form, commission, 422)
    shares = form.share_inputs() or []
    warnings = _over_budget(form, commission, shares)
    if warnings:
        return _render_form(form, commission, 422, warnings=warnings)
    try:
        service.update_commission(commission, _form_data(form), form.version.data, form.new_provider_name.data or "",
                                  shares, status_effective=form.status_effective_date.data)
        _record_over_budget(commission, shares)
    except Conflict as exc:
        return _conflict(form, exc.commission)
    except FieldErrors as exc:
        db.session.rollback()
        _show_errors(form, exc.errors)
        return _render_form(form, db.session.get(Commission, commission_id), 422)
    db.session.commit()
    flash(f"Commission {commission.reference} saved.", "success")
    return see_other(url_for(".show", commission_id=commission.id))


def _conflict(form: CommissionForm, commission: Commission):
    """Someone else saved first: refuse with 409, show their values beside what this person typed."""
    db.session.rollback()
    commission = db.session.get(Commission, commission.id)
    who = db.session.scalar(
        select(User.name).join(AuditEvent, AuditEvent.user_id == User.id)
        .where(AuditEvent.object_type == "Commission", AuditEvent.object_id == commission.id)
        .order_by(AuditEvent.id.desc()).limit(1))
    form.version.data = commission.version
    form.version.raw_data = [str(commission.version)]
    conflict = {"who": who, "commission": commission}
    return _render_form(form, commission, 409, conflict=conflict)


# --- One commission -----------------------------------------------------------------------------------------

def _page_context(commission: Commission, variation_form: VariationForm | None = None) -> dict:
    """Everything the commission page shows, in a fixed number of queries."""
    commission = db.session.scalar(
        select(Commission).where(Commission.id == commission.id).options(
            joinedload(Commission.provider), joinedload(Commission.strand), joinedload(Commission.funding_year),
            selectinload(Commission.funding_shares).joinedload(FundingShare.budget_line)
            .joinedload(BudgetLine.category),
            selectinload(Commission.funding_shares).joinedload(FundingShare.funding_stream),
            selectinload(Commission.funding_shares).joinedload(FundingShare.funding_year),
            selectinload(Commission.funding_shares).selectinload(FundingShare.payments),
            selectinload(Commission.variations),
            selectinload(Commission.events).joinedload(ContractEvent.recorded_by),
        ))
    ledger = db.session.scalars(
        select(LedgerTransaction).where(LedgerTransaction.commission_id == commission.id)
        .order_by(LedgerTransaction.posting_date, LedgerTransaction.id)).all()
    spent = sum(line.net_pence for line in ledger if line.held_reason is None)  # held lines count on no contract
    milestones = db.session.scalars(
        select(Milestone).where(Milestone.commission_id == commission.id).options(joinedload(Milestone.owner))
        .order_by(Milestone.due_date)).all()
    history = audit.history(commission)
    user_ids = {e.user_id for e in history if e.user_id}
    # Load the people once (always, so the page's query count is fixed): each event's user then comes from the session.
    db.session.scalars(select(User).where(User.id.in_(user_ids or [0]))).all()
    if variation_form is None:
        variation_form = VariationForm(formdata=None)
        variation_form.version.data = commission.version
    from tracker.commissions.shares import compare_by_year, shares_of

    # Before a variation is confirmed, its shares by year beside the contract's shares now.
    by_year = (compare_by_year(shares_of(commission), variation_form.share_inputs() or [])
               if variation_form.shares_shown.data else [])
    return dict(
        c=commission, spent=spent, ledger=ledger, by_quarter=queries.spend_by_quarter(commission.id),
        milestones=milestones, history=history, variation_form=variation_form, variation_by_year=by_year,
        status_form=_quick_form(StatusForm, commission), end_form=_quick_form(EndDateForm, commission),
        can_edit=current_user.has_role(MANAGER) and not service.contract_sealed(commission),
        share_rows=_share_rows(commission),
        statuses=COMMISSION_STATUSES,
        **_notices_context(commission),
    )


def _notices_context(commission: Commission) -> dict:
    """The Procurement Act section (tracker/procurement): where the contract stands, its notices, the forms."""
    from datetime import date

    from tracker.procurement import notices
    from tracker.procurement.forms import PublishNoticeForm

    return dict(pa=notices.commission_notices(commission, db.session), notice_label=notices.label, today=date.today(),
                can_publish=current_user.has_role(MANAGER),
                publish_form=lambda n: PublishNoticeForm(formdata=None, prefix=f"n{n.id}"))


def _share_rows(commission: Commission) -> list[dict]:
    """The contract's funding shares for its page: year, stream, line, amount, and what is paid on each as the figures
    engine apportions the contract's spend (``figures.paid_by_share``)."""
    paid = paid_by_share(commission.id)
    from tracker.commissions.shares import scheduled_by

    today = date.today()
    return [{"share": s, "paid": int(paid.get((s.funding_year_id, s.budget_line_id)) or 0),
             "scheduled": scheduled_by(s, today)} for s in commission.funding_shares]


def _quick_form(form_class, commission: Commission):
    form = form_class(formdata=None, obj=commission)
    return form


@bp.route("/commissions/<int:commission_id>")
@roles_required(*EVERYONE)
def show(commission_id: int):
    """A commission: the facts, spend against value, by quarter, ledger lines, milestones, variations, history."""
    commission = service.get_commission_or_404(commission_id)
    return render("commissions/show.html", None, **_page_context(commission))


@bp.route("/commissions/<int:commission_id>/variations", methods=["POST"])
@roles_required(MANAGER)
def add_variation(commission_id: int):
    """Record a variation (date, reason, change in value and/or new end date) and apply it to the commission."""
    commission = service.commission_to_change_or_404(commission_id)
    form = VariationForm()
    _fill_share_choices(form)
    status = None
    if not form.validate():
        status = 422
    elif errors := service.variation_problems(commission, form.value_change_pence.data or 0, form.new_end_date.data):
        _show_errors(form, errors)
        status = 422
    elif not form.shares_shown.data:
        # First the form proposes how the change falls across the funding years; the person confirms it.
        proposal = service.proposed_shares(commission, commission.value_pence + (form.value_change_pence.data or 0),
                                           form.new_end_date.data or commission.end_date)
        _set_share_rows(form, proposal)
        form.shares_shown.data = True
        _fill_share_choices(form)
        return render("commissions/show.html", "variation_form", status=200, **_page_context(commission, form))
    else:
        shares = form.share_inputs() or []
        warnings = _over_budget(form, commission, shares)
        if warnings:
            form.form_errors.extend(warnings)
            form.form_errors.append("Tick the box to confirm, or change the shares.")
            _fill_share_choices(form)
            return render("commissions/show.html", "variation_form", status=422,
                          **_page_context(commission, form), warnings=warnings)
        try:
            variation = service.add_variation(commission, form.variation_date.data, form.reason.data,
                                              form.value_change_pence.data, form.new_end_date.data, form.version.data,
                                              shares=shares)
            _record_over_budget(commission, shares)
        except Conflict:
            db.session.rollback()
            form.form_errors.append("Someone else changed this commission while you were recording the variation. "
                                    "Its current value and end date are shown above; check them and record it again.")
            status = 409
        except FieldErrors as exc:
            db.session.rollback()
            _show_errors(form, exc.errors)
            status = 422
    if status:
        commission = db.session.get(Commission, commission_id)
        form.version.data = commission.version
        form.version.raw_data = [str(commission.version)]
        return render("commissions/show.html", "variation_form", status=status, **_page_context(commission, form))
    db.session.commit()  # the deadline sync makes any Procurement Act change notice in this commit
    flash(f"Variation recorded: {commission.reference} is now worth {format_pence(commission.value_pence)} "
          f"and ends on {commission.end_date:%d/%m/%Y}.", "success")
    from tracker.procurement.notices import change_notice_message

    if message := change_notice_message(variation, db.session):
        flash(message, "warning")
    return see_other(url_for(".show", commission_id=commission.id) + "#variations")


@bp.route("/commissions/<int:commission_id>/shares/<int:share_id>/schedule", methods=["GET", "POST"])
@roles_required(MANAGER)
def share_schedule(commission_id: int, share_id: int):
    """A funding share's payment schedule (optional): due dates and amounts that add up to the share."""
    from tracker.commissions.shares import parse_schedule, schedule_problems, schedule_text, set_schedule

    commission = service.get_commission_or_404(commission_id)
    share = next((s for s in commission.funding_shares if s.id == share_id), None)
    if share is None:
        abort_with(404, "That funding share is not one of this commission's.")
    if share.funding_year is not None and share.funding_year.is_closed:
        require_open_year(share.funding_year)
    service.require_open_contract(commission)
    text, problems, status = schedule_text(share), [], 200
    if request.method == "POST":
        text = (request.form.get("schedule") or "")[:5000]
        payments, problems = parse_schedule(text)
        problems += [] if problems else schedule_problems(share, payments)
        if not problems:
            set_schedule(share, payments)
            db.session.commit()
            flash(f"Payment schedule of the {share.year_label} share saved.", "success")
            return see_other(url_for(".show", commission_id=commission.id) + "#funding")
        status = 422
    return render("commissions/schedule.html", "form", status=status, c=commission, share=share, text=text,
                  problems=problems)


@bp.route("/commissions/share-lines")
@roles_required(MANAGER)
def share_lines():
    """The budget line list of one funding share row, for the chosen year and stream (HTMX, as either changes)."""
    import re

    name = request.args.get("name", "")
    if not re.fullmatch(r"shares-\d{1,3}-budget_line_id", name):
        abort_with(400, "That is not a funding share row.")
    year_label = (request.args.get(name.replace("budget_line_id", "year_label")) or "")[:7]
    try:
        stream_id = int(request.args.get(name.replace("budget_line_id", "funding_stream_id")) or 0) or None
    except ValueError:
        stream_id = None
    lines = db.session.scalars(
        select(BudgetLine).options(joinedload(BudgetLine.funding_year), joinedload(BudgetLine.funding_stream),
                                   joinedload(BudgetLine.category), joinedload(BudgetLine.strand))
        .join(FundingYear).order_by(FundingYear.start_date.desc(), BudgetLine.id)).all()
    index = int(name.split("-")[1])
    return render("commissions/_share_line_select.html", None, name=name, label=f"Line of share {index + 1}",
                  choices=share_line_choices(lines, year_label, stream_id))


# --- Quick changes (status, end date) from the register or the commission page -----------------------------

def _quick_change(commission_id: int, form_class, apply):
    commission = service.commission_to_change_or_404(commission_id)
    form = form_class()
    back = _safe_next(url_for(".show", commission_id=commission_id))
    error, status = None, 200
    if not form.validate():
        error, status = " ".join(m for errors in form.errors.values() for m in errors), 422
    else:
        try:
            apply(commission, form)
        except Conflict:
            db.session.rollback()
            error, status = ("Someone else changed this commission a moment ago; nothing was saved. "
                             "The current values are shown: try again."), 409
        except FieldErrors as exc:
            db.session.rollback()
            error, status = " ".join(exc.errors.values()), 422
    if status == 200:
        db.session.commit()
    commission = db.session.get(Commission, commission_id)
    if is_htmx():
        spent = queries.spent_by_commission([commission.id]).get(commission.id, 0)
        return render("commissions/_row.html", None, status=status, c=commission, spent=spent, error=error,
                      saved=status == 200, can_edit=True, statuses=COMMISSION_STATUSES, back=back)
    if status == 200:
        flash(f"{commission.reference} saved.", "success")
        return see_other(back)
    return render("commissions/quick_change.html", None, status=status, c=commission, error=error,
                  statuses=COMMISSION_STATUSES, back=back)


@bp.route("/commissions/<int:commission_id>/status", methods=["POST"])
@roles_required(MANAGER)
def change_status(commission_id: int):
    """Change a commission's status in one step (audited)."""
    return _quick_change(commission_id, StatusForm,
                         lambda c, form: service.change_status(c, form.status.data, form.version.data,
                                                               form.effective_date.data, form.note.data or ""))


@bp.route("/commissions/<int:commission_id>/end-date", methods=["POST"])
@roles_required(MANAGER)
def change_end_date(commission_id: int):
    """Change a commission's end date in one step (audited)."""
    return _quick_change(commission_id, EndDateForm,
                         lambda c, form: service.change_end_date(c, form.end_date.data, form.version.data))


# --- Deleting -----------------------------------------------------------------------------------------------

@bp.route("/commissions/<int:commission_id>/delete", methods=["GET", "POST"])
@roles_required(MANAGER)
def delete(commission_id: int):
    """Delete a commission still in the pipeline, after confirming; later ones are terminated or ended instead."""
    commission = service.get_commission_or_404(commission_id)
    allowed = commission.status in service.DELETABLE_STATUSES
    if request.method == "GET":
        return render("commissions/delete.html", None, c=commission, allowed=allowed, statuses=COMMISSION_STATUSES)
    try:
        reference = service.delete_commission(commission)
    except NotAllowed as exc:  # refused before anything changed
        return render("commissions/delete.html", None, status=409, c=commission, allowed=False, reason=str(exc),
                      statuses=COMMISSION_STATUSES)
    db.session.commit()
    flash(f"Commission {reference} deleted.", "success")
    return see_other(url_for(".index"))


# --- Providers ----------------------------------------------------------------------------------------------

@bp.route("/providers/")
@roles_required(*EVERYONE)
def providers():
    """Providers, with how many commissions each has and their total value; searchable."""
    q = (request.args.get("q") or "").strip()[:100]
    raw_page = request.args.get("page")
    page = whole_number(raw_page) or 1
    if raw_page not in (None, "") and whole_number(raw_page) is None:
        flash(f"Ignored the page number “{raw_page[:30]}”: it is not a page of this list.", "warning")
    pagination, figures, total_value = queries.provider_list(q, page)
    return render("commissions/providers.html", "results", q=q, pagination=pagination, figures=figures,
                  total_value=total_value, can_edit=current_user.has_role(MANAGER))


@bp.route("/providers/<int:provider_id>")
@roles_required(*EVERYONE)
def provider(provider_id: int):
    """A provider: its flags, supplier IDs known to the ledger, and every commission with the total value."""
    p = service.get_provider_or_404(provider_id)
    p = db.session.scalar(select(Provider).where(Provider.id == p.id).options(selectinload(Provider.supplier_aliases)))
    commissions = db.session.scalars(
        select(Commission).where(Commission.provider_id == p.id)
        .options(joinedload(Commission.funding_year), joinedload(Commission.strand))
        .order_by(Commission.start_date.desc(), Commission.reference)).all()
    spent = queries.spent_by_commission([c.id for c in commissions])
    return render("commissions/provider.html", None, p=p, commissions=commissions, spent=spent,
                  total_value=sum(c.value_pence for c in commissions), total_spent=sum(spent.values()),
                  can_edit=current_user.has_role(MANAGER))


def _provider_form_page(form: ProviderForm, p: Provider | None, status: int = 200):
    return render("commissions/provider_form.html", "form", status=status, form=form, p=p)


def _save_provider(form: ProviderForm, p: Provider | None):
    if p is None and (earlier := locking.sent_before(form, "Provider")) is not None:
        flash("This provider was added when the form was first sent.", "success")
        return see_other(url_for(".provider", provider_id=earlier))
    if not form.validate():
        return _provider_form_page(form, p, 422)
    data = {name: getattr(form, name).data for name in service.PROVIDER_FIELDS}
    try:
        saved = service.save_provider(p, data, form.supplier_id_list(), locking.version_of(form.version.data))
        locking.made(form.once.data if p is None else None, saved)
    except locking.Stale as exc:
        current = exc.record
        locking.show_version(form, current)
        ids = "\n".join(a.value for a in current.supplier_aliases if a.kind == "supplier_id")
        fields = [("Name", current.name, data["name"] or ""),
                  ("Charity number", current.charity_number, data["charity_number"] or ""),
                  ("Company number", current.company_number, data["company_number"] or ""),
                  ("An individual or sole trader", "Yes" if current.individual else "No",
                   "Yes" if data["individual"] else "No"),
                  ("Supplier IDs", ids, "\n".join(form.supplier_id_list())),
                  ("Notes", current.notes, data["notes"] or "")]
        return render("commissions/provider_form.html", "form", status=409, form=form, p=current,
                      conflict=locking.conflict("provider", current, fields=fields))
    except FieldErrors as exc:
        db.session.rollback()
        _show_errors(form, exc.errors)
        return _provider_form_page(form, p and db.session.get(Provider, p.id), 422)
    db.session.commit()
    flash(f"Provider {saved.name} saved.", "success")
    return see_other(url_for(".provider", provider_id=saved.id))


@bp.route("/providers/new", methods=["GET", "POST"])
@roles_required(MANAGER)
def create_provider():
    """Add a provider."""
    form = ProviderForm()
    if request.method == "GET":
        return _provider_form_page(form, None)
    return _save_provider(form, None)


@bp.route("/providers/<int:provider_id>/edit", methods=["GET", "POST"])
@roles_required(MANAGER)
def edit_provider(provider_id: int):
    """Change a provider's details and the ledger supplier IDs that identify it."""
    p = service.get_provider_or_404(provider_id)
    form = ProviderForm(obj=p if request.method == "GET" else None)
    if request.method == "GET":
        form.supplier_ids.data = "\n".join(a.value for a in p.supplier_aliases if a.kind == "supplier_id")
        return _provider_form_page(form, p)
    return _save_provider(form, p)


# --- The home page's list ---------------------------------------------------------------------------------

@bp.app_template_global()
def commissions_ending_soon() -> dict:
    """For the home page: commissions still running that end within the ``ending_soon_days`` setting (2 queries)."""
    days = settings.get("ending_soon_days")
    rows, total = queries.ending_soon(days)
    return {"days": days, "rows": rows, "total": total}
