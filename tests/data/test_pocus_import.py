"""Importing the POCUS dataset layout: the 100 real videos, and a small hand-made dataset full of faults."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import Engine
from sqlmodel import Session, select

from db.models import PatternTag, Video
from reviewer.pocus_import import ImportReport, PocusImportError, import_pocus
from reviewer.pocus_metadata import PATTERN_COLUMNS
from reviewer.settings import Settings
from reviewer.vocab import LusClass, TagSource, VideoSource
from seed_data.phantom import render_phantom, write_video

HEADER = (
    "Filename,Label,Probe,License,LinkToLicense,URL (Video Name),Comments first medical doctor (MD1),MD2,MD3,"
    "Effusion,Consolidations,B-lines,A-lines,Pleural line irregularities,Air bronchogram"
)
ROWS = [
    "Cov_a,COVID-19,convex,CC BY 4.0,https://creativecommons.org/licenses/by/4.0/,https://example.org/cov_a,"
    "B-lines visible,,,0,0,1.0,0,1,",
    "Pneu_b,Bacterial pneumonia,,CC BY-NC 4.0,javascript:alert(1),Data contributed by a test hospital,,"
    "consolidated,,1,1,0,0,0,yes",
    "Missing,regular,convex,CC BY 4.0,,,,,,0,0,0,1,0,0",
    "Unknown,Tuberculosis,convex,,,,,,,0,0,0,0,0,0",
    "Bad,regular,linear,,,,,,,0,0,0,1,0,0",
    ",regular,convex,,,,,,,0,0,0,0,0,0",
    "Broken,regular,convex,a,b,c,d,e,f,0,0,0,0,0,0,1,2,3",
]


def _import(engine: Engine, settings: Settings, root: Path) -> ImportReport:
    return import_pocus(engine=engine, settings=settings, root=root)


@pytest.fixture
def faulty_dataset(tmp_path: Path) -> Path:
    """Two good videos (one named in another case), an extra file, a fake video, junk rows and columns."""
    root = tmp_path / "pocus"
    (root / "videos" / "convex").mkdir(parents=True)
    (root / "videos" / "linear").mkdir(parents=True)
    clip = {"size": 128, "seconds": 1.0, "fps": 10.0}
    write_video(render_phantom(LusClass.COVID, 1, **clip), root / "videos" / "convex" / "Cov_a.mp4")  # type: ignore[arg-type]
    write_video(render_phantom(LusClass.PNEUMONIA, 2, **clip), root / "videos" / "convex" / "pneu_B.avi")  # type: ignore[arg-type]
    write_video(render_phantom(LusClass.HEALTHY, 3, **clip), root / "videos" / "convex" / "Extra.mp4")  # type: ignore[arg-type]
    write_video(render_phantom(LusClass.HEALTHY, 4, **clip), root / "videos" / "convex" / "Unknown.mp4")  # type: ignore[arg-type]
    (root / "videos" / "linear" / "Bad.mp4").write_text("this is not a video")
    (root / "videos" / "convex" / ".hidden.mp4").write_text("ignored")
    (root / "videos" / "notes.txt").write_text("ignored")
    (root / "dataset_metadata.csv").write_text("\n".join([HEADER, *ROWS]) + "\n", encoding="utf-8")
    return root


def test_faulty_dataset_is_imported_where_possible_and_reported(
    engine: Engine, settings: Settings, faulty_dataset: Path
) -> None:
    calls: list[tuple[str, int, int]] = []
    report = import_pocus(
        engine=engine, settings=settings, root=faulty_dataset, progress=lambda *call: calls.append(call)
    )
    assert calls == [("import-pocus", done, 3) for done in (1, 2, 3)]
    assert report.imported == 2 and report.skipped_duplicates == 0
    assert report.per_label == {"covid": 1, "pneumonia": 1}
    assert report.per_pattern == {
        "b_lines": 1,
        "pleural_line_irregularity": 1,
        "pleural_effusion": 1,
        "consolidation": 1,
    }
    assert [name for name, _ in report.failed] == ["videos/linear/Bad.mp4"] and report.failed[0][1]
    assert report.unmatched_files == ["videos/convex/Extra.mp4", "videos/convex/Unknown.mp4"]
    assert report.rows_without_file == ["Missing"]
    rejected = dict(report.rejected_rows)
    assert set(rejected) == {"Unknown", "row 6", "Broken"}
    assert "Tuberculosis" in rejected["Unknown"] and "Malformed" in rejected["Broken"]
    assert any("Air bronchogram" in w for w in report.warnings)
    assert any("javascript" in w for w in report.warnings)
    assert json.loads(json.dumps(report.as_dict())) == report.as_dict()


def test_faulty_dataset_rows_carry_the_metadata(
    engine: Engine, settings: Settings, faulty_dataset: Path
) -> None:
    _import(engine, settings, faulty_dataset)
    with Session(engine) as session:
        videos = {v.display_name.split(".")[0]: v for v in session.exec(select(Video)).all()}
        assert set(videos) == {"Cov_a", "pneu_B"}
        cov, pneu = videos["Cov_a"], videos["pneu_B"]
        assert (cov.label, cov.probe, cov.source) == (LusClass.COVID.value, "convex", VideoSource.POCUS.value)
        assert cov.source_url == "https://example.org/cov_a" and cov.comment == "MD1: B-lines visible"
        assert (
            cov.license == "CC BY 4.0" and cov.license_url == "https://creativecommons.org/licenses/by/4.0/"
        )
        assert pneu.probe == "convex" and pneu.source_url is None and pneu.license_url is None
        assert pneu.comment == "Source: Data contributed by a test hospital\nMD2: consolidated"
        tags = session.exec(select(PatternTag)).all()
        assert {t.source for t in tags} == {TagSource.DATASET.value}
        assert {(t.video_id, t.pattern) for t in tags} == {
            (cov.id, "b_lines"),
            (cov.id, "pleural_line_irregularity"),
            (pneu.id, "pleural_effusion"),
            (pneu.id, "consolidation"),
        }


def test_second_import_skips_duplicates(engine: Engine, settings: Settings, faulty_dataset: Path) -> None:
    _import(engine, settings, faulty_dataset)
    again = _import(engine, settings, faulty_dataset)
    assert again.imported == 0 and again.skipped_duplicates == 2
    assert [name for name, _ in again.failed] == ["videos/linear/Bad.mp4"]
    with Session(engine) as session:
        assert len(session.exec(select(Video)).all()) == 2


def test_unusable_folders_are_refused(engine: Engine, settings: Settings, tmp_path: Path) -> None:
    with pytest.raises(PocusImportError, match="not a folder"):
        _import(engine, settings, tmp_path / "absent")
    with pytest.raises(PocusImportError, match="dataset_metadata.csv"):
        _import(engine, settings, tmp_path)
    (tmp_path / "dataset_metadata.csv").write_text("Filename,Probe\nCov_a,convex\n")
    with pytest.raises(PocusImportError, match="Label"):
        _import(engine, settings, tmp_path)
    (tmp_path / "dataset_metadata.csv").write_bytes(b"Filename,Label\n\xff\xfe,\x00\n")
    with pytest.raises(PocusImportError, match="CSV"):
        _import(engine, settings, tmp_path)


def test_all_100_real_pocus_videos_import(engine: Engine, settings: Settings, pocus_dir: Path) -> None:
    metadata = pd.read_csv(pocus_dir / "dataset_metadata.csv")
    report = _import(engine, settings, pocus_dir)
    assert report.failed == [] and report.rejected_rows == []
    assert report.unmatched_files == [] and report.rows_without_file == []
    assert report.imported == 100
    assert report.per_label == {"pneumonia": 28, "covid": 22, "viral": 5, "healthy": 45}
    sums = {
        pattern.value: int(metadata[column].fillna(0).sum()) for column, pattern in PATTERN_COLUMNS.items()
    }
    assert report.per_pattern == {pattern: count for pattern, count in sums.items() if count}
    with Session(engine) as session:
        videos = session.exec(select(Video)).all()
        convex = Counter(v.label for v in videos if v.probe == "convex")
        assert convex == {"pneumonia": 27, "covid": 20, "viral": 2, "healthy": 42}
        linear = Counter(v.label for v in videos if v.probe == "linear")
        assert sum(linear.values()) == int((metadata["Probe"] == "linear").sum()) == 9
        tags = Counter(t.pattern for t in session.exec(select(PatternTag)).all())
        assert tags == {pattern: count for pattern, count in sums.items() if count}
