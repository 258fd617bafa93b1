"""The update state file and the atomic symlink switch (stdlib only: :mod:`.guard` uses it).

``state.json`` holds at most one update in progress::

    {"job_id": 7, "cmd_id": "...", "kind": "software", "version": "1.5.0",
     "sha256": "...", "size": 123, "url": "...", "phase": "downloading",
     "link": "/opt/kiosk/current", "previous": "releases/1.4.0", "new": "releases/1.5.0",
     "trials": 0, "baseline": {...}, "reason": null, "reported": ["downloading"]}

Phases: ``queued`` -> ``downloading`` -> ``installing`` -> ``installed`` -> ``switching`` ->
``trial`` (running the new release until its health check) -> ``committed``; or
``rolling_back`` -> ``rolled_back``; or ``failed`` (never switched).
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path

ACTIVE = ("queued", "downloading", "installing", "installed", "switching", "trial",
          "rolling_back")
DONE = ("committed", "rolled_back", "failed")


def write_json(path: Path, data: Mapping[str, object]) -> None:
    """Write ``data`` to ``path`` atomically (temp file, fsync, rename, fsync the dir)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(data, fh, sort_keys=True)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)


def read_json(path: Path) -> dict[str, object] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        # A torn file cannot happen (atomic rename); an unreadable one is treated as no
        # update in progress: the links alone decide what runs, and both are complete.
        return None
    return data if isinstance(data, dict) else None


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def switch_link(link: Path, target: str) -> None:
    """Point ``link`` at ``target`` in one rename: a reader sees the old or the new, never none."""
    tmp = link.with_name(f".{link.name}.switch")
    tmp.unlink(missing_ok=True)
    os.symlink(target, tmp)
    os.replace(tmp, link)
    fsync_dir(link.parent)


def link_target(link: Path) -> str | None:
    try:
        return os.readlink(link)
    except OSError:
        return None
