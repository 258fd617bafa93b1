"""Kiosk provisioning: MQTT credentials, broker ACL, command key, credential bundle.

``cloud-bridge kiosk add --store S --kiosk K [--out DIR] [--config-dir DIR]``

The deployment's config dir (``--config-dir``, default ``$CLOUD_BRIDGE_CONFIG_DIR``
or ``/etc/cloud-bridge``) holds::

    kiosks.json                   registry: username -> {store, kiosk, added_at}
    keys/command_signing.key      the bridge's Ed25519 command signing key (0600, once)
    keys/command_signing.pub      its public half (what every kiosk gets)
    keys/bridge_mqtt_password     the bridge's MQTT password (0600, once)
    mosquitto/passwd              Mosquitto password file ($7$ PBKDF2-SHA512 entries)
    mosquitto/acl                 Mosquitto ACL, regenerated from the registry
    tls/ca.crt                    optional; copied into bundles when present

and each kiosk's bundle (``--out``, default ``<config-dir>/bundles/{store}-{kiosk}``)::

    mqtt_password    command_pubkey    ca.crt (if TLS)    kiosk.toml (snippet)

The bundle's files are systemd credentials (``LoadCredential=``) for the agent;
``kiosk.toml`` is merged into the kiosk's config. See ``config/mosquitto/README.md``
for why the ACL is explicit per-kiosk ``user`` blocks.
"""

from __future__ import annotations

import argparse
import base64
import functools
import hashlib
import json
import os
import secrets
import shutil
import string
import time
from pathlib import Path
from typing import TYPE_CHECKING, NotRequired, TypedDict

from contract import numbers
from contract.wire import topics as T

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

DEFAULT_CONFIG_DIR = Path("/etc/cloud-bridge")
BRIDGE_USER = "bridge"
# Mosquitto 2.0's mosquitto_passwd defaults: PBKDF2-SHA512, 101 iterations, 12-byte salt.
PBKDF2_ITERATIONS = 101
SALT_BYTES = 12
PASSWORD_BYTES = 24
# Kiosk ids that would collide with store-level topics (``kiosk/v1/{store}/catalog``).
RESERVED_KIOSK_IDS = frozenset({T.CATALOG, T.STOCK_ALERTS})
TEMPLATE = Path(__file__).resolve().parent.parent / "config" / "mosquitto" / "mosquitto.test.conf.template"


# The group of the bridge's service user (systemd/cloud-bridge.sysusers.conf): the
# registry and the password file it checks catalog downloads against are shared with it.
BRIDGE_GROUP = "cloud-bridge"


def _share_with_bridge(path: Path) -> None:
    """Give ``path`` to the bridge's group when that group exists (a real deployment)."""
    import grp

    try:
        gid = grp.getgrnam(BRIDGE_GROUP).gr_gid
    except KeyError:
        return  # a developer machine or a test: no such group, the owner's group stays
    try:
        os.chown(path, -1, gid)
    except PermissionError:
        pass  # not root: the operator runs `chgrp cloud-bridge` (README)


class KioskEntry(TypedDict):
    """A kiosk of the registry (``kiosks.json``), by its MQTT username."""

    store: str
    kiosk: str
    added_at: float
    rotated_at: NotRequired[float]


class ProvisioningError(Exception):
    """Provisioning cannot proceed; the message says why."""


# A password entry asking for more rounds than this is refused unverified (a corrupt
# or hostile file must not tie up a thread for minutes); mosquitto_passwd uses 101.
MAX_PBKDF2_ITERATIONS = 1_000_000


def mosquitto_hash(password: str, salt: bytes | None = None, iterations: int = PBKDF2_ITERATIONS) -> str:
    """A Mosquitto 2 password-file hash: ``$7$<iterations>$<b64 salt>$<b64 sha512-pbkdf2>``."""
    salt = salt if salt is not None else secrets.token_bytes(SALT_BYTES)
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, iterations, dklen=64)
    return f"$7${iterations}${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}"


def verify_mosquitto_hash(password: str, entry: str) -> bool:
    """Whether ``password`` matches a ``$7$`` hash."""
    parts = entry.split("$")
    if len(parts) != 5 or parts[1] != "7" or not parts[2].isdigit():
        return False
    try:
        salt = base64.b64decode(parts[3], validate=True)
    except ValueError:  # binascii.Error: a torn or hand-edited password file
        return False
    iterations = int(parts[2])
    if not 1 <= iterations <= MAX_PBKDF2_ITERATIONS:
        return False
    return secrets.compare_digest(mosquitto_hash(password, salt, iterations), entry)


def kiosk_username(store: str, kiosk: str) -> str:
    return f"{store}-{kiosk}"


def kiosk_acl_block(store: str, kiosk: str) -> str:
    """The ACL ``user`` block of one kiosk: its own subtree, each leaf in its direction."""
    t = T.KioskTopics(store, kiosk)
    lines = [f"# kiosk {store}/{kiosk}", f"user {kiosk_username(store, kiosk)}"]
    lines += [f"topic write {t.leaf(leaf)}" for leaf in T.KIOSK_TO_CLOUD]
    lines += [f"topic read {t.leaf(leaf)}" for leaf in T.CLOUD_TO_KIOSK]
    lines.append(f"topic read {t.catalog}")
    lines.append(f"topic read {t.stock_alerts}")
    lines.append(f"topic read {t.mp_orders}")
    return "\n".join(lines) + "\n"


def bridge_acl_block() -> str:
    return (
        "# the cloud bridge (all workers share this account)\n"
        f"user {BRIDGE_USER}\n"
        f"topic readwrite {T.PREFIX}/#\n"
    )


ACL_HEADER = """\
# Generated by `cloud-bridge kiosk add`; do not edit (regenerated from kiosks.json).
# No rule before the first `user` line: anonymous clients get nothing (and are
# refused at connect anyway: allow_anonymous false).
"""


class Deployment:
    """The provisioning state of one deployment, in ``config_dir``."""

    def __init__(self, config_dir: Path | str) -> None:
        self.dir = Path(config_dir)
        self.registry_path = self.dir / "kiosks.json"
        self.signing_key_path = self.dir / "keys" / "command_signing.key"
        self.public_key_path = self.dir / "keys" / "command_signing.pub"
        self.bridge_password_path = self.dir / "keys" / "bridge_mqtt_password"
        self.passwd_path = self.dir / "mosquitto" / "passwd"
        self.acl_path = self.dir / "mosquitto" / "acl"
        self.ca_path = self.dir / "tls" / "ca.crt"

    # -- files -----------------------------------------------------------------------

    @staticmethod
    def _write(path: Path, data: bytes | str, mode: int = 0o600) -> None:
        """Atomic write with ``mode`` (secrets never exist world-readable, not even briefly)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp")
        raw = data.encode() if isinstance(data, str) else data
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
        try:
            os.write(fd, raw)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.chmod(tmp, mode)
        if mode & 0o040:  # group-readable: shared with the bridge's service user
            _share_with_bridge(tmp)
        os.replace(tmp, path)

    def registry(self) -> dict[str, KioskEntry]:
        if not self.registry_path.exists():
            return {}
        try:
            return json.loads(self.registry_path.read_text(encoding="utf-8"))
        except ValueError as err:
            raise ProvisioningError(f"{self.registry_path}: not valid JSON: {err}") from err

    def passwd_entries(self) -> dict[str, str]:
        if not self.passwd_path.exists():
            return {}
        entries = {}
        for line in self.passwd_path.read_text(encoding="utf-8").splitlines():
            if line.strip() and not line.startswith("#") and ":" in line:
                user, _, entry = line.partition(":")
                entries[user] = entry
        return entries

    def _write_passwd(self, entries: dict[str, str]) -> None:
        # Mosquitto reads this file as its own user: 0640 with the deployer's group.
        text = "".join(f"{u}:{e}\n" for u, e in sorted(entries.items()))
        self._write(self.passwd_path, text, 0o640)

    def render_acl(self) -> str:
        blocks = [ACL_HEADER, bridge_acl_block()]
        for entry in sorted(self.registry().values(), key=lambda e: (e["store"], e["kiosk"])):
            blocks.append(kiosk_acl_block(entry["store"], entry["kiosk"]))
        return "\n".join(blocks)

    # -- steps -----------------------------------------------------------------------

    def ensure(self) -> None:
        """Create the deployment-wide material once: signing key, bridge account, files."""
        from contract.signing import generate_signing_key, private_key_pem, public_key_pem

        if not self.signing_key_path.exists():
            key = generate_signing_key()
            self._write(self.signing_key_path, private_key_pem(key), 0o600)
            self._write(self.public_key_path, public_key_pem(key), 0o644)
        entries = self.passwd_entries()
        if not self.bridge_password_path.exists() or BRIDGE_USER not in entries:
            password = secrets.token_urlsafe(PASSWORD_BYTES)
            self._write(self.bridge_password_path, password + "\n", 0o600)
            entries[BRIDGE_USER] = mosquitto_hash(password)
            self._write_passwd(entries)
        if not self.acl_path.exists():
            self._write(self.acl_path, self.render_acl(), 0o640)

    def bridge_password(self) -> str:
        return self.bridge_password_path.read_text(encoding="utf-8").strip()

    def signing_key(self) -> Ed25519PrivateKey:
        from contract.signing import load_private_key

        return load_private_key(self.signing_key_path)

    def add_kiosk(
        self,
        store: str,
        kiosk: str,
        out: Path | None = None,
        mqtt_host: str = "mqtt.example.com",
        mqtt_port: int = 8883,
    ) -> Path:
        """Create (or rotate) a kiosk's credentials and ACL entry; write its bundle; return it."""
        if not (T.valid_id(store) and T.valid_id(kiosk)):
            raise ProvisioningError("store and kiosk ids must match [A-Za-z0-9_-]{1,64}")
        problem = numbers.id_problem(store, kiosk)  # every order/payment number must fit
        if problem is not None:
            raise ProvisioningError(problem)
        if kiosk in RESERVED_KIOSK_IDS:
            raise ProvisioningError(f"kiosk id {kiosk!r} is reserved")
        username = kiosk_username(store, kiosk)
        if username == BRIDGE_USER:
            raise ProvisioningError(f"username {username!r} is reserved")
        self.ensure()
        registry = self.registry()
        known = registry.get(username)
        if known and (known["store"], known["kiosk"]) != (store, kiosk):
            raise ProvisioningError(
                f"username {username} already belongs to {known['store']}/{known['kiosk']}"
            )
        password = secrets.token_urlsafe(PASSWORD_BYTES)
        entries = self.passwd_entries()
        entries[username] = mosquitto_hash(password)
        registry[username] = {
            "store": store, "kiosk": kiosk,
            "added_at": known["added_at"] if known else time.time(),
            "rotated_at": time.time(),
        }
        self._write(self.registry_path, json.dumps(registry, indent=2, sort_keys=True) + "\n", 0o640)
        self._write_passwd(entries)
        self._write(self.acl_path, self.render_acl(), 0o640)

        bundle = Path(out) if out else self.dir / "bundles" / username
        bundle.mkdir(parents=True, exist_ok=True)
        os.chmod(bundle, 0o700)
        self._write(bundle / "mqtt_password", password + "\n", 0o600)
        shutil.copyfile(self.public_key_path, bundle / "command_pubkey")
        # The chain's staff badge key: kiosks verify badges with its public half (selling).
        from cloud_bridge.selling.badges import BADGE_PUBKEY_FILE, ensure_badge_key

        ensure_badge_key(self.dir)
        shutil.copyfile(self.dir / BADGE_PUBKEY_FILE, bundle / "badge_pubkey")
        # Issue 13: the member-code key's public half; kiosks verify member codes offline.
        from cloud_bridge.members.member_code import MEMBER_PUBKEY_FILE, ensure_member_key

        ensure_member_key(self.dir)
        shutil.copyfile(self.dir / MEMBER_PUBKEY_FILE, bundle / "member_pubkey")
        tls = ""
        if self.ca_path.exists():
            shutil.copyfile(self.ca_path, bundle / "ca.crt")
            tls = '\n[mqtt.tls]\nca_file = "/etc/kiosk-agent/ca.crt"\n'
        toml = (
            f"# Generated by `cloud-bridge kiosk add` for {store}/{kiosk}.\n"
            "# Secrets (mqtt_password, command_pubkey, badge_pubkey, member_pubkey) are systemd "
            "credentials.\n"
            f'[kiosk]\nstore_id = "{store}"\nkiosk_id = "{kiosk}"\n\n'
            f'[mqtt]\nhost = "{mqtt_host}"\nport = {mqtt_port}\nusername = "{username}"\n{tls}'
        )
        self._write(bundle / "kiosk.toml", toml, 0o644)
        return bundle


def render_broker_config(
    deployment: Deployment,
    port: int,
    persistence_dir: Path,
    log_file: Path,
    template: Path = TEMPLATE,
    tls: str = "",
) -> str:
    """The test broker config: production rules (auth, ACL) on ``port``."""
    return string.Template(template.read_text(encoding="utf-8")).substitute(
        port=port,
        password_file=deployment.passwd_path,
        acl_file=deployment.acl_path,
        persistence_dir=persistence_dir,
        log_file=log_file,
        tls=tls,
    )


# -- CLI ------------------------------------------------------------------------------



def _usage(parser: argparse.ArgumentParser, _args: argparse.Namespace) -> int:
    """A command group run without its subcommand: its help, exit status 2."""
    parser.print_help()
    return 2

def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    kiosk = subparsers.add_parser("kiosk", help="provision kiosks (MQTT credentials, ACL, keys)")
    sub = kiosk.add_subparsers(dest="kiosk_command", metavar="ACTION")
    add = sub.add_parser("add", help="create a kiosk's credentials and write its bundle")
    add.add_argument("--store", required=True)
    add.add_argument("--kiosk", required=True)
    add.add_argument("--out", type=Path, help="bundle directory (default <config-dir>/bundles/S-K)")
    add.add_argument(
        "--config-dir", type=Path,
        default=Path(os.environ.get("CLOUD_BRIDGE_CONFIG_DIR", DEFAULT_CONFIG_DIR)),
        help="deployment config dir (default $CLOUD_BRIDGE_CONFIG_DIR or /etc/cloud-bridge)",
    )
    add.add_argument("--mqtt-host", default="mqtt.example.com", help="broker host for kiosk.toml")
    add.add_argument("--mqtt-port", type=int, default=8883, help="broker port for kiosk.toml")
    add.set_defaults(func=_add)
    kiosk.set_defaults(func=functools.partial(_usage, kiosk))


def _add(args: argparse.Namespace) -> int:
    import sys

    try:
        bundle = Deployment(args.config_dir).add_kiosk(
            args.store, args.kiosk, args.out, args.mqtt_host, args.mqtt_port
        )
    except (ProvisioningError, OSError) as err:
        print(f"cloud-bridge kiosk add: {err}", file=sys.stderr)
        return 1
    print(f"kiosk {args.store}/{args.kiosk}: bundle in {bundle}")
    print("reload the broker to apply: systemctl reload mosquitto")
    # The bundle holds the kiosk's MQTT password in plain text: it must not stay here.
    print(f"copy the bundle to the kiosk, then delete it: shred -u {bundle}/* && "
          f"rmdir {bundle}")
    return 0
