"""Settings: one parser for a stored value, whether read one at a time or several in one query."""
from __future__ import annotations

from decimal import Decimal

from tracker import settings
from tracker.extensions import db
from tracker.models import Setting


def test_get_and_get_many_read_a_stored_value_alike(app):
    settings.put("return_due_days", 21)
    settings.put("milestone_done_needs_evidence", "false")
    settings.put("rag_amber_percent", "3.5")
    keys = ("return_due_days", "milestone_done_needs_evidence", "rag_amber_percent", "vru_name")
    assert settings.get_many(*keys) == {key: settings.get(key) for key in keys} == {
        "return_due_days": 21, "milestone_done_needs_evidence": False, "rag_amber_percent": Decimal("3.5"),
        "vru_name": "Violence Reduction Unit"}


def test_a_stored_value_that_no_longer_parses_reads_as_the_default_both_ways(app):
    db.session.add(Setting(key="return_due_days", value="thirty"))  # written before the setting was a number
    db.session.flush()
    assert settings.get("return_due_days") == 30
    assert settings.get_many("return_due_days") == {"return_due_days": 30}
