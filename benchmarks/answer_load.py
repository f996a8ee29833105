"""Load check: concurrent simulated experts answer a study on one SQLite file via the service layer.

Each expert opens every item of their list (``review_item``), autosaves a draft and then saves the
complete answer, every call in its own ``session_scope`` as the page does, with no pause in between.
Threads share one engine (one Streamlit server); processes each open their own (several servers on
one file), which is the harder test of SQLite's locking. Afterwards the script checks that exactly
``experts x answers`` complete answers are stored, each at revision 2 with two audit rows, and counts
"database is locked" errors (must be 0).

    python -m benchmarks.answer_load                      # 20 experts x 50 answers, threads and processes
    python -m benchmarks.answer_load --mode processes --experts 5 --answers 10
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import statistics
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, func
from sqlalchemy.exc import OperationalError
from sqlmodel import col, select

from db.models import Answer, AuditLog
from db.session import make_engine, session_scope, upgrade
from reviewer.review import AnswerForm, review_item, save_answer
from reviewer.study_setup import create_study, open_study, row_id
from tests.code.test_study_setup import add_user, make_run

FORM = AnswerForm(
    score_a=1,
    score_b=-2,
    preferred="a",
    class_guess="covid",
    patterns_visible=("b_lines",),
    seconds_spent=3.0,
)


@dataclass
class ExpertResult:
    latencies: list[float] = field(default_factory=list)
    locked: int = 0
    errors: list[str] = field(default_factory=list)


def build(url: str, experts: int, answers: int) -> tuple[int, list[int]]:
    """A migrated database with one open study of ``answers`` videos for ``experts`` experts."""
    engine = make_engine(url)
    upgrade(engine)
    with session_scope(engine) as session:
        admin = add_user(session, "admin", "admin")
        expert_ids = [add_user(session, f"expert{i:02d}") for i in range(experts)]
        run_id, _ = make_run(session, answers)
        study = create_study(
            session=session,
            name="Load",
            run_id=run_id,
            expert_ids=expert_ids,
            reference_expert_id=expert_ids[0],
            actor_id=admin,
        )
        study_id = row_id(study)
        open_study(session=session, study_id=study_id, actor_id=admin)
    engine.dispose()
    return study_id, expert_ids


def timed_save(engine: Engine, result: ExpertResult, **call: Any) -> int | None:
    """One save in its own transaction; returns the new revision, or None after an error."""
    start = time.perf_counter()
    try:
        with session_scope(engine) as session:
            revision = save_answer(session=session, **call).revision
    except OperationalError as exc:
        result.locked += "database is locked" in str(exc)
        result.errors.append(str(exc.orig))
        return None
    result.latencies.append(time.perf_counter() - start)
    return revision


def simulate(engine: Engine, study_id: int, expert_id: int, answers: int) -> ExpertResult:
    result = ExpertResult()
    for position in range(answers):
        with session_scope(engine) as session:
            token = review_item(
                session=session, study_id=study_id, expert_id=expert_id, position=position
            ).item_token
        call = dict(study_id=study_id, expert_id=expert_id, item_token=token, form=FORM)
        revision = timed_save(engine, result, complete=False, expected_revision=None, **call)
        if revision is not None:
            timed_save(engine, result, complete=True, expected_revision=revision, **call)
    return result


def process_worker(url: str, study_id: int, expert_id: int, answers: int, start: Any, out: Any) -> None:
    engine = make_engine(url)
    start.wait()
    out.put(simulate(engine, study_id, expert_id, answers))
    engine.dispose()


def run_threads(
    url: str, study_id: int, expert_ids: list[int], answers: int
) -> tuple[float, list[ExpertResult]]:
    engine = make_engine(url)
    results: list[ExpertResult] = []
    start = threading.Barrier(len(expert_ids) + 1)

    def worker(expert_id: int) -> None:
        start.wait()
        results.append(simulate(engine, study_id, expert_id, answers))

    threads = [threading.Thread(target=worker, args=(e,)) for e in expert_ids]
    for thread in threads:
        thread.start()
    start.wait()
    began = time.perf_counter()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - began
    engine.dispose()
    return elapsed, results


def run_processes(
    url: str, study_id: int, expert_ids: list[int], answers: int
) -> tuple[float, list[ExpertResult]]:
    context = mp.get_context("spawn")  # no engine or connection crosses a fork
    start, out = context.Barrier(len(expert_ids) + 1), context.Queue()
    workers = [
        context.Process(target=process_worker, args=(url, study_id, e, answers, start, out))
        for e in expert_ids
    ]
    for worker in workers:
        worker.start()
    start.wait()  # every process has imported and opened its engine: start the clock
    began = time.perf_counter()
    results = [out.get(timeout=1800) for _ in workers]
    elapsed = time.perf_counter() - began
    for worker in workers:
        worker.join()
    return elapsed, results


def verify(url: str, expert_ids: list[int], answers: int) -> dict[str, int]:
    """Counts read back through a fresh engine: complete answers at revision 2, rows, audit rows."""
    engine = make_engine(url)
    with session_scope(engine) as session:
        stored = session.exec(select(Answer.expert_id, Answer.complete, Answer.revision)).all()
        audit = session.exec(select(func.count()).where(col(AuditLog.action) == "answer.save")).one()
    engine.dispose()
    per_expert = Counter(expert for expert, _, _ in stored)
    return {
        "complete": sum(1 for _, done, revision in stored if done and revision == 2),
        "rows": len(stored),
        "audit": audit,
        "experts_short": sum(1 for e in expert_ids if per_expert[e] != answers),
    }


def report(
    mode: str, elapsed: float, results: list[ExpertResult], checks: dict[str, int], expected: int
) -> bool:
    latencies = sorted(x for r in results for x in r.latencies)
    locked = sum(r.locked for r in results)
    errors = [e for r in results for e in r.errors]
    p50 = statistics.median(latencies) * 1000
    p95 = latencies[int(0.95 * (len(latencies) - 1))] * 1000
    ok = (
        checks["complete"] == checks["rows"] == expected
        and checks["audit"] == 2 * expected
        and checks["experts_short"] == 0
        and not errors
    )
    print(
        f"{mode:9s}: {checks['complete']} / {expected} complete answers ({checks['rows']} rows, "
        f"{checks['audit']} audit rows), {len(latencies)} saves in {elapsed:.1f} s = "
        f"{expected / elapsed:.0f} answers/s, {len(latencies) / elapsed:.0f} saves/s; save latency "
        f"p50 {p50:.1f} ms, p95 {p95:.1f} ms, max {latencies[-1] * 1000:.0f} ms; "
        f"'database is locked': {locked}; other errors: {len(errors) - locked} -> {'OK' if ok else 'FAILED'}"
    )
    return ok


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--experts", type=int, default=20)
    parser.add_argument("--answers", type=int, default=50)
    parser.add_argument("--mode", choices=["threads", "processes", "both"], default="both")
    args = parser.parse_args()
    modes: dict[str, Callable[..., tuple[float, list[ExpertResult]]]] = {
        "threads": run_threads,
        "processes": run_processes,
    }
    chosen = list(modes) if args.mode == "both" else [args.mode]
    expected = args.experts * args.answers
    all_ok = True
    with tempfile.TemporaryDirectory() as tmp:
        for mode in chosen:
            url = f"sqlite:///{Path(tmp) / f'{mode}.sqlite3'}"
            study_id, expert_ids = build(url, args.experts, args.answers)
            elapsed, results = modes[mode](url, study_id, expert_ids, args.answers)
            all_ok &= report(mode, elapsed, results, verify(url, expert_ids, args.answers), expected)
    raise SystemExit(0 if all_ok else 1)


if __name__ == "__main__":
    main()
