"""Rules for text from outside: control characters (refused in every form and import field) and uploaded file
names (cleaned once, here, for documents, imports and monitoring returns alike)."""
from __future__ import annotations

import os
import re
import unicodedata

# C0 control characters other than tab, line feed and carriage return (browsers send new lines as CR LF).
# A vertical tab or form feed pasted from Word is the usual one; spreadsheets and PostgreSQL refuse them.
CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")
_NAMES = {"\x00": "a NUL", "\x0b": "a vertical tab", "\x0c": "a page break"}
MAX_FILENAME = 255
# A yes or no written as text: a stored setting, an environment variable, a query string's flag.
YES_WORDS = ("1", "true", "yes", "on")
NO_WORDS = ("0", "false", "no", "off")


def is_yes(text) -> bool:
    """Whether ``text`` says yes (``YES_WORDS``, any case); anything else is no."""
    return str(text if text is not None else "").strip().lower() in YES_WORDS


def control_character(text: str) -> str | None:
    """Words for the first control character in ``text`` ("a vertical tab (U+000B)"), or None."""
    found = CONTROL.search(text or "")
    if found is None:
        return None
    ch = found.group()
    return f"{_NAMES.get(ch, 'a control character')} (U+{ord(ch):04X})"


def control_problem(text: str) -> str | None:
    """The sentence for a field holding a control character, or None."""
    what = control_character(text)
    if what is None:
        return None
    return (f"contains {what}, which cannot be stored; it often comes from text pasted from Word. "
            "Retype that part and try again")


def strip_control(text: str) -> str:
    """For writing text already stored into files that refuse control characters (workbooks): a vertical tab or
    page break becomes a new line, anything else goes."""
    return CONTROL.sub(lambda m: "\n" if m.group() in "\x0b\x0c" else "", text)


def clean_filename(filename: str | None, default: str = "upload") -> str:
    """An uploaded file's name made safe to keep and to offer back: no folders, no control or formatting
    characters (CR, LF, a right-to-left override ...), at most 255 characters with the extension kept."""
    name = os.path.basename((filename or "").replace("\\", "/"))
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C").strip()
    if not name.strip("."):  # "." or ".." is no name
        name = ""
    if len(name) > MAX_FILENAME:
        stem, dot, ext = name.rpartition(".")
        if dot and 0 < len(ext) <= 10:
            name = stem[:MAX_FILENAME - len(ext) - 1].rstrip() + "." + ext
        else:
            name = name[:MAX_FILENAME]
    return name or default
