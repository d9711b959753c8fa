"""SWE sandboxes (issue 15): real repositories with synthesized bugs, run in Docker or bubblewrap sandboxes.

``sandbox``: one ``Sandbox`` interface with a docker and a local (bubblewrap) backend and a warm pool.
``tasks``: SWE-bench instances (load, grade, report) and bug synthesis from pinned source distributions.
``env``: ``turngym/SWE-v0``, registered here by name, so importing this package starts no sandbox and imports
neither the docker SDK nor the env module.
"""

from turngym.envs.core.registry import TEST_SPLIT, EnvInfo, register_env

# Not replayable: tool outputs come from a live sandbox (timings, process ids, test order), so two runs of the same
# actions need not match bit for bit; the checker applies the checks that still hold. Held-out evaluation uses
# the test split (a fixed hash split of instance ids).
register_env(EnvInfo("turngym/SWE-v0", "swe", "turngym.envs.swe.env:SWEEnv", modes=("text",),
                     summary="fix a synthesized bug in a real Python library (bash, file editor, submit; graded by "
                             "its tests in a sandbox)",
                     answer_template="<answer>{}</answer>", expert="turngym.envs.swe.experts:gold_patch_expert",
                     replayable=False, eval_kwargs=TEST_SPLIT))
