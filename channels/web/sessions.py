"""This module contains widget sessions: random bearer tokens, stored only as hashes."""

from __future__ import annotations

import hashlib
import secrets

TOKEN_BYTES = 24  # 192 bits, above the 128-bit floor


def new_token() -> str:
    """A fresh session token for a visitor (URL-safe base64 of 24 random bytes)."""
    return secrets.token_urlsafe(TOKEN_BYTES)


def visitor_id(token: str) -> str:
    """The visitor's stable id: a hash of the token, so the database never holds a usable token."""
    return hashlib.sha256(token.encode()).hexdigest()
