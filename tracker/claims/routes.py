"""Grant claims, conditions, match contributions and virements: everyone reads; finance (and admins) change them."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from flask import Blueprint, flash, request, url_for
from flask_login import current_user
from sqlalchemy import select

from tracker import audit, figures, locking
from tracker.auth.roles import EVERYONE, FINANCE, roles_required
from tracker.claims import rules, service
from tracker.claims.forms import ClaimForm, ConditionForm, ContributionForm, DecisionForm, PaymentForm, SubmitForm, VirementForm
from tracker.claims.schedule import ledger_lines, schedule_bytes
from tracker.errors import abort_with
from tracker.extensions import db
from tracker.funding.service import get_line_or_404, get_stream_or_404, get_year_or_404, year_to_change_or_404
from tracker.models import Allocation, BudgetLine, Category, FundingYear, Strand
from tracker.models.monitoring import Document
from tracker.money import format_pence
from tracker.periods import quarter_in_progress
from tracker.web import XLSX_MIMETYPE, render, see_other, send_download

bp = Blueprint("claims", __name__)


def _done(url: str, message: str):
    flash(message, "success")
    return see_other(url)


def _year_url(year_id: int, anchor: str = "claims") -> str:
    return url_for("funding.year", year_id=year_id) + f"#{anchor}"


# --- The year page's panel ----------------------------------------------------------------------------------------

@dataclass
class YearPanel:
    """What the year page shows about claims, conditions, match funding, virements and bridging."""

    claims: list[service.StreamClaims]
    conditions: list[service.ConditionRow]
    contributions: list
    virements: list
    bridging: list[service.Bridging]
    #: The quarter in progress: the figures engine's forecasts are as at it.
    quarter_in_progress: int


def year_panel(year: FundingYear) -> YearPanel:
    """One run of the figures engine for all of it (a fixed number of queries)."""
    quarter = quarter_in_progress(year.label, date.today())
    yf = figures.year_figures(year, quarter)
    return YearPanel(service.hide_unsent(service.year_claims(year, yf)), service.year_conditions(year, yf),
                     service.year_contributions(year),
                     service.year_virements(year), service.bridging(year, yf), quarter)


@bp.app_template_global()
def conditions_at_risk(year, year_figures=None):
    """For the home page: the year's grant conditions at risk or not met (judged on the page's own figures)."""
    return service.conditions_needing_attention(year, year_figures)


# --- Claims --------------------------------------------------------------------------------------------------------

@bp.route("/funding/years/<int:year_id>/claims/prepare", methods=["POST"])
@roles_required(FINANCE)
def prepare(year_id: int):
    """Make the draft claim for a stream and period (or open the one already made)."""
    year = get_year_or_404(year_id)
    stream_text, period_text = request.form.get("stream_id", ""), request.form.get("period", "")
    if not (stream_text.isdigit() and period_text.isdigit() and len(stream_text) < 10 and len(period_text) < 3):
        abort_with(422, "Choose a funding stream and a claim period from the year's claims.")
    stream = get_stream_or_404(int(stream_text))
    try:
        claim = service.prepare(year, stream, int(period_text))
    except service.Refused as exc:
        abort_with(422, str(exc))
    db.session.commit()
    return _done(url_for("claims.claim", claim_id=claim.id), "Claim prepared. Check it, then submit it.")


def _claim_page(claim, status: int = 200, conflict=None, **forms):
    sc, cell = service.stream_claims_of(claim)
    within, over = rules.within_the_grant(sc.revised, sc.claimed_elsewhere(claim.period), cell.claimable)
    form = forms.get("form") or ClaimForm(formdata=None, claimed=claim.claimed_pence,
                                          signed_off_by=claim.signed_off_by, note=claim.note)
    if "form" not in forms:
        form.claimed.data = claim.claimed_pence
    submit_form = forms.get("submit_form") or SubmitForm(formdata=None, submitted_on=date.today())
    decision_form = forms.get("decision_form") or DecisionForm(formdata=None)
    payment_form = forms.get("payment_form") or PaymentForm(formdata=None, paid_on=date.today(),
                                                            received=claim.claimed_pence)
    for name, each in (("form", form), ("submit_form", submit_form), ("decision_form", decision_form),
                       ("payment_form", payment_form)):
        # Each action is made from the claim as shown; a form sent back with errors keeps the version it was
        # opened at (so a change made meanwhile is still caught), except after a 409, which shows the claim now.
        if name not in forms or conflict is not None:
            each.version.data = str(claim.row_version)
            each.version.raw_data = [each.version.data]
    return render("claims/claim.html", status=status, claim=claim, sc=sc, cell=cell, within=within, over=over,
                  title=service.claim_title(claim), form=form, submit_form=submit_form,
                  decision_form=decision_form, payment_form=payment_form, conflict=conflict,
                  lines=ledger_lines(claim), basis=rules, history=audit.history(claim))


def _claim_conflict(exc: locking.Stale, form_name: str, form):
    """Someone else changed the claim first: 409, saying so, with the claim as it is now (and, for a save, what
    this person typed beside what is saved)."""
    claim = service.get_claim_or_404(exc.record.id)
    fields = []
    if form_name == "form":
        fields = [("Amount claimed", format_pence(claim.claimed_pence), form.claimed.raw_data[0] if
                   form.claimed.raw_data else ""),
                  ("Signed off by", claim.signed_off_by, form.signed_off_by.data or ""),
                  ("Note", claim.note, form.note.data or "")]
    conflict = locking.conflict("claim", claim, exc.message, fields)
    return _claim_page(claim, 409, conflict=conflict, **({form_name: form} if form_name == "form" else {}))


def _claim_action(claim_id: int, form_class, form_name: str, field: str, act, message, undo=None):
    """The one shape of every change made on a claim's page (save, submit, decision, payment): the claim or 404;
    the form checked; ``act(claim, form, version)`` does the change (the service checks the claim may change: a
    closed year is a 409, a refusal is said at ``field`` of the form, 422; a claim changed since the form was
    shown, or by a request at the same moment, is a 409 showing it as it is now); then commit, and back to the
    claim saying ``message(form, result)``. Anything refused leaves nothing half-written, and the claim is shown
    as it is. ``undo(result)`` tidies up what the change left outside the database when the commit fails."""
    claim = service.get_claim_or_404(claim_id)
    form = form_class()
    if form.validate_on_submit():
        try:
            result = act(claim, form, locking.version_of(form.version.data))
        except service.Refused as exc:
            # A figure outside its usual range is asked about at the form's confirmation box; the rest at ``field``.
            confirm = isinstance(exc, service.NeedsConfirmation) and getattr(form, "confirm_over", None)
            (confirm or getattr(form, field)).errors.append(str(exc))
        except locking.Stale as exc:
            db.session.rollback()
            return _claim_conflict(exc, form_name, form)
        else:
            try:
                db.session.commit()
            except Exception:
                if undo is not None:
                    undo(result)
                raise
            return _done(url_for("claims.claim", claim_id=claim.id), message(form, result))
    db.session.rollback()
    return _claim_page(service.get_claim_or_404(claim_id), 422, **{form_name: form})


@bp.route("/claims/<int:claim_id>", methods=["GET", "POST"])
@roles_required(*EVERYONE, write_roles=(FINANCE,))
def claim(claim_id: int):
    """A claim: what is claimable, what is claimed, its status and versions; finance changes a draft here."""
    if request.method == "GET":
        return _claim_page(service.get_claim_or_404(claim_id))
    return _claim_action(
        claim_id, ClaimForm, "form", "claimed",
        lambda claim, form, version: service.update(claim, form.claimed.data, form.signed_off_by.data,
                                                   form.note.data, version),
        lambda form, _: "Claim saved.")


def _remove_schedule(submission) -> None:
    from tracker import files

    files.remove(submission.stored_path)  # the frozen schedule was written before the commit that failed


@bp.route("/claims/<int:claim_id>/submit", methods=["POST"])
@roles_required(FINANCE)
def submit(claim_id: int):
    """Submit the claim: its schedule is frozen as the next version."""
    return _claim_action(
        claim_id, SubmitForm, "submit_form", "submitted_on",
        lambda claim, form, version: service.submit(claim, current_user, form.submitted_on.data, version=version),
        lambda form, submission: f"Claim submitted as version {submission.version}. Its schedule is frozen.",
        undo=_remove_schedule)


@bp.route("/claims/<int:claim_id>/decision", methods=["POST"])
@roles_required(FINANCE)
def decision(claim_id: int):
    """Record that the funder approved or queried the claim."""
    return _claim_action(
        claim_id, DecisionForm, "decision_form", "decision",
        lambda claim, form, version: service.decide(claim, form.decision.data, form.note.data, version),
        lambda form, _: f"Claim marked {form.decision.data}.")


@bp.route("/claims/<int:claim_id>/payment", methods=["POST"])
@roles_required(FINANCE)
def payment(claim_id: int):
    """Record the funder's payment: date, amount received and remittance reference."""
    return _claim_action(
        claim_id, PaymentForm, "payment_form", "paid_on",
        lambda claim, form, version: service.record_payment(claim, form.paid_on.data, form.received.data,
                                                            form.remittance_reference.data, form.confirm_over.data,
                                                            version),
        lambda form, _: "Payment recorded.")


def _schedule_name(claim, version: int | None) -> str:
    words = f"v{version}" if version else "DRAFT"
    return f"Claim {claim.funding_stream.name} {claim.funding_year.label} period {claim.period} {words}.xlsx"


@bp.route("/claims/<int:claim_id>/schedule.xlsx")
@roles_required(*EVERYONE)
def schedule(claim_id: int):
    """The claim schedule: the latest submitted version's exact bytes, or the draft as it stands now. The address
    serves whatever is latest, so each version also has its own (``submission_schedule``)."""
    claim = service.get_claim_or_404(claim_id)
    if claim.submissions:
        latest = claim.submissions[0]
        return send_download(service.stored_schedule(latest), _schedule_name(claim, latest.version), XLSX_MIMETYPE)
    sc, cell = service.stream_claims_of(claim)
    return send_download(schedule_bytes(claim, sc, cell), _schedule_name(claim, None), XLSX_MIMETYPE)


@bp.route("/claims/<int:claim_id>/schedule/v<int:version>.xlsx")
@roles_required(*EVERYONE)
def submission_schedule(claim_id: int, version: int):
    """One submitted version of a claim schedule, exactly as submitted, at an address of its own."""
    claim = service.get_claim_or_404(claim_id)
    submission = service.get_submission_or_404(claim, version)
    return send_download(service.stored_schedule(submission), _schedule_name(claim, submission.version),
                         XLSX_MIMETYPE)


@bp.route("/funding/years/<int:year_id>/claims.xlsx")
@roles_required(*EVERYONE)
def year_schedule(year_id: int):
    """The year's claims schedule: every stream's claim periods with their spend, the negative brought forward
    and carried forward, what is claimable, claimed, received and outstanding, and each stream's Total row, as on
    the year page (in each row, spend + brought forward = claimable + carried forward)."""
    from tracker.returns.builder import DATE, MONEY, TEXT, Column
    from tracker.returns.exports import export_rows

    year = get_year_or_404(year_id)
    columns = [Column("stream", "Funding stream", TEXT, 30), Column("period", "Period", TEXT, 16),
               Column("due", "Due", DATE, 11), Column("spend", "Spend", MONEY, 14),
               Column("brought_forward", "Brought forward", MONEY, 14), Column("claimable", "Claimable", MONEY, 14),
               Column("carried_forward", "Carried forward", MONEY, 14),
               Column("claimed", "Claimed", MONEY, 14), Column("received", "Received", MONEY, 14),
               Column("outstanding", "Outstanding", MONEY, 14), Column("status", "Status", TEXT, 12),
               Column("submitted", "Submitted", DATE, 11), Column("paid", "Paid", DATE, 11),
               Column("remittance", "Remittance reference", TEXT, 18)]
    rows = []
    for sc in service.hide_unsent(service.year_claims(year)):
        for c in sc.cells:
            rows.append([sc.stream.name, c.name + (" (final)" if c.final else ""), c.due, c.spend, c.brought_forward,
                         c.claimable, c.carried_forward, c.claimed,
                         c.received, c.outstanding, c.status.capitalize(),
                         c.claim.submitted_on if c.claim else None, c.claim.paid_on if c.claim else None,
                         c.claim.remittance_reference if c.claim else ""])
        # The grid's Total row under each stream, from the same sums (``StreamClaims.total``).
        # Spend and claimable add up; what the year's last period carries is what no claim could net off.
        rows.append([sc.stream.name, "Total", None, sc.total("spend"), 0, sc.total("claimable"),
                     sc.carried_out_of_the_year, sc.total("claimed"), sc.total("received"), sc.total("outstanding"),
                     None, None, None, ""])
    return send_download(export_rows(columns, rows, "xlsx", f"Claims {year.label}"),
                         f"Claims schedule {year.label}.xlsx", XLSX_MIMETYPE)


# --- Conditions ------------------------------------------------------------------------------------------------------

def _stream_choices(year: FundingYear) -> list[tuple[int, str]]:
    rows = db.session.scalars(select(Allocation).where(Allocation.funding_year_id == year.id)).all()
    return sorted(((a.funding_stream_id, a.funding_stream.name) for a in rows), key=lambda c: c[1])


@bp.route("/funding/years/<int:year_id>/conditions/new", methods=["GET", "POST"])
@roles_required(FINANCE)
def new_condition(year_id: int):
    """Add a condition of a stream's grant for the year."""
    year = year_to_change_or_404(year_id)
    form = ConditionForm()
    form.funding_stream_id.choices = _stream_choices(year)
    form.category_id.choices = [(0, "None")] + [(c.id, c.name) for c in db.session.scalars(
        select(Category).order_by(Category.sort_order, Category.name))]
    form.strand_id.choices = [(0, "None")] + [(s.id, s.name) for s in db.session.scalars(
        select(Strand).order_by(Strand.sort_order, Strand.name))]
    if locking.sent_before(form, "GrantCondition") is not None:
        return _done(_year_url(year.id, "conditions"), "This grant condition was added when the form was first "
                                                       "sent; it is there once.")
    if form.validate_on_submit():
        kind = form.kind.data
        condition = service.add_condition(
            year, funding_stream_id=form.funding_stream_id.data, kind=kind,
            category_id=form.category_id.data if kind == "category_share" else None,
            strand_id=form.strand_id.data if kind == "strand_share" else None,
            minimum_basis_points=form.basis_points, labour_pence=form.labour.data if kind == "ring_fence" else None,
            note=(form.note.data or "").strip())
        locking.made(form.once.data, condition)
        db.session.commit()
        return _done(_year_url(year.id, "conditions"), "Grant condition added.")
    return render("claims/condition_form.html", status=422 if request.method == "POST" else 200, form=form, year=year)


@bp.route("/conditions/<int:condition_id>/delete", methods=["POST"])
@roles_required(FINANCE)
def delete_condition(condition_id: int):
    """Remove a grant condition (kept in the audit trail)."""
    condition = service.get_condition_or_404(condition_id)
    year_id = condition.funding_year_id
    service.delete_condition(condition)
    db.session.commit()
    return _done(_year_url(year_id, "conditions"), "Grant condition removed.")


# --- Match contributions ----------------------------------------------------------------------------------------------

def _contribution_form(year: FundingYear, contribution=None) -> ContributionForm:
    form = ContributionForm(obj=contribution) if request.method == "GET" else ContributionForm()
    form.funding_stream_id.choices = _stream_choices(year)
    form.document_id.choices = [(0, "None yet")] + [(d.id, d.title) for d in db.session.scalars(
        select(Document).where(Document.funding_year_id == year.id).order_by(Document.title))]
    if request.method == "GET" and contribution is not None:
        form.pledged.data, form.evidenced.data = contribution.pledged_pence, contribution.evidenced_pence
        form.document_id.data = contribution.document_id or 0
    return form


def _contribution_values(form: ContributionForm) -> dict:
    return {"funding_stream_id": form.funding_stream_id.data, "partner": form.partner.data.strip(),
            "kind": form.kind.data, "pledged_pence": form.pledged.data, "evidenced_pence": form.evidenced.data or 0,
            "document_id": form.document_id.data or None, "note": (form.note.data or "").strip()}


def _saved_contribution(form: ContributionForm, year: FundingYear, contribution, version: int | None = None):
    """Save the form's contribution and return it; None (and the question at the confirmation box) when evidence
    above the pledge is not yet confirmed. ``locking.Stale`` goes to the caller."""
    try:
        return service.save_contribution(year, contribution, form.confirm_over.data, version=version,
                                         **_contribution_values(form))
    except service.NeedsConfirmation as exc:
        db.session.rollback()
        form.confirm_over.errors = [str(exc)]
        return None


@bp.route("/funding/years/<int:year_id>/match/new", methods=["GET", "POST"])
@roles_required(FINANCE)
def new_contribution(year_id: int):
    """Record a partner's match contribution: pledged, and what is evidenced."""
    year = year_to_change_or_404(year_id)
    form = _contribution_form(year)
    if locking.sent_before(form, "MatchContribution") is not None:
        return _done(_year_url(year.id, "match"), "This match contribution was recorded when the form was first "
                                                  "sent; it is recorded once.")
    if form.validate_on_submit() and (saved := _saved_contribution(form, year, None)) is not None:
        locking.made(form.once.data, saved)
        db.session.commit()
        return _done(_year_url(year.id, "match"), "Match contribution recorded.")
    return render("claims/contribution_form.html", status=422 if request.method == "POST" else 200, form=form,
                  year=year, contribution=None)


@bp.route("/match/<int:contribution_id>/edit", methods=["GET", "POST"])
@roles_required(FINANCE)
def edit_contribution(contribution_id: int):
    """Change a match contribution (e.g. when its evidence arrives)."""
    contribution = service.contribution_to_change_or_404(contribution_id)
    year = contribution.funding_year
    form = _contribution_form(year, contribution)
    saved = None
    if form.validate_on_submit():
        try:
            saved = _saved_contribution(form, year, contribution, locking.version_of(form.version.data))
        except locking.Stale as exc:
            return _contribution_conflict(form, year, exc.record)
    if saved is not None:
        db.session.commit()
        return _done(_year_url(year.id, "match"), "Match contribution saved.")
    return render("claims/contribution_form.html", status=422 if request.method == "POST" else 200, form=form,
                  year=year, contribution=contribution)


def _contribution_conflict(form: ContributionForm, year: FundingYear, contribution):
    """Someone else saved the contribution first: 409, theirs beside this person's, the form ready to save again."""
    if contribution is None:
        abort_with(404, "There is no such match contribution. It may have been removed.")
    fields = [("Partner", contribution.partner, form.partner.data or ""),
              ("Kind", contribution.kind, form.kind.data or ""),
              ("Pledged", format_pence(contribution.pledged_pence), format_pence(form.pledged.data or 0)),
              ("Evidenced", format_pence(contribution.evidenced_pence), format_pence(form.evidenced.data or 0)),
              ("Note", contribution.note, form.note.data or "")]
    locking.show_version(form, contribution)
    return render("claims/contribution_form.html", status=409, form=form, year=year, contribution=contribution,
                  conflict=locking.conflict("match contribution", contribution, fields=fields))


@bp.route("/match/<int:contribution_id>/delete", methods=["POST"])
@roles_required(FINANCE)
def delete_contribution(contribution_id: int):
    """Remove a match contribution (kept in the audit trail)."""
    contribution = service.get_contribution_or_404(contribution_id)
    year_id = contribution.funding_year_id
    service.delete_contribution(contribution)
    db.session.commit()
    return _done(_year_url(year_id, "match"), "Match contribution removed.")


# --- Virements ----------------------------------------------------------------------------------------------------------

@bp.route("/funding/years/<int:year_id>/virement", methods=["GET", "POST"])
@roles_required(FINANCE)
def virement(year_id: int):
    """Move money from one budget line to another; across a ring fence it needs the funder's approval reference."""
    year = year_to_change_or_404(year_id)
    lines = db.session.scalars(select(BudgetLine).where(BudgetLine.funding_year_id == year.id)
                               .order_by(BudgetLine.funding_stream_id, BudgetLine.id)).all()
    form = VirementForm()
    choices = [(line.id, f"{line.name}{' – ' + line.description if line.description else ''}"
                         f"{' (labour)' if line.labour else ''}: {format_pence(line.amount_pence)}") for line in lines]
    form.from_line_id.choices = form.to_line_id.choices = choices
    if locking.sent_before(form, "Virement") is not None:  # the same form sent again: made once
        return _done(_year_url(year.id, "conditions"), "This virement was made when the form was first sent; "
                                                       "the money moved once.")
    if form.validate_on_submit():
        try:
            made = service.make_virement(year, get_line_or_404(form.from_line_id.data),
                                         get_line_or_404(form.to_line_id.data), form.amount.data, form.reason.data,
                                         form.approval_reference.data)
            locking.made(form.once.data, made)
        except service.Refused as exc:
            db.session.rollback()
            target = form.approval_reference if "approval" in str(exc) else form.amount
            target.errors.append(str(exc))
        else:
            db.session.commit()
            return _done(_year_url(year.id, "conditions"), "Virement made.")
    return render("claims/virement.html", status=422 if request.method == "POST" else 200, form=form, year=year)
