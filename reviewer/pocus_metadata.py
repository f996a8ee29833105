"""Parse the POCUS dataset's own ``dataset_metadata.csv`` into validated rows, trusting nothing.

The CSV is hand-edited in a spreadsheet: flags appear as ``1``, ``1.0`` or blank, free-text cells hold
anything, and lines may be malformed. Every cell is therefore read as text and parsed here; anything
unusable becomes a rejected row or a warning for the import report instead of an exception.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import pandas as pd

from reviewer.vocab import LusClass, Pattern, Probe

FILENAME, LABEL, PROBE = "Filename", "Label", "Probe"
LICENSE, LICENSE_URL = "License", "LinkToLicense"
#: Where the dataset names a video's source: a link, or a credit line when there is no link.
URL_COLUMNS = ("URL (Video Name)", "URL")
COMMENT_COLUMNS = (("MD1", "Comments first medical doctor (MD1)"), ("MD2", "MD2"), ("MD3", "MD3"))
PATTERN_COLUMNS: dict[str, Pattern] = {
    "Effusion": Pattern.EFFUSION,
    "Consolidations": Pattern.CONSOLIDATION,
    "B-lines": Pattern.B_LINES,
    "A-lines": Pattern.A_LINES,
    "Pleural line irregularities": Pattern.PLEURAL_IRREGULAR,
    "Air bronchogram": Pattern.AIR_BRONCHOGRAM,
}
#: The dataset's label spellings (and this tool's own values), compared case-insensitively.
LABELS: dict[str, LusClass] = {
    "covid-19": LusClass.COVID,
    "bacterial pneumonia": LusClass.PNEUMONIA,
    "viral pneumonia": LusClass.VIRAL,
    "regular": LusClass.HEALTHY,
    **{member.value: member for member in LusClass},
}
#: Cell texts that mean "no value" in spreadsheets.
BLANKS = frozenset({"", "nan", "none", "null", "n/a", "na"})
#: Longest free text kept from one cell; longer texts are cut.
MAX_TEXT = 2000

Rejected = list[tuple[str, str]]


class PocusImportError(ValueError):
    """The folder cannot be imported at all (no metadata, unreadable CSV); the message is safe to show."""


@dataclass(frozen=True)
class PocusRow:
    """One usable metadata row: everything the ingest needs besides the video bytes."""

    name: str
    label: LusClass
    probe: Probe | None
    source_url: str | None
    license: str | None
    license_url: str | None
    comment: str | None
    patterns: tuple[Pattern, ...]


def read_metadata(path: Path, rejected: Rejected, warnings: list[str]) -> dict[str, PocusRow]:
    """Usable rows keyed by file name; unusable ones go to ``rejected``, oddities to ``warnings``.

    Raises:
        PocusImportError: if the file is not a readable CSV or lacks the file-name or label column.
    """
    table = _read_table(path, rejected)
    missing = [column for column in (FILENAME, LABEL) if column not in table.columns]
    if missing:
        raise PocusImportError(f"{path.name} has no {' or '.join(repr(c) for c in missing)} column.")
    optional = [PROBE, LICENSE, LICENSE_URL, *PATTERN_COLUMNS]
    absent = [column for column in optional if column not in table.columns]
    if absent:
        warnings.append(f"{path.name} has no column(s) {', '.join(absent)}; those fields stay empty.")
    rows: dict[str, PocusRow] = {}
    for number, record in enumerate(table.to_dict("records"), start=1):
        row = _parse_row({str(k): v for k, v in record.items()}, number, rejected, warnings)
        if row is None:
            continue
        if row.name in rows:
            rejected.append(
                (row.name, f"Row {number} repeats an earlier row for this file; the first is used.")
            )
            continue
        rows[row.name] = row
    return rows


def _read_table(path: Path, rejected: Rejected) -> pd.DataFrame:
    """All cells as text; lines with too many fields are collected instead of aborting the read."""
    bad: list[list[str]] = []

    def keep_bad(fields: list[str]) -> None:
        bad.append(fields)

    try:
        table = pd.read_csv(
            path,
            dtype=str,
            keep_default_na=False,
            engine="python",
            on_bad_lines=keep_bad,
            encoding="utf-8-sig",
        )
    except (UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError, OSError) as exc:
        raise PocusImportError(
            f"{path.name} could not be read as a UTF-8 CSV file ({type(exc).__name__})."
        ) from exc
    where = list(table.columns).index(FILENAME) if FILENAME in table.columns else 0
    for fields in bad:
        name = _clean(fields[where]) if len(fields) > where else ""
        rejected.append(
            (
                name or "?",
                f"Malformed line with {len(fields)} fields (the header has "
                f"{len(table.columns)}); it was skipped.",
            )
        )
    return table


def _parse_row(
    record: dict[str, object], number: int, rejected: Rejected, warnings: list[str]
) -> PocusRow | None:
    name = _clean(record.get(FILENAME))
    if not name:
        rejected.append((f"row {number}", "The row has no file name."))
        return None
    label_text = _clean(record.get(LABEL))
    label = LABELS.get(label_text.casefold())
    if label is None:
        rejected.append((name, f"Unknown label {label_text[:80]!r}."))
        return None
    source = next((text for column in URL_COLUMNS if (text := _clean(record.get(column)))), "")
    link = source if _is_web_link(source) else ""
    return PocusRow(
        name=name,
        label=label,
        probe=_probe(_clean(record.get(PROBE)), name, warnings),
        source_url=link[:MAX_TEXT] or None,
        license=_clean(record.get(LICENSE))[:MAX_TEXT] or None,
        license_url=_url(_clean(record.get(LICENSE_URL)), name, warnings),
        comment=_comment(record, credit="" if link else source),
        patterns=tuple(
            p for column, p in PATTERN_COLUMNS.items() if _flag(record.get(column), name, column, warnings)
        ),
    )


def _clean(value: object) -> str:
    """Trimmed printable text; spreadsheet blanks ("nan", "n/a"...) become empty."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    text = "".join(ch for ch in str(value) if ch.isprintable() or ch == "\n").strip()
    return "" if text.casefold() in BLANKS else text


def _flag(value: object, name: str, column: str, warnings: list[str]) -> bool:
    """True for 1 ("1", "1.0", 1), False for 0 or blank; anything else is ignored with a warning."""
    text = _clean(value)
    if not text:
        return False
    try:
        number = float(text)
    except ValueError:
        number = math.nan
    if number in (0.0, 1.0):
        return number == 1.0
    warnings.append(f"{name}: ignored {column}={text[:20]!r} (expected 0 or 1).")
    return False


def _probe(text: str, name: str, warnings: list[str]) -> Probe | None:
    if not text:
        return None
    try:
        return Probe(text.casefold())
    except ValueError:
        warnings.append(f"{name}: unknown probe {text[:40]!r}; the folder name decides.")
        return None


def _is_web_link(text: str) -> bool:
    parts = urlsplit(text)
    return parts.scheme.lower() in ("http", "https") and bool(parts.netloc)


def _url(text: str, name: str, warnings: list[str]) -> str | None:
    """Only http(s) links are kept: a ``javascript:`` or ``file:`` link must never reach a page."""
    if not text:
        return None
    if _is_web_link(text):
        return text[:MAX_TEXT]
    warnings.append(f"{name}: ignored the link {text[:80]!r} (only http and https links are kept).")
    return None


def _comment(record: dict[str, object], *, credit: str) -> str | None:
    """The source credit when it is not a link, then the doctors' comments labelled MD1-MD3."""
    parts = [f"Source: {credit}"] if credit else []
    parts += [f"{tag}: {text}" for tag, column in COMMENT_COLUMNS if (text := _clean(record.get(column)))]
    return "\n".join(parts)[:MAX_TEXT] or None
