"""Every transparency file and a notice's CSV open in LibreOffice (headless): no cell becomes a formula, amounts
are numbers, and the rows are all there. On CI a missing LibreOffice fails the run (see tests/returns)."""
from __future__ import annotations

import subprocess
from datetime import date

import openpyxl
from sqlalchemy import select

from tests.returns.test_libreoffice import soffice
from tracker.extensions import db
from tracker.models import ProcurementNotice
from tracker.procurement import transparency
from tracker.procurement.notices import notice_csv
from tracker.procurement.transparency import KINDS, build, parse_period

PERIODS = {"month": "2025-05", "quarter": "2025-26-q1", "year": "2025-26"}


def test_every_published_file_opens_in_libreoffice_with_no_formula(thresholds, make, tmp_path):
    c = make.commission(reference="VRU-X", title="=cmd|' /C calc'!A0", award_reason="@SUM(1+1)", value_pence=300_000_00,
                        procurement_started_on=date(2025, 3, 1))
    c.provider.name = "-Evil Ltd"
    make.commission(reference="VRU-G", title="+Grant", commission_type="grant", value_pence=20_000_00)
    make.ledger_line(posting_date=date(2025, 5, 4), net_pence=900_00, supplier_name="=HYPERLINK(\"x\")",
                     invoice_number="+1", reference="TX-E", commission=c)
    make.ledger_line(posting_date=date(2025, 5, 6), net_pence=-700_00, supplier_name="Refund Ltd", reference="TX-C",
                     transaction_type="credit")
    db.session.commit()
    exe = soffice()
    sources, expected = [], {}
    for key, kind in KINDS.items():
        table = build(kind, parse_period(kind.unit, PERIODS[kind.unit]), db.session)
        path = tmp_path / f"{key}.csv"
        path.write_bytes(transparency.file_bytes(table))
        sources.append(path)
        expected[key] = (len(table.rows), [i for i, col in enumerate(table.columns) if col.kind == "money"])
    notice = db.session.scalars(select(ProcurementNotice).where(ProcurementNotice.commission_id == c.id)).first()
    (tmp_path / "notice.csv").write_bytes(notice_csv(notice))
    sources.append(tmp_path / "notice.csv")
    expected["notice"] = (None, [])
    profile = tmp_path / "lo-profile"
    out = tmp_path / "out"
    result = subprocess.run(
        [exe, "--headless", "--norestore", f"-env:UserInstallation={profile.as_uri()}",
         "--infilter=CSV:44,34,76,1", "--convert-to", "xlsx", "--outdir", str(out), *map(str, sources)],
        capture_output=True, text=True, timeout=300)
    for key, (count, money_columns) in expected.items():
        converted = out / f"{key}.xlsx"
        assert converted.exists(), f"LibreOffice did not open {key}.csv: {result.stdout} {result.stderr}"
        ws = openpyxl.load_workbook(converted).active
        rows = list(ws.iter_rows(min_row=2))
        if count is not None:
            assert len(rows) == count, key
        for row in rows:
            for cell in row:
                assert cell.data_type != "f", f"{key}: {cell.coordinate} became a formula: {cell.value!r}"
            for i in money_columns:
                assert isinstance(row[i].value, (int, float)), f"{key}: {row[i].coordinate} is not a number"
    spend = openpyxl.load_workbook(out / "spend-monthly.xlsx").active
    assert sorted(r[7].value for r in spend.iter_rows(min_row=2)) == [-700, 900]
