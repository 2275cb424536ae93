"""The rules for changing commissions, variations and providers, with no request in sight.

Each function changes the session and records the audit event in the same transaction; the caller commits.
Problems a person can fix are raised as ``FieldErrors`` (shown at the fields, 422) or ``Conflict`` (someone
else saved first, 409); a closed funding year stops everything with ``require_open_year``.
``create_commission`` and ``create_provider`` are the only places either record is made (the forms, the register
import and the demo call them; tests/commissions/test_one_way_in.py keeps it so).
"""
from __future__ import annotations

from datetime import date

from sqlalchemy import func, select, update
from sqlalchemy.orm.attributes import flag_modified
from sqlalchemy.orm.exc import StaleDataError

from tracker import audit, locking
from tracker.errors import get_or_404
from tracker.extensions import db
from tracker.funding.rules import closed_year_problem, require_open_year
from tracker.models import (
    BudgetLine, Commission, ContractEvent, FundingYear, LedgerTransaction, Milestone, ProcurementNotice, Provider, Strand,
    SupplierAlias, Variation,
)
from tracker.commissions import rules
from tracker.commissions.shares import (
    ShareInput, check_shares, default_shares, set_shares, shares_of, spread, split_by_years, years_spanned,
)
from tracker.models.base import utcnow
from tracker.money import format_pence
from tracker.models.commissions import COMMISSION_STATUSES, VARIED

REALM = "commissions"
#: The commission fields a form edits, and that the audit trail records before and after.
COMMISSION_FIELDS = (
    "reference", "title", "description", "provider_id", "strand_id", "funding_year_id",
    "procurement_route", "competed", "commission_type", "value_pence", "start_date", "end_date", "review_date",
    "extension_options", "end_decision", "status", "pcc_decision_ref", "po_number", "contract_manager",
    # Procurement Act facts (tracker/procurement/rules.py reads them).
    "light_touch", "procurement_started_on", "contract_entered_on", "value_incl_vat_pence", "cdp_procurement_id",
    "cdp_contract_id", "award_reason", "grant_conditions",
)
PROVIDER_FIELDS = ("name", "charity_number", "company_number", "vcse", "sme", "supported_employment",
                   "public_service_mutual", "individual", "notes")
PROVIDER_FLAGS = ("vcse", "sme", "supported_employment", "public_service_mutual", "individual")
#: Only a commission still in the pipeline may be deleted; later ones are terminated or ended instead.
DELETABLE_STATUSES = ("pipeline",)


class FieldErrors(Exception):
    """Messages to show at named fields."""

    def __init__(self, errors: dict[str, str]):
        super().__init__("; ".join(errors.values()))
        self.errors = errors


class Conflict(Exception):
    """The commission changed since the form was shown: someone else saved first."""

    def __init__(self, commission: Commission):
        super().__init__("changed by someone else")
        self.commission = commission


class NotAllowed(Exception):
    """An action the rules forbid for this record, with the reason in the users' words."""


def get_commission_or_404(commission_id: int, *options) -> Commission:
    """The commission with this id (loaded with ``options``), or a 404 page; every area looks commissions up here."""
    return get_or_404(Commission, commission_id, "There is no commission with that number. It may have been deleted.",
                      *options)


def commission_to_change_or_404(commission_id: int) -> Commission:
    """The commission, when it may still change: 404 when there is none, 409 when the contract is sealed (every
    year it is funded in is closed). The role is the route's ``roles_required``; this is the record's part."""
    commission = get_commission_or_404(commission_id)
    require_open_contract(commission)
    return commission


def get_provider_or_404(provider_id: int) -> Provider:
    return get_or_404(Provider, provider_id, "There is no provider with that number.")


def _check_version(commission: Commission, submitted_version: int | None) -> None:
    if submitted_version is None or int(submitted_version) != commission.version:
        raise Conflict(commission)


def _flush(commission: Commission) -> None:
    """Flush, turning a save that lost the race at the database into a Conflict (version_id_col checks it)."""
    try:
        db.session.flush()
    except StaleDataError:
        db.session.rollback()
        fresh = db.session.get(Commission, commission.id)
        raise Conflict(fresh) from None


def _recheck_holds(commission: Commission) -> None:
    """Its status or dates changed: whether its ledger lines count on it is decided again (``hold_for``)."""
    from tracker.imports.matching import recheck_holds  # the imports build on this module

    recheck_holds(commission.id)


def provider_key(name: str) -> str:
    """The name-normalising rule: two providers are the same when their names match ignoring case and the spaces
    around them (the form, the import's cache and the demo all look providers up by this key)."""
    return (name or "").strip().lower()


def find_provider_by_name(name: str) -> Provider | None:
    return db.session.scalar(select(Provider).where(func.lower(Provider.name) == provider_key(name)))


def _database_rules(data: dict, commission: Commission | None) -> dict[str, str]:
    """The rules the form cannot check alone: unique reference, real choices, the budget line's year, open year."""
    errors: dict[str, str] = {}
    reference = data["reference"].strip()
    clash = select(Commission.id).where(func.lower(Commission.reference) == reference.lower())
    if commission is not None:
        clash = clash.where(Commission.id != commission.id)
    if db.session.scalar(clash) is not None:
        errors["reference"] = f"Reference {reference} is already used by another commission"
    year = db.session.get(FundingYear, data["funding_year_id"]) if data.get("funding_year_id") else None
    closed = closed_year_problem(commission.funding_year if commission is not None else None, year)
    if year is None:
        errors["funding_year_id"] = "Choose a funding year"
    elif closed:
        errors["funding_year_id"] = closed  # the year it is in now, or the one it would move to
    if not data.get("strand_id") or db.session.get(Strand, data["strand_id"]) is None:
        errors["strand_id"] = "Choose a strand"
    if data.get("provider_id") and db.session.get(Provider, data["provider_id"]) is None:
        errors["provider_id"] = "Choose a provider from the list"
    return errors


def _resolve_provider(data: dict, new_provider_name: str) -> None:
    """Use the chosen provider, or the one named (adding it when it is new)."""
    if data.get("provider_id"):
        return
    data["provider_id"] = find_or_create_provider(new_provider_name).id


_TEXT_FIELDS = ("reference", "title", "description", "extension_options", "pcc_decision_ref", "po_number",
                "contract_manager", "cdp_procurement_id", "cdp_contract_id", "award_reason", "grant_conditions")


def _clean(data: dict) -> dict:
    """The commission fields of ``data``, tidied. A field the caller does not give (an import maps only some
    columns) is left out, so the model's default applies; the forms give them all."""
    out = {k: data[k] for k in COMMISSION_FIELDS if k in data}
    for key in _TEXT_FIELDS:
        if key in out:
            out[key] = (out[key] or "").strip()
    for key in ("competed", "light_touch"):
        if key in out:
            out[key] = bool(out[key])
    if "end_decision" in out:
        out["end_decision"] = out["end_decision"] or None  # "not decided yet"
    return out


def _fact_rules(data: dict) -> dict[str, str]:
    """The rules of tracker/commissions/rules.py, at the fields (the forms and the import check them first)."""
    errors = {}
    if not rules.value_above_zero(data.get("value_pence")):
        errors["value_pence"] = rules.VALUE_NOT_ABOVE_ZERO
    if not rules.end_after_start(data.get("start_date"), data.get("end_date")):
        errors["end_date"] = rules.END_NOT_AFTER_START
    return errors


def _shares_rules(commission: Commission | None, value_pence: int | None,
                  shares: list[ShareInput] | None) -> dict[str, str]:
    if shares is None or value_pence is None:
        return {}
    problems = check_shares(commission, value_pence, shares)
    return {"funding_shares": "; ".join(problems)} if problems else {}


def contract_sealed(commission: Commission) -> bool:
    """True once every funding year of a contract is closed: it can no longer change. While any year it is funded
    in is open (or not set up yet) it can, though its shares in closed years stay as they are."""
    if any(s.funding_year is None for s in commission.funding_shares):
        return False
    years = {s.funding_year for s in commission.funding_shares} | {commission.funding_year}
    return all(y.is_closed for y in years)


def require_open_contract(commission: Commission) -> None:
    """Stop a change to a sealed contract (409, with the reason)."""
    if contract_sealed(commission):
        require_open_year(commission.funding_year)


def create_commission(data: dict, new_provider_name: str = "", shares: list[ShareInput] | None = None,
                      budget_line: BudgetLine | None = None, *, user_id: int | None = None, source: str = "",
                      realm: str = REALM, checked: bool = False) -> Commission:
    """Add a commission (model field names in ``data``), audited; raises FieldErrors. The one way a commission is
    made: the form, the commissions register import and the demo all come here.

    ``shares`` are its funding shares; without them the value is split across the years it spans by days
    (``shares.default_shares``), on ``budget_line`` for that line's year where one is given. ``source`` ("import",
    "demo") is added to the audit summary and ``realm`` files the event (an import files all it does under
    "imports"); ``user_id`` is who did it when there is no request (an import's thread).
    ``checked`` says the caller has just checked the database rules itself, in this transaction, for many rows at
    once (the import's analysis: reference, year, strand, line): they are not asked again row by row, which would
    cost queries per row. The fact rules (value, dates) cost nothing and always run."""
    data = _clean(data)
    if shares is None and data.get("value_pence") and data.get("start_date") and data.get("end_date"):
        shares = default_shares(data["value_pence"], data["start_date"], data["end_date"], budget_line)
    errors = _fact_rules(data)
    if not checked:
        errors = {**_database_rules(data, None), **_shares_rules(None, data.get("value_pence"), shares), **errors}
    if errors:
        raise FieldErrors(errors)
    _resolve_provider(data, new_provider_name)
    commission = Commission(**data)
    db.session.add(commission)
    db.session.flush()
    audit.record(realm, "create", commission, f"Added commission {commission.reference}{_from(source)}", None,
                 audit.snapshot(commission, COMMISSION_FIELDS), user_id=user_id)
    _record_event(commission, commission.status, None, today(), f"Entered as {commission.status}{_from(source)}.",
                  user_id=user_id)
    if shares:
        set_shares(commission, shares)
    return commission


def _from(source: str) -> str:
    """Where a record came from, for the audit summary: " (import)" ("" for a form)."""
    return f" ({source})" if source else ""


def update_commission(commission: Commission, data: dict, submitted_version: int | None,
                      new_provider_name: str = "", shares: list[ShareInput] | None = None,
                      status_effective: date | None = None) -> Commission:
    """Save an edit made from version ``submitted_version``; raises Conflict if it is out of date, FieldErrors.

    ``shares`` (when given) replace the funding shares; they must add up to the value. A change of status takes
    effect on ``status_effective`` (today when not given) and is recorded as a contract event."""
    require_open_contract(commission)
    _check_version(commission, submitted_version)
    data = _clean(data)
    if shares is None and data.get("value_pence") is not None and data["value_pence"] != commission.value_pence:
        shares = shares_of(commission)  # the value changed but not the shares: they must still add up
    errors = {**_database_rules(data, commission), **_shares_rules(commission, data.get("value_pence"), shares)}
    old_status, new_status = commission.status, data.get("status", commission.status)
    effective = status_effective or today()
    if new_status != old_status and (problem := effective_date_problem(commission, effective)):
        errors["status_effective_date"] = problem
    if errors:
        raise FieldErrors(errors)
    _resolve_provider(data, new_provider_name)
    before = audit.snapshot(commission, COMMISSION_FIELDS)
    for key, value in data.items():
        setattr(commission, key, value)
    changed_before, changed_after = audit.diff(before, audit.snapshot(commission, COMMISSION_FIELDS))
    if changed_after:
        _flush(commission)
        audit.record(REALM, "change", commission, f"Changed commission {commission.reference}: "
                     + ", ".join(k.replace("_", " ") for k in changed_after), changed_before, changed_after)
        if {"status", "start_date", "end_date"} & set(changed_after):
            _recheck_holds(commission)
    if new_status != old_status:
        _record_event(commission, new_status, old_status, effective)
    if shares is not None and set_shares(commission, shares) and not changed_after:
        commission.updated_at = utcnow()  # a change of shares alone is a change of the contract (version bump)
        _flush(commission)
    return commission


def change_status(commission: Commission, status: str, submitted_version: int | None,
                  effective_date: date | None = None, note: str = "") -> Commission:
    """A quick status change (from the register or the commission page), audited and recorded as a contract event
    taking effect on ``effective_date`` (today when not given; a termination's page asks for it)."""
    require_open_contract(commission)
    _check_version(commission, submitted_version)
    if status not in COMMISSION_STATUSES:
        raise FieldErrors({"status": "Choose a status from the list"})
    if status == commission.status:
        return commission
    effective = effective_date or today()
    if problem := effective_date_problem(commission, effective):
        raise FieldErrors({"effective_date": problem})
    before = commission.status
    commission.status = status
    _flush(commission)
    when = f" with effect from {effective:%d/%m/%Y}" if effective != today() else ""
    audit.record(REALM, "change", commission,
                 f"Status of {commission.reference} changed from {before} to {status}{when}",
                 {"status": before}, {"status": status, **({"effective_date": effective.isoformat()} if when else {})})
    _record_event(commission, status, before, effective, note)
    _recheck_holds(commission)
    return commission


# --- Contract events: a contract's life, with the date each step takes effect ------------------------------------

def today() -> date:
    """Today's date; one place so tests can fix the clock (``app.config["COMMISSIONS_TODAY"]``)."""
    from flask import current_app, has_app_context

    return (current_app.config.get("COMMISSIONS_TODAY") if has_app_context() else None) or date.today()


def effective_date_problem(commission: Commission, effective: date) -> str | None:
    """Why a status change cannot take effect on ``effective``, or None. It may be in the past (a termination typed
    weeks later), but not after today, not in a closed funding year (its figures are final), and not before the
    contract's last change of status (the events would no longer say what its status is now)."""
    if effective > today():
        return (f"The change cannot take effect after today ({today():%d/%m/%Y}): record it on or after "
                f"{effective:%d/%m/%Y}, or give the date it took effect.")
    year = db.session.scalar(select(FundingYear).where(FundingYear.start_date <= effective,
                                                       FundingYear.end_date >= effective))
    if year is not None and year.is_closed:
        return (f"{effective:%d/%m/%Y} is in funding year {year.label}, which is closed: a change cannot take effect "
                "in a closed year. Give a date in an open year, or ask an administrator to reopen it.")
    last = db.session.scalar(
        select(func.max(ContractEvent.effective_date))
        .where(ContractEvent.commission_id == commission.id, ContractEvent.kind != VARIED,
               ContractEvent.from_status.is_not(None)))
    if last is not None and effective < last:
        return (f"{commission.reference}'s status last changed with effect from {last:%d/%m/%Y}: a later change "
                "cannot take effect before that.")
    return None


def record_status_change(commission: Commission, from_status: str, to_status: str, effective: date | None = None,
                         note: str = "", *, user_id: int | None = None) -> ContractEvent | None:
    """Record, as a contract event, a status change another path has made (the register import, its withdrawal),
    taking effect on ``effective`` (today). The forms and ``change_status`` record theirs themselves."""
    if from_status == to_status:
        return None
    return _record_event(commission, to_status, from_status, effective or today(), note, user_id=user_id)


def _record_event(commission: Commission, kind: str, from_status: str | None, effective: date, note: str = "",
                  *, user_id: int | None = None, **facts) -> ContractEvent:
    """Add a contract event (a status taken, or a variation with ``facts``) in the caller's transaction."""
    event = ContractEvent(commission_id=commission.id, kind=kind, from_status=from_status, effective_date=effective,
                          note=(note or "").strip(), recorded_at=utcnow(),
                          recorded_by_id=user_id if user_id is not None else audit.acting_user_id(), **facts)
    db.session.add(event)
    return event


def change_end_date(commission: Commission, end_date: date, submitted_version: int | None) -> Commission:
    """A quick end-date change, audited; the end must stay after the start."""
    require_open_contract(commission)
    _check_version(commission, submitted_version)
    if end_date <= commission.start_date:
        raise FieldErrors({"end_date": f"The end date must be after the start date ({commission.start_date:%d/%m/%Y})"})
    if end_date == commission.end_date:
        return commission
    before = commission.end_date
    commission.end_date = end_date
    _flush(commission)
    audit.record(REALM, "change", commission,
                 f"End date of {commission.reference} changed from {before:%d/%m/%Y} to {end_date:%d/%m/%Y}",
                 {"end_date": before.isoformat()}, {"end_date": end_date.isoformat()})
    _recheck_holds(commission)
    return commission


def add_variation(commission: Commission, variation_date: date, reason: str, value_change_pence: int | None,
                  new_end_date: date | None, submitted_version: int | None, user_id: int | None = None,
                  shares: list[ShareInput] | None = None) -> Variation:
    """Record a variation and apply it: the value changes by the amount, the end date moves (both audited), and
    the funding shares become ``shares`` (by default ``proposed_shares``: what the form proposed)."""
    require_open_contract(commission)
    _check_version(commission, submitted_version)
    change = value_change_pence or 0
    errors = variation_problems(commission, change, new_end_date)
    if not errors:
        if shares is None:
            shares = proposed_shares(commission, commission.value_pence + change, new_end_date or commission.end_date)
        errors.update(_shares_rules(commission, commission.value_pence + change, shares))
    if errors:
        raise FieldErrors(errors)
    before = audit.snapshot(commission, ("value_pence", "end_date"))
    variation = Variation(
        commission=commission, variation_date=variation_date, reason=reason.strip(), value_change_pence=change,
        previous_end_date=commission.end_date if new_end_date else None, new_end_date=new_end_date,
        recorded_by_id=user_id if user_id is not None else audit.acting_user_id(),
    )
    db.session.add(variation)
    commission.value_pence += change
    if new_end_date is not None:
        commission.end_date = new_end_date
    set_shares(commission, shares, effective=variation_date)
    _flush(commission)
    changed_before, changed_after = audit.diff(before, audit.snapshot(commission, ("value_pence", "end_date")))
    audit.record(REALM, "create", variation, f"Variation to {commission.reference}: {variation.reason}", None,
                 audit.snapshot(variation, ("commission_id", "variation_date", "reason", "value_change_pence",
                                            "previous_end_date", "new_end_date")))
    effective = {"_effective": variation_date.isoformat()}  # counts from the date agreed (figures.changes_since)
    audit.record(REALM, "change", commission, f"{commission.reference} varied: {variation.reason}",
                 {**changed_before, **effective}, {**changed_after, **effective})
    _record_event(commission, VARIED, None, variation_date, variation.reason, user_id=variation.recorded_by_id,
                  variation_id=variation.id, value_before_pence=before["value_pence"],
                  value_after_pence=commission.value_pence,
                  end_date_before=variation.previous_end_date, end_date_after=new_end_date)
    if new_end_date is not None:
        _recheck_holds(commission)
    return variation


def variation_problems(commission: Commission, change: int, new_end_date: date | None) -> dict[str, str]:
    """What is wrong with a variation before it is applied (shown at the fields)."""
    errors = {}
    if change == 0 and new_end_date is None:
        errors["value_change_pence"] = "Enter a change in value, a new end date, or both"
    if commission.value_pence + change <= 0:
        errors["value_change_pence"] = (f"The value would fall to {format_pence(commission.value_pence + change)}: "
                                        "it must stay more than £0.00")
    if new_end_date is not None and new_end_date <= commission.start_date:
        errors["new_end_date"] = f"The new end date must be after the start date ({commission.start_date:%d/%m/%Y})"
    return errors


def proposed_shares(commission: Commission, new_value: int, new_end: date) -> list[ShareInput]:
    """How a variation's new value and dates fall across the funding years, as the form proposes them.

    Shares in finished years stay as they are (``finished_years``: closed, or reported in an issued return). What is
    left is split across the other years by days from the start (or, for a year the contract already has shares in,
    in proportion to those shares); a year the contract reaches for the first time gets one share on the stream of
    its latest share, with no line yet. The £30,000.00 contract of 1 January to 31 December 2026, with 2025-26
    reported, varied to £36,000.00 ending 31 March 2027: 2025-26 keeps £7,397.26 and 2026-27 takes £28,602.74."""
    current = shares_of(commission)
    closed = finished_years({s.year_label for s in current})
    if not any(label not in closed for label in years_spanned(commission.start_date, new_end)):
        # Every year it would span is reported: only the closed ones are final, the change goes into the others.
        closed = finished_years({s.year_label for s in current}, reported=False)
    kept = [s for s in current if s.year_label in closed]
    remaining = new_value - sum(s.amount_pence for s in kept)
    by_year = [(label, amount) for label, amount in split_by_years(remaining, commission.start_date, new_end)
               if label not in closed]
    if not by_year:
        return current
    # The amounts of the open years: the days split, with the last year taking what rounding left.
    amounts = spread(remaining, [a for _, a in by_year]) if remaining > 0 else [0] * len(by_year)
    latest_stream = next((s.funding_stream_id for s in sorted(current, key=lambda s: s.year_label, reverse=True)
                          if s.funding_stream_id), None)
    out = list(kept)
    for (label, _), amount in zip(by_year, amounts):
        mine = [s for s in current if s.year_label == label]
        if not mine:
            out.append(ShareInput(label, amount, None, latest_stream))
            continue
        for s, part in zip(mine, spread(amount, [s.amount_pence for s in mine])):
            out.append(ShareInput(label, part, s.budget_line_id, s.funding_stream_id))
    return out


def finished_years(labels: set[str], reported: bool = True) -> set[str]:
    """Of ``labels``, the funding years whose money a variation leaves alone: the closed ones and, with ``reported``,
    those with a return issued (their figures were reported and signed for). One query."""
    from tracker.models import PccReturn

    issued = select(PccReturn.id).where(PccReturn.funding_year_id == FundingYear.id, PccReturn.status == "issued")
    finished = FundingYear.status == "closed"
    if reported:
        finished = finished | issued.exists()
    return set(db.session.scalars(select(FundingYear.label).where(FundingYear.label.in_(labels or [""]), finished)))


def delete_commission(commission: Commission) -> str:
    """Delete a commission still in the pipeline (audited); anything later must be terminated or ended."""
    require_open_contract(commission)
    if commission.status not in DELETABLE_STATUSES:
        raise NotAllowed(
            f"{commission.reference} is {commission.status}, so it cannot be deleted: only commissions still in the "
            "pipeline can be. Change its status to terminated (stopped early) or ended (finished) instead.")
    spend = db.session.scalar(select(func.count(LedgerTransaction.id)).where(LedgerTransaction.commission_id == commission.id))
    if spend:
        raise NotAllowed(f"{commission.reference} has {spend} ledger line(s) matched to it, so it cannot be deleted.")
    reference = commission.reference
    before = audit.snapshot(commission, COMMISSION_FIELDS)
    audit.record(REALM, "delete", commission, f"Deleted commission {reference}", before, None)
    # Keep what pointed at it, unlinked: milestones and supplier choices outlive a deleted plan.
    db.session.execute(update(Milestone).where(Milestone.commission_id == commission.id).values(commission_id=None))
    db.session.execute(update(SupplierAlias).where(SupplierAlias.commission_id == commission.id).values(commission_id=None))
    # A published Procurement Act notice is a record of what was published: kept, unlinked (tracker/procurement).
    db.session.execute(update(ProcurementNotice).where(ProcurementNotice.commission_id == commission.id)
                       .values(commission_id=None, variation_id=None))
    for variation in list(commission.variations):
        db.session.delete(variation)
    db.session.delete(commission)
    db.session.flush()
    return reference


# --- Providers ----------------------------------------------------------------------------------------------

def _provider_rules(data: dict, supplier_ids: list[str], provider: Provider | None) -> dict[str, str]:
    errors = {}
    if not data["name"]:
        return {"name": "Enter the provider's name"}
    existing = find_provider_by_name(data["name"])
    if existing is not None and (provider is None or existing.id != provider.id):
        errors["name"] = f"There is already a provider called {existing.name}"
    if supplier_ids:
        taken = db.session.execute(
            select(SupplierAlias.value, Provider.name).join(Provider)
            .where(SupplierAlias.kind == "supplier_id", SupplierAlias.value.in_(supplier_ids),
                   *([SupplierAlias.provider_id != provider.id] if provider is not None else []))
        ).first()
        if taken:
            errors["supplier_ids"] = f"Supplier ID {taken[0]} already belongs to {taken[1]}"
    return errors


def _set_supplier_ids(provider: Provider, supplier_ids: list[str]) -> tuple[list[str], list[str]]:
    current = {a.value: a for a in provider.supplier_aliases if a.kind == "supplier_id"}
    for value, alias in current.items():
        if value not in supplier_ids:
            db.session.delete(alias)
    for value in supplier_ids:
        if value not in current:
            db.session.add(SupplierAlias(provider=provider, kind="supplier_id", value=value))
    return sorted(current), sorted(supplier_ids)


def _provider_data(data: dict) -> dict:
    return {k: (data.get(k) or "").strip() if k not in PROVIDER_FLAGS else bool(data.get(k)) for k in PROVIDER_FIELDS}


def create_provider(data: dict, supplier_ids: list[str] = (), *, user_id: int | None = None, source: str = "",
                    realm: str = REALM) -> Provider:
    """Add a provider (``PROVIDER_FIELDS`` in ``data``) and its ledger supplier IDs, audited; raises FieldErrors.
    The one way a provider is made: the providers form, a new name typed on the commission form, the commissions
    register import and the demo all come here. ``source``, ``realm`` and ``user_id`` as for ``create_commission``."""
    data = _provider_data(data)
    supplier_ids = list(supplier_ids)
    errors = _provider_rules(data, supplier_ids, None)
    if errors:
        raise FieldErrors(errors)
    provider = Provider(**data)
    db.session.add(provider)
    db.session.flush()
    _set_supplier_ids(provider, supplier_ids)
    after = {**audit.snapshot(provider, PROVIDER_FIELDS), "supplier_ids": supplier_ids}
    audit.record(realm, "create", provider, f"Added provider {provider.name}{_from(source)}", None, after,
                 user_id=user_id)
    return provider


def find_or_create_provider(name: str, **flags) -> Provider:
    """The provider of this name (``provider_key``), added with ``flags`` when there is none."""
    return find_provider_by_name(name) or create_provider({"name": name, **flags})


def save_provider(provider: Provider | None, data: dict, supplier_ids: list[str],
                  version: int | None = None) -> Provider:
    """Add (``provider`` None) or change a provider and its ledger supplier IDs, audited; raises FieldErrors, or
    ``locking.Stale`` for a change made from a form shown at another ``version``."""
    if provider is None:
        return create_provider(data, supplier_ids)
    locking.check_version(provider, version)
    data = _provider_data(data)
    errors = _provider_rules(data, supplier_ids, provider)
    if errors:
        raise FieldErrors(errors)
    before = audit.snapshot(provider, PROVIDER_FIELDS)
    for key, value in data.items():
        setattr(provider, key, value)
    old_ids, new_ids = _set_supplier_ids(provider, supplier_ids)
    changed_before, changed_after = audit.diff({**before, "supplier_ids": old_ids},
                                               {**audit.snapshot(provider, PROVIDER_FIELDS), "supplier_ids": new_ids})
    if changed_after:
        flag_modified(provider, "name")  # a change of supplier IDs alone is a change of the provider (its version)
    locking.flush(provider)
    if changed_after:
        audit.record(REALM, "change", provider, f"Changed provider {provider.name}", changed_before, changed_after)
    return provider
