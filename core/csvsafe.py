"""CSV cells a spreadsheet will not execute (OWASP "CSV injection"), while numbers stay numbers.

A text cell starting with = + - @ tab or carriage return is prefixed with a single quote, so
Excel, LibreOffice and Google Sheets show it as text instead of evaluating it as a formula.
Numbers (Decimal, int, float) are never touched: -125.50 stays a number. The same rule exists
twice, once in Python (neutralise) and once in SQL (sql_text) for exports streamed by COPY;
tests check that the two agree.

Every CSV the product produces goes through this module: admin exports (sql_text), investor
statements and transaction histories and the manager's call notice (csv_text), chart and table
downloads (frame_to_csv / rows_to_csv).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Any

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value: Any) -> Any:
    """The value as a spreadsheet may safely show it: dangerous text gets a leading quote."""
    if isinstance(value, str) and value[:1] in FORMULA_STARTS and value:
        return "'" + value
    return value


def sql_text(expression: str) -> str:
    """The SQL twin of neutralise() for a text expression (NULL stays NULL)."""
    return (
        f"CASE WHEN left({expression}, 1) IN ('=', '+', '-', '@', chr(9), chr(13)) "
        f"THEN '''' || {expression} ELSE {expression} END"
    )


def cell(value: Any) -> Any:
    """One CSV cell: None and NaN empty, a Decimal in plain notation (1E+3 would read as text),
    other numbers as they are, text neutralised."""
    try:
        if value is None or value != value:  # None, NaN, NaT
            return ""
    except TypeError:  # pandas.NA refuses to be compared: it is missing too
        return ""
    if isinstance(value, Decimal):
        return format(value, "f")
    return neutralise(value)


def csv_text(header: Sequence[str], rows: Iterable[Sequence[Any]], *, line_end: str = "\r\n") -> str:
    """A CSV document as text, header and every cell through cell()."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator=line_end)
    writer.writerow([cell(h) for h in header])
    for row in rows:
        writer.writerow([cell(v) for v in row])
    return out.getvalue()


def rows_to_csv(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> bytes:
    """A small CSV (a chart's data) as UTF-8 bytes, every cell neutralised."""
    return csv_text(header, rows, line_end="\n").encode()


def frame_to_csv(frame: Any) -> bytes:
    """A pandas DataFrame as neutralised CSV bytes (for the download button under each chart)."""
    return rows_to_csv([str(c) for c in frame.columns], frame.itertuples(index=False, name=None))
