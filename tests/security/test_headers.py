"""Security headers on every page, and templates that a strict Content-Security-Policy can serve unchanged."""
from __future__ import annotations

import re
from pathlib import Path

from tests.access import collect
from tests.conftest import PASSWORD
from tests.test_access import _endpoints, _url
from tracker.extensions import db
from tracker.security import CONTENT_SECURITY_POLICY

TEMPLATES = Path(__file__).resolve().parents[2] / "templates"

EXPECTED = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
}


# A stored document is served with a stricter policy of its own (nothing runs, even if the file is opened).
DOCUMENT_FILE_POLICY = "default-src 'none'; sandbox"


def _check(response, label, failures):
    for name, value in EXPECTED.items():
        if name == "Content-Security-Policy" and "attachment" in response.headers.get("Content-Disposition", "") \
                and response.headers.get(name) == DOCUMENT_FILE_POLICY:
            continue
        if response.headers.get(name) != value:
            failures.append(f"{label}: {name} is {response.headers.get(name)!r}")
    if response.headers.get("Referrer-Policy") not in ("same-origin", "no-referrer"):
        failures.append(f"{label}: Referrer-Policy {response.headers.get('Referrer-Policy')!r}")
    if not response.headers.get("Permissions-Policy"):
        failures.append(f"{label}: no Permissions-Policy")
    if "Strict-Transport-Security" in response.headers:
        failures.append(f"{label}: HSTS sent over plain HTTP")


def test_the_policy_allows_nothing_inline():
    policy = dict(part.strip().split(" ", 1) for part in CONTENT_SECURITY_POLICY.split(";"))
    assert policy["script-src"] == "'self'" and policy["style-src"] == "'self'"
    assert "unsafe" not in CONTENT_SECURITY_POLICY
    assert policy["frame-ancestors"] == "'none'"


def test_headers_on_every_page_of_the_role_matrix(seeded, client, make):
    expected, values = collect()
    endpoints = _endpoints(seeded)
    failures = []
    _check(client.get("/sign-in"), "GET /sign-in (anonymous)", failures)
    _check(client.get("/no-such-page"), "404 page", failures)
    admin = make.user(role="admin")
    db.session.commit()
    assert client.post("/sign-in", data={"email": admin.email, "password": PASSWORD}).status_code == 302
    checked = 0
    for endpoint, access in sorted(expected.items()):
        if access.get is None or endpoint not in endpoints:
            continue
        url = _url(seeded, endpoints[endpoint], values)
        for headers in ({}, {"HX-Request": "true"}):
            response = client.get(url, headers=headers)
            _check(response, f"GET {url} {headers}", failures)
            checked += 1
    assert checked >= 4
    assert not failures, "\n".join(failures)


def test_hsts_only_over_https(client):
    assert "Strict-Transport-Security" not in client.get("/sign-in").headers
    secure = client.get("/sign-in", base_url="https://localhost")
    assert secure.headers["Strict-Transport-Security"].startswith("max-age=31536000")


# Patterns a template must never contain: inline script, inline style, inline event handlers, |safe.
FORBIDDEN = [
    (re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.I), "inline <script> (no src)"),
    (re.compile(r"<style\b", re.I), "<style> element"),
    (re.compile(r"\sstyle\s*=", re.I), "style= attribute"),
    (re.compile(r"\son[a-z]+\s*=", re.I), "on...= event handler attribute"),
    (re.compile(r"\bhx-on", re.I), "hx-on attribute (needs eval)"),
    (re.compile(r"javascript:", re.I), "javascript: URL"),
    (re.compile(r"\|\s*safe\b"), "|safe filter"),
    (re.compile(r"\{%\s*autoescape\s+false", re.I), "autoescape off"),
    (re.compile(r"Markup\("), "Markup() in a template"),
]


def test_no_template_needs_inline_script_or_style():
    files = sorted(TEMPLATES.rglob("*.html"))
    assert files
    problems = []
    for path in files:
        text = path.read_text(encoding="utf-8")
        for pattern, what in FORBIDDEN:
            for match in pattern.finditer(text):
                line = text.count("\n", 0, match.start()) + 1
                # A reviewed exception says why on the same line: {# csp-ok: server-built SVG, escaped in Python #}
                if "csp-ok:" in text.splitlines()[line - 1]:
                    continue
                problems.append(f"{path.relative_to(TEMPLATES)}:{line}: {what}")
    assert not problems, "\n".join(problems)
