"""Opening uploads: type by content, zip and XML safety, limits, both engines, CSV dialects, error cells."""
from __future__ import annotations

import io
import time
import zipfile
from datetime import date, datetime
from pathlib import Path

import openpyxl
import pytest

from tracker.spreadsheets.reader import SpreadsheetError, open_workbook
from tracker.spreadsheets.values import CellError

SAMPLES = Path("/work/shared/samples")
BAD = SAMPLES / "bad"
ENGINES = ["calamine", "openpyxl"]


def _xlsx(build) -> bytes:
    wb = openpyxl.Workbook()
    build(wb)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def _rows(wb, sheet=None):
    return list(wb.iter_rows(sheet or wb.sheets[0].name))


def test_openpyxl_parses_with_defusedxml():
    assert openpyxl.DEFUSEDXML is True


# --- every bad sample ------------------------------------------------------------------------------------

@pytest.mark.parametrize("engine", ENGINES)
def test_csv_named_xlsx_is_refused_clearly(engine):
    with pytest.raises(SpreadsheetError, match=r"not an Excel workbook: it looks like CSV text.*not-a-workbook\.xlsx"):
        open_workbook(BAD / "not-a-workbook.xlsx", engine=engine)


def test_same_text_named_csv_is_read():
    wb = open_workbook((BAD / "not-a-workbook.xlsx").read_bytes(), "ledger.csv")
    assert wb.format == "csv"
    assert _rows(wb) == [(1, ("Transaction Ref", "Net")), (2, ("JNL1", "100"))]


@pytest.mark.parametrize("engine", ENGINES)
def test_truncated_zip_is_refused(engine):
    with pytest.raises(SpreadsheetError, match="damaged or incomplete"):
        open_workbook(BAD / "truncated.xlsx", engine=engine)


@pytest.mark.parametrize("engine", ENGINES)
def test_empty_workbook_opens_with_no_rows(engine):
    with open_workbook(BAD / "empty.xlsx", engine=engine) as wb:
        assert [r for r in _rows(wb) if r[1]] == []


@pytest.mark.parametrize("engine", ENGINES)
def test_xml_bomb_is_refused_fast(engine):
    start = time.perf_counter()
    with pytest.raises(SpreadsheetError, match="DOCTYPE or ENTITY"):
        open_workbook(BAD / "xml-bomb.xlsx", engine=engine)
    assert time.perf_counter() - start < 1


def test_calamine_does_not_expand_entities():
    # Checked so the pre-scan is defence in depth, not the only guard: calamine refuses unknown entities.
    import python_calamine
    book = python_calamine.CalamineWorkbook.from_path(str(BAD / "xml-bomb.xlsx"))
    with pytest.raises(python_calamine.CalamineError):
        list(book.get_sheet_by_index(0).iter_rows())


@pytest.mark.parametrize("engine", ENGINES)
def test_zip_bomb_is_refused_before_inflating(engine):
    start = time.perf_counter()
    with pytest.raises(SpreadsheetError, match="too large to import safely"):
        open_workbook(BAD / "zip-bomb.xlsx", engine=engine)
    # With the size cap lifted, the compression ratio still gives it away.
    with pytest.raises(SpreadsheetError, match="hundredfold"):
        open_workbook(BAD / "zip-bomb.xlsx", engine=engine, max_uncompressed=10**10)
    assert time.perf_counter() - start < 2


@pytest.mark.parametrize("engine", ENGINES)
def test_zip_bomb_row_cap_stops_streaming_early(engine):
    start = time.perf_counter()
    with pytest.raises(SpreadsheetError, match="more than 1,000 rows"):
        wb = open_workbook(BAD / "zip-bomb.xlsx", engine=engine, max_uncompressed=10**10, max_ratio=10**6,
                           max_rows=1000)
        _rows(wb)
    assert time.perf_counter() - start < 2


@pytest.mark.parametrize("engine", ENGINES)
def test_formula_injection_text_stays_text_and_uncalculated_formulas_are_errors(engine):
    with open_workbook(BAD / "formula-injection.xlsx", engine=engine) as wb:
        rows = dict(_rows(wb))
    assert rows[3][1:3] == ("@SUM(1+1)", "-2+3")
    assert rows[2][2] == "+44 Provider"
    assert rows[2][1] == CellError(CellError.NO_CACHED_VALUE)  # =HYPERLINK(...) never calculated
    assert rows[4][2] == CellError(CellError.NO_CACHED_VALUE)  # =cmd|... never calculated


def test_encrypted_or_legacy_workbook_is_refused():
    cfb = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 4088
    with pytest.raises(SpreadsheetError, match="password-protected.*old .xls format"):
        open_workbook(cfb, "budget.xlsx")


@pytest.mark.parametrize("data, message", [
    (b"", "empty"),
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00", "not a spreadsheet"),
    (b"<html><table><tr><td>1</td></tr></table></html>", "web page"),
])
def test_other_files_are_refused(data, message):
    with pytest.raises(SpreadsheetError, match=message):
        open_workbook(data, "export.xls")


def test_zip_that_is_not_a_workbook_is_refused():
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("hello.txt", "hi")
    with pytest.raises(SpreadsheetError, match="zip archive, not an Excel workbook"):
        open_workbook(buf.getvalue(), "x.xlsx")


def test_too_many_zip_entries_is_refused():
    data = _xlsx(lambda wb: None)
    with pytest.raises(SpreadsheetError, match="too many internal parts"):
        open_workbook(data, "x.xlsx", max_entries=3)


def _shrink_declared_size(data: bytes, part: str) -> bytes:
    """Make the central directory claim ``part`` inflates to half its real size (a lying zip)."""
    data = bytearray(data)
    with zipfile.ZipFile(io.BytesIO(bytes(data))) as zf:
        size = zf.getinfo(part).file_size
    header = data.find(part.encode(), data.find(b"PK\x01\x02")) - 46
    assert data[header:header + 4] == b"PK\x01\x02"
    data[header + 24:header + 28] = (size // 2).to_bytes(4, "little")
    return bytes(data)


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("rows", [2, 5_000])
def test_part_inflating_past_its_declared_size_is_refused(engine, rows):
    data = _xlsx(lambda wb: [wb.active.append([f"row {i}", i]) for i in range(rows)])
    data = _shrink_declared_size(data, "xl/worksheets/sheet1.xml")
    with pytest.raises(SpreadsheetError, match="damaged"):
        with open_workbook(data, "x.xlsx", engine=engine) as wb:
            _rows(wb)


# --- both engines read the same thing --------------------------------------------------------------------

def _awkward(wb):
    ws = wb.active
    ws.title = "Data"
    ws["C3"] = "  Ref "
    ws["D3"] = "Amount"
    ws["C4"] = "A1"
    ws["D4"] = 12.5
    ws["E4"] = datetime(2025, 6, 5)
    ws["F4"] = datetime(2025, 6, 5, 13, 30)
    ws["C5"] = 378
    ws["D5"] = "=SUM(D4:D4)"  # openpyxl writes the formula with no saved value
    ws["C7"] = "   "
    hidden = wb.create_sheet("Hidden")
    hidden.sheet_state = "hidden"
    very = wb.create_sheet("Secret")
    very.sheet_state = "veryHidden"
    wb.create_sheet("Blank")
    ws.merge_cells("C1:F1")
    ws["C1"] = "Title"


@pytest.mark.parametrize("engine", ENGINES)
def test_engines_normalise_values_alike(engine):
    with open_workbook(_xlsx(_awkward), "a.xlsx", engine=engine) as wb:
        assert [(s.name, s.state, s.hidden) for s in wb.sheets] == [
            ("Data", "visible", False), ("Hidden", "hidden", True), ("Secret", "veryHidden", True),
            ("Blank", "visible", False)]
        rows = dict(_rows(wb, "Data"))
    assert rows[1] == (None, None, "Title")
    assert rows[2] == ()
    assert rows[3] == (None, None, "Ref", "Amount")
    assert rows[4] == (None, None, "A1", 12.5, date(2025, 6, 5), datetime(2025, 6, 5, 13, 30))
    assert rows[5][2] == 378 and rows[5][3] == CellError(CellError.NO_CACHED_VALUE)
    assert rows[7] == ()
    assert max(rows) == 7


@pytest.mark.parametrize("engine", ENGINES)
def test_error_results_are_cell_errors(engine):
    data = _xlsx(lambda wb: wb.active.append(["x", 1]))
    buf = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            body = src.read(info.filename)
            if info.filename == "xl/worksheets/sheet1.xml":
                body = body.replace(b"</row>", b'<c r="C1" t="e"><f>1/0</f><v>#DIV/0!</v></c>'
                                               b'<c r="D1" t="e"><v>#N/A</v></c></row>', 1)
            dst.writestr(info.filename, body)
    with open_workbook(buf.getvalue(), "e.xlsx", engine=engine) as wb:
        assert _rows(wb)[0] == (1, ("x", 1, CellError("#DIV/0!"), CellError("#N/A")))


@pytest.mark.parametrize("engine", ENGINES)
def test_row_cap(engine):
    data = _xlsx(lambda wb: [wb.active.append([i]) for i in range(200)])
    wb = open_workbook(data, "big.xlsx", engine=engine, max_rows=100)
    with pytest.raises(SpreadsheetError, match="more than 100 rows"):
        _rows(wb)


def test_unknown_sheet_lists_the_sheets():
    with open_workbook(SAMPLES / "vru-ledger-2025-26-p1-p6.xlsx") as wb:
        with pytest.raises(SpreadsheetError, match="no sheet called 'Data'.*'Read me', 'Lookups', 'Transactions'"):
            wb.iter_rows("Data")


def test_type_is_by_content_not_name():
    data = (SAMPLES / "budget-2025-26.xlsx").read_bytes()
    with open_workbook(data, "budget.csv") as wb:
        assert wb.format == "xlsx"


def test_accepts_path_bytes_and_file_objects():
    path = SAMPLES / "budget-2025-26.xlsx"
    for source in (path, str(path), path.read_bytes(), io.BytesIO(path.read_bytes())):
        with open_workbook(source, "budget.xlsx") as wb:
            assert len(_rows(wb)) == 14


# --- CSV -------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("text, encoding", [
    ("Ref;Amount;Supplier\r\nA1;\"1.234,50\";\"Smith; Sons\"\r\n", "utf-8"),
    ("Ref\tAmount\tSupplier\nA1\t1234.50\t\"Smith, Sons\"\n", "utf-8"),
    ("\ufeffRef,Amount,Supplier\nA1,\"£1,234.50\",\"Smith, Sons\"\n", "utf-8"),
    ("Ref,Amount,Supplier\nA1,£1234.50,Café Sons\n", "cp1252"),
])
def test_csv_dialects_and_encodings(text, encoding):
    wb = open_workbook(text.encode(encoding), "x.csv")
    rows = _rows(wb)
    assert rows[0] == (1, ("Ref", "Amount", "Supplier"))
    assert rows[1][1][0] == "A1" and len(rows[1][1]) == 3


def test_csv_quoted_newline_and_blank_rows():
    wb = open_workbook(b'Ref,Narrative\nA1,"two\nlines"\n,\nA2, x \n', "x.csv")
    assert _rows(wb) == [(1, ("Ref", "Narrative")), (2, ("A1", "two\nlines")), (3, ()), (4, ("A2", "x"))]


def test_csv_row_cap():
    data = ("n\n" + "1\n" * 500).encode()
    with pytest.raises(SpreadsheetError, match="more than 100 rows"):
        _rows(open_workbook(data, "x.csv", max_rows=100))


def test_oxford_csv_and_xlsx_read_the_same_rows():
    with open_workbook(SAMPLES / "oxford-expenditure-over-500-jan-mar-2016.csv") as csv_wb:
        csv_rows = _rows(csv_wb)
    with open_workbook(SAMPLES / "oxford-expenditure-over-500-jan-mar-2016.xlsx") as x_wb:
        x_rows = _rows(x_wb)
    assert len(csv_rows) == len(x_rows) == 3909  # header + 3,908 data rows
    assert csv_rows[0] == x_rows[0]


def _with_dimension(rows: int, dimension: bytes = b"A1:XFD1048576", tail: bytes = b"") -> bytes:
    """A small ledger whose sheet declares a false size, as some writers do."""
    import re
    import zipfile

    import xlsxwriter

    plain, out = io.BytesIO(), io.BytesIO()
    wb = xlsxwriter.Workbook(plain, {"in_memory": True})
    ws = wb.add_worksheet("Ledger")
    ws.write_row(0, 0, ["Transaction Ref", "Posting Date", "Supplier Name", "Net"])
    for i in range(1, rows + 1):
        ws.write_row(i, 0, [f"T{i}", "01/05/2025", "Acme", 10.5])
    wb.close()
    with zipfile.ZipFile(io.BytesIO(plain.getvalue())) as zin, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zout:
        for item in zin.infolist():
            data = zin.read(item.filename)
            if item.filename.startswith("xl/worksheets/sheet"):
                data, n = re.subn(rb'<dimension ref="[^"]*"/>', b'<dimension ref="' + dimension + b'"/>', data)
                assert n == 1
                data = data.replace(b"</sheetData>", tail + b"</sheetData>")
            zout.writestr(item, data)
    return out.getvalue()


@pytest.mark.parametrize("engine", ENGINES)
def test_a_false_declared_size_is_not_believed(engine):
    """A1:XFD1048576 on a five-row sheet: the real rows are counted while streaming; memory is not sized by it."""
    with open_workbook(_with_dimension(5), "ledger.xlsx", engine=engine, max_rows=10) as wb:
        rows = [values for _, values in wb.iter_rows("Ledger")]
    assert len(rows) == 6 and rows[-1][:3] == ("T5", "01/05/2025", "Acme")


@pytest.mark.parametrize("engine", ENGINES)
def test_real_excess_rows_are_still_refused(engine):
    with pytest.raises(SpreadsheetError, match="more than 10 rows"):
        with open_workbook(_with_dimension(80), "ledger.xlsx", engine=engine, max_rows=10) as wb:
            list(wb.iter_rows("Ledger"))


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("tail", [b'<row r="1048576" ht="12.8" customHeight="1"/>',
                                  b'<row r="1048576"><c r="D1048576" s="0"/></row>'], ids=["empty-row", "styled-cell"])
def test_a_far_off_empty_row_does_not_make_a_small_sheet_too_big(engine, tail):
    """The writer's last formatted row sits at 1048576 with nothing in it: five rows of data are read, quickly,
    and reading stops after the last row with a value."""
    with open_workbook(_with_dimension(5, tail=tail), "ledger.xlsx", engine=engine, max_rows=200_000) as wb:
        rows = [n for n, _ in wb.iter_rows("Ledger")]
    assert rows == [1, 2, 3, 4, 5, 6]


# --- the workbook kept between an import's reads ----------------------------------------------------------

def _ledger_file(tmp_path, name="ledger.xlsx", net=100):
    path = tmp_path / name
    path.write_bytes(_xlsx(lambda wb: [wb.active.append(r) for r in (["Ref", "Net"], ["JNL1", net])]))
    return path


@pytest.fixture
def counted_parses(monkeypatch):
    from tests.imports.helpers import count_sheet_parses
    from tracker.spreadsheets import reader

    yield count_sheet_parses(monkeypatch)
    reader.forget_kept()


def test_a_kept_workbook_is_read_again_without_parsing_again(tmp_path, counted_parses):
    path = _ledger_file(tmp_path)
    with open_workbook(path, "ledger.xlsx", keep=True) as wb:
        first = _rows(wb)
    moved = tmp_path / "stored.xlsx"
    path.rename(moved)  # a draft's upload is renamed once its headings are found: the same file
    with open_workbook(moved, "stored.xlsx", keep=True) as wb:
        assert _rows(wb) == first == [(1, ("Ref", "Net")), (2, ("JNL1", 100))]
        assert wb.filename == "stored.xlsx"
    assert counted_parses == ["Sheet"]


def test_a_changed_file_is_parsed_afresh(tmp_path, counted_parses):
    path = _ledger_file(tmp_path)
    with open_workbook(path, keep=True) as wb:
        _rows(wb)
    _ledger_file(tmp_path, net=250)  # written again: new bytes, new modification time
    with open_workbook(path, keep=True) as wb:
        assert _rows(wb)[1] == (2, ("JNL1", 250))
    assert counted_parses == ["Sheet", "Sheet"]


def test_nothing_is_kept_unless_asked_and_not_past_its_time(tmp_path, counted_parses, monkeypatch):
    from tracker.spreadsheets import reader

    path = _ledger_file(tmp_path)
    with open_workbook(path) as wb:
        _rows(wb)
    assert reader._kept is None
    with open_workbook(path, keep=True) as wb:
        _rows(wb)
    assert reader._kept is not None
    monkeypatch.setattr(reader, "KEEP_SECONDS", -1)
    with open_workbook(path, keep=True) as wb:  # expired: parsed again
        _rows(wb)
    reader.forget_kept()
    assert reader._kept is None
    assert counted_parses == ["Sheet", "Sheet", "Sheet"]


# --- calamine's parse beside the scan ---------------------------------------------------------------------

@pytest.fixture
def parses_beside(monkeypatch):
    """The sheets whose calamine parse was started beside the safety scan."""
    from tracker.spreadsheets import reader

    started: list[str] = []
    real = reader.Workbook._start_parse

    def spy(self, name):
        started.append(name)
        real(self, name)

    monkeypatch.setattr(reader.Workbook, "_start_parse", spy)
    return started


def test_calamine_parses_beside_the_scan_and_reads_what_it_would_read_after_it(parses_beside, monkeypatch):
    from tracker.spreadsheets import reader

    data = _with_dimension(50)
    with open_workbook(data, "ledger.xlsx") as wb:
        beside = _rows(wb, "Ledger")
    assert parses_beside == ["Ledger"]
    monkeypatch.setattr(reader, "_extent_fits", lambda pieces, limits: False)
    with open_workbook(data, "ledger.xlsx") as wb:
        after = _rows(wb, "Ledger")
    assert parses_beside == ["Ledger"] and after == beside and len(after) == 51


@pytest.mark.parametrize("tail, refused", [
    (b'<row r="52"><c><v>1</v></c></row>', None),  # a cell without a reference: its column is not known
    (b'<x:row r="52"><x:c r="A52"><x:v>1</x:v></x:c></x:row>', None),  # prefixed tags are not counted
    (b'<row r="1048576"><c r="A1048576"><v>1</v></c></row>', "more than 200,000 rows"),
    (b'<row r="52"><c r="ZZ52"><v>1</v></c></row>', None),  # 52 x 702 cells: within the limits below
    (b'<row r="52"><c r="AAA52"><v>1</v></c></row>', "columns beyond ZZ"),
], ids=["no-reference", "prefixed", "far-off-value", "wide-but-small", "too-wide"])
def test_calamine_waits_for_the_scan_when_the_quick_pass_cannot_bound_its_grid(parses_beside, tail, refused):
    data = _with_dimension(50, tail=tail)
    if refused:
        with pytest.raises(SpreadsheetError, match=refused):
            with open_workbook(data, "ledger.xlsx") as wb:
                _rows(wb, "Ledger")
    else:
        with open_workbook(data, "ledger.xlsx") as wb:
            assert len(_rows(wb, "Ledger")) >= 51
    expected = ["Ledger"] if tail.startswith(b'<row r="52"><c r="ZZ52"') else []
    assert parses_beside == expected


def test_a_sheet_calamine_refuses_while_parsing_beside_the_scan_is_a_sentence(parses_beside):
    data = _with_dimension(5, tail=b'<row r="7"><c r="A7" t="s"><v>999</v></c></row>')  # no shared string 999
    with pytest.raises(SpreadsheetError) as refused:
        with open_workbook(data, "ledger.xlsx") as wb:
            _rows(wb, "Ledger")
    assert parses_beside == ["Ledger"]
    assert "save it again" in refused.value.message


@pytest.mark.parametrize("xml", [
    b'<worksheet><sheetData><row r="1"><c r="A1"><f>1+1</f></c><c r="B1" t="e"><v>#N/A</v></c></row></sheetData>'
    b'</worksheet>',
    b'<x:worksheet><x:sheetData><x:row r="1"><x:c r="A1"><x:f>1+1</x:f></x:c><x:c r="B1" t="e"><x:v>#N/A</x:v>'
    b'</x:c></x:row></x:sheetData></x:worksheet>',
], ids=["plain", "prefixed"])
def test_the_scan_finds_unsaved_formulas_and_errors_with_or_without_prefixes(xml):
    from tracker.spreadsheets.reader import Limits, _Scanner

    scanner = _Scanner("Ledger", Limits())
    scanner.feed(xml)
    errors = scanner.result.cell_errors
    assert errors == {1: {0: CellError(CellError.NO_CACHED_VALUE), 1: CellError("#N/A")}}
    assert scanner.result.last_value_row == 1
