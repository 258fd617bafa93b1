"""Configuration plumbing shared by the programs: TOML into pydantic, secrets from files.

Secrets never live in the TOML: :func:`load_secret` reads them from files in
``$CREDENTIALS_DIRECTORY`` (systemd ``LoadCredential=``) or from the environment.
A bad file stops start-up with one line: the field path and the reason.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel, ValidationError


class ConfigError(Exception):
    """A configuration that cannot be used; ``str()`` is the one line to show."""


def format_validation_error(err: ValidationError, source: str) -> str:
    """One line: ``source: path.to.field: reason`` (the first error; count of others)."""
    errors = err.errors()
    first = errors[0]
    path = ".".join(str(p) for p in first.get("loc", ())) or "<root>"
    msg = first.get("msg", "invalid")
    if first.get("type") == "extra_forbidden":
        msg = "unknown field"
    more = f" (+{len(errors) - 1} more)" if len(errors) > 1 else ""
    return f"{source}: {path}: {msg}{more}"


ModelT = TypeVar("ModelT", bound=BaseModel)


def load_toml_model(
    path: Path | str, model: type[ModelT], error: type[Exception] = ConfigError
) -> ModelT:
    """Read the TOML file at ``path`` and validate it into ``model``.

    Any failure (missing, unreadable, not TOML, invalid) raises ``error`` whose
    ``str()`` is the one line to show; the cloud bridge passes its own error type.
    """
    path = Path(path)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as err:
        raise error(f"{path}: file not found") from err
    except tomllib.TOMLDecodeError as err:
        raise error(f"{path}: not valid TOML: {err}") from err
    except (OSError, UnicodeDecodeError) as err:
        raise error(f"{path}: cannot read: {err}") from err
    try:
        return model.model_validate(raw)
    except ValidationError as err:
        raise error(format_validation_error(err, str(path))) from err


def load_secret(name: str, env_prefix: str = "KIOSK_") -> str | None:
    """A secret by name: ``$CREDENTIALS_DIRECTORY/<name>`` first, then ``$KIOSK_<NAME>``.

    Returns ``None`` when neither is set. The value is stripped of trailing newlines.
    """
    cred_dir = os.environ.get("CREDENTIALS_DIRECTORY")
    if cred_dir:
        candidate = Path(cred_dir) / name
        if candidate.is_file():
            return candidate.read_text(encoding="utf-8").rstrip("\r\n")
    env_name = env_prefix + name.upper().replace("-", "_").replace(".", "_")
    value = os.environ.get(env_name)
    return value.rstrip("\r\n") if value is not None else None
