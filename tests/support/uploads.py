"""Widget uploads and downloads as the widget sends them: ``POST /widget/upload`` and ``POST /widget/file``, with the
session in a header."""

from __future__ import annotations

import io
from collections.abc import AsyncIterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import aiohttp
from multidict import CIMultiDictProxy

from tests.support.harness import Harness

PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + (4).to_bytes(4, "big") + (3).to_bytes(4, "big") + bytes(25)


@dataclass(frozen=True)
class Answer:
    status: int
    body: Any
    headers: CIMultiDictProxy[str]


async def upload(
    h: Harness,
    session: str | None,
    data: bytes | AsyncIterable[bytes],
    *,
    name: str = "photo.png",
    media_type: str | None = "image/png",
    origin: str | None = "",
    headers: dict[str, str] | None = None,
) -> Answer:
    """Upload ``data`` (an async iterable goes chunked, without Content-Length) as the widget does; ``origin`` ""
    is the bridge's own allowed origin, None sends none; ``headers`` are added (a proxy's X-Forwarded-For...)."""
    headers = {**(headers or {}), "X-Filename": quote(name, safe="")}
    if origin is not None:
        headers["Origin"] = origin or h.origin
    if session is not None:
        headers["X-Switchboard-Session"] = session
    if media_type is not None:
        headers["Content-Type"] = media_type
    async with (
        aiohttp.ClientSession() as http,
        http.post(
            h.url("/widget/upload"), data=io.BytesIO(data) if isinstance(data, bytes) else data, headers=headers
        ) as response,
    ):
        body = await response.json() if response.content_type == "application/json" else await response.read()
        return Answer(response.status, body, response.headers)


async def download(
    h: Harness, session: str | None, body: object, *, origin: str | None = "", raw: bytes | None = None
) -> Answer:
    """``POST /widget/file`` as the widget sends it; ``origin`` "" is the bridge's own allowed origin."""
    headers = {"Content-Type": "application/json"}
    if origin is not None:
        headers["Origin"] = origin or h.origin
    if session is not None:
        headers["X-Switchboard-Session"] = session
    async with (
        aiohttp.ClientSession() as http,
        http.post(h.url("/widget/file"), json=body, data=raw, headers=headers) as response,
    ):
        data = await response.json() if response.content_type == "application/json" else await response.read()
        return Answer(response.status, data, response.headers)


def uploads_on_disk(h: Harness) -> list[Path]:
    """Every file under the bridge's uploads folder (partial ones included)."""
    root = h.settings.data_dir / "uploads"
    return sorted(path for path in root.rglob("*") if path.is_file())
