"""Funding screens: years (open, close, reopen, roll over), streams, allocations with revisions, budget lines and
the budget page. Everyone reads them; finance (and admins) change them."""
from __future__ import annotations

from datetime import date

from flask import Blueprint, flash, request, url_for
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from tracker import audit, locking
from tracker.auth.roles import ADMIN, EVERYONE, FINANCE, roles_required
from tracker.extensions import db
from tracker.funding import service
from tracker.funding.forms import (
    AllocationForm, BudgetLineForm, PlannedForm, ReopenForm, RevisionForm, StreamForm, YearForm, YearNotesForm,
)
from tracker.funding.rules import closed_year_message, require_open_year
from tracker.models import Allocation, Category, Strand, User
from tracker.models.funding import YEAR_CLOSED, YEAR_OPEN
from tracker.money import format_pence
from tracker.periods import QUARTER_NAMES, quarter_in_progress
from tracker.web import render, see_other

bp = Blueprint("funding", __name__, url_prefix="/funding")


def _done(url: str, message: str):
    """After a successful change: a 303 to ``url``, or for HTMX a client-side redirect to it."""
    flash(message, "success")
    return see_other(url)


def _status(form) -> int:
    return 422 if request.method == "POST" else 200


@bp.app_template_global()
def table_total(rows, quarter):
    """A table's total row: the sum of its rows (the figures engine's rule)."""
    from tracker.figures import table_total as total

    return total(rows, quarter)


@bp.app_template_global()
def over_committed_lines(year):
    """For the home page: budget lines whose committed value is above their amount."""
    return service.over_committed_lines(year)


# --- Funding years ------------------------------------------------------------------------------------------

@bp.route("/years")
@roles_required(*EVERYONE)
def years():
    """Every funding year, newest first."""
    return render("funding/years.html", years=service.all_years())


@bp.route("/years/new", methods=["GET", "POST"])
@roles_required(FINANCE)
def new_year():
    """Set up a funding year; it starts as a draft."""
    form = YearForm()
    earlier = locking.sent_before(form, "FundingYear")
    if earlier is not None:  # the same form sent again: the year it set up
        return _done(url_for("funding.year", year_id=earlier), "This funding year was set up when the form was "
                                                              "first sent.")
    if form.validate_on_submit():
        year = service.create_year(form.label.data, form.notes.data)
        locking.made(form.once.data, year)
        db.session.commit()
        return _done(url_for("funding.year", year_id=year.id), f"Funding year {year.label} set up as a draft.")
    return render("funding/year_form.html", "form", status=_status(form), form=form)


@bp.route("/years/<int:year_id>")
@roles_required(*EVERYONE)
def year(year_id: int):
    """A funding year: its status, allocations (current figure and history) and what can be done with it."""
    year = service.get_year_or_404(year_id)
    allocations = db.session.scalars(
        select(Allocation).where(Allocation.funding_year_id == year.id)
        .options(joinedload(Allocation.funding_stream)).order_by(Allocation.id)).all()
    from tracker.claims.routes import year_panel

    return render("funding/year.html", year=year, allocations=allocations, reopen_form=ReopenForm(),
                  history=audit.history(year), closed_message=closed_year_message(year) if year.is_closed else None,
                  panel=year_panel(year))


@bp.route("/years/<int:year_id>/edit", methods=["GET", "POST"])
@roles_required(FINANCE)
def edit_year(year_id: int):
    """Change a year's notes (its status changes with the open and close buttons)."""
    year = service.year_to_change_or_404(year_id)
    form = YearNotesForm(obj=year)
    if form.validate_on_submit():
        try:
            service.update_year_notes(year, form.notes.data, locking.version_of(form.version.data))
        except locking.Stale as exc:
            year = exc.record
            locking.show_version(form, year)
            return render("funding/year_edit.html", "form", status=409, form=form, year=year,
                          conflict=locking.conflict("funding year", year, fields=[
                              ("Notes", year.notes, form.notes.data or "")]))
        db.session.commit()
        return _done(url_for("funding.year", year_id=year.id), f"Notes of {year.label} saved.")
    return render("funding/year_edit.html", "form", status=_status(form), form=form, year=year)


@bp.route("/years/<int:year_id>/open", methods=["POST"])
@roles_required(FINANCE)
def open_year(year_id: int):
    """Open a draft year for delivery."""
    year = service.get_year_or_404(year_id)
    service.set_year_status(year, YEAR_OPEN)
    db.session.commit()
    return _done(url_for("funding.year", year_id=year.id), f"Funding year {year.label} is open.")


@bp.route("/years/<int:year_id>/close", methods=["POST"])
@roles_required(FINANCE)
def close_year(year_id: int):
    """Close a year: from now on nothing in it can be changed until an administrator reopens it."""
    year = service.get_year_or_404(year_id)
    service.set_year_status(year, YEAR_CLOSED)
    db.session.commit()
    return _done(url_for("funding.year", year_id=year.id), f"Funding year {year.label} is closed and read-only.")


@bp.route("/years/<int:year_id>/reopen", methods=["POST"])
@roles_required(ADMIN)
def reopen_year(year_id: int):
    """Reopen a closed year for a correction (administrators only; audited with the reason)."""
    year = service.get_year_or_404(year_id)
    form = ReopenForm()
    if not year.is_closed:
        from tracker.errors import abort_with

        abort_with(409, f"Funding year {year.label} is not closed.")
    if not form.validate_on_submit():
        allocations = db.session.scalars(select(Allocation).where(Allocation.funding_year_id == year.id)).all()
        from tracker.claims.routes import year_panel

        return render("funding/year.html", "reopen", status=422, year=year, allocations=allocations,
                      reopen_form=form, panel=year_panel(year), history=audit.history(year), closed_message=closed_year_message(year))
    service.reopen_year(year, form.reason.data.strip())
    db.session.commit()
    return _done(url_for("funding.year", year_id=year.id), f"Funding year {year.label} is open again.")


@bp.route("/years/<int:year_id>/roll-over", methods=["GET", "POST"])
@roles_required(FINANCE)
def rollover(year_id: int):
    """Preview what rolling the year over into the next would create; a POST creates it (once)."""
    year = service.get_year_or_404(year_id)
    if request.method == "POST":
        target, plan = service.roll_over(year)
        db.session.commit()
        made = len(plan.to_create)
        message = (f"Rolled {year.label} over into {target.label}: {made} item(s) created." if made
                   else f"Nothing to do: everything was already in {target.label}.")
        return _done(url_for("funding.year", year_id=target.id), message)
    plan = service.rollover_plan(year)
    if plan.target is not None and plan.target.is_closed:
        flash(closed_year_message(plan.target), "warning")
    return render("funding/rollover.html", year=year, plan=plan)


# --- Funding streams ----------------------------------------------------------------------------------------

@bp.route("/streams")
@roles_required(*EVERYONE)
def streams():
    """Every funding stream with its funder and claim rules."""
    return render("funding/streams.html", streams=service.all_streams())


def _stream_values(form: StreamForm) -> dict:
    return {"name": form.name.data, "funder": (form.funder.data or "").strip(), "labour_split": form.labour_split.data,
            "claim_frequency": form.claim_frequency.data, "claim_due_days": form.claim_due_days.data,
            "claim_basis": form.claim_basis.data, "claim_timing": form.claim_timing.data,
            "final_claim_due_days": form.final_claim_due_days.data, "active": form.active.data,
            "finance_lead_id": form.finance_lead_id.data}


def _finance_leads():
    """Who can lead a stream's finances: active finance staff and administrators."""
    return db.session.scalars(select(User).where(User.active.is_(True), User.role.in_((FINANCE, ADMIN)))
                              .order_by(User.name)).all()


@bp.route("/streams/new", methods=["GET", "POST"])
@roles_required(FINANCE)
def new_stream():
    """Add a funding stream."""
    form = StreamForm(leads=_finance_leads())
    if locking.sent_before(form, "FundingStream") is not None:
        return _done(url_for("funding.streams"), "This funding stream was added when the form was first sent.")
    if form.validate_on_submit():
        stream = service.save_stream(None, **_stream_values(form))
        locking.made(form.once.data, stream)
        db.session.commit()
        return _done(url_for("funding.streams"), f"Funding stream {stream.name} added.")
    return render("funding/stream_form.html", "form", status=_status(form), form=form, stream=None)


@bp.route("/streams/<int:stream_id>/edit", methods=["GET", "POST"])
@roles_required(FINANCE)
def edit_stream(stream_id: int):
    """Change a funding stream's details."""
    stream = service.get_stream_or_404(stream_id)
    form = StreamForm(obj=stream, stream_id=stream.id, leads=_finance_leads())
    if form.validate_on_submit():
        try:
            service.save_stream(stream, locking.version_of(form.version.data), **_stream_values(form))
        except locking.Stale as exc:
            stream = exc.record
            locking.show_version(form, stream)
            values = _stream_values(form)
            fields = [(label, str(getattr(stream, key)), str(values[key])) for label, key in (
                ("Name", "name"), ("Funder", "funder"), ("Labour split", "labour_split"),
                ("Claim frequency", "claim_frequency"), ("Claims due (days)", "claim_due_days"),
                ("Claim basis", "claim_basis"), ("Claim timing", "claim_timing"),
                ("Final claim due (days)", "final_claim_due_days"), ("Active", "active"))]
            return render("funding/stream_form.html", "form", status=409, form=form, stream=stream,
                          conflict=locking.conflict("funding stream", stream, fields=fields))
        db.session.commit()
        return _done(url_for("funding.streams"), f"Funding stream {stream.name} saved.")
    return render("funding/stream_form.html", "form", status=_status(form), form=form, stream=stream)


# --- Allocations --------------------------------------------------------------------------------------------

@bp.route("/years/<int:year_id>/allocations/new", methods=["GET", "POST"])
@roles_required(FINANCE)
def new_allocation(year_id: int):
    """Set a stream's allocation for a year."""
    year = service.year_to_change_or_404(year_id)
    taken = set(db.session.scalars(select(Allocation.funding_stream_id).where(Allocation.funding_year_id == year.id)))
    form = AllocationForm()
    form.funding_stream_id.choices = [(s.id, s.name) for s in service.all_streams() if s.id not in taken and s.active]
    if form.validate_on_submit():
        stream = service.get_stream_or_404(form.funding_stream_id.data)
        service.create_allocation(year, stream, form.amount.data, form.status.data, form.notes.data)
        db.session.commit()
        return _done(url_for("funding.year", year_id=year.id),
                     f"Allocation of {stream.name} for {year.label} set.")
    return render("funding/allocation_form.html", "form", status=_status(form), form=form, year=year)


@bp.route("/allocations/<int:allocation_id>", methods=["GET", "POST"])
@roles_required(*EVERYONE, write_roles=(FINANCE,))
def allocation(allocation_id: int):
    """An allocation: original and current figure, every revision, and (for finance) a form to revise it."""
    allocation = service.get_allocation_or_404(allocation_id)
    year = allocation.funding_year
    form = RevisionForm(obj=None, was_draft=allocation.status == "draft")
    if request.method == "GET":
        form.amount.data = allocation.revised_pence
        form.status.data = allocation.status
        form.grant_letter_date.data = allocation.grant_letter_date
        form.grant_letter_reference.data = allocation.grant_letter_reference
    status = 200
    if request.method == "POST":
        require_open_year(year)
        if form.validate_on_submit():
            letter = (form.grant_letter_date.data, (form.grant_letter_reference.data or "").strip())
            if (form.amount.data == allocation.revised_pence and form.status.data == allocation.status
                    and letter == (allocation.grant_letter_date, allocation.grant_letter_reference)):
                form.amount.errors.append("This is the current allocation: enter the new figure")
            else:
                try:
                    service.revise_allocation(allocation, form.amount.data, form.reason.data, form.status.data,
                                              grant_letter=letter)
                except service.BelowClaimed as exc:
                    db.session.rollback()
                    form.amount.errors.append(str(exc))
                else:
                    db.session.commit()
                    return _done(url_for("funding.allocation", allocation_id=allocation.id),
                                 f"Allocation of {allocation.funding_stream.name} revised.")
        status = 422
    return render("funding/allocation.html", "form", status=status, allocation=allocation, year=year, form=form)


@bp.route("/allocations/<int:allocation_id>/history")
@roles_required(*EVERYONE)
def allocation_history(allocation_id: int):
    """An allocation's revisions (loaded in place on the year page)."""
    allocation = service.get_allocation_or_404(allocation_id)
    return render("funding/allocation.html", "history", allocation=allocation, year=allocation.funding_year,
                  form=RevisionForm())


# --- Budget lines -------------------------------------------------------------------------------------------

def _line_form(line=None) -> BudgetLineForm:
    form = BudgetLineForm(obj=line)
    streams = service.all_streams()
    form.funding_stream_id.choices = [(s.id, s.name) for s in streams if s.active or (line and s.id == line.funding_stream_id)]
    form.category_id.choices = [(c.id, c.name) for c in db.session.scalars(select(Category).order_by(Category.sort_order, Category.name))
                                if c.active or (line and c.id == line.category_id)]
    form.strand_id.choices = [(s.id, s.name) for s in db.session.scalars(select(Strand).order_by(Strand.sort_order, Strand.name))
                              if s.active or (line and s.id == line.strand_id)]
    if line is not None and request.method == "GET":
        form.amount.data = line.amount_pence
        form.q1.data, form.q2.data, form.q3.data, form.q4.data = line.profile
    return form


def _line_values(form: BudgetLineForm) -> dict:
    q1, q2, q3, q4 = form.profile
    return {"funding_stream_id": form.funding_stream_id.data, "category_id": form.category_id.data,
            "strand_id": form.strand_id.data, "labour": form.labour.data,
            "description": (form.description.data or "").strip(), "amount_pence": form.amount.data,
            "q1_pence": q1, "q2_pence": q2, "q3_pence": q3, "q4_pence": q4}


def _line_clash(form: BudgetLineForm, year, line=None) -> bool:
    """Another line of the year with the same stream, category and strand: shown at the category field."""
    message = service.line_clash_message(year, _line_values(form), except_id=line.id if line else None)
    if message:
        form.category_id.errors = list(form.category_id.errors) + [message]
    return bool(message)


def _budget_url(year, **extra) -> str:
    return url_for("funding.budget", year=year.label, **extra)


@bp.route("/years/<int:year_id>/lines/new", methods=["GET", "POST"])
@roles_required(FINANCE)
def new_line(year_id: int):
    """Add a budget line with its Q1-Q4 profile."""
    year = service.year_to_change_or_404(year_id)
    form = _line_form()
    if locking.sent_before(form, "BudgetLine") is not None:
        return _done(_budget_url(year), "This budget line was added when the form was first sent.")
    if form.validate_on_submit() and not _line_clash(form, year):
        locking.made(form.once.data, service.create_line(year, **_line_values(form)))
        db.session.commit()
        return _done(_budget_url(year), "Budget line added.")
    return render("funding/line_form.html", "form", status=_status(form), form=form, year=year, line=None)


@bp.route("/lines/<int:line_id>/edit", methods=["GET", "POST"])
@roles_required(FINANCE)
def edit_line(line_id: int):
    """Change a budget line; a change of amount keeps the original and is recorded with its reason."""
    line = service.line_to_change_or_404(line_id)
    year = line.funding_year
    form = _line_form(line)
    from tracker.returns.service import reported_quarter

    form.lock_reported(reported_quarter(year), line.profile)
    if form.validate_on_submit() and not _line_clash(form, year, line):
        try:
            service.update_line(line, reason=form.reason.data or "", reprofiled=form.reprofiled_quarters(),
                                version=locking.version_of(form.version.data), **_line_values(form))
        except locking.Stale as exc:
            return _line_conflict(form, exc.record)
        db.session.commit()
        return _done(_budget_url(year), "Budget line saved.")
    commissions, ledger = service.line_use(line)
    return render("funding/line_form.html", "form", status=_status(form), form=form, year=year, line=line,
                  in_use=commissions + ledger, history=audit.history(line))


def _line_conflict(form: BudgetLineForm, line):
    """Someone else saved the line after this form was opened: 409, their values beside this person's."""
    line = service.get_line_or_404(line.id)
    values = _line_values(form)
    fields = [("Description", line.description, values["description"]),
              ("Amount for the year", format_pence(line.amount_pence), format_pence(values["amount_pence"]))]
    fields += [(f"Q{q}", format_pence(line.profile[q - 1]), format_pence(values[f"q{q}_pence"])) for q in range(1, 5)]
    fields.append(("Labour", "Yes" if line.labour else "No", "Yes" if values["labour"] else "No"))
    locking.show_version(form, line)
    commissions, ledger = service.line_use(line)
    return render("funding/line_form.html", "form", status=409, form=form, year=line.funding_year, line=line,
                  in_use=commissions + ledger, history=audit.history(line),
                  conflict=locking.conflict("budget line", line, fields=fields))


@bp.route("/lines/<int:line_id>/delete", methods=["GET", "POST"])
@roles_required(FINANCE)
def delete_line(line_id: int):
    """Delete a budget line that nothing uses. GET is the confirmation page saying what will go."""
    line = service.get_line_or_404(line_id)
    year = line.funding_year
    if request.method == "GET":
        commissions, ledger = service.line_use(line)
        refusal = (closed_year_message(year) if year.is_closed else
                   f"{commissions} commission(s) and {ledger} ledger line(s) use it. Move them to another line first, "
                   "or set its amount to £0.00." if commissions or ledger else None)
        return render("_confirm.html", None, status=409 if refusal else 200,
                      heading=f"Delete the budget line {line.description}?",
                      intro=f"{line.funding_stream.name}, {year.label}: {format_pence(line.amount_pence)}.",
                      refusal=refusal,
                      effects=[f"The line and its Q1–Q4 profile leave the {year.label} budget, so the stream's "
                               f"budgeted total falls by {format_pence(line.amount_pence)}.",
                               "The audit trail keeps a record of the line as it was."],
                      action=url_for("funding.delete_line", line_id=line.id), button="Yes, delete the budget line",
                      back=url_for("funding.edit_line", line_id=line.id))
    service.delete_line(line)
    db.session.commit()
    return _done(_budget_url(year), "Budget line deleted.")


@bp.route("/lines/<int:line_id>/planned", methods=["GET", "POST"])
@roles_required(FINANCE)
def planned(line_id: int):
    """Override a line's planned spend (the part of its forecast not yet contracted), with a reason; audited."""
    line = service.line_to_change_or_404(line_id)
    form = PlannedForm(obj=None if request.method == "POST" else None)
    if request.method == "GET":
        form.planned.data = line.planned_override_pence
        form.reason.data = line.planned_override_reason
        locking.show_version(form, line)
    figures = service.budget_page(line.funding_year, quarter_in_progress(line.funding_year.label, date.today()))
    line_figures = next((f for l, f in figures.lines if l.id == line.id), None)
    if request.method == "POST" and form.validate():
        try:
            service.set_planned_override(line, form.planned.data, form.reason.data or "",
                                         locking.version_of(form.version.data))
        except locking.Stale as exc:
            line = service.get_line_or_404(exc.record.id)
            locking.show_version(form, line)
            saved = "" if line.planned_override_pence is None else format_pence(line.planned_override_pence)
            sent = "" if form.planned.data is None else format_pence(form.planned.data)
            return render("funding/planned_form.html", "form", status=409, form=form, line=line, f=line_figures,
                          conflict=locking.conflict("budget line", line, fields=[
                              ("Planned spend", saved or "The default", sent or "The default"),
                              ("Why", line.planned_override_reason, form.reason.data or "")]))
        db.session.commit()
        return _done(_budget_url(line.funding_year) + f"#line-{line.id}", "Planned spend saved.")
    status = 422 if request.method == "POST" else 200
    return render("funding/planned_form.html", "form", status=status, form=form, line=line, f=line_figures)


# --- The budget page ----------------------------------------------------------------------------------------

@bp.route("/budget")
@roles_required(*EVERYONE)
def budget():
    """Budget against profile, committed, actual and forecast for a year, as at the end of a quarter."""
    view = service.choose_budget_view(request.args)
    years, year, quarter = view.years, view.year, view.quarter
    page = service.budget_page(year, quarter) if year is not None else None
    can_edit = current_user.has_role(FINANCE) and year is not None and not year.is_closed
    return render("funding/budget.html", "table", years=years, year=year, quarter=quarter, page=page,
                  quarter_names=QUARTER_NAMES, can_edit=can_edit,
                  closed_message=closed_year_message(year) if year is not None and year.is_closed else None)
