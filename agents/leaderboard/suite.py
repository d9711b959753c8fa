"""Leaderboard suites: which agents play which envs on which seeds, read from TOML, JSON or YAML.

A suite file names its agents, its envs and the seeds every env is played on::

    name = "cards"
    seeds = { start = 0, count = 100 }    # or a list: seeds = [0, 1, 2]
    max_invalid_streak = 3                # optional: the forfeit rule of every env (EnvSpec.max_invalid_streak)

    [[agents]]
    name = "cfr+"                         # any non-empty text; it is escaped wherever it is shown
    kind = "cfr"                          # see turngym.agents.leaderboard.agents.AGENT_KINDS
    iterations = 300                      # the kind's own settings

    [[envs]]
    id = "turngym/KuhnPoker-v0"
    agents = ["cfr+", "random"]           # optional: a subset of the agents (default: all)
    kwargs = { max_turns = 20 }           # optional constructor arguments
    seeds = [0, 1, 2]                     # optional: this env's own seeds
    hands = 20                            # optional: deals per game (default 1), see EnvSpec.hands
    max_invalid_streak = 3                # optional: the forfeit rule, see EnvSpec.max_invalid_streak

TOML (``tomllib``; ``tomli`` on Python 3.10) and JSON are read with the standard library; YAML (``.yaml``/``.yml``)
needs PyYAML, which turngym does not depend on (it comes with the ``llm`` extra), so a missing PyYAML is a
``ConfigError`` that says so.

Every spec has a hash (``spec_hash``: SHA-256 of its canonical JSON), written into the game log and the
manifest: a resumed run keeps only the logged games whose env and agents are still specified the same way.
Secrets never enter a suite: an endpoint's API key is named by the environment variable that holds it
(``api_key_env``), so the manifest and its hashes hold the variable's name, never the key.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from turngym.envs.core.errors import ConfigError

#: Suite file suffixes and the format each is read as.
SUITE_FORMATS = {".toml": "toml", ".json": "json", ".yaml": "yaml", ".yml": "yaml"}
#: Seeds of an env when neither it nor the suite lists any.
DEFAULT_SEEDS = tuple(range(20))
#: Top-level keys of a suite.
SUITE_KEYS = ("name", "agents", "envs", "seeds", "n_boot", "level", "rating_seed", "max_invalid_streak")
#: Keys of one env of a suite.
ENV_KEYS = ("id", "label", "kwargs", "seeds", "agents", "hands", "max_invalid_streak")
#: ``max_invalid_streak`` of a multi-agent env when neither it nor the suite sets one (0 for single-agent tasks).
DEFAULT_MAX_INVALID_STREAK = 3


def canonical_json(value: Any) -> str:
    """JSON with sorted keys and no spaces: equal specs give equal text (the input of ``spec_hash``)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def spec_hash(value: Any) -> str:
    """SHA-256 hex digest of ``canonical_json(value)`` (hashlib, never ``hash()``: stable across processes)."""
    return hashlib.sha256(canonical_json(value).encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class AgentSpec:
    """One agent of a suite.

    Attributes:
        name: Its name in the tables (any non-empty text).
        kind: A key of ``agents.AGENT_KINDS`` (``random``, ``scripted``, ``cfr``, ``sb3``, ``lm``, ``openai``).
        params: The kind's settings (checked when the agent is built).
    """

    name: str
    kind: str
    params: dict[str, Any] = field(default_factory=dict, hash=False)

    def to_dict(self) -> dict[str, Any]:
        """The spec as the suite file writes it."""
        return {"name": self.name, "kind": self.kind, **self.params}

    @property
    def hash(self) -> str:
        """``spec_hash`` of the spec."""
        return spec_hash(self.to_dict())


@dataclass(frozen=True)
class EnvSpec:
    """One env of a suite.

    Attributes:
        id: The registered env id.
        label: Its name in the tables and the log (default: the id; give one when an id appears twice with
            different ``kwargs``).
        kwargs: Constructor arguments.
        seeds: The reset seeds every seating of agents is played on.
        agents: The agents that play it (names; default all of the suite's).
        hands: Deals per game of a multi-agent env: a game of seed ``s`` plays the deals of reset seeds
            ``s * hands`` to ``s * hands + hands - 1`` with the same seating and sums each seat's returns. The
            pairwise reduction scores a game by who has the higher return, so in a game of chance where the
            stronger agent wins fewer but larger pots (poker: the equilibrium folds more often than a random
            player) single deals rank by how often one wins a pot; a game of many deals ranks by chips won.
        max_invalid_streak: The forfeit rule (0: off). A seat whose agent makes this many invalid actions in a row
            (the env's ``info["action_valid"]`` is False; a valid action resets its count, and so does a new
            deal) forfeits: the game ends at once, the log's ``forfeit`` field names the seat, the agent and the
            reason, and in the pairwise reduction the seat loses to every other seat while the others draw among
            themselves (``games.py``, rule 5), whatever the returns so far. Without it an agent that only writes
            invalid actions plays on to the turn cap and earns a draw. The first seat to reach the count
            forfeits, so two agents that never act validly split a seat-swapped pair: the one in the first
            seat to act forfeits each game. A single-agent task that ends by forfeit is failed (``success``
            False, a scored episode, not an infrastructure error). Default: the suite's ``max_invalid_streak``,
            else ``DEFAULT_MAX_INVALID_STREAK`` (3) for a multi-agent env and 0 (off) for a single-agent task,
            whose own turn cap and success already score an agent that cannot act, and which an agent may
            still solve after a few malformed tool calls.
    """

    id: str
    label: str
    kwargs: dict[str, Any]
    seeds: tuple[int, ...]
    agents: tuple[str, ...]
    hands: int = 1
    max_invalid_streak: int = DEFAULT_MAX_INVALID_STREAK

    def to_dict(self) -> dict[str, Any]:
        """The spec as the suite file writes it, everything explicit."""
        return {"id": self.id, "label": self.label, "kwargs": self.kwargs, "seeds": list(self.seeds),
                "agents": list(self.agents), "hands": self.hands, "max_invalid_streak": self.max_invalid_streak}

    @property
    def hash(self) -> str:
        """``spec_hash`` of the spec without its seeds and agents (adding seeds keeps logged games valid).

        The forfeit rule is part of it: it changes the outcome of games, so games logged under another rule are
        played again.
        """
        return spec_hash({"id": self.id, "label": self.label, "kwargs": self.kwargs, "hands": self.hands,
                          "max_invalid_streak": self.max_invalid_streak})

    @property
    def version(self) -> int | None:
        """The ``N`` of ``Name-vN`` (a change to rewards, dynamics or observations bumps it; DESIGN §3)."""
        tail = self.id.rsplit("-v", 1)
        return int(tail[1]) if len(tail) == 2 and tail[1].isdigit() else None


@dataclass(frozen=True)
class Suite:
    """Agents x envs x seeds, plus the settings of the ratings.

    Attributes:
        name: The suite's name (titles of the reports).
        agents: The agents, in file order.
        envs: The envs, in file order.
        n_boot: Bootstrap resamples of every rating table.
        level: Confidence level of the intervals.
        rating_seed: Seed of the bootstrap's generator.
    """

    name: str
    agents: tuple[AgentSpec, ...]
    envs: tuple[EnvSpec, ...]
    n_boot: int = 1000
    level: float = 0.95
    rating_seed: int = 0

    def agent(self, name: str) -> AgentSpec:
        """The agent called ``name``."""
        for a in self.agents:
            if a.name == name:
                return a
        names = [a.name for a in self.agents]
        raise ConfigError("agent", "one of the suite's agents: " + ", ".join(names), name, names)

    def env(self, label: str) -> EnvSpec:
        """The env labelled ``label``."""
        for e in self.envs:
            if e.label == label:
                return e
        labels = [e.label for e in self.envs]
        raise ConfigError("env", "one of the suite's envs: " + ", ".join(labels), label, labels)

    def to_dict(self) -> dict[str, Any]:
        """The suite with every default written out (``parse_suite`` reads it back to an equal suite)."""
        return {"name": self.name, "agents": [a.to_dict() for a in self.agents],
                "envs": [e.to_dict() for e in self.envs], "n_boot": self.n_boot, "level": self.level,
                "rating_seed": self.rating_seed}

    @property
    def hash(self) -> str:
        """``spec_hash`` of ``to_dict()``."""
        return spec_hash(self.to_dict())


def _seeds(value: Any, where: str) -> tuple[int, ...]:
    """A seed list, or ``{start, count}`` for ``range(start, start + count)``."""
    if isinstance(value, Mapping):
        extra = set(value) - {"start", "count"}
        start, count = value.get("start", 0), value.get("count")
        if extra or not all(isinstance(x, int) and not isinstance(x, bool) for x in (start, count)):
            raise ConfigError(where, "a list of ints or {start = int, count = int}", dict(value))
        value = list(range(start, start + count))
    if not (isinstance(value, Sequence) and not isinstance(value, str) and value
            and all(isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in value)):
        raise ConfigError(where, "a non-empty list of ints >= 0 (reset seeds) or {start, count}", value)
    if len(set(value)) != len(value):
        raise ConfigError(where, "distinct seeds", value)
    return tuple(int(s) for s in value)


def _streak(value: Any, where: str) -> int:
    if not (isinstance(value, int) and not isinstance(value, bool) and value >= 0):
        raise ConfigError(where, "an int >= 0 (consecutive invalid actions that forfeit; 0: never)", value)
    return value


def _name(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(where, "a non-empty string", value)
    return value


def parse_suite(data: Mapping[str, Any], *, default_name: str = "suite") -> Suite:
    """A ``Suite`` from the mapping a suite file holds (module docstring).

    Env ids are checked against the registry here; agents' settings are checked when they are built.

    Raises:
        ConfigError: On an unknown key, a missing or duplicate name, bad seeds, or an env listing an agent
            the suite does not have.
        UnknownEnvError: On an env id the registry does not know (it names the nearest).
    """
    import turngym.envs

    if not isinstance(data, Mapping):
        raise ConfigError("suite", "a table/object with agents and envs", type(data).__name__)
    unknown = sorted(set(data) - set(SUITE_KEYS))
    if unknown:
        raise ConfigError("suite key", "one of " + ", ".join(SUITE_KEYS), unknown[0], SUITE_KEYS)
    raw_agents, raw_envs = data.get("agents"), data.get("envs")
    if not isinstance(raw_agents, Sequence) or isinstance(raw_agents, str) or not raw_agents:
        raise ConfigError("agents", "a non-empty list of agent tables", raw_agents)
    if not isinstance(raw_envs, Sequence) or isinstance(raw_envs, str) or not raw_envs:
        raise ConfigError("envs", "a non-empty list of env tables", raw_envs)
    agents: list[AgentSpec] = []
    for i, raw in enumerate(raw_agents):
        if not isinstance(raw, Mapping):
            raise ConfigError(f"agents[{i}]", "a table with name and kind", raw)
        params = {k: v for k, v in raw.items() if k not in ("name", "kind")}
        agents.append(AgentSpec(_name(raw.get("name"), f"agents[{i}].name"),
                                _name(raw.get("kind"), f"agents[{i}].kind"), params))
    names = [a.name for a in agents]
    if len(set(names)) != len(names):
        raise ConfigError("agents", "distinct agent names", names)
    suite_seeds = _seeds(data["seeds"], "seeds") if "seeds" in data else DEFAULT_SEEDS
    suite_streak = _streak(data["max_invalid_streak"], "max_invalid_streak") if "max_invalid_streak" in data else None
    envs: list[EnvSpec] = []
    for i, raw in enumerate(raw_envs):
        if not isinstance(raw, Mapping):
            raise ConfigError(f"envs[{i}]", "a table with an id", raw)
        extra = sorted(set(raw) - set(ENV_KEYS))
        if extra:
            raise ConfigError(f"envs[{i}] key", "one of " + ", ".join(ENV_KEYS), extra[0], ENV_KEYS)
        hands = raw.get("hands", 1)
        if not (isinstance(hands, int) and not isinstance(hands, bool) and hands >= 1):
            raise ConfigError(f"envs[{i}].hands", "an int >= 1 (deals per game)", hands)
        info = turngym.envs.env_info(_name(raw.get("id"), f"envs[{i}].id"))
        env_id = info.id
        # EnvSpec.max_invalid_streak: the env's own, else the suite's, else on for multi-agent envs only.
        streak = raw.get("max_invalid_streak", suite_streak)
        if streak is None:
            streak = DEFAULT_MAX_INVALID_STREAK if info.aec is not None else 0
        streak = _streak(streak, f"envs[{i}].max_invalid_streak")
        kwargs = raw.get("kwargs", {})
        if not isinstance(kwargs, Mapping):
            raise ConfigError(f"envs[{i}].kwargs", "a table of constructor arguments", kwargs)
        seated = raw.get("agents", names)
        if isinstance(seated, str) or not isinstance(seated, Sequence) or not seated:
            raise ConfigError(f"envs[{i}].agents", "a non-empty list of agent names", seated)
        for a in seated:
            if a not in names:
                raise ConfigError(f"envs[{i}].agents", "names of the suite's agents", a, names)
        seeds = _seeds(raw["seeds"], f"envs[{i}].seeds") if "seeds" in raw else suite_seeds
        envs.append(EnvSpec(env_id, _name(raw.get("label", env_id), f"envs[{i}].label"), dict(kwargs), seeds,
                            tuple(dict.fromkeys(seated)), hands, streak))
    labels = [e.label for e in envs]
    if len(set(labels)) != len(labels):
        raise ConfigError("envs", "distinct labels (give `label` to an id listed twice)", labels)
    n_boot, level, rating_seed = data.get("n_boot", 1000), data.get("level", 0.95), data.get("rating_seed", 0)
    if not (isinstance(n_boot, int) and not isinstance(n_boot, bool) and n_boot >= 1):
        raise ConfigError("n_boot", "an int >= 1", n_boot)
    if not (isinstance(level, int | float) and 0.0 < level < 1.0):
        raise ConfigError("level", "a confidence level strictly between 0 and 1", level)
    if not (isinstance(rating_seed, int) and not isinstance(rating_seed, bool)):
        raise ConfigError("rating_seed", "an int", rating_seed)
    return Suite(_name(data.get("name", default_name), "name"), tuple(agents), tuple(envs), n_boot, float(level),
                 rating_seed)


def _toml_module(path: Path) -> Any:
    """``tomllib`` (Python 3.11+), else its backport ``tomli`` (turngym supports 3.10, which lacks tomllib)."""
    try:
        import tomllib
    except ModuleNotFoundError:
        try:
            import tomli as tomllib
        except ModuleNotFoundError:
            raise ConfigError("suite file", "a .json suite (reading TOML on Python 3.10 needs tomli: pip install "
                              "tomli)", str(path)) from None
    return tomllib


def read_suite_data(path: str | Path) -> dict[str, Any]:
    """The mapping in a suite file, by its suffix (``SUITE_FORMATS``).

    Raises:
        ConfigError: On an unknown suffix, a file that cannot be read or parsed, or YAML without PyYAML.
    """
    path = Path(path)
    fmt = SUITE_FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise ConfigError("suite file", "a .toml, .json, .yaml or .yml file", str(path), list(SUITE_FORMATS))
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise ConfigError("suite file", "a readable file", f"{path} ({err.strerror or err})") from None
    try:
        if fmt == "toml":
            return _toml_module(path).loads(text)
        if fmt == "json":
            return json.loads(text)
    except ValueError as err:  # TOMLDecodeError and JSONDecodeError are ValueErrors
        raise ConfigError("suite file", f"valid {fmt.upper()}", f"{path}: {err}") from None
    try:
        import yaml
    except ImportError:
        raise ConfigError("suite file", "a .toml or .json suite (reading YAML needs PyYAML: pip install pyyaml)",
                          str(path)) from None
    try:
        return yaml.safe_load(text)  # safe_load: a suite file builds no Python objects
    except yaml.YAMLError as err:
        raise ConfigError("suite file", "valid YAML", f"{path}: {err}") from None


def load_suite(path: str | Path) -> Suite:
    """Reads and checks a suite file (``read_suite_data`` then ``parse_suite``; its stem is the default name)."""
    return parse_suite(read_suite_data(path), default_name=Path(path).stem)


def example_suite_path(name: str = "cards") -> Path:
    """The path of a suite shipped with turngym (``suites/<name>.toml`` beside this module)."""
    path = Path(__file__).with_name("suites") / f"{name}.toml"
    if not path.is_file():
        shipped = sorted(p.stem for p in path.parent.glob("*.toml"))
        raise ConfigError("suite", "one of the shipped suites: " + ", ".join(shipped), name, shipped)
    return path


__all__ = ["DEFAULT_MAX_INVALID_STREAK", "DEFAULT_SEEDS", "ENV_KEYS", "SUITE_FORMATS", "AgentSpec", "EnvSpec", "Suite",
           "canonical_json", "example_suite_path", "load_suite", "parse_suite", "read_suite_data", "spec_hash"]
