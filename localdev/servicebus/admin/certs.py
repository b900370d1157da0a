"""A local certificate authority and a server certificate for the management endpoint.

`ServiceBusAdministrationClient` speaks HTTPS only, so the emulator needs a
certificate a client can trust: a CA generated on first start, kept in the
certificate directory, and a server certificate for localhost / 127.0.0.1 /
::1 signed by it. Clients pass `connection_verify=<dir>/ca.pem`. Both are
reused while valid, so a client that trusted the CA once keeps trusting it.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

CA_FILE, CA_KEY_FILE = "ca.pem", "ca-key.pem"
CERT_FILE, KEY_FILE = "server.pem", "server-key.pem"
VALIDITY = datetime.timedelta(days=825)
RENEW_BEFORE = datetime.timedelta(days=30)


@dataclass(frozen=True)
class CertificatePaths:
    """Where the CA (for clients) and the server's certificate and key (for the server) live."""

    ca: Path
    certificate: Path
    key: Path


def ensure_certificates(directory: Path) -> CertificatePaths:
    """The CA and server certificate in `directory`, created (or renewed) when missing or old."""
    directory.mkdir(parents=True, exist_ok=True)
    paths = CertificatePaths(directory / CA_FILE, directory / CERT_FILE, directory / KEY_FILE)
    now = datetime.datetime.now(datetime.UTC)
    if not _valid(paths.ca, now) or not (directory / CA_KEY_FILE).exists():
        ca_key = ec.generate_private_key(ec.SECP256R1())
        ca_cert = _ca_certificate(ca_key, now)
        _write_key(directory / CA_KEY_FILE, ca_key)
        paths.ca.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
        paths.certificate.unlink(missing_ok=True)  # signed by the old CA: issue a new one
    if not _valid(paths.certificate, now) or not paths.key.exists():
        loaded = serialization.load_pem_private_key((directory / CA_KEY_FILE).read_bytes(), None)
        if not isinstance(loaded, ec.EllipticCurvePrivateKey):
            raise ValueError(f"{directory / CA_KEY_FILE} is not the emulator's CA key")
        ca_key = loaded
        ca_cert = x509.load_pem_x509_certificate(paths.ca.read_bytes())
        key = ec.generate_private_key(ec.SECP256R1())
        _write_key(paths.key, key)
        cert = _server_certificate(key, ca_key, ca_cert, now)
        paths.certificate.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return paths


def _valid(path: Path, now: datetime.datetime) -> bool:
    if not path.exists():
        return False
    try:
        cert = x509.load_pem_x509_certificate(path.read_bytes())
    except ValueError:
        return False
    return cert.not_valid_after_utc - RENEW_BEFORE > now


def _write_key(path: Path, key: ec.EllipticCurvePrivateKey) -> None:
    raw = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    # Private keys readable by the owner only, from the moment they exist.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(raw)


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _builder(
    subject: x509.Name,
    issuer: x509.Name,
    key: ec.EllipticCurvePrivateKey,
    now: datetime.datetime,
) -> x509.CertificateBuilder:
    """What the CA and the server certificate set alike: names, key, a random serial, validity.

    Valid from five minutes ago, so a client whose clock is a little behind accepts it.
    """
    return x509.CertificateBuilder(
        issuer_name=issuer,
        subject_name=subject,
        public_key=key.public_key(),
        serial_number=x509.random_serial_number(),
        not_valid_before=now - datetime.timedelta(minutes=5),
        not_valid_after=now + VALIDITY,
    )


def _ca_certificate(key: ec.EllipticCurvePrivateKey, now: datetime.datetime) -> x509.Certificate:
    name = _name("localdev Service Bus emulator CA")
    return (
        _builder(name, name, key, now)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )


def _server_certificate(
    key: ec.EllipticCurvePrivateKey,
    ca_key: ec.EllipticCurvePrivateKey,
    ca_cert: x509.Certificate,
    now: datetime.datetime,
) -> x509.Certificate:
    names = [
        x509.DNSName("localhost"),
        x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
        x509.IPAddress(ipaddress.ip_address("::1")),
    ]
    return (
        _builder(_name("localhost"), ca_cert.subject, key, now)
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
