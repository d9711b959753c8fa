"""The mechanisms behind ``turngym.envs.tooluse.tools.python_sandbox.PythonTool``, one module each.

- ``bwrap``: the isolating backend's command line (namespaces, mounts, size-capped tmpfs, uid drop) and
  the probe that decides whether it works here.
- ``unsafe``: the explicit, non-isolating ``unsafe-rlimit`` backend (audit-hook prelude, host work dir).
- ``child``: what runs in the forked child before ``exec`` (rlimits, cgroup join, uid drop, death signal).
- ``aggregate``: limits on the whole call rather than on each process (cgroup v2, cgroup v1, or an RSS
  watchdog where no cgroup is writable).
- ``capture``: code in and output out through anonymous memory files, so a call leaves no host file even
  when the process that made it is killed.
- ``procs``: ``/proc`` helpers to find, wait for and kill every process a call started.

The threat model and what each backend contains are in ``python_sandbox``'s module docstring.
"""
