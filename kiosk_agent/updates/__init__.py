"""Kiosk updates (issue 20): install a signed bundle beside the running release, switch by
one symlink rename, restart, commit after a health check or switch back.

Layout under the updates root (``/opt/kiosk`` in production)::

    releases/<version>/        one complete release each (venv/ for software)
    current -> releases/<v>    what the service runs (/opt/kiosk/current/venv/bin/...)
    config-releases/<v>/kiosk.toml   and the config link (e.g. /etc/kiosk-agent/kiosk.toml)
    updates/state.json         the one in-progress update, written atomically
    updates/downloads/         bundles being downloaded (resumed with HTTP Range)

Every step leaves a kiosk that starts on the old or the new release: a release is
built under a temporary name and renamed when complete, the switch is one
``os.replace`` of a symlink, and :mod:`.guard` (run before each start) settles a
switch or a rollback that a power cut interrupted.
"""
