"""``turngym/SWE-v0`` end to end on real bubblewrap sandboxes, real git and the shipped tasks.

Default run: one episode of each kind (a few seconds each). ``slow``: the expert over 10 tasks of all five
repositories, partial credit on a sample, ``check_env``. Docker variants run when the daemon answers and the
task's image exists, else they are skipped with the reason.
"""

from __future__ import annotations

import json
import os
import subprocess

import gymnasium as gym
import numpy as np
import pytest

import turngym.envs as te
from turngym.envs.swe import env as swe_env
from turngym.envs.swe.experts import gold_patch_expert, patch_to_edits, plan_edits, random_agent
from turngym.envs.swe.tasks.synth import repos as synth_repos
from turngym.envs.tooluse import formats
from turngym.envs.tooluse.base import ToolCall

ENV_ID = "turngym/SWE-v0"
_why = swe_env._backend_problem("local")
pytestmark = pytest.mark.skipif(_why is not None, reason=f"local backend unavailable: {_why}")


def call(name, fmt="hermes", **arguments):
    return formats.render_calls([ToolCall(name, arguments)], fmt)


def bash(env, command):
    return env.unwrapped.sandbox.exec(command, timeout=60).output


def task_of(repo="toolz", split="train", k=0):
    tasks = [t for t in swe_env.load_shipped([repo]) if swe_env.split_of(t.instance_id) == split]
    return tasks[k]


@pytest.fixture()
def env():
    e = gym.make(ENV_ID, repos=["toolz"])
    yield e
    e.close()


def removed_text(bug_patch):
    """The lines the bug patch removed (the clean code the fix restores)."""
    return "\n".join(ln[1:] for ln in bug_patch.split("\n") if ln.startswith("-") and not ln.startswith("---"))


def start(env, inst):
    return env.reset(seed=0, options={"instance_id": inst.instance_id})


def run_expert(env, obs, info, limit=10):
    act = gold_patch_expert(ENV_ID)
    for _ in range(limit):
        obs, reward, term, trunc, info = env.step(act(env, obs, info))
        if term or trunc:
            return reward, info
    raise AssertionError("the expert did not finish")


# ----------------------------------------------------------------------------------------------------- reset
def test_reset_gives_the_buggy_start_as_the_only_commit(env):
    inst = task_of()
    obs, info = start(env, inst)
    assert bash(env, "git status --porcelain --untracked-files=all") == ""
    bug = inst.extra["bug_patch"]
    path = next(ln[6:] for ln in bug.split("\n") if ln.startswith("+++ b/"))
    added = [ln[1:] for ln in bug.split("\n") if ln.startswith("+") and not ln.startswith("+++")]
    content = env.unwrapped.sandbox.read_file(path).decode()
    assert all(a in content for a in added)  # the bug is in place
    # The gold is not reachable through git: one commit, no parent, no other ref, no alternates.
    assert len(bash(env, "git log --all --format=%H").split()) == 1
    assert len(bash(env, "git reflog --format=%H").split()) == 1
    assert bash(env, "git rev-parse -q --verify HEAD~1; echo $?").strip().endswith("1")
    assert bash(env, "git stash list") == ""
    image = swe_env.SWEEnv._image_of(env.unwrapped, inst)
    clean_blob = subprocess.run(["git", "-C", f"{image}/repo", "rev-parse", f"{inst.base_commit}:{path}"],
                                capture_output=True, text=True, check=True).stdout.strip()
    objects = bash(env, "git cat-file --batch-all-objects --batch-check='%(objectname)'")
    assert clean_blob not in objects and len(objects.split()) > 10
    assert bash(env, f"git cat-file -e {clean_blob}; echo $?").strip().endswith("128") or \
        bash(env, f"git cat-file -e {clean_blob} 2>/dev/null; echo $?").strip() != "0"
    # ... nor through the image's object store, which reset reads (local backend: protected, see protect_objects).
    assert "Permission denied" in bash(env, "ls /opt/turngym/objects")
    leak = bash(env, f"GIT_OBJECT_DIRECTORY=/opt/turngym/objects git cat-file -p {clean_blob}; echo rc=$?")
    assert leak.strip().endswith("rc=128") and removed_text(bug) not in leak
    # ... nor in what the agent is shown.
    shown = obs + json.dumps(info)
    removed = [ln[1:] for ln in bug.split("\n") if ln.startswith("-") and not ln.startswith("---")]
    assert not any(r.strip() and r.strip() not in content and r in shown for r in removed)
    for field in ("bug_patch", "mutated_function", "patch"):
        assert field not in info["task"]
    assert inst.patch not in shown and bug not in shown


# ----------------------------------------------------------------------------------------------------- grading
def test_expert_resolves_and_noop_scores_zero(env):
    inst = task_of()
    obs, info = start(env, inst)
    obs, *_, info = env.step(call("bash", command="git status"))  # the expert takes over a started episode
    reward, info = run_expert(env, obs, info)
    assert reward == 1.0 and info["success"] is True and info["grade"]["resolved"]
    start(env, inst)
    obs, reward, term, trunc, info = env.step(call("submit"))
    assert term and not trunc and reward == 0.0 and info["success"] is False
    assert info["grade"]["f2p_rate"] < 1.0 and "infra_error" not in info


def test_editing_tests_or_planting_conftest_does_not_help(env):
    inst = task_of()
    start(env, inst)
    test_file = inst.FAIL_TO_PASS[0].split("::", 1)[0]
    # Make every test pass by changing the tests and pytest's behaviour; none of it reaches grading.
    plant = ("import pytest\n@pytest.hookimpl(hookwrapper=True)\ndef pytest_runtest_makereport(item, call):\n"
             "    out = yield\n    rep = out.get_result()\n    rep.outcome = 'passed'\n")
    env.unwrapped.sandbox.write_file("conftest.py", plant.encode())
    env.unwrapped.sandbox.write_file(test_file, b"def test_nothing():\n    pass\n")
    obs, reward, term, trunc, info = env.step(call("submit"))
    assert term and reward == 0.0 and info["success"] is False
    assert {"conftest.py", test_file} <= set(info["grade"]["files_not_graded"])


def test_partial_reward_is_the_fail_to_pass_fraction():
    inst = next(t for t in swe_env.load_shipped(["toolz"]) if len(t.FAIL_TO_PASS) >= 2
                and swe_env.split_of(t.instance_id) == "train")
    env = gym.make(ENV_ID, repos=["toolz"], reward="partial")
    try:
        start(env, inst)
        _, reward, *_, info = env.step(call("submit"))
        assert reward == pytest.approx(info["grade"]["partial_credit"])
        assert 0.0 <= reward < 1.0
        obs, info = start(env, inst)
        reward, info = run_expert(env, obs, info)
        assert reward == 1.0
        env.reset(seed=0)
        *_, info = env.step(call("submit"))
        assert info["success"] is False and "infra_error" not in info
    finally:
        env.close()


# ----------------------------------------------------------------------------------------------------- state keys
def test_state_key_tracks_the_code_state():
    inst = task_of()
    a, b = gym.make(ENV_ID, repos=["toolz"]), gym.make(ENV_ID, repos=["toolz"])
    try:
        _, ia = start(a, inst)
        _, ib = start(b, inst)
        assert ia["state_key"] == ib["state_key"]
        view = call("str_replace_editor", command="view", path="README.rst")
        ia, ib = a.step(view)[-1], b.step(call("bash", command="ls"))[-1]
        assert ia["state_key"] == ib["state_key"]  # looking changes nothing
        bad = a.step("not a call")[-1]
        assert bad["action_valid"] is False and bad["state_key"] == ia["state_key"]
        edit = call("bash", command="echo '# note' >> README.rst")
        ia, ib = a.step(edit)[-1], b.step(edit)[-1]
        assert ia["state_key"] == ib["state_key"] != ib.get("prev")
        ic = b.step(call("bash", command="echo '# other' >> README.rst"))[-1]
        assert ic["state_key"] != ia["state_key"]
        # Undoing the edit returns to the start state's key.
        id_ = a.step(call("bash", command="git checkout -q README.rst"))[-1]
        _, ie = start(b, inst)
        assert id_["state_key"] == ie["state_key"]
    finally:
        a.close()
        b.close()


def test_step_rewards_reward_new_code_states_only():
    env = gym.make(ENV_ID, repos=["toolz"], step_rewards=True, step_reward=0.5)
    try:
        start(env, task_of())
        assert env.step(call("bash", command="ls"))[-1]["step_reward"] == 0.0
        assert env.step(call("bash", command="echo x >> README.rst"))[-1]["step_reward"] == 0.5
        out = env.step(call("bash", command="true"))
        assert out[-1]["step_reward"] == 0.0 and out[1] == 0.0  # never added to the reward
    finally:
        env.close()


# ----------------------------------------------------------------------------------------------------- budgets
def test_turn_and_time_budgets_truncate_without_grading():
    env = gym.make(ENV_ID, repos=["toolz"], max_turns=2)
    try:
        start(env, task_of())
        assert env.step(call("bash", command="true"))[2:4] == (False, False)
        obs, reward, term, trunc, info = env.step("garbage")
        assert (term, trunc, reward, info["success"]) == (False, True, 0.0, False) and "grade" not in info
    finally:
        env.close()
    env = gym.make(ENV_ID, repos=["toolz"], time_budget_s=1.0)
    try:
        start(env, task_of())
        obs, reward, term, trunc, info = env.step(call("bash", command="sleep 5"))
        assert trunc and not term and "time budget" in obs and "timed out" in obs
    finally:
        env.close()


# ----------------------------------------------------------------------------------------------------- hostile input
@pytest.mark.parametrize("fmt", ["hermes", "openai", "plain"])
def test_hostile_messages_are_invalid_not_crashes(fmt):
    env = gym.make(ENV_ID, repos=["toolz"], format=fmt)
    try:
        _, info0 = start(env, task_of())
        rng = np.random.default_rng(0)
        raw = rng.integers(0, 256, 4096, dtype=np.uint8).tobytes()
        many = "\n".join([call("bash", fmt, command="true")] * 10_000)
        battery = ["", "x" * (1 << 20), raw.decode("latin-1"), raw.decode("utf-8", "surrogateescape"), "\x00" * 64,
                   "<tool_call><tool_call>{}</tool_call></tool_call>", '<tool_call>{"name": "bash"', many, None, b"x",
                   call("bash", fmt, command=1), call("str_replace_editor", fmt, command="view"),
                   call("nope", fmt)]
        for action in battery:
            *_, info = env.step(action)
            assert info["action_valid"] is False and info["state_key"] == info0["state_key"], repr(action)[:80]
        # A valid call with a hostile payload is the sandbox's business: it runs and is contained.
        *_, info = env.step(call("bash", fmt, command="head -c 3000000 /dev/zero | tr '\\0' a"))
        assert info["action_valid"] is True
    finally:
        env.close()


def test_gym_make_refuses_bad_configuration():
    with pytest.raises(te.ConfigError):
        gym.make(ENV_ID, backend="dockr")
    with pytest.raises(te.ConfigError):
        gym.make(ENV_ID, repos=["toolzz"])
    with pytest.raises(te.ConfigError):
        gym.make(ENV_ID, reward="half")


# ----------------------------------------------------------------------------------------------------- infra
def test_infra_failure_at_reset_is_not_scored_and_next_reset_works(tmp_path, monkeypatch):
    inst = task_of()
    monkeypatch.chdir(tmp_path)  # a row's local image is a relative path
    os.mkdir("broken")  # a directory without repo/: the sandbox cannot start
    broken = swe_env.SWEInstance.from_dict({**inst.to_dict(), "image": "broken"})
    env = swe_env.SWEEnv(tasks=[broken], split="train")
    try:
        obs, info = env.reset(seed=0)
        assert "infra_error" in info
        obs, reward, term, trunc, info = env.step(call("bash", command="true"))
        assert trunc and not term and reward == 0.0 and "infra_error" in info and "success" not in info
    finally:
        env.close()
    good = gym.make(ENV_ID, repos=["toolz"])
    try:
        _, info = start(good, inst)
        assert "infra_error" not in info
    finally:
        good.close()


def test_sandbox_killed_during_the_agents_turn_scores_zero_then_reset_replaces_it(env):
    inst = task_of()
    start(env, inst)
    sb = env.unwrapped.sandbox
    sb._holder.proc.kill()  # the sandbox dies (as when the agent's command takes its server down)
    sb._holder.proc.wait()
    obs, reward, term, trunc, info = env.step(call("bash", command="true"))
    assert term and reward == 0.0 and info["success"] is False and "sandbox_died" in info
    assert "infra_error" not in info
    _, info = start(env, inst)
    assert "infra_error" not in info and env.unwrapped.sandbox is not sb
    assert bash(env, "git status --porcelain") == ""


def test_trainer_leaves_infra_error_episodes_out():
    from turngym.agents.llm.policies.base import Generation
    from turngym.agents.llm.rollout import Episode, Turn, rollout_metrics

    def episode(i, info, reward):
        turn = Turn(0, "k", [], Generation("x", [1, 2], [3], [-0.1]), reward=reward)
        return Episode(i, 0, 0, turns=[turn], truncated="infra_error" in info, success=bool(info.get("success")),
                       final_info=info)

    eps = [episode(0, {"success": True}, 1.0), episode(1, {"success": False}, 0.0),
           episode(2, {"infra_error": "sandbox failed at reset: x"}, 0.0)]
    assert eps[2].infra_error and eps[0].infra_error is None
    metrics = rollout_metrics(eps)
    assert metrics["infra_error_frac"] == pytest.approx(1 / 3)
    assert metrics["success_rate"] == 0.5 and metrics["return_mean"] == 0.5  # the infra episode is not a 0
    # The loop's filter (agents/llm/train/loop.py, ``iteration``): the batch is built from the scored ones only.
    kept = [ep for ep in eps if ep.turns and ep.infra_error is None]
    assert [ep.episode_id for ep in kept] == [0, 1]


# ----------------------------------------------------------------------------------------------------- registry
def test_registration_is_lazy_and_declares_the_expert():
    info = te.env_info(ENV_ID)
    assert info.replayable is False and info.eval_kwargs == {"split": "test"}
    assert info.expert == "turngym.envs.swe.experts:gold_patch_expert"
    code = ("import sys, turngym.envs; assert 'turngym.envs.swe.env' not in sys.modules; "
            "assert not any(m == 'docker' or m.startswith('docker.') for m in sys.modules)")
    subprocess.run(["python", "-c", code], check=True)


def test_split_is_a_fixed_hash_partition():
    tasks = swe_env.load_shipped()
    test = [t for t in tasks if swe_env.split_of(t.instance_id) == "test"]
    assert 0.1 < len(test) / len(tasks) < 0.3
    assert {t.instance_id for t in swe_env.SWEEnv(split="test").instances} == {t.instance_id for t in test}


def test_patch_to_edits_round_trip():
    inst = task_of()
    edits = patch_to_edits(inst.patch)
    assert edits and all(e.arguments["command"] == "str_replace" for e in edits)
    bug_edits = patch_to_edits(inst.extra["bug_patch"])
    assert [e.arguments["old_str"] for e in edits] == [e.arguments["new_str"] for e in bug_edits]


def test_plan_edits_widens_a_repeated_hunk_and_stops_when_applied():
    text = "def f():\n    return 1\n\ndef g():\n    return 1\n"
    patch = "--- a/m.py\n+++ b/m.py\n@@ -5 +5 @@\n-    return 1\n+    return 2\n"
    files = {"m.py": text}
    (edit,) = plan_edits(patch, files.get)
    old, new = edit.arguments["old_str"], edit.arguments["new_str"]
    assert text.count(old) == 1 and "def g():" in old  # "    return 1" alone occurs twice
    files["m.py"] = text.replace(old, new)
    assert files["m.py"].endswith("def g():\n    return 2\n") and plan_edits(patch, files.get) == []


def test_random_agent_rarely_succeeds():
    env = gym.make(ENV_ID, repos=["inflection"], max_turns=5)
    act = random_agent(seed=1, submit_prob=0.3)
    try:
        wins = 0
        for seed in range(2):
            obs, info = env.reset(seed=seed)
            for _ in range(5):
                obs, reward, term, trunc, info = env.step(act(env, obs, info))
                if term or trunc:
                    break
            wins += bool(info.get("success"))
        assert wins == 0
    finally:
        env.close()


# ----------------------------------------------------------------------------------------------------- slow
@pytest.mark.slow
def test_expert_resolves_ten_tasks_across_all_repos():
    solved = []
    for repo in sorted(synth_repos.REPOS):
        env = gym.make(ENV_ID, repos=[repo])
        try:
            for k in range(2):
                obs, info = env.reset(seed=0, options={"task_index": k})
                reward, info = run_expert(env, obs, info)
                assert reward == 1.0 and info["success"], (repo, k, info.get("grade"))
                solved.append((repo, k))
        finally:
            env.close()
    assert len(solved) == 10


@pytest.mark.slow
def test_check_env_passes():
    te.check_env(gym.make(ENV_ID, repos=["inflection"]))


@pytest.mark.slow
@pytest.mark.parametrize("repo", sorted(synth_repos.REPOS))
def test_docker_backend_expert_resolves_and_the_store_is_hidden(repo):
    from turngym.envs.swe.sandbox.docker_backend import docker_unavailable

    why = docker_unavailable()
    if why is not None:
        pytest.skip(f"no docker daemon: {why}")
    from turngym.envs.swe.images import build_command, docker_image_exists

    image = synth_repos.get_spec(repo).image
    if not docker_image_exists(image):
        pytest.skip(f"docker image {image} not built: {build_command(repo)}")
    env = gym.make(ENV_ID, repos=[repo], backend="docker")
    try:
        obs, info = env.reset(seed=0)
        assert bash(env, "git status --porcelain") == "" and len(bash(env, "git log --all --format=%H").split()) == 1
        # The image's store holds the clean source (the fix): the agent's uid cannot read it (SECURITY.md).
        assert "Permission denied" in bash(env, "cat /opt/turngym/pristine.git/HEAD 2>&1")
        assert bash(env, "id -u").strip() == "10001"
        reward, info = run_expert(env, obs, info)
        assert reward == 1.0 and info["success"] is True
        obs, info = env.reset(seed=1)
        obs, reward, term, trunc, info = env.step(call("submit"))
        assert term and reward == 0.0 and info["success"] is False  # the bug is still there
    finally:
        env.close()


@pytest.mark.parametrize("backend", ["local", "docker"])
def test_sandboxes_run_the_pytest_the_task_ids_were_recorded_with(backend):
    """Parametrized ids change between pytest releases (boltons' magnet URL case): both backends pin it."""
    why = swe_env._backend_problem(backend)
    if why is None and backend == "docker":
        from turngym.envs.swe.images import docker_image_exists

        if not docker_image_exists(synth_repos.get_spec("boltons").image):
            why = "image not built (.ci/docker-setup builds it)"
    if why is not None:
        pytest.skip(f"{backend} backend unavailable: {why}")
    env = gym.make(ENV_ID, repos=["boltons"], backend=backend)
    try:
        env.reset(seed=0)
        assert bash(env, "python -c 'import pytest; print(pytest.__version__)'").strip() == synth_repos.TASK_PYTEST
        ids = bash(env, "python -m pytest -q --collect-only -p no:cacheprovider tests/test_urlutils.py "
                        "2>/dev/null | grep -c magnet")
        assert int(ids.strip() or 0) >= 1  # the recorded string id, not pytest 9.2's test_urlN
    finally:
        env.close()
