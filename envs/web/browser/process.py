"""One real Chromium per worker process: launch, sharing, hang watchdog and leak-proof cleanup.

Lifecycle (issue 14, Reliability):

* **One browser per process**, started lazily by the first env that needs it and shared by every env of the
  process (``acquire``/``release`` count users; the last ``release`` closes it). A forked child never reuses its
  parent's browser: the owner pid is checked on every ``acquire``.
* **No leftovers.** Three layers, because any one of them can be skipped by a ``SIGKILL``:

  1. ``close`` (env.close, the last release) and an ``atexit`` hook close the browser through Playwright, which
     deletes its temporary profile directory.
  2. When the driving Python process is SIGKILLed, Playwright's node driver sees its stdin pipe close and
     kills the browser's process group (Playwright launches Chromium as the leader of its own process group).
  3. When the driver dies too (SIGKILL of the whole job, the OOM killer), nothing is left to clean up, so every
     browser we launch carries a marker switch ``--turngym-owner=<pid>:<start time>`` (Chromium ignores unknown
     switches). ``reap_orphans`` — run before every launch — kills the process group of every marked
     Chromium whose owner process is gone (pid *and* start time, so a recycled pid does not protect an orphan),
     and deletes the owner's scratch folder, where its driver put the ``--user-data-dir`` profiles
     (``scratch_root()/<pid>-<start time>``). Chromium profiles hold no listening port (Playwright talks to it over
     a pipe, ``--remote-debugging-pipe``), so a dead browser cannot leave a port bound once its group is gone.

* **Hangs.** Playwright's own timeouts cover element waits and navigations but not ``evaluate`` or CDP calls, so
  every env operation runs under ``watchdog``: a timer that SIGKILLs the browser's process group when the
  operation overruns. The blocked Playwright call then fails with "Target closed", the env reports
  ``info["infra_error"]``, and the next reset starts a fresh browser (``acquire`` sees it is dead).

Linux only (``/proc``, process groups), as Debian's Chromium is.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import shutil
import signal
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from turngym.envs.core.errors import MissingExtraError, TurnGymError
from turngym.envs.core.registry import require_extra

#: The switch that marks the browsers this library launched.
MARKER = "--turngym-owner="
#: Chromium switches: headless, no first-run work, no background network, no GPU, and a marker (see above).
_ARGS = (
    "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run",
    "--disable-default-apps", "--disable-extensions", "--disable-gpu", "--mute-audio",
    "--disable-features=Translate,MediaRouter,OptimizationHints", "--metrics-recording-only",
    "--disable-dev-shm-usage",
)
#: Seconds Chromium gets to start.
LAUNCH_TIMEOUT_S = 60.0


class BrowserUnavailableError(MissingExtraError):
    """Chromium (the Debian package) or playwright is not installed: the browser ids cannot run."""

    def __init__(self, missing: str):
        super().__init__("real-Chromium browser envs", "web", missing)
        self.args = (f"{self.args[0]} Chromium comes from Debian: apt-get install chromium "
                     f'(and the Python side: pip install "turngym[web]").',)


class BrowserCrashedError(TurnGymError, RuntimeError):
    """The browser died or hung (the watchdog killed it); the episode is an infrastructure failure."""


def chromium_path() -> str:
    """The Debian Chromium executable (``shutil.which("chromium")``).

    Raises:
        BrowserUnavailableError: No ``chromium`` on PATH, or playwright is not installed. There is no weaker
            fallback (no download, no other browser): the browser envs refuse to run instead.
    """
    require_extra("web", "playwright", what="real-Chromium browser envs")
    path = shutil.which("chromium")
    if path is None:
        raise BrowserUnavailableError("chromium")
    return path


# ------------------------------------------------------------------ /proc helpers
def _start_time(pid: int) -> str | None:
    """Field 22 of ``/proc/<pid>/stat`` (start time in clock ticks), or None when the process is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read().decode("ascii", "replace")
    except OSError:
        return None
    return stat.rsplit(")", 1)[-1].split()[19]


def _cmdline(pid: int) -> list[str]:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return [a.decode("utf-8", "replace") for a in f.read().split(b"\0") if a]
    except OSError:
        return []


def marked_browsers() -> list[tuple[int, str, str | None]]:
    """Every live Chromium this library launched: (pid, owner tag, user-data-dir or None)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        args = _cmdline(int(entry))
        tags = [a[len(MARKER):] for a in args if a.startswith(MARKER)]
        if tags:
            profile = next((a.split("=", 1)[1] for a in args if a.startswith("--user-data-dir=")), None)
            found.append((int(entry), tags[0], profile))
    return found


def _owner_alive(tag: str) -> bool:
    pid, _, started = tag.partition(":")
    return pid.isdigit() and _start_time(int(pid)) == started


def kill_group(pid: int) -> None:
    """SIGKILLs the process group led by ``pid`` (the browser and its renderers), or ``pid`` alone."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        if os.getpgid(pid) == pid:
            os.killpg(pid, signal.SIGKILL)
            return
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.kill(pid, signal.SIGKILL)


def _owner_tag(pid: int | None = None) -> str:
    pid = os.getpid() if pid is None else pid
    return f"{pid}:{_start_time(pid)}"


def scratch_root() -> str:
    """Where each owner process's Playwright driver keeps its temporary files (profiles): one folder per owner."""
    return os.path.join(tempfile.gettempdir(), "turngym-browser")


def _scratch_dir(tag: str) -> str:
    return os.path.join(scratch_root(), tag.replace(":", "-"))


def reap_orphans() -> list[int]:
    """Kills marked browsers whose owner process is gone and removes their profile directories.

    Profiles live in the owner's scratch folder (``scratch_root``), so a profile whose browser already died is
    found too, by its folder's owner.

    Returns:
        The pids killed.
    """
    killed = []
    for pid, tag, _ in marked_browsers():
        if not _owner_alive(tag):
            kill_group(pid)
            killed.append(pid)
    with contextlib.suppress(OSError):
        for name in os.listdir(scratch_root()):
            tag = name.replace("-", ":", 1)
            if not _owner_alive(tag):
                shutil.rmtree(os.path.join(scratch_root(), name), ignore_errors=True)
    return killed


# ------------------------------------------------------------------ the shared browser
@dataclass
class SharedBrowser:
    """The process's Playwright driver and Chromium.

    Attributes:
        playwright: The started ``sync_playwright()`` object.
        browser: The Playwright ``Browser``.
        pid: Chromium's main process id (the leader of its process group), or None if it was not found.
        owner: The pid of the process that launched it.
        users: Envs currently holding it.
    """

    playwright: Any
    browser: Any
    pid: int | None
    owner: int = field(default_factory=os.getpid)
    users: int = 0
    dead: bool = False

    def alive(self) -> bool:
        """Whether the browser still answers (not killed, not disconnected, still ours)."""
        if self.dead or self.owner != os.getpid():
            return False
        try:
            return bool(self.browser.is_connected()) and (self.pid is None or _start_time(self.pid) is not None)
        except Exception:  # noqa: BLE001 - a broken driver connection means "not alive"
            return False

    def kill(self) -> None:
        """SIGKILLs Chromium (watchdog and crash tests); Playwright calls then fail with "Target closed"."""
        self.dead = True
        if self.pid is not None:
            kill_group(self.pid)

    def close(self) -> None:
        """Closes Chromium and the Playwright driver; never raises (it also runs at interpreter exit)."""
        self.dead = True
        if self.owner != os.getpid():  # a forked child must not touch its parent's browser
            return
        with contextlib.suppress(Exception):
            self.browser.close()
        with contextlib.suppress(Exception):
            self.playwright.stop()
        if self.pid is not None:
            group = group_members(self.pid)
            if wait_gone(group, 5.0):
                kill_group(self.pid)
                wait_gone(group, 5.0)
        # Only now: a browser still shutting down writes into its profile.
        shutil.rmtree(_scratch_dir(_owner_tag()), ignore_errors=True)


_LOCK = threading.Lock()
_SHARED: SharedBrowser | None = None


def _launch() -> SharedBrowser:
    executable = chromium_path()
    from playwright.sync_api import sync_playwright

    reap_orphans()
    tag = _owner_tag()
    scratch = _scratch_dir(tag)
    os.makedirs(scratch, mode=0o700, exist_ok=True)
    # The node driver creates the browser profile under its TMPDIR; pointing it at this owner's scratch folder
    # lets the reaper delete the profiles of a driver that was killed before it could (layer 3 above). The
    # driver copies os.environ when it is spawned inside start(), so the change lasts only that long.
    previous = os.environ.get("TMPDIR")
    os.environ["TMPDIR"] = scratch
    try:
        pw = sync_playwright().start()
    finally:
        if previous is None:
            os.environ.pop("TMPDIR", None)
        else:
            os.environ["TMPDIR"] = previous
    try:
        browser = pw.chromium.launch(executable_path=executable, headless=True, args=[*_ARGS, MARKER + tag],
                                     timeout=LAUNCH_TIMEOUT_S * 1000, handle_sigint=False, handle_sigterm=False,
                                     handle_sighup=False)
    except Exception:
        with contextlib.suppress(Exception):
            pw.stop()
        raise
    pid = next((p for p, t, _ in marked_browsers() if t == tag), None)
    return SharedBrowser(pw, browser, pid)


def acquire() -> SharedBrowser:
    """The process's browser, launched on first use or when the previous one died; counts one more user.

    Raises:
        BrowserUnavailableError: chromium or playwright is missing.
    """
    global _SHARED
    with _LOCK:
        shared = _SHARED
        if shared is not None and not shared.alive():
            if shared.owner == os.getpid():
                shared.close()
            _SHARED = shared = None
        if shared is None:
            _SHARED = shared = _launch()
        shared.users += 1
        return shared


def release(shared: SharedBrowser) -> None:
    """One user fewer; the last one closes the browser (env.close of the last env of the process)."""
    global _SHARED
    with _LOCK:
        shared.users -= 1
        if shared.users <= 0:
            shared.close()
            if _SHARED is shared:
                _SHARED = None


def current() -> SharedBrowser | None:
    """The process's browser if one is running (for tests and diagnostics)."""
    return _SHARED


@atexit.register
def _close_at_exit() -> None:
    if _SHARED is not None:
        _SHARED.close()


# ------------------------------------------------------------------ hang watchdog
@contextlib.contextmanager
def watchdog(shared: SharedBrowser, seconds: float) -> Iterator[None]:
    """Kills the browser if the block takes longer than ``seconds`` (a hung renderer or driver).

    Raises:
        BrowserCrashedError: When the watchdog fired (whatever the block raised is chained).
    """
    fired = threading.Event()

    def fire() -> None:
        fired.set()
        shared.kill()

    timer = threading.Timer(seconds, fire)
    timer.daemon = True
    timer.start()
    try:
        yield
    except Exception as e:
        if fired.is_set():
            raise BrowserCrashedError(f"the browser did not answer within {seconds:g} s and was killed") from e
        raise
    finally:
        timer.cancel()
    if fired.is_set():
        raise BrowserCrashedError(f"the browser did not answer within {seconds:g} s and was killed")


def wait_gone(pids: list[int], timeout: float = 10.0) -> list[int]:
    """Waits until none of ``pids`` is alive; returns those still alive after ``timeout`` (tests use it)."""
    deadline = time.monotonic() + timeout
    alive = list(pids)
    while alive and time.monotonic() < deadline:
        alive = [p for p in alive if _start_time(p) is not None and not _zombie(p)]
        if alive:
            time.sleep(0.05)
    return alive


def _zombie(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().rsplit(b")", 1)[-1].split()[0] == b"Z"
    except OSError:
        return True


def group_members(pgid: int) -> list[int]:
    """Live processes of a process group (the browser and its renderers)."""
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            with contextlib.suppress(OSError, ValueError, IndexError):
                with open(f"/proc/{entry}/stat", "rb") as f:
                    fields = f.read().rsplit(b")", 1)[-1].split()
                if int(fields[2]) == pgid and fields[0] != b"Z":
                    out.append(int(entry))
    return out
