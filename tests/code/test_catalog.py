"""The catalog lists, filters and resolves stored videos, on SQLite and (when configured) PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlmodel import Session

from db.models import PatternTag
from reviewer.catalog import (
    CatalogError,
    MediaKind,
    count_videos,
    label_counts,
    list_videos,
    resolve_file,
    video_detail,
    web_link,
)
from reviewer.settings import Settings
from reviewer.vocab import LusClass
from tests.code.stock import add_video


@pytest.fixture
def library(any_engine: Engine) -> Iterator[Session]:
    """Five videos covering every filter dimension, in a committed database."""
    with Session(any_engine, expire_on_commit=False) as session:
        add_video(session, "covid_convex.mp4", label="covid", tags=["b_lines", "consolidation"], frames=3)
        add_video(
            session, "Covid_Linear.mp4", label="covid", probe="linear", tags=["b_lines"], source="pocus"
        )
        add_video(session, "pneu 100%_a.mp4", label="pneumonia", tags=["consolidation", "air_bronchogram"])
        add_video(session, "healthy.mp4", label="healthy", tags=["a_lines"], source="phantom")
        add_video(session, "unlabelled.avi", label=None)
        session.commit()
        yield session


def _names(session: Session, **filters: object) -> list[str]:
    return [video.display_name for video in list_videos(session=session, **filters)]  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({}, ["Covid_Linear.mp4", "covid_convex.mp4", "healthy.mp4", "pneu 100%_a.mp4", "unlabelled.avi"]),
        ({"label": "covid"}, ["Covid_Linear.mp4", "covid_convex.mp4"]),
        ({"label": LusClass.PNEUMONIA}, ["pneu 100%_a.mp4"]),
        ({"probe": "linear"}, ["Covid_Linear.mp4"]),
        ({"source": "phantom"}, ["healthy.mp4"]),
        ({"pattern": "consolidation"}, ["covid_convex.mp4", "pneu 100%_a.mp4"]),
        ({"search": "COVID"}, ["Covid_Linear.mp4", "covid_convex.mp4"]),
        ({"search": "  linear "}, ["Covid_Linear.mp4"]),
        ({"search": "100%_"}, ["pneu 100%_a.mp4"]),
        ({"search": "%"}, ["pneu 100%_a.mp4"]),
        (
            {"search": ""},
            ["Covid_Linear.mp4", "covid_convex.mp4", "healthy.mp4", "pneu 100%_a.mp4", "unlabelled.avi"],
        ),
        ({"label": "covid", "pattern": "b_lines", "probe": "convex"}, ["covid_convex.mp4"]),
        ({"label": "viral"}, []),
    ],
)
def test_filters_select_the_right_videos(
    library: Session, filters: dict[str, object], expected: list[str]
) -> None:
    assert sorted(_names(library, **filters)) == sorted(expected)
    assert count_videos(session=library, **filters) == len(expected)  # type: ignore[arg-type]


def test_summaries_carry_tags_frames_and_label(library: Session) -> None:
    (video,) = list_videos(session=library, search="covid_convex")
    assert video.label == "covid"
    assert video.tags == ("b_lines", "consolidation")  # vocabulary order, not insertion order
    assert video.sampled_frames == 3
    assert video.frame_count == 10


def test_duplicate_tags_from_two_sources_are_listed_once(library: Session) -> None:
    add_video(library, "twice.mp4", tags=["b_lines"])
    (video,) = list_videos(session=library, search="twice")
    library.add(PatternTag(video_id=video.id, pattern="b_lines", source="annotator"))
    library.commit()
    (video,) = list_videos(session=library, search="twice")
    assert video.tags == ("b_lines",)
    assert [(t.pattern, t.source) for t in video_detail(session=library, video_id=video.id).tags] == [
        ("b_lines", "annotator"),
        ("b_lines", "dataset"),
    ]


def test_paging_is_ordered_and_complete(library: Session) -> None:
    pages = [_names(library, limit=2, offset=offset) for offset in (0, 2, 4)]
    assert [len(page) for page in pages] == [2, 2, 1]
    assert sum(pages, []) == _names(library)


@pytest.mark.parametrize(
    ("filters", "message"),
    [
        ({"label": "COVID-19"}, "Unknown class 'COVID-19'"),
        ({"probe": "phased"}, "Unknown probe 'phased'"),
        ({"source": "web"}, "Unknown source 'web'"),
        ({"pattern": "z_lines"}, "Unknown pattern 'z_lines'"),
        ({"limit": 0}, "page size"),
        ({"offset": -1}, "offset"),
    ],
)
def test_bad_filters_are_refused_with_a_message(
    library: Session, filters: dict[str, object], message: str
) -> None:
    with pytest.raises(CatalogError, match=message):
        _names(library, **filters)


def test_label_counts_include_empty_classes_and_unlabelled(library: Session) -> None:
    counts = label_counts(session=library)
    assert list(counts) == [*LusClass, None]
    assert counts[LusClass.COVID] == 2
    assert counts[LusClass.VIRAL] == 0
    assert counts[None] == 1


def test_detail_has_provenance_frames_and_media_kind(library: Session) -> None:
    video = add_video(library, "atlas.mp4", source_url="https://example.org/v", license="CC BY 4.0", frames=2)
    library.commit()
    detail = video_detail(session=library, video_id=video.id)
    assert detail.summary.display_name == "atlas.mp4"
    assert (detail.source_url, detail.license) == ("https://example.org/v", "CC BY 4.0")
    assert [frame.index for frame in detail.frames] == [0, 1]
    assert (detail.media, detail.mime) == (MediaKind.VIDEO, "video/mp4")
    (avi,) = list_videos(session=library, search=".avi")
    assert video_detail(session=library, video_id=avi.id).media is MediaKind.NONE


def test_unknown_video_is_refused(library: Session) -> None:
    with pytest.raises(CatalogError, match="no video with id 999"):
        video_detail(session=library, video_id=999)


def test_resolve_file_inside_home(settings: Settings) -> None:
    stored = settings.home / "videos" / "ab" / "x.mp4"
    stored.parent.mkdir(parents=True)
    stored.write_bytes(b"x")
    assert resolve_file(settings=settings, relative_path="videos/ab/x.mp4") == stored.resolve()


@pytest.mark.parametrize(
    "escape", ["../secret.txt", "videos/../../secret.txt", "ABSOLUTE", "videos/link.txt"]
)
def test_resolve_file_refuses_paths_leaving_home(settings: Settings, tmp_path: Path, escape: str) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("not for the browser")
    (settings.home / "videos").mkdir(parents=True)
    (settings.home / "videos" / "link.txt").symlink_to(secret)
    relative = str(secret) if escape == "ABSOLUTE" else escape
    with pytest.raises(CatalogError, match="outside the data folder"):
        resolve_file(settings=settings, relative_path=relative)


@pytest.mark.parametrize(("relative", "message"), [("videos/gone.mp4", "missing"), ("a\x00b", "not valid")])
def test_resolve_file_refuses_missing_and_invalid_paths(
    settings: Settings, relative: str, message: str
) -> None:
    settings.home.mkdir(parents=True)
    with pytest.raises(CatalogError, match=message):
        resolve_file(settings=settings, relative_path=relative)


@pytest.mark.parametrize(
    ("url", "link"),
    [
        ("https://www.thepocusatlas.com/covid19", "https://www.thepocusatlas.com/covid19"),
        (" http://example.org/a ", "http://example.org/a"),
        ("javascript:alert(1)", None),
        ("file:///etc/passwd", None),
        ("https://", None),
        ("www.example.org", None),
        ("https://example.org/a b", None),
        (None, None),
    ],
)
def test_web_link_only_allows_web_addresses(url: str | None, link: str | None) -> None:
    assert web_link(url) == link
