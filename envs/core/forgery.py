"""The snapshot forgery fuzzer of the conformance checker (DESIGN §5: snapshots may be forged).

``set_state`` takes bytes from anywhere (a file, a search tree, a peer), so every env must treat them as
hostile. For each forged snapshot exactly one of two things may happen:

* ``set_state`` raises ``SnapshotError`` (no other exception) and the env is exactly as it was: its
  ``get_state()`` bytes are unchanged (atomic ``set_state``);
* ``set_state`` accepts it, and then the env works: ``get_state``/``set_state`` round-trip, ``render()``,
  ``example_actions()``, observations (inside their spaces), infos and a few legal steps raise nothing.

The forgeries come from valid snapshots taken along a seeded rollout: each snapshot's JSON tree is
mutated one node at a time (typed perturbations such as ``n + 1`` and ``-n - 1``, hostile values such as
huge and negative ints, floats, ``NaN``/``Infinity`` written as raw JSON text, 5,000-digit integers,
strings, ``null``, nested and deeply nested lists, key deletion, subtrees spliced in from another
snapshot of the same episode), plus whole-blob forgeries (truncations, flipped bytes, ``b"[" * 200000``,
random bytes, non-bytes objects). The same seed gives the same forgeries.

``first_forgery_failure`` runs it over a checker driver (``turngym.envs.core.checker``); ``forgeries``
is the pure generator, usable on its own.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from pettingzoo import AECEnv, ParallelEnv

from turngym.envs.core.errors import SnapshotError

#: How many forged snapshots to try per valid snapshot (four valid snapshots per rollout).
DEFAULT_BUDGET = 90
#: Legal steps played after an accepted forgery (for the first ``_FULL_PROBES`` acceptances per snapshot;
#: later ones get a cheaper probe: round trip, render, views, one invalid action).
DEFAULT_PROBE_STEPS = 3
_FULL_PROBES = 12
#: Snapshots are taken within the first this many actions of the rollout.
_MAX_REPLAY = 120
#: Lists longer than this are mutated at a few representative positions only (first, middle, last).
_WIDE = 6


@dataclass(frozen=True)
class Raw:
    """JSON text spliced into a forged snapshot as is (values ``json.dumps`` cannot write)."""

    text: str


@dataclass(frozen=True)
class Forgery:
    """One forged snapshot: what was done, and the object handed to ``set_state`` (bytes, or not)."""

    name: str
    blob: Any


_DELETE = object()


def _deep(depth: int) -> Any:
    value: Any = 0
    for _ in range(depth):
        value = [value]
    return value


#: Values no snapshot field may hold, or may hold only in range: (label, value or ``Raw`` JSON text).
HOSTILE: tuple[tuple[str, Any], ...] = (
    ("-1", -1), ("-10**18", -10**18), ("2**64", 2**64), ("2**128", 2**128), ("10**30", 10**30),
    ("0.5", 0.5), ("1e308", 1e308), ("-0.0", -0.0), ("true", True), ("false", False), ("null", None),
    ("empty string", ""), ("100k-char string", "x" * 100_000), ("lone surrogate", "\ud800"),
    ("'player_9'", "player_9"), ("empty list", []), ("list of nulls", [None, None, None]),
    ("nested lists", [[[[1]]]]), ("200-deep nesting", _deep(200)), ("empty object", {}), ("object", {"a": 1}),
    ("5000-digit int", Raw("9" * 5000)), ("NaN", Raw("NaN")), ("Infinity", Raw("Infinity")),
    ("-Infinity", Raw("-Infinity")), ("1e999", Raw("1e999")),
    ("100000-deep nesting", Raw("[" * 100_000 + "]" * 100_000)),
)


# ------------------------------------------------------------------------------------ the generator
def _paths(tree: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Paths (keys and indices) to the nodes of ``tree``, root excluded; wide lists are sampled."""
    if isinstance(tree, dict):
        children: Sequence[Any] = list(tree)
    elif isinstance(tree, list):
        n = len(tree)
        children = range(n) if n <= _WIDE else sorted({0, 1, n // 2, n - 2, n - 1})
    else:
        return
    for key in children:
        path = (*prefix, key)
        yield path
        yield from _paths(tree[key], path)


def _get(tree: Any, path: tuple[Any, ...]) -> Any:
    for key in path:
        tree = tree[key]
    return tree


def _with(tree: Any, path: tuple[Any, ...], value: Any) -> Any:
    """A copy of ``tree`` (containers on ``path`` copied, the rest shared) with ``path`` set or deleted."""
    if not path:
        return value
    head, rest = path[0], path[1:]
    new = dict(tree) if isinstance(tree, dict) else list(tree)
    if not rest and value is _DELETE:
        del new[head]
    else:
        new[head] = _with(tree[head], rest, value)
    return new


def _dumps(tree: Any, raw: Raw | None = None) -> bytes:
    """``tree`` as snapshot bytes; a ``Raw`` node (at most one) is spliced in as JSON text."""
    if raw is None:
        return json.dumps(tree).encode("utf-8")
    token = json.dumps("\u0001forged\u0001")
    return json.dumps(tree).replace(token, raw.text, 1).encode("utf-8")


def _perturbations(value: Any) -> list[tuple[str, Any]]:
    """Near misses of ``value`` of its own type: off by one, negated, grown, shrunk."""
    if isinstance(value, bool):
        return [("flipped", not value), ("as int", int(value))]
    if isinstance(value, int):
        return [("+1", value + 1), ("-1", value - 1), ("negated", -value - 1), ("as float", float(value) + 0.5),
                ("as string", str(value))]
    if isinstance(value, float):
        return [("x1e6", value * 1e6 + 1.0), ("negated", -value - 1.0), ("as int", int(value))]
    if isinstance(value, str):
        return [("emptied", ""), ("suffixed", value + "x"), ("as list", [value])]
    if isinstance(value, list):
        out: list[tuple[str, Any]] = [("emptied", [])]
        if value:
            out += [("last repeated", [*value, value[-1]]), ("last dropped", value[:-1]), ("reversed", value[::-1])]
        return out
    if isinstance(value, dict):
        return [("emptied", {})]
    return [("as 0", 0)]


def forgeries(blob: bytes, donors: Sequence[bytes], rng: np.random.Generator,
              budget: int = DEFAULT_BUDGET) -> list[Forgery]:
    """Forged variants of the snapshot ``blob`` (module docstring): the whole-blob ones and ``budget`` others.

    Args:
        blob: A valid ``get_state()`` snapshot.
        donors: Other valid snapshots of the same env, whose subtrees are spliced into ``blob``'s.
        rng: Chooses which node mutations to keep when there are more than ``budget``.
        budget: Node mutations to keep.
    """
    whole = [
        Forgery("a str, not bytes", blob.decode("utf-8", "replace")), Forgery("None", None),
        Forgery("a list", [blob]), Forgery("empty bytes", b""), Forgery("JSON null", b"null"),
        Forgery("JSON list", b"[]"), Forgery("empty object", b"{}"), Forgery("[ x 200000", b"[" * 200_000),
        Forgery('{"a": x 100000', b'{"a":' * 100_000), Forgery("5000-digit int", b"9" * 5000),
        Forgery("random bytes", rng.integers(0, 256, 256, dtype=np.uint8).tobytes()),
        Forgery("trailing garbage", blob + b" }x"),
    ]
    for cut in sorted({1, len(blob) // 2, len(blob) - 1}):
        whole.append(Forgery(f"truncated to {cut} bytes", blob[:cut]))
    for at in rng.integers(0, len(blob), 3).tolist():
        flipped = bytearray(blob)
        flipped[at] ^= 0x20
        whole.append(Forgery(f"byte {at} flipped", bytes(flipped)))

    tree = json.loads(blob)
    paths = list(_paths(tree))
    nodes: list[Callable[[], Forgery]] = []

    def put(label: str, path: tuple[Any, ...], value: Any) -> None:
        where = "/".join(map(str, path))
        if isinstance(value, Raw):
            nodes.append(lambda: Forgery(f"{where} = {label}", _dumps(_with(tree, path, "\u0001forged\u0001"), value)))
        else:
            nodes.append(lambda: Forgery(f"{where} = {label}", _dumps(_with(tree, path, value))))

    for path in paths:
        if isinstance(_get(tree, path[:-1]), dict):
            nodes.append(lambda path=path: Forgery(f"{'/'.join(map(str, path))} deleted",
                                                   _dumps(_with(tree, path, _DELETE))))
        for label, value in _perturbations(_get(tree, path)):
            put(label, path, value)
        for k in rng.choice(len(HOSTILE), size=3, replace=False).tolist():
            label, value = HOSTILE[k]
            put(label, path, value)
    for donor in donors:
        other = json.loads(donor)
        for path in paths:
            if len(path) <= 3:
                try:
                    theirs = _get(other, path)
                except (LookupError, TypeError):
                    continue
                if theirs != _get(tree, path):
                    put("spliced from another snapshot", path, theirs)
    if len(nodes) > budget:
        keep = rng.choice(len(nodes), size=budget, replace=False)
        nodes = [nodes[i] for i in sorted(keep.tolist())]
    return whole + [make() for make in nodes]


# ------------------------------------------------------------------------------------ the check
def _kind(base: Any) -> str:
    if isinstance(base, ParallelEnv):
        return "parallel"
    return "aec" if isinstance(base, AECEnv) else "single"


def _in_space(space: Any, obs: Any, where: str) -> None:
    if space is not None and not space.contains(obs):
        raise AssertionError(f"{where}: observation outside {space}")


def probe_env(driver: Any, rng: np.random.Generator, steps: int) -> None:
    """Uses an env that accepted a forged snapshot the way callers do; raises on any failure."""
    base, env = driver.base, driver.env
    blob = base.get_state()
    if not isinstance(blob, bytes):
        raise AssertionError(f"get_state() returned {type(blob).__name__}")
    base.set_state(blob)  # whatever is accepted must round-trip
    base.render()
    if hasattr(base, "example_actions"):
        base.example_actions()
    kind = _kind(base)
    bad: Any = "" if driver.text else -1  # an invalid action: shows the views without moving the game
    if kind == "aec":
        for agent in list(env.agents):
            _in_space(env.observation_space(agent), env.observe(agent), f"observe({agent})")
        if env.agents:
            env.last()
        for _ in range(steps):
            if not env.agents:
                break
            agent = env.agent_selection
            if env.terminations[agent] or env.truncations[agent]:
                env.step(None)  # PettingZoo's dead step
                continue
            env.step(driver.choose(rng, 0.0))
            if env.agents:
                _in_space(env.observation_space(env.agent_selection), env.observe(env.agent_selection), "observe")
        return
    if kind == "parallel":
        if not env.agents:
            return
        record = driver.step({a: bad for a in env.agents})
        while True:
            for agent, obs in record["obs"].items():
                _in_space(env.observation_space(agent), obs, f"{agent}'s observation")
            if steps <= 0 or not env.agents:
                return
            steps -= 1
            record = driver.step(driver.choose(rng, 0.0))
    examples = base.example_actions() if steps and hasattr(base, "example_actions") else []
    try:
        record = driver.step(examples[0] if examples else bad)
    except RuntimeError as e:
        if "reset" in str(e):  # the forged episode is over: step() says to reset, as after any last step
            return
        raise
    while True:
        _in_space(getattr(env, "observation_space", None), record["obs"], "observation")
        if not isinstance(record["info"].get("state_key"), str):
            raise AssertionError("info has no state_key")
        if steps <= 0 or driver.done():
            return
        steps -= 1
        record = driver.step(driver.choose(rng, 0.0))


def snapshots_along(driver: Any, seed: int, actions: Sequence[Any]) -> list[bytes]:
    """Snapshots at the start, a quarter, the middle and the end of a rollout (its first ``_MAX_REPLAY`` actions).

    Args:
        driver: A ``turngym.envs.core.checker`` driver over a fresh env (single-agent, AEC or Parallel).
        seed: Seed of the rollout (``driver.reset(seed)``).
        actions: The rollout's actions (the checker's seeded determinism rollout).
    """
    base = driver.base
    if getattr(base, "render_mode", None) is None and "ansi" in getattr(base, "metadata", {}).get("render_modes", ()):
        base.render_mode = "ansi"  # so render() builds its text (a fresh env, owned by the check)
    driver.reset(seed)
    # Long rollouts (a 1000-step Harvest) are cut: replaying them costs more than their forgeries find.
    last = min(len(actions), _MAX_REPLAY)
    snaps, done = [], 0
    for point in sorted({0, last // 4, last // 2, last}):
        for action in actions[done:point]:
            driver.step(action)
        done = point
        snaps.append(base.get_state())
    return snaps


def forgery_outcome(driver: Any, forged: Forgery, resting: bytes, rng: np.random.Generator,
                    probe_steps: int) -> tuple[str | None, bool]:
    """Plays one forged snapshot against the env; returns (the failure as a message or None, accepted).

    The env first rests at ``resting``, another point of the episode, so a ``set_state`` that commits part
    of a forgery before rejecting it leaves visible traces (not atomic). An accepted forgery is then used
    the way callers use an env (``probe_env`` with ``probe_steps`` legal steps).
    """
    base = driver.base
    base.set_state(resting)
    before = base.get_state()
    try:
        base.set_state(forged.blob)
    except SnapshotError:
        if base.get_state() != before:
            return f"{forged.name}: set_state raised SnapshotError but changed the env (not atomic)", False
        return None, False
    except Exception as e:  # noqa: BLE001 - any other exception is the failure this check reports
        return f"{forged.name}: set_state raised {type(e).__name__} (only SnapshotError is allowed): {e}"[:600], False
    try:
        probe_env(driver, rng, probe_steps)
    except Exception as e:  # noqa: BLE001 - an accepted snapshot must never break the env
        return f"{forged.name}: set_state accepted it, then the env raised {type(e).__name__}: {e}"[:600], True
    return None, True


def first_forgery_failure(driver: Any, seed: int, actions: Sequence[Any], budget: int = DEFAULT_BUDGET,
                          probe_steps: int = DEFAULT_PROBE_STEPS) -> str | None:
    """Runs the fuzzer over one env; returns the first failure as a message, or None.

    Args:
        driver: A ``turngym.envs.core.checker`` driver over a fresh env (single-agent, AEC or Parallel).
        seed: Seed of the rollout (``driver.reset(seed)``) and of the forgeries.
        actions: The rollout's actions; snapshots are taken along it (``snapshots_along``).
        budget: Node mutations per snapshot (see ``forgeries``).
        probe_steps: Legal steps played after an accepted forgery (the first ``_FULL_PROBES`` per snapshot;
            later acceptances get the views and the round trip only).
    """
    snaps = snapshots_along(driver, seed, actions)
    rng = np.random.default_rng(seed)
    for i, snap in enumerate(snaps):
        full_probes = _FULL_PROBES
        for forged in forgeries(snap, [s for s in snaps if s != snap], rng, budget):
            failure, accepted = forgery_outcome(driver, forged, snaps[(i + 1) % len(snaps)], rng,
                                                probe_steps if full_probes > 0 else 0)
            if failure is not None:
                return failure
            full_probes -= accepted
    return None


__all__ = ["DEFAULT_BUDGET", "HOSTILE", "Forgery", "Raw", "first_forgery_failure", "forgeries", "forgery_outcome",
           "probe_env", "snapshots_along"]
