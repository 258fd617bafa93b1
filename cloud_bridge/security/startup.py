"""Configuration hazards refused at start in production (``[bridge] production = true``).

Each of these works in a demo and is a hole in a shop: the mini-program sandbox serves
a fake code2session and falls back to a secret printed in this repository, so anyone
could log in as any openid; a sandbox payment manifest points the money at local fake
gateways; kiosk downloads with ``kiosk_auth_dir`` over a plain-http URL and no signing
key could only be authenticated by sending the kiosk's MQTT password in clear text
(which the kiosk refuses to do anyway, so the shop would get no price books); without
a member code key no member code can be issued or checked, so member sales and
stored-value charges could not be verified.
"""

from __future__ import annotations

from cloud_bridge.config import BridgeConfig


class UnsafeConfiguration(Exception):
    """The configuration is not fit for production; the message names every reason."""


def production_hazards(config: BridgeConfig) -> list[str]:
    """What makes ``config`` unsafe for a production bridge (empty: nothing)."""
    from cloud_bridge.api_mp import SANDBOX_APP_SECRET, app_secret
    from cloud_bridge.catalog import public_base_url

    from .download_tokens import token_key

    found = []
    if config.mp.sandbox:
        found.append("[mp] sandbox = true (a fake code2session anyone can log in through)")
    secret = app_secret(config)
    if secret == SANDBOX_APP_SECRET:
        found.append("the mini-program app secret is the public sandbox secret")
    if config.payments.manifest:
        found.append("[payments] manifest is set (sandbox gateways)")
    if (config.http.kiosk_auth_dir is not None
            and not public_base_url(config).startswith("https://")
            and token_key(config) is None):
        found.append("kiosk downloads need credentials but the public URL is plain http and "
                     "there is no command signing key for download tokens")
    if not _has_member_key(config):
        found.append("no member code key (credential member_signing_key, or "
                     "member_signing.key in [http] kiosk_auth_dir): member sales and "
                     "stored-value charges could not be checked")
    return found


def _has_member_key(config: BridgeConfig) -> bool:
    """Whether the bridge has the chain's member-code key (never creates one)."""
    from pathlib import Path

    from cloud_bridge.config import load_secret
    from cloud_bridge.members.member_code import MEMBER_KEY_CREDENTIAL, MEMBER_KEY_FILE

    if load_secret(MEMBER_KEY_CREDENTIAL):
        return True
    auth_dir = config.http.kiosk_auth_dir
    return auth_dir is not None and (Path(auth_dir) / MEMBER_KEY_FILE).is_file()


def check_production(config: BridgeConfig) -> None:
    """Raise :class:`UnsafeConfiguration` when a production bridge has a hazard."""
    if not config.bridge.production:
        return
    found = production_hazards(config)
    if found:
        raise UnsafeConfiguration("refusing to start in production: " + "; ".join(found))
