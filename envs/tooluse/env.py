"""The multi-turn tool-use env: the agent calls tools over several turns, then answers.

One episode is one task (a question with a verifiable gold answer). Each turn the agent's text is
parsed in the env's call ``format``; tool calls run on real tools (a safe calculator, a sandboxed
Python subprocess, BM25 search over the task's corpus, read-only SQLite) and their outputs, truncated
head and tail, are the next observation. ``<answer>…</answer>`` ends the episode with the answer's
score (exact match, token F1 or numeric match) as reward. The gold answer is never in an ``info`` (the
acting agent reads infos); information-gain rewards ask for it through ``gold_answer()``, the accessor
the registry entry declares (DESIGN §3, §4).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
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
    read_number,
    rng_from_state,
    rng_state,
)
from turngym.envs.core.spaces import Text, truncate
from turngym.envs.core.state_key import canonical, make_state_key
from turngym.envs.core.text_env import TextEnv
from turngym.envs.tooluse import formats, rewards
from turngym.envs.tooluse import tasks as task_gen  # ``tasks`` is also an argument name below
from turngym.envs.tooluse.base import Answer, Task, ToolCall, ToolResult
from turngym.envs.tooluse.tools import make_tools
from turngym.envs.tooluse.tools.python_sandbox import BACKENDS, sandbox_backend

METRICS = ("auto", "em", "f1", "numeric")
SPLITS = ("train", "test")
#: What ``info["state_key"]`` identifies (the ``state_key`` argument): the whole interaction, or the facts learned.
STATE_KEYS = ("history", "markov")


class ToolUseEnv(TextEnv):
    """Multi-turn tool use with verifiable answers (see the module docstring).

    Description:
        A generated task family (``turngym/ToolQA-v0``: multi-hop questions over a document corpus
        with ``search``/``open``; ``turngym/ToolMath-v0``: word problems with ``calculator``/``python``;
        ``turngym/ToolSQL-v0``: questions over a SQLite database with ``sql``), or, for this base
        class, a fixed list of tasks (``ToolUseEnv(tasks=turngym.envs.tooluse.tasks.load_jsonl(path))``).
        ``reset(seed=s)`` draws a task of ``split`` from
        the env RNG; ``options={"task_seed": n}`` (generated families) or ``{"task_index": i}``
        (task lists) picks one.
    Observation:
        Text. At reset: the tools (JSON schemas), how to call them in ``format``, the question and
        the answer format. Then each turn: the tool outputs (each truncated head and tail to
        ``max_tool_output_chars``), or what was wrong with the last message and the right form.
    Action:
        Any string (raw model output). Tool calls in the env's ``format`` (``hermes``:
        ``<tool_call>{"name": …, "arguments": {…}}</tool_call>``; ``openai``: JSON tool calls;
        ``plain``: ``name(arg=value)``), at most ``max_calls_per_turn`` per turn, or a final
        ``<answer>…</answer>``.
    Reward:
        On the answer: its score against the gold answer (``metric``: ``auto`` = numeric match for
        numeric golds, exact match after normalization otherwise; ``em``; ``f1``; ``numeric``), plus
        ``format_reward`` for a well-formed answer turn. ``invalid_action_penalty`` (default 0) per
        unparseable turn. 0 otherwise.
    Episode end:
        Terminated on an answer (``info["success"]`` = score >= ``success_threshold``). Truncated when
        ``max_turns`` turns were taken or the tool budget ``max_tool_calls`` is spent without an answer.
        Truncated and unscored (``info["infra_error"]``, no ``success``) when a tool's own machinery fails
        (the sandbox or the SQL worker cannot start): not the agent's failure, so trainers leave it out.

    Arguments:
        difficulty (int): 1-3.
        split (str): ``train`` or ``test`` seeds (see ``turngym.envs.tooluse.tasks.split_of``).
        format (str): ``hermes`` (default), ``openai`` or ``plain``.
        tasks (Sequence[Task] | None): fixed tasks instead of a generated family.
        max_turns (int): turn cap, default 12 (the QA expert needs 9 at difficulty 3).
        max_tool_calls (int): tool budget per episode, default 16.
        max_calls_per_turn (int): default 4.
        metric (str): answer scoring, default ``auto``.
        success_threshold (float): score needed for ``success``, default 1.0.
        format_reward (float): bonus for a well-formed answer turn, default 0.
        invalid_action_penalty (float): default 0.
        max_tool_output_chars (int): per tool output, default 2000.
        max_obs_chars (int): observation cap, default 16000.
        python_timeout_s (float): wall-clock limit of one python call, default 5.
        python_backend (str): sandbox of the python tool: ``"auto"`` (default: bubblewrap; an env whose
            tasks use python is refused with a ``ConfigError`` where bubblewrap does not work, never run
            unisolated), ``"bwrap"``, or ``"unsafe-rlimit"`` (alias ``"rlimit"``: no isolation, an
            ``UnsafeSandboxWarning`` on every construction). See ``tools.python_sandbox``.
        obs_mode (str): ``"text"`` only.
        state_key (str): what ``info["state_key"]`` (the GiGPO anchor) identifies. ``"history"`` (default):
            the task and every valid turn in order (calls, outputs, answer), so two episodes share a key only
            while their interactions are identical. ``"markov"``: the task and the set of distinct tool
            results obtained so far (which call returned what, and the answer once given), regardless of
            order, of how the calls were split into turns, of repeated calls and of invalid turns: every
            path that has learned the same facts shares the anchor, as verl-agent's anchor observations are
            shared by paths reaching the same environment state. Neither key holds the turns or tool calls
            left (as GiGPO's anchor observations hold no step counter). Use ``"markov"`` for GiGPO's step
            groups: under ``"history"`` the G episodes of a task share a key only while they have done
            exactly the same thing, so step groups after the first divergent turn are mostly singletons.
    Version history:
        v0: initial release. Issue 13 added the ``state_key`` argument; its default (``"history"``) gives
        v0's keys unchanged, so the id keeps its version (state keys are stable within an id, DESIGN §3;
        making ``"markov"`` the default would change them and needs ``-v1``).
    """

    metadata = {"render_modes": ["ansi", "human"]}

    #: Generated family of the registered subclasses (``None``: the env needs ``tasks=``).
    FAMILY: str | None = None
    ENV_ID = "turngym/ToolTasks-v0"

    def __init__(
        self,
        difficulty: int = 1,
        split: str = "train",
        format: str = "hermes",  # noqa: A002  (the documented argument name)
        tasks: Sequence[Task] | None = None,
        max_turns: int = 12,
        max_tool_calls: int = 16,
        max_calls_per_turn: int = 4,
        metric: str = "auto",
        success_threshold: float = 1.0,
        format_reward: float = 0.0,
        invalid_action_penalty: float = 0.0,
        max_tool_output_chars: int = 2000,
        max_obs_chars: int = 16000,
        python_timeout_s: float = 5.0,
        python_backend: str = "auto",
        obs_mode: str = "text",
        render_mode: str | None = None,
        state_key: str = "history",
    ):
        family = self.FAMILY
        if tasks is None and family is None:
            raise ConfigError("tasks", "a sequence of Task (or use turngym/ToolQA-v0, ToolMath-v0, ToolSQL-v0)",
                              tasks)
        if obs_mode != "text":
            raise ConfigError("obs_mode", "'text' (tool use has no vector mode)", obs_mode, ("text",))
        if format not in formats.FORMATS:
            raise ConfigError("format", "one of " + ", ".join(formats.FORMATS), format, formats.FORMATS)
        if metric not in METRICS:
            raise ConfigError("metric", "one of " + ", ".join(METRICS), metric, METRICS)
        if split not in SPLITS:
            raise ConfigError("split", "one of " + ", ".join(SPLITS), split, SPLITS)
        if state_key not in STATE_KEYS:
            raise ConfigError("state_key", "one of " + ", ".join(STATE_KEYS), state_key, STATE_KEYS)
        if not isinstance(difficulty, int) or not 1 <= difficulty <= 3:
            raise ConfigError("difficulty", "an int in 1..3", difficulty)
        for name, value in (("max_turns", max_turns), ("max_tool_calls", max_tool_calls),
                            ("max_calls_per_turn", max_calls_per_turn)):
            if not isinstance(value, int) or value < 1:
                raise ConfigError(name, "a positive int", value)
        if tasks is not None and len(tasks) == 0:
            raise ConfigError("tasks", "a non-empty sequence of Task", tasks)
        self.family = family if tasks is None else "list"
        self.obs_mode = "text"
        self.difficulty = difficulty
        self.split = split
        self.format = format
        self.task_list = list(tasks) if tasks is not None else None
        self.max_turns = max_turns
        self.max_tool_calls = max_tool_calls
        self.max_calls_per_turn = max_calls_per_turn
        self.metric = metric
        self.success_threshold = float(success_threshold)
        self.format_reward = float(format_reward)
        self.invalid_action_penalty = float(invalid_action_penalty)
        self.max_tool_output_chars = int(max_tool_output_chars)
        self.max_obs_chars = int(max_obs_chars)
        self.python_timeout_s = float(python_timeout_s)
        if python_backend not in BACKENDS:
            raise ConfigError("python_backend", f"one of {', '.join(BACKENDS)}", python_backend, BACKENDS)
        self.python_backend = python_backend
        self.state_key_kind = state_key  # ``state_key`` is the method that computes the key
        # DESIGN §3: bad configuration fails at construction. Where the tasks use python, a backend that
        # cannot isolate code here is refused now and the unsafe one warns now (issue 12, item 1).
        uses = {n for t in self.task_list for n in t.tools} if self.task_list else set(task_gen.FAMILY_TOOLS[family])
        if "python" in uses:
            sandbox_backend(python_backend)
        self.render_mode = render_mode
        self.env_id = self.ENV_ID
        self.observation_space = Text(self.max_obs_chars)
        self.action_space = Text(formats.MAX_CHARS)
        self.task: Task | None = None
        self.tools: dict[str, Any] = {}
        self._tools_for: str | None = None
        self._reset_episode()

    # ------------------------------------------------------------------ tasks
    def _reset_episode(self) -> None:
        self.turn = 0
        self.tool_calls = 0
        self.history: list[dict[str, Any]] = []  # canonical record of valid turns (the state key's input)
        self.error: str | None = None
        self.done = False
        self.truncated_flag = False
        self.last_obs = ""
        self.last_score: float | None = None
        self.task_ref: dict[str, Any] = {}
        #: Set when a tool's own machinery failed (``ToolResult.infra_error``): the episode ended unscored.
        self.infra_error: str | None = None

    def _load_task(self, ref: dict[str, Any]) -> Task:
        if "index" in ref:
            return self.task_list[int(ref["index"])]  # type: ignore[index]
        return task_gen.generate(self.family, int(ref["seed"]), self.difficulty)

    def _pick_task(self, options: dict[str, Any] | None) -> dict[str, Any]:
        options = options or {}
        if self.task_list is not None:
            if "task_index" in options:
                index = options["task_index"]
                if not isinstance(index, int) or not 0 <= index < len(self.task_list):
                    raise ConfigError("options['task_index']", f"an int in 0..{len(self.task_list) - 1}", index)
                return {"index": index}
            return {"index": int(self.np_random.integers(len(self.task_list)))}
        if "task_seed" in options:
            seed = options["task_seed"]
            if not isinstance(seed, int) or seed < 0:
                raise ConfigError("options['task_seed']", "a non-negative int", seed)
            return {"seed": seed}
        return {"seed": int(task_gen.sample_seed(self.np_random, self.split))}

    def _tools_of(self, task: Task) -> dict[str, Any]:
        """The tools of ``task``: the current ones when they were built for it, else new ones."""
        if self._tools_for == task.task_id:
            return self.tools
        return make_tools(task, python_timeout_s=self.python_timeout_s, python_backend=self.python_backend)

    def _ensure_tools(self) -> None:
        assert self.task is not None
        self.tools, self._tools_for = self._tools_of(self.task), self.task.task_id

    # ------------------------------------------------------------------ pickling
    def __getstate__(self) -> dict[str, Any]:
        """Everything but the tools: they hold locks and database handles, and are rebuilt from the task."""
        state = self.__dict__.copy()
        state["tools"], state["_tools_for"] = {}, None
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        """Restores the attributes and rebuilds the task's tools (pickle, ``copy.deepcopy``, vector envs)."""
        self.__dict__.update(state)
        if self.task is not None:
            self._ensure_tools()

    # ------------------------------------------------------------------ loop
    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        """Draws a task (or takes ``options['task_seed'|'task_index']``) and shows it."""
        super().reset(seed=seed)
        self._reset_episode()
        self.task_ref = self._pick_task(options)
        self.task = self._load_task(self.task_ref)
        self._ensure_tools()
        self.last_obs = self._clip(self._intro())
        info = self._info()
        info["task"] = self.task_info()
        return self.last_obs, info

    def step(self, action: Any):
        """Runs the tool calls in ``action`` or scores its answer."""
        if self.task is None:
            raise RuntimeError(f"step() called before reset(); {RESET_FIRST}")
        if self.done:
            raise RuntimeError("step() called after the episode ended; call reset()")
        self.turn += 1
        parsed = formats.parse_turn(action, self.format, self.tools, max_calls=self.max_calls_per_turn)
        reward, terminated = 0.0, False
        if parsed.error is not None:
            self.error = parsed.error
            reward = self.invalid_action_penalty
            obs = f"Invalid action: {parsed.error}"
        elif parsed.answer is not None:
            self.error = None
            score = rewards.score_answer(parsed.answer, self.task.answer, self.metric)
            self.last_score = score
            reward = score + self.format_reward
            terminated = True
            self.history.append({"answer": parsed.answer})
            verdict = "correct" if score >= self.success_threshold else "not correct"
            obs = f"Your answer {parsed.answer!r} is {verdict} (score {score:g})."
        else:
            self.error = None
            calls = list(parsed.calls)
            room = self.max_tool_calls - self.tool_calls
            run, skipped = calls[:room], calls[room:]
            results = [self._call(c) for c in run]
            self.infra_error = next((r.infra_error for r in results if r.infra_error), None)
            if self.infra_error is not None:
                # DESIGN §3: an outside-world failure is not the agent's: the episode ends unscored (truncated,
                # reward 0, ``info["infra_error"]``) and trainers and leaderboards leave it out.
                obs = f"The environment failed ({self.infra_error}); this episode ends and is not scored."
            else:
                self.tool_calls += len(run)
                self.history.append({"calls": [[c.name, c.arguments] for c in run],
                                     "outputs": [r.output for r in results], "ok": [r.ok for r in results]})
                obs = formats.render_results(run, results, self.format, self.max_tool_output_chars)
                if skipped:
                    obs += f"\n[tool budget of {self.max_tool_calls} calls spent: {len(skipped)} call(s) not run]"
        truncated = self.infra_error is not None
        if not terminated and not truncated and (self.turn >= self.max_turns or self.tool_calls >= self.max_tool_calls):
            truncated = True
            why = (f"turn limit ({self.max_turns})" if self.turn >= self.max_turns
                   else f"tool budget ({self.max_tool_calls} calls)")
            obs += f"\nEpisode over: {why} reached without an answer."
        self.done = terminated or truncated
        self.truncated_flag = truncated
        self.last_obs = self._clip(obs)
        info = self._info()
        if self.infra_error is not None:
            info["infra_error"] = self.infra_error  # no success or score: the episode is not scored
        elif self.done:
            info["success"] = bool(terminated and (self.last_score or 0.0) >= self.success_threshold)
            info["score"] = float(self.last_score or 0.0)
        if self.render_mode == "human":
            print(self.last_obs)
        return self.last_obs, float(reward), terminated, truncated, info

    def _call(self, call: ToolCall) -> ToolResult:
        return self.tools[call.name].call(dict(call.arguments))  # parse_turn only passes known tools

    # ------------------------------------------------------------- views
    def _intro(self) -> str:
        assert self.task is not None
        return (
            formats.format_instructions(self.format, self.tools)
            + f"\n\nQuestion: {self.task.question}\nAnswer format: {self.task.answer_format}. "
            f"You have at most {self.max_turns} turns and {self.max_tool_calls} tool calls; "
            "end with <answer>...</answer>."
        )

    def _clip(self, text: str) -> str:
        return truncate(text, self.max_obs_chars)

    def state_key(self) -> str:
        """The GiGPO anchor of the current situation (see the ``state_key`` argument).

        ``history``: a hash of the task and every valid turn so far in order (same task, same interaction).
        ``markov``: a hash of the task and the sorted set of distinct (tool, arguments, output, ok) results
        and the answer, if any: invalid turns leave it unchanged (the info contract: the state did not
        change), and so do repeated calls; the order and the split into turns do not enter it.
        """
        assert self.task is not None
        if getattr(self, "state_key_kind", "history") == "markov":  # getattr: envs pickled before issue 13
            facts: set[str] = set()
            for turn in self.history:
                if "answer" in turn:
                    facts.add(canonical(["answer", turn["answer"]]))
                    continue
                for (name, arguments), output, ok in zip(turn["calls"], turn["outputs"], turn["ok"], strict=True):
                    facts.add(canonical([name, arguments, output, ok]))
            return make_state_key(self.env_id, canonical(["markov", self.task.task_id, sorted(facts)]))
        encoding = json.dumps([self.task.task_id, self.history], sort_keys=True, ensure_ascii=True)
        return make_state_key(self.env_id, encoding)

    def _info(self) -> dict[str, Any]:
        info: dict[str, Any] = {
            "state_key": self.state_key(),
            "admissible_actions": None,
            "action_valid": self.error is None,
            "turn": self.turn,
            "tool_calls": self.tool_calls,
        }
        if self.error is not None:
            info["error"] = self.error
        return info

    def task_info(self) -> dict[str, Any]:
        """``info["task"]``: id, instruction and the answer's format, never the gold answer.

        Infos reach the acting agent, so the answer stays out of them (DESIGN §3, the info contract);
        trainers that need it call ``gold_answer()``, the accessor the registry entry declares.
        """
        assert self.task is not None
        t = self.task
        return {"id": t.task_id, "env_id": self.env_id, "instruction": t.question, "question": t.question,
                "answer_format": t.answer_format, "family": t.family,
                "difficulty": t.difficulty, "split": t.split, "seed": t.seed, "tools": list(t.tools),
                "format": self.format}

    def gold_answer(self) -> str:
        """The current task's gold answer (the registry's ``EnvInfo.gold_answer`` accessor).

        For trainers that score it (IGPO's information gain); it is never part of an ``info``, which the
        acting agent reads.

        Raises:
            RuntimeError: Before the first ``reset``.
        """
        if self.task is None:
            raise RuntimeError(f"{self.env_id}: gold_answer() before reset(): there is no task yet")
        return self.task.answer

    def example_actions(self) -> list[str]:
        """Well-formed actions for the current state (the scripted expert's next move, then an answer).

        Conformance checks use them as the "legal" actions of an env whose action set is open.
        """
        if self.task is None:
            return []
        step = expert_next_step(self.task, self.history, self.tools)
        out = []
        if isinstance(step, ToolCall):
            out.append(formats.render_calls([step], self.format))
        out.append(formats.render_answer(self.task.answer if isinstance(step, Answer) else "unknown"))
        return out

    # ------------------------------------------------------------- snapshots
    def get_state(self) -> bytes:
        """Snapshot: the task reference, counters, the canonical history, the RNG."""
        if self.task is None:
            raise RuntimeError(f"get_state() called before reset(); {RESET_FIRST}")
        return encode_snapshot(self.env_id, {
            "task_ref": self.task_ref, "turn": self.turn, "tool_calls": self.tool_calls, "history": self.history,
            "error": self.error, "done": self.done, "truncated": self.truncated_flag, "last_obs": self.last_obs,
            "last_score": self.last_score, "infra_error": self.infra_error, "rng": rng_state(self.np_random),
            "config": [self.family, self.difficulty, self.format],
        })

    def set_state(self, blob: bytes) -> None:
        """Restores ``get_state`` output; atomic: ``SnapshotError`` (only) leaves the env unchanged.

        Snapshots may be forged (DESIGN §5), so the snapshot must be one this env can reach: its
        configuration; a task it can draw; counters within the budgets (a negative count would extend
        them); a history of well-formed turns (known tools, arguments that fit their schemas, at most
        ``max_calls_per_turn`` calls) whose calls add up to ``tool_calls``; and ``done``, ``truncated``
        and ``last_score`` as the step rules derive them from the history and counters.
        """

        def parse(data: dict[str, Any]) -> tuple[Any, ...]:
            f = read_dict(data, "snapshot", ("config", "task_ref", "turn", "tool_calls", "history", "error", "done",
                                             "truncated", "last_obs", "last_score", "rng"))
            if f["config"] != [self.family, self.difficulty, self.format]:
                raise SnapshotError(f"snapshot of another configuration {str(f['config'])[:120]}")
            ref = read_dict(f["task_ref"], "task_ref")
            if self.task_list is not None and set(ref) == {"index"}:
                ref = {"index": read_int(ref["index"], 0, len(self.task_list) - 1, "task index")}
            elif self.task_list is None and set(ref) == {"seed"}:
                ref = {"seed": read_int(ref["seed"], 0, None, "task seed")}
            else:
                raise SnapshotError(f"task_ref: expected {'index' if self.task_list is not None else 'seed'} only")
            # Generating a task can take tens of milliseconds (ToolSQL builds a database); search restores
            # snapshots of the current task over and over, so that one is reused.
            task = self.task if self.task is not None and ref == self.task_ref else self._load_task(ref)
            rng = rng_from_state(f["rng"])
            tools, tools_for = self._tools_of(task), task.task_id  # built aside: the env is not touched yet
            turn = read_int(f["turn"], 0, self.max_turns, "turn")
            tool_calls = read_int(f["tool_calls"], 0, self.max_tool_calls, "tool_calls")
            history = read_list(f["history"], "history", max_length=turn)
            answer: str | None = None
            calls_made = 0
            for i, entry in enumerate(history):
                entry = read_dict(entry, "history turn")
                if answer is not None:
                    raise SnapshotError("a turn after the answer")
                if set(entry) == {"answer"}:
                    answer = entry["answer"]
                    if type(answer) is not str or not answer.strip() or len(answer) > formats.MAX_CHARS:
                        raise SnapshotError("history: an answer must be a non-empty string from one message")
                    continue
                if set(entry) != {"calls", "outputs", "ok"}:
                    raise SnapshotError(f"history turn {i}: expected an answer or calls, outputs and ok")
                calls = read_list(entry["calls"], "history calls", max_length=self.max_calls_per_turn)
                outputs = read_list(entry["outputs"], "history outputs", length=len(calls))
                oks = read_list(entry["ok"], "history ok", length=len(calls))
                if not calls or any(type(o) is not str for o in outputs) or any(type(k) is not bool for k in oks):
                    raise SnapshotError(f"history turn {i}: expected 1+ calls with string outputs and bool oks")
                for call in calls:
                    name, arguments = read_list(call, "history call", length=2)
                    if type(name) is not str or name not in tools:
                        raise SnapshotError(f"history turn {i}: unknown tool {str(name)[:40]!r}")
                    problem = formats.validate_arguments(arguments, tools[name].parameters)
                    if problem:
                        raise SnapshotError(f"history turn {i}: {problem}"[:300])
                calls_made += len(calls)
            if calls_made != tool_calls:
                raise SnapshotError(f"tool_calls {tool_calls}, but the history holds {calls_made} calls")
            error = read_message(f["error"], "error")
            infra_error = read_message(f.get("infra_error"), "infra_error")
            done, truncated = read_bool(f["done"], "done"), read_bool(f["truncated"], "truncated")
            # ``step``: an answer terminates; otherwise the turn cap, the spent tool budget or a failure of a
            # tool's own machinery (which records no history) truncates.
            if infra_error is not None and (answer is not None or turn < 1):
                raise SnapshotError("infra_error on an episode that was answered or never stepped")
            expect_truncated = answer is None and (turn >= self.max_turns or tool_calls >= self.max_tool_calls
                                                   or infra_error is not None)
            if truncated != expect_truncated or done != (answer is not None or expect_truncated):
                raise SnapshotError("done/truncated disagree with the history and the budgets")
            last_score = f["last_score"]
            expect_score = None if answer is None else rewards.score_answer(answer, task.answer, self.metric)
            if last_score is not None:
                last_score = read_number(last_score, "last_score")
            if last_score != expect_score:
                raise SnapshotError("last_score is not the score of the recorded answer")
            last_obs = f["last_obs"]
            if type(last_obs) is not str or len(last_obs) > self.max_obs_chars:
                raise SnapshotError(f"last_obs: expected a string of at most {self.max_obs_chars} characters")
            return (ref, task, tools, tools_for, rng, turn, tool_calls, history, error, done, truncated, last_obs,
                    last_score, infra_error)

        parsed = parsed_snapshot(self.env_id, blob, parse)
        (self.task_ref, self.task, self.tools, self._tools_for, self._np_random, self.turn, self.tool_calls,
         self.history, self.error, self.done, self.truncated_flag, self.last_obs, self.last_score,
         self.infra_error) = parsed

    def render(self) -> str | None:
        """The last observation (``ansi`` returns it, ``human`` prints it)."""
        return render_text(self.render_mode, lambda: self.last_obs)


def expert_next_step(task: Task, history: list[dict[str, Any]], tools: dict[str, Any]) -> ToolCall | Answer:
    """The scripted expert's next step after ``history``, replayed through its generator.

    The expert is a generator that yields calls and receives results; replaying the recorded outputs
    of the calls it asked for brings it to the current turn without running any tool again. Calls the
    agent made off the expert's plan are skipped, so the expert can take over any episode.
    """
    gen = task_gen.expert(task)
    step = next(gen)
    for turn in history:
        records = zip(turn.get("calls", []), turn.get("outputs", []), turn.get("ok", []), strict=False)
        for (name, arguments), output, ok in records:
            if isinstance(step, ToolCall) and step.name == name and dict(step.arguments) == arguments:
                step = gen.send(ToolResult(bool(ok), output))
    return step


class ToolQAEnv(ToolUseEnv):
    """ToolQA: multi-hop questions (2-4 hops) over a synthetic knowledge base rendered as documents."""

    FAMILY = "qa"
    ENV_ID = "turngym/ToolQA-v0"


class ToolMathEnv(ToolUseEnv):
    """ToolMath: word problems whose exact answers need the calculator or python."""

    FAMILY = "math"
    ENV_ID = "turngym/ToolMath-v0"


class ToolSQLEnv(ToolUseEnv):
    """ToolSQL: questions over a generated relational database that need SQL."""

    FAMILY = "sql"
    ENV_ID = "turngym/ToolSQL-v0"


for _cls in (ToolQAEnv, ToolMathEnv, ToolSQLEnv):
    _cls.__doc__ = (_cls.__doc__ or "") + "\n" + (ToolUseEnv.__doc__ or "").split("\n", 1)[1]

__all__ = ["ToolMathEnv", "ToolQAEnv", "ToolSQLEnv", "ToolUseEnv", "expert_next_step"]
