"""Signing and encryption primitives of the payment providers' real protocols.

Shared by the provider clients (``providers/``) and the local sandbox gateways
(``sandbox/``) so that both ends of every test run the real algorithms:

* WeChat Pay API v3: ``WECHATPAY2-SHA256-RSA2048`` request signatures over
  ``METHOD\\nPATH\\nTIMESTAMP\\nNONCE\\nBODY\\n``, response/notification signatures
  over ``TIMESTAMP\\nNONCE\\nBODY\\n`` (RSA PKCS#1 v1.5, SHA-256), notification
  resources in ``AEAD_AES_256_GCM`` with the 32-byte APIv3 key.
* Alipay OpenAPI: ``RSA2`` (SHA256withRSA) over the ``&``-joined, key-sorted
  ``k=v`` pairs (``sign`` and empty values excluded) for requests and notifications,
  and over the raw JSON text of ``<method>_response`` for synchronous responses.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
from collections.abc import Mapping
from pathlib import Path

from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

WECHAT_SCHEMA = "WECHATPAY2-SHA256-RSA2048"


class SignatureError(ValueError):
    """A signature, key or ciphertext that does not verify."""


# ---------------------------------------------------------------- RSA keys


def generate_rsa_key(bits: int = 2048) -> rsa.RSAPrivateKey:
    """A fresh RSA key (2048 bits: what both providers require)."""
    return rsa.generate_private_key(public_exponent=65537, key_size=bits)


def private_pem(key: rsa.RSAPrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


def public_pem(key: rsa.RSAPrivateKey | rsa.RSAPublicKey) -> str:
    pub = key.public_key() if isinstance(key, rsa.RSAPrivateKey) else key
    return pub.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()


def load_private_key(pem: str | bytes) -> rsa.RSAPrivateKey:
    try:
        key = serialization.load_pem_private_key(
            pem.encode() if isinstance(pem, str) else pem, password=None
        )
    except (ValueError, TypeError) as err:
        raise SignatureError(f"not a PEM private key: {err}") from err
    if not isinstance(key, rsa.RSAPrivateKey):
        raise SignatureError("not an RSA private key")
    return key


def load_public_key(pem: str | bytes) -> rsa.RSAPublicKey:
    try:
        key = serialization.load_pem_public_key(pem.encode() if isinstance(pem, str) else pem)
    except (ValueError, TypeError) as err:
        raise SignatureError(f"not a PEM public key: {err}") from err
    if not isinstance(key, rsa.RSAPublicKey):
        raise SignatureError("not an RSA public key")
    return key


def rsa_sign(key: rsa.RSAPrivateKey, message: str) -> str:
    """SHA256withRSA (PKCS#1 v1.5), base64: the signature of both providers."""
    sig = key.sign(message.encode("utf-8"), padding.PKCS1v15(), hashes.SHA256())
    return base64.b64encode(sig).decode()


def rsa_verify(key: rsa.RSAPublicKey, message: str, signature: str) -> bool:
    try:
        raw = base64.b64decode(signature, validate=False)
        key.verify(raw, message.encode("utf-8"), padding.PKCS1v15(), hashes.SHA256())
    except (InvalidSignature, ValueError, TypeError):
        return False
    return True


# ---------------------------------------------------------------- WeChat Pay v3


def nonce_str() -> str:
    """32 upper-case hex characters, like the SDKs send."""
    return secrets.token_hex(16).upper()


def wechat_request_message(method: str, path: str, timestamp: str, nonce: str, body: str) -> str:
    """The string a merchant signs: ``path`` includes the query string."""
    return f"{method}\n{path}\n{timestamp}\n{nonce}\n{body}\n"


def wechat_response_message(timestamp: str, nonce: str, body: str) -> str:
    """The string the platform signs for responses and notifications."""
    return f"{timestamp}\n{nonce}\n{body}\n"


def wechat_authorization(
    key: rsa.RSAPrivateKey, mchid: str, serial_no: str, method: str, path: str, body: str,
    timestamp: str, nonce: str,
) -> str:
    """The ``Authorization`` header value of one merchant request."""
    signature = rsa_sign(key, wechat_request_message(method, path, timestamp, nonce, body))
    return (
        f'{WECHAT_SCHEMA} mchid="{mchid}",nonce_str="{nonce}",'
        f'signature="{signature}",timestamp="{timestamp}",serial_no="{serial_no}"'
    )


def parse_wechat_authorization(value: str) -> dict[str, str]:
    """Split an ``Authorization`` header into its fields; raises SignatureError."""
    schema, _, rest = value.partition(" ")
    if schema != WECHAT_SCHEMA:
        raise SignatureError(f"authorization schema {schema!r} is not {WECHAT_SCHEMA}")
    fields: dict[str, str] = {}
    for part in rest.split(","):
        name, sep, raw = part.strip().partition("=")
        if not sep:
            raise SignatureError("malformed authorization field")
        fields[name] = raw.strip().strip('"')
    missing = {"mchid", "nonce_str", "signature", "timestamp", "serial_no"} - fields.keys()
    if missing:
        raise SignatureError(f"authorization lacks {', '.join(sorted(missing))}")
    return fields


def aes_gcm_encrypt(apiv3_key: str, nonce: str, associated_data: str, plaintext: str) -> str:
    """``AEAD_AES_256_GCM`` as in WeChat notifications: base64(ciphertext || tag)."""
    aes = AESGCM(apiv3_key.encode())
    return base64.b64encode(
        aes.encrypt(nonce.encode(), plaintext.encode(), associated_data.encode())
    ).decode()


def aes_gcm_decrypt(apiv3_key: str, nonce: str, associated_data: str, ciphertext: str) -> str:
    try:
        aes = AESGCM(apiv3_key.encode())
        return aes.decrypt(
            nonce.encode(), base64.b64decode(ciphertext), associated_data.encode()
        ).decode()
    except (InvalidTag, ValueError, TypeError) as err:
        raise SignatureError("notification resource does not decrypt with the APIv3 key") from err


def new_apiv3_key() -> str:
    """32 ASCII characters (the APIv3 key is used as the raw 256-bit AES key)."""
    return secrets.token_hex(16)


# ---------------------------------------------------------------- Alipay


def alipay_sign_content(params: Mapping[str, object]) -> str:
    """``k=v`` pairs sorted by key, ``sign`` (and ``sign_type`` for notifications) excluded
    by the caller, empty values skipped; dict values are compact JSON (like the SDK)."""
    items = []
    for key in sorted(params):
        value = params[key]
        if value is None or value == "":
            continue
        if isinstance(value, dict):
            value = json.dumps(value, separators=(",", ":"))
        items.append(f"{key}={value}")
    return "&".join(items)


def alipay_response_content(raw: str, response_key: str) -> str:
    """The exact JSON text of ``response_key`` inside a gateway response (what is signed)."""
    start = raw.find("{", raw.find(f'"{response_key}"'))
    if start < 0:
        raise SignatureError(f"{response_key} not in response")
    depth = 0
    in_str = False
    escape = False
    for i in range(start, len(raw)):
        ch = raw[i]
        if in_str:
            if escape:
                escape = False
            elif ch == "\\":
                escape = True
            elif ch == '"':
                in_str = False
            continue
        if ch == '"':
            in_str = True
        elif ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth == 0:
                return raw[start : i + 1]
    raise SignatureError(f"{response_key} is not a closed JSON object")


# ---------------------------------------------------------------- key files


def write_secret(path: Path, text: str) -> Path:
    """Write a key file readable by the owner only."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
    return path
