"""Milestones and deadlines: the grouped list, the month-by-month timeline, adding, editing and completing,
the personal calendar feed and the ``.ics`` download. Managers (and admins) change; everyone reads."""
from __future__ import annotations

from datetime import date

from flask import Blueprint, Response, current_app, flash, g, request, url_for
from flask_login import current_user
from sqlalchemy import select

from tracker import audit, locking
from tracker import settings as app_settings
from tracker.auth.roles import EVERYONE, MANAGER, public, roles_required
from tracker.commissions.service import get_commission_or_404
from tracker.errors import abort_with
from tracker.extensions import db
from tracker.milestones import calendar as ical
from tracker.milestones import service
from tracker.milestones.forms import CalendarTokenForm, CompleteForm, MilestoneForm
from tracker.models import Commission, FundingYear, Milestone, User
from tracker.models.milestones import PROGRAMMES
from tracker.web import is_htmx, render, see_other, send_download

bp = Blueprint("milestones", __name__, url_prefix="/milestones")

def today() -> date:
    """Today's date; one place so tests can fix the clock (``app.config["MILESTONES_TODAY"]``)."""
    return current_app.config.get("MILESTONES_TODAY") or date.today()


@bp.app_context_processor
def nav_badges():
    """The number of overdue tasks beside "Deadlines" in the navigation: the user's own, plus unowned ones for
    managers; viewers see none. One count query per page."""
    if not current_user.is_authenticated or request.endpoint in (None, "static"):
        return {}
    if "nav_badges" in g:  # counted already by the page's own query (home: ``next_deadlines_and_overdue``)
        return {"nav_badges": g.nav_badges}
    return {"nav_badges": {"milestones.index": service.overdue_count(current_user, today())}}


@bp.app_template_filter("non_working_day")
def non_working_day_filter(d: date | None) -> str:
    return (service.non_working_day(d) or "") if d else ""


# The deadline tags ask the service's rules rather than restating them in the template.
bp.add_app_template_global(service.is_overdue, "is_overdue")
bp.add_app_template_global(service.needs_end_decision, "needs_end_decision")
bp.add_app_template_global(service.lapsed, "lapsed")


def _choices():
    users = db.session.scalars(select(User).where(User.active.is_(True)).order_by(User.name)).all()
    years = db.session.scalars(select(FundingYear).order_by(FundingYear.start_date.desc())).all()
    return users, years


def _list_context(filters):
    users, years = _choices()
    return dict(filters=filters, users=users, years=years, programmes=PROGRAMMES, today=today(),
                ending_soon_days=app_settings.get("ending_soon_days"), can_edit=current_user.has_role(MANAGER))


@bp.route("/")
@roles_required(*EVERYONE)
def index():
    """Overdue tasks, then the next 30 days week by week; later weeks and what is done, missed or past are
    folded away. Filterable."""
    filters = service.parse_filters(request.args)
    items = [m for m in service.find(filters) if service.seen_by(m, current_user)]
    status = 400 if filters.problems else 200
    groups = service.personal(items, current_user, today())
    return render("milestones/index.html", "results", status=status,
                  groups=groups, weeks_soon=service.by_week(groups["soon"], today()),
                  weeks_team=service.by_week(groups["team_soon"], today()),
                  weeks_events=service.by_week(groups["events"], today()),
                  weeks_later=service.by_week(groups["later"], today()),
                  group_labels=dict(service.PERSONAL_GROUPS), count=len(items),
                  acts_on_tasks=service.acts_on_tasks(current_user),
                  view="list", monitoring_due=_monitoring_due(filters), **_list_context(filters))


def _monitoring_due(filters) -> list | None:
    """Provider monitoring returns overdue (a quarter ended with no actuals), from the monitoring area; worked
    out each time rather than stored as milestones, so they go as soon as the actuals arrive. They have no
    owner or programme, so those filters leave them out (None: the section is not shown)."""
    if filters.owner or filters.programme or filters.problems:
        return None
    from tracker.monitoring.service import monitoring_due

    return monitoring_due(today(), year=filters.year_obj)


@bp.route("/timeline")
@roles_required(*EVERYONE)
def timeline():
    """The same deadlines month by month."""
    filters = service.parse_filters(request.args)
    items = [m for m in service.find(filters) if service.seen_by(m, current_user)]
    status = 400 if filters.problems else 200
    return render("milestones/timeline.html", "results", status=status, months=service.timeline(items),
                  count=len(items), view="timeline", **_list_context(filters))


@bp.route("/deadlines.ics")
@roles_required(*EVERYONE)
def download():
    """The filtered deadlines as a calendar file to import once (subscribe to the feed to stay up to date)."""
    filters = service.parse_filters(request.args)
    if filters.problems:
        abort_with(400, " and ".join(filters.problems.values()) + ". The calendar was not made.")
    body = ical.build_calendar(service.find(filters), "VRU deadlines", _absolute_url)
    name = "-".join(["vru-deadlines", *[v.replace(" ", "-").lower() for v in filters.as_args().values()]])
    return send_download(body, f"{name}.ics", "text/calendar")


def _saved(form, save, message, template: str = "milestones/form.html"):
    """Run ``save`` (a service call, giving the milestone and what the call returned); commit, say
    ``message(m, result)`` and go back to the milestone. None when the evidence rule refused it, with the reason
    at the evidence field: the caller shows the form again (422). A form shown before someone else saved the
    milestone is refused: ``template`` again, 409, with their values beside this person's."""
    try:
        m, result = save()
    except service.NeedsEvidence as exc:
        form.evidence.errors.append(str(exc))
        return None
    except locking.Stale as exc:
        m = exc.record
        locking.show_version(form, m)
        fields = [(getattr(form, name).label.text, str(getattr(m, name) or ""), str(getattr(form, name).data or ""))
                  for name in service.FIELDS if name in form]
        return render(template, "form", status=409, form=form, m=m,
                      conflict=locking.conflict("milestone", m, fields=fields))
    db.session.commit()
    flash(message(m, result), "success")
    return see_other(url_for("milestones.show", milestone_id=m.id))


def _absolute_url(m: Milestone) -> str:
    return url_for("milestones.show", milestone_id=m.id, _external=True)


@bp.route("/<int:milestone_id>")
@roles_required(*EVERYONE)
def show(milestone_id: int):
    """One milestone, its evidence and its history."""
    m = service.get_milestone_or_404(milestone_id)
    return render("milestones/show.html", m=m, history=audit.history(m), today=today(),
                  ending_soon_days=app_settings.get("ending_soon_days"), can_edit=current_user.has_role(MANAGER))


def _form(m: Milestone | None = None, generated: bool = False) -> MilestoneForm:
    users, years = _choices()
    commissions = db.session.scalars(select(Commission).order_by(Commission.reference)).all()
    return MilestoneForm(obj=m, users=users, years=years, commissions=commissions, generated=generated,
                         event=m is not None and m.is_event)


def _values(form) -> dict:
    """What the form says, for the fields it has (a generated deadline's or an event's form has fewer)."""
    return {name: form[name].data for name in service.FIELDS if name in form}


@bp.route("/new", methods=["GET", "POST"])
@roles_required(MANAGER)
def create():
    """Add a milestone; ``?commission=ID`` (the commission page's link) starts it linked to that commission,
    in its funding year and the Contract programme, and comes back to the commission afterwards."""
    form = _form()
    commission = _commission_from_args()
    if request.method == "GET":
        form.owner_id.data = current_user.id
        if commission is not None:
            form.commission_id.data, form.funding_year_id.data = commission.id, commission.funding_year_id
            form.programme.data = "Contract"
    earlier = locking.sent_before(form, "Milestone")
    if earlier is not None:  # the same form sent again: the milestone it added
        flash("This milestone was added when the form was first sent.", "success")
        return see_other(url_for("milestones.show", milestone_id=earlier))
    if form.validate_on_submit() and (done := _saved(form, lambda: (_made(form, service.add_milestone(_values(form))),
                                                                    None),
                                                      lambda m, _: f"Milestone '{m.title}' added.")):
        return done
    status = 422 if request.method == "POST" else 200
    return render("milestones/form.html", "form", status=status, form=form, m=None, commission=commission)


def _made(form, m: Milestone) -> Milestone:
    locking.made(form.once.data, m)
    return m


def _commission_from_args() -> Commission | None:
    """The commission named by ``?commission=``; a number that names none is refused with 404, anything else 400."""
    raw = request.args.get("commission", "")
    if not raw:
        return None
    if not raw.isdigit() or len(raw) > 9:
        abort_with(400, "The commission in the address is not a number. Start again from the commission's page.")
    return get_commission_or_404(int(raw))


@bp.route("/<int:milestone_id>/edit", methods=["GET", "POST"])
@roles_required(MANAGER)
def edit(milestone_id: int):
    """Change a milestone. A generated deadline's date follows its source, so only its owner, status and
    evidence are edited here."""
    m = service.milestone_to_change_or_404(milestone_id)
    form = _form(m, generated=m.generated)
    if form.validate_on_submit() and (done := _saved(
            form, lambda: (m, service.change_milestone(m, _values(form),
                                                       version=locking.version_of(form.version.data))),
            lambda m, changed: f"Milestone '{m.title}' saved." if changed else "Nothing was changed.")):
        return done
    status = 422 if request.method == "POST" else 200
    return render("milestones/form.html", "form", status=status, form=form, m=m)


@bp.route("/<int:milestone_id>/complete", methods=["GET", "POST"])
@roles_required(MANAGER)
def complete(milestone_id: int):
    """Mark a milestone done, with the date and the evidence."""
    m = service.milestone_to_change_or_404(milestone_id)
    if problem := service.not_a_task(m):
        abort_with(409, problem)
    form = CompleteForm(obj=m)
    if request.method == "GET" and not m.completed_date:
        form.completed_date.data = min(today(), date.today())
    if form.validate_on_submit() and (done := _saved(
            form, lambda: (m, service.complete_milestone(m, form.completed_date.data, form.evidence.data,
                                                         form.evidence_link.data,
                                                         version=locking.version_of(form.version.data))),
            lambda m, _: f"'{m.title}' marked done.", "milestones/complete.html")):
        return done
    status = 422 if request.method == "POST" else 200
    return render("milestones/complete.html", "form", status=status, form=form, m=m)


# --- The personal calendar feed ------------------------------------------------------------------------

def _feed_urls(user: User) -> dict[str, str] | None:
    if not user.calendar_token:
        return None
    mine = url_for("milestones.feed", token=user.calendar_token, _external=True)
    return {"mine": mine, "all": url_for("milestones.feed", token=user.calendar_token, scope="all", _external=True)}


@bp.route("/calendar")
@roles_required(*EVERYONE)
def calendar():
    """Your calendar feed: its secret address, and buttons to make, replace or revoke it."""
    user = current_user._get_current_object()
    return render("milestones/calendar.html", "feed", form=CalendarTokenForm(), urls=_feed_urls(user))


@bp.route("/calendar/token", methods=["POST"])
@roles_required(*EVERYONE)
def calendar_token():
    """Make, replace or revoke the signed-in user's own feed token (never anyone else's: no user is named)."""
    form = CalendarTokenForm()
    user = current_user._get_current_object()
    if not form.validate_on_submit():
        return render("milestones/calendar.html", "feed", status=422, form=form, urls=_feed_urls(user))
    action = form.action.data
    had = ical.change_feed(user, action)
    if action == "revoke":
        message = "Your calendar feed is switched off. Calendars subscribed to it will stop updating."
    else:
        message = ("Your calendar feed has a new address. Subscribe again with it: the old address no longer works."
                   if had else "Your calendar feed is ready. Copy its address into your calendar.")
    db.session.commit()
    flash(message, "success")
    if is_htmx():
        return render("milestones/calendar.html", "feed", form=CalendarTokenForm(), urls=_feed_urls(user))
    return see_other(url_for("milestones.calendar"))


@bp.route("/feed/<token>.ics")
@public
def feed(token: str):
    """The personal feed a calendar subscribes to. Public (calendars cannot sign in) but only with the right
    token; a wrong or revoked token gets the same 404 as a page that does not exist."""
    user = ical.user_for_token(token, db.session)
    if user is None:
        abort_with(404, "There is no calendar at this address. It may have been switched off or replaced.")
    scope = "all" if request.args.get("scope") == "all" else "mine"
    items = ical.feed_milestones(user, scope, db.session)
    name = "VRU deadlines" if scope == "all" else f"VRU deadlines: {user.name}"
    response = Response(ical.build_calendar(items, name, _absolute_url), mimetype="text/calendar")
    response.headers["Cache-Control"] = "private, max-age=900"
    response.headers["X-Robots-Tag"] = "noindex"
    return response
