"""Identity numbers at rest (PIPL): AES-GCM with rotatable keys, plus a keyed hash for matching;
and the Ed25519 signer of custody checkpoints (DESIGN §12).

Ciphertext is ``KID:base64(nonce ‖ ciphertext ‖ tag)``; every key of the ring decrypts, the newest
encrypts. The keyed hash (HMAC-SHA256 under its own key) lets a window match the identity number
shown at pickup without decrypting anything."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from collections.abc import Mapping

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from handoff.errors import InvalidInput


class IdCipher:
    def __init__(self, keys: Mapping[str, bytes], hash_key: bytes, current: str | None = None) -> None:
        if not keys:
            raise InvalidInput("至少需要一个身份证号加密密钥")
        for kid, key in keys.items():
            if len(key) not in (16, 24, 32) or ":" in kid:
                raise InvalidInput(f"身份证号加密密钥 {kid} 必须是 16/24/32 字节")
        if len(hash_key) < 16:
            raise InvalidInput("身份证号哈希密钥太短（至少 16 字节）")
        self._keys = {kid: AESGCM(key) for kid, key in keys.items()}
        self._current = current or list(keys)[-1]
        self._hash_key = hash_key

    def encrypt(self, plaintext: str) -> str:
        nonce = os.urandom(12)
        sealed = self._keys[self._current].encrypt(nonce, plaintext.encode(), self._current.encode())
        return f"{self._current}:{base64.b64encode(nonce + sealed).decode()}"

    def decrypt(self, token: str) -> str:
        kid, _, body = token.partition(":")
        raw = base64.b64decode(body)
        return self._keys[kid].decrypt(raw[:12], raw[12:], kid.encode()).decode()

    def keyed_hash(self, plaintext: str) -> str:
        return hmac.new(self._hash_key, plaintext.upper().encode(), hashlib.sha256).hexdigest()


class Ed25519Signer:
    """The checkpoint signer (handoff.custody.CheckpointSigner): Ed25519 from a 32-byte seed."""

    def __init__(self, seed: bytes) -> None:
        if len(seed) != 32:
            raise InvalidInput("检查点签名密钥必须是 32 字节（base64 编码）")
        self._key = Ed25519PrivateKey.from_private_bytes(seed)
        self._public = self._key.public_key()

    @property
    def public_key(self) -> bytes:
        return self._public.public_bytes(Encoding.Raw, PublicFormat.Raw)

    def sign(self, message: bytes) -> bytes:
        return self._key.sign(message)

    def verify(self, message: bytes, signature: bytes) -> bool:
        try:
            self._public.verify(signature, message)
        except InvalidSignature:
            return False
        return True
