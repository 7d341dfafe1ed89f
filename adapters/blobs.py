"""Blobs on the file system, addressed by sha256 (evidence photos, signatures, rendered PDFs)."""

from __future__ import annotations

import asyncio
import hashlib
import os
from pathlib import Path


class FileBlobStore:
    """``root/ab/cdef…`` files; written to a temporary name and renamed, so a reader never sees
    half a file. Storing the same bytes twice is harmless."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, sha256: str) -> Path:
        if len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256):
            raise KeyError(sha256)
        return self.root / sha256[:2] / sha256[2:]

    async def put(self, data: bytes, content_type: str) -> str:
        digest = hashlib.sha256(data).hexdigest()
        await asyncio.to_thread(self._write, digest, data)
        return digest

    def _write(self, digest: str, data: bytes) -> None:
        path = self._path(digest)
        if path.exists():
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        with open(tmp, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)

    async def has(self, sha256: str) -> bool:
        return await asyncio.to_thread(self._path(sha256).exists)

    async def discard(self, sha256: str) -> None:
        """Remove a blob that a command stored and then did not commit (absent: nothing to do)."""
        await asyncio.to_thread(self._path(sha256).unlink, True)

    async def get(self, sha256: str) -> bytes:
        path = self._path(sha256)
        try:
            return await asyncio.to_thread(path.read_bytes)
        except FileNotFoundError:
            raise KeyError(sha256) from None
