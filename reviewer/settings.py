"""One typed settings object for the whole product.

Values come from (highest first) explicit arguments, environment variables prefixed ``LUSREVIEW_``,
then the defaults below. Nothing is read at import time: call :func:`load_settings`.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Everything a deployment may want to tune, in one place."""

    model_config = SettingsConfigDict(env_prefix="LUSREVIEW_", extra="ignore")

    home: Path = Field(default=Path("lusreview-data"), description="Folder for the database and all files.")
    db_url: str | None = Field(default=None, description="SQLAlchemy URL; default: SQLite file in home.")

    # Frame sampling (Born et al.: 3 Hz, at most 30 frames, 224 x 224 crops).
    sample_hz: float = Field(default=3.0, gt=0)
    max_frames: int = Field(default=30, ge=1, le=1000)
    frame_size: int = Field(default=224, ge=32, le=1024)
    remove_overlays: bool = True

    # Input limits: anything larger is refused with a clear message.
    max_upload_mb: int = Field(default=500, ge=1)
    max_video_pixels: int = Field(default=4096 * 4096, ge=1)
    max_video_seconds: float = Field(default=600.0, gt=0)

    # Relabel queue: how long an item stays with the annotator who took it.
    relabel_claim_minutes: float = Field(default=15.0, gt=0, le=1440)

    # Sign-in throttling: this many failed attempts on one username within the window lock it.
    login_max_failures: int = Field(default=5, ge=1, le=100)
    login_lockout_minutes: float = Field(default=15.0, gt=0, le=1440)

    # Review-clip cache: clips not read for this many days go, then the least recently read above the cap.
    review_clip_keep_days: int = Field(default=30, ge=1, le=3650)
    review_clip_cache_mb: int = Field(default=2000, ge=1, le=1_000_000)
    # The review's "Video" panel (the cleaned original): its long side in pixels (never upscaled) and its
    # frame rate, above which the frames between two samples are thinned evenly.
    review_original_max_side: int = Field(default=448, ge=32, le=4096)
    review_original_max_fps: float = Field(default=30.0, gt=0, le=240)

    # SQLite robustness.
    sqlite_busy_timeout_ms: int = Field(default=30_000, ge=0)

    # Web app.
    server_address: str = "127.0.0.1"
    server_port: int = Field(default=8501, ge=1, le=65535)

    @property
    def database_url(self) -> str:
        """URL of the database: the explicit one, or a SQLite file inside ``home``."""
        if self.db_url:
            return self.db_url
        return f"sqlite:///{(self.home / 'lusreview.sqlite3').resolve()}"

    @property
    def videos_dir(self) -> Path:
        """Where original uploads are kept under content-derived names."""
        return self.home / "videos"

    @property
    def frames_dir(self) -> Path:
        """Where sampled, cropped 224 x 224 frames and overlay masks are kept."""
        return self.home / "frames"

    @property
    def runs_dir(self) -> Path:
        """Where model runs keep weights and feature caches."""
        return self.home / "runs"

    @property
    def feature_cache_dir(self) -> Path:
        """The trunk-feature cache shared by runs: rebuilt on demand, so never backed up."""
        return self.runs_dir / "feature-cache"

    @property
    def assets_dir(self) -> Path:
        """Where CAM arrays and overlay videos are kept under opaque names."""
        return self.home / "assets"


def load_settings(**overrides: object) -> Settings:
    """Build the settings, letting explicit values (e.g. CLI flags) win over the environment.

    ``None`` values are ignored so that unset CLI flags do not mask environment variables.
    """
    given = {key: value for key, value in overrides.items() if value is not None}
    return Settings(**given)  # type: ignore[arg-type]
