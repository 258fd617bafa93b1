"""Mini-program payment tables: the member's payment password for stored value."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from cloud_bridge.models import Base, UtcDateTime, now


class PayPassword(Base):
    """A member's 6-digit payment password (支付密码), argon2-hashed, with its lockout.

    ``failures`` counts attempts since the last success, taken *before* the hash is
    checked, so that guesses sent at once cannot all get past the limit.
    """

    __tablename__ = "mp_pay_passwords"
    member_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    password_hash: Mapped[str] = mapped_column(String(200))
    failures: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=now)
