"""Demo data: the procedural phantom generator (:mod:`seed_data.phantom`) and its manifest.

The manifest names every demo video by class and seed (the videos themselves are rendered on
demand, so nothing binary is committed) and lists the demo accounts with their public passwords, so
the README and ``lusreview seed`` print and create the same ones.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from reviewer.vocab import LusClass, Role

MANIFEST = "manifest.json"


class ManifestError(ValueError):
    """The demo manifest is malformed; the message says which entry is wrong."""


@dataclass(frozen=True)
class DemoVideo:
    """One phantom video of the demo set: rendering ``label`` with ``seed`` gives the same file."""

    name: str
    label: LusClass
    seed: int


@dataclass(frozen=True)
class DemoUser:
    """One demo account; the password is public and only meant for a local demo."""

    username: str
    display_name: str
    role: Role
    password: str


@dataclass(frozen=True)
class RenderSpec:
    """How every demo video is rendered and encoded."""

    size: int
    seconds: float
    fps: float
    suffix: str


@dataclass(frozen=True)
class Manifest:
    """The demo set: videos, accounts, rendering and the license the phantoms are published under."""

    videos: tuple[DemoVideo, ...]
    users: tuple[DemoUser, ...]
    render: RenderSpec
    license: str
    license_url: str | None


def load_manifest(path: Path | None = None) -> Manifest:
    """Read and validate the manifest (the packaged one unless ``path`` is given).

    Raises:
        ManifestError: if the file is not valid JSON or an entry is missing, mistyped or repeated.
    """
    text = (
        path.read_text("utf-8")
        if path
        else resources.files(__package__).joinpath(MANIFEST).read_text("utf-8")
    )
    try:
        raw = json.loads(text)
        manifest = Manifest(
            videos=tuple(
                DemoVideo(name=str(v["name"]), label=LusClass(v["label"]), seed=int(v["seed"]))
                for v in raw["videos"]
            ),
            users=tuple(_user(u) for u in raw["users"]),
            render=_render(raw["render"]),
            license=str(raw["license"]),
            license_url=raw.get("license_url"),
        )
    except (ValueError, KeyError, TypeError) as exc:
        raise ManifestError(f"The demo manifest is malformed: {exc!r}") from exc
    for kind, names in (
        ("video", [v.name for v in manifest.videos]),
        ("user", [u.username for u in manifest.users]),
    ):
        if len(set(names)) != len(names):
            raise ManifestError(f"The demo manifest names a {kind} twice.")
    return manifest


def _user(entry: dict[str, Any]) -> DemoUser:
    return DemoUser(
        username=str(entry["username"]),
        display_name=str(entry["display_name"]),
        role=Role(entry["role"]),
        password=str(entry["password"]),
    )


def _render(entry: dict[str, Any]) -> RenderSpec:
    return RenderSpec(
        size=int(entry["size"]),
        seconds=float(entry["seconds"]),
        fps=float(entry["fps"]),
        suffix=str(entry["suffix"]),
    )
