"""Run folders and checkpoints that resume bit-for-bit (weights, optimizer, every RNG stream, stateful losses).

A run folder holds exactly one run (``RUN_ARTIFACTS``). ``check_run_folder`` decides, before anything is
loaded or written, whether a run may start there: a new or empty folder always; a folder that holds
anything only with ``resume`` (continue the run whose newest checkpoint is there) or ``overwrite`` (its
artifacts are removed by ``clear_run_folder`` once the new run's model has loaded). Two runs' TensorBoard
files, metrics or checkpoints therefore never share a folder (issue 12, item 11).

Checkpoint files are untrusted input (DESIGN section 5: checkpoints may be forged): ``load_checkpoint``
reads them with ``torch.load(weights_only=True)`` (no code runs) and turns any unreadable file into a
``CheckpointError``; ``validate_checkpoint`` checks the keys, their types and the iteration range before
a single value is used.
"""

from __future__ import annotations

import re
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from turngym.envs.core.errors import ConfigError, TurnGymError

CHECKPOINT_DIR = "checkpoints"
#: Everything a run writes into its folder (``--overwrite`` removes exactly these).
RUN_ARTIFACTS = ("config.json", "metrics.jsonl", "tb", CHECKPOINT_DIR, "curves.png", "summary.json",
                 "eval_episodes.jsonl", "selfplay_games.jsonl")
_CHECKPOINT_NAME = re.compile(r"iter-(\d+)\.pt")


class CheckpointError(TurnGymError, ValueError):
    """A checkpoint file is unreadable, malformed or forged, or does not belong to the run being resumed."""


# ---------------------------------------------------------------------------------------------- folders
def ensure_writable_folder(path: Path | str, what: str) -> Path:
    """Creates ``path`` (and its parents) if needed and checks that a file can be created in it.

    Checked up front so that a run or a solver does not compute for minutes and then fail to save.

    Args:
        path: The folder.
        what: The option that named it (for the error), e.g. ``"--out"``.

    Returns:
        ``path`` as a ``Path``.

    Raises:
        ConfigError: When the folder cannot be created or written (the OS reason is in the message).
    """
    folder = Path(path)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as err:
        reason = err.strerror or type(err).__name__
        raise ConfigError(what, f"a folder that can be created and written to ({reason})", str(folder)) from None
    return folder


def check_run_folder(out_dir: Path | str, *, resume: bool, overwrite: bool) -> Path | None:
    """Checks that a run may start in ``out_dir``; returns the checkpoint to resume from (None: a new run).

    Nothing is removed here (``clear_run_folder`` does that once the new run has loaded), so a run that
    fails to start leaves the old one intact.

    Args:
        out_dir: The run folder (created if missing).
        resume: Continue the run in ``out_dir`` from its newest checkpoint.
        overwrite: Replace whatever run ``out_dir`` holds.

    Raises:
        ConfigError: Both flags; an unwritable folder; a non-empty folder without either flag; ``resume``
            where there is no checkpoint.
    """
    if resume and overwrite:
        raise ConfigError("resume/overwrite", "at most one of --resume (continue the run) and --overwrite "
                          "(replace it)", "both")
    out = ensure_writable_folder(out_dir, "out_dir")
    if resume:
        found = latest_checkpoint(out)
        if found is None:
            raise ConfigError("resume", f"a run folder with a checkpoint under {out / CHECKPOINT_DIR} "
                              "(start a new run without --resume, or with --overwrite to replace this folder)",
                              str(out))
        return found
    held = sorted(p.name + ("/" if p.is_dir() else "") for p in out.iterdir())
    if held and not overwrite:
        shown = ", ".join(held[:6]) + (", ..." if len(held) > 6 else "")
        raise ConfigError("out_dir", f"a new or empty folder; it holds {shown}: pass --resume to continue "
                          "the run there, --overwrite to replace it, or choose another --out-dir", str(out))
    return None


def clear_run_folder(out_dir: Path | str) -> list[str]:
    """Removes the run artifacts (``RUN_ARTIFACTS``) from ``out_dir``; other files are left alone.

    Only the names a run writes are removed, so ``--overwrite`` on a folder that also holds the user's
    own files (or on ``.``) deletes nothing but the old run.

    Returns:
        The names removed.
    """
    out = Path(out_dir)
    removed = []
    for name in RUN_ARTIFACTS:
        path = out / name
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        elif path.exists() or path.is_symlink():
            path.unlink()
        else:
            continue
        removed.append(name)
    return removed


# ------------------------------------------------------------------------------------------ checkpoints
def checkpoint_path(out_dir: Path | str, iteration: int) -> Path:
    """``out_dir/checkpoints/iter-000123.pt``."""
    return Path(out_dir) / CHECKPOINT_DIR / f"iter-{iteration:06d}.pt"


def list_checkpoints(out_dir: Path | str) -> list[tuple[int, Path]]:
    """``(iteration, path)`` of every checkpoint in ``out_dir``, ordered by iteration (as a number).

    Ordered by the number, not the file name: ``iter-1000000.pt`` sorts before ``iter-999999.pt`` as text.
    """
    folder = Path(out_dir) / CHECKPOINT_DIR
    if not folder.is_dir():
        return []
    found = [(int(m.group(1)), p) for p in folder.iterdir() if (m := _CHECKPOINT_NAME.fullmatch(p.name))]
    return sorted(found)


def save_checkpoint(out_dir: Path | str, iteration: int, state: dict[str, Any], keep: int = 2) -> Path:
    """Writes ``state`` atomically (temp file + rename) and prunes the run's older checkpoints.

    Pruning keeps the ``keep`` highest iterations up to ``iteration`` (``keep=0``: every one) and removes any
    checkpoint ABOVE it: such a file is from a continuation this run has replaced, and ``--resume`` (newest
    first) would otherwise continue that abandoned run instead of this one.
    """
    import torch  # imported here: the CLI checks folders (above) without paying for torch

    path = checkpoint_path(out_dir, iteration)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    torch.save({**state, "iteration": iteration}, tmp)
    tmp.replace(path)
    older = [p for it, p in list_checkpoints(out_dir) if it <= iteration]
    stale = [p for it, p in list_checkpoints(out_dir) if it > iteration]
    for old in (older[:-keep] if keep > 0 else []) + stale:
        old.unlink()
    return path


def latest_checkpoint(out_dir: Path | str) -> Path | None:
    """The checkpoint with the highest iteration in ``out_dir``, or None."""
    found = list_checkpoints(out_dir)
    return found[-1][1] if found else None


def load_checkpoint(path: Path | str) -> dict[str, Any]:
    """Reads a checkpoint (tensors, numbers, strings and plain containers only: ``weights_only``).

    Raises:
        CheckpointError: When the file cannot be read or is not a checkpoint (empty, truncated, random
            bytes, a pickle of other objects, a non-dict).
    """
    import torch

    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001 - torch.load raises EOFError, UnpicklingError, RuntimeError,
        # ValueError, ... depending on how the bytes are broken; every one means "not a checkpoint".
        # Only the first sentence: torch's own advice (retry with weights_only=False) must not reach a user
        # holding a file that may be forged.
        detail = (str(err).strip().splitlines() or [""])[0].split(". ")[0][:160]
        raise CheckpointError(f"{path}: not a readable turngym checkpoint (empty, truncated or not a checkpoint: "
                              f"{type(err).__name__}{': ' + detail if detail else ''})") from err
    if not isinstance(state, dict):
        raise CheckpointError(f"{path}: a checkpoint holds a dict, this file holds {type(state).__name__}")
    return state


def _tensor_dict(value: Any) -> bool:
    import torch

    return isinstance(value, dict) and all(isinstance(k, str) and isinstance(v, torch.Tensor)
                                           for k, v in value.items())


def _rng_tensor(value: Any) -> bool:
    import torch

    return isinstance(value, torch.Tensor) and value.dtype == torch.uint8 and value.dim() == 1


def _metrics(value: Any) -> bool:
    return isinstance(value, dict) and all(isinstance(k, str) and isinstance(v, int | float)
                                           for k, v in value.items())


def _optional(check: Any) -> Any:
    return lambda value: value is None or check(value)


#: What ``_Run.state()`` saves: key -> (check, description for the error).
CHECKPOINT_SCHEMA: Mapping[str, tuple[Any, str]] = {
    "model": (_tensor_dict, "a state dict (str -> tensor)"),
    "value_head": (_optional(_tensor_dict), "a state dict or None"),
    "optimizer": (lambda v: isinstance(v, dict) and {"state", "param_groups"} <= set(v),
                  "an optimizer state dict (state, param_groups)"),
    "loss": (lambda v: isinstance(v, dict), "a dict"),
    "policy_rng": (_rng_tensor, "a torch.Generator state (1-D uint8 tensor)"),
    "shuffle_rng": (_rng_tensor, "a torch.Generator state (1-D uint8 tensor)"),
    "task_rng": (lambda v: isinstance(v, dict) and isinstance(v.get("bit_generator"), str),
                 "a numpy bit-generator state dict"),
    "reference": (_optional(_tensor_dict), "a state dict or None"),
    "eval_before": (_metrics, "a dict of metrics (str -> number)"),
    "config": (lambda v: isinstance(v, str), "the run's config as JSON text"),
}
#: Keys a checkpoint may have besides the schema (older checkpoints lack them). ``opponent_pool`` is a self-play
#: run's ``OpponentPool.state_dict()`` (None otherwise); its entries are checked by
#: ``turngym.agents.llm.selfplay.check_pool_state`` when a self-play run resumes.
OPTIONAL_KEYS: Mapping[str, tuple[Any, str]] = {
    "eval_after": (_metrics, "a dict of metrics (str -> number)"),
    "opponent_pool": (_optional(lambda v: isinstance(v, dict)), "an opponent pool state (a dict) or None"),
}


def validate_checkpoint(state: Mapping[str, Any], path: Path | str, iterations: int) -> int:
    """Checks a loaded checkpoint's keys, types and iteration before any value is used; returns the iteration.

    Args:
        state: ``load_checkpoint`` output.
        path: Its file (named in errors; ``iter-N.pt`` must hold iteration N).
        iterations: The run's iteration count: the checkpoint's iteration must lie in ``[0, iterations]``.

    Raises:
        CheckpointError: On a missing key, a value of the wrong type, or an iteration out of range or
            different from the file name's.
    """
    missing = sorted((set(CHECKPOINT_SCHEMA) | {"iteration"}) - set(state))
    if missing:
        raise CheckpointError(f"{path}: not a turngym training checkpoint (missing {', '.join(missing)})")
    for key, (check, expected) in {**CHECKPOINT_SCHEMA, **OPTIONAL_KEYS}.items():
        if key in state and not check(state[key]):
            raise CheckpointError(f"{path}: {key!r} must be {expected}, got {type(state[key]).__name__}")
    it = state["iteration"]
    if not isinstance(it, int) or isinstance(it, bool):
        raise CheckpointError(f"{path}: 'iteration' must be an int, got {type(it).__name__}")
    if not 0 <= it <= iterations:
        raise CheckpointError(f"{path}: iteration {it} is outside [0, {iterations}] (this run's --iterations)")
    named = _CHECKPOINT_NAME.fullmatch(Path(path).name)
    if named is not None and int(named.group(1)) != it:
        raise CheckpointError(f"{path}: the file name says iteration {int(named.group(1))}, the file holds {it}")
    return it
