"""`/docs` works without internet: Chromium with every request off the loopback server aborted still shows the
operations list, so Swagger UI comes from the package (doodlelab/web/static/vendor/swagger-ui)."""

from __future__ import annotations

from urllib.parse import urlsplit

from tests.web.pagekit import TIMEOUT, require_browser

require_browser()

from playwright.sync_api import expect  # noqa: E402


def test_docs_show_the_operations_with_the_network_blocked(browser, base_url):
    server = urlsplit(base_url).netloc
    context = browser.new_context()
    blocked: list[str] = []

    def only_loopback(route) -> None:
        if urlsplit(route.request.url).netloc == server:
            route.continue_()
        else:
            blocked.append(route.request.url)
            route.abort()

    try:
        context.route("**/*", only_loopback)
        page = context.new_page()
        page.goto(base_url + "/docs")
        operation = page.locator(".opblock-summary-path", has_text="/api/predict")
        expect(operation.first).to_be_visible(timeout=TIMEOUT)
        expect(page.locator(".opblock")).not_to_have_count(0)
        operation.first.click()  # the operation opens: its request body schema is rendered
        expect(page.locator(".opblock-body").first).to_be_visible(timeout=TIMEOUT)
        assert blocked == []  # nothing was even asked of another host
    finally:
        context.close()


def test_redoc_is_not_served(base_url):
    import httpx

    assert httpx.get(base_url + "/redoc").status_code == 404  # it would load fonts from Google
