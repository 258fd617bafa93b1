"""``python -m demo --update``: a staged software rollout to two kiosks, then a bad release.

Mosquitto (the project's ACL), the cloud bridge and two ``kiosk-agent run`` processes, each
in the production layout (``opt/current -> releases/1.0.0``, a release of this project
built as the installer would) under a stand-in for systemd (boot guard, restart on exit).
Head office builds release 1.1.0 of this project, signs it as a layered bundle
(``cloud-bridge fleet bundle build``) and rolls it out in two stages
(``cloud-bridge fleet job create --rate 50%``): kiosk 1 first, kiosk 2 once it committed.
Then a release 1.2.0 whose receipt renderer is broken goes out: kiosk 1 fails its health
check, switches back by itself, and the job aborts before kiosk 2 gets it.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from common.ports import free_port

from . import kit, scenario, term
from .procs import AdminClient, cli, run_cli
from .release import first_release, kiosk_config, project_wheel, source_text
from .supervisor import Supervisor, kiosk_service
from .system import ADMIN_USER, System

KIOSKS = (scenario.KIOSK, "kiosk2")
BEFORE, GOOD, BAD = "1.0.0", "1.1.0", "1.2.0"
#: Longest wait for one rollout (download, build a virtualenv, restart, health check).
ROLLOUT_TIMEOUT_S = 180.0
BROKEN_RENDERER = '''

def render_escpos(*args, **kwargs):  # the demo's bad build: receipts cannot be rendered
    raise RuntimeError("receipt renderer broken in this build")
'''


class UpdateSystem(System):
    """The demo's system with a second kiosk, no payment sandboxes, kiosks under supervision."""

    def __init__(self, out: Path) -> None:
        super().__init__(out)
        self.http_port = free_port()
        self.supervisors: list[Supervisor] = []

    def provision(self) -> None:
        for kiosk in KIOSKS:
            run_cli([*cli("cloud-bridge"), "kiosk", "add", "--store", scenario.STORE,
                     "--kiosk", kiosk, "--config-dir", str(self.deploy),
                     "--out", str(self.out / kiosk / "credentials"), "--mqtt-host",
                     "127.0.0.1", "--mqtt-port", str(self.broker_port)])

    def start_bridge(self) -> None:
        self.manifest.parent.mkdir(parents=True, exist_ok=True)
        self.manifest.write_text("{}", encoding="utf-8")  # no payments in this demo
        super().start_bridge()

    def http_settings(self) -> str:
        # Kiosks download bundles from the address the bridge gives them in each job.
        return f'port = {self.http_port}\npublic_url = "http://127.0.0.1:{self.http_port}"'

    def bridge_env(self) -> dict[str, str]:
        return {**super().bridge_env(), "CLOUD_BRIDGE_JOBS_TICK_S": "0.5"}

    def start_kiosk(self, kiosk: str) -> None:
        home = self.out / kiosk
        root = home / "opt"
        root.mkdir(parents=True)
        first_release(root, BEFORE, self.signing_key())
        config = kiosk_config(home, scenario.STORE, kiosk, self.broker_port)
        self.supervisors.append(kiosk_service(
            root, config, log=self.logs / f"{kiosk}.log",
            env={"CREDENTIALS_DIRECTORY": str(home / "credentials")}).start())

    def signing_key(self) -> Any:
        from contract.signing import load_private_key

        return load_private_key(self.deploy / "keys" / "command_signing.key")

    def stop_all(self) -> None:
        for sup in self.supervisors:
            sup.stop()
        super().stop_all()


def run(out: Path, fast: bool = False) -> int:
    """The update demo; returns the exit status."""
    import logging

    logging.basicConfig(filename=out / "demo.log", level=logging.INFO, force=True)
    system = UpdateSystem(out)
    try:
        term.section("启动系统", "Starting the system")
        system.provision()
        system.start_broker()
        system.start_bridge()
        term.ok(f"Mosquitto + cloud bridge {system.bridge_url}")
        for kiosk in KIOSKS:
            system.start_kiosk(kiosk)
            term.ok(f"{scenario.STORE}/{kiosk}: release {BEFORE} installed "
                    f"(opt/current -> releases/{BEFORE}), agent under a supervisor")
        admin = AdminClient(system.bridge_url)
        admin.login(ADMIN_USER, system.admin_secret)
        if not kit.wait_for(lambda: _running(admin) == {k: BEFORE for k in KIOSKS}, 60):
            raise RuntimeError(f"the kiosks did not come online on {BEFORE} (see logs/)")
        term.ok(f"both kiosks online, running {BEFORE}")
        return Rollout(system, admin).play()
    finally:
        system.stop_all()


def _running(admin: AdminClient) -> dict[str, str]:
    """Version each online kiosk of the demo store runs (its own status says so)."""
    rows = admin.call("GET", f"/api/v1/admin/fleet?store={scenario.STORE}")["items"]
    return {r["kiosk"]: r["version"] for r in rows if r["state"] == "online"}


class Rollout:
    def __init__(self, system: UpdateSystem, admin: AdminClient) -> None:
        self.s, self.admin = system, admin
        self.bundles = system.out / "bundles"

    def bundle(self, version: str, patches: dict[str, str] | None = None) -> Path:
        wheel = project_wheel(version, self.bundles / f"wheels-{version}", patches)
        out = self.bundles / f"agent-{version}.tar"
        run_cli([*cli("cloud-bridge"), "fleet", "bundle", "build", "--kind", "software",
                 "--version", version, "--layered", "--file", str(wheel), "--requirement",
                 f"selfcheckout[kiosk]=={version}", "--key",
                 str(self.s.deploy / "keys" / "command_signing.key"), "--out", str(out)])
        return out

    def job(self, bundle: Path, *extra: str) -> dict[str, Any]:
        import json

        created = json.loads(run_cli(
            [*cli("cloud-bridge"), "fleet", "job", "create", "--config",
             str(self.s.bridge_config), "--bundle", str(bundle), "--target",
             f"store:{scenario.STORE}", "--rate", "50%", *extra], self.s.bridge_env()))
        term.ok(f"`cloud-bridge fleet job create --rate 50%` -> job #{created['id']} "
                f"stages {created['stages']}")
        return self.follow(created["id"])

    def follow(self, job_id: int) -> dict[str, Any]:
        """Print each kiosk's execution as it moves (fleet API), until the job ends."""
        seen: dict[str, tuple[Any, ...]] = {}
        end = time.monotonic() + ROLLOUT_TIMEOUT_S
        while time.monotonic() < end:
            for e in self.admin.call("GET", "/api/v1/admin/fleet/executions")["items"]:
                if e["job_id"] != job_id:
                    continue
                now = (e["stage"], e["state"], e["reason"])
                if seen.get(e["kiosk"]) != now:
                    seen[e["kiosk"]] = now
                    stage = "-" if e["stage"] is None else f"{e['stage'] + 1}/{len(e['stages'])}"
                    why = f" ({e['reason']})" if e["reason"] else ""
                    term.step(f"{e['kiosk']}: 阶段 stage {stage} {e['version']} {e['state']}{why}")
            job = self.admin.call("GET", f"/api/v1/admin/fleet/jobs/{job_id}")
            if job["state"] not in ("running", "created"):
                return job
            time.sleep(0.3)
        raise RuntimeError(f"job {job_id} did not finish in {ROLLOUT_TIMEOUT_S:.0f} s")

    def play(self) -> int:
        term.section("分阶段软件更新", f"Staged software update {BEFORE} -> {GOOD}")
        good = self.job(self.bundle(GOOD))
        after_good = kit.wait_for(lambda: (r := _running(self.admin)) == {
            k: GOOD for k in KIOSKS} and r, 60) or _running(self.admin)
        first = min(good["executions"], key=lambda e: e["finished_at"] or "~")["kiosk"]
        term.ok(f"job #{good['id']} {good['state']}: kiosks now run "
                f"{', '.join(f'{k} {v}' for k, v in sorted(after_good.items()))}")

        term.section("坏版本自动回滚", f"A bad release {BAD}: health check fails, rolled back")
        bad = self.job(self.bundle(BAD, {"drivers/receipt/escpos.py": source_text(
            "drivers/receipt/escpos.py") + BROKEN_RENDERER}), "--abort-health-failures", "1")
        states = {e["kiosk"]: e["state"] for e in bad["executions"]}
        after_bad = kit.wait_for(lambda: (r := _running(self.admin)) == after_good and r,
                                 60) or _running(self.admin)
        term.ok(f"job #{bad['id']} {bad['state']} ({bad['state_reason']}); kiosks run "
                f"{', '.join(f'{k} {v}' for k, v in sorted(after_bad.items()))}")
        print(f"SUMMARY mode=update kiosks={len(KIOSKS)} stages="
              f"{','.join(map(str, good['stages']))} version_before={BEFORE} "
              f"good_job={good['state']} succeeded={good['counts']['succeeded']} "
              f"first_stage={first} running_after_good="
              f"{','.join(v for _, v in sorted(after_good.items()))} "
              f"bad_job={bad['state']} rolled_back={bad['counts']['rolled_back']} "
              f"untouched={sum(s == 'queued' for s in states.values())} running_after_bad="
              f"{','.join(v for _, v in sorted(after_bad.items()))}", flush=True)
        term.out(f"    merchant console 商户后台: {self.s.bridge_url}/console/fleet/updates "
                 f"(login {ADMIN_USER} / {self.s.admin_secret})")
        ok = (good["state"] == "completed" and bad["state"] == "aborted"
              and set(after_bad.values()) == {GOOD})
        return 0 if ok else 1
