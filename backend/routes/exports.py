"""Report tables as CSV or XLSX downloads (XLSX written by XlsxWriter)."""

import csv
import io
from collections.abc import Sequence
from typing import Annotated, Literal

from litestar import Response
from litestar.params import QueryParameter

Format = Annotated[
    Literal["json", "csv", "xlsx"],
    QueryParameter(name="format", description="json (default), or a csv / xlsx download"),
]
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
Cell = str | int | float | None


def table_response(
    name: str, format: str, headers: Sequence[str], rows: Sequence[Sequence[Cell]]
) -> Response:
    """The table as a download named `name`.csv / `name`.xlsx."""
    if format == "csv":
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(headers)
        writer.writerows(rows)
        # A BOM, so that Excel opens the Cyrillic text as UTF-8 (Litestar adds the charset).
        body, media_type = ("\ufeff" + out.getvalue()).encode(), "text/csv"
    else:
        # Imported on the first spreadsheet: every web worker would carry it otherwise.
        import xlsxwriter

        buffer = io.BytesIO()
        book = xlsxwriter.Workbook(buffer, {"in_memory": True})
        sheet = book.add_worksheet(name[:31])
        bold = book.add_format({"bold": True})
        sheet.write_row(0, 0, headers, bold)
        for n, row in enumerate(rows, start=1):
            sheet.write_row(n, 0, row)
        sheet.freeze_panes(1, 0)
        book.close()
        body, media_type = buffer.getvalue(), XLSX
    return Response(
        body,
        media_type=media_type,
        headers={"content-disposition": f'attachment; filename="{name}.{format}"'},
    )
