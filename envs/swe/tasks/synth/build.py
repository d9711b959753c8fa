r"""Regenerates the synthesized task files: ``python -m turngym.envs.swe.tasks.synth.build``.

For each repository: prepare the pinned sdist (``repos.prepare``), record the clean suite's passing tests,
then try candidate bugs in a seeded order (``mutate.sample``) until ``--per-repo`` are kept or
``--max-candidates`` were tried. Each repository is written to its own files, so repositories can be added
or regenerated one at a time:

* ``<out>/<name>.jsonl``: one SWE-bench instance per kept bug (plus ``bug_patch``, ``mutation``,
  ``difficulty``, ...), in the order they were kept;
* ``<out>/<name>.summary.json``: counts (candidates tried, kept, rejected by reason, by operator, by
  difficulty) and the baseline. No timings or paths, so the same seed gives byte-identical files.

Example::

    python -m turngym.envs.swe.tasks.synth.build --repos inflection cachetools --per-repo 40 --seed 0 \
        --out envs/swe/tasks/data/
"""

from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from tqdm import tqdm

from turngym.envs.swe.tasks.synth import mutate, statement
from turngym.envs.swe.tasks.synth.repos import CREATED_AT, REPOS, RepoSpec, copy_tree, get_spec, prepare, source_files
from turngym.envs.swe.tasks.synth.validate import Validator, cap_pass_to_pass

DATA_DIR = Path(__file__).resolve().parent.parent / "data"


def difficulty(lines: int, files: int) -> str:
    """Difficulty tag from the size of the fix: ``easy`` (one line each way), ``medium`` (a few), ``hard``.

    The size of the fix is the tag SWE-bench's analyses and SWE-smith use (lines changed, files touched);
    a multi-file fix is ``hard`` whatever its size.
    """
    if files > 1 or lines > 8:
        return "hard"
    return "easy" if lines <= 2 else "medium"


def repo_seed(seed: int, name: str) -> int:
    """A per-repository seed (stable across processes and machines; adding a repository changes no other)."""
    return int.from_bytes(hashlib.sha256(f"{seed}:{name}".encode()).digest()[:8], "big")


def _applies(tree: Path, patch: str) -> bool:
    return subprocess.run(["git", "apply", "--check", "-"], cwd=tree, input=patch.encode(),
                          capture_output=True).returncode == 0


def build_repo(spec: RepoSpec, per_repo: int, seed: int, *, max_candidates: int | None = None,
               max_per_function: int = 2, max_p2p: int = 100, cache: Path | None = None,
               progress: bool = True) -> tuple[list[dict], dict]:
    """Synthesizes up to ``per_repo`` validated tasks of one repository.

    Returns:
        The instance rows (in the order kept) and the summary (deterministic counts).
    """
    max_candidates = max_candidates if max_candidates is not None else 10 * per_repo
    rseed = repo_seed(seed, spec.name)
    rows: list[dict] = []
    tried: Counter[str] = Counter()
    kept_ops: Counter[str] = Counter()
    reasons: Counter[str] = Counter()
    per_function: Counter[str] = Counter()
    with tempfile.TemporaryDirectory(prefix=f"turngym-synth-{spec.name}-") as tmp:
        tmp_path = Path(tmp)
        base_commit = prepare(spec, tmp_path / "prepared", cache=cache)
        tree = tmp_path / "prepared" / "repo"
        site = tmp_path / "prepared" / "site"
        work = copy_tree(tree, tmp_path / "work")
        validator = Validator(spec, work, tmp_path / "scratch", site if site.exists() else None)
        sources = {path: (tree / path).read_text(encoding="utf-8") for path in source_files(spec, tree)}
        pool = [m for path, text in sources.items() for m in mutate.candidates(text, path)]
        order = mutate.sample(pool, rseed)
        bar = tqdm(total=per_repo, desc=spec.name, unit="task", disable=not progress)
        for m in order:
            if len(rows) >= per_repo or sum(tried.values()) >= max_candidates:
                break
            key = f"{m.path}::{m.function}"
            if per_function[key] >= max_per_function:
                continue  # spread the tasks over the library instead of one function's many lines
            tried[m.operator] += 1
            verdict = validator.check(m)
            if verdict.kept:
                source = sources[m.path]
                bug_patch = mutate.unified_diff(m.path, source, m.apply(source))
                fix = mutate.unified_diff(m.path, m.apply(source), source)
                text = statement.write(spec, verdict.fail_to_pass, verdict.run.failures, bug_patch, work=work)
                if statement.leaks(text, bug_patch):
                    verdict.kept, verdict.reason = False, "statement_leak"
                elif not _applies(tree, bug_patch):
                    verdict.kept, verdict.reason = False, "patch_does_not_apply"
            reasons[verdict.reason] += 1
            bar.set_postfix(tried=sum(tried.values()), refresh=False)
            if not verdict.kept:
                continue
            per_function[key] += 1
            kept_ops[m.operator] += 1
            lines = mutate.lines_changed(fix)
            digest = hashlib.sha256(bug_patch.encode()).hexdigest()[:8]
            owner, name = spec.repo.split("/")
            p2p = cap_pass_to_pass(verdict.pass_to_pass, verdict.fail_to_pass, max_p2p, rseed ^ int(digest, 16))
            test_files = sorted({t.split("::", 1)[0] for t in [*verdict.fail_to_pass, *p2p]})
            rows.append({
                "instance_id": f"{owner}__{name}.{spec.version}.{m.operator}__{digest}",
                "repo": spec.repo,
                "base_commit": base_commit,
                "patch": fix,
                "test_patch": "",
                "FAIL_TO_PASS": verdict.fail_to_pass,
                "PASS_TO_PASS": p2p,
                "problem_statement": text,
                "hints_text": "",
                "created_at": CREATED_AT,
                "version": spec.version,
                "environment_setup_commit": base_commit,
                "image": spec.image,
                "test_cmd": spec.test_cmd(test_files),
                "bug_patch": bug_patch,
                "lines_changed": lines,
                "files_touched": 1,
                "difficulty": difficulty(lines, 1),
                "mutation": m.operator,
                "mutated_function": key,
                "pass_to_pass_total": len(verdict.pass_to_pass),
            })
            bar.update(1)
        bar.close()
    summary = {
        "repo": spec.repo, "name": spec.name, "version": spec.version, "sdist_sha256": spec.sha256,
        "base_commit": base_commit, "seed": seed, "per_repo": per_repo, "max_candidates": max_candidates,
        "max_per_function": max_per_function, "max_pass_to_pass": max_p2p,
        "candidates_total": len(pool), "tried": sum(tried.values()), "kept": len(rows),
        "rejected": {r: n for r, n in sorted(reasons.items()) if r != "kept"},
        "tried_by_operator": dict(sorted(tried.items())), "kept_by_operator": dict(sorted(kept_ops.items())),
        "difficulty": dict(sorted(Counter(r["difficulty"] for r in rows).items())),
        "baseline": {"passing": len(validator.baseline.passing), "flaky": list(validator.baseline.flaky),
                     "collected": validator.baseline.collected},
    }
    return rows, summary


def write_repo(out: Path, name: str, rows: Sequence[dict], summary: dict) -> tuple[Path, Path]:
    r"""Writes ``<name>.jsonl`` and ``<name>.summary.json`` (sorted keys, ASCII, ``\n`` line ends)."""
    out.mkdir(parents=True, exist_ok=True)
    jsonl = out / f"{name}.jsonl"
    jsonl.write_text("".join(json.dumps(r, sort_keys=True) + "\n" for r in rows), encoding="utf-8")
    summ = out / f"{name}.summary.json"
    summ.write_text(json.dumps(summary, sort_keys=True, indent=1) + "\n", encoding="utf-8")
    return jsonl, summ


def main(argv: Sequence[str] | None = None) -> int:
    """The command line (see the module docstring)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repos", nargs="+", default=sorted(REPOS), help=f"repositories ({', '.join(REPOS)})")
    parser.add_argument("--per-repo", type=int, default=40, help="tasks to keep per repository")
    parser.add_argument("--seed", type=int, default=0, help="seed of the candidate order")
    parser.add_argument("--out", type=Path, default=DATA_DIR, help="folder for <repo>.jsonl and <repo>.summary.json")
    parser.add_argument("--max-candidates", type=int, default=None, help="candidates to try per repository "
                        "(default 10 x --per-repo)")
    parser.add_argument("--max-per-function", type=int, default=2, help="tasks kept per function")
    parser.add_argument("--max-p2p", type=int, default=100, help="PASS_TO_PASS ids kept per task")
    parser.add_argument("--cache", type=Path, default=None, help="sdist cache folder")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)
    for name in args.repos:
        spec = get_spec(name)
        start = time.monotonic()
        rows, summary = build_repo(spec, args.per_repo, args.seed, max_candidates=args.max_candidates,
                                   max_per_function=args.max_per_function, max_p2p=args.max_p2p,
                                   cache=args.cache, progress=not args.no_progress)
        jsonl, _ = write_repo(args.out, spec.name, rows, summary)
        print(f"{spec.name}: kept {summary['kept']} of {summary['tried']} tried ({summary['candidates_total']} "
              f"candidates); rejected {summary['rejected']}; difficulty {summary['difficulty']}; "
              f"{time.monotonic() - start:.0f} s -> {jsonl}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
