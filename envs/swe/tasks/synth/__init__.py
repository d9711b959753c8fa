"""Bug synthesis from real code: pinned PyPI sdists, seeded AST mutations, validation by the library's own tests.

* ``repos``: the pinned libraries and ``prepare`` (sdist -> git work tree with one deterministic commit);
* ``mutate``: candidate bugs as minimal text edits of one function, and their diffs;
* ``validate``: keep a candidate iff previously passing tests fail (FAIL_TO_PASS) and only those;
* ``statement``: the problem statement, from the failing tests' output, without the patch;
* ``build``: the command that regenerates ``envs/swe/tasks/data/<repo>.jsonl`` deterministically.
"""
