"""What an uploader may say about a video, and the checks that make raw form values safe to store.

Split from :mod:`reviewer.ingest` so that forms, the CLI and the POCUS import can validate a label or
a set of options without pulling in the decoding and storage machinery.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from reviewer.frames import Crop
from reviewer.vocab import CLASS_LABELS, LusClass, Pattern, Probe, TagSource, VideoSource

_ALIASES: dict[str, LusClass] = {
    **{member.value: member for member in LusClass},
    **{label.casefold(): member for member, label in CLASS_LABELS.items()},
    "covid19": LusClass.COVID,
    "bacterial": LusClass.PNEUMONIA,
    "regular": LusClass.HEALTHY,
    "normal": LusClass.HEALTHY,
}
_WEB_SCHEMES = ("http://", "https://")


class IngestError(ValueError):
    """A video that cannot be stored; the message is safe to show to the user."""


@dataclass(frozen=True)
class IngestOptions:
    """What the uploader says about a video; ``None`` crop and overlay switch mean "decide for me"."""

    label: LusClass | None = None
    probe: Probe = Probe.CONVEX
    source: VideoSource = VideoSource.UPLOAD
    source_url: str | None = None
    license: str | None = None
    license_url: str | None = None
    comment: str | None = None
    remove_overlays: bool | None = None
    crop: Crop | None = None
    patterns: tuple[Pattern, ...] = ()
    tag_source: TagSource = TagSource.ANNOTATOR


def parse_label(text: str) -> LusClass:
    """Read a class as people write it ("COVID-19", "covid", "regular", "Bacterial pneumonia"...).

    Raises:
        IngestError: naming the allowed labels, so that a typo never becomes a new class.
    """
    key = " ".join(str(text).split()).casefold()
    if key in _ALIASES:
        return _ALIASES[key]
    allowed = ", ".join(CLASS_LABELS.values())
    raise IngestError(f"Unknown label {str(text)[:64]!r}; use one of: {allowed}.")


def checked_options(options: IngestOptions) -> IngestOptions:
    """Re-check enumerations and links, since callers may build options from raw form values.

    Raises:
        IngestError: for a link that is not a web address or a value outside the vocabularies.
    """
    for url in (options.source_url, options.license_url):
        if url is not None and not url.lower().startswith(_WEB_SCHEMES):
            raise IngestError("Links must start with http:// or https://.")
    label = None if options.label is None else parse_label(options.label)
    try:
        return replace(
            options,
            label=label,
            probe=Probe(options.probe),
            source=VideoSource(options.source),
            tag_source=TagSource(options.tag_source),
            patterns=tuple(dict.fromkeys(Pattern(p) for p in options.patterns)),
        )
    except ValueError as exc:
        raise IngestError(f"Unknown option value: {exc}.") from exc
