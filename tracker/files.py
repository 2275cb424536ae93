"""Files the app keeps on disk: import drafts, issued returns, monitoring returns and documents.

One way to keep them: every file is under ``DATA_DIR`` (never under ``static/``), written atomically (to a
temporary name, then renamed into place, so a crash never leaves half a file under the real name), hashed
(SHA-256) as it is written, and known to the database by its path relative to ``DATA_DIR`` ("returns/x.xlsx"),
so the folder can move. A path that would lead outside ``DATA_DIR`` is refused, whatever a row says.
"""
from __future__ import annotations

import hashlib
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from flask import current_app

CHUNK = 1 << 20  # bytes read at a time from an upload


class OutsideDataDir(ValueError):
    """A stored path that is absolute, empty or climbs out of DATA_DIR."""


class FileChanged(ValueError):
    """A stored file whose bytes no longer match the SHA-256 taken when it was written."""


@dataclass(frozen=True)
class Stored:
    """A file just written: where (relative to DATA_DIR), its SHA-256 and its size."""

    path: str
    sha256: str
    size_bytes: int

    @property
    def name(self) -> str:
        return self.path.rsplit("/", 1)[-1]


def data_dir() -> Path:
    return Path(current_app.config["DATA_DIR"]).resolve()


def generated_name(extension: str, stem: str = "") -> str:
    """A name nobody can guess or collide with: ``[stem-]<32 hex>.ext`` (the extension without its dot)."""
    token = secrets.token_hex(16)
    return f"{stem}-{token}.{extension}" if stem else f"{token}.{extension}"


def locate(relative: str) -> Path:
    """The absolute path of a stored file. Raises OutsideDataDir for anything that is not inside DATA_DIR."""
    root = data_dir()
    if not relative or os.path.isabs(relative) or "\\" in relative:
        raise OutsideDataDir(f"{relative!r} is not a path inside the data folder")
    path = (root / relative).resolve()
    if path == root or not path.is_relative_to(root):
        raise OutsideDataDir(f"{relative!r} is not a path inside the data folder")
    return path


def write(folder: str, name: str, content: bytes | IO[bytes], *, durable: bool = True) -> Stored:
    """Write ``content`` (bytes, or a stream read in chunks) to DATA_DIR/folder/name, atomically, hashing it.

    ``durable=False`` for a passing note that may be lost with the machine (an import's progress): it is not
    flushed to the disk before it replaces the old one, which spares a wait of milliseconds each time."""
    relative = f"{folder}/{name}"
    target = locate(relative)
    target.parent.mkdir(parents=True, exist_ok=True)
    part = target.with_name(f".{target.name}.{secrets.token_hex(4)}.part")
    digest, size = hashlib.sha256(), 0
    try:
        with open(part, "xb") as out:
            if isinstance(content, (bytes, bytearray, memoryview)):
                chunks = iter((bytes(content),))
            else:
                chunks = iter(lambda: content.read(CHUNK), b"")
            for chunk in chunks:
                digest.update(chunk)
                size += len(chunk)
                out.write(chunk)
            out.flush()
            if durable:
                os.fsync(out.fileno())
        os.replace(part, target)
    except BaseException:
        part.unlink(missing_ok=True)
        raise
    return Stored(relative, digest.hexdigest(), size)


def rename(relative: str, new_name: str) -> str:
    """Give a stored file a new name in the same folder (atomic); returns its new relative path."""
    new_relative = f"{relative.rsplit('/', 1)[0]}/{new_name}"
    os.replace(locate(relative), locate(new_relative))
    return new_relative


def read(relative: str, sha256: str | None = None) -> bytes:
    """A stored file's bytes; with ``sha256``, checked against it (FileChanged when they differ).
    A missing file raises FileNotFoundError."""
    content = locate(relative).read_bytes()
    if sha256 is not None and hashlib.sha256(content).hexdigest() != sha256:
        raise FileChanged(f"{relative} does not match its recorded SHA-256")
    return content


def exists(relative: str) -> bool:
    try:
        return locate(relative).is_file()
    except OutsideDataDir:
        return False


def remove(relative: str) -> None:
    """Delete a stored file; one already gone is not an error."""
    locate(relative).unlink(missing_ok=True)
