"""Staff badges: signed tokens (:mod:`contract.tokens`) printed as QR codes.

The chain has one badge signing key (Ed25519), kept on the bridge next to the command
signing key in the deployment config dir (``badge_signing.key``, 0600). Kiosks get only
its public half (``badge_pubkey``, in every kiosk bundle written by ``cloud-bridge kiosk
add``), so a kiosk can check a badge but never make one. A badge is a token of kind
``staff`` for a staff id, scoped to one store (or ``*``), with an expiry; kiosks also
cap its age (``[staff] badge_max_days``) and refuse revoked ones.
"""

from __future__ import annotations

import io
from pathlib import Path

from contract.signing import (
    ensure_key_pair,
    load_private_key,
)
from contract.tokens import ANY_STORE, issue_token

BADGE_KEY_FILE = "badge_signing.key"
BADGE_PUBKEY_FILE = "badge_pubkey.pem"
#: the kiosk credential name of the public key (systemd LoadCredential= / env KIOSK_BADGE_PUBKEY)
BADGE_PUBKEY_CREDENTIAL = "badge_pubkey"
BADGE_KIND = "staff"
# A badge is reprinted yearly at most; kiosks cap the age independently.
DEFAULT_TTL_DAYS = 180


def ensure_badge_key(config_dir: Path) -> Path:
    """Create the chain's badge key pair in ``config_dir`` once; returns the key's path."""
    return ensure_key_pair(config_dir, BADGE_KEY_FILE, BADGE_PUBKEY_FILE)


def issue_badge(config_dir: Path, staff_id: str, store: str = ANY_STORE,
                ttl_days: int = DEFAULT_TTL_DAYS, role: str | None = None,
                now: float | None = None) -> str:
    """A signed staff badge (token text) for ``staff_id`` at ``store``."""
    key = load_private_key(ensure_badge_key(config_dir))
    return issue_token(key, kind=BADGE_KIND, subject=staff_id, store=store,
                       ttl_s=ttl_days * 86_400, role=role, now=now)


def badge_png(text: str, caption: str | None = None) -> bytes:
    """The badge as a printable QR code PNG (error correction M, a quiet zone of 4)."""
    import qrcode
    from PIL import Image, ImageDraw

    qr = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, box_size=6, border=4)
    qr.add_data(text)
    qr.make(fit=True)
    img = qr.make_image(fill_color="black", back_color="white").get_image().convert("L")
    if caption:
        out = Image.new("L", (img.width, img.height + 24), 255)
        out.paste(img, (0, 0))
        ImageDraw.Draw(out).text((8, img.height + 4), caption[:60], fill=0)
        img = out
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()
