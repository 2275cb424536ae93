"""Documents attached to commissions, providers, milestones and funding years: what a file really is (read
from its bytes, never its name or the browser's word), where it is kept, its versions, and safe download names.

Files live under ``DATA_DIR/documents`` with generated names; nothing under ``static/`` is ever written.
"""
from __future__ import annotations

import io
import re
import unicodedata
import zipfile
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from tracker import audit, files, ooxml, settings
from tracker.commissions.service import get_commission_or_404, get_provider_or_404
from tracker.errors import abort_with, get_or_404
from tracker.funding.service import get_year_or_404
from tracker.milestones.service import get_milestone_or_404
from tracker.extensions import db
from tracker.milestones.service import has_evidence
from tracker.models import Commission, FundingYear, Milestone, Provider
from tracker.text import clean_filename
from tracker.web import XLSX_MIMETYPE
from tracker.models.monitoring import DOCUMENT_KINDS, DOCUMENT_OWNERS, Document, DocumentVersion

REALM = "monitoring"
FOLDER = "documents"  # under DATA_DIR
OWNER_MODELS = {"commission": Commission, "provider": Provider, "milestone": Milestone, "funding_year": FundingYear}
OWNER_COLUMNS = {"commission": "commission_id", "provider": "provider_id", "milestone": "milestone_id",
                 "funding_year": "funding_year_id"}
OWNER_LABELS = {"commission": "Commission", "provider": "Provider", "milestone": "Milestone",
                "funding_year": "Funding year"}
ALLOWED_DESCRIPTION = "PDF, Word (.docx), Excel (.xlsx), OpenDocument text (.odt), PNG, JPEG, CSV or plain text"

PDF = ("application/pdf", "pdf")
PNG = ("image/png", "png")
JPEG = ("image/jpeg", "jpg")
DOCX = ("application/vnd.openxmlformats-officedocument.wordprocessingml.document", "docx")
XLSX = (XLSX_MIMETYPE, "xlsx")
ODT = ("application/vnd.oasis.opendocument.text", "odt")
CSV = ("text/csv", "csv")
TEXT = ("text/plain", "txt")
_ZIP_MAX_ENTRIES = 5_000


class DocumentRefused(ValueError):
    """A file that may not be kept; the message says why and what is allowed."""


def _refuse(detail: str) -> DocumentRefused:
    return DocumentRefused(f"{detail} Upload a {ALLOWED_DESCRIPTION} file.")


def sniff(data: bytes, filename: str = "") -> tuple[str, str]:
    """(content type, extension) of a file from its content; DocumentRefused for anything not allowed."""
    if not data:
        raise DocumentRefused("The file is empty; choose the file again.")
    if data.startswith(b"%PDF-"):
        return PDF
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if data.startswith(b"\xff\xd8\xff"):
        return JPEG
    if data.startswith(b"PK\x03\x04"):
        return _sniff_zip(data)
    if b"\x00" in data:
        raise _refuse("This file's type is not allowed.")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise _refuse("This file's type is not allowed (text files must be UTF-8).") from None
    if any(unicodedata.category(ch) == "Cc" and ch not in "\t\r\n\f" for ch in text[:65536]):
        raise _refuse("This file's type is not allowed.")
    return CSV if filename.lower().endswith(".csv") else TEXT


def _sniff_zip(data: bytes) -> tuple[str, str]:
    """Tell DOCX, XLSX and ODT apart by the parts they hold (names only: nothing big is inflated)."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            infos = zf.infolist()
            if len(infos) > _ZIP_MAX_ENTRIES:
                raise _refuse("This archive has too many parts to be a document.")
            names = {i.filename for i in infos}
            reason = ooxml.active_content(zf)
            if reason:
                raise DocumentRefused(f"This file has been refused because {reason}. Remove that in Office, "
                                      "save a plain copy (.docx or .xlsx) and upload the copy.")
            if "mimetype" in names:
                info = zf.getinfo("mimetype")
                if info.file_size <= 200:
                    mimetype = zf.read(info).strip()
                    if mimetype == ODT[0].encode():
                        return ODT
            if "[Content_Types].xml" in names:
                if "word/document.xml" in names:
                    return DOCX
                if "xl/workbook.xml" in names:
                    return XLSX
    except (zipfile.BadZipFile, OSError, RuntimeError, NotImplementedError):
        raise _refuse("This file is damaged or not a document.") from None
    raise _refuse("This file's type is not allowed (a ZIP archive that is not a Word, Excel or ODT document).")


def max_bytes() -> int:
    return int(settings.get("document_max_mb")) * 1024 * 1024


def check_size(data: bytes) -> None:
    limit = max_bytes()
    if len(data) > limit:
        raise DocumentRefused(f"The file is larger than the {limit // (1024 * 1024)} MB limit for documents.")


def _stored_path(version: DocumentVersion) -> str:
    # Stored names are generated hex; refuse anything else so a bad row can never point outside the folder.
    if not re.fullmatch(r"[0-9a-f]{32}\.[a-z]{3,4}", version.stored_name or ""):
        abort_with(404, "The file for this document is missing.")
    return f"{FOLDER}/{version.stored_name}"


def file_path(version: DocumentVersion) -> str:
    return str(files.locate(_stored_path(version)))


def clean_original_name(filename: str) -> str:
    return clean_filename(filename, default="document")


def download_name(version: DocumentVersion) -> str:
    """The uploaded name made safe to suggest: no path, no control or quoting characters, the right extension."""
    ext = version.stored_name.rsplit(".", 1)[-1]
    stem = clean_original_name(version.original_name)
    if re.search(r"\.[A-Za-z0-9]{1,5}$", stem):
        stem = stem.rsplit(".", 1)[0]
    stem = re.sub(r'[\\/:*?"<>|;]+', "_", stem).strip(" .") or "document"
    return f"{stem[:120]}.{ext}"


# --- owners ------------------------------------------------------------------------------------------------------

def get_owner_or_404(owner_type: str, owner_id: int):
    if owner_type not in DOCUMENT_OWNERS:
        abort_with(404, "Documents can be attached to commissions, providers, milestones and funding years only.")
    # Each kind of owner is looked up by its own area's helper, so a missing one reads as it does everywhere.
    find = {"commission": get_commission_or_404, "provider": get_provider_or_404, "milestone": get_milestone_or_404,
            "funding_year": get_year_or_404}
    return find[owner_type](owner_id)


def owner_name(owner_type: str, owner) -> str:
    if owner_type == "commission":
        return f"{owner.reference} {owner.title}"
    if owner_type == "funding_year":
        return f"Funding year {owner.label}"
    if owner_type == "milestone":
        return owner.title
    return owner.name


def owner_year(owner_type: str, owner) -> FundingYear | None:
    """The funding year whose closing freezes the owner's documents (providers belong to no year)."""
    if owner_type == "funding_year":
        return owner
    if owner_type in ("commission", "milestone"):
        return owner.funding_year
    return None


def documents_for(owner_type: str, owner_id: int) -> list[Document]:
    """An owner's documents with every version and uploader (three queries)."""
    from tracker.models.monitoring import DocumentVersion as V

    column = getattr(Document, OWNER_COLUMNS[owner_type])
    return list(db.session.scalars(
        select(Document).where(column == owner_id)
        .options(selectinload(Document.versions).selectinload(V.uploaded_by))
        .order_by(Document.created_at.desc(), Document.id.desc())))


def get_document_or_404(document_id: int) -> Document:
    return get_or_404(Document, document_id, "There is no such document.", selectinload(Document.versions))


def get_version_or_404(version_id: int) -> DocumentVersion:
    return get_or_404(DocumentVersion, version_id, "There is no such document.")


def document_owner(document: Document) -> tuple[str, int]:
    for owner_type, column in OWNER_COLUMNS.items():
        value = getattr(document, column)
        if value is not None:
            return owner_type, value
    raise LookupError("document without an owner")


# --- changes -------------------------------------------------------------------------------------------------------

@dataclass
class Upload:
    data: bytes
    filename: str


VERSION_FIELDS = ("number", "original_name", "size_bytes", "content_type", "sha256")


def _new_version(document: Document, upload: Upload, number: int, user_id: int | None) -> DocumentVersion:
    check_size(upload.data)
    content_type, ext = sniff(upload.data, upload.filename)
    stored = files.write(FOLDER, files.generated_name(ext), upload.data)
    version = DocumentVersion(
        number=number, original_name=clean_original_name(upload.filename), size_bytes=stored.size_bytes,
        content_type=content_type, sha256=stored.sha256, uploaded_by_id=user_id, stored_name=stored.name,
    )
    document.versions.append(version)
    return version


def add_document(owner_type: str, owner, kind: str, title: str, upload: Upload) -> Document:
    """Keep a new document (its first version); the file is checked before anything is written."""
    if kind not in DOCUMENT_KINDS:
        raise DocumentRefused("Choose what kind of document this is.")
    check_size(upload.data)
    sniff(upload.data, upload.filename)
    user_id = audit.acting_user_id()
    document = Document(kind=kind, title=title.strip()[:200] or clean_original_name(upload.filename)[:200],
                        created_by_id=user_id)
    setattr(document, OWNER_COLUMNS[owner_type], owner.id)
    version = _new_version(document, upload, 1, user_id)
    db.session.add(document)
    audit.record(REALM, "create", document, f"Document '{document.title}' ({kind}) added to "
                 f"{owner_name(owner_type, owner)}", None,
                 {"kind": kind, "title": document.title, **audit.snapshot(version, VERSION_FIELDS)})
    return document


def add_version(document: Document, upload: Upload) -> DocumentVersion:
    """A new file for a document; the earlier versions are kept."""
    number = max((v.number for v in document.versions), default=0) + 1
    version = _new_version(document, upload, number, audit.acting_user_id())
    audit.record(REALM, "change", document, f"Document '{document.title}': version {number} uploaded",
                 None, audit.snapshot(version, VERSION_FIELDS))
    return version


def leaves_milestone_without_evidence(document: Document, owner_type: str, owner) -> bool:
    """Whether deleting ``document`` leaves a milestone marked done with no evidence at all (the milestones
    area's evidence rule, which counts attached documents)."""
    if owner_type != "milestone" or owner.status != "done":
        return False
    return not has_evidence(owner, besides_document_id=document.id)


def delete_document(document: Document) -> list[str]:
    """Remove a document and every version (admin only; audited). Returns the files to remove after commit."""
    paths = [_stored_path(v) for v in document.versions]
    audit.record(REALM, "delete", document, f"Document '{document.title}' deleted with "
                 f"{len(document.versions)} version(s)",
                 {"kind": document.kind, "title": document.title,
                  "versions": [audit.snapshot(v, VERSION_FIELDS) for v in document.versions]}, None)
    db.session.delete(document)
    return paths


def remove_files(paths: list[str]) -> None:
    for path in paths:
        files.remove(path)
