"""Withdrawing a committed import: the rule for when it may be, what it will change, and taking it back out (its
rows go and what it changed, a contract's funding shares included, is put back exactly)."""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import func, select

from tracker import audit, transitions
from tracker.commissions.service import record_status_change
from tracker.commissions.shares import ShareInput, set_shares
from tracker.extensions import db
from tracker.imports.drafts import REALM, _and
from tracker.imports.problems import ImportRefused
from tracker.models import (
    BudgetLine, ColumnMapping, Commission, FundingYear, ImportBatch, LedgerTransaction, Provider, utcnow,
)

# --- withdraw -----------------------------------------------------------------------------------------------

_MODELS = {"LedgerTransaction": LedgerTransaction, "Commission": Commission, "Provider": Provider,
           "BudgetLine": BudgetLine, "ColumnMapping": ColumnMapping}


def _restore_value(model, name: str, value):
    column = model.__table__.c[name]
    if value is not None and isinstance(value, str):
        try:
            python_type = column.type.python_type
        except NotImplementedError:
            return value
        if python_type is date:
            return date.fromisoformat(value)
        if python_type is datetime:
            return datetime.fromisoformat(value)
    return value


def withdraw(batch: ImportBatch, user_id: int | None = None) -> list[str]:
    """Take a committed batch back out: its rows go and what it changed is restored (caller commits).

    Returns notes about records kept because something else now uses them.
    """
    refusal = withdraw_refusal(batch)
    if refusal is not None:
        raise refusal
    # Claim it (committed -> withdrawn, one conditional UPDATE): of two withdrawals at once, only one puts values back.
    try:
        transitions.move(batch, "committed", message="Someone else has just withdrawn this import; reload the page "
                         "to see it.", status="withdrawn", withdrawn_at=utcnow(), withdrawn_by_id=user_id)
    except transitions.Lost as exc:
        raise ImportRefused(exc.description, 409, batch=exc.record) from None
    notes: list[str] = []
    undo = batch.undo or {}
    if batch.kind == "ledger":
        removed = db.session.execute(
            LedgerTransaction.__table__.delete().where(LedgerTransaction.import_batch_id == batch.id)).rowcount
        notes.append(f"{removed} ledger line{'s' if removed != 1 else ''} removed")
    for item in reversed(undo.get("updated", [])):
        if item["model"] == "FundingShares":  # a contract's shares as they were before the import
            commission = db.session.get(Commission, item["id"])
            if commission is not None:
                set_shares(commission, [ShareInput(d["year_label"], d["amount_pence"], d.get("budget_line_id"),
                                                   d.get("funding_stream_id")) for d in item["before"]])
            continue
        model = _MODELS[item["model"]]
        obj = db.session.get(model, item["id"])
        if obj is None:
            continue
        status_then = obj.status if model is Commission else None
        for name, value in item["before"].items():
            setattr(obj, name, _restore_value(model, name, value))
        if model is Commission and obj.status != status_then:
            # The import changed its status: put it back as a contract event, so its history stays true.
            record_status_change(obj, status_then, obj.status, note=f"Import {batch.id} withdrawn.", user_id=user_id)
    db.session.flush()
    from tracker.imports.matching import recheck_holds

    for commission_id in dict.fromkeys(i["id"] for i in undo.get("updated", []) if i["model"] == "Commission"):
        recheck_holds(commission_id)  # its status or dates are back as they were: so is whether its lines count
    for mapping_id in undo.get("created", {}).get("ColumnMapping", []):
        saved = db.session.get(ColumnMapping, mapping_id)
        if saved is not None and saved.mapping == (batch.mapping or {}).get("columns"):
            db.session.delete(saved)  # the mapping this import taught, unless a later import changed it since
    for model_name in ("Commission", "BudgetLine", "Provider"):
        model = _MODELS[model_name]
        for obj_id in undo.get("created", {}).get(model_name, []):
            obj = db.session.get(model, obj_id)
            if obj is None:
                continue
            label = getattr(obj, "reference", None) or getattr(obj, "name", None) or obj_id
            try:
                with db.session.begin_nested():
                    db.session.delete(obj)
                    db.session.flush()
            except Exception:  # something else refers to it now (a ledger line, a variation, a milestone...)
                notes.append(f"{model_name.replace('BudgetLine', 'budget line').lower()} {label} kept because "
                             "other records now refer to it")
    audit.record(REALM, "negative", batch, f"Withdrew import {batch.id} ({batch.filename})",
                 {"status": "committed"}, {"status": "withdrawn", "notes": notes}, user_id=user_id)
    return notes


def withdraw_refusal(batch: ImportBatch) -> ImportRefused | None:
    """Why ``batch`` cannot be withdrawn (None when it can): the rule the confirmation page and withdraw share."""
    if batch.status != "committed":
        return ImportRefused(f"Only a committed import can be withdrawn; this one is {batch.status}.", 409)
    closed = _closed_years_touched(batch)
    if closed:
        return ImportRefused(f"This import changed funding year {_and(sorted(closed))}, which is closed, so it "
                             "cannot be withdrawn. An administrator can reopen the year if a correction is needed.", 409)
    return None


def withdraw_effects(batch: ImportBatch) -> list[str]:
    """What withdrawing ``batch`` will change, in sentences for the confirmation page (nothing is changed)."""
    from tracker.money import format_pence

    out: list[str] = []
    undo = batch.undo or {}
    if batch.kind == "ledger":
        count, net = db.session.execute(
            select(func.count(LedgerTransaction.id), func.coalesce(func.sum(LedgerTransaction.net_pence), 0))
            .where(LedgerTransaction.import_batch_id == batch.id)).one()
        out.append(f"{count} ledger line{'s' if count != 1 else ''} ({format_pence(int(net))} net) will be removed, "
                   "so their spend leaves the commissions and budget lines they were matched to.")
    names = {"Commission": ("commission", "commissions"), "BudgetLine": ("budget line", "budget lines"),
             "Provider": ("provider", "providers")}
    updated: dict[str, int] = {}
    for item in undo.get("updated", []):
        updated[item["model"]] = updated.get(item["model"], 0) + 1
    for model, n in updated.items():
        one, many = names.get(model, (model.lower(), model.lower() + "s"))
        out.append(f"{n} {one if n == 1 else many} will go back to the values they had before this import.")
    for model, ids in (undo.get("created") or {}).items():
        if ids:
            one, many = names.get(model, (model.lower(), model.lower() + "s"))
            out.append(f"{len(ids)} {one if len(ids) == 1 else many} this import added will be deleted, unless other "
                       "records now refer to them (those are kept and listed afterwards).")
    if not out:
        out.append("Nothing this import recorded is still in the tracker; it will only be marked withdrawn.")
    out.append("The import stays in the history, marked withdrawn, and the withdrawal is in the audit trail.")
    return out


def _closed_years_touched(batch: ImportBatch) -> set[str]:
    if batch.kind == "ledger":
        q = (select(FundingYear.label).join(LedgerTransaction, LedgerTransaction.funding_year_id == FundingYear.id)
             .where(LedgerTransaction.import_batch_id == batch.id, FundingYear.status == "closed").distinct())
        return set(db.session.scalars(q))
    if batch.funding_year_id:
        year = db.session.get(FundingYear, batch.funding_year_id)
        if year is not None and year.is_closed:
            return {year.label}
    if batch.kind == "commissions":
        ids = [i["id"] for i in (batch.undo or {}).get("updated", []) if i["model"] == "Commission"]
        ids += (batch.undo or {}).get("created", {}).get("Commission", [])
        if ids:
            q = (select(FundingYear.label).join(Commission, Commission.funding_year_id == FundingYear.id)
                 .where(Commission.id.in_(ids), FundingYear.status == "closed").distinct())
            return set(db.session.scalars(q))
    return set()
