"""``lusreview`` commands of the study statistics: print them, or export the CSV, JSON and HTML report.

STUDY is a study's name or id. Like every command, these act for whoever holds the database (as an
administrator would), so an open study needs ``--preview`` and the output then says it is a preview.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from reviewer.cli_base import AddCommand, CliError, engine
from reviewer.settings import Settings


def _statistics(args: argparse.Namespace, settings: Settings) -> Any:
    """Load the study read-only and compute every statistic with the requested draws."""
    from db.session import session_scope
    from reviewer.stats_records import load_study_data
    from reviewer.stats_report import compute_statistics
    from reviewer.study_base import MAX_SEED, find_study, row_id

    if args.boot < 0 or args.perm < 1:
        raise CliError("--boot must be 0 or more and --perm at least 1")
    if not 0 <= args.seed <= MAX_SEED:
        raise CliError(f"--seed must be a whole number from 0 to {MAX_SEED}")
    with session_scope(engine(settings)) as session:
        study = find_study(session=session, ref=args.study)
        data = load_study_data(session=session, study_id=row_id(study), viewer_id=None, preview=args.preview)
    return compute_statistics(data, n_boot=args.boot, n_perm=args.perm, seed=args.seed)


def cmd_stats(args: argparse.Namespace, settings: Settings) -> dict[str, Any]:
    """Every statistic of a closed study (all of them with --json; a summary otherwise)."""
    from reviewer.stats_json import statistics_json

    full = statistics_json(_statistics(args, settings))
    if args.json:
        return full
    # The summary's tests are the primary ones (one value per video) and its agreement is within each
    # CAM type; the share of answers preferring the test-CAM is descriptive (the paper's 56%).
    scores = {s["cam_type"]: s["mean"] for s in full["scores"]["overall"]}
    alpha = {a["cam_type"]: a["alpha"] for a in full["agreement"]["within_cam_type"]["krippendorff_alpha"]}
    return {
        "study": full["study"]["name"],
        "state": full["study"]["state"],
        "first_reads": full["study"]["n_first_reads"],
        "rereads": full["study"]["n_rereads"],
        "mean_score_train": scores.get("train"),
        "mean_score_test": scores.get("test"),
        "wilcoxon_p_per_video": full["wilcoxon"]["per_video"]["p_value"],
        "share_preferring_test": full["preference"]["pooled_pairs_not_independent"]["share_test"],
        "sign_test_p_per_video": full["preference"]["per_video"]["p_value"],
        "krippendorff_alpha_train": alpha.get("train"),
        "krippendorff_alpha_test": alpha.get("test"),
        "messages": full["messages"],
    }


def cmd_export(args: argparse.Namespace, settings: Settings) -> dict[str, Any]:
    """Write the tidy CSV (and optionally the JSON of every statistic and the HTML report) of a study."""
    from reviewer.stats_export import html_report, statistics_text, tidy_csv

    targets = [(args.csv, tidy_csv), (args.json_file, statistics_text), (args.html, html_report)]
    wanted = [(Path(path), make) for path, make in targets if path]
    for path, _ in wanted:
        if path.is_dir() or not path.parent.is_dir():
            raise CliError(f"cannot write {path}: give a file in an existing folder")
    stats = _statistics(args, settings)
    texts = [(path, make(stats)) for path, make in wanted]  # everything is made before anything is written
    for path, text in texts:
        partial = path.with_name(f".{path.name}.partial")
        partial.write_text(text, encoding="utf-8")
        os.replace(partial, path)
    return {
        "study": stats.data.name,
        "preview": stats.data.preview,
        "rows": len(stats.frame),
        "written": [str(path) for path, _ in texts],
    }


def register(add: AddCommand) -> None:
    """Add ``stats`` and ``export``."""
    for name, handler in (("stats", cmd_stats), ("export", cmd_export)):
        p = add(name, handler, (handler.__doc__ or "").strip())
        p.add_argument("study", help="study name or id")
        p.add_argument("--preview", action="store_true", help="analyse a study that is not closed yet")
        p.add_argument("--boot", type=int, default=1000, help="bootstrap resamples of agreement intervals")
        p.add_argument("--perm", type=int, default=1000, help="permutations of the MMD null")
        p.add_argument("--seed", type=int, default=0)
        if name == "export":
            p.add_argument("--csv", required=True, help="tidy CSV file to write")
            # --json is every command's switch for JSON output, so the JSON file has its own option.
            p.add_argument("--json-file", metavar="FILE", help="JSON file of every statistic to write")
            p.add_argument("--html", help="self-contained HTML report to write")
