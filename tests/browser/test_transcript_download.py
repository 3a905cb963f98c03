"""A Spanish visitor downloads the conversation from the widget's header: a .txt file, token never in a URL."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from playwright.async_api import Browser, expect

from tests.support.chromium import OUT, new_page
from tests.support.harness import Harness

pytestmark = pytest.mark.browser


async def test_download_control_saves_the_transcript(demo_bridge: Harness, browser: Browser) -> None:
    page, problems = await new_page(browser, locale="es-ES", timezone_id="Europe/Madrid", accept_downloads=True)
    urls: list[str] = []
    page.on("request", lambda request: urls.append(request.url))
    page.on("websocket", lambda socket: urls.append(socket.url))
    await page.goto(demo_bridge.url("/"))
    await page.locator(".sb-launcher").click()
    await expect(page.locator(".sb-root")).to_have_attribute("data-conn", "online")
    save = page.get_by_role("button", name="Descargar transcripción")
    await expect(page.locator(".sb-save")).to_be_hidden()  # nothing to save yet

    await page.locator("textarea.sb-input").fill("Hola, mi pedido no ha llegado")
    await page.keyboard.press("Enter")
    await demo_bridge.slack.wait_for(lambda: bool(demo_bridge.slack.channel_messages()), 10)
    root = demo_bridge.slack.channel_messages()[0]["ts"]
    await demo_bridge.slack.wait_for(lambda: len(demo_bridge.slack.thread(root)) == 1, 10)
    await demo_bridge.slack.agent_says("Lo revisamos ahora mismo", thread_ts=root)
    await demo_bridge.slack.agent_says("// cliente habitual", thread_ts=root)
    await expect(page.locator(".sb-other:not(.sb-greeting)").last).to_contain_text("Lo revisamos ahora mismo")

    await expect(save).to_be_visible()
    await save.focus()
    OUT.mkdir(exist_ok=True)
    await page.screenshot(path=str(OUT / "widget-transcript-download.png"))
    async with page.expect_download() as download_info:
        await save.click()
    download = await download_info.value

    assert download.suggested_filename.startswith("transcript-") and download.suggested_filename.endswith(".txt")
    lines = (await asyncio.to_thread(Path(await download.path()).read_text, encoding="utf-8")).splitlines()
    assert lines[0] == "Transcripción de la conversación"
    assert lines[2].startswith("Iniciada el ") and "UTC" not in lines[2]  # the browser's time zone, not UTC
    assert lines[4].endswith("] Tú: Hola, mi pedido no ha llegado")
    assert lines[5].endswith("] Alex: Lo revisamos ahora mismo")
    assert len(lines) == 6  # the internal note is not in the customer's copy
    await expect(save).not_to_have_attribute("aria-busy", "true")
    session = await page.evaluate("localStorage.getItem('switchboard.session')")
    assert session and not [u for u in urls if session in u]
    assert problems == []
