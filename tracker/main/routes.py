"""The home page."""
from __future__ import annotations

from datetime import date

from flask import Blueprint, request
from tracker.auth.roles import EVERYONE, roles_required
from tracker.figures import table_total, with_not_on_a_line, year_figures
from tracker.funding.rules import choose_year
from tracker.funding.service import all_years
from tracker.milestones.service import next_deadlines
from tracker.models import FundingYear
from tracker.monitoring.service import cyp_by_strand
from tracker.periods import quarter_in_progress
from tracker.web import render

bp = Blueprint("main", __name__)


def chosen_year(years: list[FundingYear] | None = None) -> FundingYear | None:
    """The year named by ``?year=2025-26``, else the current one (``choose_year``: a bad one is a 400 or 404)."""
    return choose_year(request.args, years=years)


@bp.route("/")
@roles_required(*EVERYONE)
def home():
    """The chosen funding year: allocation, committed and actual spend per stream and strand."""
    years = all_years()
    year = chosen_year(years)
    summary = year_figures(year, quarter_in_progress(year.label, date.today())) if year else None
    tables = None
    if summary:
        strands = with_not_on_a_line(summary.strands, summary)
        tables = {"streams": with_not_on_a_line(summary.streams, summary), "strands": strands,
                  "strand_total": table_total(strands, summary.quarter)}
    return render("main/home.html", "content", year=year, years=years, summary=summary, tables=tables,
                  next_deadlines=next_deadlines(limit=5), cyp_chart=cyp_by_strand(year))
