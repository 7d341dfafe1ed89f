"""Codes that people type and machines scan.

* Package codes: ``RRRRRR-YYYYMMDD-SSSS-C`` — 6-digit region code, date, daily sequence and an
  ISO 7064 MOD 11-2 check character (the scheme of the resident identity number, GB 11643). It
  catches every single-character error and every transposition of adjacent characters, including
  the check character itself.
* Scan payloads: the QR on a slip or manifest holds a short URL whose last path segment is
  ``CODE.KID.MAC``: the key id and 60 bits of HMAC-SHA256 in Crockford base32. Upper case
  throughout, so the QR can use its compact alphanumeric mode. Any key of the ring verifies; the
  newest signs.
* Tracking tokens: 60 bits, lower-case base32, keyed per case (see :class:`TrackingTokens`);
  only their SHA-256 is stored.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from handoff.errors import CodeRejected, InvalidInput

# ----------------------------------------------------------------------- ISO 7064 MOD 11-2


def mod11_2_check(digits: str) -> str:
    """The check character (0–9 or X) for a string of digits."""
    if not digits.isdigit() or not digits.isascii():
        raise InvalidInput(f"“{digits}” 必须全部是数字")
    total = 0
    for ch in digits:
        total = (total + int(ch)) * 2 % 11
    check = (12 - total) % 11
    return "X" if check == 10 else str(check)


def mod11_2_valid(code: str) -> bool:
    """True when the last character is the right check character for the digits before it."""
    if len(code) < 2:
        return False
    body, check = code[:-1], code[-1].upper()
    if not body.isdigit() or not body.isascii():
        return False
    return mod11_2_check(body) == check


# ----------------------------------------------------------------------- package codes

_SEPARATORS = re.compile(r"[\s\-_]")
REGION_RE = re.compile(r"^[1-9]\d{5}$")
SEQUENCE_WIDTH = 4
COMPACT_LENGTH = 6 + 8 + SEQUENCE_WIDTH + 1


@dataclass(frozen=True)
class PackageCode:
    region: str
    day: date
    sequence: int

    def __post_init__(self) -> None:
        if not REGION_RE.match(self.region):
            raise InvalidInput(f"行政区划代码 “{self.region}” 应为 6 位数字")
        if not 1 <= self.sequence < 10**SEQUENCE_WIDTH:
            raise InvalidInput(f"流水号 {self.sequence} 超出范围（1–{10**SEQUENCE_WIDTH - 1}）")

    @property
    def body(self) -> str:
        return f"{self.region}{self.day:%Y%m%d}{self.sequence:0{SEQUENCE_WIDTH}d}"

    @property
    def check(self) -> str:
        return mod11_2_check(self.body)

    @property
    def compact(self) -> str:
        """What goes into scan payloads: 19 characters, digits and maybe a final X."""
        return self.body + self.check

    def __str__(self) -> str:
        """What people read and type: ``441502-20261123-0042-7``."""
        return f"{self.region}-{self.day:%Y%m%d}-{self.sequence:0{SEQUENCE_WIDTH}d}-{self.check}"

    @classmethod
    def parse(cls, text: str) -> PackageCode:
        """Parse a typed or scanned code; spaces, hyphens and a lower-case x are forgiven, any
        other error is refused with :class:`CodeRejected`."""
        compact = _SEPARATORS.sub("", text).upper()
        if len(compact) != COMPACT_LENGTH:
            raise CodeRejected(f"材料包编号 “{text}” 长度不对，应为 {COMPACT_LENGTH} 位")
        if not mod11_2_valid(compact):
            raise CodeRejected(f"材料包编号 “{text}” 校验位不符，请核对是否输错")
        body = compact[:-1]
        try:
            day = date(int(body[6:10]), int(body[10:12]), int(body[12:14]))
        except ValueError as exc:
            raise CodeRejected(f"材料包编号 “{text}” 中的日期无效") from exc
        try:
            return cls(region=body[:6], day=day, sequence=int(body[14:]))
        except InvalidInput as exc:
            raise CodeRejected(f"材料包编号 “{text}” 无效：{exc.title}") from exc


# ----------------------------------------------------------------------- signed scan payloads

_B32 = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford: no I, L, O, U
MAC_CHARS = 12  # 60 bits
KID_RE = re.compile(r"^[0-9A-Z]{1,4}$")


def _b32(data: bytes, chars: int) -> str:
    n = int.from_bytes(data, "big")
    bits = len(data) * 8
    out = []
    for i in range(chars):
        shift = bits - 5 * (i + 1)
        out.append(_B32[(n >> shift) & 31])
    return "".join(out)


class PayloadKind(StrEnum):
    PACKAGE = "P"
    MANIFEST = "M"


@dataclass(frozen=True)
class ScanPayload:
    kind: PayloadKind
    value: str
    key_id: str


class KeyRing:
    """HMAC keys by id. The last key given signs; every key verifies, so keys can rotate: add a
    new one, keep the old one until the slips it signed are gone."""

    def __init__(self, keys: Mapping[str, bytes], signing_key_id: str | None = None) -> None:
        if not keys:
            raise InvalidInput("至少需要一个签名密钥")
        for kid, secret in keys.items():
            if not KID_RE.match(kid):
                raise InvalidInput(f"密钥编号 “{kid}” 只能是 1–4 位大写字母或数字")
            if len(secret) < 16:
                raise InvalidInput(f"密钥 {kid} 太短（至少 16 字节）")
        self._keys = dict(keys)
        self.signing_key_id = signing_key_id or list(keys)[-1]
        if self.signing_key_id not in self._keys:
            raise InvalidInput(f"签名密钥 {self.signing_key_id} 不在密钥环中")

    def mac(self, key_id: str, kind: PayloadKind, value: str) -> str:
        digest = hmac.new(self._keys[key_id], f"{kind.value}:{value}".encode(), hashlib.sha256).digest()
        return _b32(digest[:8], MAC_CHARS)

    def has(self, key_id: str) -> bool:
        return key_id in self._keys


def manifest_value(manifest_id: str) -> str:
    """What a manifest's scan payload signs: its id without hyphens, upper case, at most 32
    characters."""
    return manifest_id.replace("-", "").upper()[:32]


class ScanSigner:
    """Makes and checks the URLs printed in QR codes: ``{BASE}/{KIND}/{VALUE}.{KID}.{MAC}``."""

    SIGNED_KEPT = 4096
    """Payloads remembered once signed (a package's payload is signed on every view of it)."""

    def __init__(self, keys: KeyRing, base_url: str) -> None:
        self.keys = keys
        self.base_url = base_url.rstrip("/").upper()
        self._signed: dict[tuple[PayloadKind, str], str] = {}

    def sign(self, kind: PayloadKind, value: str) -> str:
        found = self._signed.get((kind, value))
        if found is None:
            kid = self.keys.signing_key_id
            found = f"{self.base_url}/{kind.value}/{value}.{kid}.{self.keys.mac(kid, kind, value)}"
            if len(self._signed) >= self.SIGNED_KEPT:
                self._signed.clear()
            self._signed[(kind, value)] = found
        return found

    def sign_package(self, code: PackageCode) -> str:
        return self.sign(PayloadKind.PACKAGE, code.compact)

    def sign_manifest(self, manifest_id: str) -> str:
        """The batch QR of a hand-over (交接单): the manifest id without hyphens, upper case (a
        UUID's 32 hex digits), so the QR stays in alphanumeric mode."""
        return self.sign(PayloadKind.MANIFEST, manifest_value(manifest_id))

    def verify(self, payload: str) -> ScanPayload:
        """Check a scanned payload; a wrong shape, unknown key or wrong MAC → CodeRejected."""
        text = payload.strip()
        match = re.search(r"/([A-Z])/([0-9A-Z]{1,40})\.([0-9A-Z]{1,4})\.([0-9A-Z]{12})$", text.upper())
        if match is None:
            raise CodeRejected("二维码内容无法识别，不是本系统签发的码")
        kind_s, value, kid, mac = match.groups()
        try:
            kind = PayloadKind(kind_s)
        except ValueError as exc:
            raise CodeRejected("二维码类型无法识别") from exc
        if not self.keys.has(kid):
            raise CodeRejected("二维码的签名密钥未知，可能是伪造的码")
        if not hmac.compare_digest(self.keys.mac(kid, kind, value), mac):
            raise CodeRejected("二维码签名不符，码可能被篡改或伪造")
        if kind is PayloadKind.PACKAGE:
            PackageCode.parse(value)
        return ScanPayload(kind=kind, value=value, key_id=kid)


# ----------------------------------------------------------------------- secret tokens

_TOKEN_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"
TRACKING_TOKEN_CHARS = 12  # 60 bits: short enough for a one-segment SMS


class TrackingTokens:
    """The applicant's tracking token for a case: 60 bits of HMAC-SHA256 under a server key.

    To anyone without the key it is as unguessable as a random token, and only its SHA-256 is
    stored; but the service can give the same token again wherever the applicant needs it — on the
    receipt notice printed at the counter and in every SMS the notification worker sends — without
    the token itself ever being written to the database, the outbox or a message."""

    def __init__(self, key: bytes) -> None:
        if len(key) < 16:
            raise InvalidInput("跟踪链接密钥太短（至少 16 字节）")
        self._key = key

    def token_for(self, case_id: str) -> str:
        digest = hmac.new(self._key, f"track:{case_id}".encode(), hashlib.sha256).digest()
        n = int.from_bytes(digest[:8], "big") >> 4  # 60 bits
        return "".join(_TOKEN_ALPHABET[(n >> (5 * i)) & 31] for i in reversed(range(TRACKING_TOKEN_CHARS)))

    def hash_for(self, case_id: str) -> str:
        return hash_token(self.token_for(case_id))


def new_api_token() -> str:
    """A fresh bearer token for staff and couriers (256 random bits)."""
    return "hf_" + secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    """What is stored instead of a token: its SHA-256, hex."""
    return hashlib.sha256(token.strip().encode("utf-8")).hexdigest()


def tracking_token_shape_ok(token: str) -> bool:
    return len(token) == TRACKING_TOKEN_CHARS and all(c in _TOKEN_ALPHABET for c in token)
