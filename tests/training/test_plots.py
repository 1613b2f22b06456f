"""Training figures fit for a paper or a talk: labelled axes with units, one legend
entry per variable, a title, integer epoch ticks, pre-training drawn, readable log axes."""

from __future__ import annotations

import matplotlib.pyplot as plt
import pytest
import torch
from matplotlib.patches import Polygon, Rectangle

from neurosim.training import plots
from neurosim.training.metric_labels import MODEL_TIME_NOTE, legend_entry, metric_label

TITLE = "dfc-ssa on mnist (torch, float64, seed 42)"


def _records(n_pre: int = 3, epochs: int = 7, decay: float = 0.5) -> list[dict]:
    recs: list[dict] = [
        {"phase": "pretrain", "pretrain_epoch": k, "fb_u_rms": 0.01 / k, "seconds": 1.0}
        for k in range(1, n_pre + 1)
    ]
    for e in range(1, epochs + 1):
        loss = 2.0 * decay ** (e - 1)
        recs.append({"phase": "train", "epoch": e, "train_loss": loss, "val_loss": loss * 1.1,
                     "test_loss": loss * 1.2, "train_error": 0.5 * decay ** e,
                     "val_error": 0.4 * decay ** e, "test_error": 0.41 * decay ** e,
                     "fb_u_rms": 0.001, "condition_2": 0.5 + 0.01 * e, "max_eig_real": -0.4,
                     "angle_bp/layer1": 40.0 - e, "angle_bp/layer2": 30.0 - e,
                     "train_converged": 1.0, "train_diverged": 0.0, "seconds": 2.0})  # fmt: skip
    return recs


@pytest.fixture
def close_figures():
    yield
    plt.close("all")


def _visible(fig):
    return [ax for ax in fig.axes if ax.get_visible() and ax.get_label() != "<colorbar>"]


def _integer_ticks(ax) -> bool:
    lo, hi = ax.get_xlim()
    ticks = [t for t in ax.get_xticks() if lo <= t <= hi]
    return bool(ticks) and all(float(t).is_integer() for t in ticks)


def _labelled_y_ticks(ax) -> list[str]:
    """Texts of the major y tick labels inside the view."""
    ax.figure.canvas.draw()
    lo, hi = ax.get_ylim()
    return [t.get_text() for t in ax.get_yticklabels()
            if t.get_text() and lo <= t.get_position()[1] <= hi]  # fmt: skip


def test_learning_curves_are_labelled_and_titled(close_figures):
    fig = plots.learning_curves_figure(_records(), TITLE, "classification")
    assert fig._suptitle.get_text() == TITLE
    loss, err, fb = _visible(fig)
    assert loss.get_ylabel() == "cross-entropy loss (nats, mean over samples)"
    assert err.get_ylabel() == "error (%)"
    assert fb.get_ylabel() == "RMS of the control signal u (rate units)"
    for ax in (loss, err):
        assert ax.get_xlabel() == "epoch"
        assert [t.get_text() for t in ax.get_legend().get_texts()] == [
            "training", "validation", "test",
        ]  # fmt: skip
        assert _integer_ticks(ax)
    assert fb.get_xlabel() == "epoch (<= 0: feedback pre-training)"
    assert _integer_ticks(fb)


def test_feedback_pretraining_is_drawn_before_epoch_one(close_figures):
    fig = plots.learning_curves_figure(_records(n_pre=3), TITLE)
    fb = _visible(fig)[-1]
    xs = list(fb.lines[0].get_xdata())
    assert xs[:3] == [-2, -1, 0] and xs[3] == 1  # pre-training at <= 0, then epoch 1
    spans = [p for p in fb.patches if isinstance(p, (Polygon, Rectangle))]
    assert len(spans) == 1
    verts = spans[0].get_patch_transform().transform(spans[0].get_path().vertices)
    x0, x1 = sorted({round(float(x), 6) for x, _ in verts})
    assert (x0, x1) == (-2.5, 0.5)
    assert any("pre-training" in t.get_text() for t in fb.texts)


def test_log_axis_only_over_a_decade_with_plain_labels(close_figures):
    wide = plots.learning_curves_figure(_records(epochs=8, decay=0.5), TITLE)  # 2 -> 0.016
    loss = _visible(wide)[0]
    assert loss.get_yscale() == "log"
    labels = _labelled_y_ticks(loss)
    assert len(labels) >= 3, labels
    assert all("10^" not in t and "times" not in t for t in labels)  # 0.05, 0.1, 0.2, ...
    narrow = plots.learning_curves_figure(_records(epochs=3, decay=0.9), TITLE)  # 2 -> 1.6
    loss = _visible(narrow)[0]
    assert loss.get_yscale() == "linear"
    assert len(_labelled_y_ticks(loss)) >= 3


def test_regression_names_its_loss_and_has_no_error_panel(close_figures):
    recs = [{"phase": "train", "epoch": e, "train_loss": 1.0 / e, "test_loss": 1.2 / e}
            for e in (1, 2)]  # fmt: skip
    fig = plots.learning_curves_figure(recs, "bp on student-teacher", "regression")
    (ax,) = _visible(fig)
    assert ax.get_ylabel() == "mean squared error (per output element)"
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["training", "test"]


def test_diagnostics_panels_name_quantity_unit_and_members(close_figures):
    fig = plots.diagnostics_figure(_records(), TITLE)
    axes = {ax.get_title(): ax for ax in _visible(fig)}
    assert fig._suptitle.get_text() == TITLE
    angle = axes["angle to the BP gradient update"]
    assert angle.get_ylabel() == "angle (degrees)"
    assert [t.get_text() for t in angle.get_legend().get_texts()] == ["layer 1", "layer 2"]
    sims = axes["forward-phase simulations"]  # two keys, one quantity, one panel
    assert [t.get_text() for t in sims.get_legend().get_texts()] == ["converged", "diverged"]
    assert sims.get_ylabel() == "fraction of the batch"
    assert "model time unit" in axes["closed-loop stability (< 0: stable)"].get_ylabel()
    assert MODEL_TIME_NOTE in [t.get_text() for t in fig.texts]  # explained once
    for ax in axes.values():
        assert ax.get_xlabel() == "epoch" and ax.get_ylabel() and _integer_ticks(ax)
    assert not any(k.startswith("fb_") for k in plots.diagnostic_keys(_records()))


def test_unknown_metrics_are_drawn_and_say_so():
    assert metric_label("w_norm").ylabel == "w_norm (unit not declared by the model)"
    assert metric_label("angle_dfa/layer3").ylabel == "angle (degrees)"
    assert legend_entry("angle_dfa/layer3") == "layer 3"
    assert legend_entry("train_converged") == "converged"


def test_reconstructions_have_a_title_row_labels_and_a_colour_bar(close_figures):
    model = torch.nn.Identity()
    X = torch.rand(8, 16)
    fig = plots.reconstructions_figure(model, X, "bp on mnist-autoencoder")
    assert fig._suptitle.get_text().startswith("bp on mnist-autoencoder: MSE")
    images = [ax for ax in fig.axes if ax.images]
    assert images[0].get_ylabel() == "test input"
    assert any(ax.get_ylabel() == "reconstruction" for ax in images)
    bars = [ax for ax in fig.axes if ax.get_label() == "<colorbar>"]
    assert len(bars) == 1 and bars[0].get_ylabel() == "pixel value (normalised input units)"


def test_plot_functions_save_and_close(tmp_path):
    before = plt.get_fignums()
    path = plots.plot_learning_curves(_records(), tmp_path / "lc.png", TITLE)
    assert path.stat().st_size > 1000
    assert plots.plot_diagnostics([{"phase": "train", "epoch": 1, "train_loss": 1.0}],
                                  tmp_path / "d.png", TITLE) is None  # fmt: skip
    assert plt.get_fignums() == before


def test_a_one_epoch_run_has_an_integer_epoch_tick(close_figures):
    """One point per line: matplotlib's integer locator fell back to 0.945, 0.96, ..."""
    recs = _records(n_pre=0, epochs=1)
    for fig in (plots.learning_curves_figure(recs, TITLE), plots.diagnostics_figure(recs, TITLE)):
        for ax in _visible(fig):
            assert _integer_ticks(ax), (ax.get_title(), list(ax.get_xticks()))
