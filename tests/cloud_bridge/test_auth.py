"""Admin secrets: argon2 work happens on use, never at import; unknown users fail alike."""

from __future__ import annotations

import subprocess
import sys

import pytest

from cloud_bridge import auth
from cloud_bridge.errors import Unauthorized

pytestmark = pytest.mark.real_argon2  # the production hasher: these test hashing itself


def test_import_computes_no_hash():
    code = ("import cloud_bridge.auth as a; "
            "assert a._dummy_hash.cache_info().currsize == 0, 'hashed at import'")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr


async def test_unknown_user_and_wrong_secret_fail_alike(db):
    async with db.session() as s:
        await auth.create_admin_user(s, "boss", "right-secret", auth.HEAD_OFFICE)
    messages = []
    for name, secret in (("nobody", "right-secret"), ("boss", "wrong-secret")):
        async with db.session() as s:
            with pytest.raises(Unauthorized) as err:
                await auth.admin_login(s, name, secret, ttl_s=60)
        messages.append(str(err.value.detail))
    assert messages[0] == messages[1]
    assert auth._dummy_hash.cache_info().currsize == 1
