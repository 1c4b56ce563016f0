"""Single sign-on end to end in a real headless Chromium (Debian's, driven by Playwright):
the real `etablera web` configured for the OpenID Connect provider on loopback
(`oidc-provider-mock`, tests/oidc_kit.py, with its PKCE check); the browser opens the
start page, is sent to the login page, clicks "Logga in med Mock-IdP", authorizes at the
provider's own page, lands logged in on the start page, logs out (and is offered the
provider's logout, which brings it back to the login page)."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest

from conftest import start_web
from leaks import personal_data_in
from oidc_kit import NAME, running_provider, write_config
from test_web_e2e import ARGS

pytestmark = pytest.mark.slow


@pytest.fixture
def site(sqlite_url, chromium, tmp_path, monkeypatch):
    with running_provider() as provider:
        monkeypatch.setenv("ETABLERA_CONFIG_DIR",
                           str(write_config(tmp_path / "config", provider.issuer, local_passwords=False,
                                            provider_logout=True)))
        monkeypatch.setenv("ETABLERA_OIDC_CLIENT_SECRET", "e2e-hemlighet")
        server, port = start_web(sqlite_url)
        try:
            yield {"url": f"http://127.0.0.1:{port}", "provider": provider}
        finally:
            server.terminate()
            server.wait(timeout=10)


def test_log_in_with_the_identity_provider_and_out_again(site, chromium):
    from playwright.sync_api import expect, sync_playwright
    seen = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(chromium), args=ARGS, headless=True)
        try:
            page = browser.new_context(locale="sv-SE").new_page()
            page.set_default_timeout(15_000)
            page.on("request", lambda request: seen.append(request.url))
            page.goto(site["url"] + "/")
            assert urlsplit(page.url).path == "/login"
            expect(page.get_by_label("Lösenord")).to_have_count(0)           # local passwords are off
            page.get_by_role("link", name=f"Logga in med {NAME}").click()

            page.wait_for_url(site["provider"].issuer + "/oauth2/authorize*")   # the provider's own page
            page.get_by_role("button", name="sub-officer").click()

            page.wait_for_url(site["url"] + "/worklist*")
            expect(page.locator("header")).to_contain_text("Inloggad som")
            expect(page.locator("header")).to_contain_text("Test Handläggare Sso")
            assert site["provider"].token_requests == [(True, True)]       # PKCE held

            page.get_by_role("button", name="Logga ut").click()
            page.wait_for_url(site["url"] + "/login*")
            expect(page.get_by_text("Du är utloggad från Etablera.")).to_be_visible()
            page.goto(site["url"] + "/worklist")
            assert urlsplit(page.url).path == "/login"                      # the session is over

            page.goto(site["url"] + "/login?signed_out=sso")
            page.get_by_role("link", name=f"Logga ut även hos {NAME}").click()
            page.wait_for_url(site["provider"].issuer + "/oauth2/end_session*")
        finally:
            browser.close()
    # No personal data in any address the browser asked for.
    assert seen and not [url for url in seen if personal_data_in(url) or "Handl" in url or "Sso" in url]
