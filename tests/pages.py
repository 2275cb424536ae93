"""Reading what a page put in its forms, as a browser would send it back (the version shown, a form's token)."""
from __future__ import annotations

import re


def hidden(html: str, name: str, nth: int = 0) -> str:
    """The value of the ``nth`` hidden field called ``name`` on the page."""
    values = re.findall(rf'name="{re.escape(name)}" type="hidden" value="([^"]*)"', html)
    assert len(values) > nth, f"no hidden field {name!r} on the page"
    return values[nth]
