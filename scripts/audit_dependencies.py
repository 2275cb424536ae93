"""Audit the installed dependencies with pip-audit; run by `make test` before pytest.

Fails (exit 1) on any known vulnerability that has a fixed version. When the advisory service cannot be
reached at all (every dependency skipped, or pip-audit cannot connect) it warns loudly and passes, so
an offline machine can still run the tests; anything in between is audited as far as it goes.
"""
from __future__ import annotations

import json
import subprocess
import sys


def verdict(report: dict) -> tuple[int, list[str]]:
    """(exit code, lines to print) for a pip-audit JSON report."""
    deps = report.get("dependencies", [])
    audited = [d for d in deps if "skip_reason" not in d]
    fixable = [(d, v) for d in audited for v in d.get("vulns", []) if v.get("fix_versions")]
    unfixed = [(d, v) for d in audited for v in d.get("vulns", []) if not v.get("fix_versions")]
    lines = [f"{d['name']} {d['version']}: {v['id']} (fixed in {', '.join(v['fix_versions'])})" for d, v in fixable]
    lines += [f"{d['name']} {d['version']}: {v['id']} (no fix yet; watch it)" for d, v in unfixed]
    if fixable:
        return 1, ["pip-audit: known vulnerabilities with a fix available:", *lines]
    if deps and not audited:
        return 0, [f"WARNING: pip-audit could not reach the advisory service: none of {len(deps)} "
                   "dependencies was audited. Run `make audit` where PyPI's API is reachable."]
    return 0, [f"pip-audit: {len(audited)} dependencies audited, no fixable vulnerability.", *lines]


def main() -> int:
    command = [sys.executable, "-m", "pip_audit", "--skip-editable", "--progress-spinner", "off", "-f", "json"]
    try:
        run = subprocess.run(command, capture_output=True, text=True, timeout=600)
    except subprocess.TimeoutExpired:
        print("WARNING: pip-audit timed out; dependencies were not audited.", file=sys.stderr)
        return 0
    try:
        report = json.loads(run.stdout)
    except json.JSONDecodeError:
        if "vulnerab" in run.stderr.lower() and "connection" not in run.stderr.lower():
            print(run.stderr, file=sys.stderr)
            return 1
        last = (run.stderr.strip().splitlines() or ["no output"])[-1]
        print(f"WARNING: pip-audit could not reach the advisory service ({last}); dependencies were not audited.",
              file=sys.stderr)
        return 0
    code, lines = verdict(report)
    print("\n".join(lines), file=sys.stderr if code else sys.stdout)
    return code


if __name__ == "__main__":
    sys.exit(main())
