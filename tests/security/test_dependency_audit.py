"""The dependency audit that `make test` runs fails on a fixable vulnerability and only warns when offline."""
from __future__ import annotations

import importlib.util
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "audit_dependencies.py"
spec = importlib.util.spec_from_file_location("audit_dependencies", SCRIPT)
audit_dependencies = importlib.util.module_from_spec(spec)
spec.loader.exec_module(audit_dependencies)


def test_a_vulnerability_with_a_fix_fails():
    code, lines = audit_dependencies.verdict({"dependencies": [
        {"name": "jinja2", "version": "2.10", "vulns": [{"id": "GHSA-x", "fix_versions": ["2.10.1"]}]},
        {"name": "flask", "version": "3.1.3", "vulns": []},
    ]})
    assert code == 1 and "jinja2 2.10: GHSA-x (fixed in 2.10.1)" in lines


def test_clean_and_unreachable_pass():
    assert audit_dependencies.verdict({"dependencies": [{"name": "flask", "version": "3", "vulns": []}]})[0] == 0
    code, lines = audit_dependencies.verdict({"dependencies": [{"name": "flask", "version": "3", "skip_reason": "x"}]})
    assert code == 0 and "WARNING" in lines[0]


def test_make_test_runs_the_audit_before_pytest():
    makefile = (SCRIPT.parents[1] / "Makefile").read_text()
    recipe = makefile.split("\ntest:", 1)[1].split("\n\n", 1)[0]
    assert recipe.index("audit_dependencies.py") < recipe.index("pytest")
