"""Drafts: an upload kept as a file and a small JSON beside it until it is committed; finding its table, and
choosing, remembering and checking the column mapping (the web page and ``flask import --map`` alike)."""
from __future__ import annotations

import json
import os
import re
import secrets
from dataclasses import asdict, dataclass, field
from typing import IO

from flask import current_app
from sqlalchemy import select

from tracker import audit, files
from tracker.extensions import db
from tracker.imports.headers import (
    FIELDS, KIND_LABELS, Table, find_table, header_signature, normalise_header, sample_values,
)
from tracker.imports.problems import ImportRefused, _shown
from tracker.spreadsheets.reader import SpreadsheetError, column_letter, open_workbook
from tracker.models import ColumnMapping, FundingYear, ImportBatch, utcnow
from tracker.funding.rules import no_such_year_message, year_by_label
from tracker.text import clean_filename

REALM = "imports"
KINDS = ("ledger", "commissions", "budget")
_TOKEN = re.compile(r"^[A-Za-z0-9_-]{16,64}$")


# --- drafts -----------------------------------------------------------------------------------------------

@dataclass
class Draft:
    """An uploaded file on its way to being imported (kept as JSON beside the file, not in the database)."""

    token: str
    kind: str
    filename: str
    stored_name: str
    sha256: str
    size_bytes: int
    sheet: str
    header_row: int
    headers: list[str]
    mapping: dict[str, int]
    mapping_source: str  # automatic, remembered or chosen
    sheets: list[str] = field(default_factory=list)
    year_id: int | None = None
    year_label: str = ""
    created_by_id: int | None = None
    created_at: str = ""
    preview: dict | None = None

    @property
    def kind_label(self) -> str:
        return KIND_LABELS[self.kind]

    @property
    def fields(self):
        return FIELDS[self.kind]

    @property
    def path(self) -> str:
        return str(files.locate(f"{FOLDER}/{self.stored_name}"))

    def header_of(self, col: int | None) -> str:
        if col is None or col >= len(self.headers):
            return ""
        return self.headers[col] or f"column {column_letter(col)}"

    @property
    def mapping_by_header(self) -> dict[str, str]:
        return {name: self.header_of(col) for name, col in self.mapping.items()}

    @property
    def missing_required(self) -> list[str]:
        return [s.label for s in self.fields if s.required and s.name not in self.mapping]

    def save(self) -> None:
        files.write(FOLDER, _draft_json(self.token), json.dumps(asdict(self), default=str).encode("utf-8"))


FOLDER = "imports"  # drafts and imported files, under DATA_DIR


def imports_dir() -> str:
    """The folder of drafts and imported files (made when first needed), for what works on its files directly:
    the preview's checked rows (written as the pass streams, a line at a time, then renamed into place) and the
    sweep's listing."""
    path = files.locate(FOLDER)
    path.mkdir(parents=True, exist_ok=True)
    return str(path)


def _draft_json(token: str) -> str:
    return f"draft-{token}.json"


def load_draft(token: str) -> Draft | None:
    if not _TOKEN.match(token or ""):
        return None
    try:
        return Draft(**json.loads(files.read(f"{FOLDER}/{_draft_json(token)}")))
    except (OSError, ValueError, TypeError):
        return None


def discard_draft(draft: Draft, keep_file: bool = False) -> None:
    for name in ([] if keep_file else [draft.stored_name]) + [_draft_json(draft.token), _rows_name(draft.token)]:
        try:
            files.remove(f"{FOLDER}/{name}")
        except (OSError, files.OutsideDataDir):
            pass


def _extension(filename: str, fmt: str) -> str:
    return {"csv": ".csv", "xlsm": ".xlsm"}.get(fmt, ".xlsx")


def earlier_batch(sha256: str) -> ImportBatch | None:
    """A committed (not withdrawn) import of exactly the same file, or one committing now."""
    return db.session.scalar(select(ImportBatch).where(ImportBatch.sha256 == sha256,
                                                       ImportBatch.status.in_(("committing", "committed")))
                             .order_by(ImportBatch.id.desc()).limit(1))


def _already_imported(before: ImportBatch) -> str:
    if before.status == "committing":
        return (f"This file is being imported now (import {before.id}, {before.filename}); wait for it to finish "
                "rather than importing it again.")
    return (f"This file has already been imported (import {before.id}, {before.filename}). "
            "Withdraw that import first if you need to load it again.")


def batch_of_draft(token: str) -> ImportBatch | None:
    """The batch a draft was committed as (the draft itself is gone once it is committed)."""
    if not _TOKEN.match(token or ""):
        return None
    return db.session.scalar(select(ImportBatch).where(ImportBatch.draft_token == token))


def find_year(label: str | None) -> FundingYear | None:
    """The year an upload names (``year_by_label``, the one lookup), or None."""
    return year_by_label(label)


def start_draft(stream: IO[bytes], filename: str, *, kind: str | None = None, year_label: str | None = None,
                sheet: str | None = None, user_id: int | None = None) -> Draft:
    """Keep the uploaded file, check it is a readable spreadsheet we have not imported before, find its table
    and choose the mapping (the one remembered for these headers, else the automatic one).

    Raises ImportRefused (422, or 409 for a file already imported) and keeps nothing when it does.
    """
    filename = clean_filename(filename)  # no CR/LF, no right-to-left override, at most 255 characters
    if kind is not None and kind not in KINDS:
        raise ImportRefused("Choose what the file is: a finance ledger export, a commissions register or a budget.")
    year = None
    if year_label:
        year = find_year(year_label)
        if year is None:
            raise ImportRefused(no_such_year_message(year_label))
    token = secrets.token_urlsafe(18)
    upload = files.write(FOLDER, f"upload-{token}.part", stream)
    tmp_path, sha, size = str(files.locate(upload.path)), upload.sha256, upload.size_bytes
    try:
        if size == 0:
            raise ImportRefused("The file is empty; choose the spreadsheet again and upload it.")
        before = earlier_batch(sha)
        if before is not None:
            raise ImportRefused(_already_imported(before), 409, batch=before)
        try:
            with open_workbook(tmp_path, filename, **_limits(), keep=True) as wb:
                table = find_table(wb, kind=kind, sheet=sheet or None, remembered=_remembered_headers(kind))
                sheets = [s.name for s in wb.sheets if not s.hidden]
                fmt = wb.format
        except KeyError:
            raise ImportRefused(f"The workbook has no sheet called '{sheet}'.") from None
        except SpreadsheetError as exc:
            raise ImportRefused(exc.message) from None
        mapping, source = _remembered_mapping(table.kind, list(table.headers))
        if mapping is None:
            mapping, source = dict(table.mapping), "automatic"
        missing = [s for s in FIELDS[table.kind] if s.required and s.name not in mapping]
        spare = [h for i, h in enumerate(table.headers) if h and i not in mapping.values()]
        if missing and len(spare) < len(missing):
            # Nothing left in the file could be chosen for the missing fields: say so now, not on the mapping page.
            found = ", ".join(f"'{h}'" for h in table.headers if h) or "none"
            raise ImportRefused(
                f"The {KIND_LABELS[table.kind]} needs columns for {_and(s.label for s in missing)}, which "
                f"{'is' if len(missing) == 1 else 'are'} not in sheet '{table.sheet}' (headings found on row "
                f"{table.header_row}: {found}). Add the missing columns and upload the file again.")
        if table.kind == "budget" and year is None:
            raise ImportRefused("Choose the funding year this budget is for.")
        stored = f"{token}{_extension(filename, fmt)}"
        files.rename(upload.path, stored)
    except BaseException:
        files.remove(upload.path)
        raise
    draft = Draft(token=token, kind=table.kind, filename=filename,
                  stored_name=stored, sha256=sha, size_bytes=size, sheet=table.sheet, header_row=table.header_row,
                  headers=[h or "" for h in table.headers], mapping=mapping, mapping_source=source, sheets=sheets,
                  year_id=year.id if year else None, year_label=year.label if year else "",
                  created_by_id=user_id, created_at=utcnow().isoformat(timespec="seconds"))
    draft.save()
    return draft


def _and(items) -> str:
    items = list(items)
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _limits() -> dict:
    cfg = current_app.config
    return {"max_uncompressed": int(cfg.get("IMPORT_MAX_UNCOMPRESSED_MB", 200)) * 1024 * 1024,
            "max_rows": int(cfg.get("IMPORT_MAX_ROWS", 200_000))}


def _remembered_headers(kind: str | None) -> dict[str, str]:
    """Header signature -> kind of every mapping kept (for ``kind`` only, when given)."""
    query = select(ColumnMapping.header_signature, ColumnMapping.kind).order_by(ColumnMapping.updated_at)
    if kind is not None:
        query = query.where(ColumnMapping.kind == kind)
    return dict(db.session.execute(query).all())  # the latest wins where one row was mapped as two kinds


def _remembered_mapping(kind: str, headers: list[str]) -> tuple[dict[str, int] | None, str]:
    saved = db.session.scalar(select(ColumnMapping).where(ColumnMapping.kind == kind,
                                                          ColumnMapping.header_signature == header_signature(headers)))
    if saved is None:
        return None, ""
    by_key = {}
    for i, h in enumerate(headers):
        by_key.setdefault(normalise_header(h), i)
    names = {s.name for s in FIELDS[kind]}
    mapping = {name: by_key[normalise_header(h)] for name, h in (saved.mapping or {}).items()
               if name in names and normalise_header(h) in by_key}
    return mapping, "remembered"


def remember_mapping(draft: Draft, undo: dict | None = None) -> None:
    """Keep the draft's mapping for files with the same headers; ``undo`` (a batch's) records what this did, so
    withdrawing the import forgets a mapping it made or puts back the one it replaced."""
    signature = header_signature(draft.headers)
    saved = db.session.scalar(select(ColumnMapping).where(ColumnMapping.kind == draft.kind,
                                                          ColumnMapping.header_signature == signature))
    before = None if saved is None else _dump(saved, ("mapping", "updated_at"))
    if saved is None:
        saved = ColumnMapping(kind=draft.kind, header_signature=signature)
        db.session.add(saved)
    saved.mapping = draft.mapping_by_header
    saved.updated_at = utcnow()
    db.session.flush()
    if undo is not None:
        if before is None:
            undo["created"].setdefault("ColumnMapping", []).append(saved.id)
        elif before["mapping"] != saved.mapping:
            undo["updated"].append({"model": "ColumnMapping", "id": saved.id, "before": before})


def mapping_choices(draft: Draft) -> list[dict]:
    """For the mapping screen: each field, the column chosen, the choices and a few sample values per column."""
    with open_workbook(draft.path, draft.filename, **_limits(), keep=True) as wb:
        table = _table(draft, wb)
        samples = sample_values(table)
    columns = [(i, f"{column_letter(i)}: {h}" if h else f"{column_letter(i)}: (no heading)")
               for i, h in enumerate(draft.headers)]
    rows = []
    for spec in draft.fields:
        col = draft.mapping.get(spec.name)
        rows.append({"name": spec.name, "label": spec.label, "required": spec.required, "column": col,
                     "samples": [_shown(v) for v in samples.get(col, [])] if col is not None else []})
    return [{"columns": columns, "fields": rows}]


def set_mapping(draft: Draft, chosen: dict[str, str]) -> dict[str, str]:
    """Apply the user's choices (field -> column index as text, "" for none). Returns errors by field."""
    errors: dict[str, str] = {}
    mapping: dict[str, int] = {}
    used: dict[int, str] = {}
    for spec in draft.fields:
        raw = (chosen.get(spec.name) or "").strip()
        if not raw:
            if spec.required:
                errors[spec.name] = f"Choose the column that holds the {spec.label.lower()}"
            continue
        if not raw.isdigit() or int(raw) >= len(draft.headers):
            errors[spec.name] = "Choose one of the file's columns"
            continue
        col = int(raw)
        if col in used:
            errors[spec.name] = f"Column {column_letter(col)} is already chosen for {used[col]}"
            continue
        used[col] = spec.label
        mapping[spec.name] = col
    if not errors:
        if mapping != draft.mapping:
            draft.mapping_source = "chosen"
        draft.mapping = mapping
        draft.preview = None
        draft.save()
    return errors


def map_columns(draft: Draft, pairs) -> list[str]:
    """Apply ``FIELD=Column heading`` choices (``flask import --map``) over the draft's mapping, through the same
    checks as the mapping page (``set_mapping``). Returns the problems, each naming the choice it is about."""
    by_name = {}
    for spec in draft.fields:
        by_name[spec.name.lower()] = by_name[normalise_header(spec.label)] = spec
    columns: dict[str, int] = {}
    for i, h in enumerate(draft.headers):
        columns.setdefault(normalise_header(h), i)
    chosen = {name: str(col) for name, col in draft.mapping.items()}
    problems = []
    for pair in pairs:
        field_text, sep, heading = (pair or "").partition("=")
        spec = by_name.get(field_text.strip().lower()) or by_name.get(normalise_header(field_text))
        if not sep or spec is None:
            problems.append(f"'{pair[:80]}': say FIELD=Column heading, where FIELD is one of "
                            f"{', '.join(s.name for s in draft.fields)}")
            continue
        if not heading.strip():
            chosen.pop(spec.name, None)
            continue
        col = columns.get(normalise_header(heading))
        if col is None:
            problems.append(f"'{pair[:80]}': the file has no column headed '{heading.strip()[:60]}' (headings: "
                            f"{', '.join(repr(h) for h in draft.headers if h)})")
            continue
        chosen = {k: v for k, v in chosen.items() if v != str(col)}  # the column moves to this field
        chosen[spec.name] = str(col)
    if problems:
        return problems
    errors = set_mapping(draft, chosen)
    return [f"{field}: {message}" for field, message in errors.items()]


def _table(draft: Draft, wb) -> Table:
    return Table(workbook=wb, sheet=draft.sheet, header_row=draft.header_row, headers=tuple(draft.headers),
                 kind=draft.kind, mapping=dict(draft.mapping), missing_required=[])


def _rows_name(token: str) -> str:
    return f"rows-{token}.marshal"


def _rows_path(draft: Draft) -> str:
    return os.path.join(imports_dir(), _rows_name(draft.token))


def _dump(obj, fields) -> dict:
    return {f: audit._plain(getattr(obj, f)) for f in fields}
