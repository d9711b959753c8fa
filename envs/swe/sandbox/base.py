"""The one interface every SWE sandbox backend implements (``docker``, ``local``).

A sandbox holds a git work tree (``SandboxSpec.workdir``) of one source repository with its dependencies
installed. ``reset(commit)`` puts the tree back at a commit with nothing else in it (no untracked or ignored
file, no stash), which is how one warm sandbox serves many tasks of the same repository (SWE-smith's layout:
one image per repository, a task is a patch on top). Everything a model sends through it is hostile: a
command may fork-bomb, fill the disk, allocate without bound, open sockets or try to leave the work tree; a
backend contains all of it or refuses to start (SECURITY.md).

Errors are split by whose fault they are:

* A command that fails, times out or prints too much is a normal ``ExecResult`` (the agent's doing).
* The sandbox itself failing (it died, would not start, could not reset, the daemon went away) raises
  ``SandboxError``: an infrastructure failure, reported as ``info["infra_error"]`` and never scored as a
  reward of 0 (DESIGN section 3).
"""

from __future__ import annotations

import abc
from dataclasses import dataclass

from turngym.envs.core.errors import TurnGymError

#: Label on every container / marker on every local sandbox directory this package creates, so leftovers of a
#: killed driver can be found and reaped (``turngym swe clean``).
LABEL = "turngym.swe"


class SandboxError(TurnGymError, RuntimeError):
    """The sandbox failed (died, would not start or reset, backend gone): an infrastructure failure.

    Args:
        message: What failed, in words.
        backend: The backend name (``docker`` or ``local``).
    """

    def __init__(self, message: str, backend: str = ""):
        self.backend = backend
        super().__init__(f"{backend} sandbox: {message}" if backend else message)


@dataclass(frozen=True)
class SandboxSpec:
    """What a sandbox runs and the limits it runs under.

    Attributes:
        image: Docker backend: the image name. Local backend: the directory holding the repository's
            prepared tree (a git work tree with its dependencies installed), copied per sandbox.
        workdir: Where the repository's work tree is inside the sandbox.
        cpus: CPU quota (cores).
        memory_mb: Memory limit of everything the sandbox runs, in MiB.
        pids: Process/thread limit.
        disk_mb: Size cap of the writable layer (work tree and /tmp), in MiB, where the backend can enforce it.
        network: Allow network access (off by default: a model's commands reach nothing).
        exec_timeout_s: Default wall-clock limit of one ``exec``.
        max_output_chars: Default cap of the output one ``exec`` returns.
        history: Let commands read the image's git object store (the repository's history, which ``reset``
            restores from) where the image protects it (docker images built by ``docker/build.sh``; local images
            prepared by turngym). Off by default: for a synthesized task the store holds the clean source, i.e.
            the fix, and the SWE env keeps it off (SECURITY.md). With it off, git works in a repository the
            commands make themselves (the SWE env gives each episode a fresh one), not on the image's history.
    """

    image: str
    workdir: str = "/testbed"
    cpus: float = 1.0
    memory_mb: int = 2048
    pids: int = 256
    disk_mb: int = 1024
    network: bool = False
    exec_timeout_s: float = 60.0
    max_output_chars: int = 100_000
    history: bool = False


@dataclass(frozen=True)
class ExecResult:
    """The outcome of one command.

    Attributes:
        exit_code: The command's exit status; None when it was killed for its time limit.
        output: Its stdout and stderr, interleaved as written, decoded as UTF-8 with replacement, capped.
        timed_out: It ran past its time limit and was killed (with every process it started).
        truncated: The output was longer than the cap; ``output`` keeps its head and tail.
        seconds: Wall-clock duration.
    """

    exit_code: int | None
    output: str
    timed_out: bool = False
    truncated: bool = False
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        """The command exited with status 0."""
        return self.exit_code == 0


class Sandbox(abc.ABC):
    """One isolated work tree and the processes run in it.

    Backends implement the abstract methods; all of them may raise ``SandboxError`` when the sandbox itself
    fails. Paths given to ``read_file``/``write_file`` are relative to ``spec.workdir`` or absolute inside the
    sandbox; a path that leaves the sandbox is a ``ValueError``, not an infra failure.
    """

    backend: str = ""

    def __init__(self, spec: SandboxSpec):
        self.spec = spec

    @abc.abstractmethod
    def exec(self, command: str, timeout: float | None = None, max_output_chars: int | None = None,
             workdir: str | None = None) -> ExecResult:
        """Runs ``command`` with ``bash -c`` in the work tree (or ``workdir``) and returns its outcome.

        Every process the command starts is killed when it ends or times out.
        """

    @abc.abstractmethod
    def read_file(self, path: str, max_bytes: int = 1_000_000) -> bytes:
        """The first ``max_bytes`` bytes of a file in the sandbox (``FileNotFoundError`` if there is none)."""

    @abc.abstractmethod
    def write_file(self, path: str, data: bytes) -> None:
        """Creates or replaces a file in the sandbox (parent directories are created)."""

    @abc.abstractmethod
    def reset(self, commit: str | None = None) -> None:
        """Puts the work tree back at ``commit`` (default: the tree's start commit) with nothing else in it.

        Kills every process left from earlier commands. Raises ``SandboxError`` if the tree cannot be reset.
        """

    @abc.abstractmethod
    def close(self) -> None:
        """Stops the sandbox and removes everything it created (idempotent)."""

    @property
    @abc.abstractmethod
    def alive(self) -> bool:
        """Whether the sandbox can still run commands."""

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def head_tail(text: str, limit: int, marker: str = "\n[... {n} characters cut ...]\n") -> tuple[str, bool]:
    """``text`` cut to at most about ``limit`` characters, keeping its head and tail; and whether it was cut.

    Long outputs are truncated head + tail (the start says what ran, the end says how it failed), the way
    SWE-agent and OpenHands cut observations.
    """
    if limit <= 0:
        return ("", bool(text))
    if len(text) <= limit:
        return (text, False)
    head = limit // 2
    tail = limit - head
    return (text[:head] + marker.format(n=len(text) - limit) + text[len(text) - tail:], True)
