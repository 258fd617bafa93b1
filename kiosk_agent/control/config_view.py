"""The effective-config view (``GET /v1/config``): every value with where it came from."""

from __future__ import annotations

import logging
import tomllib
from collections.abc import Mapping
from pathlib import Path

from common.jsontypes import JsonMapping, JsonObject

from ..config import AgentConfig, load_secret

log = logging.getLogger(__name__)

SECRET_KEYS = frozenset({"control.staff_pin_hash"})
REDACTED = "***"


def describe_config(
    config: AgentConfig,
    file_path: Path | str | None = None,
    shadow: JsonMapping | None = None,
    env: JsonMapping | None = None,
) -> list[JsonObject]:
    """Every effective config value with where it came from.

    Args:
        config: the config in force.
        file_path: the TOML it was loaded from (re-read only to see which keys it sets).
        shadow: dotted keys applied from the cloud's shadow (``{"receipt.footer": ...}``).
        env: dotted keys set from the environment.

    Returns:
        ``[{"key": "mqtt.host", "value": ..., "source": "default|file|shadow|env|credential"}]``,
        sorted by key; secret values are redacted.
    """
    in_file: set[str] = set()
    if file_path is not None:
        try:
            raw = tomllib.loads(Path(file_path).read_text(encoding="utf-8"))
            in_file = set(_flatten(raw))
        except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
            log.warning("cannot re-read %s for the config view: %s", file_path, err)
    shadow_keys = set(_flatten_keys(shadow or {}))
    env_keys = set(_flatten_keys(env or {}))
    rows: list[JsonObject] = []
    for key, value in sorted(_flatten(config.model_dump(mode="json")).items()):
        if key in shadow_keys:
            source = "shadow"
        elif key in env_keys:
            source = "env"
        elif key in in_file or any(key.startswith(k + ".") for k in in_file):
            source = "file"
        else:
            source = "default"
        if key in SECRET_KEYS:
            if value is None and key == "control.staff_pin_hash" and load_secret("staff_pin_hash"):
                source = "credential"
                value = REDACTED
            elif value is not None:
                value = REDACTED
        rows.append({"key": key, "value": value, "source": source})
    return rows


def _flatten(tree: JsonMapping, prefix: str = "") -> JsonObject:
    out: JsonObject = {}
    for key, value in tree.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            out.update(_flatten(value, dotted + "."))
        else:
            out[dotted] = value
    return out


def _flatten_keys(tree: JsonMapping) -> list[str]:
    # Accept both {"receipt.footer": x} and {"receipt": {"footer": x}}.
    return list(_flatten(tree))
