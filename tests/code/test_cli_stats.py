"""``lusreview stats`` and ``lusreview export`` on a real answered study."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import Engine

from reviewer.cli import main
from reviewer.settings import Settings
from tests.code.stock_stats import answered_study

DRAWS = ("--boot", "20", "--perm", "20")


def test_stats_prints_every_statistic_as_json(
    engine: Engine, settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    world = answered_study(engine, n_videos=3, experts=2)
    assert main(["stats", str(world.study_id), "--json", "--home", str(settings.home), *DRAWS]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["study"]["name"] == "Pilot study" and result["study"]["n_first_reads"] == 6
    assert result["wilcoxon"]["per_video"]["n_pairs"] == 3
    assert result["wilcoxon"]["pooled_pairs_not_independent"]["n_pairs"] == 6
    assert main(["stats", "pilot study", "--home", str(settings.home), *DRAWS]) == 0
    summary = capsys.readouterr().out
    assert "mean_score_test: 1.6666" in summary and "share_preferring_test" in summary
    assert "first_reads: 6" in summary and "rereads: 0" in summary
    # Per-video means 0.5, 1, 0.5 (all positive): the exact two-sided p is 2 / 2**3.
    assert "wilcoxon_p_per_video: 0.25" in summary and "krippendorff_alpha_test" in summary


def test_export_writes_csv_json_and_html(
    engine: Engine, settings: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    answered_study(engine, n_videos=3, experts=2)
    csv, js, report = tmp_path / "tidy.csv", tmp_path / "stats.json", tmp_path / "report.html"
    argv = ["export", "Pilot study", "--csv", str(csv), "--json-file", str(js), "--html", str(report)]
    assert main([*argv, "--home", str(settings.home), "--json", *DRAWS]) == 0
    written = json.loads(capsys.readouterr().out)
    assert written["rows"] == 12 and written["written"] == [str(csv), str(js), str(report)]
    assert len(pd.read_csv(io.StringIO(csv.read_text(encoding="utf-8")))) == 12
    assert json.loads(js.read_text(encoding="utf-8"))["study"]["preview"] is False
    assert "plotly-graph-div" in report.read_text(encoding="utf-8")
    assert not list(tmp_path.glob(".*.partial"))


def test_open_study_needs_preview_and_bad_targets_write_nothing(
    engine: Engine, settings: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    answered_study(engine, n_videos=3, experts=1, close=False)
    home = ["--home", str(settings.home), *DRAWS]
    csv = tmp_path / "tidy.csv"
    assert main(["export", "Pilot study", "--csv", str(csv), *home]) == 2
    assert "is open: statistics are shown once it is closed" in capsys.readouterr().err
    assert not csv.exists()
    assert (
        main(["export", "Pilot study", "--csv", str(tmp_path / "missing" / "x.csv"), "--preview", *home]) == 2
    )
    assert "existing folder" in capsys.readouterr().err
    for seed in ("-1", "3000000000"):
        assert main(["export", "Pilot study", "--csv", str(csv), "--preview", *home, "--seed", seed]) == 2
        assert "--seed must be a whole number from 0 to 2147483647" in capsys.readouterr().err
    assert not csv.exists()
    assert main(["stats", "Nope", *home]) == 2
    assert "no study named or numbered 'Nope'" in capsys.readouterr().err
    assert main(["export", "Pilot study", "--csv", str(csv), "--preview", *home]) == 0
    assert "preview: True" in capsys.readouterr().out and len(pd.read_csv(csv)) == 6
    assert main(["stats", "Pilot study", "--preview", "--json", *home]) == 0
    assert json.loads(capsys.readouterr().out)["messages"][0].startswith(
        "Preview: study 'Pilot study' is open"
    )
