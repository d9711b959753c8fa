"""``turngym/SWE-v0``: fix a real repository's bug with bash and a file editor in a sandbox, graded by its tests.

See ``SWEEnv``'s docstring for the episode; ``env_repo`` for what is done to the repository (the start state
without the gold, the state key, what grading carries over); ``env_pool`` for the warm sandboxes.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from turngym.envs.core.errors import ConfigError, SnapshotError
from turngym.envs.core.render import render_text
from turngym.envs.core.session import (
    RESET_FIRST,
    encode_snapshot,
    parsed_snapshot,
    read_bool,
    read_dict,
    read_int,
    read_list,
    read_message,
    rng_from_state,
    rng_state,
)
from turngym.envs.core.spaces import Text, truncate
from turngym.envs.core.state_key import make_state_key
from turngym.envs.core.text_env import TextEnv
from turngym.envs.swe import env_pool, env_repo
from turngym.envs.swe.editor import Editor
from turngym.envs.swe.sandbox.base import Sandbox, SandboxError, SandboxSpec, head_tail
from turngym.envs.swe.tasks import grading
from turngym.envs.swe.tasks.instance import SWEInstance, load_instances
from turngym.envs.swe.tasks.synth import repos as synth_repos
from turngym.envs.swe.tools import BASH, EDITOR, SUBMIT, tool_specs
from turngym.envs.tooluse import formats
from turngym.envs.tooluse.base import ToolCall, ToolResult

ENV_ID = "turngym/SWE-v0"
BACKENDS = ("local", "docker")
REWARDS = ("resolved", "partial")
SPLITS = ("train", "test")
DATA_DIR = Path(__file__).resolve().parent / "tasks" / "data"
WORKDIR = "/testbed"
#: Fraction of instances in the test split (by a hash of the instance id, so it never depends on the file order).
TEST_FRACTION = 0.2
#: Fields of a task row that hold the gold (or reveal it): never in an observation or an info.
GOLD_FIELDS = ("patch", "bug_patch", "mutated_function", "mutation")


def split_of(instance_id: str) -> str:
    """``test`` for a fixed ~20% of instance ids (sha256 of the id), ``train`` for the rest."""
    bucket = int.from_bytes(hashlib.sha256(instance_id.encode()).digest()[:4], "big") / 2**32
    return "test" if bucket < TEST_FRACTION else "train"


def shipped_repo(instance: SWEInstance) -> str | None:
    """The short name of the pinned repository an instance belongs to (None for a user's own task)."""
    for spec in synth_repos.REPOS.values():
        if spec.repo == instance.repo and (not instance.version or spec.version == instance.version):
            return spec.name
    return None


def load_shipped(repos: Sequence[str] | None = None) -> list[SWEInstance]:
    """The shipped synthesized tasks (``tasks/data/<repo>.jsonl``), of ``repos`` or of all five."""
    names = sorted(synth_repos.REPOS) if repos is None else list(repos)
    out: list[SWEInstance] = []
    for name in names:
        synth_repos.get_spec(name)  # ConfigError with the nearest name
        out += load_instances(DATA_DIR / f"{name}.jsonl")
    return out


def _backend_problem(backend: str) -> str | None:
    """Why ``backend`` cannot run here (with how to install it), or None."""
    if backend == "local":
        from turngym.envs.swe.sandbox import local

        try:
            local._bwrap_path()  # the backend's own probe: root, bwrap 0.5+, nsenter, setpriv, git, bash
        except ConfigError as exc:
            return str(exc)
        return None
    from turngym.envs.swe.sandbox.docker_backend import docker_unavailable

    why = docker_unavailable()
    return None if why is None else f"{why} (install the docker extra: pip install 'turngym[swe]', and run dockerd)"


class SWEEnv(TextEnv):
    """Fix a bug in a real Python repository inside a sandbox; graded by the repository's own tests.

    Description:
        One episode is one SWE-bench instance: by default one of the 200 shipped tasks (a synthesized bug in
        one of five pinned PyPI libraries: toolz, cachetools, inflection, parse, boltons), or a row of the
        user's own SWE-bench JSONL (``tasks=path``; its images must exist). ``reset`` takes a warm sandbox of
        the task's repository, puts the buggy start state in it as the one commit of a fresh repository (no
        history: the fix is not reachable through git), and shows the problem statement. The agent works with
        ``bash``, ``str_replace_editor`` and ``submit``.
    Observation:
        Text. At reset: how to call the tools in ``format`` (``formats.format_instructions``), the problem
        statement and the budgets. Then the tool outputs (each cut head + tail to ``max_output_chars``), or
        what was wrong with the message.
    Action:
        Any string: tool calls in ``format`` (``hermes``, ``openai``, ``plain``), at most 4 per message;
        ``submit()`` or ``<answer>...</answer>`` (any text) ends the episode and grades it.
    Reward:
        On submit: ``reward="resolved"``: 1.0 when every FAIL_TO_PASS and PASS_TO_PASS test passes, else 0;
        ``"partial"``: the fraction of FAIL_TO_PASS tests passing (0 when a PASS_TO_PASS test broke).
        ``invalid_action_penalty`` (default 0) per malformed message; 0 otherwise. With ``step_rewards=True``,
        ``info["step_reward"]`` holds a per-turn signal for gated reward accumulation (G-RA) in trainers:
        ``step_reward`` for a valid turn that reaches a code state not seen before in the episode (a new
        ``state_key``), 0 otherwise; it is never added to ``reward`` (the trainer gates it by the outcome).
    Episode end:
        Terminated on submit (``info["success"]`` = resolved; ``info["grade"]`` = the grade, without the
        gold). Terminated and scored 0 when the agent's own command kills its sandbox (``info["sandbox_died"]``).
        Truncated, not graded (reward 0, ``success`` False, as the tool-use envs' turn cap), when ``max_turns``
        turns or ``time_budget_s`` seconds pass without a submit. Truncated and unscored (``info["infra_error"]``,
        no ``success``) when the sandbox fails at start, reset or grading: trainers and leaderboards leave it
        out; the next ``reset`` starts a new sandbox. How the two sandbox deaths are told apart: a death during
        one of the agent's tool calls is the agent's (scored 0); grading runs the agent's changes in a clean
        sandbox, and a death there is retried once in another new sandbox; a second death is the patch's
        (scored 0), a sandbox that cannot start is infrastructure.

    Arguments:
        tasks (str | Sequence[SWEInstance] | None): a SWE-bench JSON/JSONL path or instances; default the
            shipped synthesized set.
        repos (Sequence[str] | None): subset of the shipped repositories (``toolz``, ``cachetools``,
            ``inflection``, ``parse``, ``boltons``).
        split (str): ``train`` (default) or ``test``: a fixed hash split of instance ids (~20% test).
        backend (str): ``local`` (bubblewrap, default) or ``docker``. A backend that cannot run here is refused
            with how to install it; there is no fallback from one to the other.
        format (str): ``hermes`` (default), ``openai`` or ``plain``.
        max_turns (int): default 30.
        time_budget_s (float | None): wall-clock budget of an episode (default 1800 s; None: none).
        max_output_chars (int): per tool output, default 10000 (head + tail kept).
        reward (str): ``resolved`` (default) or ``partial``.
        step_rewards (bool): put the G-RA per-turn signal in ``info["step_reward"]`` (default False).
        step_reward (float): its size, default 0.1.
        command_timeout_s (float): per bash command, default 60.
        test_timeout_s (float): the grading run, default 600.
        max_calls_per_turn (int): default 4.
        max_obs_chars (int): observation cap, default 32000.
        invalid_action_penalty (float): default 0.
        memory_mb (int): sandbox memory limit, default 2048.
    Version history:
        v0: initial release.

    Security: the sandbox runs the agent's commands under the backend's isolation (SECURITY.md). The agent's
    git history holds only the start commit (``env_repo``). The sandbox image's object store, which reset needs
    and which holds the clean files (every task's fix), is unreadable to the agent's commands on both backends:
    only reset runs with the group that may read it (local: ``local.protect_objects``; docker: the image's
    ``/opt/turngym`` is ``root:10002`` mode 0750 and commands run as uid 10001 without that group,
    ``docker_server``'s "Identities"). The env never sets ``SandboxSpec.history``.
    """

    metadata = {"render_modes": ["ansi", "human"]}

    def __init__(
        self,
        tasks: str | Path | Sequence[SWEInstance] | None = None,
        repos: Sequence[str] | None = None,
        split: str = "train",
        backend: str = "local",
        format: str = "hermes",  # noqa: A002  (the documented argument name)
        max_turns: int = 30,
        time_budget_s: float | None = 1800.0,
        max_output_chars: int = 10_000,
        reward: str = "resolved",
        step_rewards: bool = False,
        step_reward: float = 0.1,
        command_timeout_s: float = 60.0,
        test_timeout_s: float = 600.0,
        max_calls_per_turn: int = 4,
        max_obs_chars: int = 32_000,
        invalid_action_penalty: float = 0.0,
        memory_mb: int = 2048,
        obs_mode: str = "text",
        render_mode: str | None = None,
    ):
        if obs_mode != "text":
            raise ConfigError("obs_mode", "'text' (SWE has no vector mode)", obs_mode, ("text",))
        for name, value, choices in (("backend", backend, BACKENDS), ("format", format, formats.FORMATS),
                                     ("reward", reward, REWARDS), ("split", split, SPLITS)):
            if value not in choices:
                raise ConfigError(name, "one of " + ", ".join(choices), value, choices)
        for name, value in (("max_turns", max_turns), ("max_output_chars", max_output_chars),
                            ("max_calls_per_turn", max_calls_per_turn), ("max_obs_chars", max_obs_chars),
                            ("memory_mb", memory_mb)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(name, "a positive int", value)
        for name, value in (("command_timeout_s", command_timeout_s), ("test_timeout_s", test_timeout_s)):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
                raise ConfigError(name, "a positive number of seconds", value)
        if time_budget_s is not None and (isinstance(time_budget_s, bool) or not time_budget_s > 0):
            raise ConfigError("time_budget_s", "a positive number of seconds or None", time_budget_s)
        if tasks is None:
            instances = load_shipped(repos)
        elif isinstance(tasks, (str, Path)):
            instances = load_instances(tasks)
        else:
            instances = list(tasks)
            if not all(isinstance(t, SWEInstance) for t in instances):
                raise ConfigError("tasks", "a path or a sequence of SWEInstance", type(tasks).__name__)
        if tasks is not None and repos is not None:
            instances = [t for t in instances if shipped_repo(t) in set(repos) or t.repo in set(repos)]
        chosen = [t for t in instances if split_of(t.instance_id) == split]
        if not chosen:
            raise ConfigError("tasks", f"at least one instance in the {split!r} split", f"{len(instances)} "
                              "instances, none in it")
        problem = _backend_problem(backend)
        if problem is not None:
            raise ConfigError("backend", f"a {backend} backend that works here", problem, BACKENDS)
        self.instances = chosen
        self.backend = backend
        self.split = split
        self.format = format
        self.max_turns = max_turns
        self.time_budget_s = None if time_budget_s is None else float(time_budget_s)
        self.max_output_chars = max_output_chars
        self.reward_kind = reward
        self.step_rewards = bool(step_rewards)
        self.step_reward = float(step_reward)
        self.command_timeout_s = float(command_timeout_s)
        self.test_timeout_s = float(test_timeout_s)
        self.max_calls_per_turn = max_calls_per_turn
        self.max_obs_chars = max_obs_chars
        self.invalid_action_penalty = float(invalid_action_penalty)
        self.memory_mb = memory_mb
        self.obs_mode = "text"
        self.render_mode = render_mode
        self.env_id = ENV_ID
        self.tools = tool_specs(self.command_timeout_s, self.max_output_chars)
        self.observation_space = Text(self.max_obs_chars)
        self.action_space = Text(formats.MAX_CHARS)
        if backend == "docker":
            from turngym.envs.swe.images import require_docker_image

            for image in sorted({self._image_of(t) for t in chosen}):
                require_docker_image(image)
        self.instance: SWEInstance | None = None
        self.index = -1
        self._pool: env_pool.SandboxPool | None = None
        self._pool_key: Any = None
        self.sandbox: Sandbox | None = None
        self.editor: Editor | None = None
        self._new_episode()

    # ------------------------------------------------------------------ sandboxes
    def _image_of(self, inst: SWEInstance) -> str:
        name = shipped_repo(inst)
        if self.backend == "docker":
            if inst.image:
                return inst.image
            if name is None:
                raise ConfigError(f"task {inst.instance_id} image", "a docker image name in the row", "")
            return synth_repos.get_spec(name).image
        if name is not None and (not inst.image or inst.image == synth_repos.get_spec(name).image):
            from turngym.envs.swe.images import local_image

            return str(local_image(name))
        if not inst.image or not Path(inst.image).is_dir():
            raise ConfigError(f"task {inst.instance_id} image", "a prepared directory (repo/, site/) for the "
                              "local backend", inst.image)
        return inst.image

    def _spec(self, image: str) -> SandboxSpec:
        return SandboxSpec(image=image, workdir=WORKDIR, memory_mb=self.memory_mb,
                           exec_timeout_s=self.command_timeout_s, max_output_chars=self.max_output_chars)

    def _factory(self, spec: SandboxSpec):
        if self.backend == "local":
            from turngym.envs.swe.sandbox.local import LocalSandbox

            return lambda: LocalSandbox(spec)
        from turngym.envs.swe.sandbox.docker_backend import DockerSandbox

        return lambda: DockerSandbox(spec)

    def _release(self, broken: bool = False) -> None:
        """Gives the episode's sandbox back (reset in the background), or drops its pool when it failed."""
        pool, sb = self._pool, self.sandbox
        self._pool, self.sandbox, self.editor = None, None, None
        if pool is None:
            return
        if broken or sb is None or not sb.alive:
            env_pool.discard(pool)
            return
        try:
            pool.release(sb)
        except ValueError:
            env_pool.discard(pool)
            return
        env_pool.give_back(self._pool_key, pool)

    def _start_state(self, inst: SWEInstance) -> str:
        """A sandbox holding ``inst``'s start state (``self.sandbox``); returns the start's tree hash.

        ``SandboxError`` when none can be made.

        One retry with a new sandbox: a warm one that died while idle is replaced, not reported.
        """
        spec = self._spec(self._image_of(inst))
        key = (self.backend, spec)
        last: SandboxError | None = None
        for _ in range(2):
            self._release()
            pool = env_pool.borrow(key, self._factory(spec), self.backend)
            self._pool, self._pool_key = pool, key
            try:
                sb = pool.acquire(timeout=300)
                self.sandbox = sb
                if inst.base_commit and getattr(sb, "start_commit", inst.base_commit) != inst.base_commit:
                    sb.reset(inst.base_commit)
                self.start_commit, tree = env_repo.prepare_start(sb, WORKDIR, str(inst.extra.get("bug_patch", "")))
                self.editor = Editor(sb)
                return tree
            except (SandboxError, ValueError) as exc:
                last = exc if isinstance(exc, SandboxError) else SandboxError(str(exc))
                self._release(broken=True)
        assert last is not None
        raise last

    # ------------------------------------------------------------------ episodes
    def _new_episode(self) -> None:
        self.turn = 0
        self.done = False
        self.truncated_flag = False
        self.error: str | None = None
        self.infra_error: str | None = None
        self.actions: list[str] = []  # the valid messages, in order (snapshots replay them)
        self.last_obs = ""
        self.tree: str | None = None
        self.seen: set[str] = set()
        self.grade_info: dict[str, Any] | None = None
        self.start_commit = ""
        self._t0 = time.monotonic()

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        """Draws a task (or ``options={"task_index": i}``, or ``{"instance_id": id}``) and starts it."""
        super().reset(seed=seed)
        self._new_episode()
        self.index = self._pick(options or {})
        self.instance = self.instances[self.index]
        try:
            self.tree = self._start_state(self.instance)
            obs = self._intro()
        except SandboxError as exc:
            # DESIGN §3: not the agent's failure. The episode is over before it began: the first step reports it.
            self.infra_error = f"sandbox failed at reset: {exc}"
            self._release(broken=True)
            obs = f"The environment failed ({self.infra_error}); this episode is not scored."
        self.seen.add(self.state_key())
        self.last_obs = truncate(obs, self.max_obs_chars)
        info = self._info()
        info["task"] = self.task_info()
        if self.infra_error is not None:
            info["infra_error"] = self.infra_error
        return self.last_obs, info

    def _pick(self, options: dict[str, Any]) -> int:
        if "task_index" in options:
            i = options["task_index"]
            if isinstance(i, bool) or not isinstance(i, int) or not 0 <= i < len(self.instances):
                raise ConfigError("options['task_index']", f"an int in 0..{len(self.instances) - 1}", i)
            return i
        if "instance_id" in options:
            ids = [t.instance_id for t in self.instances]
            if options["instance_id"] not in ids:
                raise ConfigError("options['instance_id']", f"an instance of the {self.split} split",
                                  options["instance_id"], ids)
            return ids.index(options["instance_id"])
        return int(self.np_random.integers(len(self.instances)))

    def step(self, action: Any):
        """Runs the tool calls of ``action``; ``submit`` (or ``<answer>``) grades the repository."""
        if self.instance is None:
            raise RuntimeError(f"step() called before reset(); {RESET_FIRST}")
        if self.done:
            raise RuntimeError("step() called after the episode ended; call reset()")
        self.turn += 1
        reward, terminated, truncated = 0.0, False, False
        extra: dict[str, Any] = {}
        if self.infra_error is not None:  # the sandbox failed at reset
            self.done = self.truncated_flag = True
            self.last_obs = truncate(f"The environment failed ({self.infra_error}); not scored.", self.max_obs_chars)
            info = self._info()
            info["infra_error"] = self.infra_error
            return self.last_obs, 0.0, False, True, info
        parsed = formats.parse_turn(action, self.format, self.tools, max_calls=self.max_calls_per_turn)
        if parsed.error is not None:
            self.error = parsed.error
            reward = self.invalid_action_penalty
            obs = f"Invalid action: {parsed.error}"
        else:
            self.error = None
            self.actions.append(action)
            calls = list(parsed.calls)
            submit = parsed.answer is not None or any(c.name == SUBMIT for c in calls)
            run = calls[:next((i for i, c in enumerate(calls) if c.name == SUBMIT), len(calls))]
            try:
                results = [self._call(c) for c in run]
                died = None
            except SandboxError as exc:
                results, died = [], str(exc)
            if died is not None:
                # The agent's own command (or edit) found its sandbox dead: the agent's doing, scored 0.
                terminated = True
                extra["sandbox_died"] = died
                self._release(broken=True)
                obs = f"The sandbox died during your command ({died}); the episode ends with reward 0."
            else:
                obs = formats.render_results(run, results, self.format, self.max_output_chars) if run else ""
                if submit:
                    terminated = True
                    reward, text = self._submit(extra)
                    obs = (obs + "\n" if obs else "") + text
                else:
                    self._refresh_tree(extra)
        if not terminated and "infra_error" not in extra:
            out_of_time = self.time_budget_s is not None and time.monotonic() - self._t0 >= self.time_budget_s
            if self.turn >= self.max_turns or out_of_time:
                truncated = True
                why = f"turn limit ({self.max_turns})" if self.turn >= self.max_turns else \
                    f"time budget ({self.time_budget_s:g} s)"
                obs += f"\nEpisode over: {why} reached without a submit (not graded)."
        if "infra_error" in extra:
            self.infra_error = extra.pop("infra_error")
            truncated, terminated, reward = True, False, 0.0
        self.done = terminated or truncated
        self.truncated_flag = truncated
        if self.done:
            # Given back now, not at the next reset: the pool's background reset then overlaps whatever the caller
            # does between episodes (a policy's forward pass), and the next reset finds the sandbox clean.
            self._release()
        self.last_obs = truncate(obs, self.max_obs_chars)
        info = self._info()
        info.update(extra)
        if self.step_rewards:
            info["step_reward"] = extra.get("step_reward", 0.0)
            info.pop("new_state", None)
        if self.infra_error is not None:
            info["infra_error"] = self.infra_error
        elif self.done:
            info["success"] = bool(self.grade_info and self.grade_info["resolved"])
            if self.grade_info is not None:
                info["grade"] = dict(self.grade_info)
        if self.render_mode == "human":
            print(self.last_obs)
        return self.last_obs, float(reward), terminated, truncated, info

    def _call(self, call: ToolCall) -> ToolResult:
        """One tool call on the sandbox; ``SandboxError`` propagates (the caller decides whose fault it is)."""
        assert self.sandbox is not None and self.editor is not None
        if call.name == BASH:
            command = call.arguments["command"]
            if "\0" in command:
                return ToolResult(False, "the command holds a NUL byte")
            left = self._time_left()
            res = self.sandbox.exec(command, timeout=min(self.command_timeout_s, max(left, 1.0)),
                                    max_output_chars=self.max_output_chars)
            text = res.output
            if res.timed_out:
                text += f"\n[command timed out after {min(self.command_timeout_s, max(left, 1.0)):g} s]"
            elif res.exit_code:
                text += f"\n[exit code {res.exit_code}]"
            return ToolResult(res.exit_code == 0, text)
        ok, text = self.editor.call(dict(call.arguments))
        return ToolResult(ok, head_tail(text, self.max_output_chars)[0])

    def _time_left(self) -> float:
        if self.time_budget_s is None:
            return float("inf")
        return self.time_budget_s - (time.monotonic() - self._t0)

    def _refresh_tree(self, extra: dict[str, Any]) -> None:
        """Recomputes the code state after the agent's calls (a dead sandbox here is the agent's doing too)."""
        try:
            self.tree = env_repo.state_tree(self.sandbox)  # type: ignore[arg-type]
        except SandboxError:
            self.tree = None
        key = self.state_key()
        if self.step_rewards:
            extra["step_reward"] = self.step_reward if key not in self.seen else 0.0
        self.seen.add(key)

    # ------------------------------------------------------------------ grading
    def _submit(self, extra: dict[str, Any]) -> tuple[float, str]:
        """Grades the repository as the agent leaves it (see ``env_repo``); returns (reward, message)."""
        inst = self.instance
        assert inst is not None and self.sandbox is not None
        try:
            changes, skipped = self._collect_changes(self.sandbox)
        except SandboxError as exc:  # dead right after the agent's own commands: the agent's doing
            extra["sandbox_died"] = str(exc)
            self._release(broken=True)
            self.grade_info = {"resolved": False, "f2p_rate": 0.0, "p2p_rate": 0.0, "found": False}
            return 0.0, "The sandbox was dead at submit; reward 0."
        grade, why = self._grade(changes)
        if grade is None:
            if why.startswith("infra"):
                extra["infra_error"] = why
                return 0.0, f"The environment failed while grading ({why}); this episode is not scored."
            self.grade_info = {"resolved": False, "f2p_rate": 0.0, "p2p_rate": 0.0, "found": False}
            extra["sandbox_died"] = why
            return 0.0, f"Grading failed because the tests killed the sandbox twice ({why}); reward 0."
        self.grade_info = {"resolved": grade.resolved, "resolution": grade.resolution.value,
                           "f2p_rate": grade.f2p_rate, "p2p_rate": grade.p2p_rate, "found": grade.found,
                           "partial_credit": grade.partial_credit, "files_graded": sorted(changes),
                           "files_not_graded": skipped}
        reward = float(grade.resolved) if self.reward_kind == "resolved" else grade.partial_credit
        verdict = "resolved" if grade.resolved else "not resolved"
        return reward, (f"Submitted: {verdict} (FAIL_TO_PASS {grade.f2p_rate:.0%} passing, PASS_TO_PASS "
                        f"{grade.p2p_rate:.0%}).")

    def _protected_set(self) -> frozenset[str]:
        inst = self.instance
        assert inst is not None
        files = set(grading.test_files(inst)) | {t.split("::", 1)[0] for t in inst.test_ids}
        return frozenset(files)

    def _collect_changes(self, sb: Sandbox) -> tuple[dict[str, bytes | None], list[str]]:
        """The agent's changed source files (path -> content, None = deleted) and the paths left out."""
        paths = env_repo.changed_files(sb) or []
        prot = self._protected_set()
        name = shipped_repo(self.instance) if self.instance else None
        spec = synth_repos.get_spec(name) if name else None
        changes: dict[str, bytes | None] = {}
        skipped = []
        for path in paths:
            if env_repo.protected(path, prot) or (spec is not None and spec.is_test_path(path)) \
                    or len(changes) >= env_repo.MAX_CHANGED_FILES:
                skipped.append(path)
                continue
            try:
                data = sb.read_file(path, max_bytes=env_repo.MAX_CHANGED_BYTES + 1)
            except FileNotFoundError:
                changes[path] = None
                continue
            except (ValueError, OSError):
                skipped.append(path)
                continue
            if len(data) > env_repo.MAX_CHANGED_BYTES:
                skipped.append(path)
                continue
            changes[path] = data
        return changes, skipped

    def _grade(self, changes: dict[str, bytes | None]) -> tuple[grading.Grade | None, str]:
        """Runs the tests on the start state plus ``changes`` in a clean sandbox (module ``env_repo``).

        Returns (grade, "") or (None, why): ``why`` starts with ``infra`` when no clean sandbox could be made
        (not scored), and names the death otherwise (the tests killed two sandboxes in a row: the patch's doing).
        """
        inst = self.instance
        assert inst is not None
        died = ""
        for _ in range(2):
            try:
                self._start_state(inst)  # releases the episode's sandbox; a clean one from the pool
                sb = self.sandbox
                assert sb is not None
                for path, data in changes.items():
                    if data is not None:
                        sb.write_file(path, data)
                gone = [p for p, d in changes.items() if d is None]
                if gone:
                    sb.exec(env_repo.remove_script(gone), timeout=30)
                if inst.test_patch:
                    sb.write_file(".turngym-test.patch", inst.test_patch.encode())
                    sb.exec("git apply --whitespace=nowarn .turngym-test.patch; rm -f .turngym-test.patch",
                            timeout=60)
            except (SandboxError, ValueError) as exc:
                return None, f"infra: sandbox failed before the tests ran: {exc}"
            try:
                res = sb.exec(grading.framed(grading.test_command(inst)), timeout=self.test_timeout_s,
                              max_output_chars=4_000_000)
            except SandboxError as exc:
                died = str(exc)
                self._release(broken=True)
                continue
            return grading.grade(inst, res.output, framed=True), ""
        return None, f"the sandbox died during the tests twice: {died}"

    # ------------------------------------------------------------------ views
    def _intro(self) -> str:
        inst = self.instance
        assert inst is not None
        budget = "" if self.time_budget_s is None else f" and {self.time_budget_s:g} seconds"
        return (formats.format_instructions(self.format, self.tools, self.max_calls_per_turn)
                + f"\n\n# Task\n\nThe repository {inst.repo} is checked out in {WORKDIR} (the current directory). "
                "Fix the problem below by editing the source code (not the tests), then call submit "
                "(or reply with <answer>done</answer>). The failing tests and the rest of the suite are then run.\n\n"
                f"{inst.problem_statement}\n\nYou have at most {self.max_turns} turns{budget}.")

    def state_key(self) -> str:
        """The GiGPO anchor: the task and a hash of the repository's whole content (its diff state).

        Two episodes of a task share it at the start and whenever their work trees hold the same files (after
        the same edit, whatever the route). When the tree could not be hashed (the agent broke git), the key
        is unique to this turn of this episode, so it joins no step group.
        """
        task = self.instance.instance_id if self.instance is not None else ""
        tree = self.tree if self.tree is not None else "unknown:" + env_repo.key_digest(str(id(self)), str(self.turn),
                                                                                       str(self._t0))
        return make_state_key(self.env_id, f"{task}\0{tree}")

    def _info(self) -> dict[str, Any]:
        info: dict[str, Any] = {"state_key": self.state_key(), "admissible_actions": None,
                                "action_valid": self.error is None, "turn": self.turn}
        if self.error is not None:
            info["error"] = self.error
        return info

    def task_info(self) -> dict[str, Any]:
        """``info["task"]``: id, instruction (the problem statement), repo, split; never the gold fields."""
        inst = self.instance
        assert inst is not None
        return {"id": inst.instance_id, "env_id": self.env_id, "instruction": inst.problem_statement,
                "repo": inst.repo, "version": inst.version, "split": self.split, "format": self.format,
                "FAIL_TO_PASS": list(inst.FAIL_TO_PASS)}  # difficulty tags stay out too: they describe the fix

    def gold_patch(self) -> str:
        """The current task's fix (for the scripted expert and analysis; never in an info)."""
        if self.instance is None:
            raise RuntimeError(f"{self.env_id}: gold_patch() before reset()")
        return self.instance.patch

    def example_actions(self) -> list[str]:
        """Well-formed actions (conformance checks play them): look at the tree, view a file, submit."""
        return [formats.render_calls([ToolCall(BASH, {"command": "git status --short"})], self.format),
                formats.render_calls([ToolCall(EDITOR, {"command": "view", "path": "."})], self.format),
                formats.render_calls([ToolCall(SUBMIT, {})], self.format)]

    def render(self) -> str | None:
        """The last observation (``ansi`` returns it, ``human`` prints it)."""
        return render_text(self.render_mode, lambda: self.last_obs)

    def close(self) -> None:
        """Gives the sandbox back to the process's pool (it is reset there and reused, or closed at exit)."""
        self._release()
        super().close()

    # ------------------------------------------------------------------ snapshots
    def get_state(self) -> bytes:
        """The episode as (task, the valid messages so far, counters): restored by replaying the messages.

        A live repository is not serialized; ``set_state`` rebuilds it from the start state and replays the
        recorded messages' tool calls (their outputs may differ: the id is registered ``replayable=False``).
        """
        if self.instance is None:
            raise RuntimeError(f"get_state() called before reset(); {RESET_FIRST}")
        return encode_snapshot(self.env_id, {
            "task": self.instance.instance_id, "turn": self.turn, "done": self.done, "truncated": self.truncated_flag,
            "actions": list(self.actions), "error": self.error, "infra_error": self.infra_error,
            "last_obs": self.last_obs, "rng": rng_state(self.np_random)})

    def set_state(self, blob: bytes) -> None:
        """Restores ``get_state`` output; a forged or foreign snapshot raises ``SnapshotError`` and changes nothing."""

        def parse(data: dict[str, Any]) -> tuple[Any, ...]:
            f = read_dict(data, "snapshot", ("task", "turn", "done", "truncated", "actions", "error", "infra_error",
                                             "last_obs", "rng"))
            ids = [t.instance_id for t in self.instances]
            if type(f["task"]) is not str or f["task"] not in ids:
                raise SnapshotError("snapshot of a task this env does not have")
            turn = read_int(f["turn"], 0, self.max_turns, "turn")
            actions = read_list(f["actions"], "actions", max_length=turn)
            done, truncated = read_bool(f["done"], "done"), read_bool(f["truncated"], "truncated")
            error, infra = read_message(f["error"], "error"), read_message(f["infra_error"], "infra_error")
            submitted = False
            for i, text in enumerate(actions):
                parsed = formats.parse_turn(text, self.format, self.tools, max_calls=self.max_calls_per_turn)
                if parsed.error is not None or submitted:
                    raise SnapshotError(f"action {i} is not a valid message, or follows the submit")
                submitted = parsed.answer is not None or any(c.name == SUBMIT for c in parsed.calls)
            if truncated and not done or (done and not truncated and not submitted) or (submitted and not done):
                raise SnapshotError("done/truncated disagree with the actions")
            if not done and turn >= self.max_turns:
                raise SnapshotError("an episode at the turn cap must be over")
            last_obs = f["last_obs"]
            if type(last_obs) is not str or len(last_obs) > self.max_obs_chars:
                raise SnapshotError("last_obs must be a string within max_obs_chars")
            return (ids.index(f["task"]), turn, done, truncated, actions, error, infra, last_obs,
                    rng_from_state(f["rng"]), submitted)

        index, turn, done, truncated, actions, error, infra, last_obs, rng, submitted = parsed_snapshot(
            self.env_id, blob, parse)
        live = (self.instance is not None and index == self.index and self.sandbox is not None
                and self.sandbox.alive and self.grade_info is None and not self.done)
        if not (live and actions == self.actions):
            self._rebuild(index, actions[:-1] if submitted else actions)
        self.turn, self.done, self.truncated_flag, self.error, self.infra_error = turn, done, truncated, error, infra
        self.actions, self.last_obs, self._np_random = list(actions), last_obs, rng

    def _rebuild(self, index: int, actions: list[str]) -> None:
        """The start state of task ``index`` with ``actions``' tool calls replayed (their outputs discarded)."""
        self._new_episode()
        self.index, self.instance = index, self.instances[index]
        try:
            self._start_state(self.instance)
            for text in actions:
                for call in formats.parse_turn(text, self.format, self.tools, max_calls=self.max_calls_per_turn).calls:
                    self._call(call)
            self.tree = env_repo.state_tree(self.sandbox)  # type: ignore[arg-type]
        except SandboxError as exc:
            self.infra_error = f"sandbox failed while restoring a snapshot: {exc}"
            self._release(broken=True)
        self.seen.add(self.state_key())


__all__ = ["ENV_ID", "GOLD_FIELDS", "SWEEnv", "load_shipped", "shipped_repo", "split_of"]
