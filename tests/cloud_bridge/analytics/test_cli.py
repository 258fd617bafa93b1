"""``cloud-bridge analytics`` as an operator runs it: generate, run, import, purge."""

from __future__ import annotations

import json

from cloud_bridge.cli import main


def _config(tmp_path) -> str:
    path = tmp_path / "bridge.toml"
    db = tmp_path / "bridge.db"
    path.write_text(f'[database]\nurl = "sqlite+aiosqlite:///{db}"\n[mqtt]\nenabled = false\n')
    return str(path)


def test_generate_run_import_purge(tmp_path, capsys):
    cfg = _config(tmp_path)
    assert main(["migrate", "--config", cfg]) == 0
    capsys.readouterr()
    assert main(["analytics", "generate", "--config", cfg, "--seed", "3", "--stores", "2",
                 "--products", "30", "--members", "80", "--days", "35", "--lines", "1500",
                 "--start", "2026-01-05"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["seed"] == 3 and out["lines"] > 1000
    assert main(["analytics", "generate", "--config", cfg]) == 1  # not into a used database
    assert "already has orders" in capsys.readouterr().err
    assert main(["analytics", "run", "--config", cfg, "--as-of", "2026-02-08"]) == 0
    run = json.loads(capsys.readouterr().out)
    assert run["rows"]["sales_daily"] > 0 and run["rows"]["forecasts"] > 0
    prices = tmp_path / "rival.csv"
    prices.write_text("barcode,price\n6901234567892,3.5\n", encoding="utf-8")
    assert main(["analytics", "competitor-import", "--config", cfg, "--competitor", "rival",
                 "--file", str(prices)]) == 0
    assert json.loads(capsys.readouterr().out) == {"competitor": "rival", "rows": 1}
    prices.write_text("barcode,price\nnot-a-code,3.5\n", encoding="utf-8")
    assert main(["analytics", "competitor-import", "--config", cfg, "--competitor", "rival",
                 "--file", str(prices)]) == 1
    assert "line 2" in capsys.readouterr().err
    png = tmp_path / "stores.png"
    assert main(["analytics", "chart", "--config", cfg, "sales_by_store", "--start",
                 "2026-02-01", "--end", "2026-02-08", "--out", str(png)]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["rows"] == 2 and png.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    from .test_charts import bar_lengths, decode

    assert len(bar_lengths(decode(png.read_bytes()))) == 2
    assert main(["analytics", "chart", "--config", cfg, "no_such", "--start", "2026-02-01",
                 "--end", "2026-02-08", "--out", str(png)]) == 1
    assert "no metric" in capsys.readouterr().err
    assert main(["analytics", "purge-events", "--config", cfg, "--days", "30"]) == 0
    assert json.loads(capsys.readouterr().out) == {"purged": 0}
