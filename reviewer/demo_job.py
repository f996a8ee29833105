"""The demo pipeline in a background thread of ``lusreview demo``, so the server starts at once.

The command line process stays alive while Streamlit serves in a subprocess; this thread trains
the demo run, makes its CAMs and creates the demo studies meanwhile (:mod:`reviewer.demo_pipeline`).
When the server stops, :meth:`DemoJob.stop` asks the pipeline to stop at its next progress report.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

from sqlalchemy import Engine

from reviewer.demo_pipeline import DEMO_CONFIG, DemoStopped, Echo, run_demo_pipeline
from reviewer.settings import Settings
from reviewer.training import TrainConfig

log = logging.getLogger(__name__)

STOP_WAIT_S = 60.0
"""How long closing the demo waits for the pipeline to reach its next progress report and stop."""


@dataclass
class DemoJob:
    """The pipeline running in a background thread of the ``lusreview demo`` process."""

    thread: threading.Thread
    halt: threading.Event

    def stop(self, timeout: float = STOP_WAIT_S) -> None:
        """Ask the pipeline to stop at its next progress report and wait for it."""
        self.halt.set()
        self.thread.join(timeout)


def start_demo_pipeline(
    *, engine: Engine, settings: Settings, echo: Echo, config: TrainConfig = DEMO_CONFIG
) -> DemoJob:
    """Run the pipeline in a daemon thread; a failure is echoed and leaves the seeded data usable."""
    halt = threading.Event()

    def work() -> None:
        try:
            run_demo_pipeline(engine=engine, settings=settings, config=config, echo=echo, stop=halt)
        except DemoStopped:
            echo("demo: stopped; the next `lusreview demo` carries on")
        except Exception as exc:  # the server keeps serving the seeded videos and accounts
            log.exception("demo pipeline failed")
            echo(
                f"demo: the model pipeline failed ({type(exc).__name__}: {exc}); the seeded data stays usable"
            )

    thread = threading.Thread(target=work, name="lusreview-demo", daemon=True)
    thread.start()
    return DemoJob(thread, halt)
