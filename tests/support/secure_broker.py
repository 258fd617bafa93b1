"""A Mosquitto with the project's rules (password file, per-kiosk ACL, optional TLS)."""

from __future__ import annotations

from pathlib import Path

from common.mosquitto import Broker
from common.ports import free_port


def tls_listener(
    port: int, cafile: Path, certfile: Path, keyfile: Path, require_certificate: bool = False
) -> str:
    """Mosquitto lines for a TLS listener on ``port``, as in config/mosquitto/mosquitto.conf."""
    return (
        f"\nlistener {port} 127.0.0.1\n"
        f"cafile {cafile}\ncertfile {certfile}\nkeyfile {keyfile}\n"
        "tls_version tlsv1.2\n"
        f"require_certificate {'true' if require_certificate else 'false'}\n"
        "use_username_as_clientid true\n"
    )


def secured_broker(
    workdir: Path, deployment: object, tls: object | None = None,
    require_certificate: bool = False,
) -> Broker:
    """A broker with the project's rules: password file, per-kiosk ACL, no anonymous.

    ``deployment`` is a :class:`cloud_bridge.provisioning.Deployment` (kiosks added).
    With ``tls`` (a :class:`tests.support.tls.TlsMaterial`), a second listener on
    ``Broker.tls_port`` speaks TLS with its CA and server certificate, and asks for a
    client certificate when ``require_certificate``. Not started.
    """
    from cloud_bridge.provisioning import render_broker_config

    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    tls_port = None
    tls_conf = ""
    if tls is not None:
        tls_port = free_port()
        while tls_port == port:
            tls_port = free_port()
        tls_conf = tls_listener(
            tls_port, tls.ca.cert, tls.server.cert, tls.server.key,  # type: ignore[attr-defined]
            require_certificate,
        )
    conf = render_broker_config(
        deployment, port=port, persistence_dir=workdir, log_file=workdir / "mosquitto.log",  # type: ignore[arg-type]
        tls=tls_conf,
    )
    broker = Broker(workdir, port=port, conf_text=conf)
    broker.tls_port = tls_port
    return broker
