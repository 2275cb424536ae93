"""Provider monitoring workbooks: generated, filled in as a provider would (openpyxl), uploaded, previewed,
committed all-or-nothing and withdrawn; a workbook for another commission or quarter, or an old template, is refused."""
from __future__ import annotations

import io

import openpyxl
import pytest

from tracker import files
from tracker.extensions import db
from tracker.models import ImportBatch
from tracker.models.monitoring import MeasureActual, QuarterNarrative
from tracker.monitoring import service, workbook


def generate(client, commission, quarter=1) -> bytes:
    response = client.get(f"/commissions/{commission.id}/outputs/workbook/{quarter}")
    assert response.status_code == 200
    assert response.mimetype == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    assert "attachment" in response.headers["Content-Disposition"]
    return response.data


def fill(data: bytes, actuals: dict[int, object], narrative=None, cover: dict | None = None) -> bytes:
    """What a provider does: open the workbook, type in the yellow cells, save."""
    wb = openpyxl.load_workbook(io.BytesIO(data))
    out = wb["Outputs"]
    for row in range(workbook.HEADER_ROW + 1, out.max_row + 1):
        key = out.cell(row, 1).value
        if key in actuals:
            out.cell(row, workbook.ACTUAL_COL).value = actuals[key]
    if narrative is not None:
        wb["Narrative"]["A2"] = narrative
    for label, value in (cover or {}).items():
        for row in wb["Cover"].iter_rows():
            if row[0].value == label:
                row[1].value = value
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()


def upload(client, commission, data: bytes, quarter=1, name="return.xlsx"):
    return client.post(f"/commissions/{commission.id}/outputs/upload",
                       data={"return-quarter": str(quarter), "return-file": (io.BytesIO(data), name)},
                       content_type="multipart/form-data")


def measure_ids(commission):
    return sorted(m.id for m in db.session.scalars(db.select(service.Measure).where(
        service.Measure.commission_id == commission.id)))


def test_generated_workbook_is_protected_with_fill_cells_unlocked(app, commission):
    data = workbook.build_workbook(commission, commission.funding_year, 2)
    wb = openpyxl.load_workbook(io.BytesIO(data))
    assert wb.sheetnames == ["Cover", "Outputs", "Narrative"]
    cover = {r[0].value: r[1].value for r in wb["Cover"].iter_rows(min_row=3, max_row=11)}
    assert cover["Commission reference"] == "VRU-25-001"
    assert cover["Quarter"] == "Q2" and cover["Funding year"] == "2025-26"
    assert cover["Period"] == "01/07/2025 to 30/09/2025"
    assert cover["Template version"] == workbook.TEMPLATE_VERSION
    out = wb["Outputs"]
    assert all(ws.protection.sheet for ws in wb.worksheets)
    assert [c.value for c in out[workbook.HEADER_ROW]] == list(workbook.COLUMNS)
    first = workbook.HEADER_ROW + 1
    assert out.cell(first, 4).value == 20  # CYP engaged Q2 target
    assert out.cell(first, workbook.ACTUAL_COL).value is None
    assert out.cell(first, workbook.ACTUAL_COL).protection.locked is False
    assert out.cell(first, 2).protection.locked is True
    assert wb["Narrative"]["A2"].protection.locked is False


def test_round_trip_preview_commit_and_withdraw(client, auth, commission):
    auth.login("manager")
    ids = measure_ids(commission)
    filled = fill(generate(client, commission), {ids[0]: 12, ids[1]: 4}, narrative="A good first quarter.")
    response = upload(client, commission, filled)
    assert response.status_code == 303, response.text
    db.session.expire_all()
    batch = db.session.scalar(db.select(ImportBatch))
    assert batch.kind == "monitoring" and batch.status == "previewed"
    # Kept like every other file: a path relative to DATA_DIR, and the bytes that were uploaded.
    assert batch.stored_path.startswith("monitoring/") and files.read(batch.stored_path, sha256=batch.sha256) == filled
    assert db.session.scalar(db.select(db.func.count()).select_from(MeasureActual)) == 0  # nothing recorded yet

    preview = client.get(response.location)
    assert preview.status_code == 200
    assert "What will be recorded" in preview.text and "A good first quarter." in preview.text

    assert client.post(f"/monitoring/returns/{batch.id}/commit").status_code == 303
    db.session.expire_all()
    values = {a.measure_id: a.value for a in db.session.scalars(db.select(MeasureActual))}
    assert values == {ids[0]: 12, ids[1]: 4}
    assert db.session.scalar(db.select(QuarterNarrative.text)) == "A good first quarter."
    assert db.session.get(ImportBatch, batch.id).status == "committed"
    assert client.post(f"/monitoring/returns/{batch.id}/commit").status_code == 409  # not twice

    assert client.post(f"/monitoring/returns/{batch.id}/withdraw").status_code == 303
    db.session.expire_all()
    assert db.session.scalar(db.select(db.func.count()).select_from(MeasureActual)) == 0
    assert db.session.scalar(db.select(QuarterNarrative.text)) == ""
    assert db.session.get(ImportBatch, batch.id).status == "withdrawn"


def test_withdraw_restores_earlier_values(client, auth, commission):
    auth.login("manager")
    ids = measure_ids(commission)
    measure = db.session.get(service.Measure, ids[0])
    service.set_actual(measure, 1, 3)
    db.session.commit()
    upload(client, commission, fill(generate(client, commission), {ids[0]: 12}))
    batch_id = db.session.scalar(db.select(ImportBatch.id))
    preview = client.get(f"/monitoring/returns/{batch_id}")
    assert "Changed" in preview.text
    client.post(f"/monitoring/returns/{batch_id}/commit")
    client.post(f"/monitoring/returns/{batch_id}/withdraw")
    db.session.expire_all()
    assert db.session.scalar(db.select(MeasureActual.value)) == 3


@pytest.mark.parametrize("quarter, cover, message", [
    (2, {}, "is for Q1 2025-26, not Q2 2025-26"),
    (1, {"Commission reference": "VRU-25-999"}, "is for commission VRU-25-999, not VRU-25-001"),
    (1, {"Template version": "VRU-MON-1"}, "old template (version VRU-MON-1"),
])
def test_wrong_quarter_commission_or_old_template_refused(client, auth, commission, quarter, cover, message):
    auth.login("manager")
    data = fill(generate(client, commission, 1), {measure_ids(commission)[0]: 5}, cover=cover)
    response = upload(client, commission, data, quarter=quarter)
    assert response.status_code == 422
    assert message in response.text
    db.session.expire_all()
    assert db.session.scalar(db.select(db.func.count()).select_from(ImportBatch)) == 0


def test_workbook_for_another_commission_refused(client, auth, make, commission):
    auth.login("manager")
    other = make.commission(year=commission.funding_year)
    service.copy_measures((commission, commission.funding_year), other, other.funding_year)
    db.session.commit()
    data = fill(generate(client, other), {measure_ids(other)[0]: 5})
    response = upload(client, commission, data)
    assert response.status_code == 422 and f"is for commission {other.reference}" in response.text


def test_located_errors_and_nothing_recorded(client, auth, commission):
    auth.login("manager")
    ids = measure_ids(commission)
    data = fill(generate(client, commission), {ids[0]: "twelve", ids[1]: 4})
    response = upload(client, commission, data)
    assert response.status_code == 422
    assert "Outputs sheet, row 5, Actual: &#39;twelve&#39; is not a whole number" in response.text
    db.session.expire_all()
    assert db.session.scalar(db.select(db.func.count()).select_from(ImportBatch)) == 0
    assert db.session.scalar(db.select(db.func.count()).select_from(MeasureActual)) == 0


@pytest.mark.parametrize("payload, name, message", [
    (b"reference,value\nVRU-25-001,3\n", "return.csv", "not a VRU monitoring workbook"),
    (b"%PDF-1.4 not a workbook", "return.xlsx", "is not an Excel workbook"),
    (b"PK\x03\x04broken", "return.xlsx", "damaged"),
])
def test_not_a_workbook_refused(client, auth, commission, payload, name, message):
    auth.login("manager")
    response = upload(client, commission, payload, name=name)
    assert response.status_code == 422
    assert message in response.text


def test_empty_return_refused(client, auth, commission):
    auth.login("manager")
    response = upload(client, commission, generate(client, commission))
    assert response.status_code == 422 and "nothing to record" in response.text


def test_missing_file_is_a_form_error(client, auth, commission):
    auth.login("manager")
    response = client.post(f"/commissions/{commission.id}/outputs/upload", data={"return-quarter": "1"})
    assert response.status_code == 422 and "Choose the workbook to upload" in response.text
