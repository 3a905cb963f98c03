"""This module contains UploadFiles: the files widget visitors upload, kept on disk in the data folder.

TL;DR: layout and guarantees.

- ``<root>/<visitor folder>/<upload id>`` holds a file's bytes and ``<upload id>.json`` beside it its metadata
  (``{"name", "media_type", "size"}``; the name is a display label only). The visitor folder is the visitor's id
  (the hash of their session token, ``channels.web.sessions.visitor_id``), never anything a client sends; the
  upload id is random (144 bits, URL-safe). So no client-chosen text ever becomes a path.
- A file is written under a temporary name and renamed once whole, its metadata last: a reader finds a complete
  upload or none (no half files). A refused or broken upload leaves nothing.
- A message's attachment points at ``widget-file:<visitor folder>/<upload id>``; ``fetch`` is the fetcher for that
  scheme (``bridge.attachments.Fetchers``), so the Slack channel uploads the bytes into the thread.
- GDPR erase deletes a visitor's whole folder (``delete_visitors``); retention deletes the files of the messages it
  deletes (``delete_urls``; not one the customer sent again in a conversation that stays) and the folders of the
  visitors it forgets.

Every disk operation runs in a worker thread, never on the event loop.
"""

from __future__ import annotations

import asyncio
import os
import re
import secrets
import shutil
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, final

import orjson

from bridge.attachments import AttachmentUnavailable
from bridge.events import Attachment

__all__ = ["SCHEME", "PartialUpload", "StoredUpload", "UploadFiles", "widget_file_urls"]

SCHEME = "widget-file"
"""URL scheme of uploaded files in ``Attachment.url``: ``widget-file:<visitor folder>/<upload id>``."""
ID_BYTES = 18  # 144 bits: 24 URL-safe characters
_ID = re.compile(r"[A-Za-z0-9_-]{24}")
_FOLDER = re.compile(r"[0-9a-f]{64}")  # a visitor id: sha256 hex
_META = ".json"


@dataclass(frozen=True, slots=True, kw_only=True)
class StoredUpload:
    """One complete upload of a visitor."""

    id: str
    folder: str
    name: str
    media_type: str
    size: int

    @property
    def url(self) -> str:
        return f"{SCHEME}:{self.folder}/{self.id}"

    def attachment(self) -> Attachment:
        return Attachment(name=self.name, media_type=self.media_type, size=self.size, url=self.url)


@final
class PartialUpload:
    """A file being received: ``write`` chunks, then ``commit`` it, or ``discard`` it (always safe to call)."""

    def __init__(self, folder: Path, upload_id: str, out: BinaryIO) -> None:
        self._folder = folder
        self._id = upload_id
        self._out = out
        self._partial = _partial(folder, upload_id)
        self.size = 0
        self._done = False

    async def write(self, chunk: bytes) -> None:
        await asyncio.to_thread(self._out.write, chunk)
        self.size += len(chunk)

    async def commit(self, *, name: str, media_type: str) -> StoredUpload:
        """Make the upload visible: the bytes under their id, then the metadata."""
        stored = StoredUpload(id=self._id, folder=self._folder.name, name=name, media_type=media_type, size=self.size)
        meta = orjson.dumps({"name": name, "media_type": media_type, "size": self.size})
        await asyncio.to_thread(self._commit, meta)
        self._done = True
        return stored

    def _commit(self, meta: bytes) -> None:
        self._out.flush()
        os.fsync(self._out.fileno())  # durable before it is named: a crash never leaves a named half file
        self._out.close()
        named = self._folder / self._id
        os.replace(self._partial, named)
        try:
            _write_whole(self._folder / f"{self._id}{_META}", meta)
        except BaseException:  # without its metadata the file is no upload: it must not stay behind
            named.unlink(missing_ok=True)
            raise

    async def discard(self) -> None:
        if not self._done:
            self._done = True
            await asyncio.to_thread(self._discard)

    def _discard(self) -> None:
        self._out.close()
        self._partial.unlink(missing_ok=True)


@final
class UploadFiles:
    """The uploads under ``root`` (``<data folder>/uploads``); see the module's TL;DR."""

    def __init__(self, root: Path) -> None:
        self.root = root

    @classmethod
    def in_data_folder(cls, data_dir: Path) -> UploadFiles:
        """The uploads of the bridge whose data folder (``SWITCHBOARD_DATA_DIR``) is ``data_dir``."""
        return cls(data_dir / "uploads")

    async def free_bytes(self) -> int:
        """Free space on the disk holding the uploads (and, by default, the database beside them)."""
        return await asyncio.to_thread(_free_bytes, self.root)

    async def begin(self, visitor: str) -> PartialUpload:
        """A new upload of ``visitor`` under a fresh random id."""
        folder = self.root / _folder(visitor)
        upload_id = secrets.token_urlsafe(ID_BYTES)
        out = await asyncio.to_thread(_create, folder, upload_id)
        return PartialUpload(folder, upload_id, out)

    async def find_all(self, visitor: str, upload_ids: Iterable[str]) -> list[StoredUpload] | None:
        """``visitor``'s uploads ``upload_ids``, in order (one trip to a worker thread); None when any one is not an
        upload of theirs (missing, malformed, or another visitor's: they look the same)."""
        folder, ids = _folder(visitor), list(upload_ids)
        if not all(_ID.fullmatch(upload_id) for upload_id in ids):
            return None
        found = await asyncio.to_thread(lambda: [self._read_meta(folder, upload_id) for upload_id in ids])
        return None if None in found else [upload for upload in found if upload is not None]

    async def fetch(self, attachment: Attachment) -> tuple[bytes, str]:
        """The bytes and media type behind a ``widget-file:`` URL (the fetcher ``Fetchers`` calls).

        Raises:
            AttachmentUnavailable: not such a URL, or the file is gone (erased, or deleted by retention).
        """
        parsed = _parse(attachment.url)
        upload = None if parsed is None else await asyncio.to_thread(self._read_meta, *parsed)
        if upload is None:
            raise AttachmentUnavailable("file no longer available")
        try:
            data = await asyncio.to_thread((self.root / upload.folder / upload.id).read_bytes)
        except FileNotFoundError:
            raise AttachmentUnavailable("file no longer available") from None
        return data, upload.media_type

    async def delete_visitors(self, visitors: Iterable[str]) -> int:
        """Delete these visitors' folders with every upload in them; the number of uploads deleted."""
        folders = [self.root / folder for visitor in visitors if (folder := _valid_folder(visitor))]
        return await asyncio.to_thread(_delete_folders, folders) if folders else 0

    async def delete_urls(self, urls: Iterable[str]) -> int:
        """Delete the uploads behind these ``widget-file:`` URLs (others are skipped); the number deleted."""
        files = [self.root / parsed[0] / parsed[1] for url in urls if (parsed := _parse(url)) is not None]
        return await asyncio.to_thread(_delete_files, files) if files else 0

    def _read_meta(self, folder: str, upload_id: str) -> StoredUpload | None:
        try:
            meta = orjson.loads((self.root / folder / f"{upload_id}{_META}").read_bytes())
        except FileNotFoundError:
            return None
        return StoredUpload(
            id=upload_id, folder=folder, name=meta["name"], media_type=meta["media_type"], size=meta["size"]
        )


def widget_file_urls(attachments: Iterable[Mapping[str, Any]] | None) -> list[str]:
    """The ``widget-file:`` URLs among a message's stored attachments (its ``attachments`` column)."""
    return [str(a["url"]) for a in attachments or () if str(a.get("url", "")).startswith(f"{SCHEME}:")]


def _folder(visitor: str) -> str:
    folder = _valid_folder(visitor)
    if folder is None:  # visitor ids come from the server's own hash: anything else is a bug, not input
        raise ValueError("not a visitor id")
    return folder


def _valid_folder(visitor: str) -> str | None:
    return visitor if _FOLDER.fullmatch(visitor) else None


def _parse(url: str) -> tuple[str, str] | None:
    """(visitor folder, upload id) of a ``widget-file:`` URL, or None for anything else."""
    scheme, _, rest = url.partition(":")
    folder, _, upload_id = rest.partition("/")
    if scheme != SCHEME or not _FOLDER.fullmatch(folder) or not _ID.fullmatch(upload_id):
        return None
    return folder, upload_id


def _free_bytes(root: Path) -> int:
    existing = next(path for path in (root, *root.parents) if path.exists())  # the folder is made by a first upload
    return shutil.disk_usage(existing).free


def _partial(folder: Path, upload_id: str) -> Path:
    """Where an upload's bytes are written until it is whole (a dot name: never taken for an upload)."""
    return folder / f".{upload_id}.partial"


def _create(folder: Path, upload_id: str) -> BinaryIO:
    folder.mkdir(parents=True, exist_ok=True)
    return _partial(folder, upload_id).open("xb")


def _write_whole(path: Path, data: bytes) -> None:
    """Write ``path`` under a temporary name, then rename it: readers see all of it or nothing."""
    partial = path.with_name(f".{path.name}.partial")
    try:
        with partial.open("wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)


def _delete_folders(folders: list[Path]) -> int:
    deleted = 0
    for folder in folders:
        if folder.is_dir():
            deleted += sum(1 for entry in folder.iterdir() if _ID.fullmatch(entry.name))
            shutil.rmtree(folder)
    return deleted


def _delete_files(files: list[Path]) -> int:
    deleted = 0
    for path in files:
        path.with_name(f"{path.name}{_META}").unlink(missing_ok=True)  # metadata first: no upload without bytes
        try:
            path.unlink()
        except FileNotFoundError:
            continue
        deleted += 1
    return deleted
