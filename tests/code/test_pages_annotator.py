"""The annotator's page in AppTest: uploads (good, fake and oversized files), crop, label, regions, review."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, col, select
from streamlit.testing.v1 import AppTest

from db.models import AuditLog, Frame, PatternTag, Region, Video, VideoLabel
from db.session import session_scope
from reviewer.annotation import change_label
from reviewer.annotation_canvas import Scale, crop_drawing, pattern_colour, regions_drawing
from reviewer.annotation_form import STALE_FORM, AnnotationForm, annotation_state, save_annotation
from reviewer.frames import Crop
from reviewer.region_store import save_regions
from reviewer.regions import Shape
from reviewer.settings import Settings
from reviewer.vocab import LusClass, Pattern, Probe, Role
from tests.code import page_support
from tests.code.page_support import PHANTOM_PX, open_page, user_id

stocked, phantom_mp4, home, db = (
    page_support.stocked,
    page_support.phantom_mp4,
    page_support.home,
    page_support.db,
)


def page(user_id: int, username: str) -> AppTest:
    return open_page("annotator.py", user_id, username, Role.ANNOTATOR)


def upload(at: AppTest, files: list[tuple[str, bytes]]) -> AppTest:
    at.file_uploader(key="annot_upload_files_0").set_value(
        [(name, data, "video/mp4") for name, data in files]
    )
    return at.run()


def file_key(at: AppTest, name: str) -> str:
    """The widget-key stem of an uploaded file's block."""
    (uploaded,) = [f for f in at.file_uploader(key="annot_upload_files_0").value if f.name == name]
    return f"annot_file_{uploaded.file_id}"


def test_good_fake_and_oversized_uploads_are_handled_file_by_file(
    home: Settings, db: Engine, phantom_mp4: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LUSREVIEW_MAX_UPLOAD_MB", "1")
    text = b"this is a text file, not a video\n" * 50
    big = phantom_mp4 + b"\x00" * (1024 * 1024)
    at = upload(
        page(user_id(db, "annotator"), "annotator"),
        [("lung.mp4", phantom_mp4), ("notes.mp4", text), ("big.mp4", big), ("copy.mp4", phantom_mp4)],
    )
    assert not at.exception
    errors = [e.value for e in at.error]
    assert any("notes\\.mp4" in e and "not a video or image" in e for e in errors)
    assert any("big\\.mp4" in e and "larger than the 1 MB limit" in e for e in errors)
    key = file_key(at, "lung.mp4")
    at.selectbox(key=f"{key}_label").select(LusClass.COVID)
    at.multiselect(key=f"{key}_patterns").select("b_lines")
    store = at.button(key="annot_upload_store")
    assert store.label == "Store 2 videos"
    at = store.click().run()
    assert not at.exception
    assert [s.value for s in at.success] == ["**lung\\.mp4** stored as video 4 (COVID-19)."]
    assert "**copy\\.mp4** was not stored: This file is already stored as video 4" in at.error[-1].value
    assert at.selectbox(key="annot_video").value == 4  # the new video is open for labelling
    with Session(db) as session:
        video = session.exec(select(Video).where(Video.display_name == "lung.mp4")).one()
        labels = session.exec(select(VideoLabel).where(VideoLabel.video_id == video.id)).all()
        tags = session.exec(select(PatternTag.pattern).where(PatternTag.video_id == video.id)).all()
        frames = session.exec(select(Frame).where(Frame.video_id == video.id)).all()
    assert video.label == "covid" and [(r.label, r.action) for r in labels] == [("covid", "set")]
    assert tags == ["b_lines"] and len(frames) == 3
    stored = [v for v in Path(home.home, "videos").rglob("*") if v.is_file()]
    assert len(stored) == 4  # the three stocked videos and the good upload, nothing of the others


def test_the_crop_moved_on_the_canvas_is_stored_in_original_pixels(
    home: Settings, db: Engine, phantom_mp4: bytes
) -> None:
    at = upload(page(user_id(db, "annotator"), "annotator"), [("moved.mp4", phantom_mp4)])
    key = file_key(at, "moved.mp4")
    canvas_key = f"{key}_canvas_convex"
    scale = Scale.fit(PHANTOM_PX, PHANTOM_PX, 520)
    moved = crop_drawing(Crop(10, 20, 100, 120), scale, "#ffd400")
    at.session_state[canvas_key] = {"drawing": {"raw": moved, "data": None}, "backgroundFit": None}
    at = at.run()
    assert any("x 10, y 20, 100 × 120 px of 160 × 160" in c.value for c in at.caption)
    at = at.button(key="annot_upload_store").click().run()
    assert not at.exception and at.success
    with Session(db) as session:
        video = session.exec(select(Video).where(Video.display_name == "moved.mp4")).one()
    assert (video.crop_x, video.crop_y, video.crop_w, video.crop_h) == (10, 20, 100, 120)
    assert not at.file_uploader(key="annot_upload_files_1").value  # all stored: the uploader is empty
    assert video.label is None


def test_label_form_and_review_write_history_and_audit(home: Settings, db: Engine) -> None:
    annotator, second = user_id(db, "annotator"), user_id(db, "second")
    at = page(annotator, "annotator")
    video = at.selectbox(key="annot_video")
    assert "Cov-Atlas-B-lines.mp4" in video.format_func(video.value)
    key = f"annot_{video.value}_0"  # round 0: the form as first opened
    at.selectbox(key=f"{key}_class").select(LusClass.VIRAL)
    at = at.button(key=f"annot_label_save_{video.value}").click().run()
    assert [e.value for e in at.error] == ["Say why the label changes; the reason is kept with the history."]
    at.text_input(key=f"{key}_reason").input("diffuse B-lines, no consolidation")
    at = at.button(key=f"annot_label_save_{video.value}").click().run()
    assert [s.value for s in at.success] == ["Saved: label."]

    reviewer = page(second, "second")
    assert "by annotator" in reviewer.selectbox(key="annot_review_pick").format_func(
        reviewer.selectbox(key="annot_review_pick").value
    )
    reviewer = approve_button(reviewer).click().run()
    assert not reviewer.exception
    assert reviewer.success and "Approved: Viral pneumonia" in reviewer.success[0].value
    own = page(annotator, "annotator")
    assert "No labels are waiting" in " ".join(i.value for i in own.info)
    assert "Label history (2)" in [e.label for e in own.expander]
    history = own.dataframe[0].value
    assert list(history["Action"]) == ["Changed", "Approved"] and list(history["Who"]) == [
        "annotator",
        "second",
    ]
    with Session(db) as session:
        labels = session.exec(select(VideoLabel.action, VideoLabel.label, VideoLabel.user_id)).all()
        audit = session.exec(
            select(AuditLog.action, AuditLog.user_id).where(AuditLog.entity == "video")
        ).all()
    assert labels == [("change", "viral", annotator), ("approve", "viral", second)]
    assert audit == [("label.change", annotator), ("label.approve", second)]


def approve_button(at: AppTest) -> Any:
    (button,) = [b for b in at.button if b.label == "Approve"]
    return button


def test_a_review_of_a_label_changed_meanwhile_is_refused_and_writes_nothing(
    home: Settings, db: Engine
) -> None:
    annotator, second = user_id(db, "annotator"), user_id(db, "second")
    with Session(db) as session:
        videos = session.exec(select(Video.id).order_by(col(Video.id))).all()[:2]
    for video, label in zip(videos, (LusClass.VIRAL, LusClass.HEALTHY), strict=True):
        relabel(db, video, label, annotator)
    reviewer = page(second, "second")
    reviewer.selectbox(key="annot_review_pick").set_value(videos[1]).run()
    assert any("Healthy" in m.value for m in reviewer.markdown)
    relabel(
        db, videos[1], LusClass.COVID, annotator
    )  # the annotator changes the label on show, in another tab
    before = labels_of(db)
    reviewer = approve_button(reviewer).click().run()
    (refusal,) = [e.value for e in reviewer.error]
    assert "This label was changed by someone else" in refusal
    assert labels_of(db) == before  # neither the new label nor the other video was approved
    assert reviewer.selectbox(key="annot_review_pick").value == videos[1]  # the same video, now COVID-19
    assert any("COVID-19" in m.value for m in reviewer.markdown)


def relabel(engine: Engine, video_id: int, label: LusClass, who: int) -> None:
    with session_scope(engine) as session:
        change_label(session=session, video_id=video_id, label=label, reason="looked again", actor_id=who)


def labels_of(engine: Engine) -> list[tuple[int, str, str]]:
    with Session(engine) as session:
        return list(session.exec(select(VideoLabel.video_id, VideoLabel.action, VideoLabel.label)).all())


def test_regions_drawn_on_the_canvas_are_stored(home: Settings, db: Engine) -> None:
    annotator = user_id(db, "annotator")
    at = page(annotator, "annotator")
    video_id = at.selectbox(key="annot_video").value
    rect = {
        "type": "rect",
        "left": 0,
        "top": 0,
        "width": 140,
        "height": 70,
        "originX": "left",
        "originY": "top",
    }
    drawing = {"objects": [{**rect, "strokeWidth": 0, "scaleX": 1, "scaleY": 1}]}
    at.session_state[f"annot_regions_{video_id}_0_0"] = {
        "drawing": {"raw": drawing, "data": None},
        "backgroundFit": None,
    }
    at = at.run()
    save = at.button(key=f"annot_regions_save_{video_id}")
    assert save.label == "Save 1 shape on this frame"  # no pattern colour: the chosen pattern, A-lines
    at = save.click().run()
    assert not at.exception and not at.error
    with Session(db) as session:
        (region,) = session.exec(select(Region)).all()
    assert (region.shape, region.pattern, region.user_id) == ("rect", "a_lines", annotator)
    assert region.geometry == {"x": 0.0, "y": 0.0, "w": 20.0, "h": 10.0}  # 64-px frames shown 7x larger
    assert [image.captions for image in at.get("image")][-1] == ["Stored regions on this frame"]


def test_a_canvas_never_deletes_regions_saved_from_another_tab_since_it_opened(
    home: Settings, db: Engine
) -> None:
    annotator = user_id(db, "annotator")
    at = page(annotator, "annotator")
    video_id = int(at.selectbox(key="annot_video").value or 0)
    canvas = f"annot_regions_{video_id}_0_0"
    rect = {"type": "rect", "left": 0, "top": 0, "width": 140, "height": 70, "strokeWidth": 0}
    at.session_state[canvas] = {"drawing": {"raw": {"objects": [rect]}, "data": None}, "backgroundFit": None}
    at = at.run()  # this tab's canvas, opened with no stored region, now holds one new rectangle
    with session_scope(db) as session:  # the same annotator saves a consolidation from another tab
        (other_tab,) = save_regions(
            session=session,
            settings=home,
            video_id=video_id,
            frame_index=0,
            pattern=Pattern.CONSOLIDATION,
            shapes=[(Shape.RECT, {"x": 30.0, "y": 30.0, "w": 8.0, "h": 8.0})],
            actor_id=annotator,
        )
    at = at.button(key=f"annot_regions_save_{video_id}").click().run()
    assert "changed elsewhere (another tab?)" in at.error[0].value
    with Session(db) as session:
        assert [r.id for r in session.exec(select(Region))] == [other_tab.id]  # kept, nothing added
    at = at.button(key=f"annot_regions_reload_{video_id}").click().run()
    assert not at.error and f"annot_regions_{video_id}_0_1_opened" in at.session_state


def test_stored_regions_open_on_the_canvas_and_a_save_replaces_them(home: Settings, db: Engine) -> None:
    annotator, second = user_id(db, "annotator"), user_id(db, "second")
    video_id = int(page(annotator, "annotator").selectbox(key="annot_video").value or 0)
    rect = {"x": 2.0, "y": 3.0, "w": 20.0, "h": 10.0}
    for actor, pattern in [(annotator, Pattern.B_LINES), (second, Pattern.A_LINES)]:
        with session_scope(db) as session:
            save_regions(
                session=session,
                settings=home,
                video_id=video_id,
                frame_index=0,
                pattern=pattern,
                shapes=[(Shape.RECT, rect)],
                actor_id=actor,
            )
    at = page(annotator, "annotator")  # the canvas (its stub returns the initial drawing) opens afresh
    key = f"annot_regions_{video_id}_0_0"
    assert at.button(key=f"annot_regions_save_{video_id}").label == "Save 1 shape on this frame"  # own only
    drawing = regions_drawing([(Pattern.B_LINES, Shape.RECT, rect)], Scale(7.0, 7.0))  # as the page opens it
    drawing["objects"][0]["left"] += 7 * 4  # moved 4 frame pixels right
    corners = [{"x": 70, "y": 140}, {"x": 210, "y": 140}, {"x": 140, "y": 280}]
    triangle = {"type": "polygon", "points": corners, "left": 140, "top": 210, "width": 140, "height": 140}
    drawing["objects"].append({**triangle, "stroke": pattern_colour(Pattern.CONSOLIDATION), "strokeWidth": 0})
    at.session_state[key] = {"drawing": {"raw": drawing, "data": None}, "backgroundFit": None}
    at = at.run()
    save = at.button(key=f"annot_regions_save_{video_id}")
    assert save.label == "Save 2 shapes on this frame"
    at = save.click().run()
    assert not at.exception and not at.error
    with Session(db) as session:
        regions = session.exec(select(Region).order_by(col(Region.id))).all()
        actions = session.exec(
            select(AuditLog.action).where(col(AuditLog.action).startswith("region."))
        ).all()
    assert [(r.pattern, r.shape, r.geometry, r.user_id) for r in regions] == [
        ("a_lines", "rect", rect, second),
        ("b_lines", "rect", {**rect, "x": 6.0}, annotator),
        ("consolidation", "polygon", {"points": [[10.0, 20.0], [30.0, 20.0], [20.0, 40.0]]}, annotator),
    ]
    assert actions == ["region.add"] * 4 + ["region.delete"]
    assert at.button(key=f"annot_regions_save_{video_id}").label == "Save 2 shapes on this frame"  # reloaded


def test_a_stale_label_form_is_refused_and_reloads_the_stored_values(home: Settings, db: Engine) -> None:
    annotator, second = user_id(db, "annotator"), user_id(db, "second")
    at = page(annotator, "annotator")
    video_id = int(at.selectbox(key="annot_video").value or 0)
    with session_scope(db) as session:  # the second annotator saves a comment after the form opened
        shown = annotation_state(session=session, video_id=video_id, user_id=second)
        form = AnnotationForm(shown.label, shown.probe, shown.patterns, comment="confluent B-lines")
        save_annotation(session=session, loaded=shown, form=form, actor_id=second)
    at.radio(key=f"annot_{video_id}_0_probe").set_value(Probe.LINEAR)
    at = at.button(key=f"annot_label_save_{video_id}").click().run()
    assert [e.value for e in at.error] == [STALE_FORM]
    with Session(db) as session:
        stored = session.get(Video, video_id)
    assert stored is not None and (stored.probe, stored.comment) == ("convex", "confluent B-lines")
    at = at.button(key=f"annot_label_reload_{video_id}").click().run()
    assert at.text_area(key=f"annot_{video_id}_1_comment").value == "confluent B-lines"
    assert not at.error and f"annot_label_reload_{video_id}" not in [b.key for b in at.button]
    at.radio(key=f"annot_{video_id}_1_probe").set_value(Probe.LINEAR)
    at = at.button(key=f"annot_label_save_{video_id}").click().run()
    assert [s.value for s in at.success] == ["Saved: probe."]
    at = at.button(key=f"annot_label_save_{video_id}").click().run()  # the saved values are the new start
    assert [s.value for s in at.success] == ["Nothing had changed."] and not at.error
    with Session(db) as session:
        stored = session.get(Video, video_id)
    assert stored is not None and (stored.probe, stored.comment) == ("linear", "confluent B-lines")
