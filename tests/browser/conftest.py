"""A real browser (Debian's Chromium, driven by Playwright) against the live test server."""

import os
from urllib.parse import urlsplit

import pytest

# Playwright's sync API runs an event loop in the test's thread; the ORM calls made
# by the tests themselves are still plain synchronous ones.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def problems() -> list[str]:
    """Collect console errors, script errors and requests to other hosts; a test asserts it stays empty."""
    return []


def watched_page(browser, base_url: str, problems: list[str], **context_options):
    """Open a page in a new context that may talk to `base_url`'s host only; what goes wrong lands in `problems`."""
    own = urlsplit(base_url).netloc
    context = browser.new_context(locale="zh-CN", **context_options)

    def only_own_host(route):
        url = urlsplit(route.request.url)
        if url.scheme in ("http", "https", "ws", "wss") and url.netloc != own:
            problems.append(f"request to another host: {route.request.url}")
            return route.abort()
        return route.continue_()

    context.route("**/*", only_own_host)
    page = context.new_page()
    page.on("console", lambda message: message.type == "error" and problems.append(f"console: {message.text}"))
    page.on("pageerror", lambda error: problems.append(f"script error: {error}"))
    return page


@pytest.fixture
def page(browser, asgi_server, problems):
    """Return a phone-sized page (320 x 640) that may talk to the ASGI server (HTTP and sockets) only."""
    page = watched_page(browser, asgi_server, problems, viewport={"width": 320, "height": 640})
    yield page
    page.context.close()
