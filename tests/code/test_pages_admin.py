"""The administrator's page in AppTest: the Data import tab's uploads and POCUS-folder import."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, select

from db.models import AuditLog, Video
from pages import annot_import, common
from reviewer.pocus_import import ImportReport, import_pocus
from reviewer.settings import Settings
from reviewer.vocab import Role
from tests.code import page_support
from tests.code.page_support import open_page, user_id

stocked, phantom_mp4, home, db = (
    page_support.stocked,
    page_support.phantom_mp4,
    page_support.home,
    page_support.db,
)


def test_admin_data_import_uploads_and_imports_a_pocus_folder(
    home: Settings, db: Engine, phantom_mp4: bytes, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "pocus"
    (root / "videos" / "convex").mkdir(parents=True)
    (root / "videos" / "convex" / "Cov_x.mp4").write_bytes(phantom_mp4)
    (root / "videos" / "convex" / "Reg_y.mp4").write_text("not a video")
    (root / "dataset_metadata.csv").write_text(
        "Filename,Label,Probe\nCov_x,COVID-19,convex\nReg_y,regular,convex\n"
    )
    used: list[Engine] = []

    def spy(*, engine: Engine, **kwargs: Any) -> ImportReport:
        used.append(engine)
        return import_pocus(engine=engine, **kwargs)

    monkeypatch.setattr(annot_import, "import_pocus", spy)
    admin = user_id(db, "admin")
    at = open_page("admin.py", admin, "admin", Role.ADMIN)
    at.text_input(key="admin_pocus_folder").input(str(root / "missing"))
    at = at.button(key="admin_pocus_submit").click().run()
    assert any("is not a folder" in e.value for e in at.error)
    at.text_input(key="admin_pocus_folder").input(str(root))
    at = at.button(key="admin_pocus_submit").click().run()
    assert not at.exception
    assert at.success[0].value == "1 videos imported, 0 already stored, 1 failed."
    assert "Reg\\_y" in at.error[0].value
    at.file_uploader(key="admin_upload_files_0").set_value([("dup.mp4", phantom_mp4, "video/mp4")])
    at = at.run().button(key="admin_upload_store").click().run()
    assert any(
        "**dup\\.mp4** was not stored: This file is already stored as video 4" in e.value for e in at.error
    )
    with Session(db) as session:
        video = session.exec(select(Video).where(Video.source == "pocus")).one()
        audit = session.exec(
            select(AuditLog.user_id).where(AuditLog.entity == "video", AuditLog.entity_id == video.id)
        ).all()
    assert video.label == "covid" and audit == [admin]
    assert used == [common.engine(), common.engine()]  # the server's cached engine, none of its own
