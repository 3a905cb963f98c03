"""The widget as operators embed it: one <script> tag on their own site, the bridge on another origin. Every call
the widget makes to the bridge is then cross-origin; the other browser tests load the page from the bridge itself.

Before: ``/widget/i18n`` sent no ``Access-Control-Allow-Origin``, so the browser refused its answer and on every real
site the widget spoke English, whatever the visitor's language."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from playwright.async_api import Browser, expect

from tests.support.chromium import OUT, new_page
from tests.support.harness import Harness, running_bridge, running_slack, stop_server

pytestmark = pytest.mark.browser


class HostSite:
    """The operator's site: one page that only embeds the widget (``html``, set by the test)."""

    def __init__(self) -> None:
        self.html = ""
        app = web.Application()
        app.router.add_get("/", self._page)
        self.server = TestServer(app, host="127.0.0.1")

    async def _page(self, _request: web.Request) -> web.Response:
        return web.Response(text=self.html, content_type="text/html")


@pytest.fixture
async def host_site() -> AsyncIterator[HostSite]:
    site = HostSite()
    await site.server.start_server()
    try:
        yield site
    finally:
        await stop_server(site.server)


@pytest.fixture
async def bridge(tmp_path: Path, host_site: HostSite) -> AsyncIterator[Harness]:
    site = str(host_site.server.make_url("")).rstrip("/")
    url = f"sqlite+aiosqlite:///{tmp_path / 'switchboard.db'}"
    async with running_slack() as (slack, slack_server):
        async with running_bridge(url, tmp_path, slack, slack_server, extra_origins=(site,)) as harness:
            yield harness


async def test_the_widget_speaks_the_visitors_language_on_another_site(
    bridge: Harness, host_site: HostSite, browser: Browser
) -> None:
    host_site.html = (
        '<!doctype html><html lang="es"><head><meta charset="utf-8"><link rel="icon" href="data:,">'
        "<title>Tienda</title></head><body>"
        f'<h1>Tienda</h1><script src="{bridge.url("/widget.js")}" async></script></body></html>'
    )
    page, problems = await new_page(browser, locale="es-ES")
    await page.goto(str(host_site.server.make_url("/")))
    await page.locator(".sb-launcher").click()
    await expect(page.locator(".sb-title")).to_have_text("Chatea con nosotros")
    await page.locator("textarea.sb-input").fill("¿Dónde está mi pedido?")
    await page.keyboard.press("Enter")
    await bridge.slack.wait_for(lambda: bool(bridge.slack.channel_messages()), 10)
    await expect(page.locator(".sb-row").last).to_contain_text("¿Dónde está mi pedido?")
    await page.screenshot(path=str(OUT / "widget-on-another-site-es.png"))
    assert problems == []
