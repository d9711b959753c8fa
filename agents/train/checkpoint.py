"""Checkpoints that resume bit-for-bit: weights, optimizer, every RNG stream and every stateful loss term."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

CHECKPOINT_DIR = "checkpoints"


def checkpoint_path(out_dir: Path, iteration: int) -> Path:
    """``out_dir/checkpoints/iter-000123.pt``."""
    return Path(out_dir) / CHECKPOINT_DIR / f"iter-{iteration:06d}.pt"


def save_checkpoint(out_dir: Path, iteration: int, state: dict[str, Any], keep: int = 2) -> Path:
    """Writes ``state`` atomically (temp file + rename) and keeps the newest ``keep`` checkpoints."""
    path = checkpoint_path(out_dir, iteration)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    torch.save({**state, "iteration": iteration}, tmp)
    tmp.replace(path)
    for old in sorted(path.parent.glob("iter-*.pt"))[:-keep]:
        old.unlink()
    return path


def latest_checkpoint(out_dir: Path) -> Path | None:
    """The newest checkpoint in ``out_dir``, or None."""
    found = sorted((Path(out_dir) / CHECKPOINT_DIR).glob("iter-*.pt"))
    return found[-1] if found else None


def load_checkpoint(path: Path) -> dict[str, Any]:
    """Reads a checkpoint (tensors, numbers, strings and plain containers only: ``weights_only``)."""
    return torch.load(path, map_location="cpu", weights_only=True)
