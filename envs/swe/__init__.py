"""SWE sandboxes (issue 15): real repositories with synthesized bugs, run in Docker or bubblewrap sandboxes.

``sandbox``: one ``Sandbox`` interface with a docker and a local (bubblewrap) backend and a warm pool.
``tasks``: SWE-bench instances (load, grade, report) and bug synthesis from pinned source distributions.
"""
