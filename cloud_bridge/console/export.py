"""CSV and XLSX files of console tables (UTF-8 with BOM so Excel shows Chinese)."""

from __future__ import annotations

import asyncio
import csv
import io
from collections.abc import Sequence

CSV_TYPE = "text/csv; charset=utf-8"
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def csv_bytes(header: Sequence[str], rows: Sequence[Sequence[object]]) -> bytes:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow(header)
    for row in rows:
        # A cell starting with = + - @ is a formula to a spreadsheet: quote it as text.
        writer.writerow(["'" + c if isinstance(c, str) and c[:1] in "=+-@" else c
                         for c in row])
    return ("\ufeff" + buf.getvalue()).encode("utf-8")


def _xlsx(header: Sequence[str], rows: Sequence[Sequence[object]], title: str) -> bytes:
    from openpyxl import Workbook

    wb = Workbook(write_only=True)
    ws = wb.create_sheet(title[:31])
    ws.append(list(header))
    for row in rows:
        ws.append(list(row))
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


async def xlsx_bytes(header: Sequence[str], rows: Sequence[Sequence[object]],
                     title: str) -> bytes:
    """An XLSX workbook of one sheet (built in a thread: large files take a while)."""
    return await asyncio.to_thread(_xlsx, header, rows, title)
