"""The rows of an analytics query as CSV or as a table for people, the same from the
command line and the HTTP API."""
import csv
import io


def as_csv(rows: list[dict]) -> str:
    """A header of the columns, then a line per row; nothing for no rows."""
    if not rows:
        return ""
    names = list(rows[0])
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(names)
    writer.writerows([row[name] for name in names] for row in rows)
    return buffer.getvalue()


def as_table(rows: list[dict]) -> str:
    if not rows:
        return "(no rows)\n"
    names = list(rows[0])
    cells = [names] + [[_cell(row[name]) for name in names] for row in rows]
    widths = [max(len(line[index]) for line in cells) for index in range(len(names))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(line, widths)).rstrip()
             for line in cells]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(lines) + "\n"


def _cell(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.3f}".rstrip("0").rstrip(".")
    return str(value)
