"""Write a return (tracker.returns.builder.ReturnData) as an .xlsx workbook a finance officer expects.

XlsxWriter in constant-memory mode: rows go straight to disk in order. Text from users is always written with
``write_string`` and the workbook refuses to turn strings into formulas or links, so a service called
``=HYPERLINK(...)`` stays text. Totals are real formulas with their cached values written too, so the file
shows the right figures even in a viewer that does not calculate. The same data and time give the same bytes.
"""
from __future__ import annotations

import io
from datetime import datetime, time
from decimal import Decimal

import xlsxwriter

from tracker.returns.builder import DATE, MONEY, NUMBER, PERCENT, RAG, Column, ReturnData, Table

# Finance shows negatives in red and in brackets; £ and thousands separators, always two places.
MONEY_FORMAT = '"£"#,##0.00;[Red]("£"#,##0.00);"£"0.00'
PERCENT_FORMAT = "0.0%;[Red]-0.0%"
DATE_FORMAT = "dd/mm/yyyy"
RAG_WORDS = {"R": "Red", "A": "Amber", "G": "Green"}
WORKBOOK_OPTIONS = {
    "constant_memory": True,
    "strings_to_formulas": False,  # user text that starts with = stays text
    "strings_to_urls": False,
    "strings_to_numbers": False,
    "default_date_format": DATE_FORMAT,
}

HEADER_ROW = 4  # 0-based: title, explanation, status line, blank, then the column headings
FIRST_DATA_ROW = HEADER_ROW + 1
LINE_HEIGHT = 15  # points per line of 11 pt text
MAX_ROW_HEIGHT = 409  # the most a spreadsheet row can be
#: Text columns at least this wide wrap (names, titles, notes); narrower ones hold short codes and words.
WRAP_FROM_WIDTH = 16


def lines_needed(text: str, width: float) -> int:  # float ok: a column width in characters, not money
    """How many lines ``text`` takes wrapped in a column ``width`` characters wide (a little generous: a printed
    row that is too tall wastes a line, one that is too short hides words)."""
    per_line = max(1, int(width * 1.0) - 1)
    count = 0
    for paragraph in str(text).split("\n"):
        words, line = paragraph.split(" "), 0
        count += 1
        for word in words:
            size = len(word)
            if line and line + 1 + size > per_line:
                count += 1
                line = 0
            while size > per_line:  # a word longer than the column breaks anywhere
                count += 1
                size -= per_line
            line = line + (1 if line else 0) + size
    return count


def row_height(cells: list[tuple[str, float]], minimum: int = 1) -> int:
    """A row's height in points so that each (text, column width) fits."""
    lines = max([minimum] + [lines_needed(text, width) for text, width in cells if text])
    return min(MAX_ROW_HEIGHT, LINE_HEIGHT * lines)


def split_long(text: str, limit: int = 1_800) -> list[str]:
    """A paragraph in pieces at sentence ends, none longer than ``limit``, so each piece's row can be tall
    enough to show it all (a row stops at 409 points)."""
    if len(text) <= limit:
        return [text]
    pieces, current = [], ""
    for sentence in text.replace(". ", ".\u0000").split("\u0000"):
        if current and len(current) + 1 + len(sentence) > limit:
            pieces.append(current)
            current = sentence
        else:
            current = f"{current} {sentence}" if current else sentence
        while len(current) > limit:
            pieces.append(current[:limit])
            current = current[limit:]
    if current:
        pieces.append(current)
    return pieces


#: Bold text (totals, headings) is about a tenth wider than regular text; a cell needs a little room either side.
BOLD = 1.1
PADDING = 2


def shown(column: Column, value) -> str:
    """``value`` as the spreadsheet shows it in ``column`` (same formats as MONEY_FORMAT and friends), for sizing:
    money as "£1,234.56" or "(£1,234.56)", percentages to one place, numbers with thousands separators."""
    if value is None or value == "":
        return ""
    if column.kind == MONEY and isinstance(value, int) and not isinstance(value, bool):
        text = f"£{abs(value) // 100:,}.{abs(value) % 100:02d}"
        return f"({text})" if value < 0 else text
    if column.kind == PERCENT and isinstance(value, (int, float, Decimal)):
        return f"{value:.1f}%" if value >= 0 else f"-{-value:.1f}%"
    if column.kind == DATE:
        return "00/00/0000"
    if column.kind == NUMBER and isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    if column.kind == RAG:
        return RAG_WORDS.get(value, str(value))
    return str(value)


def _extremes(column: Column, values) -> list:
    """The values whose shown text is widest: for figures, the largest and the smallest (the most negative gets
    brackets); for text, every value."""
    present = [v for v in values if v is not None and v != ""]
    if column.kind in (MONEY, PERCENT, NUMBER) and all(isinstance(v, (int, float, Decimal)) and not isinstance(v, bool)
                                                     for v in present):
        return [max(present), min(present)] if present else []
    return present


def _total_value(column: Column, total) -> object:
    """What a totals row shows in ``column`` (the cached value of its formula), as the table's values are kept."""
    if column.total == "ratio" and column.ratio_of:
        numerator = total.values.get(column.ratio_of[0]) or 0
        denominator = total.values.get(column.ratio_of[1]) or 0
        return Decimal(numerator) * 100 / Decimal(denominator) if denominator else None
    return total.values.get(column.key) if column.total in ("sum", "value") else None


def fitted_widths(table: Table) -> list[float]:
    """Each column's printed width: at least the width the table asks for, and wide enough for its widest value as
    shown (totals in bold, negatives in brackets, the £ sign) and for its heading's longest word, so a figure never
    prints as "###". Wrapped text columns keep their width: their text goes onto more lines instead."""
    widths = []
    for i, c in enumerate(table.columns):
        width = float(c.width)  # float ok: a column width in characters, not money
        longest_word = max((len(w) for w in c.heading.split()), default=0)
        width = max(width, longest_word * BOLD + PADDING)
        if not wraps(c):
            body = _extremes(c, [row[i] for row in table.rows])
            width = max([width] + [len(shown(c, v)) + PADDING for v in body])
            if i == 0:
                totals = [t.label for t in table.totals]
            else:
                totals = _extremes(c, [_total_value(c, t) for t in table.totals])
            width = max([width] + [len(shown(c, v)) * BOLD + PADDING for v in totals])
        widths.append(round(width, 1))
    return widths


def col_letter(index: int) -> str:
    return xlsxwriter.utility.xl_col_to_name(index)


class Formats:
    """The cell formats a return uses, made once per workbook."""

    def __init__(self, wb: xlsxwriter.Workbook):
        self.title = wb.add_format({"bold": True, "font_size": 14})
        self.subtitle = wb.add_format({"italic": True, "font_color": "#505a5f"})
        self.status = wb.add_format({"bold": True})
        self.draft = wb.add_format({"bold": True, "font_color": "#d4351c"})
        self.header = wb.add_format({"bold": True, "bg_color": "#dee0e2", "bottom": 1, "text_wrap": True,
                                     "valign": "top"})
        self.header_num = wb.add_format({"bold": True, "bg_color": "#dee0e2", "bottom": 1, "text_wrap": True,
                                         "valign": "top", "align": "right"})
        self.text = wb.add_format({"valign": "top"})
        self.explanation = wb.add_format({"italic": True, "font_color": "#505a5f", "text_wrap": True,
                                          "valign": "top"})
        self.wrap = wb.add_format({"text_wrap": True, "valign": "top"})
        self.money = wb.add_format({"num_format": MONEY_FORMAT, "valign": "top"})
        self.percent = wb.add_format({"num_format": PERCENT_FORMAT, "valign": "top"})
        self.date = wb.add_format({"num_format": DATE_FORMAT, "align": "center", "valign": "top"})
        self.number = wb.add_format({"num_format": "#,##0", "valign": "top"})
        self.total_text = wb.add_format({"bold": True, "top": 1, "bottom": 6})
        self.total_money = wb.add_format({"bold": True, "top": 1, "bottom": 6, "num_format": MONEY_FORMAT})
        self.total_percent = wb.add_format({"bold": True, "top": 1, "bottom": 6, "num_format": PERCENT_FORMAT})
        self.total_number = wb.add_format({"bold": True, "top": 1, "bottom": 6, "num_format": "#,##0"})
        self.rag = {
            "Red": wb.add_format({"bg_color": "#f6d7d2", "font_color": "#942514", "bold": True}),
            "Amber": wb.add_format({"bg_color": "#fff2cc", "font_color": "#594d00", "bold": True}),
            "Green": wb.add_format({"bg_color": "#cce2d8", "font_color": "#005a30", "bold": True}),
        }
        self.label = wb.add_format({"bold": True, "valign": "top"})
        self.left_number = wb.add_format({"align": "left", "valign": "top"})
        self.label_wrap = wb.add_format({"bold": True, "valign": "top", "text_wrap": True})


def pounds(pence: int) -> float:
    """Pence as pounds for a cell (Excel keeps numbers as doubles; pence/100 is the nearest to the exact value)."""
    return pence / 100


def write_value(ws, row: int, col: int, column: Column, value, fmt: Formats) -> None:
    """One cell by the column's kind. Anything not a number or date is written as a string, never a formula."""
    if value is None or value == "":
        ws.write_blank(row, col, None, {MONEY: fmt.money, PERCENT: fmt.percent, DATE: fmt.date}.get(column.kind))
    elif column.kind == MONEY:
        ws.write_number(row, col, pounds(value), fmt.money)
    elif column.kind == PERCENT:
        ws.write_number(row, col, float(value) / 100, fmt.percent)  # float ok: a percentage, not money
    elif column.kind == DATE:
        ws.write_datetime(row, col, datetime.combine(value, time()) if not isinstance(value, datetime) else value,
                          fmt.date)
    elif column.kind == NUMBER and isinstance(value, (int, float)) and not isinstance(value, bool):
        ws.write_number(row, col, value, fmt.number)
    elif column.kind == RAG:
        word = RAG_WORDS.get(value, str(value))
        ws.write_string(row, col, word, fmt.rag.get(word))
    else:
        ws.write_string(row, col, str(value), fmt.wrap if wraps(column) else fmt.text)


def wraps(column: Column) -> bool:
    return column.kind not in (MONEY, PERCENT, DATE, NUMBER, RAG) and column.width >= WRAP_FROM_WIDTH


def printed_on(data: ReturnData) -> str:
    """The footer's date, in UK form and fixed in the file: when it was issued, or when the draft was made.
    (A spreadsheet's own &D field prints the reader's date in the reader's locale, e.g. 12/02/2026.)"""
    if data.status == "issued" and data.issued_at:
        return f"Issued {data.issued_at:%d/%m/%Y}"
    return f"Draft made {data.generated_at:%d/%m/%Y}"


def _print_setup(ws, title: str, repeat_row: int | None, data: ReturnData) -> None:
    ws.set_landscape()
    ws.set_paper(9)  # A4
    ws.fit_to_pages(1, 0)  # one page wide, as many tall as needed
    ws.set_margins(left=0.4, right=0.4, top=0.6, bottom=0.6)
    if repeat_row is not None:
        ws.repeat_rows(repeat_row)
    ws.set_header(f"&L&\"-,Bold\"{title.replace('&', '&&')}")
    ws.set_footer(f"&L{printed_on(data)}&RPage &P of &N")


def status_line(data: ReturnData) -> str:
    status = "Issued" if data.status == "issued" else "DRAFT, not issued"
    return f"{data.vru_name} · {data.year.label} {data.quarter_name} · version {data.version} · {status}"


def write_table(wb, ws, table: Table, data: ReturnData, fmt: Formats) -> None:
    cols = table.columns
    widths = fitted_widths(table)
    for i, width in enumerate(widths):
        ws.set_column(i, i, width)
    # The explanation spans the table's width, wrapped, so it prints whole rather than cut at the last column.
    span = sum(widths)
    ws.write_string(0, 0, table.title, fmt.title)
    ws.set_row(1, row_height([(table.explanation, span * 1.1)]))
    if len(cols) > 1:
        ws.merge_range(1, 0, 1, len(cols) - 1, table.explanation, fmt.explanation)
    else:
        ws.write_string(1, 0, table.explanation, fmt.explanation)
    ws.write_string(2, 0, status_line(data), fmt.status if data.status == "issued" else fmt.draft)
    ws.set_row(HEADER_ROW, max(32, row_height([(c.heading, c.width) for c in cols])))
    for i, c in enumerate(cols):
        ws.write_string(HEADER_ROW, i, c.heading, fmt.header if c.kind not in (MONEY, PERCENT, NUMBER) else fmt.header_num)
    ws.freeze_panes(FIRST_DATA_ROW, 1)
    last_data = FIRST_DATA_ROW + len(table.rows) - 1
    ws.autofilter(HEADER_ROW, 0, max(last_data, HEADER_ROW), len(cols) - 1)
    _print_setup(ws, f"{data.title} · {table.sheet}", HEADER_ROW, data)
    # Wrapped columns whose text may not fit one line: (index, width, shortest text that needs a second line).
    wrapped = [(i, c.width, c.width - 1) for i, c in enumerate(cols) if wraps(c)]
    text_formats = {i: fmt.wrap if wraps(c) else fmt.text for i, c in enumerate(cols)}
    money_columns = {i for i, c in enumerate(cols) if c.kind == MONEY}
    plain = {i for i, c in enumerate(cols) if c.kind not in (MONEY, PERCENT, DATE, NUMBER, RAG)}
    row = FIRST_DATA_ROW
    for values in table.rows:
        tall = [(values[i], width) for i, width, fits in wrapped
                if isinstance(values[i], str) and len(values[i]) >= fits]
        if tall:
            ws.set_row(row, row_height(tall))
        for i, v in enumerate(values):
            # The two commonest cells (money, plain text) inline: a big year has tens of thousands of them.
            if v is None or v == "":
                write_value(ws, row, i, cols[i], v, fmt)
            elif i in money_columns:
                ws.write_number(row, i, pounds(v), fmt.money)
            elif i in plain:
                ws.write_string(row, i, str(v), text_formats[i])
            else:
                write_value(ws, row, i, cols[i], v, fmt)
        row += 1
    if not table.rows:
        ws.write_string(row, 0, table.empty_message, fmt.subtitle)
        row += 1
    if table.totals:
        row += 1
        totals_at = {}
        for total in table.totals:
            write_total(ws, row, table, total, fmt, totals_at)
            totals_at[total.label] = row
            row += 1


def write_total(ws, row: int, table: Table, total, fmt: Formats, totals_at: dict) -> None:
    """A totals row: SUM (or SUMIF for a subset) formulas with their cached values, ratio formulas for %."""
    cols = table.columns
    first, last = FIRST_DATA_ROW + 1, FIRST_DATA_ROW + len(table.rows)  # 1-based for formulas
    ws.write_string(row, 0, total.label, fmt.total_text)
    for i, c in enumerate(cols[1:], start=1):
        value = total.values.get(c.key)
        letter = col_letter(i)
        if c.total == "sum" and value is None and table.rows:
            ws.write_blank(row, i, None, fmt.total_text)
        elif c.total == "sum":
            cached = pounds(value or 0)
            if not table.rows:
                ws.write_number(row, i, cached, fmt.total_money)
            elif total.match:
                m = col_letter(table.column_index(total.match[0]))
                ws.write_formula(row, i, f'=SUMIF(${m}${first}:${m}${last},"{total.match[1]}",{letter}{first}:{letter}{last})',
                                 fmt.total_money, cached)
            else:
                ws.write_formula(row, i, f"=SUM({letter}{first}:{letter}{last})", fmt.total_money, cached)
        elif c.total == "ratio" and c.ratio_of:
            num = f"{col_letter(table.column_index(c.ratio_of[0]))}{row + 1}"
            den = f"{col_letter(table.column_index(c.ratio_of[1]))}{row + 1}"
            numerator = total.values.get(c.ratio_of[0]) or 0
            denominator = total.values.get(c.ratio_of[1]) or 0
            cached = numerator / denominator if denominator else ""
            ws.write_formula(row, i, f'=IF({den}=0,"",{num}/{den})', fmt.total_percent, cached)
        elif c.total == "value" and value not in (None, ""):
            word = RAG_WORDS.get(value, str(value)) if c.kind == RAG else str(value)
            ws.write_string(row, i, word, fmt.rag.get(word, fmt.total_text))
        else:
            ws.write_blank(row, i, None, fmt.total_text)


COVER_LABEL_WIDTH, COVER_TEXT_WIDTH = 28, 100
MONEY_NOTE = ("Pounds sterling to the penny; negative amounts (credits, underspends) in red brackets. "
              "Totals rows are formulas.")


def write_cover(ws, data: ReturnData, fmt: Formats) -> None:
    """Label and value in two columns; every wrapped value's row is as tall as its text, so no line prints on
    top of the next."""
    ws.set_column(0, 0, COVER_LABEL_WIDTH)
    ws.set_column(1, 1, COVER_TEXT_WIDTH)
    ws.write_string(0, 0, data.title, fmt.title)
    row = 2

    def pair(label: str, value, value_format) -> None:
        nonlocal row
        ws.set_row(row, row_height([(label, COVER_LABEL_WIDTH), (str(value), COVER_TEXT_WIDTH)]))
        ws.write_string(row, 0, label, fmt.label_wrap)
        if isinstance(value, int):
            ws.write_number(row, 1, value, fmt.left_number)
        else:
            ws.write_string(row, 1, str(value), value_format)
        row += 1

    for label, value in data.cover():
        pair(label, value, fmt.draft if label == "Status" and data.status != "issued" else fmt.wrap)
    row += 1
    ws.write_string(row, 0, "What each sheet shows", fmt.header)
    ws.write_string(row, 1, "", fmt.header)
    row += 1
    for sheet, text in data.guide():
        pair(sheet, text, fmt.wrap)
    row += 1
    pair("Money", MONEY_NOTE, fmt.wrap)
    _print_setup(ws, data.title, None, data)
    ws.fit_to_pages(1, 1)  # the cover is one page: its guide to the sheets would leave a line or two on a second


NOTES_WIDTH = 110  # fits a landscape A4 page at full size (one column too wide for a page is cut, not shrunk)


def write_notes(ws, data: ReturnData, fmt: Formats) -> None:
    """One paragraph a row, wrapped to the page's width, each row as tall as its text (a very long paragraph
    goes over several rows, split at sentence ends)."""
    ws.set_column(0, 0, NOTES_WIDTH)
    ws.write_string(0, 0, "Notes: risks and underspend", fmt.title)
    ws.write_string(1, 0, f"{data.year.label} {data.quarter_name}, version {data.version}", fmt.subtitle)
    paragraphs = [p for p in data.narrative.replace("\r\n", "\n").split("\n")] if data.narrative.strip() else []
    row = 3
    if not paragraphs:
        ws.write_string(row, 0, "No notes were written for this return.", fmt.subtitle)
    for p in paragraphs:
        for piece in split_long(p):
            ws.set_row(row, row_height([(piece, NOTES_WIDTH)]))
            ws.write_string(row, 0, piece, fmt.wrap)
            row += 1
    _print_setup(ws, f"{data.title} · Notes", None, data)


def workbook_bytes(data: ReturnData) -> bytes:
    """The return as .xlsx bytes. The created date is the issue time (or the draft's generation time), so the
    same figures at the same time give the same bytes."""
    buffer = io.BytesIO()
    wb = xlsxwriter.Workbook(buffer, WORKBOOK_OPTIONS)
    stamp = data.issued_at or data.generated_at
    wb.set_properties({
        "title": data.title,
        "subject": f"{data.year.label} {data.quarter_name}, version {data.version}",
        "author": data.prepared_by or data.vru_name,
        "manager": data.issued_by,
        "company": data.vru_name,
        "category": "Quarterly return",
        "keywords": "PCC return, VRU",
        "comments": ("Issued" if data.status == "issued" else "Draft") + f" version {data.version}",
        "created": stamp,
    })
    fmt = Formats(wb)
    write_cover(wb.add_worksheet("Cover"), data, fmt)
    for table in data.tables:
        write_table(wb, wb.add_worksheet(table.sheet), table, data, fmt)
    write_notes(wb.add_worksheet("Notes"), data, fmt)
    wb.close()
    return buffer.getvalue()


def bare_workbook_bytes(sheets: list[tuple[str, list[list]]]) -> bytes:
    """The same cell values with no formats, formulas or set-up: the floor the benchmark compares against."""
    buffer = io.BytesIO()
    wb = xlsxwriter.Workbook(buffer, {"constant_memory": True, "strings_to_formulas": False, "strings_to_urls": False,
                                      "default_date_format": DATE_FORMAT})
    for name, rows in sheets:
        ws = wb.add_worksheet(name)
        for r, values in enumerate(rows):
            for c, v in enumerate(values):
                if v is not None:
                    ws.write(r, c, v)
    wb.close()
    return buffer.getvalue()


def cell_values(data: ReturnData) -> list[tuple[str, list[list]]]:
    """The values the return writes, per sheet, as plain cells (for the benchmark's bare write)."""
    out = [("Cover", [[label, value] for label, value in data.cover()])]
    for t in data.tables:
        rows = [[c.heading for c in t.columns]]
        for values in t.rows:
            rows.append([pounds(v) if c.kind == MONEY and v is not None else
                         float(v) if c.kind == PERCENT and v is not None else v  # float ok: a percentage
                         for c, v in zip(t.columns, values)])
        out.append((t.sheet, rows))
    out.append(("Notes", [[p] for p in data.narrative.split("\n")]))
    return out

