"""Cells that a spreadsheet opens as text, never as a formula, for every CSV the app exports.

Video names come from uploads and names from user accounts, so a cell such as
``=HYPERLINK("http://evil", "x")`` could run when a researcher opens the export in Excel or
LibreOffice. Such cells get a leading apostrophe (OWASP's advice); numbers stay numbers.
"""

from __future__ import annotations

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")  # a spreadsheet would run such a cell as a formula


def spreadsheet_cell(value: object) -> object:
    """``value``, with text that a spreadsheet would run as a formula prefixed by ``'``."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value
