"""The home page."""
from __future__ import annotations

from datetime import date

from flask import Blueprint, g, request
from flask_login import current_user

from tracker.auth.roles import EVERYONE, roles_required
from tracker.figures import table_total, with_not_on_a_line, year_figures
from tracker.funding.service import choose_budget_view
from tracker.milestones.routes import today as milestones_today
from tracker.milestones.service import next_deadlines_and_overdue
from tracker.monitoring.service import cyp_by_strand
from tracker.periods import QUARTER_NAMES
from tracker.web import render

bp = Blueprint("main", __name__)


@bp.route("/")
@roles_required(*EVERYONE)
def home():
    """The chosen funding year (``?year=``) as at the end of the chosen quarter (``?quarter=``, else the quarter in
    progress), chosen as on the budget page (``choose_budget_view``): allocation, committed and actual spend per
    stream and strand, and the forecast variance worded as the budget page words it."""
    view = choose_budget_view(request.args, date.today())
    years, year, quarter = view.years, view.year, view.quarter
    # Home shows no "movement since the last return", so the engine skips reading the last return's forecasts.
    summary = year_figures(year, quarter, movement=False) if year else None
    tables = None
    if summary:
        strands = with_not_on_a_line(summary.strands, summary)
        tables = {"streams": with_not_on_a_line(summary.streams, summary), "strands": strands,
                  "strand_total": table_total(strands, summary.quarter)}
    today = milestones_today()
    deadlines, overdue = next_deadlines_and_overdue(limit=5, today=today, user=current_user)
    g.nav_badges = {"milestones.index": overdue}  # the navigation badge, counted by the same query (no second one)
    return render("main/home.html", "content", year=year, years=years, quarter=quarter, quarter_names=QUARTER_NAMES,
                  summary=summary, tables=tables, next_deadlines=deadlines, today_for_deadlines=today,
                  cyp_chart=cyp_by_strand(year))
