"""Screening files with a finished run: the CLI, stored videos, refusals; real phantom videos, real TF."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import av
import pytest
from sqlalchemy import Engine
from sqlmodel import col, select

from db.models import Prediction
from db.session import session_scope
from reviewer.cli import main
from reviewer.run_uncertainty import PASSES
from reviewer.screening import Screening, screen_bytes, stored_source
from reviewer.screening_ensemble import RunModel, ScreeningError, load_run_model
from reviewer.screening_progress import Stage, progress_state
from reviewer.settings import Settings, load_settings
from reviewer.training import TrainConfig, train_model
from reviewer.vocab import LusClass
from seed_data.phantom import render_phantom, write_video

pytestmark = pytest.mark.slow
CONFIG = TrainConfig(weights="hed", folds=3, input_size=32, epochs=1, augmentations=1, patience=1, seed=4)


def _phantom_file(folder: Path, label: LusClass = LusClass.COVID) -> Path:
    """A real H.264 phantom that the database has never seen (a seed the demo does not use)."""
    return write_video(render_phantom(label, 987_654, size=128, seconds=1.0, fps=9.0), folder / "new.mp4")


def test_predict_screens_a_good_file_and_reports_the_bad_ones(
    phantom_engine: Engine, settings: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = train_model(engine=phantom_engine, settings=settings, config=CONFIG)
    good = _phantom_file(tmp_path)
    bad = tmp_path / "notes.mp4"
    bad.write_text("this is not a video, whatever its name says")
    missing = tmp_path / "missing.mp4"
    home = ["--home", str(settings.home), "--json", "--quiet"]
    overlays = tmp_path / "overlays"
    files = [str(good), str(bad), str(missing)]
    assert main(["predict", *files, "--run", str(run.id), "--overlays", str(overlays), *home]) == 0
    report = json.loads(capsys.readouterr().out)
    screened, refused, absent = report["files"]
    assert screened["path"] == str(good) and screened["predicted_class"] in run.classes
    assert sum(screened["probabilities"].values()) == pytest.approx(1.0, abs=1e-4)
    assert max(screened["probabilities"], key=screened["probabilities"].get) == screened["predicted_class"]
    assert 0.0 <= screened["confidence_epistemic"] <= 1.0 and 0.0 <= screened["confidence_aleatoric"] <= 1.0
    assert screened["frames"] == 3  # 1 s sampled at 3 Hz
    with av.open(screened["overlay"]) as container:
        assert container.streams.video[0].codec_context.name == "h264"
        assert sum(1 for _ in container.decode(video=0)) == 3
    assert refused == {"path": str(bad), "error": refused["error"]} and "not a video" in refused["error"]
    assert absent["path"] == str(missing) and "No such file" in absent["error"]


def test_a_stored_video_screens_as_the_run_predicted_it_and_bad_input_is_refused(
    phantom_engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    run = train_model(engine=phantom_engine, settings=settings, config=CONFIG)
    with session_scope(phantom_engine) as session:
        stored = session.exec(
            select(Prediction)
            .where(Prediction.run_id == run.id, col(Prediction.fold).is_(None))
            .where(col(Prediction.frame_index).is_(None))
            .order_by(col(Prediction.video_id))
        ).first()
        assert stored is not None
        model = load_run_model(session=session, settings=settings, run_id=int(run.id or 0))
        source = stored_source(session=session, settings=settings, video_id=stored.video_id)
        with pytest.raises(ScreeningError, match="Video 999 does not exist"):
            stored_source(session=session, settings=settings, video_id=999)
    screened = screen_bytes(
        model=model, settings=settings, data=source.data, name=source.name, options=source.options
    )
    assert screened.predicted_class == stored.predicted_class
    assert screened.probabilities == pytest.approx(stored.probabilities, abs=2e-3)  # same frames, same trunk
    assert screened.overlay_path is None  # nothing rendered unless asked
    with session_scope(phantom_engine) as session, pytest.raises(ScreeningError, match="not finished"):
        load_run_model(session=session, settings=settings, run_id=42)
    strict = load_settings(home=settings.home, max_video_seconds=0.5)
    data = _phantom_file(tmp_path).read_bytes()
    with pytest.raises(ScreeningError, match="longer"):
        screen_bytes(model=model, settings=strict, data=data, name="long.mp4")
    tiny = load_settings(home=settings.home, max_upload_mb=1)
    with pytest.raises(ScreeningError, match="1 MB"):
        screen_bytes(model=model, settings=tiny, data=b"\0" * (2 << 20), name="big.mp4")


@pytest.fixture
def model(phantom_engine: Engine, settings: Settings) -> RunModel:
    """A tiny run trained on the phantoms, loaded as screening loads it."""
    run = train_model(engine=phantom_engine, settings=settings, config=CONFIG)
    with session_scope(phantom_engine) as session:
        return load_run_model(session=session, settings=settings, run_id=int(run.id or 0))


def test_screening_reports_its_stages_in_order_and_the_reports_change_nothing(
    model: RunModel, settings: Settings, tmp_path: Path
) -> None:
    data = _phantom_file(tmp_path).read_bytes()
    quiet = screen_bytes(model=model, settings=settings, data=data, name="new.mp4")
    calls: list[tuple[str, int, int] | Screening] = []
    reported = screen_bytes(
        model=model,
        settings=settings,
        data=data,
        name="new.mp4",
        overlay_dir=tmp_path / "overlays",
        progress=lambda stage, step, total: calls.append((stage, step, total)),
        on_verdict=calls.append,
    )
    stability = [(Stage.STABILITY, p, PASSES) for p in range(1, PASSES + 1)]
    early = calls[3]
    assert calls == [(Stage.PREPARING, 1, 1), (Stage.MODEL, 1, 1), (Stage.HEATMAP, 1, 1), early, *stability]
    assert isinstance(early, Screening) and early.aleatoric is None  # before any augmented pass
    assert dataclasses.replace(early, aleatoric=reported.aleatoric) == reported  # nothing else changes
    assert early.overlay_path is not None and early.overlay_path.stat().st_size > 0
    assert reported.probabilities == pytest.approx(quiet.probabilities, abs=1e-6)
    assert reported.epistemic == pytest.approx(quiet.epistemic, abs=1e-6)
    assert quiet.aleatoric is not None and reported.aleatoric == pytest.approx(quiet.aleatoric, abs=1e-6)
    assert reported.predicted_class == quiet.predicted_class and reported.overlay_path is not None
    reports = [call for call in calls if not isinstance(call, Screening)]
    bar = [progress_state(*call) for call in [(Stage.LOADING, 1, 1), *reports]]
    fractions = [fraction for fraction, _ in bar]
    assert fractions[0] == 0.0 and fractions == sorted(set(fractions)) and fractions[-1] < 1.0
    assert bar[5][1] == f"{Stage.STABILITY.value} (2 of {PASSES})…"
    failed: list[tuple[str, int, int]] = []
    with pytest.raises(ScreeningError, match="not a video"):
        screen_bytes(
            model=model,
            settings=settings,
            data=b"plain text",
            name="x.mp4",
            progress=lambda *call: failed.append(call),
        )
    assert failed == [(Stage.PREPARING, 1, 1)]  # a refused file stops before the model runs


class Cancelled(BaseException):
    """What a page's rerun raises in a running script (Streamlit's own is a BaseException too)."""


def test_a_screening_stopped_after_its_early_verdict_leaves_no_overlay(
    model: RunModel, settings: Settings, tmp_path: Path
) -> None:
    overlays = tmp_path / "overlays"
    early: list[Screening] = []

    def cancel_in_stability(stage: str, step: int, total: int) -> None:
        if stage == Stage.STABILITY and step == 3:
            raise Cancelled

    with pytest.raises(Cancelled):
        screen_bytes(
            model=model,
            settings=settings,
            data=_phantom_file(tmp_path).read_bytes(),
            name="new.mp4",
            overlay_dir=overlays,
            progress=cancel_in_stability,
            on_verdict=early.append,
        )
    assert len(early) == 1 and early[0].overlay_path is not None  # it was shown, then taken back
    assert list(overlays.iterdir()) == []
