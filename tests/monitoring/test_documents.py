"""Documents: type checked by content, size limit, versions kept, download headers, roles, admin-only delete."""
from __future__ import annotations

import io
import os
import zipfile

import pytest

from tracker import settings
from tracker.extensions import db
from tracker.models import AuditEvent
from tracker.models.monitoring import Document, DocumentVersion
from tracker.monitoring import documents as docs

PDF = b"%PDF-1.7\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 32


def office(parts: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        for name, data in parts.items():
            zf.writestr(name, data)
    return buffer.getvalue()


DOCX = office({"[Content_Types].xml": b"<Types/>", "word/document.xml": b"<w:document/>"})
XLSX = office({"[Content_Types].xml": b"<Types/>", "xl/workbook.xml": b"<workbook/>"})
ODT = office({"mimetype": b"application/vnd.oasis.opendocument.text", "content.xml": b"<office/>"})


@pytest.mark.parametrize("data, name, expected", [
    (PDF, "a.pdf", "application/pdf"), (PNG, "a.png", "image/png"), (JPEG, "a.jpg", "image/jpeg"),
    (DOCX, "a.docx", docs.DOCX[0]), (XLSX, "a.xlsx", docs.XLSX[0]), (ODT, "a.odt", docs.ODT[0]),
    ("ref,value\nVRU-1,£3\n".encode(), "a.csv", "text/csv"), (b"Panel met on 3 March.", "notes.txt", "text/plain"),
    (PDF, "renamed.txt", "application/pdf"),  # the content decides, not the name
])
def test_allowed_types_by_content(data, name, expected):
    assert docs.sniff(data, name)[0] == expected


@pytest.mark.parametrize("data, name", [
    (b"MZ\x90\x00\x03" + b"\x00" * 20, "report.pdf"),  # a Windows program named .pdf
    (b"text with a NUL\x00 inside", "a.txt"),
    ("caf\xe9".encode("latin-1"), "a.txt"),  # not UTF-8
    (office({"readme.txt": b"hi"}), "a.docx"),  # a plain zip
    (office({"[Content_Types].xml": b"", "xl/workbook.xml": b"", "xl/vbaProject.bin": b""}), "a.xlsx"),
    (b"PK\x03\x04broken", "a.docx"),
    (b"", "empty.pdf"),
])
def test_other_content_refused(data, name):
    with pytest.raises(docs.DocumentRefused):
        docs.sniff(data, name)


def test_html_text_is_only_ever_served_as_plain_text(client, auth, make):
    c = make.commission()
    db.session.commit()
    auth.login("manager")
    upload(client, c, b"<html><script>alert(1)</script></html>", "page.html")
    version = db.session.scalar(db.select(DocumentVersion))
    assert version.content_type == "text/plain"
    response = client.get(f"/documents/files/{version.id}")
    assert response.mimetype == "text/plain"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert 'filename=page.txt' in response.headers["Content-Disposition"]


def upload(client, owner, data: bytes, name: str, kind="contract", title="", owner_type="commission"):
    return client.post(f"/documents/{owner_type}/{owner.id}",
                       data={"kind": kind, "title": title, "file": (io.BytesIO(data), name)},
                       content_type="multipart/form-data")


def count(model) -> int:
    db.session.expire_all()
    return db.session.scalar(db.select(db.func.count()).select_from(model))


def test_upload_version_download_and_delete(app, client, auth, make):
    c = make.commission()
    db.session.commit()
    auth.login("manager")
    response = upload(client, c, PDF, "Grant agreement 2025-26.pdf", kind="grant agreement")
    assert response.status_code == 303
    document = db.session.scalar(db.select(Document))
    assert document.title == "Grant agreement 2025-26.pdf" and document.commission_id == c.id
    v1 = document.versions[0]
    assert (v1.number, v1.size_bytes, v1.content_type) == (1, len(PDF), "application/pdf")
    assert len(v1.sha256) == 64 and v1.uploaded_by_id is not None
    stored = os.path.join(app.config["DATA_DIR"], "documents", v1.stored_name)
    assert os.path.exists(stored) and "Grant" not in v1.stored_name
    assert "static" not in stored

    assert client.post(f"/documents/{document.id}/versions",
                       data={"file": (io.BytesIO(PDF + b"v2"), "signed.pdf")},
                       content_type="multipart/form-data").status_code == 303
    db.session.expire_all()
    document = db.session.get(Document, document.id)
    assert [v.number for v in document.versions] == [2, 1]  # the earlier one is kept

    page = client.get(f"/documents/commission/{c.id}")
    assert "signed.pdf" in page.text and "Grant agreement 2025-26.pdf" in page.text

    auth.login("viewer")
    download = client.get(f"/documents/files/{v1.id}")
    assert download.status_code == 200 and download.data == PDF
    assert download.mimetype == "application/pdf"
    assert download.headers["X-Content-Type-Options"] == "nosniff"
    assert download.headers["Content-Disposition"].startswith("attachment;")
    assert "Grant agreement 2025-26.pdf" in download.headers["Content-Disposition"]
    assert client.post(f"/documents/{document.id}/delete").status_code == 403

    auth.logout()
    auth.login("admin")
    assert client.post(f"/documents/{document.id}/delete").status_code == 303
    assert count(Document) == 0 and count(DocumentVersion) == 0
    assert not os.path.exists(stored)
    event = db.session.scalar(db.select(AuditEvent).where(AuditEvent.object_type == "Document",
                                                          AuditEvent.kind == "delete"))
    assert len(event.before["versions"]) == 2


def test_non_ascii_and_hostile_names_are_made_safe(client, auth, make):
    p = make.provider()
    db.session.commit()
    auth.login("finance")
    assert upload(client, p, PDF, '..\\..\\Évaluation; final.pdf', owner_type="provider").status_code == 303
    version = db.session.scalar(db.select(DocumentVersion))
    disposition = client.get(f"/documents/files/{version.id}").headers["Content-Disposition"]
    assert "filename*=UTF-8''" in disposition and "%C3%89valuation" in disposition
    assert ".." not in disposition and "\r" not in disposition and ";." not in disposition


def test_disallowed_file_is_refused_with_422(client, auth, make):
    c = make.commission()
    db.session.commit()
    auth.login("manager")
    response = upload(client, c, b"MZ\x90\x00" + b"\x00" * 40, "invoice.pdf")
    assert response.status_code == 422
    assert "not allowed" in response.text and "Error:" in response.text
    assert count(Document) == 0
    assert upload(client, c, b"", "nothing.pdf").status_code == 422
    no_file = client.post(f"/documents/commission/{c.id}", data={"kind": "contract"})
    assert no_file.status_code == 422 and "Choose a file" in no_file.text
    assert upload(client, c, PDF, "a.pdf", kind="secret").status_code == 422
    assert count(Document) == 0 and count(DocumentVersion) == 0


def test_size_limit_is_a_setting(client, auth, make):
    c = make.commission()
    settings.put("document_max_mb", "1")
    db.session.commit()
    auth.login("manager")
    response = upload(client, c, PDF + b"x" * (1024 * 1024), "big.pdf")
    assert response.status_code == 422 and "1 MB limit" in response.text
    assert count(Document) == 0


def test_bad_new_version_keeps_the_document_as_it_was(client, auth, make):
    c = make.commission()
    db.session.commit()
    auth.login("manager")
    upload(client, c, PDF, "a.pdf")
    document_id = db.session.scalar(db.select(Document.id))
    response = client.post(f"/documents/{document_id}/versions", data={"file": (io.BytesIO(b"\x00\x01"), "b.pdf")},
                           content_type="multipart/form-data")
    assert response.status_code == 422 and "not allowed" in response.text
    assert count(DocumentVersion) == 1


@pytest.mark.parametrize("role, status", [("viewer", 403), ("finance", 303), ("manager", 303)])
def test_who_may_upload(client, auth, make, role, status):
    year = make.year()
    db.session.commit()
    auth.login(role)
    assert upload(client, year, PDF, "letter.pdf", owner_type="funding_year").status_code == status


def test_a_document_attached_here_is_the_evidence_the_milestone_needs(client, auth, make):
    """The evidence rule is the milestones area's; a document uploaded here satisfies it on the complete form."""
    from tracker.milestones.service import has_evidence
    from tracker.models import Milestone

    m = make.milestone()
    db.session.commit()
    auth.login("manager")
    assert upload(client, m, PDF, "minutes.pdf", kind="evidence", owner_type="milestone").status_code == 303
    db.session.expire_all()
    assert has_evidence(db.session.get(Milestone, m.id))
    done = client.post(f"/milestones/{m.id}/complete", data={"completed_date": "2025-07-30", "evidence": "",
                                                             "evidence_link": ""})
    assert done.status_code == 303
    db.session.expire_all()
    assert db.session.get(Milestone, m.id).status == "done"


@pytest.mark.parametrize("note, warned", [("", True), ("Minutes on SharePoint", False)])
def test_deleting_a_done_milestones_only_evidence_says_so(client, auth, make, note, warned):
    from datetime import date

    m = make.milestone("Panel terms agreed", status="done", completed_date=date(2025, 7, 30), evidence=note)
    document = Document(kind="evidence", title="Minutes", milestone_id=m.id)
    db.session.add(document)
    db.session.commit()
    auth.login("admin")
    page = client.get(f"/documents/{document.id}/delete")
    assert page.status_code == 200
    assert ("&#39;Panel terms agreed&#39; is marked done and this is its only evidence" in page.text) is warned


def test_unknown_owner_is_404(client, auth):
    auth.login("manager")
    assert client.get("/documents/invoice/1").status_code == 404
    assert client.get("/documents/commission/999").status_code == 404
    assert client.get("/documents/files/999").status_code == 404


def test_closed_year_documents_are_frozen(client, auth, make):
    year = make.year("2024-25", status="closed")
    db.session.commit()
    auth.login("manager")
    assert upload(client, year, PDF, "a.pdf", owner_type="funding_year").status_code == 409
    assert count(Document) == 0
