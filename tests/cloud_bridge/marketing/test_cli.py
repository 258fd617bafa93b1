"""``cloud-bridge members import`` and ``cloud-bridge marketing issue-coupons`` as staff
run them: a CSV and a list file, a config file, exit statuses, what lands in the database."""

from __future__ import annotations

import asyncio

from sqlalchemy import func, select

from cloud_bridge.cli import main
from cloud_bridge.marketing import service
from cloud_bridge.marketing.models import Coupon
from cloud_bridge.members.models import MemberRecord

from ..bridge_process import write_config

CSV = """openid,unionid,phone,home_store,birthday
o-alice,u-alice,13800000001,s1,1990-01-02
o-bob,,,s2,
o-bad,,not-a-phone,s1,
o-carol,,,,1991-02-30
"""


def test_import_members_then_issue_a_batch(tmp_path, db_url, capsys):
    cfg = write_config(tmp_path / "bridge.toml", db_url=db_url, worker="cli", mqtt_port=None)
    csv_file = tmp_path / "members.csv"
    csv_file.write_text(CSV, encoding="utf-8")
    assert main(["members", "import", "--file", str(csv_file), "--config", str(cfg)]) == 1
    out = capsys.readouterr()
    assert "2 created, 0 already there, 2 rows skipped" in out.out
    assert "members.csv:4" in out.err and "members.csv:5" in out.err
    assert main(["members", "import", "--file", str(csv_file), "--config", str(cfg)]) == 1
    assert "0 created, 2 already there" in capsys.readouterr().out

    async def setup() -> tuple[int, list[str]]:
        from cloud_bridge.db import Database

        async with Database(db_url) as db, db.session() as s:
            t = await service.create_template(
                s, created_by="t", store=None, name_zh="生日券", name_en=None, kind="fixed",
                value=500, cap=None, threshold=0, categories=[], exclude_categories=[],
                valid_from=None, valid_until=None, valid_days=30, total_limit=10,
                per_user_limit=1, min_level=None, stackable=False)
            ids = (await s.scalars(select(MemberRecord.id).order_by(MemberRecord.openid))).all()
            m = await s.scalar(select(MemberRecord).where(MemberRecord.openid == "o-alice"))
            assert (m.unionid, m.phone, m.birthday) == ("u-alice", "13800000001", "1990-01-02")
            return t.id, list(ids)

    tid, ids = asyncio.run(setup())
    listing = tmp_path / "ids.txt"
    listing.write_text("# birthday batch\n" + "\n".join(ids) + "\nmnobody\n", encoding="utf-8")
    args = ["marketing", "issue-coupons", "--template", str(tid), "--members", str(listing),
            "--config", str(cfg)]
    assert main(args) == 1  # mnobody refused
    out = capsys.readouterr()
    assert "coupons issued: 2, refused: 1" in out.out and "mnobody" in out.err
    assert main(args) == 1  # again: the per-user limit holds
    assert "coupons issued: 0, refused: 3" in capsys.readouterr().out

    async def count() -> int:
        from cloud_bridge.db import Database

        async with Database(db_url) as db, db.session() as s:
            return await s.scalar(select(func.count()).select_from(Coupon))

    assert asyncio.run(count()) == 2
    assert main(["marketing", "issue-coupons", "--template", "999", "--members", str(listing),
                 "--config", str(cfg)]) == 1


def test_birthday_coupons_once_for_the_members_born_that_day(tmp_path, db_url, capsys):
    cfg = write_config(tmp_path / "bridge.toml", db_url=db_url, worker="cli", mqtt_port=None)
    csv_file = tmp_path / "members.csv"
    csv_file.write_text(CSV, encoding="utf-8")
    main(["members", "import", "--file", str(csv_file), "--config", str(cfg)])
    capsys.readouterr()

    async def template() -> int:
        from cloud_bridge.db import Database

        async with Database(db_url) as db, db.session() as s:
            t = await service.create_template(
                s, created_by="t", store=None, name_zh="生日券", name_en=None, kind="fixed",
                value=500, cap=None, threshold=0, categories=[], exclude_categories=[],
                valid_from=None, valid_until=None, valid_days=7, total_limit=10,
                per_user_limit=1, min_level=None, stackable=False)
            await s.commit()
            return t.id

    tid = asyncio.run(template())
    args = ["marketing", "birthday-coupons", "--template", str(tid), "--config", str(cfg)]
    assert main([*args, "--date", "2026-01-02"]) == 0  # alice, born 1990-01-02
    assert "members 1, issued 1, already given 0" in capsys.readouterr().out
    assert main([*args, "--date", "2026-01-02"]) == 0  # a second run that day: nothing more
    assert "members 1, issued 0, already given 1" in capsys.readouterr().out
    assert main([*args, "--date", "2026-03-04"]) == 0  # nobody's birthday
    assert "members 0, issued 0" in capsys.readouterr().out
    assert main([*args, "--date", "02/01/2026"]) == 1  # not a date

    async def coupons() -> list[tuple[str, str]]:
        from cloud_bridge.db import Database

        async with Database(db_url) as db, db.read() as s:
            rows = await s.execute(select(MemberRecord.openid, Coupon.channel)
                                   .join(Coupon, Coupon.owner == MemberRecord.id))
            return [tuple(r) for r in rows.all()]

    assert asyncio.run(coupons()) == [("o-alice", "birthday")]
