"""The widget as operators embed it: one <script> tag on their own site, the bridge on another origin. Every call
the widget makes to the bridge is then cross-origin; the other browser tests load the page from the bridge itself.

Before: ``/widget/i18n`` sent no ``Access-Control-Allow-Origin``, so the browser refused its answer and on every real
site the widget spoke English, whatever the visitor's language. Files go up (``POST /widget/upload``) and come down
(``POST /widget/file``) with the session in a custom header, so the browser asks first (a CORS preflight): both are
checked here as a real site makes them."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from playwright.async_api import Browser, expect

from tests.support.chromium import OUT, new_page
from tests.support.harness import Harness, running_bridge, running_slack, stop_server
from tests.support.uploads import PNG

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


PDF = b"%PDF-1.4\n% invoice\n%%EOF\n"


def _shop(bridge: Harness, lang: str) -> str:
    """The operator's page: the widget's one ``<script>`` tag, from the bridge's origin."""
    return (
        f'<!doctype html><html lang="{lang}"><head><meta charset="utf-8"><link rel="icon" href="data:,">'
        "<title>Tienda</title></head><body>"
        f'<h1>Tienda</h1><script src="{bridge.url("/widget.js")}" async></script></body></html>'
    )


async def test_the_widget_speaks_the_visitors_language_on_another_site(
    bridge: Harness, host_site: HostSite, browser: Browser
) -> None:
    host_site.html = _shop(bridge, "es")
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


async def test_files_go_up_and_come_down_from_another_site(
    bridge: Harness, host_site: HostSite, browser: Browser
) -> None:
    host_site.html = _shop(bridge, "en")
    page, problems = await new_page(browser, accept_downloads=True)
    page.on("filechooser", lambda _chooser: None)  # Playwright takes the chooser (see test_widget_attachments.py)
    await page.goto(str(host_site.server.make_url("/")))
    await page.locator(".sb-launcher").click()
    await expect(page.locator(".sb-root")).to_have_attribute("data-conn", "online")

    async with page.expect_file_chooser() as chooser:
        await page.locator(".sb-attach").click()
    await (await chooser.value).set_files([{"name": "receipt.png", "mimeType": "image/png", "buffer": PNG}])
    await expect(page.locator(".sb-chip")).to_have_attribute("data-state", "ready")
    await page.locator("textarea.sb-input").fill("Here is the receipt")
    await page.locator(".sb-send").click()
    slack = bridge.slack
    await slack.wait_for(lambda: bool(slack.channel_messages()), 10)
    root = str(slack.channel_messages()[0]["ts"])
    await slack.wait_for(lambda: any(m.get("files") for m in slack.thread(root)), 10)
    [shared] = [f for m in slack.thread(root) for f in m.get("files") or ()]
    assert slack.file_bytes[shared["id"]] == PNG  # up: the upload crossed origins

    await slack.agent_shares_file("invoice.pdf", PDF, thread_ts=root, text="Attached")
    button = page.locator(".sb-other").last.locator("button.sb-file")
    async with page.expect_download() as download:
        await button.click()
    saved = await download.value
    assert saved.suggested_filename == "invoice.pdf"
    assert await asyncio.to_thread(Path(await saved.path()).read_bytes) == PDF  # down: so did the download
    await page.screenshot(path=str(OUT / "widget-on-another-site-files.png"))
    assert problems == []
