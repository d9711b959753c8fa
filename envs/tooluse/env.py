"""The multi-turn tool-use env: the agent calls tools over several turns, then answers.

One episode is one task (a question with a verifiable gold answer). Each turn the agent's text is
parsed in the env's call ``format``; tool calls run on real tools (a safe calculator, a sandboxed
Python subprocess, BM25 search over the task's corpus, read-only SQLite) and their outputs, truncated
head and tail, are the next observation. ``<answer>…</answer>`` ends the episode with the answer's
score (exact match, token F1 or numeric match) as reward. The gold answer travels in
``info["task"]["answer"]`` so information-gain rewards can score it (DESIGN §3, §4).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from turngym.envs.core.errors import ConfigError, SnapshotError
from turngym.envs.core.render import render_text
from turngym.envs.core.session import decode_snapshot, encode_snapshot, rng_from_state, rng_state
from turngym.envs.core.spaces import Text, truncate
from turngym.envs.core.state_key import make_state_key
from turngym.envs.core.text_env import TextEnv
from turngym.envs.tooluse import formats, rewards
from turngym.envs.tooluse import tasks as task_gen  # ``tasks`` is also an argument name below
from turngym.envs.tooluse.base import Answer, Task, ToolCall, ToolResult
from turngym.envs.tooluse.tools import make_tools

METRICS = ("auto", "em", "f1", "numeric")
SPLITS = ("train", "test")


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
        obs_mode (str): ``"text"`` only.
    Version history:
        v0: initial release.
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
        obs_mode: str = "text",
        render_mode: str | None = None,
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

    def _ensure_tools(self) -> None:
        assert self.task is not None
        if self._tools_for != self.task.task_id:
            self.tools = make_tools(self.task, python_timeout_s=self.python_timeout_s)
            self._tools_for = self.task.task_id

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
        if self.done or self.task is None:
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
            self.tool_calls += len(run)
            self.history.append({"calls": [[c.name, c.arguments] for c in run],
                                 "outputs": [r.output for r in results], "ok": [r.ok for r in results]})
            obs = formats.render_results(run, results, self.format, self.max_tool_output_chars)
            if skipped:
                obs += f"\n[tool budget of {self.max_tool_calls} calls spent: {len(skipped)} call(s) not run]"
        truncated = False
        if not terminated and (self.turn >= self.max_turns or self.tool_calls >= self.max_tool_calls):
            truncated = True
            why = (f"turn limit ({self.max_turns})" if self.turn >= self.max_turns
                   else f"tool budget ({self.max_tool_calls} calls)")
            obs += f"\nEpisode over: {why} reached without an answer."
        self.done = terminated or truncated
        self.truncated_flag = truncated
        self.last_obs = self._clip(obs)
        info = self._info()
        if self.done:
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
        """Hash of the task and every valid turn so far (GiGPO anchor: same task, same interaction)."""
        assert self.task is not None
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
        """``info["task"]``: id, instruction, gold answer and its format (for information-gain rewards)."""
        assert self.task is not None
        t = self.task
        return {"id": t.task_id, "env_id": self.env_id, "instruction": t.question, "question": t.question,
                "answer": t.answer, "answer_format": t.answer_format, "family": t.family,
                "difficulty": t.difficulty, "split": t.split, "seed": t.seed, "tools": list(t.tools),
                "format": self.format}

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
        return encode_snapshot(self.env_id, {
            "task_ref": self.task_ref, "turn": self.turn, "tool_calls": self.tool_calls, "history": self.history,
            "error": self.error, "done": self.done, "truncated": self.truncated_flag, "last_obs": self.last_obs,
            "last_score": self.last_score, "rng": rng_state(self.np_random),
            "config": [self.family, self.difficulty, self.format],
        })

    def set_state(self, blob: bytes) -> None:
        """Restores ``get_state`` output (``SnapshotError`` on foreign or malformed bytes)."""
        data = decode_snapshot(self.env_id, blob)
        try:
            if data["config"] != [self.family, self.difficulty, self.format]:
                raise ValueError(f"snapshot of another configuration {data['config']}")
            ref = dict(data["task_ref"])
            task = self._load_task(ref)
            self._np_random = rng_from_state(data["rng"])
            self.task_ref, self.task = ref, task
            self.turn, self.tool_calls = int(data["turn"]), int(data["tool_calls"])
            self.history = list(data["history"])
            self.error = data["error"]
            self.done, self.truncated_flag = bool(data["done"]), bool(data["truncated"])
            self.last_obs = str(data["last_obs"])
            self.last_score = None if data["last_score"] is None else float(data["last_score"])
        except (KeyError, TypeError, ValueError, IndexError, AttributeError) as e:
            raise SnapshotError(f"malformed snapshot: {e!r}") from None
        self._ensure_tools()

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
