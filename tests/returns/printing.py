"""Print a workbook the way the PCC office would: LibreOffice renders it to PDF, poppler reads the PDF back.

``render_pdf`` converts with a throwaway LibreOffice profile; ``pdf_words`` gives each page's size and words with
their boxes (``pdftotext -bbox``); ``page_images`` renders the pages to grey PNGs (``pdftoppm``) and
``read_grey_png`` reads them back without an imaging library, so two renderings can be compared pixel by pixel.
"""
from __future__ import annotations

import os
import re
import shutil
import struct
import subprocess
import zlib
from dataclasses import dataclass, field
from html import unescape
from pathlib import Path

import pytest

from tests.returns.test_libreoffice import soffice


def _tool(name: str) -> str:
    found = shutil.which(name)
    if found:
        return found
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{name} is missing on CI: install poppler-utils (make system-packages)")
    pytest.skip(f"{name} is not installed: `apt-get install poppler-utils` to run the print checks")


def render_pdf(tmp_path: Path, content: bytes, name: str = "return") -> Path:
    exe = soffice()
    profile = tmp_path / "lo-print-profile"
    profile.mkdir(parents=True, exist_ok=True)
    source = tmp_path / f"{name}.xlsx"
    source.write_bytes(content)
    out = tmp_path / "pdf"
    result = subprocess.run(
        [exe, "--headless", "--norestore", f"-env:UserInstallation={profile.as_uri()}", "--convert-to", "pdf",
         "--outdir", str(out), str(source)],
        capture_output=True, text=True, timeout=180,
    )
    pdf = out / f"{name}.pdf"
    assert pdf.exists(), f"LibreOffice wrote no PDF: {result.stdout} {result.stderr}"
    return pdf


@dataclass
class Word:
    text: str
    x_min: float
    y_min: float
    x_max: float
    y_max: float


@dataclass
class Page:
    width: float
    height: float
    words: list[Word] = field(default_factory=list)

    @property
    def text(self) -> str:
        return " ".join(w.text for w in self.words)


_PAGE = re.compile(r'<page width="([\d.]+)" height="([\d.]+)">')
_WORD = re.compile(r'<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">(.*?)</word>')


def pdf_pages(pdf: Path) -> list[Page]:
    """Every page's size and words (in reading order within the page), from ``pdftotext -bbox``."""
    html = subprocess.run([_tool("pdftotext"), "-bbox", str(pdf), "-"], capture_output=True, text=True,
                          check=True, timeout=120).stdout
    pages: list[Page] = []
    for line in html.splitlines():
        if m := _PAGE.search(line):
            pages.append(Page(float(m[1]), float(m[2])))
        elif (m := _WORD.search(line)) and pages:
            pages[-1].words.append(Word(unescape(m[5]), *(float(m[i]) for i in range(1, 5))))
    return pages


def pdf_text(pdf: Path) -> str:
    """The PDF's text in reading order (``pdftotext -raw``), whitespace closed up to single spaces."""
    raw = subprocess.run([_tool("pdftotext"), "-raw", str(pdf), "-"], capture_output=True, text=True,
                         check=True, timeout=120).stdout
    return " ".join(raw.split())


def pdf_layout(pdf: Path) -> list[str]:
    """Each page's text as laid out on the page (``pdftotext -layout``): a figure is one unbroken word, so a
    total printed as "###" or cut at a cell edge shows."""
    laid = subprocess.run([_tool("pdftotext"), "-layout", str(pdf), "-"], capture_output=True, text=True,
                          check=True, timeout=120).stdout
    return laid.split("\f")


def page_images(pdf: Path, folder: Path, prefix: str, dpi: int = 40) -> list[Path]:
    """The pages as grey PNGs, ``<prefix>-1.png`` ... in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob(f"{prefix}-*.png"):
        old.unlink()
    subprocess.run([_tool("pdftoppm"), "-png", "-gray", "-r", str(dpi), str(pdf), str(folder / prefix)],
                   check=True, timeout=120)
    return sorted(folder.glob(f"{prefix}-*.png"), key=lambda p: int(p.stem.rsplit("-", 1)[1]))


def read_grey_png(path: Path) -> tuple[int, int, bytes]:
    """(width, height, one grey byte a pixel) of an 8-bit grey or RGB PNG, as pdftoppm writes them."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    pos, idat, width, height, bpp = 8, b"", 0, 0, 1
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", body)
            assert depth == 8 and colour in (0, 2) and not interlace, f"{path}: not 8-bit grey or RGB"
            bpp = 1 if colour == 0 else 3
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    raw, out = zlib.decompress(idat), bytearray()
    stride = width * bpp + 1
    previous = bytearray(width * bpp)
    for r in range(height):
        kind, line = raw[r * stride], bytearray(raw[r * stride + 1:(r + 1) * stride])
        for i in range(len(line)):
            left = line[i - bpp] if i >= bpp else 0
            up, up_left = previous[i], (previous[i - bpp] if i >= bpp else 0)
            if kind == 1:
                line[i] = (line[i] + left) & 0xFF
            elif kind == 2:
                line[i] = (line[i] + up) & 0xFF
            elif kind == 3:
                line[i] = (line[i] + (left + up) // 2) & 0xFF
            elif kind == 4:
                p = left + up - up_left
                pa, pb, pc = abs(p - left), abs(p - up), abs(p - up_left)
                line[i] = (line[i] + (left if pa <= pb and pa <= pc else up if pb <= pc else up_left)) & 0xFF
        out += line[1::3] if bpp == 3 else line  # the green channel stands for grey
        previous = line
    return width, height, bytes(out)


def difference(a: Path, b: Path) -> float:
    """How far apart two page images are: of the pixels inked in either, the share whose grey differs by more than
    a quarter (0 to 1). Counting only inked pixels keeps a mostly white page from hiding a changed table. Pages of
    different sizes are as far apart as can be."""
    wa, ha, pa = read_grey_png(a)
    wb, hb, pb = read_grey_png(b)
    if (wa, ha) != (wb, hb):
        return 1.0
    inked = differ = 0
    for x, y in zip(pa, pb):
        if x < 192 or y < 192:
            inked += 1
            if abs(x - y) > 64:
                differ += 1
    return differ / inked if inked else 0.0
