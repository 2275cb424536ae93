"""Procurement Act notices (the list, a notice's CSV, marking one published) and the thresholds admins keep.

Thin views: the rules are in rules.py, the records in notices.py."""
from __future__ import annotations

from datetime import date

from flask import Blueprint, flash, request, url_for
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from tracker import audit
from tracker.auth.roles import ADMIN, EVERYONE, FINANCE, MANAGER, roles_required
from tracker.extensions import db
from tracker.milestones.service import sync_deadlines
from tracker.models import ProcurementNotice, ProcurementThreshold
from tracker.procurement import notices as service
from tracker.procurement.forms import (
    IssuePublicationForm, PersonalDataForm, PublishedWhereForm, PublishNoticeForm, ThresholdForm,
)
from tracker.web import render, see_other, send_download

bp = Blueprint("procurement", __name__)


@bp.route("/notices/")
@roles_required(*EVERYONE)
def index():
    """Every Procurement Act notice: what is due, what is published, with links to each contract."""
    notices = db.session.scalars(
        select(ProcurementNotice).options(joinedload(ProcurementNotice.commission))
        .order_by(ProcurementNotice.published_on.is_not(None), ProcurementNotice.due_date, ProcurementNotice.id)).all()
    return render("procurement/index.html", notices=notices, today=date.today(), label=service.label)


@bp.route("/notices/<int:notice_id>.csv")
@roles_required(*EVERYONE)
def notice_csv(notice_id: int):
    """The notice's fields as CSV (field, value), for pasting into the Central Digital Platform."""
    notice = service.get_notice_or_404(notice_id)
    ref = notice.commission.reference if notice.commission else "authority"
    return send_download(service.notice_csv(notice), f"{ref}-{notice.kind}-{notice.due_date:%Y-%m-%d}.csv",
                         "text/csv; charset=utf-8")


@bp.route("/notices/<int:notice_id>/published", methods=["POST"])
@roles_required(MANAGER)
def publish(notice_id: int):
    """Record that a notice was published: the date and its link. Its deadline is marked done."""
    notice = service.get_notice_or_404(notice_id)
    form = PublishNoticeForm(prefix=f"n{notice.id}")
    if not form.validate():
        if "csrf_token" in form.errors:
            form.form_errors.append("The form has expired: reload the page and try again.")
        return render("procurement/publish.html", "form", status=422, n=notice, form=form, label=service.label)
    try:
        service.mark_published(notice, form.published_on.data, form.link.data, db.session)
    except service.AlreadyPublished:
        notice = service.get_notice_or_404(notice_id)
        flash(f"{service.label(notice.kind)} was already recorded as published on {notice.published_on:%d/%m/%Y}; "
              "it was not recorded again.", "info")
    else:
        db.session.commit()
        flash(f"{service.label(notice.kind)} recorded as published on {notice.published_on:%d/%m/%Y}.", "success")
    if notice.commission_id is not None:
        return see_other(url_for("commissions.show", commission_id=notice.commission_id) + "#notices")
    return see_other(url_for(".index"))


@bp.route("/procurement/thresholds", methods=["GET", "POST"])
@roles_required(ADMIN)
def thresholds():
    """The Procurement Act thresholds by date: an admin adds one when they are revised (they are never edited,
    so what applied to a past procurement stays on record)."""
    form = ThresholdForm()
    status = 200
    if request.method == "POST":
        if form.validate():
            clash = db.session.scalar(select(ProcurementThreshold).where(
                ProcurementThreshold.category == form.category.data,
                ProcurementThreshold.applies_from == form.applies_from.data))
            if clash is not None:
                form.applies_from.errors.append(f"A {clash.category} threshold already applies from "
                                                f"{clash.applies_from:%d/%m/%Y}")
            else:
                t = ProcurementThreshold(category=form.category.data, amount_pence=form.amount_pence.data,
                                         applies_from=form.applies_from.data, source=(form.source.data or "").strip())
                db.session.add(t)
                db.session.flush()
                audit.record("admin", "create", t, f"Added a {t.category} threshold from {t.applies_from:%d/%m/%Y}",
                             None, audit.snapshot(t, ("category", "amount_pence", "applies_from", "source")))
                sync_deadlines(db.session)  # a new threshold can change which contracts owe notices
                db.session.commit()
                flash("Threshold added. Notices have been worked out again.", "success")
                return see_other(url_for(".thresholds"))
        status = 422
    rows = db.session.scalars(select(ProcurementThreshold).order_by(ProcurementThreshold.category,
                                                                    ProcurementThreshold.applies_from)).all()
    return render("procurement/thresholds.html", "form", status=status, form=form, rows=rows)


# --- Transparency publications ------------------------------------------------------------------------------

def _kind_or_404(kind_key: str):
    from tracker.errors import abort_with
    from tracker.procurement import transparency

    kind = transparency.get_kind(kind_key)
    if kind is None:
        abort_with(404, "There is no publication of that kind.")
    return kind


def _period_or_400(kind, text: str | None):
    from tracker.errors import abort_with
    from tracker.procurement import transparency

    if not text:
        return transparency.current_period(kind.unit, date.today())
    try:
        period = transparency.parse_period(kind.unit, text)
    except transparency.PeriodError as exc:
        abort_with(400, str(exc))
    problem = transparency.future_problem(period, date.today())
    if problem:
        abort_with(400, problem)
    return period


@bp.route("/publications/")
@roles_required(*EVERYONE)
def publications():
    """The transparency files: each kind, its period to prepare now, and the latest versions issued."""
    from tracker.models import Publication
    from tracker.procurement import transparency

    recent = db.session.scalars(select(Publication).options(joinedload(Publication.issued_by))
                                .order_by(Publication.issued_at.desc(), Publication.id.desc()).limit(20)).all()
    today = date.today()
    kinds = [(k, transparency.current_period(k.unit, today)) for k in transparency.KINDS.values()]
    return render("procurement/publications.html", kinds=kinds, recent=recent, KINDS=transparency.KINDS)


def _publication_page(kind, period, issue_form=None, status: int = 200, where_forms=None, decision_forms=None):
    from tracker import settings
    from tracker.procurement import transparency

    table = transparency.build(kind, period, db.session)
    values = settings.get_many(*transparency.TRANSPARENCY_SETTINGS)
    versions = transparency.versions(db.session, kind, period)
    if issue_form is None:
        issue_form = IssuePublicationForm(formdata=None, period=period.key)
    where_forms, decision_forms = where_forms or {}, decision_forms or {}
    return render("procurement/publication.html", "issue", status=status, error=status >= 400, kind=kind, period=period, table=table,
                  due=kind.due(period, values), versions=versions, issue_form=issue_form,
                  refused=transparency.refusals(kind, values),
                  where_form=lambda p: where_forms.get(p.id) or PublishedWhereForm(formdata=None, prefix=f"p{p.id}"),
                  can_issue=current_user.has_role(MANAGER) or current_user.has_role(FINANCE),
                  can_decide=current_user.has_role(FINANCE),
                  decision_form=lambda r: decision_forms.get(r.key) or _decision_form(r, period))


def _decision_form(item, period):
    decision = next((line.decision for line in item.verdict.doubtful_lines if line.decision is not None), None)
    data = {"period": period.key}
    if decision is not None:
        data.update(decision="publish" if decision.publish else "redact", reason=decision.reason)
    return PersonalDataForm(formdata=None, prefix=f"l{item.key}", data=data)


@bp.route("/publications/<kind_key>")
@roles_required(*EVERYONE)
def publication(kind_key: str):
    """One file for one period: due date, preview on screen, the versions issued, and issuing."""
    kind = _kind_or_404(kind_key)
    return _publication_page(kind, _period_or_400(kind, request.args.get("period")))


@bp.route("/publications/<kind_key>/draft.csv")
@roles_required(*EVERYONE)
def publication_draft(kind_key: str):
    """The file as it would be issued now (a draft: it changes as the data does)."""
    from tracker.procurement import transparency

    kind = _kind_or_404(kind_key)
    period = _period_or_400(kind, request.args.get("period"))
    table = transparency.build(kind, period, db.session)
    return send_download(transparency.file_bytes(table), transparency.download_name(kind, period, None),
                         "text/csv; charset=utf-8")


@bp.route("/publications/<kind_key>/issue", methods=["POST"])
@roles_required(MANAGER, FINANCE)
def issue_publication(kind_key: str):
    """Freeze the file for the period as the next version (a correction needs a note)."""
    from tracker import files
    from tracker.procurement import transparency

    kind = _kind_or_404(kind_key)
    form = IssuePublicationForm()
    period = _period_or_400(kind, form.period.data or "")
    if not form.validate():
        return _publication_page(kind, period, form, 422)
    try:
        latest = (form.latest.data or "").strip()  # absent from a hand-made POST: then only the race is caught
        pub = transparency.issue(db.session, kind, period, current_user, form.correction_note.data or "",
                                 seen_latest=int(latest) if latest.isdigit() else None)
    except transparency.IssueProblem as exc:
        db.session.rollback()
        form.correction_note.errors = [str(exc)]
        return _publication_page(kind, period, form, 422)
    try:
        db.session.commit()
    except Exception:
        db.session.rollback()
        files.remove(pub.stored_path)
        raise
    flash(f"{kind.title} for {period.name} issued as version {pub.version}.", "success")
    return see_other(url_for(".publication", kind_key=kind.key, period=period.key))


@bp.route("/publications/<kind_key>/lines/<int:line_id>/personal-data", methods=["POST"])
@roles_required(FINANCE)
def personal_data_decision(kind_key: str, line_id: int):
    """Finance's decision on a payment that may name a person: redact it, or let it through with a reason (kept for
    every later version of the file, and audited)."""
    from sqlalchemy.exc import IntegrityError

    from tracker.errors import abort_with
    from tracker.models import LedgerTransaction
    from tracker.procurement import personal_data, transparency

    kind = _kind_or_404(kind_key)
    form = PersonalDataForm(prefix=f"l{line_id}")
    period = _period_or_400(kind, form.period.data or "")
    if db.session.get(LedgerTransaction, line_id) is None:
        abort_with(404, "There is no ledger line with that number.")
    table = transparency.build(kind, period, db.session)
    item = next((r for r in table.review if line_id in r.line_ids), None)
    if item is None or not item.verdict.needs_decision:
        abort_with(409, f"That payment is not one to decide in {kind.title} for {period.name} now (its details may "
                        "have changed): reload the page to see the review list as it is.")
    if not form.validate():
        return _publication_page(kind, period, status=422, decision_forms={item.key: form})
    publish = form.decision.data == "publish"
    personal_data.decide(db.session, item, publish, form.reason.data or "", current_user.id)
    try:
        db.session.commit()
    except IntegrityError:  # someone else decided the same line at the same moment: theirs stands
        db.session.rollback()
        abort_with(409, "Someone else has just decided this payment: reload the page to see their decision.")
    flash(f"{item.reference}: {'let through, with your reason' if publish else 'redacted'}.", "success")
    return see_other(url_for(".publication", kind_key=kind.key, period=period.key) + "#personal-data")


@bp.route("/publications/issued/<int:publication_id>.csv")
@roles_required(*EVERYONE)
def publication_download(publication_id: int):
    """An issued file: the same bytes on every download."""
    from tracker.errors import abort_with
    from tracker import files
    from tracker.procurement import transparency

    pub = transparency.get_publication_or_404(publication_id)
    kind = transparency.get_kind(pub.kind)
    try:
        content = transparency.stored_bytes(pub)
    except (FileNotFoundError, files.OutsideDataDir, files.FileChanged):
        abort_with(410, "The issued file is missing from the data folder or no longer matches what was issued. "
                        "Restore it from the backup.")
    period = transparency.parse_period(kind.unit, pub.period)
    return send_download(content, transparency.download_name(kind, period, pub.version), "text/csv; charset=utf-8")


@bp.route("/publications/issued/<int:publication_id>/published", methods=["POST"])
@roles_required(MANAGER, FINANCE)
def publication_published(publication_id: int):
    """Record when and where an issued file was published."""
    from tracker.procurement import transparency

    pub = transparency.get_publication_or_404(publication_id)
    kind = transparency.get_kind(pub.kind)
    period = transparency.parse_period(kind.unit, pub.period)
    form = PublishedWhereForm(prefix=f"p{pub.id}")
    if not form.validate():
        return _publication_page(kind, period, None, 422, where_forms={pub.id: form})
    transparency.mark_published(pub, form.published_on.data, form.published_where.data)
    db.session.commit()
    flash(f"Version {pub.version} recorded as published on {pub.published_on:%d/%m/%Y}.", "success")
    return see_other(url_for(".publication", kind_key=kind.key, period=period.key))
