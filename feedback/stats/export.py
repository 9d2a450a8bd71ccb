"""Any table of the statistics as CSV or Excel, up to a number of rows."""

import csv
import io

from django.http import HttpResponse
from django.utils.translation import gettext

from feedback.stats.tables import Table
from tickets.errors import InvalidInput

FORMATS = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


def check_export(fmt: str) -> None:
    if fmt not in FORMATS:
        message = gettext("Export as csv or xlsx.")
        raise InvalidInput(message, fields={"export": [message]})


def export_response(table: Table, *, fmt: str, filename: str) -> HttpResponse:
    """Return the table as a download: its header, then each row's raw values."""
    check_export(fmt)
    header = [column.label + (" (%)" if column.rate is not None else "") for column in table.columns]
    rows = [[cell.value for cell in row.cells] for row in table.rows]
    body = _csv(header, rows) if fmt == "csv" else _xlsx(table.title, header, rows)
    response = HttpResponse(body, content_type=FORMATS[fmt])
    response["Content-Disposition"] = f'attachment; filename="{filename}.{fmt}"'
    response["Cache-Control"] = "private, no-store"
    return response


def _csv(header: list[str], rows: list[list]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    writer.writerows([_safe(value) for value in row] for row in rows)
    # With a byte-order mark, spreadsheet programs read the Chinese names as UTF-8.
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def _safe(value: object) -> object:
    # A name starting like a formula would run as one in a spreadsheet program.
    if value is None:
        return ""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@"):
        return "'" + value
    return value


def _xlsx(title: str, header: list[str], rows: list[list]) -> bytes:
    from openpyxl import Workbook

    book = Workbook(write_only=True)
    # A sheet's title is at most 31 characters and takes none of []:*?/\
    sheet = book.create_sheet(title="".join(c for c in str(title) if c not in "[]:*?/\\")[:31] or "Sheet")
    sheet.append(header)
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
