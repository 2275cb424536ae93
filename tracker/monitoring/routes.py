"""Delivery monitoring screens: the monitoring overview and due list, each commission's outputs grid (measures,
targets, quarterly actuals with RAG, narratives), provider monitoring workbooks (download, upload, preview,
commit, withdraw), the metric reference list, and documents attached to records."""
from __future__ import annotations

from datetime import date

from flask import Blueprint, current_app, flash, request, url_for
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from tracker import locking
from tracker.auth.roles import ADMIN, EVERYONE, FINANCE, MANAGER, STAFF, roles_required
from tracker.commissions.service import get_commission_or_404
from tracker.errors import abort_with
from tracker.extensions import db
from tracker.funding.rules import choose_year, closed_year_message, require_open_year
from tracker.models import Commission, FundingYear
from tracker.models.monitoring import Measure
from tracker.monitoring import documents as docs
from tracker.monitoring import service, workbook
from tracker.monitoring.forms import (
    ActualForm, CopyForm, DocumentForm, MeasureForm, MetricForm, NarrativeForm, ReturnUploadForm, TargetsForm,
    VersionForm,
)
from tracker.periods import QUARTER_NAMES
from tracker.web import XLSX_MIMETYPE, is_htmx, render, see_other, send_download

bp = Blueprint("monitoring", __name__)


def _quarter_or_404(quarter: int) -> int:
    if quarter not in service.QUARTERS:
        abort_with(404, "The quarter must be 1 to 4.")
    return quarter


# --- overview ------------------------------------------------------------------------------------------------------

@bp.route("/monitoring/")
@roles_required(*EVERYONE)
def index():
    """Commissions whose monitoring is due, the year's outputs by strand and stream, and links."""
    year = choose_year(request.args)
    years = db.session.scalars(select(FundingYear).order_by(FundingYear.start_date.desc())).all()
    due = service.monitoring_due()
    totals = service.year_totals(year) if year else []
    chart = service.cyp_by_strand(year)
    quarter, off_track_commissions = service.off_track_in_reporting_quarter(year, date.today()) if year else (None, [])
    return render("monitoring/index.html", "content", year=year, years=years, due=due, totals=totals, chart=chart,
                  quarter=quarter, off_track=off_track_commissions, quarter_names=QUARTER_NAMES)


# --- the outputs grid ------------------------------------------------------------------------------------------------

def _outputs_url(commission_id: int, year: FundingYear, anchor: str = "") -> str:
    return url_for(".outputs", commission_id=commission_id, year=year.label) + anchor


def _grid_context(commission: Commission, year: FundingYear, **extra):
    grid = service.outputs_grid(commission, year)
    used = {r.measure.metric_id for r in grid.rows}
    measure_form = extra.pop("measure_form", None) or MeasureForm(prefix="new")
    measure_form.metric_id.choices = [(m.id, m.name) for m in service.all_metrics(active_only=True) if m.id not in used]
    copy_form = extra.pop("copy_form", None) or CopyForm(prefix="copy")
    copy_form.source.choices = _copy_choices(commission, year)
    upload_form = extra.pop("upload_form", None) or ReturnUploadForm(prefix="return")
    can_edit = current_user.has_role(MANAGER) and not year.is_closed
    commission_page = (url_for("commissions.show", commission_id=commission.id)
                       if "commissions.show" in current_app.view_functions else None)
    return dict(commission=commission, year=year, years=service.contract_years(commission), grid=grid,
                commission_page=commission_page, measure_form=measure_form, copy_form=copy_form,
                upload_form=upload_form, can_edit=can_edit, quarter_names=QUARTER_NAMES,
                returns=workbook.returns_for(commission.id, year.id),
                documents=docs.documents_for("commission", commission.id), **extra)


def _copy_choices(commission: Commission, year: FundingYear) -> list[tuple[str, str]]:
    """The standard template, then each (contract, year) with measures: "<commission id>-<year id>"."""
    return [("template", "The standard template (standard metrics, no targets)")] + [
        (f"{c.id}-{y.id}", f"{c.reference} {y.label}: {c.title}") for c, y in service.copy_sources(commission, year)]


@bp.route("/commissions/<int:commission_id>/outputs")
@roles_required(*EVERYONE)
def outputs(commission_id: int):
    """A commission's measures for one funding year (``?year=``, one the contract has a share or dates in):
    targets, actuals per quarter with RAG, narratives; its returns and documents."""
    commission = get_commission_or_404(commission_id, joinedload(Commission.provider), joinedload(Commission.strand))
    year = service.outputs_year(commission, request.args.get("year"))
    return render("monitoring/outputs.html", "grid", **_grid_context(commission, year))


@bp.route("/commissions/<int:commission_id>/outputs/measures", methods=["POST"])
@roles_required(MANAGER)
def add_measure(commission_id: int):
    """Add a measure with its targets to the chosen year."""
    commission, year = service.outputs_to_change_or_404(commission_id, request.args.get("year"))
    form = MeasureForm(prefix="new")
    used = set(db.session.scalars(select(Measure.metric_id).where(Measure.commission_id == commission.id,
                                                                  Measure.funding_year_id == year.id)))
    form.metric_id.choices = [(m.id, m.name) for m in service.all_metrics(active_only=True) if m.id not in used]
    if locking.sent_before(form, "Measure") is not None:  # the same form sent again: the measure is there once
        flash("This measure was added when the form was first sent.", "success")
        return see_other(url_for(".outputs", commission_id=commission.id))
    if form.validate_on_submit():
        metric = service.get_metric_or_404(form.metric_id.data)
        try:
            locking.made(form.once.data, service.add_measure(commission, year, metric, form.unit.data or "",
                                                             form.targets, form.target_year.data))
        except service.MonitoringError as exc:
            form.metric_id.errors.append(str(exc))
        else:
            db.session.commit()
            flash(f"Measure {metric.name} added for {year.label}.", "success")
            return see_other(_outputs_url(commission.id, year))
    return render("monitoring/outputs.html", "grid", status=422,
                  **_grid_context(commission, year, measure_form=form, form_has_errors=True))


@bp.route("/measures/<int:measure_id>/edit", methods=["GET", "POST"])
@roles_required(MANAGER)
def edit_measure(measure_id: int):
    """Change a measure's unit and targets."""
    measure = service.measure_to_change_or_404(measure_id)
    commission = measure.commission
    form = TargetsForm(obj=measure)
    if form.validate_on_submit():
        try:
            service.update_measure(measure, form.unit.data or "", form.targets, form.target_year.data,
                                   locking.version_of(form.version.data))
        except locking.Stale as exc:
            measure = exc.record
            locking.show_version(form, measure)
            fields = [("Unit", measure.unit, form.unit.data or "")]
            fields += [(f"Q{q} target", str(measure.targets[q - 1]), str(form.targets[q - 1])) for q in range(1, 5)]
            fields.append(("Year target", str(measure.target_year), str(form.target_year.data or "")))
            return render("monitoring/measure_form.html", status=409, form=form, measure=measure,
                          commission=measure.commission, conflict=locking.conflict("measure", measure, fields=fields))
        db.session.commit()
        flash(f"Targets for {measure.metric.name} saved.", "success")
        return see_other(_outputs_url(commission.id, measure.funding_year))
    status = 422 if form.errors else 200
    return render("monitoring/measure_form.html", status=status, form=form, measure=measure, commission=commission)


@bp.route("/measures/<int:measure_id>/delete", methods=["GET", "POST"])
@roles_required(MANAGER)
def delete_measure(measure_id: int):
    """Remove a measure and its actuals (audited). GET is the confirmation page saying what will go."""
    measure = service.get_measure_or_404(measure_id)
    commission_id, year = measure.commission_id, measure.funding_year
    if request.method == "GET":
        commission = measure.commission
        recorded = [a for a in measure.actuals if a.value is not None]
        back = _outputs_url(commission_id, year, f"#measure-{measure.id}")
        return render("_confirm.html", None, heading=f"Remove {measure.metric.name}?",
                      intro=f"A measure of {commission.reference} {commission.title} for {year.label}.",
                      refusal=closed_year_message(year) if year.is_closed else None,
                      effects=[f"The measure, its targets and its {len(recorded)} recorded actual"
                               f"{'s' if len(recorded) != 1 else ''} will be removed from the outputs and returns.",
                               "The audit trail keeps a record of what they were."],
                      action=url_for(".delete_measure", measure_id=measure.id),
                      button=f"Yes, remove {measure.metric.name}", back=back)
    name = measure.metric.name
    service.delete_measure(measure)
    db.session.commit()
    flash(f"Measure {name} removed.", "success")
    return see_other(_outputs_url(commission_id, year))


@bp.route("/measures/<int:measure_id>/actuals/<int:quarter>", methods=["GET", "POST"])
@roles_required(*EVERYONE, write_roles=(MANAGER,))
def actual(measure_id: int, quarter: int):
    """One cell of the grid: shown, edited in place (HTMX) or on its own page (no JavaScript), and saved."""
    measure = service.get_measure_or_404(measure_id)
    _quarter_or_404(quarter)
    commission = measure.commission
    editing = request.method == "POST" or request.args.get("edit") == "1"
    if editing and not current_user.has_role(MANAGER):
        abort_with(403, "Your role does not allow changing actuals.")
    if editing:
        require_open_year(measure.funding_year)
    form = ActualForm()
    status = 200
    if request.method == "POST":
        if form.validate_on_submit():
            try:
                service.set_actual(measure, quarter, form.value.data)
            except service.MonitoringError as exc:
                form.value.errors = [str(exc)]
                status = 422
            else:
                db.session.commit()
                if not is_htmx():
                    flash(f"{measure.metric.name} Q{quarter} saved.", "success")
                    return see_other(_outputs_url(commission.id, measure.funding_year, f"#measure-{measure.id}"))
                editing = False
        else:
            status = 422
    elif editing:
        current = next((a.value for a in measure.actuals if a.quarter == quarter), None)
        form.value.data = current
    row = service.build_row(measure, service.kpi_thresholds())
    cell = row.cells[quarter - 1]
    can_edit = current_user.has_role(MANAGER) and not measure.funding_year.is_closed
    # An HTMX save also sends the row's "To date" cell out of band, so the row never reads "11 of 12" in a
    # quarter beside a stale "– of 0" to date.
    return render("monitoring/actual.html", "cell", status=status, measure=measure, cell=cell, row=row, form=form,
                  editing=editing, commission=commission, can_edit=can_edit, quarter_names=QUARTER_NAMES,
                  to_date_oob=is_htmx() and request.method == "POST" and not editing)


@bp.route("/commissions/<int:commission_id>/outputs/narrative/<int:quarter>", methods=["GET", "POST"])
@roles_required(MANAGER)
def narrative(commission_id: int, quarter: int):
    """The narrative for a quarter of the chosen year."""
    _quarter_or_404(quarter)
    commission, year = service.outputs_to_change_or_404(commission_id, request.args.get("year"))
    form = NarrativeForm()
    if request.method == "GET":
        form.text.data = workbook.current_narrative(commission.id, year.id, quarter)
    elif form.validate_on_submit():
        service.set_narrative(commission, year, quarter, form.text.data or "")
        db.session.commit()
        flash(f"Narrative for Q{quarter} {year.label} saved.", "success")
        return see_other(_outputs_url(commission.id, year, f"#narrative-{quarter}"))
    status = 422 if form.errors else 200
    return render("monitoring/narrative_form.html", status=status, form=form, commission=commission, year=year,
                  quarter=quarter, quarter_names=QUARTER_NAMES)


@bp.route("/commissions/<int:commission_id>/outputs/copy", methods=["POST"])
@roles_required(MANAGER)
def copy(commission_id: int):
    """Copy measures into the chosen year from another commission or year (with targets) or from the standard
    template."""
    commission, year = service.outputs_to_change_or_404(commission_id, request.args.get("year"))
    form = CopyForm(prefix="copy")
    form.source.choices = _copy_choices(commission, year)
    if form.validate_on_submit():
        source = None
        if form.source.data != "template":  # one of the choices, so "<commission id>-<year id>"
            source_id, source_year_id = (int(part) for part in form.source.data.split("-"))
            source = (get_commission_or_404(source_id), db.session.get(FundingYear, source_year_id))
        try:
            added = service.copy_measures(source, commission, year)
        except service.MonitoringError as exc:
            form.source.errors = [str(exc)]
        else:
            db.session.commit()
            flash(f"{added} measure{'s' if added != 1 else ''} copied." if added else
                  "Nothing copied: this commission already has every one of those measures.", "success")
            return see_other(_outputs_url(commission.id, year))
    return render("monitoring/outputs.html", "grid", status=422,
                  **_grid_context(commission, year, copy_form=form, form_has_errors=True))


# --- provider monitoring workbooks ---------------------------------------------------------------------------------

@bp.route("/commissions/<int:commission_id>/outputs/workbook/<int:quarter>")
@roles_required(*STAFF)
def download_workbook(commission_id: int, quarter: int):
    """The monitoring workbook for the provider to fill in for a quarter of the chosen year."""
    commission = get_commission_or_404(commission_id, joinedload(Commission.provider))
    _quarter_or_404(quarter)
    year = service.outputs_year(commission, request.args.get("year"))
    return send_download(workbook.build_workbook(commission, year, quarter),
                         workbook.filename_for(commission, year, quarter), XLSX_MIMETYPE)


@bp.route("/commissions/<int:commission_id>/outputs/upload", methods=["POST"])
@roles_required(MANAGER)
def upload_return(commission_id: int):
    """Upload a filled-in workbook for the chosen year: checked, then kept for preview (nothing is recorded until
    it is committed)."""
    commission, year = service.outputs_to_change_or_404(commission_id, request.args.get("year"))
    form = ReturnUploadForm(prefix="return")
    refusal = None
    problems = []
    if form.validate_on_submit():
        upload = form.file.data
        data = upload.read()
        try:
            parsed = workbook.read_return(data, upload.filename or "", commission, year, form.quarter.data)
        except workbook.ReturnRefused as exc:
            refusal = str(exc)
        else:
            if parsed.problems:
                problems = parsed.problems
            else:
                staged = workbook.stage_return(commission, year, form.quarter.data, data, upload.filename or "",
                                               parsed)
                db.session.commit()
                return see_other(url_for(".preview", batch_id=staged.import_batch_id))
    if refusal:
        form.file.errors = [refusal]
    elif problems:
        form.file.errors = [f"The workbook has {len(problems)} problem{'s' if len(problems) != 1 else ''}; "
                            "nothing was recorded. Correct them and upload it again."]
    return render("monitoring/outputs.html", "grid", status=422,
                  **_grid_context(commission, year, upload_form=form, form_has_errors=True, upload_problems=problems))


@bp.route("/monitoring/returns/<int:batch_id>")
@roles_required(*STAFF)
def preview(batch_id: int):
    """What an uploaded return will record against what is there now."""
    staged = workbook.get_monitoring_return_or_404(batch_id)
    actuals = {int(k): v for k, v in (staged.values.get("actuals") or {}).items()}
    lines = workbook.preview_lines(staged.commission, staged.funding_year, staged.quarter, actuals)
    return render("monitoring/preview.html", staged=staged, batch=staged.import_batch, lines=lines,
                  commission=staged.commission, year=staged.funding_year,
                  narrative_now=workbook.current_narrative(staged.commission_id, staged.funding_year_id,
                                                           staged.quarter),
                  can_edit=current_user.has_role(MANAGER), quarter_names=QUARTER_NAMES)


@bp.route("/monitoring/returns/<int:batch_id>/commit", methods=["POST"])
@roles_required(MANAGER)
def commit(batch_id: int):
    """Record every value of the return, or none."""
    staged = workbook.get_monitoring_return_or_404(batch_id)
    try:
        count = workbook.commit_return(staged)
    except workbook.NotAllowed as exc:
        db.session.rollback()
        abort_with(409, str(exc))
    db.session.commit()
    flash(f"Monitoring return committed: {count} actual{'s' if count != 1 else ''} recorded.", "success")
    return see_other(_outputs_url(staged.commission_id, staged.funding_year))


@bp.route("/monitoring/returns/<int:batch_id>/withdraw", methods=["GET", "POST"])
@roles_required(MANAGER)
def withdraw(batch_id: int):
    """Withdraw a return: the values it recorded go back to what they were. GET is the confirmation page."""
    staged = workbook.get_monitoring_return_or_404(batch_id)
    if request.method == "GET":
        batch = staged.import_batch
        committed = batch.status == "committed"
        refusal = None if batch.status in ("previewed", "committed") else \
            f"This return is {batch.status}, so it cannot be withdrawn."
        return render("_confirm.html", None, status=409 if refusal else 200,
                      heading=f"Withdraw the Q{staged.quarter} {staged.funding_year.label} monitoring return?",
                      intro=f"{batch.filename}, for {staged.commission.reference} {staged.commission.title}.",
                      refusal=refusal, effects=(
                          ["The figures and narrative it recorded go back to what they were before it; any value "
                           "someone has changed since is kept.", "The return stays listed, marked withdrawn."]
                          if committed else ["It was never recorded: it is only marked withdrawn."]),
                      action=url_for(".withdraw", batch_id=batch_id), button="Yes, withdraw this return",
                      back=_outputs_url(staged.commission_id, staged.funding_year))
    try:
        workbook.withdraw_return(staged)
    except workbook.NotAllowed as exc:
        db.session.rollback()
        abort_with(409, str(exc))
    db.session.commit()
    flash("Monitoring return withdrawn.", "success")
    return see_other(_outputs_url(staged.commission_id, staged.funding_year))


# --- metrics (reference data) ----------------------------------------------------------------------------------------

@bp.route("/monitoring/metrics", methods=["GET", "POST"])
@roles_required(ADMIN)
def metrics():
    """The metric reference list: the standard metrics and custom ones."""
    form = MetricForm()
    status = 200
    if request.method == "POST":
        if form.validate_on_submit():
            if service.metric_name_taken(form.name.data):
                form.name.errors.append("There is already a metric with this name")
            else:
                order = len(service.all_metrics()) + 1
                service.save_metric(None, name=form.name.data.strip(), unit=(form.unit.data or "").strip(),
                                    description=(form.description.data or "").strip(), in_template=form.in_template.data,
                                    active=True, sort_order=order)
                db.session.commit()
                flash(f"Metric {form.name.data.strip()} added.", "success")
                return see_other(url_for(".metrics"))
        status = 422
    return render("monitoring/metrics.html", status=status, form=form, metrics=service.all_metrics())


@bp.route("/monitoring/metrics/<int:metric_id>", methods=["GET", "POST"])
@roles_required(ADMIN)
def edit_metric(metric_id: int):
    """Rename a metric, change its unit or description, or stop offering it."""
    metric = service.get_metric_or_404(metric_id)
    form = MetricForm(obj=metric)
    if form.validate_on_submit():
        if service.metric_name_taken(form.name.data, except_id=metric.id):
            form.name.errors.append("There is already a metric with this name")
        else:
            service.save_metric(metric, name=form.name.data.strip(), unit=(form.unit.data or "").strip(),
                                description=(form.description.data or "").strip(),
                                in_template=form.in_template.data, active=form.active.data)
            db.session.commit()
            flash(f"Metric {metric.name} saved.", "success")
            return see_other(url_for(".metrics"))
    status = 422 if form.errors else 200
    return render("monitoring/metric_form.html", status=status, form=form, metric=metric)


# --- documents ---------------------------------------------------------------------------------------------------------

def _documents_page(owner_type: str, owner, form=None, status: int = 200):
    return render("monitoring/documents.html", "documents", status=status, owner_type=owner_type, owner=owner,
                  owner_name=docs.owner_name(owner_type, owner), owner_label=docs.OWNER_LABELS[owner_type],
                  documents=docs.documents_for(owner_type, owner.id), form=form or DocumentForm(),
                  version_form=VersionForm(), can_upload=current_user.has_role(MANAGER, FINANCE),
                  can_delete=current_user.has_role(ADMIN), max_mb=docs.max_bytes() // (1024 * 1024),
                  allowed=docs.ALLOWED_DESCRIPTION)


@bp.route("/documents/<owner_type>/<int:owner_id>", methods=["GET", "POST"])
@roles_required(*EVERYONE, write_roles=(MANAGER, FINANCE))
def documents(owner_type: str, owner_id: int):
    """The documents kept against a commission, provider, milestone or funding year; upload a new one."""
    owner = docs.get_owner_or_404(owner_type, owner_id)
    if request.method == "GET":
        return _documents_page(owner_type, owner)
    require_open_year(docs.owner_year(owner_type, owner))
    form = DocumentForm()
    if form.validate_on_submit():
        upload = docs.Upload(form.file.data.read(), form.file.data.filename or "")
        try:
            document = docs.add_document(owner_type, owner, form.kind.data, form.title.data or "", upload)
        except docs.DocumentRefused as exc:
            db.session.rollback()
            form.file.errors = [str(exc)]
        else:
            db.session.commit()
            flash(f"Document '{document.title}' added.", "success")
            return see_other(url_for(".documents", owner_type=owner_type, owner_id=owner_id))
    return _documents_page(owner_type, owner, form=form, status=422)


@bp.route("/documents/<int:document_id>/versions", methods=["POST"])
@roles_required(MANAGER, FINANCE)
def add_version(document_id: int):
    """Upload a new version of a document; earlier versions are kept."""
    document = docs.get_document_or_404(document_id)
    owner_type, owner_id = docs.document_owner(document)
    owner = docs.get_owner_or_404(owner_type, owner_id)
    require_open_year(docs.owner_year(owner_type, owner))
    form = VersionForm()
    if form.validate_on_submit():
        try:
            version = docs.add_version(document, docs.Upload(form.file.data.read(), form.file.data.filename or ""))
        except docs.DocumentRefused as exc:
            db.session.rollback()
            message = str(exc)
        else:
            db.session.commit()
            flash(f"Version {version.number} of '{document.title}' uploaded.", "success")
            return see_other(url_for(".documents", owner_type=owner_type, owner_id=owner_id))
    else:
        message = "; ".join(form.file.errors) or "Choose a file to upload"
    page = DocumentForm()
    page.form_errors.append(f"New version of '{document.title}': {message}")
    return _documents_page(owner_type, owner, form=page, status=422)


@bp.route("/documents/files/<int:version_id>")
@roles_required(*EVERYONE)
def download(version_id: int):
    """Download one version of a document, as an attachment with a safe name and its real type."""
    version = docs.get_version_or_404(version_id)
    path = docs.file_path(version)
    try:
        response = send_download(path, docs.download_name(version), version.content_type, conditional=False, etag=False)
    except FileNotFoundError:
        abort_with(404, "The file for this document is missing; ask an administrator.")
    # An uploaded file is never run as a page, even if a browser were talked into showing it.
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response


@bp.route("/documents/<int:document_id>/delete", methods=["GET", "POST"])
@roles_required(ADMIN)
def delete_document(document_id: int):
    """Delete a document and all its versions (administrators only; audited). GET is the confirmation page
    saying what will go (it works without JavaScript)."""
    document = docs.get_document_or_404(document_id)
    owner_type, owner_id = docs.document_owner(document)
    if request.method == "GET":
        owner = docs.get_owner_or_404(owner_type, owner_id)
        versions = [f"version {v.number}: {v.original_name}, uploaded {v.uploaded_at:%d/%m/%Y %H:%M}"
                    for v in document.versions]
        effects = [f"The document and its {len(versions)} version{'s' if len(versions) != 1 else ''} will be deleted "
                   f"for good ({'; '.join(versions)}).", "The audit trail keeps a record of the deletion."]
        if docs.leaves_milestone_without_evidence(document, owner_type, owner):
            effects.insert(1, f"'{owner.title}' is marked done and this is its only evidence: it stays done, "
                              "so add other evidence to it.")
        return render("_confirm.html", None, heading=f"Delete {document.title}?",
                      intro=f"{document.kind.capitalize()} kept against {docs.OWNER_LABELS[owner_type].lower()} "
                            f"{docs.owner_name(owner_type, owner)}.", effects=effects,
                      action=url_for(".delete_document", document_id=document.id),
                      button=f"Yes, delete {document.title}",
                      back=url_for(".documents", owner_type=owner_type, owner_id=owner_id))
    title = document.title
    paths = docs.delete_document(document)
    db.session.commit()
    docs.remove_files(paths)
    flash(f"Document '{title}' deleted.", "success")
    return see_other(url_for(".documents", owner_type=owner_type, owner_id=owner_id))

