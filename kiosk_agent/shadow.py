"""Device shadow: apply the cloud's desired configuration, report what is applied.

The cloud publishes a retained :class:`ShadowDesired` (``version`` + a config dict
shaped like the kiosk TOML) on ``shadow/desired``. A newer version whose keys are
all in :data:`WHITELIST` and whose values pass the config section models is applied
(the agent's ``on_apply`` hook makes it take effect), persisted with its version,
and echoed as a retained :class:`ShadowReported`. An older version, an unknown or
non-whitelisted key or an invalid value is refused: the old config stays and
``reported`` says why (``refused_version`` + ``error``). The same version again
(the retained message on every reconnect) is a no-op. A desired state may also carry the
chain's staff badge revocation list (kept here, merged into the price book's by
:mod:`kiosk_agent.revocations`) and this kiosk's offline coupon slots (handed to
:mod:`kiosk_agent.coupons`).
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING

import aiomqtt
from pydantic import ValidationError

from common.jsontypes import JsonMapping, JsonObject
from contract.pricebook import StaffRevocations
from contract.signing import SignatureError, verify_shadow
from contract.wire.base import WireError, decode
from contract.wire.shadow import ShadowDesired, ShadowReported

from .config import AgentConfig, format_validation_error
from .link import Link, LinkDown

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

log = logging.getLogger(__name__)

# What head office may change remotely, per config section (store display name,
# languages, receipt header/footer, printer profile, decode settings, telemetry
# interval, offline limits). Ids, paths, devices and credentials never.
WHITELIST: dict[str, frozenset[str]] = {
    "kiosk": frozenset({"store_name", "store_name_en", "languages"}),
    "receipt": frozenset({"header", "footer", "language"}),
    "printer": frozenset({"profile", "paper_mm", "encoding"}),
    "decoder": frozenset({"engines", "debounce_s", "confirm_1d", "try_harder"}),
    "telemetry": frozenset({"interval_s"}),
    "offline": frozenset({
        "warn_oldest_unsent_s", "max_oldest_unsent_s", "warn_queue_depth", "max_queue_depth",
        "max_offline_stored_value_fen", "max_offline_sale_fen",
    }),
}

ApplyHook = Callable[[AgentConfig, JsonObject], Awaitable[None]]
RevocationsHook = Callable[[StaffRevocations], None]
CouponPoolHook = Callable[[list[str]], None]


class ShadowRefused(ValueError):
    """A desired configuration that cannot be applied; ``str()`` is the reason."""


def merge_desired(base: AgentConfig, desired: JsonMapping) -> AgentConfig:
    """``base`` with the whitelisted ``desired`` values, validated; raises :class:`ShadowRefused`."""
    if not isinstance(desired, dict):
        raise ShadowRefused("config must be an object")
    data = base.model_dump()
    for section, values in desired.items():
        allowed = WHITELIST.get(section)
        if allowed is None:
            raise ShadowRefused(f"{section}: section not remotely configurable")
        if not isinstance(values, dict):
            raise ShadowRefused(f"{section}: must be an object")
        for key, value in values.items():
            if key not in allowed:
                raise ShadowRefused(f"{section}.{key}: not remotely configurable")
            data[section][key] = value
    try:
        return AgentConfig.model_validate(data)
    except ValidationError as err:
        raise ShadowRefused(format_validation_error(err, "desired")) from err


class Shadow:
    """Applies ``shadow/desired`` and publishes ``shadow/reported``.

    Args:
        link: The kiosk's link (the shadow registers its handler and on-connect hook).
        config: The agent's current config (the base the desired values overlay).
        state_path: JSON file keeping the applied version and values across restarts.
        on_apply: ``await on_apply(new_config, changes)`` makes the change take effect
            (e.g. ``link.set_telemetry_interval``); if it raises, the change is refused.
        verify_keys: the bridge's command public keys: a desired state must be signed by
            one of them for this kiosk (:func:`contract.signing.verify_shadow`); an empty
            list refuses every desired state. ``None`` skips the check (tests only).
        on_coupon_pool: ``on_coupon_pool(tokens)`` takes a new offline coupon slot pool.
    """

    def __init__(
        self, link: Link, config: AgentConfig, state_path: Path | str,
        on_apply: ApplyHook | None = None, verify_keys: list[Ed25519PublicKey] | None = None,
        on_revocations: RevocationsHook | None = None,
        on_coupon_pool: CouponPoolHook | None = None,
    ) -> None:
        self.link = link
        self.base = config
        self.config = config
        self.state_path = Path(state_path)
        self.on_apply = on_apply
        self.verify_keys = verify_keys
        self.on_revocations = on_revocations
        self.on_coupon_pool = on_coupon_pool
        # The staff badge revocation list the cloud sent (kiosk_agent.revocations).
        self.revocations: StaffRevocations | None = None
        self.applied_version: int | None = None
        self.applied: JsonObject = {}
        self.refused_version: int | None = None
        self.error: str | None = None
        self._load()

    def _load(self) -> None:
        if not self.state_path.exists():
            return
        try:
            state = json.loads(self.state_path.read_text(encoding="utf-8"))
            self.config = merge_desired(self.base, state.get("config", {}))
            self.applied = state.get("config", {})
            self.applied_version = state.get("version")
            if state.get("staff_revocations") is not None:
                self.revocations = StaffRevocations.model_validate(state["staff_revocations"])
        except (OSError, ValueError) as err:
            # The TOML config is still valid: run on it and let the cloud re-send.
            log.error("shadow state %s unusable, ignoring it: %s", self.state_path, err)

    def _save(self) -> None:
        self.state_path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".shadow", dir=self.state_path.parent)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            revs = self.revocations.model_dump(mode="json") if self.revocations else None
            json.dump({"version": self.applied_version, "config": self.applied,
                       "staff_revocations": revs}, fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.state_path)

    def attach(self) -> Shadow:
        """Register with the link: handle ``shadow/desired``, report on every connect."""
        self.link.add_handler(self.link.topics.shadow_desired, self._on_message)
        self.link.on_connect(self.report)
        return self

    async def _on_message(self, message: aiomqtt.Message) -> None:
        if not message.payload:
            return  # retained desired cleared
        try:
            desired = decode(ShadowDesired, message.payload)
        except WireError as err:
            log.warning("dropped malformed shadow/desired: %s", err.reason)
            self.refused_version, self.error = None, f"malformed: {err.reason}"
            await self.report()
            return
        await self.apply(desired)

    async def apply(self, desired: ShadowDesired) -> bool:
        """Apply ``desired`` if newer and valid; report either way. ``True`` if applied."""
        if self.applied_version is not None and desired.version == self.applied_version:
            return False
        try:
            if self.verify_keys is not None:
                try:
                    verify_shadow(desired, self.verify_keys, self.link.topics.store,
                                  self.link.topics.kiosk)
                except SignatureError as err:
                    raise ShadowRefused(f"signature: {err}") from err
            if self.applied_version is not None and desired.version < self.applied_version:
                raise ShadowRefused(
                    f"version {desired.version} is older than applied {self.applied_version}"
                )
            new_config = merge_desired(self.base, desired.config)
            revs = self._revocations(desired)
            if self.on_apply is not None:
                try:
                    await self.on_apply(new_config, desired.config)
                except Exception as err:
                    raise ShadowRefused(f"apply failed: {err}") from err
        except ShadowRefused as err:
            log.warning("shadow version %d refused: %s", desired.version, err)
            self.refused_version, self.error = desired.version, str(err)
            await self.report()
            return False
        self.config = new_config
        self.applied = desired.config
        self.applied_version = desired.version
        self.refused_version, self.error = None, None
        if revs is not None:
            self.revocations = revs
            if self.on_revocations is not None:
                self.on_revocations(revs)
        if desired.coupon_pool is not None and self.on_coupon_pool is not None:
            self.on_coupon_pool(list(desired.coupon_pool))
        self._save()
        log.info("shadow version %d applied", desired.version)
        await self.report()
        return True

    def _revocations(self, desired: ShadowDesired) -> StaffRevocations | None:
        """The desired state's revocation list, if it brings a newer one."""
        if desired.staff_revocations is None:
            return None
        try:
            revs = StaffRevocations.model_validate(desired.staff_revocations)
        except ValidationError as err:
            raise ShadowRefused(f"staff_revocations: {err.errors()[0]['msg']}") from err
        if self.revocations is not None and revs.version < self.revocations.version:
            return None  # an older list never replaces a newer one
        return revs

    def reported(self) -> ShadowReported:
        return ShadowReported(
            applied_version=self.applied_version, config=self.applied,
            refused_version=self.refused_version, error=self.error,
            revocations_version=self.revocations.version if self.revocations else None,
        )

    async def report(self) -> None:
        """Publish the retained ``shadow/reported`` (skipped while the link is down)."""
        try:
            await self.link.publish(
                self.link.topics.shadow_reported, self.reported().encode(), qos=1, retain=True
            )
        except LinkDown:
            log.debug("shadow report deferred until connected")
