"""An issued return's frozen figures say what its file says, cell for cell, and read back as they were written."""
from __future__ import annotations

import io
from datetime import date, datetime
from decimal import Decimal

import openpyxl
import pytest

from tracker.extensions import db
from tracker.returns import service
from tracker.returns.builder import DATE, MONEY, PERCENT, RAG
from tracker.returns.frozen import thaw
from tracker.returns.workbook import FIRST_DATA_ROW, RAG_WORDS


def test_the_frozen_tables_match_the_issued_file_cell_for_cell(small):
    record = service.issue(small.year, 2, None, narrative="Risk: SVD underspend.\nPlan: re-profile.")
    db.session.commit()
    frozen = thaw(record.frozen)
    wb = openpyxl.load_workbook(io.BytesIO(service.stored_bytes(record)), data_only=True)
    assert [t.sheet for t in frozen.tables] == wb.sheetnames[1:-1]
    checked = 0
    for table in frozen.tables:
        ws = wb[table.sheet]
        for r, row in enumerate(table.rows):
            cells = [c.value for c in ws[FIRST_DATA_ROW + 1 + r]][:len(table.columns)]
            for column, ours, theirs in zip(table.columns, row, cells):
                if ours is None or ours == "":
                    assert theirs in (None, ""), (table.sheet, column.key)
                elif column.kind == MONEY:
                    assert theirs == pytest.approx(ours / 100, abs=0.001), (table.sheet, column.key)
                elif column.kind == PERCENT:
                    assert isinstance(ours, Decimal) and theirs == pytest.approx(float(ours) / 100)
                elif column.kind == DATE:
                    assert isinstance(ours, date) and theirs == datetime.combine(ours, datetime.min.time())
                elif column.kind == RAG:
                    assert theirs == RAG_WORDS[ours]
                else:
                    assert theirs == ours, (table.sheet, column.key)
                checked += 1
    assert checked > 60
    cover = {r[0]: r[1] for r in wb["Cover"].iter_rows(min_row=3, max_col=2, values_only=True) if r[0]}
    for label, value in frozen.cover:
        assert cover[label] == value, label
    notes = [r[0] for r in wb["Notes"].iter_rows(min_row=4, values_only=True) if r[0]]
    assert notes == frozen.narrative.split("\n") == ["Risk: SVD underspend.", "Plan: re-profile."]


def test_a_return_issued_before_figures_were_kept_says_so(small, client, auth):
    record = service.issue(small.year, 2, None)
    record.frozen = ""
    db.session.commit()
    auth.login("viewer")
    page = client.get(f"/returns/issued/{record.id}")
    assert page.status_code == 200 and "issued before figures were kept" in page.text
    assert thaw("") is None
