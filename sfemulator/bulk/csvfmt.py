"""CSV as the Bulk API 2.0 reads and writes it: the job's column delimiter and line ending,
every value quoted on output, empty for null."""
from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator, Sequence

#: ``columnDelimiter`` values and the character each names.
DELIMITERS = {"COMMA": ",", "TAB": "\t", "PIPE": "|", "SEMICOLON": ";", "CARET": "^", "BACKQUOTE": "`"}
LINE_ENDINGS = {"LF": "\n", "CRLF": "\r\n"}
#: A CSV value that sets a field to null on ingest (an empty value leaves it unchanged).
NULL_VALUE = "#N/A"


def read_rows(data: bytes, delimiter: str) -> tuple[list[str], list[dict[str, str]]]:
    """(header, rows as {column: value}) of one uploaded CSV file; a UTF-8 byte-order mark is ignored."""
    text = data.decode("utf-8-sig")
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=DELIMITERS[delimiter])
    rows = [r for r in reader if r]
    if not rows:
        return [], []
    header = [h.strip() for h in rows[0]]
    return header, [dict(zip(header, r, strict=False)) for r in rows[1:]]  # a short row: the rest blank


def write_rows(header: Sequence[str], rows: Iterable[Sequence[str]], delimiter: str = "COMMA",
               line_ending: str = "LF") -> str:
    """A CSV document with every value quoted (empty values too), as Salesforce writes results."""
    out = io.StringIO()
    for line in _lines([header, *rows], delimiter, line_ending):
        out.write(line)
    return out.getvalue()


def _lines(rows: Iterable[Sequence[str]], delimiter: str, line_ending: str) -> Iterator[str]:
    sep = DELIMITERS[delimiter]
    end = LINE_ENDINGS[line_ending]
    for row in rows:
        yield sep.join('"' + v.replace('"', '""') + '"' for v in row) + end
