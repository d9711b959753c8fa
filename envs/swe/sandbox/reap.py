"""Reaping what killed drivers left: labelled containers whose owner is gone (``turngym swe clean``).

``close()`` and the ``atexit`` hook remove a process's containers, but a driver killed by SIGKILL (or a host
that lost power) runs neither. Every container carries ``LABEL`` with its owner's pid, the owner's start time
and the host name (``docker_backend.owner_labels``); a container is a leftover when its owner on this host is
dead, or is a different process that reuses the pid (its start time differs). Containers owned on another host
that shares the daemon are kept: their owner cannot be checked from here (``all_owners`` removes them too).
"""

from __future__ import annotations

import os
import socket
from typing import Any

from turngym.envs.swe.sandbox.base import LABEL


def _owner_alive(labels: dict[str, str]) -> bool:
    from turngym.envs.swe.sandbox.docker_backend import process_start_ticks

    try:
        pid = int(labels.get(f"{LABEL}.owner", ""))
    except ValueError:
        return False
    if pid <= 0 or not os.path.exists(f"/proc/{pid}"):
        return False
    start = labels.get(f"{LABEL}.owner_start", "")
    return not start or process_start_ticks(pid) == start


def reap_containers(all_owners: bool = False, client: Any = None) -> list[dict[str, str]]:
    """Removes labelled containers whose owner process on this host is dead (or every one with ``all_owners``).

    Args:
        all_owners: Remove every labelled container, live owners' and other hosts' too.
        client: A docker SDK client (default: one from the environment).

    Returns:
        One ``{"id", "name", "owner", "host"}`` per container removed (with its anonymous volumes).

    Raises:
        SandboxError: No docker daemon answers.
    """
    from turngym.envs.swe.sandbox.docker_backend import docker_client

    client = client if client is not None else docker_client()
    here = socket.gethostname()
    removed = []
    for container in client.containers.list(all=True, filters={"label": LABEL}):
        labels = container.labels or {}
        host = labels.get(f"{LABEL}.host", "")
        if not all_owners and (host != here or _owner_alive(labels)):
            continue
        try:
            container.remove(force=True, v=True)
        except Exception:  # noqa: BLE001 - removed concurrently (another reaper, its own close())
            continue
        removed.append({"id": container.id[:12], "name": container.name, "owner": labels.get(f"{LABEL}.owner", ""),
                        "host": host})
    return removed


def clean(all_owners: bool = False, docker: bool = True, local: bool = True) -> dict[str, Any]:
    """What ``turngym swe clean`` does: reaps leftover containers and local sandbox directories.

    Args:
        all_owners: Remove live owners' leftovers too (nothing of this machine's sandboxes survives).
        docker: Reap containers (skipped, with the reason, when no daemon answers).
        local: Reap the local backend's leftovers (``sandbox.local.reap_local``: dead owners' directories).

    Returns:
        ``{"docker": [...removed] or {"skipped": why}, "local": ... }``.
    """
    from turngym.envs.swe.sandbox.base import SandboxError

    out: dict[str, Any] = {}
    if docker:
        try:
            out["docker"] = reap_containers(all_owners=all_owners)
        except SandboxError as exc:
            out["docker"] = {"skipped": str(exc)}
    if local:  # a live owner's tree is in use: the local backend reaps dead owners' directories only
        from turngym.envs.swe.sandbox.local import reap_local

        out["local"] = reap_local()
    return out
