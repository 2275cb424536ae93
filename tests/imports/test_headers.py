"""Header finder, field matching, totals and blank rows, on the sample files and small built workbooks."""
from __future__ import annotations

import io
from pathlib import Path

import openpyxl
import pytest

from tracker.imports.headers import (
    BLANK,
    DATA,
    FIELDS,
    TOTALS,
    find_table,
    header_signature,
    iter_records,
    normalise_header,
    sample_values,
)
from tracker.spreadsheets.reader import SpreadsheetError, open_workbook
from tracker.spreadsheets.values import parse_amount, parse_date

SAMPLES = Path("/work/shared/samples")
LEDGER = SAMPLES / "vru-ledger-2025-26-p1-p6.xlsx"
ENGINES = ["calamine", "openpyxl"]


def _book(rows, title="Data", **sheets) -> bytes:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = title
    for r in rows:
        ws.append(r)
    for name, extra in sheets.items():
        other = wb.create_sheet(name)
        for r in extra:
            other.append(r)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


@pytest.mark.parametrize("raw, key", [("Supplier Name ", "suppliername"), ("Value (£)", "value"),
                                      ("VCSE?", "vcse"), ("Q1 (Apr-Jun)", "q1"), ("paid_date", "paiddate"),
                                      ("Labour / non-labour", "labournonlabour"), ("(£)", ""), (None, ""),
                                      (2025, "2025")])
def test_normalise_header(raw, key):
    assert normalise_header(raw) == key


def test_every_kind_has_its_required_fields():
    required = {k: {f.name for f in specs if f.required} for k, specs in FIELDS.items()}
    assert required == {
        "ledger": {"reference", "posting_date", "net"},  # a journal line has no supplier
        "commissions": {"reference", "title", "provider", "value", "start", "end"},
        "budget": {"stream", "category", "strand", "amount", "q1", "q2", "q3", "q4"},
    }


@pytest.mark.parametrize("engine", ENGINES)
def test_ledger_sample(engine):
    with open_workbook(LEDGER, engine=engine) as wb:
        table = find_table(wb)
        assert (table.sheet, table.header_row, table.kind, table.missing_required) == ("Transactions", 4, "ledger", [])
        assert table.headers[7] == "Supplier Name"
        assert len(table.mapping) == 15
        records = list(iter_records(table))
    data = [r for r in records if r.status == DATA]
    assert len(data) == 420
    assert [r.note for r in records if r.status != DATA] == [
        "row 206: blank row left out", "row 426: blank row left out", "row 427: totals row left out"]
    total_row = next(r for r in records if r.status == TOTALS)
    assert parse_amount(total_row.values["net"]) == 489582226
    assert sum(parse_amount(r.values["net"]) for r in data) == 489582226  # £4,895,822.26 to the penny
    dates = [parse_date(r.values["posting_date"]) for r in data]  # real dates and dd/mm/yyyy text alike
    assert min(dates).year == 2025


def test_ledger_sheet_can_be_chosen_and_kind_forced():
    with open_workbook(LEDGER) as wb:
        assert find_table(wb, kind="ledger", sheet="transactions").header_row == 4
        hidden = find_table(wb, kind="ledger", sheet="Lookups")  # named explicitly: hidden is fine
        assert hidden.sheet == "Lookups" and hidden.missing_required
        with pytest.raises(SpreadsheetError, match="no sheet called 'Nope'. Its sheets are: 'Read me', 'Lookups'"):
            find_table(wb, sheet="Nope")


@pytest.mark.parametrize("engine", ENGINES)
def test_commissions_sample(engine):
    with open_workbook(SAMPLES / "commissions-register-2025-26.xlsx", engine=engine) as wb:
        table = find_table(wb)
        assert (table.header_row, table.kind, table.missing_required) == (3, "commissions", [])
        assert table.mapping["value"] == 6 and table.mapping["vcse"] == 10 and table.mapping["po_number"] == 12
        records = list(iter_records(table))
    assert [r.status for r in records] == [DATA] * 20
    assert parse_amount(records[0].values["value"]) == 30050000


@pytest.mark.parametrize("engine", ENGINES)
def test_budget_sample(engine):
    with open_workbook(SAMPLES / "budget-2025-26.xlsx", engine=engine) as wb:
        table = find_table(wb)
        assert (table.header_row, table.kind, table.missing_required) == (1, "budget", [])
        records = list(iter_records(table))
    data = [r for r in records if r.status == DATA]
    assert len(data) == 11
    for r in data:  # the Q1-Q4 profile sums to each allocation
        assert sum(parse_amount(r.values[q]) for q in ("q1", "q2", "q3", "q4")) == parse_amount(r.values["amount"])
    assert [r.status for r in records[-2:]] == [BLANK, TOTALS]  # totals row of formulas with no saved values


def test_oxford_csv_and_xlsx_agree():
    results = []
    for name in ("oxford-expenditure-over-500-jan-mar-2016.csv", "oxford-expenditure-over-500-jan-mar-2016.xlsx"):
        with open_workbook(SAMPLES / name) as wb:
            table = find_table(wb)
            assert table.kind == "ledger" and table.missing_required == [] and table.header_row == 1
            assert table.mapping["posting_date"] == 4 and table.mapping["net"] == 6
            data = [r for r in iter_records(table) if r.status == DATA]
            results.append((len(data), sum(parse_amount(r.values["net"]) for r in data),
                            [parse_date(r.values["posting_date"]) for r in data[:50]], table.signature))
    assert results[0] == results[1]
    assert results[0][0] == 3908  # the README rounds this to "3,900 rows"


def test_missing_columns_sample():
    with open_workbook(SAMPLES / "bad" / "missing-columns.xlsx") as wb:
        table = find_table(wb)
    assert table.kind == "ledger"
    assert table.missing_required == ["net"]  # supplier name is optional (journal lines)


def test_empty_workbook_has_no_data():
    with open_workbook(SAMPLES / "bad" / "empty.xlsx") as wb:
        with pytest.raises(SpreadsheetError, match="The workbook has no rows of data"):
            find_table(wb)


def test_unrecognised_headings():
    data = _book([["Colour", "Shape"], ["red", "round"]])
    with open_workbook(data, "x.xlsx") as wb:
        with pytest.raises(SpreadsheetError, match="None of the column headings were recognised"):
            find_table(wb)
        table = find_table(wb, kind="budget")  # the user chose the kind: map by hand on the next screen
        assert table.header_row == 1 and table.mapping == {} and len(table.missing_required) == 8


def test_cover_sheet_and_hidden_sheet_are_skipped():
    cover = [["Instructions"], ["Reference: fill in the Data sheet"]]
    data = _book([["Budget 2025-26"], [], ["Stream", "Category", "Strand", "Amount", "Q1", "Q2", "Q3", "Q4"],
                  ["Core", "Staffing", "Cross-cutting", 100, 25, 25, 25, 25]], title="Cover")
    wb = openpyxl.load_workbook(io.BytesIO(data))
    wb.move_sheet("Cover", offset=0)
    ws = wb.create_sheet("Read me", 0)
    for r in cover:
        ws.append(r)
    out = io.BytesIO()
    wb.save(out)
    with open_workbook(out.getvalue(), "b.xlsx") as book:
        table = find_table(book)
    assert (table.sheet, table.header_row, table.kind) == ("Cover", 3, "budget")


def test_totals_and_blank_rows():
    rows = [
        ["Transaction Ref", "Posting Date", "Supplier Name", "Net"],
        ["T1", "01/04/2025", "Total Fitness Ltd", 10],  # a supplier called Total is still data
        [None, None, None, None],
        ["T2", "02/04/2025", "Acme", "(5.00)"],
        ["Sub-total", None, None, 5],
        [None, None, None, 5],  # money with no keys after the data: an unlabelled total
        ["Grand Total", None, None, 5],
        ["Totally Kids CIC", "03/04/2025", "Acme", 1],  # starts with "Total" but is not a total
    ]
    with open_workbook(_book(rows), "t.xlsx") as wb:
        table = find_table(wb)
        statuses = [(r.row, r.status) for r in iter_records(table)]
    assert statuses == [(2, DATA), (3, BLANK), (4, DATA), (5, TOTALS), (6, TOTALS), (7, TOTALS), (8, DATA)]


def test_header_signature_is_stable():
    a = header_signature(["Transaction Ref", "Supplier Name ", "Value (£)"])
    assert a == header_signature(["transaction ref", "Supplier name", "Value", "", ""])
    assert a != header_signature(["Supplier Name", "Transaction Ref", "Value"])
    assert len(a) == 32


def test_sample_values():
    with open_workbook(LEDGER) as wb:
        table = find_table(wb)
        samples = sample_values(table, n=3)
    assert samples[0] == ["JNL700000", "JNL700001", "JNL700002"]
    assert len(samples[table.mapping["net"]]) == 3


def test_record_mapping_override():
    with open_workbook(SAMPLES / "bad" / "missing-columns.xlsx") as wb:
        table = find_table(wb)
        assert list(iter_records(table, {"reference": 0})) == []  # header only: no data rows


@pytest.mark.parametrize("headers, expected", [
    # The Local Government Transparency Code spending file (expenditure over £500), as councils publish it.
    (["Body Name", "Transaction Date", "Supplier (beneficiary)", "Transaction Number", "Net Amount",
      "Irrecoverable VAT", "Service Division", "Expenses Type", "CIPFA Expenditure Code", "Purpose of Expenditure",
      "Purchase Order Reference"],
     {"posting_date": 1, "supplier_name": 2, "reference": 3, "net": 4, "vat": 5, "cost_centre": 6,
      "account_description": 7, "account_code": 8, "narrative": 9, "po_number": 10}),
    # Oxford's expenditure over £500 (the sample).
    (["body_name", "organisational_unit", "expenditure_category", "expenditure_code", "paid_date", "trans_no",
      "amount", "caporrev", "supplier_id", "supplier_name"],
     {"cost_centre": 1, "account_description": 2, "account_code": 3, "posting_date": 4, "reference": 5, "net": 6,
      "supplier_id": 8, "supplier_name": 9}),
    # Decorated headings: "Our ...", "Total ...", "(£)", "GBP", "... No".
    (["Our Ref", "Date Paid", "Vendor No", "Beneficiary Name", "Total Net (£)", "Amount GBP", "P.O. No."],
     {"reference": 0, "posting_date": 1, "supplier_id": 2, "supplier_name": 3, "net": 4, "po_number": 6}),
])
def test_real_ledger_headings(headers, expected):
    from tracker.imports.headers import match_headers

    assert match_headers("ledger", headers) == expected


@pytest.mark.parametrize("headers, expected", [
    # An LGTC contracts register.
    (["Organisation Name", "Contract Reference Number", "Title of Agreement", "Description of Goods and/or Services",
      "Supplier Name", "Contract Start Date", "Contract End Date", "Contract Review Date", "Value of Agreement",
      "VCSE Supplier", "SME Supplier"],
     {"reference": 1, "title": 2, "description": 3, "provider": 4, "start": 5, "end": 6, "review_date": 7,
      "value": 8, "vcse": 9, "sme": 10}),
    (["Our Reference", "Contract Title", "Contractor", "Total Contract Value (£)", "Start", "Expiry"],
     {"reference": 0, "title": 1, "provider": 2, "value": 3, "start": 4, "end": 5}),
])
def test_real_register_headings(headers, expected):
    from tracker.imports.headers import match_headers

    assert match_headers("commissions", headers) == expected


def test_loose_keys_only_take_off_decoration():
    from tracker.imports.headers import loose_key

    assert (loose_key("ourref"), loose_key("totalvalue"), loose_key("amountgbp")) == ("ref", "value", "amount")
    assert (loose_key("total"), loose_key("supplier"), loose_key("gbp")) == ("", "", "")
