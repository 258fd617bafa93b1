#!/usr/bin/env bash
# Install (or update) the self-checkout kiosk on Raspberry Pi OS / Debian.
#
#   sudo scripts/install-kiosk.sh [--dry-run] [--credentials DIR]
#                                 [--staff-pin-file FILE | --ask-staff-pin]
#                                 [--prefix /opt/kiosk] [--no-start] [--no-apt]
#
# What it does, each step safe to repeat (idempotent):
#   1. Debian packages the agent needs (python3-venv, libzbar0, CJK font, udev)
#   2. groups kiosk-staff; system users kiosk (the agent: video, dialout, lp,
#      kiosk-staff) and kiosk-tui (the console TUI: kiosk-staff)
#   3. the first release: PREFIX/releases/VERSION/venv (VERSION from common/version.py)
#      with `pip install 'SRC[kiosk,tui]'`, the link PREFIX/current -> releases/VERSION
#      (replaced in one rename, never absent) and the boot guard copied to
#      PREFIX/boot-guard/ (outside the releases); fleet jobs add the next releases
#   4. the config: PREFIX/config-releases/local/kiosk.toml (the existing
#      /etc/kiosk-agent/kiosk.toml, else config/kiosk.example.toml; never overwritten),
#      PREFIX/kiosk.toml -> it (configuration bundles switch this link) and
#      /etc/kiosk-agent/kiosk.toml -> PREFIX/kiosk.toml
#   5. credentials under /etc/kiosk-agent/credentials (root, 0600; existing files are
#      kept): copied from --credentials DIR; staff_pin_hash from the PIN in
#      --staff-pin-file FILE (first line) or typed at --ask-staff-pin (never on the
#      command line: ps and the shell history would show it)
#   6. udev rules for USB printers and cameras, reloaded and triggered
#   7. systemd units installed and enabled: kiosk-agent.service, kiosk-tui@tty1.service
#      (instead of getty@tty1)
# --dry-run prints every command instead of running it (no root needed).
set -euo pipefail

SRC="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PREFIX=/opt/kiosk
ETC=/etc/kiosk-agent
UNIT_DIR=/etc/systemd/system
UDEV_DIR=/etc/udev/rules.d
DRY_RUN=0
START=1
APT=1
CRED_SRC=""
STAFF_PIN=""
CREDENTIALS=(mqtt_password command_pubkey staff_pin_hash badge_pubkey member_pubkey member_code_key)
APT_PACKAGES=(python3 python3-venv python3-dev libzbar0 libusb-1.0-0 fonts-wqy-microhei udev)

usage() { sed -n '2,/^# --dry-run/p' "$0" | sed 's/^# \{0,1\}//'; }

while [[ $# -gt 0 ]]; do
    case "$1" in
        --dry-run) DRY_RUN=1 ;;
        --no-start) START=0 ;;
        --no-apt) APT=0 ;;
        --prefix) PREFIX="${2:?--prefix needs a directory}"; shift ;;
        --credentials) CRED_SRC="${2:?--credentials needs a directory}"; shift ;;
        --staff-pin-file)
            pin_file="${2:?--staff-pin-file needs a file}"; shift
            IFS= read -r STAFF_PIN <"$pin_file" || [[ -n "$STAFF_PIN" ]] ||
                { echo "install-kiosk: no PIN in $pin_file" >&2; exit 2; } ;;
        --ask-staff-pin)
            IFS= read -rsp "staff PIN: " STAFF_PIN </dev/tty; echo >&2
            IFS= read -rsp "again: " pin_again </dev/tty; echo >&2
            [[ "$STAFF_PIN" == "$pin_again" ]] ||
                { echo "install-kiosk: the PINs differ" >&2; exit 2; } ;;
        --staff-pin|--staff-pin=*)
            echo "install-kiosk: a PIN on the command line is visible in ps and the shell" \
                 "history; use --staff-pin-file FILE or --ask-staff-pin" >&2
            exit 2 ;;
        -h|--help) usage; exit 0 ;;
        *) echo "install-kiosk: unknown option $1" >&2; usage >&2; exit 2 ;;
    esac
    shift
done
VERSION="$(sed -n 's/^__version__ = "\(.*\)"$/\1/p' "$SRC/common/version.py")"
if [[ ! "$VERSION" =~ ^[0-9A-Za-z][0-9A-Za-z._+-]{0,63}$ ]]; then
    echo "install-kiosk: no version in $SRC/common/version.py" >&2
    exit 1
fi
RELEASE="$PREFIX/releases/$VERSION"
VENV="$RELEASE/venv"

say() { printf '==> %s\n' "$*"; }

# run CMD...: execute, or print it in dry-run mode.
run() {
    if [[ $DRY_RUN == 1 ]]; then
        printf '[dry-run]'; printf ' %q' "$@"; printf '\n'
    else
        "$@"
    fi
}

# write_file MODE DEST ORIGIN: install stdin as DEST (mode MODE) when the content differs.
write_file() {
    local mode="$1" dest="$2" origin="$3" tmp
    tmp="$(mktemp)"
    cat >"$tmp"
    if [[ -f "$dest" ]] && cmp -s "$tmp" "$dest"; then
        say "   $dest up to date"
    elif [[ $DRY_RUN == 1 ]]; then
        printf '[dry-run] install -D -m %s %q %q\n' "$mode" "$origin" "$dest"
    else
        install -D -m "$mode" "$tmp" "$dest"
    fi
    rm -f "$tmp"
}

if [[ $DRY_RUN == 0 && $EUID -ne 0 ]]; then
    echo "install-kiosk: run as root (or with --dry-run)" >&2
    exit 1
fi

say "1/7 Debian packages"
if [[ $APT == 1 ]]; then
    missing=()
    for pkg in "${APT_PACKAGES[@]}"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" \
            || missing+=("$pkg")
    done
    if [[ ${#missing[@]} -gt 0 ]]; then
        run apt-get update -qq
        run env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
    else
        say "   all present"
    fi
fi

say "2/7 users and groups"
getent group kiosk-staff >/dev/null || run groupadd --system kiosk-staff
for group in video dialout lp; do
    getent group "$group" >/dev/null || run groupadd --system "$group"
done
if ! id kiosk >/dev/null 2>&1; then
    run useradd --system --user-group --home-dir /var/lib/kiosk-agent --no-create-home \
        --shell /usr/sbin/nologin --comment "kiosk agent" kiosk
fi
run usermod --append --groups video,dialout,lp,kiosk-staff kiosk
if ! id kiosk-tui >/dev/null 2>&1; then
    run useradd --system --gid kiosk-staff --home-dir /nonexistent --no-create-home \
        --shell /usr/sbin/nologin --comment "kiosk staff console" kiosk-tui
fi

say "3/7 release $RELEASE"
# The agent (user kiosk) builds the next releases here and switches the link.
run install -d -m 0755 -o kiosk -g kiosk "$PREFIX" "$PREFIX/releases"
if [[ ! -x "$VENV/bin/python" ]]; then
    # Built in place: nothing points at it until the link below is switched.
    run python3 -m venv --system-site-packages "$VENV"
fi
run "$VENV/bin/python" -m pip install -q --upgrade pip
run "$VENV/bin/python" -m pip install -q "$SRC[kiosk,tui]"
current="$(readlink "$PREFIX/current" 2>/dev/null || true)"
if [[ "$current" == "releases/$VERSION" ]]; then
    say "   $PREFIX/current -> releases/$VERSION already"
elif [[ -n "$current" &&
        "$(printf '%s\n%s\n' "$VERSION" "${current#releases/}" | sort -V | tail -n 1)" != "$VERSION" ]]; then
    # A fleet job already moved the kiosk past this source tree: never downgrade it here.
    say "   kept $PREFIX/current -> $current (newer than $VERSION)"
else
    # One rename: a start at any moment runs the old release or this one, never none.
    run ln -sfn "releases/$VERSION" "$PREFIX/.current.new"
    run mv -T "$PREFIX/.current.new" "$PREFIX/current"
fi
for file in guard.py state.py; do
    write_file 0644 "$PREFIX/boot-guard/$file" "$SRC/kiosk_agent/updates/$file" \
        <"$SRC/kiosk_agent/updates/$file"
done
if [[ -d "$PREFIX/venv" ]]; then
    say "   $PREFIX/venv (the layout before releases) is no longer used; remove it"
fi
# Keep the source (README, example config) next to the venv for reference.
run install -d -m 0755 "$PREFIX/src"
run cp -a "$SRC/README.md" "$SRC/config" "$PREFIX/src/" 2>/dev/null || true

say "4/7 config $ETC/kiosk.toml -> $PREFIX/kiosk.toml -> config-releases/local/kiosk.toml"
# Configuration bundles switch $PREFIX/kiosk.toml (a link the agent may rename) to
# config-releases/<version>/kiosk.toml; $ETC/kiosk.toml stays where operators look, as a
# link to it. Editing it edits the current configuration release in place.
LOCAL_CONFIG="$PREFIX/config-releases/local/kiosk.toml"
run install -d -m 0755 "$ETC"
run install -d -m 0755 -o kiosk -g kiosk "$PREFIX/config-releases"
if [[ -L "$ETC/kiosk.toml" ]]; then
    say "   kept existing $ETC/kiosk.toml -> $(readlink "$ETC/kiosk.toml")"
else
    run install -d -m 0755 "$(dirname "$LOCAL_CONFIG")"
    if [[ -f "$ETC/kiosk.toml" ]]; then
        if [[ ! -f "$LOCAL_CONFIG" ]]; then
            run cp -p "$ETC/kiosk.toml" "$LOCAL_CONFIG"
        fi
    elif [[ ! -f "$LOCAL_CONFIG" ]]; then
        run install -m 0644 "$SRC/config/kiosk.example.toml" "$LOCAL_CONFIG"
    fi
    if [[ ! -L "$PREFIX/kiosk.toml" ]]; then
        run ln -sfn config-releases/local/kiosk.toml "$PREFIX/kiosk.toml"
    fi
    # One rename: the agent reads the old file or the link, never nothing.
    run ln -sfn "$PREFIX/kiosk.toml" "$ETC/.kiosk.toml.new"
    run mv -T "$ETC/.kiosk.toml.new" "$ETC/kiosk.toml"
fi

say "5/7 credentials $ETC/credentials"
run install -d -m 0700 -o root -g root "$ETC/credentials"
for name in "${CREDENTIALS[@]}"; do
    dest="$ETC/credentials/$name"
    if [[ -f "$dest" ]]; then
        say "   kept $name"
    elif [[ -n "$CRED_SRC" && -f "$CRED_SRC/$name" ]]; then
        run install -m 0600 -o root -g root "$CRED_SRC/$name" "$dest"
    elif [[ $name == staff_pin_hash && -n "$STAFF_PIN" ]]; then
        if [[ $DRY_RUN == 1 ]]; then
            printf '[dry-run] hash the staff PIN with argon2 into %q (0600)\n' "$dest"
        else
            (umask 077 && KIOSK_NEW_PIN="$STAFF_PIN" "$VENV/bin/python" -c \
                'import os; from kiosk_agent.control import hash_pin; print(hash_pin(os.environ["KIOSK_NEW_PIN"]))' \
                >"$dest")
            chmod 0600 "$dest"
        fi
    else
        # systemd refuses to start a unit whose LoadCredential= file is absent: leave an
        # empty file (= not set) so the agent starts, sells offline, keeps staff actions
        # locked, until the real secret is written there.
        say "   MISSING $name: write it to $dest (0600), then restart kiosk-agent"
        run install -m 0600 -o root -g root /dev/null "$dest"
    fi
done

say "6/7 udev rules"
for rule in 99-kiosk-printer.rules 99-kiosk-camera.rules; do
    if [[ -f "$SRC/config/udev/$rule" ]]; then
        write_file 0644 "$UDEV_DIR/$rule" "$SRC/config/udev/$rule" <"$SRC/config/udev/$rule"
    else
        say "   $rule not in this source tree; skipped"
    fi
done
if [[ $DRY_RUN == 1 ]] || command -v udevadm >/dev/null 2>&1; then
    run udevadm control --reload-rules
    run udevadm trigger --subsystem-match=video4linux --subsystem-match=usb \
        --subsystem-match=usbmisc --subsystem-match=tty
fi

say "7/7 systemd units"
for unit in kiosk-agent.service kiosk-tui@.service; do
    sed "s#/opt/kiosk#$PREFIX#g" "$SRC/systemd/$unit" \
        | write_file 0644 "$UNIT_DIR/$unit" "$SRC/systemd/$unit"
done
run systemctl daemon-reload
run systemctl enable kiosk-agent.service
run systemctl disable getty@tty1.service
run systemctl enable kiosk-tui@tty1.service
if [[ $START == 1 ]]; then
    run systemctl restart kiosk-agent.service
    run systemctl restart kiosk-tui@tty1.service
fi

say "done: staff members need the kiosk-staff group to use kiosk-tui over SSH"
