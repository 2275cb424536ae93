"""Credits "to be re-invoiced": finance marks a contract's credit line that will be invoiced again (a disputed
invoice credited and to be reissued), so it stays outstanding commitment instead of settling what was paid.

Which credits are settled is ``tracker.models.ledger.settled_credit()``, the one definition the figures engine uses.
"""
from __future__ import annotations

from sqlalchemy import update

from tracker import audit
from tracker.errors import abort_with, get_or_404
from tracker.extensions import db
from tracker.funding.rules import require_open_year
from tracker.models import FundingYear, LedgerTransaction
from tracker.models.ledger import can_be_reinvoiced
from tracker.money import format_pence

ANSWERS = {"yes": True, "no": False}


class Stale(Exception):
    """The line's flag is no longer what the person saw: someone changed it meanwhile."""


def get_line_or_404(line_id: int) -> LedgerTransaction:
    return get_or_404(LedgerTransaction, line_id, "There is no such ledger line.")


def parse_answer(value: str | None, what: str) -> bool:
    """A form's "yes" or "no" as a bool; anything else stops with a 422 that says what was expected."""
    answer = ANSWERS.get((value or "").strip().lower())
    if answer is None:
        abort_with(422, f"Say whether the credit {what}: yes or no.")
    return answer


def mark_reinvoice(line: LedgerTransaction, reinvoice: bool, seen: bool) -> None:
    """Mark (or unmark) ``line`` "to be re-invoiced", if its flag is still ``seen`` (a conditional update, so two
    people changing it at once cannot both win: the second gets ``Stale``). Audited; the caller commits.

    Refused with a 422 when the line is not a credit, a 409 when its funding year is closed."""
    if not can_be_reinvoiced(line):
        abort_with(422, f"Ledger line {line.reference} is not a credit (a negative line of type credit), so it "
                        "cannot be marked to be re-invoiced.")
    if line.funding_year_id is not None:
        require_open_year(db.session.get(FundingYear, line.funding_year_id))
    result = db.session.execute(
        update(LedgerTransaction)
        .where(LedgerTransaction.id == line.id, LedgerTransaction.reinvoice.is_(seen))
        .values(reinvoice=reinvoice).execution_options(synchronize_session=False))
    if result.rowcount != 1:
        raise Stale
    db.session.refresh(line)
    if reinvoice == seen:
        return  # nothing changed: no event
    words = "marked to be re-invoiced" if reinvoice else "no longer to be re-invoiced: an agreed credit"
    audit.record("imports", "change", line, f"Credit {line.reference} ({format_pence(line.net_pence)}) {words}",
                 {"reinvoice": seen}, {"reinvoice": reinvoice})
