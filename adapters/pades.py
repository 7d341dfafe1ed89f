"""Electronic results (电子证照) signed as PAdES with pyHanko, and checked again.

A deciding department signs with its certificate and key from a PKCS#12 file
(``HANDOFF_RESULT_SIGNING``: one for the deployment, or one per department). In development,
``handoff serve`` makes a self-signed 演示证书 whose subject says so; production refuses it.

Verification answers what an applicant or a third party asks of a PDF: is there a signature,
is it intact (the signed bytes unchanged) and does it cover the whole file (nothing appended
after signing), who signed and when, and whether the certificate chains to one of ours."""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID

from handoff.errors import InvalidInput

DEMO_LABEL = "演示证书（仅供开发测试，不具法律效力）"


@dataclass
class ResultSigner:
    """A PKCS#12 identity that signs results: pyHanko's signer, the subject's name for people,
    and the certificates we trust when checking a result later (the chain in the file)."""

    signer: Any
    name: str
    demo: bool = False
    trust_roots: list[Any] = field(default_factory=list)

    @classmethod
    def from_pkcs12(cls, data: bytes, passphrase: bytes | None) -> ResultSigner:
        from pyhanko.sign import signers

        try:
            key, cert, extra = pkcs12.load_key_and_certificates(data, passphrase)
        except ValueError as exc:
            raise InvalidInput("签章证书（PKCS#12）无法打开：文件损坏或口令不对") from exc
        if key is None or cert is None:
            raise InvalidInput("签章证书（PKCS#12）中缺少私钥或证书")
        from asn1crypto import keys as asn1_keys
        from asn1crypto import x509 as asn1_x509
        from pyhanko_certvalidator.registry import SimpleCertificateStore

        der = serialization.Encoding.DER
        signing_cert = asn1_x509.Certificate.load(cert.public_bytes(der))
        chain = [asn1_x509.Certificate.load(c.public_bytes(der)) for c in extra or ()]
        private = asn1_keys.PrivateKeyInfo.load(
            key.private_bytes(der, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
        )
        signer = signers.SimpleSigner(
            signing_cert=signing_cert,
            signing_key=private,
            cert_registry=SimpleCertificateStore.from_certs([signing_cert, *chain]),  # type: ignore[no-untyped-call]
        )
        name = cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME) or cert.subject.get_attributes_for_oid(
            NameOID.COMMON_NAME
        )
        label = str(name[0].value) if name else cert.subject.rfc4514_string()
        demo = any(DEMO_LABEL in str(a.value) for a in cert.subject)
        roots = [c for c in chain if c.self_signed] or [signing_cert]
        return cls(signer=signer, name=label, demo=demo, trust_roots=roots)

    @classmethod
    def from_file(cls, path: str, passphrase: str) -> ResultSigner:
        return cls.from_pkcs12(Path(path).read_bytes(), passphrase.encode() if passphrase else None)

    def sign(self, pdf: bytes, *, reason: str, location: str, signed_at: datetime | None = None) -> bytes:
        """``pdf`` with a PAdES B-B signature over the whole file (blocking: run it in a thread)."""
        from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
        from pyhanko.pdf_utils.misc import PdfError
        from pyhanko.sign import fields, signers

        try:
            writer = IncrementalPdfFileWriter(io.BytesIO(pdf), strict=False)
        except Exception as exc:  # a PDF pdfium opens may still be one pyHanko's parser refuses
            raise InvalidInput("办理结果 PDF 无法读取，不能签章，请另存为标准 PDF 后重试") from exc
        meta = signers.PdfSignatureMetadata(
            field_name="HandoffResult",
            subfilter=fields.SigSeedSubFilter.PADES,
            md_algorithm="sha256",
            reason=reason,
            location=location,
            name=self.name,
        )
        pdf_signer = signers.PdfSigner(meta, signer=self.signer)
        try:
            out = pdf_signer.sign_pdf(writer, in_place=False)
        except PdfError as exc:  # e.g. an encrypted or malformed document structure
            raise InvalidInput("办理结果 PDF 的结构无法签章，请另存为标准 PDF 后重试") from exc
        return bytes(out.getbuffer())


@dataclass(frozen=True)
class Verification:
    signed: bool
    intact: bool = False
    """The signed bytes are unchanged and the cryptographic signature checks."""
    whole_file: bool = False
    """The signature covers the file to its last byte (nothing added after signing)."""
    trusted: bool = False
    """The signing certificate chains to one of the certificates we sign with."""
    signer: str = ""
    signed_at: datetime | None = None
    reason: str = ""


def verify_pdf(data: bytes, trust_roots: list[Any]) -> Verification:
    """What pyHanko's validator says of the file's last signature (blocking)."""
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.validation import validate_pdf_signature
    from pyhanko_certvalidator import ValidationContext

    try:
        reader = PdfFileReader(io.BytesIO(data), strict=False)
        signatures = reader.embedded_signatures
    except Exception as exc:  # whatever a crafted file makes the parser raise, it is not a readable PDF
        raise InvalidInput("该文件不是可以读取的 PDF") from exc
    if not signatures:
        return Verification(signed=False, reason="该 PDF 没有电子签章")
    embedded = signatures[-1]
    try:
        status = validate_pdf_signature(embedded, ValidationContext(trust_roots=trust_roots, allow_fetching=False))
    except Exception as exc:  # pyHanko raises many kinds for a mangled signature: all mean "broken"
        return Verification(signed=True, reason=f"签章无法验证：{type(exc).__name__}")
    from pyhanko.sign.validation.status import SignatureCoverageLevel

    cert = status.signing_cert
    subject = cert.subject.native if cert is not None else {}
    signer = str(subject.get("organization_name") or subject.get("common_name") or "")
    return Verification(
        signed=True,
        intact=bool(status.intact and status.valid),
        whole_file=status.coverage == SignatureCoverageLevel.ENTIRE_FILE,
        trusted=bool(status.trusted),
        signer=signer,
        signed_at=status.signer_reported_dt,
    )


def make_identity(
    name: str,
    *,
    issuer: tuple[x509.Certificate, ec.EllipticCurvePrivateKey] | None = None,
    days: int = 365,
    now: datetime | None = None,
) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    """A P-256 key and a certificate for organisation ``name``: self-signed as a CA without
    ``issuer``, else a signing certificate issued by it (tests build their own CA with this)."""
    now = now or datetime.now(UTC)
    key = ec.generate_private_key(ec.SECP256R1())
    common = name
    while len(common.encode()) > 64:  # X.520 ub-common-name, as cryptography counts it
        common = common[:-1]
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "CN"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, name),
            x509.NameAttribute(NameOID.COMMON_NAME, common),
        ]
    )
    issuer_name, issuer_key = (issuer[0].subject, issuer[1]) if issuer else (subject, key)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=issuer is None, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=True,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=issuer is None,
                crl_sign=issuer is None,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
    )
    return builder.sign(issuer_key, hashes.SHA256()), key


def pkcs12_bytes(
    cert: x509.Certificate,
    key: ec.EllipticCurvePrivateKey,
    passphrase: bytes,
    chain: list[x509.Certificate] = (),  # type: ignore[assignment]
) -> bytes:
    algorithm = serialization.BestAvailableEncryption(passphrase) if passphrase else serialization.NoEncryption()
    return pkcs12.serialize_key_and_certificates(b"handoff", key, cert, list(chain) or None, algorithm)


def demo_signer(office_name: str = "汕尾市政务服务数据管理局") -> ResultSigner:
    """A self-signed 演示证书 for ``./dev serve``: its subject says it is a demonstration."""
    root = make_identity(f"Handoff 演示根证书（{DEMO_LABEL}）", days=30)
    cert, key = make_identity(f"{office_name}（{DEMO_LABEL}）", issuer=root, days=30)
    return ResultSigner.from_pkcs12(pkcs12_bytes(cert, key, b"", [root[0]]), None)
