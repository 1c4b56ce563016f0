"""The API documentation page works offline and under the app's own CSP: Swagger UI's
files come from the installed package, its settings from a script file (no inline
script), and a real Chromium lists the operations."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from conftest import start_web
from etablera.interfaces.http.app import CSP, create_app

ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]


def test_the_docs_page_loads_nothing_from_elsewhere_and_no_inline_script(engine):
    client = TestClient(create_app(engine))
    page = client.get("/api/v1/docs")
    assert page.status_code == 200 and page.headers["content-security-policy"] == CSP
    sources = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert sources and all(s.startswith("/api/v1/") for s in sources), sources
    assert "<script>" not in page.text and not re.search(r"<script(?![^>]*\bsrc=)", page.text)
    for source in sources:
        asset = client.get(source)
        assert asset.status_code == 200 and len(asset.content) > 100, source
    assert "openapi.json" in client.get("/api/v1/docs/init.js").text
    assert client.get("/api/v1/openapi.json").json()["paths"]


@pytest.mark.slow
def test_chromium_lists_the_operations(sqlite_url, chromium):
    from playwright.sync_api import expect, sync_playwright
    server, port = start_web(sqlite_url)
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=str(chromium), args=ARGS, headless=True)
            page = browser.new_page()
            refused = []
            page.on("console", lambda m: refused.append(m.text) if "Content Security Policy" in m.text else None)
            outside = []
            page.on("request", lambda r: outside.append(r.url) if not r.url.startswith(f"http://127.0.0.1:{port}")
                    else None)
            page.goto(f"http://127.0.0.1:{port}/api/v1/docs")
            expect(page.locator(".opblock-summary-path").first).to_be_visible(timeout=15_000)
            paths = page.locator(".opblock-summary-path").all_inner_texts()
            browser.close()
    finally:
        server.terminate()
        server.wait(timeout=10)
    assert any(p.strip().endswith("/me") for p in paths) and len(paths) > 10, paths
    assert not refused and not outside, (refused, outside)
