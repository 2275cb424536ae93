"""Open an uploaded spreadsheet (.xlsx, .xlsm or .csv) safely and stream its rows.

``open_workbook(source, filename)`` checks what the file really is from its bytes (never from its name),
refuses hostile or broken files before inflating anything, and returns a ``Workbook`` whose ``iter_rows``
yields ``(excel_row_number, values)`` one row at a time with values already normalised (text trimmed and
blank text as None, midnight datetimes as dates, numbers as the reader gives them, error cells as
``CellError``). Every refusal is a ``SpreadsheetError`` whose message is a sentence a finance officer can act on.

Two engines read workbooks: python-calamine (default, 10-15x faster) and openpyxl ``read_only`` (pure
Python, lower peak memory). Neither reports formulas without a saved result or error cells in a way we can
use (calamine gives "" for both, openpyxl None / a plain string), and neither limits decompression, so before
a sheet is read we stream its XML once ourselves (``Workbook._scan``): that pass inflates the raw zip member
with a hard size limit, counts rows, finds wide columns, formula cells without a value and error cells. The
scan is the same for both engines. With calamine, whose parse releases the GIL, a quicker pass first proves the
part's size and checksum and bounds the grid calamine will build (``_extent_fits``); calamine then parses on
another core while the full scan runs, and the rows are read once both are done.
"""
from __future__ import annotations

import codecs
import csv
import io
import os
import posixpath
import re
import struct
import threading
import time
import zipfile
import zlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import IO, Iterator, Union

import openpyxl
import python_calamine
from defusedxml import ElementTree as SafeET

from tracker.spreadsheets.values import CellError

Source = Union[str, os.PathLike, bytes, bytearray, memoryview, IO[bytes]]

ENGINES = ("calamine", "openpyxl")
DEFAULT_MAX_ENTRIES = 2_000
DEFAULT_MAX_UNCOMPRESSED = 200 * 1024 * 1024
DEFAULT_MAX_RATIO = 100
DEFAULT_RATIO_MIN_SIZE = 1024 * 1024  # small parts (styles, themes) legitimately compress very well
DEFAULT_MAX_ROWS = 200_000
DEFAULT_MAX_CELLS = 15_000_000  # calamine keeps a sheet as a dense grid of rows x columns in memory
HEADER_ALLOWANCE = 50  # title, blank and header rows above the data do not count against max_rows
MAX_COLUMN_LETTERS = "ZZ"  # 702 columns; real ledgers have a few dozen

_CHUNK = 1 << 20
_PROLOG_LIMIT = 64 * 1024
_MAX_CARRY = 64 * 1024 * 1024

ENCRYPTED_MESSAGE = ("This workbook is password-protected (encrypted) or in the old .xls format; "
                     "save it as .xlsx without a password and upload it again.")
DAMAGED_MESSAGE = ("This file is damaged or incomplete, so it cannot be read as an Excel workbook; "
                   "open it in Excel, save it again as .xlsx and upload the new copy.")
NOT_SPREADSHEET_MESSAGE = ("This file is not a spreadsheet that can be imported; "
                           "upload an Excel workbook (.xlsx or .xlsm) or a CSV file.")

_WORKBOOK_TYPES = {
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml": "xlsx",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.template.main+xml": "xlsx",
    "application/vnd.ms-excel.sheet.macroEnabled.main+xml": "xlsm",
    "application/vnd.ms-excel.template.macroEnabled.main+xml": "xlsm",
}
_OTHER_OFFICE_TYPES = {
    "application/vnd.ms-excel.sheet.binary.macroEnabled.main": (
        "This is an Excel binary workbook (.xlsb), which cannot be imported; save it as .xlsx and upload it again."),
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml": (
        "This file is a Word document, not an Excel workbook; upload an .xlsx, .xlsm or .csv file."),
    "application/vnd.openxmlformats-officedocument.presentationml.presentation.main+xml": (
        "This file is a PowerPoint presentation, not an Excel workbook; upload an .xlsx, .xlsm or .csv file."),
}


def require_defusedxml() -> None:
    """Refuse to go on unless openpyxl parses with defusedxml (it does only when it can import it): uploads are
    hostile until proven otherwise. The one check: create_app calls it at start-up, and ``open_workbook`` for a
    caller outside the app. (A check, not an ``assert``, which ``python -O`` drops; a call, not an import-time
    raise, so importing the module does nothing.)"""
    if not openpyxl.DEFUSEDXML:
        raise RuntimeError("defusedxml must be installed (pip install defusedxml): without it openpyxl would parse "
                           "uploaded workbooks unsafely.")


class SpreadsheetError(Exception):
    """Any reason a file cannot be read; ``str(error)`` is a complete sentence for the person who uploaded it."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class SheetInfo:
    """A sheet of a workbook, in workbook order. ``state`` is "visible", "hidden" or "veryHidden"."""

    name: str
    index: int
    state: str = "visible"
    part: str | None = None  # the worksheet XML inside the zip; None for CSV

    @property
    def hidden(self) -> bool:
        return self.state != "visible"


@dataclass
class _SheetScan:
    max_row: int = 0  # the highest row the XML mentions, even an empty one (a false size may put it at 1048576)
    max_col: int = 0
    last_value_row: int = 0  # the last row that holds a value: reading stops there
    # row -> {0-based column -> CellError}: formulas without a saved value and Excel error results.
    cell_errors: dict[int, dict[int, CellError]] = field(default_factory=dict)


@dataclass(frozen=True)
class Limits:
    max_entries: int = DEFAULT_MAX_ENTRIES
    max_uncompressed: int = DEFAULT_MAX_UNCOMPRESSED
    max_ratio: float = DEFAULT_MAX_RATIO  # float ok: a compression ratio
    ratio_min_size: int = DEFAULT_RATIO_MIN_SIZE
    max_rows: int = DEFAULT_MAX_ROWS
    max_cells: int = DEFAULT_MAX_CELLS


# --- value normalisation (hot path: called once per cell) ------------------------------------------------

def _norm(v: object) -> object:
    t = type(v)
    if t is str:
        v = v.strip()  # type: ignore[union-attr]
        return v or None
    if t is datetime and not (v.hour or v.minute or v.second or v.microsecond):  # type: ignore[union-attr]
        return v.date()  # type: ignore[union-attr]
    return v


def _finish_row(values: list, errors: dict[int, CellError] | None) -> tuple:
    if errors:
        for col, err in errors.items():
            if col >= len(values):
                values.extend([None] * (col + 1 - len(values)))
            values[col] = err
    while values and values[-1] is None:
        values.pop()
    return tuple(values)


def column_letter(index: int) -> str:
    """0-based column index to Excel letters: 0 -> A, 27 -> AB."""
    letters = ""
    n = index + 1
    while n:
        n, rem = divmod(n - 1, 26)
        letters = chr(65 + rem) + letters
    return letters


def _column_index(letters: bytes | str) -> int:
    n = 0
    for ch in letters if isinstance(letters, str) else letters.decode("ascii"):
        n = n * 26 + (ord(ch) - 64)
    return n - 1


# --- zip safety ------------------------------------------------------------------------------------------

def _check_zip_directory(infos: list[zipfile.ZipInfo], limits: Limits) -> None:
    """Refuse zip bombs from the central directory alone, before a single byte is inflated."""
    too_big = ("This workbook is too large to import safely (it would expand to more than "
               f"{limits.max_uncompressed // (1024 * 1024)} MB); split it into smaller files.")
    if len(infos) > limits.max_entries:
        raise SpreadsheetError(f"This workbook has too many internal parts ({len(infos):,}) to import safely; "
                               "save it again from Excel as a plain .xlsx.")
    total = 0
    for info in infos:
        if info.flag_bits & 0x1:
            raise SpreadsheetError(ENCRYPTED_MESSAGE)
        total += info.file_size
        if total > limits.max_uncompressed:
            raise SpreadsheetError(too_big)
        if info.file_size >= limits.ratio_min_size and info.file_size > limits.max_ratio * max(info.compress_size, 1):
            raise SpreadsheetError("This workbook is compressed in a way no spreadsheet program produces "
                                   "(it would expand more than a hundredfold), so it has been refused for safety.")


def _check_active_content(zf: zipfile.ZipFile) -> None:
    """Refuse a workbook carrying macros, Excel 4.0 macro sheets, embedded objects, DDE or links to other files
    (``tracker.ooxml``, the one check documents use too): an import is kept and may be opened again."""
    from tracker.ooxml import active_content

    reason = active_content(zf)
    if reason:
        raise SpreadsheetError(f"This workbook has been refused because {reason}. Copy its data into a new "
                               "workbook, save it as a plain .xlsx and upload that.")


def _inflate(fp: IO[bytes], info: zipfile.ZipInfo) -> Iterator[bytes]:
    """Stream one zip member's bytes, trusting nothing: output may not exceed the declared size.

    Python's zipfile would stop at the declared size quietly; calamine's Rust zip reader might not, so the
    scan before calamine reads a part proves the part really is the size the directory claims.
    """
    fp.seek(info.header_offset)
    head = fp.read(30)
    if len(head) < 30 or head[:4] != b"PK\x03\x04":
        raise SpreadsheetError(DAMAGED_MESSAGE)
    name_len, extra_len = struct.unpack("<HH", head[26:30])
    fp.seek(info.header_offset + 30 + name_len + extra_len)
    left = info.compress_size
    produced = 0
    crc = 0
    if info.compress_type == zipfile.ZIP_STORED:
        while left:
            buf = fp.read(min(_CHUNK, left))
            if not buf:
                raise SpreadsheetError(DAMAGED_MESSAGE)
            left -= len(buf)
            produced += len(buf)
            crc = zlib.crc32(buf, crc)
            yield buf
    elif info.compress_type == zipfile.ZIP_DEFLATED:
        dec = zlib.decompressobj(-15)
        try:
            while not dec.eof:
                if dec.unconsumed_tail:
                    buf = dec.unconsumed_tail
                else:
                    if not left:
                        raise SpreadsheetError(DAMAGED_MESSAGE)
                    buf = fp.read(min(_CHUNK, left))
                    if not buf:
                        raise SpreadsheetError(DAMAGED_MESSAGE)
                    left -= len(buf)
                out = dec.decompress(buf, _CHUNK)
                produced += len(out)
                if produced > info.file_size:
                    raise SpreadsheetError(DAMAGED_MESSAGE)
                if out:
                    crc = zlib.crc32(out, crc)
                    yield out
        except zlib.error:
            raise SpreadsheetError(DAMAGED_MESSAGE) from None
    else:
        raise SpreadsheetError("This workbook uses a compression method Excel does not use; "
                               "save it again from Excel as .xlsx and upload the new copy.")
    if produced != info.file_size or crc != info.CRC:
        raise SpreadsheetError(DAMAGED_MESSAGE)


_DTD_MESSAGE = ("This workbook contains XML definitions (a DOCTYPE or ENTITY) that spreadsheet programs never "
                "write and that are used in attacks, so it has been refused; open it in Excel and save a fresh copy.")
_ROOT_START = re.compile(rb"<[A-Za-z_]")


def _check_prolog(zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> None:
    """Refuse any XML part that declares a DTD (entity-expansion bombs, external entities).

    A DTD can only appear before the root element, so reading up to the root element (bounded) is enough.
    """
    try:
        with zf.open(info) as fh:
            head = fh.read(_PROLOG_LIMIT)
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, NotImplementedError, RuntimeError):
        raise SpreadsheetError(DAMAGED_MESSAGE) from None
    m = _ROOT_START.search(head)
    prolog = head[: m.start()] if m else head
    if b"<!DOCTYPE" in prolog.upper() or b"<!ENTITY" in prolog.upper():
        raise SpreadsheetError(_DTD_MESSAGE)
    if not m and len(head) >= _PROLOG_LIMIT:
        raise SpreadsheetError(_DTD_MESSAGE)


def _declares_dimension(zf: zipfile.ZipFile, part: str | None) -> bool:
    if part is None or part not in zf.NameToInfo:
        return True
    try:
        with zf.open(part) as fh:
            head = fh.read(_PROLOG_LIMIT)
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, NotImplementedError, RuntimeError):
        raise SpreadsheetError(DAMAGED_MESSAGE) from None
    dim, data = head.find(b"dimension"), head.find(b"sheetData")
    return dim != -1 and (data == -1 or dim < data)


# --- the sheet XML scan ----------------------------------------------------------------------------------

_ROW_NUMBER = re.compile(rb' r="(\d+)"')  # only <row> has a numeric r attribute; cells have letters
_WIDE_REF = re.compile(rb' r="[A-Z]{2,3}\d')
_EMPTY_ROW = re.compile(rb"<(?:[\w.-]+:)?row\b[^>]*/>")  # <row r="9" customHeight="1"/>: formatting, no cells
_VALUE_TAGS = (b"<v>", b"<v ", b"<is>", b":v>", b":is>")
_ANY_REF_LETTERS = re.compile(rb' r="([A-Z]{1,3})\d')
_CELL = re.compile(rb"<((?:[\w.-]+:)?)c\b([^>]*?)(?:/>|>(.*?)</\1c>)", re.S)
_CELL_REF = re.compile(rb'\br="([A-Z]{1,3})(\d+)"')
_CELL_TYPE = re.compile(rb'\bt="(\w+)"')
_FORMULA = re.compile(rb"<(?:[\w.-]+:)?f\b")
_VALUE = re.compile(rb"<((?:[\w.-]+:)?)v>(.*?)</\1v>", re.S)


def _has_formula_or_error(part: bytes, prefixed: bool) -> bool:
    return b"<f" in part or b't="e"' in part or (prefixed and (b":f>" in part or b":f " in part))


_TAIL = 64 * 1024  # a piece's last value is nearly always in its last few rows


def _last_value_at(part: bytes) -> int:
    """Where the piece's last value tag starts, or -1: looked for in the tail first, since a tag that is absent
    (most files use only one of them) costs a search of the whole piece."""
    start = max(0, len(part) - _TAIL)
    at = max(part.rfind(tag, start) for tag in _VALUE_TAGS)
    if at == -1 and start:
        at = max(part.rfind(tag, 0, start + 8) for tag in _VALUE_TAGS)
    return at


class _Scanner:
    def __init__(self, sheet: str, limits: Limits) -> None:
        self.sheet = sheet
        self.limits = limits
        self.result = _SheetScan()
        self.row_limit = limits.max_rows + HEADER_ALLOWANCE
        self.rows_seen = 0
        self.real_rows = 0  # rows with cells: empty formatted rows are not data and do not count
        self.cells_seen = 0  # an over-count (<col, <cfRule...), which only makes the limit a little stricter
        self.prefixed: bool | None = None  # known once <sheetData> is seen

    def feed(self, part: bytes) -> None:
        res = self.result
        # The piece's last row tag gives its highest row number (rows are in order within a sheet).
        at = part.rfind(b"<row ")
        if self.prefixed is not False:
            at = max(at, part.rfind(b":row "))
        number = _ROW_NUMBER.search(part, at) if at != -1 else None
        if number:
            last = int(number.group(1))
            if last > res.max_row:
                res.max_row = last
        # Rows and cells may omit their r="" reference (the zip-bomb sample does): count the tags as well.
        tags = part.count(b"<row")
        self.cells_seen += part.count(b"<c")
        if b":row" in part:
            tags += part.count(b":row>") + part.count(b":row ")
            self.cells_seen += part.count(b":c>") + part.count(b":c ")
        self.rows_seen += tags
        self.real_rows += tags - (len(_EMPTY_ROW.findall(part)) if b"/>" in part else 0)
        if self.rows_seen > res.max_row:
            res.max_row = self.rows_seen
        # The last row holding a value, found from the last value in this piece (not from any declared size).
        at = _last_value_at(part)
        if at != -1:
            start = max(part.rfind(b"<row", 0, at), part.rfind(b":row", 0, at))
            number = _ROW_NUMBER.search(part, start, at) if start != -1 else None
            last = int(number.group(1)) if number else self.rows_seen
            if last > res.last_value_row:
                res.last_value_row = last
        # Refuse only real excess: rows with data, not a far-off empty row or a declared dimension.
        if max(res.last_value_row, self.real_rows) > self.row_limit:
            raise SpreadsheetError(too_many_rows(self.sheet, self.limits.max_rows))
        if self.cells_seen > self.limits.max_cells:
            raise SpreadsheetError(too_many_cells(self.sheet))
        if res.max_col < 26 and b' r="' in part:
            res.max_col = 26  # any column up to Z; the exact width only matters for wide sheets
        if _WIDE_REF.search(part):
            widest = max(_ANY_REF_LETTERS.findall(part), key=lambda s: (len(s), s))
            res.max_col = max(res.max_col, _column_index(widest) + 1)
            if len(widest) > len(MAX_COLUMN_LETTERS) or (len(widest) == len(MAX_COLUMN_LETTERS)
                                                         and widest.decode() > MAX_COLUMN_LETTERS):
                raise SpreadsheetError(f"The sheet '{self.sheet}' uses columns beyond {MAX_COLUMN_LETTERS}, "
                                       "which an import file never needs; delete the unused columns and save it again.")
        if self.prefixed is None and (b"sheetData" in part):
            # Tags carry a namespace prefix (<x:c>) only where the sheet's own elements do.
            self.prefixed = b":sheetData" in part
        if _has_formula_or_error(part, self.prefixed is not False):
            self._cells(part)

    def _cells(self, part: bytes) -> None:
        for m in _CELL.finditer(part):
            attrs, body = m.group(2), m.group(3) or b""
            ref = _CELL_REF.search(attrs)
            if not ref:
                continue  # cells without a reference are rare; they are read without this check
            t = _CELL_TYPE.search(attrs)
            ctype = t.group(1) if t else b"n"
            value = _VALUE.search(body)
            text = value.group(2).strip() if value else b""
            if ctype == b"e":
                err = CellError(text.decode("utf-8", "replace") or "#VALUE!")
            elif _FORMULA.search(body) and not text and ctype not in (b"str", b"inlineStr"):
                err = CellError(CellError.NO_CACHED_VALUE)
            else:
                continue
            row = int(ref.group(2))
            self.result.cell_errors.setdefault(row, {})[_column_index(ref.group(1))] = err


def _extent_fits(pieces: Iterator[bytes], limits: Limits) -> bool:
    """A quick pass over a sheet's XML that lets calamine parse it while the full scan runs: True when every row
    and cell carries its reference (so the references bound the grid calamine builds) and that grid is within
    the limits. Inflating every piece proves the part's size and checksum, as the full scan does. False only
    means "scan first, then parse" (prefixed tags, elements without references, a large grid): the full scan
    decides whether the sheet is refused."""
    rows = cells = refs = last_row = width = 0
    for piece in pieces:
        rows += piece.count(b"<row")  # a prefixed <x:row or <x:c is not counted, so its reference unbalances refs
        cells += piece.count(b"<c ") + piece.count(b"<c>")
        refs += piece.count(b' r="')
        at = piece.rfind(b"<row ")
        number = _ROW_NUMBER.search(piece, at) if at != -1 else None
        if number:
            last_row = max(last_row, int(number.group(1)))
        if _WIDE_REF.search(piece):
            widest = max(_ANY_REF_LETTERS.findall(piece), key=lambda s: (len(s), s))
            if len(widest) > len(MAX_COLUMN_LETTERS):
                return False
            width = max(width, _column_index(widest) + 1)
        if not _within(max(last_row, rows), width, limits):
            return False  # stop inflating at once: the full scan will refuse it just as early
    return refs == rows + cells and _within(max(last_row, rows), width, limits)


def _within(height: int, width: int, limits: Limits) -> bool:
    return height <= limits.max_rows + HEADER_ALLOWANCE and height * max(width, 26) <= limits.max_cells


def too_many_cells(sheet: str) -> str:
    return (f"The sheet '{sheet}' is too large to import at once; "
            "delete unused rows and columns or split it into smaller files.")


def too_many_rows(sheet: str, max_rows: int) -> str:
    return (f"The sheet '{sheet}' has more than {max_rows:,} rows, more than can be imported at once; "
            "split it into smaller files (for example one per quarter).")


# --- the workbook ----------------------------------------------------------------------------------------

class Workbook:
    """An opened spreadsheet. Use as a context manager or call ``close()``.

    ``format`` is "xlsx", "xlsm" or "csv"; ``engine`` is "calamine", "openpyxl" or "csv";
    ``sheets`` lists every sheet (hidden ones included, flagged).
    """

    def __init__(self, *, filename: str, fmt: str, engine: str, sheets: list[SheetInfo], limits: Limits,
                 path: str | None, data: bytes | None) -> None:
        self.filename = filename
        self.format = fmt
        self.engine = engine
        self.sheets = sheets
        self.limits = limits
        self._path = path
        self._data = data
        self._scans: dict[str, _SheetScan] = {}
        self._zip: zipfile.ZipFile | None = None
        self._zip_fp: IO[bytes] | None = None
        self._calamine: python_calamine.CalamineWorkbook | None = None
        self._calamine_sheet: tuple[str, python_calamine.CalamineSheet] | None = None
        self._parsing: tuple[str, threading.Thread, dict] | None = None  # a parse running beside the scan
        self._parse_error: tuple[str, BaseException] | None = None
        self._openpyxl = None
        self._csv_encoding: str | None = None
        self._csv_dialect: str | None = None
        self._keep = False  # see open_workbook(keep=True)

    # ---- public ----
    @property
    def sheet_names(self) -> list[str]:
        return [s.name for s in self.sheets]

    def sheet(self, name: str) -> SheetInfo:
        """The sheet called ``name`` (exact, then ignoring case and spaces), or a SpreadsheetError listing them."""
        for s in self.sheets:
            if s.name == name:
                return s
        for s in self.sheets:
            if s.name.strip().lower() == name.strip().lower():
                return s
        names = ", ".join(f"'{s.name}'" for s in self.sheets)
        raise SpreadsheetError(f"The workbook has no sheet called '{name}'. Its sheets are: {names}.")

    def iter_rows(self, sheet_name: str) -> Iterator[tuple[int, tuple]]:
        """Yield ``(excel_row_number, values)`` for every row from row 1, lazily.

        ``values`` has no trailing empty cells, so a blank row is ``()``; error cells are ``CellError``.
        Raises SpreadsheetError when the sheet has more than ``max_rows`` rows.
        """
        info = self.sheet(sheet_name)
        if self.engine == "csv":
            return self._iter_csv()
        scan = self._scan(info)
        if self.engine == "calamine":
            return self._iter_calamine(info, scan)
        return self._iter_openpyxl(info, scan)

    def close(self) -> None:
        self._finish_parse()  # never close the workbook under calamine's parse
        if self._keep and self._calamine is not None and self._path is not None:
            _put_kept(self)  # hands the parsed workbook on; the zip handle is closed below
            self._calamine = None
            self._calamine_sheet = None
        for thing in (self._calamine, self._openpyxl, self._zip, self._zip_fp):
            if thing is not None:
                try:
                    thing.close()
                except Exception:  # closing twice or after an error must not hide the real problem
                    pass
        self._calamine = self._openpyxl = self._zip = self._zip_fp = None
        self._calamine_sheet = None

    def __enter__(self) -> Workbook:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- internals ----
    def _binary(self) -> IO[bytes]:
        if self._path is not None:
            return open(self._path, "rb")
        return io.BytesIO(self._data or b"")

    def _row_cap(self, sheet: str, count: int) -> None:
        if count > self.limits.max_rows + HEADER_ALLOWANCE:
            raise SpreadsheetError(too_many_rows(sheet, self.limits.max_rows))

    def _scan(self, info: SheetInfo) -> _SheetScan:
        cached = self._scans.get(info.name)
        if cached is not None:
            return cached
        if self._zip is None and self._path is not None:  # a kept workbook: its zip was closed with it
            self._zip_fp = open(self._path, "rb")
            self._zip = zipfile.ZipFile(self._zip_fp)
        assert self._zip is not None and self._zip_fp is not None and info.part is not None
        try:
            zinfo = self._zip.getinfo(info.part)
        except KeyError:
            raise SpreadsheetError(f"The sheet '{info.name}' is missing from the workbook file; "
                                   "save it again from Excel and upload the new copy.") from None
        if (self.engine == "calamine" and self._parsing is None
                and (self._calamine_sheet is None or self._calamine_sheet[0] != info.name)
                and _extent_fits(self._pieces(zinfo, info.name), self.limits)):
            # calamine's parse releases the GIL: let it run on another core while the full scan below runs here.
            # The quick pass above has proved the part's size and checksum and bounded the grid calamine will
            # build, which is all the scan must prove before calamine reads the part.
            self._start_parse(info.name)
        scanner = _Scanner(info.name, self.limits)
        for piece in self._pieces(zinfo, info.name):
            scanner.feed(piece)
        scan = scanner.result
        if self.engine == "calamine" and scan.last_value_row * max(scan.max_col, 1) > self.limits.max_cells:
            raise SpreadsheetError(too_many_cells(info.name))
        self._scans[info.name] = scan
        return scan

    def _pieces(self, zinfo: zipfile.ZipInfo, sheet: str) -> Iterator[bytes]:
        """The part's XML inflated (size and checksum proved), cut after a row's end so no tag is split."""
        carry = b""
        for chunk in _inflate(self._zip_fp, zinfo):
            buf = carry + chunk if carry else chunk
            cut = buf.rfind(b"row>")
            if cut == -1:
                if len(buf) > _MAX_CARRY:
                    raise SpreadsheetError(f"The sheet '{sheet}' has a row too large to import.")
                carry = buf
                continue
            cut += 4
            yield buf[:cut]
            carry = buf[cut:]
        if carry:
            yield carry

    def _start_parse(self, name: str) -> None:
        holder: dict = {}
        calamine = self._calamine

        def parse() -> None:
            try:
                holder["sheet"] = calamine.get_sheet_by_name(name)
            except BaseException as exc:  # handed to the reading thread, which raises it there
                holder["error"] = exc

        thread = threading.Thread(target=parse, name="calamine-parse", daemon=True)
        thread.start()
        self._parsing = (name, thread, holder)

    def _finish_parse(self) -> None:
        """Wait for a parse started by ``_scan`` and keep its sheet (an error is raised when the sheet is read)."""
        if self._parsing is None:
            return
        name, thread, holder = self._parsing
        thread.join()
        self._parsing = None
        if "sheet" in holder:
            self._calamine_sheet = (name, holder["sheet"])
        else:
            self._parse_error = (name, holder["error"])

    def _iter_calamine(self, info: SheetInfo, scan: _SheetScan) -> Iterator[tuple[int, tuple]]:
        assert self._calamine is not None
        # Keep the last sheet calamine parsed: finding the header and then reading the data would otherwise
        # parse the whole sheet twice.
        self._finish_parse()
        if self._calamine_sheet is not None and self._calamine_sheet[0] == info.name:
            sheet = self._calamine_sheet[1]
        else:
            self._calamine_sheet = None
            failed, self._parse_error = self._parse_error, None
            try:
                if failed is not None and failed[0] == info.name:
                    raise failed[1]  # the parse beside the scan failed: the same sentence as a parse here
                sheet = self._calamine.get_sheet_by_name(info.name)
            except python_calamine.CalamineError as exc:
                raise _calamine_error(exc) from None
            self._calamine_sheet = (info.name, sheet)
        start = sheet.start
        # python-calamine yields rows from row 1 but columns only from the first used column.
        pad = [None] * start[1] if start else []
        errors = scan.cell_errors
        count = 0
        try:
            for count, raw in enumerate(sheet.iter_rows(), start=1):
                if count > scan.last_value_row:
                    count -= 1
                    break  # only empty rows follow (a far-off formatted row); errors are added below
                if count > self.limits.max_rows + HEADER_ALLOWANCE:
                    self._row_cap(info.name, count)
                # _norm inlined for the two types nearly every cell has (text and numbers): a call per cell
                # is a third of reading a ledger.
                values = [(v.strip() or None) if (t := v.__class__) is str else v if t is float else _norm(v)
                          for v in raw]
                if pad:
                    values = pad + values
                if errors and count in errors:
                    yield count, _finish_row(values, errors[count])
                elif values and values[-1] is None:
                    yield count, _finish_row(values, None)
                else:
                    yield count, tuple(values)
        except python_calamine.CalamineError as exc:
            raise _calamine_error(exc) from None
        # A sheet whose last rows hold only errorless formulas may end before them in calamine's grid.
        for row in sorted(r for r in errors if r > count):
            yield row, _finish_row([], errors[row])

    def _iter_openpyxl(self, info: SheetInfo, scan: _SheetScan) -> Iterator[tuple[int, tuple]]:
        assert self._openpyxl is not None
        ws = self._openpyxl[info.name]
        # The <dimension> element is often wrong in files from other programs; don't let it truncate data.
        ws.reset_dimensions()
        errors = scan.cell_errors
        count = 0
        try:
            for count, raw in enumerate(ws.iter_rows(min_row=1, min_col=1, values_only=True), start=1):
                if count > scan.last_value_row:
                    count -= 1
                    break  # only empty rows follow (a far-off formatted row); errors are added below
                if count > self.limits.max_rows + HEADER_ALLOWANCE:
                    self._row_cap(info.name, count)
                yield count, _finish_row([_norm(v) for v in raw], errors.get(count))
        except SpreadsheetError:
            raise
        except Exception as exc:  # openpyxl raises many types on malformed XML
            raise SpreadsheetError(f"The sheet '{info.name}' could not be read ({type(exc).__name__}); "
                                   "open it in Excel, save it again as .xlsx and upload the new copy.") from None
        for row in sorted(r for r in errors if r > count):
            yield row, _finish_row([], errors[row])

    def _iter_csv(self) -> Iterator[tuple[int, tuple]]:
        assert self._csv_encoding is not None and self._csv_dialect is not None
        sheet = self.sheets[0].name
        with self._binary() as fp:
            text = io.TextIOWrapper(fp, encoding=self._csv_encoding, newline="")
            reader = csv.reader(text, delimiter=self._csv_dialect)
            count = 0
            try:
                for count, raw in enumerate(reader, start=1):
                    if count > self.limits.max_rows + HEADER_ALLOWANCE:
                        self._row_cap(sheet, count)
                    yield count, _finish_row([_norm(v) for v in raw], None)
            except csv.Error as exc:
                raise SpreadsheetError(f"Line {reader.line_num} of the CSV file cannot be read ({exc}); "
                                       "check for a stray quote mark.") from None


def _calamine_error(exc: Exception) -> SpreadsheetError:
    if isinstance(exc, python_calamine.PasswordError):
        return SpreadsheetError(ENCRYPTED_MESSAGE)
    if isinstance(exc, python_calamine.XmlError):
        return SpreadsheetError("Part of this workbook is not valid spreadsheet XML, so it cannot be read; "
                                "open it in Excel, save it again as .xlsx and upload the new copy.")
    return SpreadsheetError(DAMAGED_MESSAGE)


# --- opening ---------------------------------------------------------------------------------------------

def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _read_small(zf: zipfile.ZipFile, name: str, limit: int = 8 * 1024 * 1024) -> bytes:
    info = zf.getinfo(name)
    if info.file_size > limit:
        raise SpreadsheetError(DAMAGED_MESSAGE)
    try:
        return zf.read(info)
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, NotImplementedError, RuntimeError):
        raise SpreadsheetError(DAMAGED_MESSAGE) from None


def _parse_xml(data: bytes):
    try:
        return SafeET.fromstring(data)
    except Exception:  # defusedxml refusals and plain syntax errors alike
        raise SpreadsheetError(DAMAGED_MESSAGE) from None


def _workbook_part(zf: zipfile.ZipFile) -> tuple[str, str]:
    """Find the workbook part from [Content_Types].xml; returns (part name, "xlsx" | "xlsm")."""
    names = set(zf.namelist())
    if "[Content_Types].xml" not in names:
        if "mimetype" in names and b"opendocument" in _read_small(zf, "mimetype", 1024):
            raise SpreadsheetError("This is an OpenDocument spreadsheet (.ods); save it as .xlsx "
                                   "(File > Save As > Excel 2007-365) and upload it again.")
        raise SpreadsheetError("This file is a zip archive, not an Excel workbook; "
                               "upload an .xlsx, .xlsm or .csv file.")
    root = _parse_xml(_read_small(zf, "[Content_Types].xml"))
    for el in root:
        if _local(el.tag) != "Override":
            continue
        ctype = (el.get("ContentType") or "").strip()
        if ctype in _WORKBOOK_TYPES:
            return el.get("PartName", "").lstrip("/"), _WORKBOOK_TYPES[ctype]
        if ctype in _OTHER_OFFICE_TYPES:
            raise SpreadsheetError(_OTHER_OFFICE_TYPES[ctype])
    raise SpreadsheetError("This file is a zip archive, not an Excel workbook; upload an .xlsx, .xlsm or .csv file.")


def _sheet_list(zf: zipfile.ZipFile, workbook_part: str) -> list[SheetInfo]:
    """Sheets from workbook.xml and its relationships: name, state and the worksheet part of each."""
    if workbook_part not in zf.NameToInfo:
        raise SpreadsheetError(DAMAGED_MESSAGE)
    wb = _parse_xml(_read_small(zf, workbook_part))
    folder = posixpath.dirname(workbook_part)
    rels_name = posixpath.join(folder, "_rels", posixpath.basename(workbook_part) + ".rels")
    targets: dict[str, str] = {}
    if rels_name in zf.NameToInfo:
        for rel in _parse_xml(_read_small(zf, rels_name)):
            target = rel.get("Target", "")
            if not rel.get("Type", "").endswith("/worksheet"):
                continue  # chart sheets and dialog sheets hold no rows
            path = target.lstrip("/") if target.startswith("/") else posixpath.normpath(posixpath.join(folder, target))
            targets[rel.get("Id", "")] = path
    sheets: list[SheetInfo] = []
    for el in wb.iter():
        if _local(el.tag) != "sheet":
            continue
        rid = next((v for k, v in el.attrib.items() if _local(k) == "id"), None)
        if rid not in targets:
            continue
        sheets.append(SheetInfo(name=el.get("name", ""), index=len(sheets),
                                state=el.get("state", "visible") or "visible", part=targets[rid]))
    return sheets


def _load_source(source: Source) -> tuple[str | None, bytes | None]:
    if isinstance(source, (bytes, bytearray, memoryview)):
        return None, bytes(source)
    if isinstance(source, (str, os.PathLike)):
        path = os.fspath(source)
        if not os.path.isfile(path):
            raise SpreadsheetError("The uploaded file could not be found; upload it again.")
        return path, None
    if hasattr(source, "read"):
        return None, source.read()
    raise TypeError("source must be a path, bytes or a binary file object")


def open_workbook(source: Source, filename: str | None = None, *, engine: str = "calamine",
                  max_entries: int = DEFAULT_MAX_ENTRIES, max_uncompressed: int = DEFAULT_MAX_UNCOMPRESSED,
                  max_ratio: float = DEFAULT_MAX_RATIO, ratio_min_size: int = DEFAULT_RATIO_MIN_SIZE,  # float ok
                  max_rows: int = DEFAULT_MAX_ROWS, max_cells: int = DEFAULT_MAX_CELLS,
                  keep: bool = False) -> Workbook:
    """Open an uploaded .xlsx, .xlsm or .csv file, deciding its type from its content.

    ``filename`` is the name the user gave the file; it is only used in messages and to name a CSV's sheet.
    ``engine`` chooses the workbook reader ("calamine" or "openpyxl"). Raises SpreadsheetError.
    ``keep``: when a workbook file opened with keep=True is closed, what was parsed and checked of it stays in
    this process for ``KEEP_SECONDS`` and the next ``open_workbook(keep=True)`` of the same file (same inode,
    size and modification time, so the same bytes) takes it over instead of checking and parsing it again. An
    import reads its file to find the headings and then again for the preview; without this, the safety scan
    and calamine's parse of the whole sheet (most of a bare read's time) would be paid twice.
    """
    require_defusedxml()
    if engine not in ENGINES:
        raise ValueError(f"engine must be one of {ENGINES}")
    limits = Limits(max_entries, max_uncompressed, max_ratio, ratio_min_size, max_rows, max_cells)
    path, data = _load_source(source)
    if filename is None:
        filename = os.path.basename(path) if path else ""
    kept = _take_kept(path if keep and engine == "calamine" else None, limits)
    if kept is not None:
        kept.filename = filename
        return kept
    with (open(path, "rb") if path else io.BytesIO(data or b"")) as fp:
        head = fp.read(8)
        fp.seek(0, io.SEEK_END)
        size = fp.tell()
    if size == 0:
        raise SpreadsheetError("The file is empty; check you chose the right file and upload it again.")
    if head.startswith(b"\xd0\xcf\x11\xe0"):
        raise SpreadsheetError(ENCRYPTED_MESSAGE)
    if head[:4] in (b"PK\x03\x04", b"PK\x05\x06"):
        book = _open_zip(path, data, filename, engine, limits)
        book._keep = keep and path is not None and engine == "calamine"
        return book
    if size > limits.max_uncompressed:
        raise SpreadsheetError("This file is too large to import; split it into smaller files.")
    return _open_csv(path, data, filename, limits)


# --- one parsed workbook kept between the reads of an import -------------------------------------------------

KEEP_SECONDS = 120
_kept: tuple[tuple, Workbook, float] | None = None
_kept_lock = threading.Lock()


def _identity(path: str, limits: Limits) -> tuple | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, limits)


def _put_kept(book: Workbook) -> None:
    global _kept
    key = _identity(book._path, book.limits) if book._path else None
    if key is None:
        return
    state = Workbook(filename=book.filename, fmt=book.format, engine=book.engine, sheets=book.sheets,
                     limits=book.limits, path=book._path, data=None)
    state._scans = book._scans
    state._calamine = book._calamine
    state._calamine_sheet = book._calamine_sheet
    state._keep = True
    with _kept_lock:
        old, _kept = _kept, (key, state, time.monotonic())
    if old is not None:
        old[1]._keep = False
        old[1].close()


def _take_kept(path: str | None, limits: Limits) -> Workbook | None:
    """The kept workbook when it is of this file and fresh, taken out of the slot (so two threads never share
    it); else None. A kept workbook past ``KEEP_SECONDS`` is let go whoever asks."""
    global _kept
    taken = dropped = None
    with _kept_lock:
        if _kept is not None:
            key, book, at = _kept
            if time.monotonic() - at > KEEP_SECONDS:
                dropped, _kept = book, None
            elif path is not None and _identity(path, limits) == key:
                taken, _kept = book, None
    if dropped is not None:
        dropped._keep = False
        dropped.close()
    return taken


def forget_kept() -> None:
    """Let go of the kept workbook now (an import's preview has read what it needs)."""
    global _kept
    with _kept_lock:
        kept, _kept = _kept, None
    if kept is not None:
        kept[1]._keep = False
        kept[1].close()


def _open_zip(path: str | None, data: bytes | None, filename: str, engine: str, limits: Limits) -> Workbook:
    fp: IO[bytes] = open(path, "rb") if path else io.BytesIO(data or b"")
    book = Workbook(filename=filename, fmt="xlsx", engine=engine, sheets=[], limits=limits, path=path, data=data)
    book._zip_fp = fp
    try:
        try:
            zf = zipfile.ZipFile(fp)
        except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, ValueError):
            raise SpreadsheetError(DAMAGED_MESSAGE) from None
        book._zip = zf
        infos = zf.infolist()
        _check_zip_directory(infos, limits)
        part, fmt = _workbook_part(zf)
        _check_active_content(zf)
        book.format = fmt
        xml_parts = [i for i in infos if i.filename.endswith((".xml", ".rels")) and not i.is_dir()]
        for info in xml_parts:
            _check_prolog(zf, info)
        book.sheets = _sheet_list(zf, part)
        if not book.sheets:
            raise SpreadsheetError("The workbook has no worksheets with rows of data.")
        if engine == "calamine":
            # calamine reads shared strings, styles and the workbook parts at open: prove their sizes first.
            sheet_parts = {s.part for s in book.sheets}
            for info in xml_parts:
                if info.filename not in sheet_parts:
                    for _ in _inflate(fp, info):
                        pass
            try:
                book._calamine = python_calamine.CalamineWorkbook.from_object(path if path else io.BytesIO(data))
            except python_calamine.CalamineError as exc:
                raise _calamine_error(exc) from None
            except Exception:
                raise SpreadsheetError(DAMAGED_MESSAGE) from None
        else:
            # openpyxl read_only parses a sheet lacking <dimension> to its end while opening the workbook,
            # beyond any limit of ours; scan such sheets first so the row and cell caps apply.
            for sheet in book.sheets:
                if not _declares_dimension(zf, sheet.part):
                    book._scan(sheet)
            try:
                book._openpyxl = openpyxl.load_workbook(path if path else io.BytesIO(data), read_only=True,
                                                        data_only=True, keep_links=False)
            except SpreadsheetError:
                raise
            except Exception:
                raise SpreadsheetError(DAMAGED_MESSAGE) from None
        return book
    except BaseException:
        book.close()
        raise


_SPREADSHEET_NAMES = (".xlsx", ".xlsm", ".xls", ".xltx", ".xltm", ".xlsb", ".ods")


def _detect_encoding(fp: IO[bytes]) -> str | None:
    """"utf-8-sig" or "cp1252" if the whole file decodes as that text (no NUL bytes), else None."""
    for encoding in ("utf-8-sig", "cp1252"):
        fp.seek(0)
        decoder = codecs.getincrementaldecoder(encoding)()
        try:
            while True:
                chunk = fp.read(_CHUNK)
                if b"\x00" in chunk:
                    return None  # binary data, or UTF-16 which no finance export we know of uses
                decoder.decode(chunk, final=not chunk)
                if not chunk:
                    return encoding
        except UnicodeDecodeError:
            continue
    return None


def _sniff_delimiter(sample: str) -> str:
    """Comma, semicolon or tab: the one giving the most rows of the same width (quotes respected)."""
    lines = sample.splitlines()
    if len(lines) > 1 and not sample.endswith(("\n", "\r")):
        lines = lines[:-1]  # the last line of a sample may be cut short
    best, best_score = ",", (0, 0, 0)
    for delim in (",", ";", "\t"):
        widths = [len(r) for r in csv.reader(lines[:50], delimiter=delim) if any(c.strip() for c in r)]
        if not widths:
            continue
        common = max(set(widths), key=lambda w: (widths.count(w), w))
        score = (int(common > 1), widths.count(common), common)
        if score > best_score:
            best, best_score = delim, score
    return best


def _open_csv(path: str | None, data: bytes | None, filename: str, limits: Limits) -> Workbook:
    with (open(path, "rb") if path else io.BytesIO(data or b"")) as fp:
        encoding = _detect_encoding(fp)
        if encoding is None:
            raise SpreadsheetError(NOT_SPREADSHEET_MESSAGE)
        fp.seek(0)
        sample = fp.read(64 * 1024).decode(encoding, "ignore")
    stripped = sample.lstrip().lower()
    if stripped.startswith(("<html", "<!doctype", "<?xml", "<table")):
        raise SpreadsheetError("This file is a web page (HTML or XML) saved with a spreadsheet name, not a "
                               "real workbook; open it in Excel, save it as .xlsx and upload that copy.")
    if filename.lower().endswith(_SPREADSHEET_NAMES):
        raise SpreadsheetError(f"This file is not an Excel workbook: it looks like CSV text that has been named "
                               f"'{filename}'. Open it in Excel and save it as .xlsx, or upload it as a .csv file.")
    stem = os.path.splitext(os.path.basename(filename))[0] if filename else ""
    book = Workbook(filename=filename, fmt="csv", engine="csv",
                    sheets=[SheetInfo(name=stem or "CSV", index=0)], limits=limits, path=path, data=data)
    book._csv_encoding = encoding
    book._csv_dialect = _sniff_delimiter(sample)
    return book
