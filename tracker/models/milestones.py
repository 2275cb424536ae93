"""Milestones and deadlines: Young Futures, grant cycle, contracts."""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import ForeignKey, String, Text, false
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Base, utcnow

PROGRAMMES = ("Young Futures", "VRU grant", "Serious Violence Duty", "Contract", "Procurement Act", "Other")
MILESTONE_STATUSES = ("not started", "in progress", "done", "missed")
# What a milestone is: typed in by a person, or one of the deadlines the app makes from a year or a commission.
MILESTONE_KINDS = ("milestone", "quarterly return", "final claim", "annual report", "contract end", "contract review",
                   "end decision", "period end", "grant claim", "statutory document",
                   "procurement notice")
# Events happen on their date whatever anyone does (a contract ends); everything else is a task, something a person
# must do by its date. Only a task has a status that matters, and only a task can be overdue.
EVENT_KINDS = ("contract end", "period end")


class Milestone(Base):
    """Something due by a date, owned by a person; either typed in or made from a funding year or commission.

    Unique: ``source_key`` for generated deadlines (one per source and kind, never duplicated)."""

    __tablename__ = "milestones"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: What is due.
    title: Mapped[str] = mapped_column(String(200))
    #: Young Futures, VRU grant, Serious Violence Duty, Contract or Other.
    programme: Mapped[str] = mapped_column(String(40), default="Other")
    #: The date it is due.
    due_date: Mapped[date] = mapped_column(index=True)
    #: The person responsible.
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    #: True when the app chose the owner of a generated deadline (the commission's contract manager or the
    #: funding stream's finance lead): it follows them until a person picks an owner.
    owner_is_default: Mapped[bool] = mapped_column(default=False, server_default=false())
    #: not started, in progress, done or missed.
    status: Mapped[str] = mapped_column(String(20), default="not started")
    #: The date it was done.
    completed_date: Mapped[date | None]
    #: What shows it was done (notes).
    evidence: Mapped[str] = mapped_column(Text, default="")
    #: A link to evidence (a document or web page).
    evidence_link: Mapped[str] = mapped_column(String(500), default="")
    #: The funding year it belongs to, if any.
    funding_year_id: Mapped[int | None] = mapped_column(ForeignKey("funding_years.id"), index=True)
    #: The commission it belongs to, if any.
    commission_id: Mapped[int | None] = mapped_column(ForeignKey("commissions.id"), index=True)
    #: For a deadline the app made itself: what made it (e.g. ``year:3:q2-return``); None when typed in.
    source_key: Mapped[str | None] = mapped_column(String(80), unique=True)
    #: milestone (typed in) or the kind of deadline the app made: quarterly return, final claim, annual report,
    #: contract end, contract review, procurement notice.
    kind: Mapped[str] = mapped_column(String(20), default="milestone")
    #: When it was added.
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    #: When it last changed (calendar feeds give this as LAST-MODIFIED so subscribed calendars refresh the event).
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    #: Counts saves; a save from a form opened at an older version is refused (two people editing at once).
    version: Mapped[int] = mapped_column(default=1)
    __mapper_args__ = {"version_id_col": version}

    owner: Mapped["User | None"] = relationship()  # noqa: F821
    funding_year: Mapped["FundingYear | None"] = relationship()  # noqa: F821
    commission: Mapped["Commission | None"] = relationship()  # noqa: F821

    @property
    def generated(self) -> bool:
        """True for a deadline the app made from a funding year or commission (its date follows the source)."""
        return self.source_key is not None

    @property
    def is_event(self) -> bool:
        """Something that happens on its date (a contract ends), not something a person must do."""
        return self.kind in EVENT_KINDS

    @property
    def closed(self) -> bool:
        """Done or missed: nothing more is expected."""
        return self.status in ("done", "missed")
