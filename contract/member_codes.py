"""What the kiosk and the cloud agree on about member codes and offline member credit.

A member code is a :mod:`contract.tokens` token of kind :data:`MEMBER_KIND`, signed by
the bridge's member key; its ``r`` claim is the snapshot ``<level>/<points>/<fen>``
(level, points and stored value when the code was shown). The kiosk verifies it
offline with the chain's public key; the cloud verifies it again when the sale
arrives (``cloud_bridge.security.member_sales``).

The offline bounds are the most stored value a kiosk may ever take while cut off
(money the chain may never collect): no config, shadow or head office raises them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MEMBER_KIND = "member"
# The bridge issues codes for this long and both verifiers cap a code's age at it: long
# enough to walk from the phone to the camera and retry once, short enough that a
# screenshot passed around is useless within minutes.
MEMBER_CODE_MAX_AGE_S = 180

# Hard bounds of offline stored value: 2,000 yuan per member a day, 1,000 per sale.
MAX_OFFLINE_STORED_VALUE_FEN = 200_000
MAX_OFFLINE_SALE_FEN = 100_000

_SNAPSHOT_RE = re.compile(r"^([a-z0-9_]{1,16})/([0-9]{1,12})/([0-9]{1,12})$")


@dataclass(frozen=True, slots=True)
class Snapshot:
    """A member's level and balances when the code was shown."""

    level: str
    points: int
    stored_value: int

    def role(self) -> str:
        """The token's ``r`` claim for this snapshot."""
        return f"{self.level}/{self.points}/{self.stored_value}"


def parse_snapshot(role: str | None) -> Snapshot | None:
    """The snapshot in a member token's ``r`` claim, or ``None`` when it is not one."""
    m = _SNAPSHOT_RE.match(role or "")
    if m is None:
        return None
    return Snapshot(m.group(1), int(m.group(2)), int(m.group(3)))
