"""Personal information (PIPL): validation and masking of names, phones and identity numbers."""

from __future__ import annotations

import re

from handoff.codes import mod11_2_valid
from handoff.errors import InvalidInput

MOBILE_RE = re.compile(r"^1[3-9]\d{9}$")
ID_RE = re.compile(r"^\d{17}[\dX]$")


def normalize_phone(phone: str) -> str:
    """A mainland mobile number, 11 digits; ``+86``/``86`` prefixes, spaces and hyphens are removed."""
    digits = re.sub(r"[\s\-()]", "", phone)
    if digits.startswith("+86"):
        digits = digits[3:]
    elif digits.startswith("86") and len(digits) == 13:
        digits = digits[2:]
    if not MOBILE_RE.match(digits):
        raise InvalidInput(f"手机号码 “{phone}” 格式不正确，应为 11 位大陆手机号")
    return digits


def normalize_id_number(id_number: str) -> str:
    """An 18-character resident identity number (GB 11643) with a valid check character."""
    value = re.sub(r"\s", "", id_number).upper()
    if not ID_RE.match(value) or not mod11_2_valid(value):
        raise InvalidInput("身份证号码格式或校验位不正确")
    return value


def mask_name(name: str) -> str:
    """张三 → 张*, 张小三 → 张*三, 欧阳小明 → 欧**明."""
    name = name.strip()
    if len(name) <= 1:
        return name
    if len(name) == 2:
        return name[0] + "*"
    return name[0] + "*" * (len(name) - 2) + name[-1]


def mask_phone(phone: str) -> str:
    """13812345678 → 138****5678."""
    if len(phone) < 7:
        return "*" * len(phone)
    return phone[:3] + "*" * (len(phone) - 7) + phone[-4:]


def mask_id_number(id_number: str) -> str:
    """441502199001011234 → 4415**********1234; a short document number (another 证件类型: 5 to 8
    characters) keeps two at each end, G1234567 → G1****67, so that something is always masked."""
    if len(id_number) <= 8:
        return (
            id_number[:2] + "*" * (len(id_number) - 4) + id_number[-2:] if len(id_number) >= 5 else "*" * len(id_number)
        )
    return id_number[:4] + "*" * (len(id_number) - 8) + id_number[-4:]


def mask_address(address: str) -> str:
    """汕尾市陆丰市东海街道人民路 1 号 → 汕尾市陆丰市****: the city and district part only (at most
    six characters, never more than half of the address)."""
    address = address.strip()
    if not address:
        return ""
    return address[: min(6, len(address) // 2)] + "****"
