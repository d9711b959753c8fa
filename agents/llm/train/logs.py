"""Run logging: an injected logger writing namespaced metrics to JSONL and TensorBoard, and PNG curves.

Keys are namespaced (DESIGN section 4): ``rollout/`` (what the policy did), ``train/`` (losses and
optimizer statistics), ``env/`` (env-side numbers such as GiGPO step-group sizes), ``eval/`` (held-out
evaluation), ``time/`` (seconds per phase).
"""

from __future__ import annotations

import json
import math
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

METRICS_FILE = "metrics.jsonl"


class RunLogger:
    """Appends one JSON line per ``log`` call and mirrors scalars to TensorBoard.

    Args:
        out_dir: Run directory.
        tensorboard: Also write TensorBoard event files under ``out_dir/tb`` (needs ``tensorboard``).
        keep_until: On resume, the iteration of the checkpoint: lines logged after it (by the interrupted
            run) are dropped so the file reads as one uninterrupted run.
    """

    def __init__(self, out_dir: Path, tensorboard: bool = True, keep_until: int | None = None):
        self.path = Path(out_dir) / METRICS_FILE
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if keep_until is None:
            self.path.write_text("")
        elif self.path.exists():
            kept = [r for r in read_metrics(self.path) if r.get("iteration", 0) <= keep_until]
            self.path.write_text("".join(json.dumps(r) + "\n" for r in kept))
        self._writer = None
        if tensorboard:
            try:
                from torch.utils.tensorboard import SummaryWriter
            except ImportError as err:  # pragma: no cover - tensorboard ships with the llm extra
                raise ImportError("TensorBoard logging needs `pip install tensorboard` "
                                  "(or pass --no-tensorboard)") from err
            # TensorBoard drops the events at steps >= purge_step: the interrupted run's steps after the
            # checkpoint, not the checkpoint's own step (its eval point was logged before the save).
            purge = None if keep_until is None else keep_until + 1
            self._writer = SummaryWriter(str(Path(out_dir) / "tb"), purge_step=purge)

    def log(self, iteration: int, metrics: Mapping[str, Any]) -> None:
        """Records ``metrics`` (namespaced keys, numbers) at ``iteration``."""
        row = {"iteration": int(iteration)}
        for key, value in metrics.items():
            row[key] = float(value) if isinstance(value, int | float) else value
        with self.path.open("a") as f:
            f.write(json.dumps(row) + "\n")
        if self._writer is not None:
            for key, value in row.items():
                if key != "iteration" and isinstance(value, float) and math.isfinite(value):
                    self._writer.add_scalar(key, value, iteration)
            self._writer.flush()

    def close(self) -> None:
        """Flushes and closes the TensorBoard writer."""
        if self._writer is not None:
            self._writer.close()
            self._writer = None


def read_metrics(path: Path) -> list[dict[str, Any]]:
    """The rows of a metrics JSONL file (``metrics.jsonl``, ``eval_episodes.jsonl``).

    A run killed while writing leaves its last line torn: that line is dropped with a warning (its iteration
    runs again on ``--resume``, which keeps only the rows up to its checkpoint). Any other line that is not a
    JSON object means the file was edited or corrupted: ``ValueError`` naming the file and line.

    Raises:
        ValueError: A line other than the last is not a JSON object.
    """
    path = Path(path)
    lines = [(n, line) for n, line in enumerate(path.read_text(errors="replace").splitlines(), 1) if line.strip()]
    rows: list[dict[str, Any]] = []
    for k, (n, line) in enumerate(lines):
        try:
            row = json.loads(line)
        except json.JSONDecodeError as err:
            if k == len(lines) - 1:
                warnings.warn(f"{path}: dropping its torn last line {n} (a run stopped while writing it): {err}",
                              RuntimeWarning, stacklevel=2)
                break
            raise ValueError(f"{path}, line {n}: not JSON ({err}); the file is corrupted") from None
        if not isinstance(row, dict):
            raise ValueError(f"{path}, line {n}: expected a JSON object, got {type(row).__name__}")
        rows.append(row)
    return rows


_PANELS = (
    ("success rate", ("rollout/success_rate", "eval/success_rate")),
    ("return", ("rollout/return_mean", "eval/return_mean")),
    ("policy loss", ("train/loss",)),
    ("entropy (nats/token)", ("rollout/entropy_estimate", "train/epo/entropy")),
    ("clip fraction", ("train/policy/clip_frac",)),
    ("approx KL", ("train/policy/approx_kl",)),
)


def plot_curves(metrics_path: Path, png_path: Path, title: str = "") -> Path:
    """Writes learning curves (one panel per quantity, eval points as markers) to ``png_path``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = read_metrics(metrics_path)
    fig, axes = plt.subplots(2, 3, figsize=(13, 7))
    for ax, (name, keys) in zip(axes.flat, _PANELS, strict=True):
        for key in keys:
            pts = [(r["iteration"], r[key]) for r in rows if isinstance(r.get(key), float)]
            if not pts:
                continue
            xs, ys = zip(*pts, strict=True)
            style = "o-" if key.startswith("eval/") else "-"
            ax.plot(xs, ys, style, label=key, markersize=4)
        ax.set_title(name)
        ax.set_xlabel("iteration")
        ax.grid(alpha=0.3)
        if ax.lines:
            ax.legend(fontsize=7)
    fig.suptitle(title)
    fig.tight_layout()
    png_path = Path(png_path)
    fig.savefig(png_path, dpi=110)
    plt.close(fig)
    return png_path
