"""A customer attaches files in the widget: the paperclip (or a drop, or a paste) uploads each file at once and shows
it as a chip above the composer; Send sends the text with the upload ids; the file reaches the conversation's Slack
thread, and the customer's message shows it (📎 name, size), live and after a reload.

Refusals are explained on the file's chip in the customer's language and nothing is sent: a file over 40 MB is
refused before any upload, an HTML page named ``.png`` by the bridge (it reads the bytes). A message waiting in the
outbox keeps its upload ids, so the resend after a reload carries the files.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from playwright.async_api import Browser, FilePayload, Page, Route, expect

import channels.web.uploads as uploads_module
from bridge import texts
from bridge.engine import MESSAGE
from bridge.events import ChannelKind
from channels.web import WebChannel
from channels.web.uploads import MAX_UPLOAD_BYTES
from tests.support.chromium import DESKTOP, OUT, PHONE_RTL, new_page
from tests.support.harness import Harness
from tests.support.races import writer_held
from tests.support.uploads import PNG, uploads_on_disk

pytestmark = pytest.mark.browser

DEVICES = pytest.mark.parametrize(
    ("device", "locale", "shot"), [(DESKTOP, "en", "desktop"), (PHONE_RTL, "ar", "phone-rtl")]
)
RECEIPT: FilePayload = {"name": "receipt.png", "mimeType": "image/png", "buffer": PNG}
HTML = b"<!DOCTYPE html><html><body><script>alert(1)</script></body></html>"
NOTE = b"a note\n"
PDF = b"%PDF-1.4\n% invoice\n%%EOF\n"
DATA_EVENT = """([type, selector, name, text]) => {
  const target = document.getElementById("switchboard-widget").shadowRoot.querySelector(selector);
  const data = new DataTransfer();
  data.items.add(new File([text], name, {type: "text/plain"}));
  const init = {bubbles: true, cancelable: true, composed: true};
  const event = type === "paste" ? new ClipboardEvent(type, {...init, clipboardData: data})
    : new DragEvent(type, {...init, dataTransfer: data});
  target.dispatchEvent(event);
  return event.defaultPrevented;
}"""
UPLOADS_MADE = """() => performance.getEntriesByType("resource")
    .filter((entry) => entry.name.endsWith("/widget/upload")).length"""


def _text(h: Harness, locale: str, key: str) -> str:
    return h.bridge.catalogs.pgettext(locale, texts.WIDGET_CONTEXT, texts.WIDGET_STRINGS[key])


async def _agent_shares_an_invoice(h: Harness, page: Page) -> None:
    """The customer asks in the widget; the agent answers in the thread with ``invoice.pdf``."""
    await _open_widget(h, page)
    await page.locator("textarea.sb-input").fill("Can I have the invoice?")
    await page.locator("textarea.sb-input").press("Enter")
    await h.slack.wait_for(lambda: len(h.slack.channel_messages()) == 1)
    root = str(h.slack.channel_messages()[0]["ts"])
    await h.slack.agent_shares_file("invoice.pdf", PDF, thread_ts=root, text="Attached")


async def _open_widget(h: Harness, page: Page) -> None:
    # A file chooser listener makes Playwright intercept choosers, without waiting for Chromium to agree: added
    # only by ``expect_file_chooser``, it can come after the click, and the chooser is then lost.
    page.on("filechooser", lambda _chooser: None)
    await page.goto(h.url("/"))
    await page.locator(".sb-launcher").click()
    await expect(page.locator(".sb-root")).to_have_attribute("data-conn", "online")


async def _widget_on(h: Harness, browser: Browser, device: dict[str, Any]) -> tuple[Page, list[str]]:
    """A new page on ``device`` with the widget open, and the problems its console reports."""
    page, problems = await new_page(browser, **device)
    await _open_widget(h, page)
    return page, problems


async def _choose(page: Page, files: list[FilePayload] | list[Path]) -> None:
    """Pick ``files`` in the chooser the paperclip opens, reached and pressed with the keyboard."""
    await page.locator("textarea.sb-input").focus()
    await page.keyboard.press("Shift+Tab")
    await expect(page.locator(".sb-attach")).to_be_focused()
    async with page.expect_file_chooser() as chooser:
        await page.keyboard.press("Enter")
    await (await chooser.value).set_files(files)


async def _customer_messages(h: Harness) -> list[tuple[str, list[dict[str, Any]]]]:
    query = sa.select(MESSAGE.c.text, MESSAGE.c.attachments).where(MESSAGE.c.author_kind == "customer")
    return [(row.text, list(row.attachments or ())) for row in await h.bridge.store.fetch_all(query)]


async def _thread_files(h: Harness, count: int) -> list[dict[str, Any]]:
    """The files shared in the conversation's Slack thread, once there are ``count``."""
    slack = h.slack

    def files() -> list[dict[str, Any]]:
        return [f for r in slack.channel_messages() for m in slack.thread(r["ts"]) for f in m.get("files") or ()]

    await slack.wait_for(lambda: len(files()) >= count)
    return files()


@DEVICES
async def test_a_png_sent_with_a_text_reaches_the_slack_thread_and_stays_in_the_conversation(
    demo_bridge: Harness, browser: Browser, device: dict[str, Any], locale: str, shot: str
) -> None:
    h = demo_bridge
    page, problems = await _widget_on(h, browser, device)
    attach, send = page.locator(".sb-attach"), page.locator(".sb-send")
    await expect(attach).to_have_attribute("aria-label", _text(h, locale, "attach"))

    # While the file uploads, its chip is busy and Send waits, even with a text written.
    release = asyncio.Event()

    async def held(route: Route) -> None:
        await release.wait()
        await route.continue_()

    await page.route("**/widget/upload", held)
    await _choose(page, [RECEIPT])
    chip = page.locator(".sb-chip")
    await expect(chip).to_have_attribute("data-state", "uploading")
    await expect(chip).to_have_attribute("aria-busy", "true")
    await expect(chip.locator(".sb-chip-info")).to_have_text(_text(h, locale, "uploading"))
    await page.locator("textarea.sb-input").fill("Here is the receipt")
    await expect(send).to_be_disabled()
    await page.locator("textarea.sb-input").press("Enter")
    release.set()
    await expect(chip).to_have_attribute("data-state", "ready")
    await page.unroute("**/widget/upload")
    assert await _customer_messages(h) == []  # Enter did not send while the file was uploading
    await expect(chip.locator(".sb-chip-name")).to_have_text("receipt.png")
    await expect(chip.locator(".sb-chip-remove")).to_have_accessible_name(_text(h, locale, "remove_file"))
    await expect(chip.locator(".sb-chip-remove")).to_have_accessible_description("receipt.png")
    await expect(send).to_be_enabled()
    OUT.mkdir(exist_ok=True)
    await page.screenshot(path=str(OUT / f"widget-attachments-chip-{shot}.png"))

    await send.click()
    await expect(chip).to_have_count(0)
    own = page.locator(".sb-own").last
    await expect(own.locator(".sb-text")).to_have_text("Here is the receipt")
    await expect(own.locator(".sb-file-name")).to_have_text("receipt.png")
    size = await own.locator(".sb-file-size").text_content()
    assert size and (size == f"{len(PNG)} bytes") == (locale == "en")  # in the customer's locale
    await expect(own).not_to_have_attribute("data-state", "sending")

    [shared] = await _thread_files(h, 1)
    assert shared["name"] == "receipt.png" and h.slack.file_bytes[shared["id"]] == PNG
    [(text, files)] = await _customer_messages(h)
    assert text == "Here is the receipt" and [f["name"] for f in files] == ["receipt.png"]
    await page.screenshot(path=str(OUT / f"widget-attachments-sent-{shot}.png"))

    # After a reload the history shows the file under the message, the same way.
    await page.reload()
    await page.locator(".sb-launcher").click()
    own = page.locator(".sb-own").last
    await expect(own.locator(".sb-file-name")).to_have_text("receipt.png")
    await expect(own.locator(".sb-file-size")).to_have_text(size)
    await expect(own.locator(".sb-text")).to_have_text("Here is the receipt")
    assert problems == []


async def test_a_message_waiting_in_the_outbox_keeps_its_files_for_the_resend(
    demo_bridge: Harness, browser: Browser
) -> None:
    """The outbox (localStorage) kept a message's text only: sent while the bridge was out of reach, then the page
    reloaded, the message went without ``attachments`` and the file never reached the agents."""
    h = demo_bridge
    page, problems = await new_page(browser)
    sent: list[dict[str, Any]] = []
    page.on("websocket", lambda ws: ws.on("framesent", lambda payload: sent.append(json.loads(payload))))
    await _open_widget(h, page)
    await _choose(page, [RECEIPT])
    await expect(page.locator(".sb-chip")).to_have_attribute("data-state", "ready")
    own, web = page.locator(".sb-own"), h.bridge.channels[ChannelKind.WEB]
    assert isinstance(web, WebChannel)
    async with writer_held(h.bridge.store):  # no hello is answered meanwhile: the widget cannot send
        await web.close_connections()
        await expect(page.locator(".sb-root")).to_have_attribute("data-conn", "reconnecting")
        await page.locator(".sb-send").click()
        await expect(own).to_have_attribute("data-state", "sending")
        await page.reload()
        await page.locator(".sb-launcher").click()
        await expect(own.locator(".sb-file-name")).to_have_text("receipt.png")  # from the outbox
    await expect(own).not_to_have_attribute("data-state", "sending")
    [message] = [frame for frame in sent if frame["type"] == "message"]  # sent once, after the reload
    assert message["text"] == "" and len(message["attachments"]) == 1
    [shared] = await _thread_files(h, 1)
    assert h.slack.file_bytes[shared["id"]] == PNG
    assert [[f["name"] for f in files] for _, files in await _customer_messages(h)] == [["receipt.png"]]
    assert problems == []


async def test_files_dropped_on_the_panel_or_pasted_into_the_message_box_are_sent(
    demo_bridge: Harness, browser: Browser
) -> None:
    h = demo_bridge
    page, problems = await new_page(browser)
    await _open_widget(h, page)
    drop = page.locator(".sb-drop")
    await page.evaluate(DATA_EVENT, ["dragenter", ".sb-list", "notes.txt", NOTE.decode()])
    await expect(drop).to_be_visible()
    await expect(drop).to_have_text(_text(h, "en", "drop_files"))
    await page.evaluate(DATA_EVENT, ["dragleave", ".sb-list", "notes.txt", NOTE.decode()])
    await expect(drop).to_be_hidden()
    await page.evaluate(DATA_EVENT, ["dragenter", ".sb-list", "notes.txt", NOTE.decode()])
    assert await page.evaluate(DATA_EVENT, ["drop", ".sb-list", "notes.txt", NOTE.decode()])  # not opened in the tab
    await expect(drop).to_be_hidden()
    assert await page.evaluate(DATA_EVENT, ["paste", "textarea.sb-input", "pasted.txt", NOTE.decode()])
    chips = page.locator(".sb-chip")
    await expect(chips.locator(".sb-chip-name")).to_have_text(["notes.txt", "pasted.txt"])
    for index in range(2):
        await expect(chips.nth(index)).to_have_attribute("data-state", "ready")

    await page.locator("textarea.sb-input").press("Enter")  # files alone: no text needed
    await expect(page.locator(".sb-own .sb-file-name")).to_have_text(["notes.txt", "pasted.txt"])
    shared = await _thread_files(h, 2)
    assert [f["name"] for f in shared] == ["notes.txt", "pasted.txt"]
    assert all(h.slack.file_bytes[f["id"]] == NOTE for f in shared)
    assert problems == []


async def test_an_agents_file_shows_as_a_file_live_and_after_a_reload(demo_bridge: Harness, browser: Browser) -> None:
    """The widget shows an agent's files from ``attachments``, the same way live and after a reload (live frames
    once also ended their text with an English "📎 name (file shared by the agent…)" line)."""
    h = demo_bridge
    page, problems = await new_page(browser)
    await _agent_shares_an_invoice(h, page)
    for reload in (False, True):
        if reload:
            await page.reload()
            await page.locator(".sb-launcher").click()
        agent = page.locator(".sb-other").last
        await expect(agent.locator(".sb-text")).to_have_text("Attached")
        await expect(agent.locator(".sb-file-name")).to_have_text("invoice.pdf")
        await expect(agent.locator(".sb-file-size")).to_have_text(f"{len(PDF)} bytes")
    assert problems == []


async def test_a_click_on_an_agents_file_downloads_it(demo_bridge: Harness, browser: Browser) -> None:
    """The file's button fetches it (``POST /widget/file``, the session in its header) and saves it from a Blob;
    a file the bridge cannot give says so above the message box."""
    h = demo_bridge
    page, problems = await new_page(browser, accept_downloads=True)
    await _agent_shares_an_invoice(h, page)
    button = page.locator(".sb-other").last.locator("button.sb-file")
    await expect(button).to_have_accessible_name(f"{_text(h, 'en', 'download_file')} invoice.pdf")
    async with page.expect_download() as download:
        await button.click()
    saved = await download.value
    assert saved.suggested_filename == "invoice.pdf"
    assert await asyncio.to_thread(Path(await saved.path()).read_bytes) == PDF
    await expect(button).not_to_have_attribute("aria-busy", "true")
    OUT.mkdir(exist_ok=True)
    await page.screenshot(path=str(OUT / "widget-file-download.png"))

    h.slack.file_bytes.clear()  # deleted in Slack since: the bridge answers 404 gone
    await button.click()
    await expect(page.locator(".sb-notice-text")).to_have_text(_text(h, "en", "download_failed"))
    await page.screenshot(path=str(OUT / "widget-file-download-failed.png"))
    assert problems == [  # Chromium logs the 404; the widget adds nothing
        "console error: Failed to load resource: the server responded with a status of 404 (Not Found)"
    ]


@DEVICES
async def test_a_file_too_large_or_in_disguise_is_refused_on_its_chip_and_nothing_is_sent(
    demo_bridge: Harness, browser: Browser, tmp_path: Path, device: dict[str, Any], locale: str, shot: str
) -> None:
    h = demo_bridge
    page, problems = await _widget_on(h, browser, device)
    big = tmp_path / "holiday-video.png"
    with big.open("wb") as out:  # 41 MB, sparse: the widget refuses it by its size, before any upload
        out.write(PNG)
        out.truncate(41 * 2**20)
    assert big.stat().st_size > MAX_UPLOAD_BYTES
    disguised = tmp_path / "invoice.png"  # an HTML page: the browser calls it image/png, by its name
    disguised.write_bytes(HTML)
    await _choose(page, [big, disguised])

    chips = page.locator(".sb-chip")
    await expect(chips).to_have_count(2)
    for chip in (chips.nth(0), chips.nth(1)):
        await expect(chip).to_have_attribute("data-state", "failed")
    await expect(chips.nth(0).locator(".sb-chip-info")).to_have_text(_text(h, locale, "file_too_large"))
    await expect(chips.nth(1).locator(".sb-chip-info")).to_have_text(_text(h, locale, "file_type"))  # the bridge's
    assert await page.evaluate(UPLOADS_MADE) == 1  # the disguised file's: the other one never left the browser
    await expect(page.locator(".sb-send")).to_be_disabled()
    OUT.mkdir(exist_ok=True)
    await page.screenshot(path=str(OUT / f"widget-attachments-refused-{shot}.png"))

    await page.locator("textarea.sb-input").press("Enter")
    await chips.nth(0).locator(".sb-chip-remove").click()
    await expect(chips).to_have_count(1)
    await expect(chips.locator(".sb-chip-name")).to_have_text("invoice.png")
    assert await _customer_messages(h) == [] and uploads_on_disk(h) == []
    assert [m for r in h.slack.channel_messages() for m in h.slack.thread(r["ts"]) if m.get("files")] == []
    refused = "the server responded with a status of 415 (Unsupported Media Type)"  # Chromium logs each refusal
    assert problems == [f"console error: Failed to load resource: {refused}"]


@pytest.fixture
def one_file_an_hour(monkeypatch: pytest.MonkeyPatch) -> None:
    """The per-address upload budget (1 GB an hour) cut to one receipt, before the bridge starts."""
    monkeypatch.setattr(uploads_module, "UPLOAD_BYTES_PER_HOUR", len(PNG))


@DEVICES
@pytest.mark.usefixtures("one_file_an_hour")
async def test_a_file_over_the_networks_hourly_budget_says_so_on_its_chip(
    demo_bridge: Harness, browser: Browser, device: dict[str, Any], locale: str, shot: str
) -> None:
    h = demo_bridge
    page, problems = await _widget_on(h, browser, device)
    await _choose(page, [RECEIPT])
    chips = page.locator(".sb-chip")
    await expect(chips.nth(0)).to_have_attribute("data-state", "ready")
    await _choose(page, [{**RECEIPT, "name": "second.png"}])
    await expect(chips.nth(1)).to_have_attribute("data-state", "failed")
    await expect(chips.nth(1).locator(".sb-chip-info")).to_have_text(_text(h, locale, "upload_quota"))
    OUT.mkdir(exist_ok=True)
    await page.screenshot(path=str(OUT / f"widget-attachments-quota-{shot}.png"))
    assert len(uploads_on_disk(h)) == 2  # the first file and its metadata
    assert problems == [
        "console error: Failed to load resource: the server responded with a status of 429 (Too Many Requests)"
    ]
