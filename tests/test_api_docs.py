"""The HTTP API's interactive docs in a real browser (Debian's chromium, driven by
Playwright): Swagger UI renders every operation of the published document from assets
the API serves itself, asks nothing of any other host, and runs a request."""
import shutil
import urllib.request

import orjson
import pytest
from playwright.sync_api import sync_playwright

from chargebus.services.api.app import application

# As a user's browser on a closed network: no calls home, no first-run pages.
CHROMIUM_ARGUMENTS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                      "--disable-component-update", "--disable-sync", "--no-first-run"]


@pytest.mark.system
@pytest.mark.timeout(180)
def test_the_docs_render_every_operation_and_run_one(system):
    with urllib.request.urlopen(f"{system.api_url}/openapi.json", timeout=30) as response:
        document = orjson.loads(response.read())
    # Swagger UI shows an operation under each of its tags.
    operations = sum(max(1, len(operation.get("tags", [])))
                     for methods in document["paths"].values() for operation in methods.values())
    chromium = shutil.which("chromium")
    assert chromium, "Debian's chromium is missing: make test installs it (scripts/chromium.sh)"
    hosts: set[str] = set()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGUMENTS)
        try:
            page = browser.new_page()
            page.on("request", lambda request: hosts.add(request.url.split("/")[2]))
            page.goto(f"{system.api_url}/docs")
            page.wait_for_selector(".opblock", timeout=60_000)
            assert page.locator(".opblock").count() == operations
            health = page.locator(".opblock", has_text="/api/v1/health")
            health.locator(".opblock-summary").click()
            health.get_by_role("button", name="Try it out").click()
            health.get_by_role("button", name="Execute").click()
            status = health.locator(".live-responses-table tbody .response-col_status").first
            status.wait_for(timeout=30_000)
            assert status.inner_text().strip() == "200"
        finally:
            browser.close()
    assert hosts == {f"127.0.0.1:{system.api_port}"}


def test_no_operation_names_a_tag_twice():
    document = application(None, None).openapi()  # type: ignore[arg-type]
    repeated = [(path, operation["tags"]) for path, methods in document["paths"].items()
                for operation in methods.values()
                if len(operation.get("tags", [])) != len(set(operation.get("tags", [])))]
    assert repeated == []
