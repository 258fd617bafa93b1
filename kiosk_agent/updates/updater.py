"""The kiosk's side of a fleet job: the ``job`` command handler and the update steps.

:meth:`Updater.accept` (the ``job`` handler, after the dispatcher verified the signed
command) records the job in ``state.json`` and starts :meth:`Updater.run`; every step
writes its phase first, so a restart (or a kill) resumes where it was. The switch waits
until the checkout is idle (never during a sale) and outside the forbidden selling
window, then points the link at the new release and asks the service manager for a
restart. On the next start :meth:`Updater.resume` runs the health check of the new
release: pass -> ``committed`` (reported ``succeeded``); fail -> the link goes back to the
previous release, ``rolled_back`` is reported with the reason, and the agent restarts
into the old release.

Progress goes to the bridge as ``cmd/res`` results (:class:`contract.wire.commands.
JobProgress`) under ``<cmd_id>.<n>``; a report that cannot be sent is sent again later.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, time
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from pydantic import ValidationError

from common.jsontypes import JsonMapping, JsonObject
from contract.wire.commands import JobArgs

from . import health, install
from .state import ACTIVE, link_target, read_json, switch_link, write_json

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

log = logging.getLogger(__name__)

# Exit status asking the supervisor for a restart into the other release (EX_TEMPFAIL);
# systemd's Restart=always restarts on any status, the test supervisor on this one too.
RESTART_EXIT = 75
IDLE_POLL_S = 1.0
REPORT_RETRY_S = 2.0
DOWNLOAD_TRIES = 5
DOWNLOAD_RETRY_S = 0.5


class UpdateRefused(Exception):
    """A job this kiosk will not run (another update in progress, bad arguments)."""


class StateTaken(Exception):
    """``state.json`` now holds another job: a held copy of this job's state is stale."""


def same_job(a: JsonMapping | None, b: JsonMapping) -> bool:
    """Whether state ``a`` is of the same execution as ``b`` (job and command id)."""
    return a is not None and (a.get("job_id"), a.get("cmd_id")) == (
        b.get("job_id"), b.get("cmd_id"))


def text(st: JsonMapping, key: str) -> str:
    """The string ``key`` of a job's state (``state.json`` is JSON: checked, not assumed)."""
    value = st[key]
    if not isinstance(value, str):
        raise TypeError(f"state.json: {key} is {type(value).__name__}, not a string")
    return value


@dataclass(frozen=True, slots=True)
class Paths:
    root: Path
    config_link: Path | None = None

    @property
    def state(self) -> Path:
        return self.root / "updates" / "state.json"

    @property
    def downloads(self) -> Path:
        return self.root / "updates" / "downloads"

    def releases(self, kind: str) -> Path:
        return self.root / ("releases" if kind == "software" else "config-releases")

    def link(self, kind: str) -> Path:
        if kind == "software":
            return self.root / "current"
        if self.config_link is None:
            raise UpdateRefused("this kiosk takes no configuration bundles (no config link)")
        return self.config_link


def parse_window(text: str | None) -> tuple[time, time] | None:
    """``"08:00-22:00"`` -> (start, end); ``None``/empty: no forbidden window."""
    if not text:
        return None
    start, _, end = text.partition("-")
    return time.fromisoformat(start.strip()), time.fromisoformat(end.strip())


def in_window(window: tuple[time, time] | None, now: datetime) -> bool:
    if window is None:
        return False
    start, end, t = window[0], window[1], now.time()
    return start <= t < end if start <= end else (t >= start or t < end)


class Updater:
    """Runs fleet jobs on this kiosk.

    Args:
        paths: where releases, links and the state file live.
        keys: head office's public keys (the kiosk's ``command_pubkey``).
        report: ``await report(result_cmd_id, ok, result)`` publishes on ``cmd/res``.
        restart: ask the supervisor for a restart (the agent stops; exit status matters
            only to the test supervisor).
        is_idle: whether the checkout has no sale going on.
        health: ``await health(baseline) -> reason or None`` on the new release.
        baseline: the device health before switching (the new one must be no worse).
        forbid_window: selling hours in which no switch happens (kiosk local time).
        connected: set while the broker link is up; a new release waits for it (up to
            the health check's broker deadline) before it reports ``health_checking``,
            which would otherwise be lost right after the start.
    """

    def __init__(self, paths: Paths, keys: list[Ed25519PublicKey], *,
                 report: Callable[[str, bool, JsonObject], Awaitable[None]],
                 restart: Callable[[], Awaitable[None]],
                 is_idle: Callable[[], bool] = lambda: True,
                 health: Callable[[JsonMapping], Awaitable[str | None]] | None = None,
                 baseline: Callable[[], JsonMapping] = dict,
                 forbid_window: tuple[time, time] | None = None,
                 tz: str = "Asia/Shanghai",
                 step_hook: Callable[[str], None] | None = None,
                 connected: asyncio.Event | None = None) -> None:
        self.paths, self.keys = paths, keys
        self._report, self._restart = report, restart
        self.is_idle, self.health, self.baseline = is_idle, health, baseline
        self.forbid_window, self.tz = forbid_window, ZoneInfo(tz)
        self.step_hook = step_hook or (lambda step: None)
        self.connected = connected
        self.task: asyncio.Task[None] | None = None

    # -- state ---------------------------------------------------------------------

    def state(self) -> JsonObject | None:
        return read_json(self.paths.state)

    def _save(self, st: JsonObject, phase: str | None = None, *,
              new_job: bool = False) -> None:
        """Write ``st``, the state of one job, to ``state.json``.

        Only over the same job's state (``new_job``: :meth:`accept` replaces a finished
        one). A coroutine holds its job's state across awaits (a final report waiting for
        the link); if a new job was accepted meanwhile, writing the old state back would
        put the finished job over the new one's ``trial``: the boot guard would then see
        nothing to settle while the link names the new release, and a new release that
        crashes at start would be started for ever (issue 20).

        Raises:
            StateTaken: ``state.json`` holds another job.
        """
        if not new_job and not same_job(self.state() or st, st):
            raise StateTaken(f"state.json holds another job than {st.get('job_id')}")
        if phase:
            st["phase"] = phase
        write_json(self.paths.state, st)
        self.step_hook(text(st, "phase"))

    def _mark_reported(self, st: JsonObject) -> None:
        """Record that the job's final state went out (unless a newer job has the file)."""
        st["final_reported"] = True
        try:
            self._save(st)
        except StateTaken:
            log.info("job %s: final state reported; a newer job is under way", st["job_id"])

    async def report(self, st: JsonObject, state: str, reason: str | None = None) -> bool:
        """Send ``state`` for the job in ``st``; ``False`` when it could not go out now."""
        from contract.wire.commands import progress_cmd_id

        result: JsonObject = {"job_id": st["job_id"], "state": state,
                              "version": st.get("version"), "reason": reason}
        try:
            await self._report(progress_cmd_id(text(st, "cmd_id"), state),
                               state not in ("failed", "rolled_back"), result)
        except Exception as err:  # link down: the final state is sent again later
            log.warning("job %s: %s not reported yet: %s", st["job_id"], state, err)
            return False
        return True

    async def _link_up(self, at_most: float) -> None:
        """Until the broker link comes up (a report can go out then), at most ``at_most``."""
        if self.connected is None or self.connected.is_set():
            await asyncio.sleep(at_most)  # up, yet the publish failed: the link is dropping
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.connected.wait(), at_most)

    # -- the command ---------------------------------------------------------------

    async def accept(self, args: JsonMapping) -> JsonObject:
        """The ``job`` command: record it and start it (returns at once)."""
        try:
            job = JobArgs.model_validate(args)
        except ValidationError as err:
            raise UpdateRefused(f"bad job arguments: {err.errors()[0]['msg']}") from err
        current = self.state()
        if current and current.get("phase") in ACTIVE:
            if current.get("job_id") == job.job_id:
                return {"job_id": job.job_id, "state": current["phase"]}
            raise UpdateRefused(f"update of job {current.get('job_id')} in progress")
        if current is not None and same_job(current, {"job_id": job.job_id,
                                                      "cmd_id": job.report_id}):
            return {"job_id": job.job_id, "state": current["phase"]}  # done: not again
        self.paths.link(job.kind)  # refuses a config job when there is no config link
        st: JsonObject = {**job.model_dump(mode="json"), "cmd_id": job.report_id, "phase": "queued",
              "trials": 0, "reason": None, "final_reported": False}
        self._save(st, new_job=True)
        self.start()
        return {"job_id": job.job_id, "state": "queued"}

    def start(self) -> None:
        if self.task is None or self.task.done():
            self.task = asyncio.create_task(self.run(), name="kiosk-update")

    # -- the steps -----------------------------------------------------------------

    async def run(self) -> None:
        """Carry the recorded update forward from its phase (after accept or a restart)."""
        st = self.state()
        if not st:
            return
        try:
            if st["phase"] in ("queued", "downloading"):
                self._save(st, "downloading")
                await self.report(st, "downloading")
                bundle = self.paths.downloads / f"{st['sha256']}.tar"
                await self._download(st, bundle)
                self._save(st, "installing")
            if st["phase"] == "installing":
                await self.report(st, "installing")
                bundle = self.paths.downloads / f"{st['sha256']}.tar"
                release, manifest = await asyncio.to_thread(
                    install.install, bundle, self.paths.releases(text(st, "kind")), self.keys)
                if manifest.version != st["version"] or manifest.kind != st["kind"]:
                    raise install.InstallError(
                        f"bundle is {manifest.kind} {manifest.version}, the job says "
                        f"{st['kind']} {st['version']}")
                st["release"] = str(release)
                self._save(st, "installed")
            if st["phase"] == "installed":
                await self._wait_until_allowed()
                await self._switch(st)
        except install.InstallError as err:
            await self._fail(st, str(err))
        except asyncio.CancelledError:
            raise
        except StateTaken as err:  # cannot happen while accept refuses an active job
            log.error("update of job %s stopped: %s", st.get("job_id"), err)
        except Exception as err:
            log.exception("update of job %s failed", st.get("job_id"))
            await self._fail(st, f"{type(err).__name__}: {err}")

    async def _download(self, st: JsonObject, bundle: Path) -> None:
        """Download, resuming after a cut link (each try continues the ``.part``)."""
        for attempt in range(1, DOWNLOAD_TRIES + 1):
            try:
                size = st["size"]
                assert isinstance(size, int)  # JobArgs checked it when the job came
                await install.download(text(st, "url"), bundle, text(st, "sha256"), size)
                return
            except install.InstallError as err:
                if attempt == DOWNLOAD_TRIES or "sha256" in str(err):
                    raise
                log.warning("job %s: %s; resuming (try %d)", st["job_id"], err, attempt + 1)
                await asyncio.sleep(DOWNLOAD_RETRY_S * attempt)

    async def _wait_until_allowed(self) -> None:
        """Never during a sale, never in the forbidden selling window."""
        while True:
            if self.is_idle() and not in_window(self.forbid_window, datetime.now(self.tz)):
                return
            await asyncio.sleep(IDLE_POLL_S)

    def _target(self, st: JsonObject, link: Path) -> str:
        release = Path(text(st, "release"))
        target = release / "kiosk.toml" if st["kind"] == "config" else release
        return os.path.relpath(target, link.parent)

    async def _switch(self, st: JsonObject) -> None:
        link = self.paths.link(text(st, "kind"))
        st.update(link=str(link), previous=link_target(link), new=self._target(st, link),
                  baseline=self.baseline(), trials=0)
        self._save(st, "switching")
        switch_link(link, text(st, "new"))
        self._save(st, "trial")
        log.info("job %s: switched to %s %s; restarting", st["job_id"], st["kind"],
                 st["version"])
        await self._restart()

    async def _fail(self, st: JsonObject, reason: str) -> None:
        log.error("job %s failed: %s", st.get("job_id"), reason)
        st["reason"] = reason[:300]
        self._save(st, "failed")
        if await self.report(st, "failed", reason[:300]):
            self._mark_reported(st)

    # -- after a restart -----------------------------------------------------------

    async def resume(self) -> None:
        """At start: judge a release on trial, resend a final report, resume a download."""
        st = self.state()
        if not st:
            return
        phase = st.get("phase")
        if phase == "trial":
            if self.connected is not None:
                with contextlib.suppress(TimeoutError):  # then the health check says why
                    await asyncio.wait_for(self.connected.wait(), health.BROKER_DEADLINE_S)
            await self.report(st, "health_checking")
            baseline = st.get("baseline") or {}
            assert isinstance(baseline, dict)  # _switch saved the device health there
            reason = await self.health(baseline) if self.health else None
            if reason is None:
                self._save(st, "committed")
                log.info("job %s: %s %s committed", st["job_id"], st["kind"], st["version"])
            else:
                why = st["reason"] = f"health check: {reason}"[:300]
                self._save(st, "rolling_back")
                previous = st.get("previous")
                if previous:
                    assert isinstance(previous, str)  # a link target (os.readlink)
                    switch_link(Path(text(st, "link")), previous)
                self._save(st, "rolled_back")
                log.error("job %s: %s; switched back, restarting", st["job_id"], why)
                if await self.report(st, "rolled_back", why):
                    self._mark_reported(st)
                await self._restart()
                return
            phase = "committed"
        if phase in ("committed", "rolled_back", "failed") and not st.get("final_reported"):
            state = "succeeded" if phase == "committed" else str(phase)
            # Meanwhile the link may bring the next job: _mark_reported leaves its state be.
            final_reason = st.get("reason")
            # _fail or the health check wrote it (a string), or there is none
            assert final_reason is None or isinstance(final_reason, str)
            while not await self.report(st, state, final_reason):
                await self._link_up(REPORT_RETRY_S)
            self._mark_reported(st)
        elif phase in ACTIVE:
            self.start()
