"""Tool-use family report: expert and random success per family x difficulty, tool latency, env steps/s.

Run:
    python -m turngym.benchmarks.tooluse [--episodes 40] [--out runs/tooluse.json]

- Success: the scripted expert and a random policy, each on ``--episodes`` test-split tasks per family
  and difficulty (same seeds for both), through ``gym.make`` with the default ``hermes`` format.
- Tool latency: median and p99 of each tool's ``call`` over the expert's own calls.
- Env steps/s: whole expert episodes (resets included) per family, tools included; and the cost of the
  env alone (parsing, rendering, state keys) measured on invalid turns, which run no tool.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import time
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from turngym.envs.core.registry import make
from turngym.envs.tooluse import formats
from turngym.envs.tooluse.base import ToolCall
from turngym.envs.tooluse.env import ToolUseEnv
from turngym.envs.tooluse.trajectories import ExpertAgent

IDS = {"qa": "turngym/ToolQA-v0", "math": "turngym/ToolMath-v0", "sql": "turngym/ToolSQL-v0"}


class RandomToolAgent:
    """A random policy over well-formed turns: random tool calls built from the text seen, or an answer.

    Each turn it answers with probability ``answer_prob`` (a random word or number from the question
    and the tool outputs), else it calls one of the task's tools with arguments drawn from the same
    words (queries, document ids, small arithmetic, simple SQL). It is the "no skill" baseline.
    """

    def __init__(self, env: ToolUseEnv, rng: np.random.Generator, answer_prob: float = 0.3):
        self.env, self.rng, self.answer_prob = env, rng, answer_prob
        self.seen: list[str] = []

    def observe(self, text: str) -> None:
        """Adds the words of an observation to the pool answers and arguments are drawn from."""
        self.seen.extend(re.findall(r"[A-Za-z][\w-]+|\d+(?:\.\d+)?", text)[-400:])

    def next_text(self) -> str:
        """The next action text in the env's format."""
        rng, words = self.rng, self.seen or ["x"]
        pick = lambda: words[int(rng.integers(len(words)))]  # noqa: E731
        if rng.random() < self.answer_prob:
            return formats.render_answer(pick())
        assert self.env.task is not None
        name = self.env.task.tools[int(rng.integers(len(self.env.task.tools)))]
        numbers = [w for w in words if w[0].isdigit()] or ["1"]
        num = lambda: numbers[int(rng.integers(len(numbers)))]  # noqa: E731
        args: dict[str, Any] = {
            "search": {"query": f"{pick()} {pick()}"},
            "open": {"doc_id": pick()},
            "calculator": {"expression": f"{num()} {'+-*/'[int(rng.integers(4))]} {num()}"},
            "python": {"code": f"print({num()} * {num()})"},
            "sql": {"query": ["SELECT name FROM sqlite_master", f"SELECT * FROM {pick()} LIMIT 5"][
                int(rng.integers(2))]},
        }[name]
        return formats.render_calls([ToolCall(name, args)], self.env.format)


def _episode(env: ToolUseEnv, seed: int, agent: str, rng: np.random.Generator) -> tuple[bool | None, int]:
    """(success, steps) of one episode; success is None when a tool's machinery failed (unscored)."""
    obs, _ = env.reset(seed=seed)
    player: Any = ExpertAgent(env) if agent == "expert" else RandomToolAgent(env, rng)
    steps = 0
    while True:
        if agent != "expert":
            player.observe(obs)
        obs, _, terminated, truncated, info = env.step(player.next_text())
        steps += 1
        if terminated or truncated:
            return (None if "infra_error" in info else bool(info["success"])), steps


def success_table(episodes: int, seed: int) -> list[dict[str, Any]]:
    """Expert and random success rates per family x difficulty on test-split tasks."""
    rows = []
    combos = [(f, d) for f in IDS for d in (1, 2, 3)]
    for family, difficulty in tqdm(combos, desc="success", unit="cell"):
        env = make(IDS[family], difficulty=difficulty, split="test")
        seeds = np.random.SeedSequence([seed, difficulty]).generate_state(episodes, dtype=np.uint32)
        row: dict[str, Any] = {"family": family, "difficulty": difficulty, "n": episodes}
        for agent in ("expert", "random"):
            rng = np.random.default_rng(seed)
            results = [_episode(env, int(s), agent, rng) for s in seeds]
            scored = [ok for ok, _ in results if ok is not None]  # infrastructure failures are left out
            row[f"{agent}_success"] = sum(scored) / len(scored) if scored else float("nan")
            row[f"{agent}_infra_errors"] = len(results) - len(scored)
            row[f"{agent}_turns"] = statistics.mean(n for _, n in results)
        rows.append(row)
    return rows


class _Timed:
    """A tool that records how long each ``call`` of the wrapped tool takes."""

    def __init__(self, tool: Any, sink: list[float]):
        self.tool, self.sink = tool, sink
        self.name, self.description, self.parameters = tool.name, tool.description, tool.parameters

    def call(self, arguments: dict[str, Any]) -> Any:
        t0 = time.perf_counter()
        try:
            return self.tool.call(arguments)
        finally:
            self.sink.append((time.perf_counter() - t0) * 1000.0)


def tool_latency(episodes: int, seed: int) -> dict[str, dict[str, float]]:
    """Median and p99 milliseconds of each tool's ``call`` over the experts' calls (difficulty 2)."""
    times: dict[str, list[float]] = defaultdict(list)
    for env_id in IDS.values():
        env = make(env_id, difficulty=2)
        for s in np.random.SeedSequence([seed, 7]).generate_state(episodes, dtype=np.uint32):
            env.reset(seed=int(s))
            env.tools = {name: _Timed(tool, times[name]) for name, tool in env.tools.items()}
            agent = ExpertAgent(env)
            while True:
                _, _, terminated, truncated, _ = env.step(agent.next_text())
                if terminated or truncated:
                    break
    # The experts call python on few tasks; top its sample up with typical short programs.
    from turngym.envs.tooluse.tools import PythonTool

    python = _Timed(PythonTool(), times["python"])
    for i in range(max(0, 30 - len(times["python"]))):
        python.call({"code": f"print(sum(k * k for k in range({1000 + i})))"})
    return {name: {"n": len(v), "median_ms": float(np.median(v)), "p99_ms": float(np.percentile(v, 99))}
            for name, v in sorted(times.items()) if v}


def env_speed(seconds: float, seed: int) -> dict[str, dict[str, float]]:
    """Expert-episode steps/s per family (tools included) and invalid-turn steps/s (env overhead only)."""
    out = {}
    for family, env_id in IDS.items():
        env = make(env_id)
        steps, t0, s = 0, time.perf_counter(), seed
        while time.perf_counter() - t0 < seconds:
            steps += _episode(env, s, "expert", np.random.default_rng(s))[1]
            s += 1
        expert_rate = steps / (time.perf_counter() - t0)
        env = make(env_id, max_turns=10**6)
        env.reset(seed=seed)
        bad = ["", "no tool call here", "<tool_call>{\"name\": \"nope\", \"arguments\": {}}</tool_call>"]
        n, t0 = 0, time.perf_counter()
        while time.perf_counter() - t0 < seconds:
            env.step(bad[n % 3])
            n += 1
        out[family] = {"expert_steps_per_s": expert_rate, "invalid_steps_per_s": n / (time.perf_counter() - t0)}
    return out


def main(argv: Sequence[str] | None = None) -> int:
    """Runs the three measurements, prints tables, writes JSON."""
    p = argparse.ArgumentParser(prog="tooluse", description=__doc__.split("\n\n")[0])
    p.add_argument("--episodes", type=int, default=40, help="tasks per family x difficulty (default 40)")
    p.add_argument("--latency-episodes", type=int, default=10)
    p.add_argument("--seconds", type=float, default=3.0, help="time per env-speed measurement")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default="runs/tooluse.json")
    args = p.parse_args(argv)
    from rich.console import Console
    from rich.table import Table

    console = Console(width=140)
    rows = success_table(args.episodes, args.seed)
    table = Table(title=f"Success on test-split tasks ({args.episodes} per cell, hermes format)")
    for col in ("family", "difficulty", "expert", "random", "expert turns", "random turns"):
        table.add_column(col, justify="right")
    for r in rows:
        table.add_row(r["family"], str(r["difficulty"]), f"{r['expert_success']:.1%}", f"{r['random_success']:.1%}",
                      f"{r['expert_turns']:.1f}", f"{r['random_turns']:.1f}")
    console.print(table)
    latency = tool_latency(args.latency_episodes, args.seed)
    lt = Table(title="Tool latency (expert calls)")
    for col in ("tool", "calls", "median ms", "p99 ms"):
        lt.add_column(col, justify="right")
    for name, v in latency.items():
        lt.add_row(name, str(v["n"]), f"{v['median_ms']:.2f}", f"{v['p99_ms']:.2f}")
    console.print(lt)
    speed = env_speed(args.seconds, args.seed)
    st = Table(title="Env steps per second (one process)")
    for col in ("family", "expert episodes (tools included)", "invalid turns (env only)"):
        st.add_column(col, justify="right")
    for family, v in speed.items():
        st.add_row(family, f"{v['expert_steps_per_s']:,.0f}", f"{v['invalid_steps_per_s']:,.0f}")
    console.print(st)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"success": rows, "latency": latency, "speed": speed, "args": vars(args)}, indent=2))
    console.print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
