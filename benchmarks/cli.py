"""The ``turngym`` command: list envs, play one in the terminal, solve a card game, run benchmarks.

Examples:
    turngym list --family cards
    turngym play turngym/LeducHoldem-v0 --seat random --opponent cfr --seed 0
    turngym solve turngym/KuhnPoker-v0 --iterations 2000 --algo cfr+ --out runs/solve
    turngym bench throughput --quick --out runs/throughput.json
    turngym train --algo.estimator grpo --iterations 30
    turngym sft --sft.episodes 200
    turngym serve --model tiny --port 8000
    turngym leaderboard cards --out runs/leaderboard --workers 2

Bad configuration (an unknown env id, a bad seat, a game CFR cannot solve) prints the library's typed
error, which names the nearest valid choice, and exits with status 2 (the Unix convention for usage
errors, as click uses).
Heavy imports (the envs, the solver, matplotlib) happen inside the commands, so ``turngym --help``
stays fast.
"""

from __future__ import annotations

import contextlib
import inspect
import json
import os
import sys
import time
from collections.abc import Iterator
from enum import Enum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

app = typer.Typer(
    name="turngym",
    help="Multi-turn environments for agents: list, play, solve, train, serve, benchmark.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,
    rich_markup_mode="markdown",
)
bench_app = typer.Typer(
    help="Benchmarks (each prints a table and writes JSON).",
    no_args_is_help=True,
    rich_markup_mode="markdown",
)
app.add_typer(bench_app, name="bench")
swe_app = typer.Typer(
    help="SWE sandboxes: maintenance of the docker and local backends.",
    no_args_is_help=True,
    rich_markup_mode="markdown",
)
app.add_typer(swe_app, name="swe")

#: Exit status for bad configuration (click uses 2 for usage errors too).
CONFIG_ERROR_EXIT = 2
#: Words that end ``turngym play`` instead of being sent to the env as an action.
QUIT_WORDS = frozenset({"quit", "exit"})
#: CFR iterations ``turngym play --opponent cfr`` runs when no cached policy exists.
PLAY_CFR_ITERATIONS = 1000
#: Appended to errors about env ids.
LIST_HINT = "`turngym list` shows every id"


def package_version() -> str:
    """``turngym.__version__``, else the installed distribution's version, else ``"unknown"``."""
    import turngym

    version = getattr(turngym, "__version__", None)
    if version:
        return str(version)
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as dist_version

    try:
        return dist_version("turngym")
    except PackageNotFoundError:
        return "unknown"


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"turngym {package_version()}")
        raise typer.Exit()


@app.callback()
def _main_options(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_print_version, is_eager=True, help="Print the version and exit."),
    ] = False,
) -> None:
    # No docstring: typer would show it instead of the app's help text.
    pass


def _console(stderr: bool = False) -> Console:
    # Built per call: CliRunner swaps sys.stdout/sys.stderr, and a module-level Console would keep the
    # stream it saw at import time.
    console = Console(stderr=stderr, highlight=False, soft_wrap=True)
    if not console.is_terminal:  # piped or captured: tables get room instead of 80 squeezed columns
        console = Console(stderr=stderr, highlight=False, soft_wrap=True, width=160)
    return console


@contextlib.contextmanager
def config_errors(*extra: type[BaseException]) -> Iterator[None]:
    """Turns turngym's typed configuration errors into a message on stderr and exit status 2.

    Args:
        *extra: More exception types to treat as bad configuration (e.g. the solver's
            ``GameTreeError`` for a game CFR cannot solve).

    Raises:
        typer.Exit: With ``CONFIG_ERROR_EXIT`` when the body raised one of those errors.
    """
    from turngym.envs import TurnGymError, UnknownEnvError

    try:
        yield
    except (TurnGymError, *extra) as e:
        message = f"Error: {e}"
        if isinstance(e, UnknownEnvError) and "turngym list" not in message:
            message += f" ({LIST_HINT})"
        _console(stderr=True).print(message, markup=False)
        raise typer.Exit(CONFIG_ERROR_EXIT) from None


def writable_folder(path: Path, option: str) -> Path:
    """Creates ``path`` if needed and checks it can be written, before any work is done (exit 2 if not).

    Args:
        path: The output folder.
        option: The flag that named it, for the message (``--out``, ``--cache``).
    """
    from turngym.agents.llm.train.checkpoint import ensure_writable_folder

    with config_errors():
        return ensure_writable_folder(path, option)


def out_argument(args: list[str]) -> str | None:
    """The value of ``--out`` in a benchmark's pass-through arguments (``--out X`` or ``--out=X``), if any."""
    for i, arg in enumerate(args):
        if arg == "--out" and i + 1 < len(args):
            return args[i + 1]
        if arg.startswith("--out="):
            return arg.split("=", 1)[1]
    return None


def check_bench_out(args: list[str], is_file: bool) -> None:
    """Fails fast (exit 2) when a benchmark's ``--out`` cannot be written, instead of after the whole run.

    Args:
        args: The arguments passed through to the benchmark script.
        is_file: ``--out`` names a file (its folder is checked, and it must not be a folder) rather than a
            folder.
    """
    value = out_argument(args)
    if value is None or "--help" in args or "-h" in args:
        return
    from turngym.agents.llm.train.checkpoint import ensure_writable_folder
    from turngym.envs import ConfigError

    path = Path(value)
    with config_errors():
        if not is_file:
            ensure_writable_folder(path, "--out")
            return
        if path.is_dir():
            raise ConfigError("--out", "a file path (this benchmark writes one JSON file)", value)
        try:
            ensure_writable_folder(path.parent, "--out")
        except ConfigError as err:
            raise ConfigError("--out", f"a file in {err.expected}", value) from None


# ---------------------------------------------------------------------------------------------- list
@app.command("list")
def list_cmd(
    family: Annotated[
        str | None, typer.Option("--family", "-f", help="Only this family (cards, dilemmas, tooluse, ...).")
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the registry entries as JSON (with what trainers read: the "
                                          "expert, the gold answer, the training and held-out arguments).")
    ] = False,
) -> None:
    """List every registered environment id."""
    import turngym.envs

    with config_errors():
        envs = turngym.envs.list_envs(family)
        if not envs and family is not None:
            from turngym.envs import ConfigError

            families = sorted({e.family for e in turngym.envs.list_envs()})
            raise ConfigError("--family", "one of " + ", ".join(families), family, families)
    if as_json:
        fields = ("id", "family", "kinds", "modes", "summary", "expert", "gold_answer", "answer_template",
                  "replayable", "train_kwargs", "eval_kwargs", "extra")
        typer.echo(json.dumps([{f: getattr(e, f) for f in fields} for e in envs], indent=1))
        return
    table = Table(title="turngym environments" + (f" ({family})" if family else ""))
    table.add_column("id", style="bold cyan", no_wrap=True)
    table.add_column("family")
    table.add_column("kinds")
    table.add_column("modes")
    table.add_column("summary")
    for e in envs:
        table.add_row(e.id, e.family, ", ".join(e.kinds), ", ".join(e.modes), e.summary)
    _console().print(table)


# ---------------------------------------------------------------------------------------------- swe
@swe_app.command("clean")
def swe_clean_cmd(
    all_owners: Annotated[
        bool, typer.Option("--all", help="Also remove the sandboxes of drivers that are still running.")
    ] = False,
) -> None:
    """Remove what killed drivers left: labelled containers and local sandbox folders whose owner is gone."""
    from turngym.envs.swe.sandbox.reap import clean

    result = clean(all_owners=all_owners)
    for backend, what in result.items():
        if isinstance(what, dict):
            typer.echo(f"{backend}: skipped ({what.get('skipped', what)})")
        else:
            typer.echo(f"{backend}: removed {len(what)}" + "".join(f"\n  {w}" for w in what))


# ---------------------------------------------------------------------------------------------- play
class OpponentKind(str, Enum):
    """Bots ``turngym play`` can seat against the person."""

    random = "random"
    cfr = "cfr"


class Algo(str, Enum):
    """Regret-minimization variants of ``turngym solve``."""

    cfr_plus = "cfr+"
    cfr = "cfr"


def default_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/turngym`` (``~/.cache/turngym`` when the variable is unset)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "turngym"


def parse_seat(seat: str) -> int | str:
    """``"random"`` or a seat number; other text is a usage error (exit 2).

    Args:
        seat: The ``--seat`` value.

    Returns:
        ``"random"`` or the seat as an int (the env checks its range).
    """
    if seat.strip().lower() == "random":
        return "random"
    try:
        return int(seat)
    except ValueError:
        raise typer.BadParameter(f"expected a seat number (0, 1, ...) or 'random', got {seat!r}") from None


def make_play_env(env_id: str, opponent: Any, seat: int | str) -> Any:
    """The single-agent text env a person plays, with ``opponent`` in every other seat.

    Envs without opponents (single-player tasks) are made without the ``opponents``/``seat`` arguments.

    Args:
        env_id: Registered id (``turngym/`` may be left out).
        opponent: An agent object or a built-in opponent name, used in every other seat.
        seat: The person's seat or ``"random"``.

    Returns:
        The env, in text mode.

    Raises:
        UnknownEnvError: ``env_id`` is not registered.
        ConfigError: A bad seat or argument.
    """
    import turngym.envs

    info = turngym.envs.env_info(env_id)
    params = inspect.signature(info.single).parameters
    kwargs: dict[str, Any] = {}
    if "obs_mode" in params:
        kwargs["obs_mode"] = "text"
    if "opponents" in params:
        kwargs["opponents"] = opponent
        kwargs["seat"] = seat
    return turngym.envs.make(info.id, **kwargs)


def read_action(prompt: str) -> str | None:
    """Reads one line from the person; None on ``quit``/``exit``, end of input or Ctrl-C.

    At a terminal this is ``input()`` (line editing works). When input is piped, the line is echoed
    after the prompt so that the transcript shows what was played.
    """
    try:
        if sys.stdin.isatty():
            text = input(prompt + " ")
        else:
            sys.stdout.write(prompt + " ")
            sys.stdout.flush()
            line = sys.stdin.readline()
            if not line:
                sys.stdout.write("\n")
                return None
            text = line.rstrip("\r\n")
            sys.stdout.write(text + "\n")
    except (EOFError, KeyboardInterrupt):
        sys.stdout.write("\n")
        return None
    return None if text.strip().lower() in QUIT_WORDS else text


def _seat_label(info: dict[str, Any]) -> str:
    return f"seat {info['seat']}" if "seat" in info else "solo"


@app.command("play")
def play_cmd(
    env_id: Annotated[str, typer.Argument(metavar="ENV_ID", help="Env id, e.g. turngym/LeducHoldem-v0.")],
    seat: Annotated[str, typer.Option(help="Your seat: a number or 'random' (drawn each hand).")] = "0",
    opponent: Annotated[OpponentKind, typer.Option(help="Bot in the other seats.")] = OpponentKind.random,
    seed: Annotated[
        int | None, typer.Option(min=0, help="Seed of the first hand (>= 0); later hands continue its RNG.")
    ] = None,
    hands: Annotated[int | None, typer.Option(min=1, help="Hands to play (default: until quit).")] = None,
    cache: Annotated[
        Path | None, typer.Option(help="Folder of solved CFR policies (default ~/.cache/turngym).")
    ] = None,
    iterations: Annotated[
        int, typer.Option(min=1, help="CFR iterations when --opponent cfr has no cached policy.")
    ] = PLAY_CFR_ITERATIONS,
) -> None:
    """Play an env in the terminal against bots, seeing exactly the text an LLM agent sees.

    Type an action word at the prompt (the observation lists the legal ones); 'quit' or end of input
    stops. Invalid input is sent to the env like any model output, so its own error message appears.
    """
    out = _console()
    seat_arg = parse_seat(seat)
    with config_errors():
        import turngym.envs

        info = turngym.envs.env_info(env_id)  # fail on a bad id before any solving
        env = make_play_env(info.id, "random", seat_arg)  # checks the seat before any solving
        if opponent is OpponentKind.cfr:
            cache_dir = cache or default_cache_dir()
            writable_folder(cache_dir / "cfr", "--cache")  # before solving, not after
            with config_errors(*_solver_errors()):
                bot = load_cfr_opponent(info.id, cache_dir, iterations)
            env = make_play_env(info.id, bot, seat_arg)
    out.rule(f"{info.id}  vs {opponent.value}", style="dim")
    out.print("Type an action word at the prompt; 'quit' ends.\n", style="dim")
    score, played, hand = 0.0, 0, 0
    obs, step_info = env.reset(seed=seed)
    quit_requested = False
    while hands is None or hand < hands:
        hand += 1
        out.rule(f"Hand {hand} ({_seat_label(step_info)})", style="cyan")
        total, terminated, truncated = 0.0, False, False
        while True:
            # The observation is echoed verbatim (no rich markup or wrapping): it is the LLM's view.
            typer.echo(obs)
            if terminated or truncated:
                break
            action = read_action(">")
            if action is None:
                quit_requested = True
                break
            obs, reward, terminated, truncated, step_info = env.step(action)
            total += float(reward)
        if quit_requested:
            out.print(f"Stopped during hand {hand}; it is not scored.", style="dim", markup=False)
            break
        played += 1
        score += total
        how = "ended" if terminated else "was cut off (turn cap reached)"
        out.print(
            f"Hand {hand} {how}: you {total:+g}. Score after {played} hand{'s' * (played != 1)}: "
            f"{score:+g} ({score / played:+.3f} per hand).",
            style="bold",
            markup=False,
        )
        if hands is not None and hand >= hands:
            break
        obs, step_info = env.reset()
    env.close()
    out.rule(style="dim")
    out.print(f"Final score: {score:+g} over {played} hand{'s' * (played != 1)}.", style="bold", markup=False)


# --------------------------------------------------------------------------------------------- solve
#: Exact game values for player 0, printed next to the solver's estimate.
KNOWN_GAME_VALUES = {"turngym/KuhnPoker-v0": (-1.0 / 18.0, "-1/18 (Kuhn 1950)")}


def algo_slug(algo: str) -> str:
    """File-name form of an algorithm name (``cfr+`` -> ``cfrplus``)."""
    return algo.replace("+", "plus")


def _solver_errors() -> tuple[type[BaseException], ...]:
    """Exception types of the CFR stack that mean "this env cannot be solved" (exit 2, not a crash)."""
    from turngym.agents.baselines.gametree import GameTreeError

    return (GameTreeError,)


def _first_key(env_id: str) -> str:
    """``state_key`` of the first decision of a hand: a cached table must know it to match the env."""
    import turngym.envs

    env = turngym.envs.make_aec(env_id)
    env.reset(seed=0)
    return env.infos[env.agent_selection]["state_key"]


def load_cfr_opponent(env_id: str, cache_dir: Path, iterations: int) -> Any:
    """A CFR-policy agent for ``env_id``, solved once and then cached as JSON under ``cache_dir``.

    The cache file is ``<cache_dir>/cfr/<Name-vN>_cfrplus_<iterations>.json`` in the
    ``TabularPolicy.save`` format; an unreadable or foreign file is re-solved and overwritten.

    Args:
        env_id: Canonical registered id.
        cache_dir: Folder of cached policies.
        iterations: CFR+ iterations when the cache has no policy for this env.

    Returns:
        A ``TabularPolicy`` (``act(observations, infos, *, rng)``) playing the average CFR+ strategy.
    """
    from turngym.agents.baselines.cfr import solve
    from turngym.agents.baselines.tabular import TabularPolicy

    err = _console(stderr=True)
    path = cache_dir / "cfr" / f"{env_id.split('/')[-1]}_{algo_slug('cfr+')}_{iterations}.json"
    if path.exists():
        try:
            policy = TabularPolicy.load(path)
        except (OSError, ValueError, KeyError, TypeError) as e:
            err.print(f"Ignoring unreadable cached policy {path} ({e}); solving again.", markup=False)
        else:
            if policy.env_id == env_id and _first_key(env_id) in policy:
                err.print(f"CFR+ opponent: cached policy {path}", style="dim", markup=False)
                return policy
            err.print(f"Cached policy {path} does not match this version of {env_id}; solving again.",
                      markup=False)
    err.print(f"Solving {env_id} with CFR+ ({iterations} iterations) for the opponent...", markup=False)
    result = solve(
        env_id,
        iterations=iterations,
        algo="cfr+",
        eval_every=max(1, iterations // 10),
        progress=sys.stderr.isatty(),
    )
    result.policy.save(path)
    err.print(
        f"CFR+ opponent ready: exploitability {result.exploitability:.6f}; cached at {path}",
        style="dim",
        markup=False,
    )
    return result.policy


def _checkpoints(curve: list[tuple[int, float]], count: int = 12) -> list[int]:
    """Indices of about ``count`` log-spaced curve points, the first and the last always included."""
    if len(curve) <= count:
        return list(range(len(curve)))
    first, last = curve[0][0], curve[-1][0]
    targets = [first * (last / first) ** (k / (count - 1)) for k in range(count)]
    picks = {min(range(len(curve)), key=lambda i, t=t: abs(curve[i][0] - t)) for t in targets}
    return sorted(picks | {0, len(curve) - 1})


@app.command("solve")
def solve_cmd(
    env_id: Annotated[
        str, typer.Argument(metavar="ENV_ID", help="Env id of a two-player zero-sum game (Kuhn, Leduc).")
    ],
    iterations: Annotated[int, typer.Option(min=1, help="Solver iterations.")] = 1000,
    algo: Annotated[Algo, typer.Option(help="Regret minimizer.")] = Algo.cfr_plus,
    out: Annotated[Path, typer.Option(help="Output folder (policy JSON, summary JSON, PNG).")] = Path("runs/solve"),
    eval_every: Annotated[
        int | None, typer.Option(min=1, help="Exact exploitability every N iterations (default: ~100 points).")
    ] = None,
    target: Annotated[float | None, typer.Option(min=0.0, help="Stop once exploitability falls below this.")] = None,
    progress: Annotated[
        bool | None,
        typer.Option("--progress/--no-progress", help="Progress bar on stderr (default: when it is a terminal)."),
    ] = None,
) -> None:
    """Solve a two-player zero-sum game with CFR; save the policy and the exploitability curve.

    Exploitability is NashConv / 2 (OpenSpiel's convention), computed exactly by best response on the
    full game tree. Writes `<Name>_<algo>_policy.json` (a TabularPolicy keyed by the env's state_key,
    playable as an opponent), `<Name>_<algo>_summary.json` and `<Name>_<algo>_exploitability.png`.
    """
    console = _console()
    with config_errors():
        import turngym.envs

        info = turngym.envs.env_info(env_id)
    writable_folder(out, "--out")  # before solving, not after
    from turngym.agents.baselines.cfr import exploitability, plot_exploitability, solve
    from turngym.agents.baselines.gametree import build_tree

    with config_errors(*_solver_errors()):
        tick = time.perf_counter()
        tree = build_tree(info.id)
        build_seconds = time.perf_counter() - tick
    sizes = tree.summary()
    uniform = exploitability(tree, tree.uniform_strategy())
    console.print(
        f"{info.id}: {sizes['infosets']} information sets, {sizes['nodes']} nodes. "
        f"Uniform random policy: exploitability {uniform:.6f}.",
        markup=False,
    )
    every = eval_every or max(1, iterations // 100)
    show_bar = sys.stderr.isatty() if progress is None else progress
    result = solve(info.id, iterations=iterations, algo=algo.value, eval_every=every, progress=show_bar, target=target)

    table = Table(title=f"{algo.value} on {info.id}: exploitability of the average strategy")
    table.add_column("iteration", justify="right")
    table.add_column("exploitability", justify="right")
    table.add_column("solver s", justify="right")
    for i in _checkpoints(result.curve):
        t, expl = result.curve[i]
        table.add_row(str(t), f"{expl:.6f}", f"{result.curve_seconds[i]:.2f}")
    console.print(table)

    value_line = f"Game value (player 0): {result.game_value:+.6f}"
    if info.id in KNOWN_GAME_VALUES:
        exact, label = KNOWN_GAME_VALUES[info.id]
        value_line += f" (exact: {exact:+.6f} = {label})"
    console.print(
        f"Final exploitability: {result.exploitability:.6f} after {result.iterations} iterations "
        f"({result.seconds:.2f} s; tree built in {build_seconds:.2f} s)",
        markup=False,
    )
    console.print(value_line, markup=False)

    stem = f"{info.id.split('/')[-1]}_{algo_slug(algo.value)}"
    out.mkdir(parents=True, exist_ok=True)
    policy_path = result.policy.save(out / f"{stem}_policy.json")
    png_path = plot_exploitability(result, out / f"{stem}_exploitability.png", title=f"{algo.value} on {info.id}")
    summary = {
        "env_id": info.id,
        "algo": algo.value,
        "iterations": result.iterations,
        "exploitability": result.exploitability,
        "uniform_exploitability": uniform,
        "game_value": result.game_value,
        "num_infosets": result.num_infosets,
        "seconds": result.seconds,
        "build_seconds": build_seconds,
        "curve": [[int(t), float(e)] for t, e in result.curve],
        "curve_seconds": [float(x) for x in result.curve_seconds],
        "policy": policy_path.name,
        "plot": png_path.name,
    }
    summary_path = out / f"{stem}_summary.json"
    summary_path.write_text(json.dumps(summary, indent=1), encoding="utf-8")
    for label, path in (("policy", policy_path), ("summary", summary_path), ("plot", png_path)):
        console.print(f"Wrote {label}: {path}", markup=False)


# --------------------------------------------------------------------------------------------- train
@app.command(
    "train",
    context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
    add_help_option=False,
)
def train_cmd(ctx: typer.Context) -> None:
    """RL training of a text policy (defaults: the tiny model, GiGPO, Leduc); `turngym train --help` lists flags."""
    from turngym.agents.llm.train.cli import train_main

    with config_errors(ValueError):
        status = train_main(list(ctx.args))
    if status:
        raise typer.Exit(int(status))


@app.command(
    "sft",
    context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
    add_help_option=False,
)
def sft_cmd(ctx: typer.Context) -> None:
    """Supervised warm start on scripted-expert trajectories; `turngym sft --help` lists flags."""
    from turngym.agents.llm.train.cli import sft_main

    with config_errors(ValueError):
        status = sft_main(list(ctx.args))
    if status:
        raise typer.Exit(int(status))


# --------------------------------------------------------------------------------------------- serve
@app.command("serve")
def serve_cmd(
    model: Annotated[str, typer.Option(help="'tiny', an RL checkpoint (iter-N.pt or a run folder: its newest), "
                                            "or a transformers model folder / Hugging Face id.")] = "tiny",
    host: Annotated[str, typer.Option(help="Address to listen on (0.0.0.0 exposes the model to the network).")]
    = "127.0.0.1",
    port: Annotated[int, typer.Option(min=0, max=65535, help="TCP port; 0 lets the OS pick a free one.")] = 8000,
    served_model_name: Annotated[
        str | None, typer.Option(help="The model name clients send (default: --model).")
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed of the sampling generator (and of the tiny model's init).")] = 0,
    device: Annotated[str | None, typer.Option(help="cpu or cuda (default: cuda when available).")] = None,
    temperature: Annotated[
        float, typer.Option(min=0.0, max=2.0, help="Temperature of requests that set none.")
    ] = 1.0,
    max_new_tokens: Annotated[int, typer.Option(min=1, help="Completion tokens of requests that set none.")] = 256,
    max_tokens_limit: Annotated[int, typer.Option(min=1, help="Most completion tokens a request may ask for.")]
    = 2048,
    tool_format: Annotated[
        str, typer.Option(help="How request tools are shown to the model and its calls parsed: hermes, openai, plain.")
    ] = "hermes",
    max_body_bytes: Annotated[int, typer.Option(min=1, help="Longest request body accepted (413 past it).")]
    = 2 * 2**20,
    max_queue: Annotated[int, typer.Option(min=1, help="Requests waiting at once before 503 (busy).")] = 64,
    log_level: Annotated[str, typer.Option(help="uvicorn log level.")] = "warning",
) -> None:
    """Serve a policy as an OpenAI-compatible chat API (POST /v1/chat/completions, GET /v1/models).

    One request generates at a time. Prints `turngym serve: NAME ready at URL` once it accepts requests;
    Ctrl-C (SIGINT) or SIGTERM stops it.
    """
    with config_errors():
        from turngym.agents.llm.serve import ServeSettings, serve_main

        settings = ServeSettings(model_name=served_model_name or model, max_body_bytes=max_body_bytes,
                                 max_tokens_limit=max_tokens_limit, default_max_tokens=max_new_tokens,
                                 max_queue=max_queue, tool_format=tool_format)
        serve_main(model, host=host, port=port, seed=seed, device=device, settings=settings, log_level=log_level,
                   policy_kwargs={"temperature": temperature, "max_new_tokens": max_new_tokens})


# --------------------------------------------------------------------------------------- leaderboard
def resolve_suite_path(suite: str) -> Path:
    """A suite file's path, or the shipped suite of that name (``cards``) when no such file exists."""
    path = Path(suite)
    if path.exists() or path.suffix:
        return path
    from turngym.agents.leaderboard.suite import example_suite_path

    return example_suite_path(suite)


@app.command("leaderboard")
def leaderboard_cmd(
    suite: Annotated[str, typer.Argument(metavar="SUITE", help="A suite file (.toml, .json, .yaml) or the name of "
                                                               "a shipped suite (cards).")],
    out: Annotated[Path, typer.Option(help="Output folder: games.jsonl (resumable log), manifest.json, "
                                           "leaderboard.{md,json,png,html}.")] = Path("runs/leaderboard"),
    executor: Annotated[
        str | None,
        typer.Option(help="Where games are played: inprocess, subprocess (worker processes) or ray (Ray actors, "
                          "pip install turngym[dist]). Default: subprocess with --workers > 1, else inprocess. "
                          "Every executor logs the same games."),
    ] = None,
    workers: Annotated[int, typer.Option(min=1, help="Worker processes or Ray actors (ignored in-process).")] = 1,
    max_games: Annotated[
        int | None, typer.Option(min=1, help="Play at most this many new games, then rate what is logged.")
    ] = None,
    png: Annotated[bool, typer.Option("--png/--no-png", help="Write the PNG plot.")] = True,
    html: Annotated[bool, typer.Option("--html/--no-html", help="Write the static HTML page.")] = True,
    progress: Annotated[
        bool | None,
        typer.Option("--progress/--no-progress", help="Progress bar on stderr (default: when it is a terminal)."),
    ] = None,
) -> None:
    """Play a suite (agents x envs x seeds, seat-swapped), log every game, and rank the agents.

    Ratings: Bradley-Terry with bootstrap intervals (the ranking of record) and openskill, overall and per
    env; single-agent envs get success rates and mean returns. A rerun on the same --out skips the games
    already logged, so an interrupted run continues where it stopped. Infrastructure failures (an endpoint
    down, a sandbox failing) are counted apart, never as losses. A seat that makes max_invalid_streak (default 3)
    invalid actions in a row forfeits the game. Prints the Markdown tables.
    """
    with config_errors():
        from turngym.agents.leaderboard.runner import run_leaderboard
        from turngym.agents.leaderboard.suite import load_suite

        spec = load_suite(resolve_suite_path(suite))
    writable_folder(out, "--out")
    show_bar = sys.stderr.isatty() if progress is None else progress
    bar = None
    if show_bar:
        from tqdm import tqdm

        bar = tqdm(desc="games", unit="game", file=sys.stderr)

    def tick(done: int, total: int) -> None:
        if bar is not None:
            bar.total = total
            bar.n = done
            bar.refresh()

    with config_errors():
        result, _ = run_leaderboard(spec, out, executor=executor, workers=workers, max_games=max_games,
                                    progress=tick, png=png, html=html)
    if bar is not None:
        bar.close()
    typer.echo(result.files["md"].read_text(encoding="utf-8"))
    rate = result.played / result.seconds if result.seconds > 0 else 0.0
    err = _console(stderr=True)
    err.print(f"Played {result.played} games ({rate:.1f} games/s, {result.executor} x {result.workers}), "
              f"{result.skipped} already logged, of {result.scheduled} scheduled.", markup=False)
    for label, path in (("log", out / "games.jsonl"), ("manifest", out / "manifest.json"), *result.files.items()):
        err.print(f"Wrote {label}: {path}", markup=False)


# --------------------------------------------------------------------------------------------- bench
#: ``turngym bench <name>`` passes every argument through to the script's own parser (its ``--help`` too).
_PASS_THROUGH = {"context_settings": {"allow_extra_args": True, "ignore_unknown_options": True},
                 "add_help_option": False}


def run_bench_script(ctx: typer.Context, name: str, label: str, out_is_file: bool) -> None:
    """Runs ``turngym.benchmarks.<name>.main`` on the command's arguments.

    A missing script (a partial install) is a one-line error, a ``--out`` that cannot be written fails before
    the run (``check_bench_out``), and the library's typed errors exit with status 2.

    Args:
        ctx: The typer context holding the pass-through arguments.
        name: Module name under ``turngym.benchmarks``.
        label: The benchmark's name for the error message.
        out_is_file: The script's ``--out`` names a file rather than a folder.

    Raises:
        typer.Exit: With the script's status when it is not 0.
    """
    import importlib

    module_name = f"turngym.benchmarks.{name}"
    try:
        script = importlib.import_module(module_name)
    except ModuleNotFoundError as e:
        if e.name != module_name:
            raise
        _console(stderr=True).print(f"Error: the {label} benchmark (benchmarks/{name}.py) is not installed.")
        raise typer.Exit(1) from None
    args = list(ctx.args)
    check_bench_out(args, is_file=out_is_file)
    with config_errors():
        status = script.main(args)
    if status:
        raise typer.Exit(int(status))


@bench_app.command("throughput", **_PASS_THROUGH)
def bench_throughput_cmd(ctx: typer.Context) -> None:
    """Steps-per-second of every env next to its peers; all arguments go to the benchmark script."""
    run_bench_script(ctx, "throughput", "throughput", out_is_file=True)


@bench_app.command("dhumbal", **_PASS_THROUGH)
def bench_dhumbal_cmd(ctx: typer.Context) -> None:
    """Dhumbal (Jhyap) agent tournaments after arXiv 2510.11736; all arguments go to the benchmark script."""
    run_bench_script(ctx, "dhumbal", "Dhumbal", out_is_file=False)


@bench_app.command("cooperation", **_PASS_THROUGH)
def bench_cooperation_cmd(ctx: typer.Context) -> None:
    """Cooperation vs exploration for shared/grouped/independent DQN (arXiv 2601.05509); arguments go to the script."""
    run_bench_script(ctx, "cooperation", "cooperation", out_is_file=False)


@bench_app.command("harvest", **_PASS_THROUGH)
def bench_harvest_cmd(ctx: typer.Context) -> None:
    """Harvest: PPO with parameter sharing vs random players over seeds (Perolat et al. 2017 metrics)."""
    run_bench_script(ctx, "harvest", "Harvest", out_is_file=False)


def main() -> None:
    """Entry point for ``python -m turngym.benchmarks.cli``."""
    app()


if __name__ == "__main__":
    sys.exit(main())
