"""The Models page's new-run form: every training option with the limits the service enforces.

The form only collects values; :func:`reviewer.run_jobs.start_training` validates the config again, so
nothing the browser sends is trusted.
"""

from __future__ import annotations

import streamlit as st

from pages.common import FORM_PX, PROBE_NAMES, class_name
from reviewer.training import INPUT_STEP, LIMITS, PAPER_CLASSES, TrainConfig
from reviewer.vocab import LusClass, Probe

DEFAULTS = TrainConfig()
WEIGHTS = {
    "hed": "HED VGG16 (offline default)",
    "imagenet": "ImageNet VGG16 (the paper's; downloads once)",
    "file": "Local weights file",
}
TRAINABLE_CLASSES = (*PAPER_CLASSES, LusClass.VIRAL, LusClass.UNINFORMATIVE)


def _number(label: str, name: str, help_text: str, step: int = 1) -> int:
    low, high = LIMITS[name]
    value = st.number_input(
        label, low, high, int(getattr(DEFAULTS, name)), step, key=f"models_{name}", help=help_text
    )
    return int(value)


def config_form() -> TrainConfig | None:
    """The new-run form; returns the config once submitted (the service validates it again)."""
    with st.form("models_new_run", width=FORM_PX):
        st.subheader("New training run", anchor=False)
        weights = st.selectbox(
            "Backbone weights", list(WEIGHTS), format_func=WEIGHTS.__getitem__, key="models_weights"
        )
        path = st.text_input("Weights file (for a local file)", key="models_weights_path")
        trainable = st.toggle(
            "Fine-tune block5_conv3 (the paper)", DEFAULTS.trainable_conv, key="models_trainable"
        )
        augmentations = _number(
            "Augmented copies per frame (K)", "augmentations", "K = epochs re-creates per-epoch augmentation"
        )
        epochs = _number("Epochs (at most; early stopping)", "epochs", "The paper trains up to 40")
        folds = _number("Folds", "folds", "Videos are split by video, stratified by class")
        size = _number(
            "Input size (px)", "input_size", f"A multiple of {INPUT_STEP}; the paper uses 224", INPUT_STEP
        )
        seed = _number("Seed", "seed", "The same seed and data give the same run")
        probe = st.selectbox("Probe", list(Probe), format_func=PROBE_NAMES.__getitem__, key="models_probe")
        classes = st.multiselect(
            "Classes", TRAINABLE_CLASSES, list(DEFAULTS.classes), format_func=class_name, key="models_classes"
        )
        submitted = st.form_submit_button("Start training", key="models_start", type="primary")
    if not submitted:
        return None
    if weights == "file" and not path.strip():
        st.error("Give the path of the local weights file, or choose other weights.", icon=":material/error:")
        return None
    return TrainConfig(
        weights=path.strip() if weights == "file" else weights,
        trainable_conv=trainable,
        augmentations=augmentations,
        epochs=epochs,
        folds=folds,
        input_size=size,
        seed=seed,
        probe=probe,
        classes=tuple(classes),
    )
