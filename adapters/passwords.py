"""Password hashing with argon2id (argon2-cffi's defaults: RFC 9106's second recommended
profile, 64 MiB, 3 passes). Hashing is deliberately slow, so it runs on a worker thread and never
holds up the event loop.

A test suite may choose the ``test`` cost (argon2id at argon2-cffi's cheapest parameters) with
``HANDOFF_PASSWORD_COST=test``; production refuses to start with it
(:meth:`adapters.settings.Settings.production_refusal`). Hashes of either cost verify under both:
the parameters travel inside each hash."""

from __future__ import annotations

import asyncio
import secrets
import string

from argon2 import PasswordHasher, profiles
from argon2.exceptions import InvalidHashError, VerificationError

from handoff.errors import InvalidInput

COSTS = {
    "standard": PasswordHasher(),
    "test": PasswordHasher.from_parameters(profiles.CHEAPEST),
}
_HASHER = COSTS["standard"]
_UNKNOWN: list[str] = []
ALPHABET = "".join(c for c in string.ascii_letters + string.digits if c not in "0O1lI")


def use_cost(name: str) -> None:
    """Hash new passwords at COST (``standard`` or ``test``); the composition root calls it once."""
    global _HASHER
    if name not in COSTS:
        raise InvalidInput(f"HANDOFF_PASSWORD_COST 的值 {name} 无效，应为 {' 或 '.join(COSTS)}")
    if COSTS[name] is not _HASHER:
        _HASHER = COSTS[name]
        _UNKNOWN.clear()


async def hash_password(password: str) -> str:
    return await asyncio.to_thread(_HASHER.hash, password)


async def verify_password(password_hash: str | None, password: str) -> bool:
    """Whether PASSWORD matches; with no hash (unknown user) the same work is done against a
    throwaway hash, so the answer's timing does not tell which user names exist."""
    if password_hash is None:
        if not _UNKNOWN:
            _UNKNOWN.append(await hash_password(secrets.token_hex(16)))
        password_hash = _UNKNOWN[0]
        await asyncio.to_thread(_verify, password_hash, password)
        return False
    return await asyncio.to_thread(_verify, password_hash, password)


def _verify(password_hash: str, password: str) -> bool:
    try:
        return _HASHER.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def one_time_password(length: int = 12) -> str:
    """A password an admin hands over once (no look-alike characters)."""
    return "".join(secrets.choice(ALPHABET) for _ in range(length))
