"""The turngym registry: every env id, its family, its constructors, and what it declares to trainers.

``import turngym.envs`` registers every id here and with Gymnasium (``gym.make`` gives the single-agent view;
``make_aec`` / ``make_parallel`` give the PettingZoo forms). Users register their own ids the same way, under
their own namespace (DESIGN §3, Registry)::

    register_env(EnvInfo("myorg/Nim-v0", "games", NimEnv, aec=NimAEC))   # classes, or
    register_env(EnvInfo("myorg/Web-v0", "web", "myorg.web.env:WebEnv",     # "module:attr" strings: imported
                         extra="web", requires=("playwright",)))             # on the first make, not before

Gymnasium gets an importable ``"module:Class"`` string as the entry point of every id whose constructor can
be imported by name (Gymnasium's own convention), so ``env.spec.to_json()``, pickling an env, and
``gym.make(spec)`` in another process work. Keyword names are checked by ``make``/``make_aec``/
``make_parallel`` here and by ``TextEnv.__new__`` for ``gym.make``: a typo is a ``ConfigError`` that names
the argument meant.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import string
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Union

import gymnasium
from gymnasium.envs.registration import parse_env_id

from turngym.envs.core.errors import (
    LIST_HINT,
    ConfigError,
    MissingExtraError,
    UnknownEnvError,
    check_kwargs,
    nearest,
)

NAMESPACE = "turngym"

#: ``eval_kwargs`` of an env with a held-out split: evaluate on levels or questions no training seed produces.
#: (``EnvInfo`` keeps its own copy, so every family can pass this one object.)
TEST_SPLIT: dict[str, Any] = {"split": "test"}

#: A constructor, or the ``"module:attr"`` string that names one (imported when first needed).
EntryPoint = Union[Callable[..., Any], str]  # noqa: UP007  (dataclass annotations are evaluated on 3.10)

#: The forms an id can offer: EnvInfo field -> (what it is, how to build it).
FORMS: dict[str, tuple[str, str]] = {
    "single": ("Gymnasium single-agent", "gym.make / turngym.envs.make"),
    "aec": ("PettingZoo AEC", "turngym.envs.make_aec"),
    "parallel": ("PettingZoo Parallel", "turngym.envs.make_parallel"),
}


@dataclass(frozen=True)
class EnvInfo:
    """What the registry knows about one env id.

    A form (``single``, ``aec``, ``parallel``) is a class or an importable ``"module:attr"`` string. Strings
    are imported on the first ``make`` of the id, which is how families with heavy optional dependencies
    (web: playwright, swe: docker) are registered without ``import turngym.envs`` importing them: give
    ``extra`` and ``requires``, and resolving the entry point without them raises ``MissingExtraError``
    (``pip install "turngym[web]"``). A module that imports such a dependency calls ``require_extra`` first,
    so ``gym.make``, which imports the entry point itself, gives the same error.

    Attributes:
        id: ``Namespace/Name-vN`` (``turngym/...`` for the built-in envs, your own namespace for yours).
        family: ``cards``, ``dilemmas``, ``tooluse``, ``web``, ``swe``, or a family of your own.
        single: Constructor of the single-agent Gymnasium env (class or ``"module:attr"``).
        aec: Constructor of the PettingZoo AEC env, if the env is turn-based multi-agent.
        parallel: Constructor of the PettingZoo Parallel env, if simultaneous-move multi-agent.
        modes: Observation modes (``text``, ``vector``).
        summary: One line for ``turngym list``.
        gold_answer: Name of the env method that returns the current task's gold answer (``None``: the env
            has none). Trainers that need the answer (IGPO) call it explicitly; it is never in ``info``.
        answer_template: How the policy writes a final answer, as a ``str.format`` template with one ``{}``
            for the answer text (tool use: ``"<answer>{}</answer>"``; ``None``: the bare answer). Information-
            gain scoring puts the text before ``{}`` in the context unscored and scores only the answer's own
            tokens (``answer_affixes``), so the trainer never assumes a tag.
        expert: Importable ``"module:attr"`` of the env's scripted expert factory, or None. The factory is
            called as ``factory(env_id, seed=seed, env_kwargs=kwargs)`` and returns ``act(env, observation,
            info) -> str``, the expert's action text for the current state of ``env`` (a live single-agent
            env of ``env_id``; the expert may read its unwrapped state: it is a teacher for supervised warm
            starts, never an acting policy in an evaluation). Trainers find experts here and nowhere else.
        replayable: Whether the env's outside world replays bit-for-bit (games, generated tasks: True). For
            envs that talk to a live browser or sandbox (False), the checker skips the checks that need
            exact replay (cross-process keys, snapshot replay equality) and applies the weaker ones.
        train_kwargs: The arguments a trainer makes the env with when its user gives none (``turngym train``
            with an empty ``--env.kwargs``): what a training run of this id needs beyond the constructor's
            defaults, e.g. an opponent for a two-player game. JSON-serializable, string keys.
        eval_kwargs: Overrides of ``train_kwargs`` for held-out evaluation when the user gives none (an env with
            a test split: ``{"split": "test"}``, so a trainer never evaluates on levels it trained on).
        extra: The turngym extra that provides the optional dependencies of the entry points (``web``).
        requires: Top-level modules of that extra the entry points import (``("playwright",)``).
        kinds: The forms offered, as ``turngym list`` names them (derived).
    """

    id: str
    family: str
    single: EntryPoint
    aec: EntryPoint | None = None
    parallel: EntryPoint | None = None
    modes: tuple[str, ...] = ("text",)
    summary: str = ""
    gold_answer: str | None = None
    answer_template: str | None = None
    expert: str | None = None
    replayable: bool = True
    train_kwargs: dict[str, Any] = field(default_factory=dict, hash=False)
    eval_kwargs: dict[str, Any] = field(default_factory=dict, hash=False)
    extra: str | None = None
    requires: tuple[str, ...] = ()
    kinds: tuple[str, ...] = field(init=False)

    def __post_init__(self) -> None:
        for form in FORMS:
            ref = getattr(self, form)
            if ref is None and form != "single":
                continue
            if isinstance(ref, str):
                _check_reference(ref, f"{self.id} {form} entry point")
            elif not callable(ref):
                raise ConfigError(f"{self.id} {form} entry point", "a class or a 'module:attr' string",
                                  type(ref).__name__)
        if self.expert is not None:
            _check_reference(self.expert, f"{self.id} expert")
        if self.answer_template is not None:
            answer_affixes(self.answer_template, f"{self.id} answer_template")
        for name in ("train_kwargs", "eval_kwargs"):
            value = getattr(self, name)
            try:
                ok = isinstance(value, dict) and all(isinstance(k, str) for k in value)
                copied = json.loads(json.dumps(value, allow_nan=False)) if ok else None
            except (TypeError, ValueError):
                ok = False
            if not ok:
                raise ConfigError(f"{self.id} {name}", "a JSON-serializable dict with string keys", value)
            object.__setattr__(self, name, copied)  # a private copy: the caller's dict cannot change it later
        requires = (self.requires,) if isinstance(self.requires, str) else tuple(self.requires)
        if requires and self.extra is None:
            raise ConfigError(f"{self.id} requires", "an `extra` naming the turngym extra that installs them",
                              requires)
        object.__setattr__(self, "requires", requires)
        object.__setattr__(self, "modes", tuple(self.modes))
        kinds = ["gymnasium"] + (["aec"] if self.aec else []) + (["parallel"] if self.parallel else [])
        object.__setattr__(self, "kinds", tuple(kinds))

    def entry_point(self, form: str = "single") -> str | None:
        """The importable ``"module:attr"`` string of a form.

        Args:
            form: ``single``, ``aec`` or ``parallel``.

        Returns:
            The string, or None when the id lacks the form or its constructor cannot be imported by name
            (a class defined inside a function).
        """
        ref = getattr(self, _check_form(form))
        if ref is None or isinstance(ref, str):
            return ref
        return _importable_name(ref)

    def load(self, form: str = "single") -> Callable[..., Any]:
        """The constructor of a form, importing a string entry point (after checking the extra).

        Args:
            form: ``single``, ``aec`` or ``parallel``.

        Returns:
            The class (or factory) to call with the env's keyword arguments.

        Raises:
            MissingExtraError: The entry point needs an extra that is not installed.
            ConfigError: The id has no such form, or the string does not name an importable object.
        """
        ref = getattr(self, _check_form(form))
        if ref is None:
            raise ConfigError(f"{self.id} form", "one of its forms " + ", ".join(_forms_of(self)), form)
        if not isinstance(ref, str):
            return ref
        return load_entry_point(ref, what=self.id, extra=self.extra, requires=self.requires)


_REGISTRY: dict[str, EnvInfo] = {}


# ------------------------------------------------------------------ entry points
def answer_affixes(template: str | None, what: str = "answer_template") -> tuple[str, str]:
    """The text before and after the answer in an ``EnvInfo.answer_template`` (``("", "")`` for ``None``).

    ``"<answer>{}</answer>"`` gives ``("<answer>", "</answer>")``; ``{{`` and ``}}`` are literal braces, as in
    ``str.format``.

    Raises:
        ConfigError: The template does not have exactly one empty ``{}`` field (or does not parse).
    """
    if template is None:
        return "", ""
    expected = "a str.format template with exactly one '{}' for the answer, e.g. '<answer>{}</answer>'"
    if not isinstance(template, str):
        raise ConfigError(what, expected, template)
    try:
        parts = list(string.Formatter().parse(template))
    except ValueError:
        raise ConfigError(what, expected, template) from None
    fields = [k for k, (_, name, _, _) in enumerate(parts) if name is not None]
    if len(fields) != 1 or parts[fields[0]][1:] != ("", "", None):
        raise ConfigError(what, expected, template)
    at = fields[0]
    return "".join(p[0] for p in parts[:at + 1]), "".join(p[0] for p in parts[at + 1:])


def _check_form(form: str) -> str:
    if form not in FORMS:
        raise ConfigError("form", "one of " + ", ".join(FORMS), form, FORMS)
    return form


def _check_reference(ref: str, what: str) -> None:
    module, sep, attr = ref.partition(":")
    parts = module.split(".") + attr.split(".")
    if not sep or not all(p.isidentifier() for p in parts):
        raise ConfigError(what, "a class or a 'package.module:Attribute' string", ref)


def _describe(ref: EntryPoint | None) -> str | None:
    """A comparable name of an entry point (also for classes that cannot be imported by name)."""
    if ref is None or isinstance(ref, str):
        return ref
    return f"{getattr(ref, '__module__', '?')}:{getattr(ref, '__qualname__', repr(ref))}"


def _importable_name(obj: Any) -> str | None:
    """``"module:Name"`` when importing ``module`` and reading ``Name`` gives back ``obj`` itself.

    Gymnasium resolves entry points with ``getattr(module, name)``, so only top-level names qualify (a class
    defined inside a function, or nested in another class, is passed to Gymnasium as the object instead).
    """
    module, qualname = getattr(obj, "__module__", None), getattr(obj, "__qualname__", None)
    if not module or not qualname or "." in qualname:
        return None
    found = getattr(sys.modules.get(module), qualname, None)
    return f"{module}:{qualname}" if found is obj else None


def require_extra(extra: str, *modules: str, what: str | None = None) -> None:
    """Raises ``MissingExtraError`` unless every module of a turngym extra can be imported.

    Call it at the top of a module that imports an extra's packages (before those imports), so every road
    to it (``gym.make``, ``turngym.envs.make``, a plain import) says which extra to install.

    Args:
        extra: The extra's name in setup.cfg (``web``, ``swe``).
        modules: Top-level modules the extra installs (``playwright``).
        what: What needs them, for the message (default: the extra).

    Raises:
        MissingExtraError: A module is missing.
    """
    for name in modules:
        try:
            found = importlib.util.find_spec(name) is not None
        except (ImportError, ValueError):  # a missing parent package, or a module without a spec
            found = False
        if not found:
            raise MissingExtraError(what or f"turngym[{extra}]", extra, name)


def load_entry_point(ref: str, what: str = "entry point", extra: str | None = None,
                     requires: tuple[str, ...] = ()) -> Callable[..., Any]:
    """Imports the object a ``"module:attr"`` string names (``attr`` may be dotted).

    Args:
        ref: The entry point.
        what: What it belongs to, for error messages (an env id).
        extra: The turngym extra that provides its optional dependencies, if any.
        requires: Modules of that extra, checked before the import.

    Returns:
        The object.

    Raises:
        MissingExtraError: ``requires`` (or a module the import needed) is missing and ``extra`` provides it.
        ConfigError: The module or the attribute does not exist.
    """
    _check_reference(ref, f"{what} entry point")
    if extra is not None:
        require_extra(extra, *requires, what=what)
    module_name, _, attr = ref.partition(":")
    try:
        obj: Any = importlib.import_module(module_name)
    except ModuleNotFoundError as e:
        missing = e.name or ""
        if missing and module_name != missing and not module_name.startswith(missing + "."):
            if extra is not None:  # a dependency of the entry module, not the module itself
                raise MissingExtraError(what, extra, missing.split(".")[0]) from e
            raise
        raise ConfigError(f"{what} entry point", "an importable 'module:attr' string", ref) from e
    for part in attr.split("."):
        if not hasattr(obj, part):
            raise ConfigError(f"{what} entry point", f"an attribute of {module_name}", ref)
        obj = getattr(obj, part)
    return obj


# ------------------------------------------------------------------ registration
def register_env(info: EnvInfo) -> None:
    """Adds an env to the turngym registry and to Gymnasium's.

    Registering the same id again with the same constructors replaces the entry (re-running a notebook
    cell); another env under a taken id is an error.

    Raises:
        ConfigError: The id is not ``Namespace/Name-vN``, or it is taken by another env.
    """
    namespace, _, version = _parse(info.id)
    if namespace is None or version is None:
        raise ConfigError("env id", "'Namespace/Name-vN' (your own namespace, e.g. 'myorg/Nim-v0')", info.id)
    old = _REGISTRY.get(info.id)
    if old is not None and [_describe(getattr(old, f)) for f in FORMS] != [_describe(getattr(info, f))
                                                                            for f in FORMS]:
        raise ConfigError("env id", "an id that is not registered yet", info.id,
                          hint=f"It is taken by {_describe(old.single)}; call unregister_env({info.id!r}) first.")
    if old is None and info.id in gymnasium.registry:
        raise ConfigError("env id", "an id that Gymnasium does not know yet", info.id,
                          hint="Another package registered it with gymnasium.register.")
    _REGISTRY[info.id] = info
    gymnasium.registry.pop(info.id, None)
    gymnasium.register(id=info.id, entry_point=info.entry_point("single") or info.single,
                       disable_env_checker=False)


def unregister_env(env_id: str) -> None:
    """Removes an env from both registries (for tests and interactive redefinition)."""
    if _REGISTRY.pop(env_id, None) is not None:
        gymnasium.registry.pop(env_id, None)


def _parse(env_id: str) -> tuple[str | None, str, int | None]:
    try:
        return parse_env_id(env_id)
    except Exception:  # noqa: BLE001 - gymnasium raises its own error type for any malformed id
        return None, env_id, None


# ------------------------------------------------------------------ lookup
def _lookup(env_id: Any) -> EnvInfo | None:
    """Exact id, or ``Name-vN`` without its namespace (``turngym/`` first, then a unique other one)."""
    if not isinstance(env_id, str):
        return None
    if env_id in _REGISTRY:
        return _REGISTRY[env_id]
    if "/" in env_id:
        return None
    if f"{NAMESPACE}/{env_id}" in _REGISTRY:
        return _REGISTRY[f"{NAMESPACE}/{env_id}"]
    same = [e for e in _REGISTRY.values() if e.id.split("/", 1)[-1] == env_id]
    return same[0] if len(same) == 1 else None


def _bare(env_id: str) -> str:
    """The name of an id without namespace and version, lower case (``turngym/ToolQA-v0`` -> ``toolqa``)."""
    name = env_id.rsplit("/", 1)[-1]
    stem, sep, version = name.rpartition("-v")
    return (stem if sep and version.isdigit() else name).lower()


def _guess(env_id: Any) -> tuple[EnvInfo | None, bool]:
    """(the env a mistyped id most likely means, whether only its namespace/version/case were off)."""
    if not isinstance(env_id, str) or not _REGISTRY:
        return None, False
    bare = _bare(env_id)
    same = [e for e in _REGISTRY.values() if _bare(e.id) == bare]
    if same:  # prefer turngym's own id, then the newest version
        return max(same, key=lambda e: (e.id.startswith(NAMESPACE + "/"), _parse(e.id)[2] or 0)), True
    by_name: dict[str, EnvInfo] = {}
    for e in list_envs():
        by_name.setdefault(_bare(e.id), e)
        by_name.setdefault(e.id.lower(), e)
    hit = nearest(bare, by_name) or nearest(env_id.lower(), by_name)
    return (by_name[hit.lower()], False) if hit else (None, False)


def _forms_of(info: EnvInfo) -> list[str]:
    return [f"{FORMS[f][0]} ({FORMS[f][1]})" for f in FORMS if getattr(info, f) is not None]


def _unknown(env_id: Any, guess: EnvInfo | None) -> UnknownEnvError:
    return UnknownEnvError("env id", "a registered turngym id", env_id, suggestion=guess.id if guess else None,
                           hint=LIST_HINT)


def env_info(env_id: str) -> EnvInfo:
    """Registry entry of ``env_id`` (``UnknownEnvError`` with the nearest id otherwise)."""
    info = _lookup(env_id)
    if info is None:
        raise _unknown(env_id, _guess(env_id)[0])
    return info


def _resolve(env_id: str, form: str) -> EnvInfo:
    """The entry of an id that must offer ``form``; errors name the forms it has and ``turngym list``."""
    info = _lookup(env_id)
    guess, same_env = (info, True) if info is not None else _guess(env_id)
    if guess is not None and same_env and getattr(guess, form) is None:
        others = [e.id for e in list_envs() if getattr(e, form) is not None]
        what = guess.id if guess.id == env_id else f"{env_id!r} is {guess.id}, which"
        raise ConfigError("env id", f"an id with a {FORMS[form][0]} form ({', '.join(others) or 'none yet'})",
                          env_id, hint=f"{what} has no {FORMS[form][0]} form; its forms: "
                                       f"{'; '.join(_forms_of(guess))}. {LIST_HINT}")
    if info is None:
        raise _unknown(env_id, guess)
    return info


def list_envs(family: str | None = None) -> list[EnvInfo]:
    """Every registered env (turngym's and users'), optionally of one family, sorted by id."""
    return sorted((e for e in _REGISTRY.values() if family in (None, e.family)), key=lambda e: e.id)


# ------------------------------------------------------------------ construction
def _build(info: EnvInfo, form: str, kwargs: dict[str, Any]) -> Any:
    ctor = info.load(form)
    check_kwargs(ctor, info.id, kwargs)
    env = ctor(**kwargs)
    env.make_kwargs = dict(kwargs)
    return env


def make(env_id: str, **kwargs: Any) -> Any:
    """Single-agent env without Gymnasium's wrappers (``gym.make`` adds its checker and order wrappers)."""
    return _build(_resolve(env_id, "single"), "single", kwargs)


def make_aec(env_id: str, **kwargs: Any) -> Any:
    """PettingZoo AEC env of a turn-based multi-agent id."""
    return _build(_resolve(env_id, "aec"), "aec", kwargs)


def make_parallel(env_id: str, **kwargs: Any) -> Any:
    """PettingZoo Parallel env of a simultaneous-move multi-agent id."""
    return _build(_resolve(env_id, "parallel"), "parallel", kwargs)
