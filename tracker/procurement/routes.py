"""Procurement Act notices (the list, a notice's CSV, marking one published) and the thresholds admins keep.

Thin views: the rules are in rules.py, the records in notices.py."""
from __future__ import annotations

from datetime import date

from flask import Blueprint, flash, request, url_for
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from tracker import audit
from tracker.auth.roles import ADMIN, EVERYONE, MANAGER, roles_required
from tracker.extensions import db
from tracker.milestones.service import sync_deadlines
from tracker.models import Commission, ProcurementNotice, ProcurementThreshold
from tracker.procurement import notices as service
from tracker.procurement.forms import PublishNoticeForm, ThresholdForm
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
    service.mark_published(notice, form.published_on.data, form.link.data, db.session)
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
