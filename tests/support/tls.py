"""Throwaway TLS material for the tests: a CA, a broker certificate and client certificates.

Generated at test time with ``cryptography`` (nothing is committed); keys are written
0600 like the deployment's real ones. EC P-256 keys: fast to generate, and accepted by
both Mosquitto (OpenSSL) and Python's ``ssl``.
"""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

# Long enough for any test run, short enough that a leaked file is useless soon.
VALIDITY = timedelta(days=2)
# Clock skew between the test and the broker is nil, but "not before now" can still
# lose a race against the verifier's clock by a second.
BACKDATE = timedelta(minutes=5)


@dataclass(frozen=True)
class CertPair:
    """A certificate and its private key, as PEM files."""

    cert: Path
    key: Path


@dataclass(frozen=True)
class TestCa:
    """A CA able to issue server and client certificates."""

    __test__ = False  # not a pytest test class

    name: str
    cert: Path
    key: Path
    _key: ec.EllipticCurvePrivateKey
    _cert: x509.Certificate

    def issue_server(
        self, directory: Path, name: str = "server",
        hosts: tuple[str, ...] = ("localhost", "127.0.0.1", "::1"),
    ) -> CertPair:
        """A broker certificate whose SAN lists ``hosts`` (DNS names and IP addresses)."""
        names: list[x509.GeneralName] = []
        for host in hosts:
            try:
                names.append(x509.IPAddress(ipaddress.ip_address(host)))
            except ValueError:
                names.append(x509.DNSName(host))
        san = x509.SubjectAlternativeName(names)
        return self._issue(directory, name, hosts[0], san, ExtendedKeyUsageOID.SERVER_AUTH)

    def issue_client(self, directory: Path, common_name: str) -> CertPair:
        """A client certificate for ``common_name`` (e.g. the kiosk's MQTT username)."""
        return self._issue(directory, common_name, common_name, None,
                           ExtendedKeyUsageOID.CLIENT_AUTH)

    def _issue(
        self, directory: Path, name: str, common_name: str,
        san: x509.SubjectAlternativeName | None, usage: x509.ObjectIdentifier,
    ) -> CertPair:
        key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.now(UTC)
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]))
            .issuer_name(self._cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - BACKDATE)
            .not_valid_after(now + VALIDITY)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self._key.public_key()),
                critical=False,
            )
        )
        if san is not None:
            builder = builder.add_extension(san, critical=False)
        cert = builder.sign(self._key, hashes.SHA256())
        return _write_pair(Path(directory), name, key, cert)


def make_ca(directory: Path, name: str = "ca") -> TestCa:
    """A self-signed CA in ``directory`` (``<name>.crt``, ``<name>.key``)."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"test {name}")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - BACKDATE)
        .not_valid_after(now + VALIDITY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True, key_cert_sign=True, crl_sign=True,
                content_commitment=False, key_encipherment=False, data_encipherment=False,
                key_agreement=False, encipher_only=False, decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    pair = _write_pair(Path(directory), name, key, cert)
    return TestCa(name=name, cert=pair.cert, key=pair.key, _key=key, _cert=cert)


def _write_pair(
    directory: Path, name: str, key: ec.EllipticCurvePrivateKey, cert: x509.Certificate
) -> CertPair:
    directory.mkdir(parents=True, exist_ok=True)
    cert_path = directory / f"{name}.crt"
    key_path = directory / f"{name}.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    # Created 0600 (never world-readable, not even briefly).
    fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, pem)
    finally:
        os.close(fd)
    os.chmod(key_path, 0o600)
    return CertPair(cert=cert_path, key=key_path)


@dataclass(frozen=True)
class TlsMaterial:
    """Everything one TLS test needs: the broker's CA and cert, a client cert, a stranger CA."""

    ca: TestCa
    server: CertPair
    client: CertPair
    other_ca: TestCa


def make_tls_material(directory: Path, client_name: str = "client") -> TlsMaterial:
    """A CA with a server and a client certificate, plus an unrelated CA, in ``directory``."""
    directory = Path(directory)
    ca = make_ca(directory, "ca")
    return TlsMaterial(
        ca=ca,
        server=ca.issue_server(directory),
        client=ca.issue_client(directory, client_name),
        other_ca=make_ca(directory / "other", "other-ca"),
    )
