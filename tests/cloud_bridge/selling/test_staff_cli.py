"""``cloud-bridge staff badge|revoke`` as head office uses them: a printable QR PNG that the
kiosk's verifier accepts, the public key in every kiosk bundle, and a revocation that
reaches kiosks with a republished price book."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import zxingcpp
from PIL import Image

from cloud_bridge.provisioning import Deployment
from contract.pricebook import parse_price_book
from contract.signing import load_public_key
from contract.tokens import TokenError, TokenVerifier

from ..bridge_process import migrate, write_config

ROOT = Path(__file__).resolve().parents[3]


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "cloud_bridge.cli", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)


def test_badge_png_scans_to_a_token_the_kiosk_key_verifies(tmp_path):
    conf = tmp_path / "etc"
    png = tmp_path / "badge.png"
    out = cli("staff", "badge", "--store", "S1", "--staff", "emp-007", "--role", "supervisor",
              "--out", str(png), "--config-dir", str(conf))
    assert out.returncode == 0, out.stderr
    text = out.stdout.strip()
    [read] = zxingcpp.read_barcodes(Image.open(png))
    assert read.text == text and read.format == zxingcpp.BarcodeFormat.QRCode
    # The kiosk bundle carries the public half; the private key never leaves etc/ (0600).
    bundle = Deployment(conf).add_kiosk("S1", "K1", out=tmp_path / "bundle")
    assert (conf / "badge_signing.key").stat().st_mode & 0o777 == 0o600
    verifier = TokenVerifier([load_public_key((bundle / "badge_pubkey").read_bytes())],
                             max_lifetime_s=400 * 86400)
    token = verifier.verify(text, kind="staff", store="S1")
    assert (token.subject, token.role) == ("emp-007", "supervisor")
    for bad in (["--staff", "has space"], ["--staff", "e1", "--store", "S 1"],
                ["--staff", "e1", "--ttl-days", "0"]):
        refused = cli("staff", "badge", *bad, "--config-dir", str(conf))
        assert refused.returncode == 1 and "cloud-bridge staff:" in refused.stderr


def test_revoke_republishes_books_with_the_revocation(tmp_path):
    conf = tmp_path / "etc"
    cfg = write_config(tmp_path / "bridge.toml", db_url=f"sqlite+aiosqlite:///{tmp_path}/b.db",
                       worker="w", mqtt_port=None)
    assert migrate(cfg).returncode == 0
    book = ROOT / "config" / "pricebook.example.json"
    assert cli("catalog", "publish", "--config", str(cfg), "--store", "S1",
               "--file", str(book)).returncode == 0
    old = cli("staff", "badge", "--store", "S1", "--staff", "e9", "--config-dir", str(conf))
    out = cli("staff", "revoke", "--config", str(cfg), "--staff", "e9", "--store", "S1")
    assert out.returncode == 0, out.stderr
    assert "republished for S1" in out.stdout
    show = cli("catalog", "show", "--config", str(cfg), "--store", "S1")
    assert ".r1" in show.stdout

    import asyncio

    from cloud_bridge.catalog import book_body, current_info
    from cloud_bridge.config import load_config
    from cloud_bridge.db import open_database

    async def current() -> bytes:
        db = open_database(load_config(cfg))
        try:
            async with db.session() as s:
                info = await current_info(s, "S1")
                return (await book_body(s, "S1", info.version))[1]
        finally:
            await db.close()

    published = parse_price_book(asyncio.run(current()))
    assert "e9" in published.staff_revocations.subjects
    from kiosk_agent.badges import StaffBadges

    kiosk = StaffBadges("S1", 30, keys=[load_public_key((conf / "badge_pubkey.pem").read_bytes())])
    try:
        kiosk.verify(old.stdout.strip(), published)
    except TokenError as err:
        assert err.reason == "revoked"
    else:
        raise AssertionError("a revoked badge verified")
