"""The home page."""
from __future__ import annotations

from flask import Blueprint, request
from sqlalchemy import select

from tracker.auth.roles import EVERYONE, roles_required
from tracker.extensions import db
from tracker.figures import current_year, reporting_quarter_of, table_total, with_not_on_a_line, year_figures
from tracker.milestones.service import next_deadlines
from tracker.models import FundingYear
from tracker.monitoring.service import cyp_by_strand
from tracker.web import render

bp = Blueprint("main", __name__)


def chosen_year() -> FundingYear | None:
    """The year named by ``?year=2025-26``, else the current one. An unknown label falls back, with no error."""
    label = (request.args.get("year") or "").strip()
    if label:
        year = db.session.scalar(select(FundingYear).where(FundingYear.label == label))
        if year is not None:
            return year
    return current_year()


@bp.route("/")
@roles_required(*EVERYONE)
def home():
    """The chosen funding year: allocation, committed and actual spend per stream and strand."""
    year = chosen_year()
    years = db.session.scalars(select(FundingYear).order_by(FundingYear.start_date.desc())).all()
    summary = year_figures(year, reporting_quarter_of(year)) if year else None
    tables = None
    if summary:
        strands = with_not_on_a_line(summary.strands, summary)
        tables = {"streams": with_not_on_a_line(summary.streams, summary), "strands": strands,
                  "strand_total": table_total(strands, summary.quarter)}
    return render("main/home.html", "content", year=year, years=years, summary=summary, tables=tables,
                  next_deadlines=next_deadlines(limit=5), cyp_chart=cyp_by_strand(year))
