"""Host-side reads and writes of files inside a local sandbox's work tree that no planted symlink can redirect.

The host process is root and the work tree is the agent's: any name in it may be a symlink (to ``/etc/shadow``,
to ``../../..``), a FIFO that blocks an ``open`` forever, or a directory swapped for one of those. So paths are
never handed to the kernel whole. They are resolved here one component at a time from a directory descriptor
of the work tree's root (opened when the sandbox started, before any agent command ran):

* ``..`` and symlinks are resolved lexically against the sandbox's own file system layout (an absolute link
  target means a path inside the sandbox, never on the host), and the result must stay inside the work tree
  at every step, else ``ValueError``;
* every component is opened with ``O_NOFOLLOW`` relative to its parent's descriptor, so a link planted between
  the resolution and the open fails the open instead of being followed;
* only regular files are read or written (``O_NONBLOCK``, then ``fstat``): a FIFO or device is a ``ValueError``.
"""

from __future__ import annotations

import os
import posixpath
import stat

_MAX_LINKS = 40  # the kernel's own limit on symlinks followed in one path resolution (ELOOP)


def tree_parts(path: str, workdir: str) -> list[str]:
    """``path`` (relative to ``workdir`` or absolute inside the sandbox) as names below the work tree's root.

    Raises:
        ValueError: The path is empty, holds a NUL byte, or leaves the work tree.
    """
    if not isinstance(path, str) or not path or "\0" in path:
        raise ValueError(f"not a usable path: {path!r}")
    full = posixpath.normpath(posixpath.join(workdir, path))
    root = posixpath.normpath(workdir)
    if full == root:
        return []
    if not full.startswith(root.rstrip("/") + "/"):
        raise ValueError(f"path {path!r} leaves the work tree {workdir}")
    return full[len(root.rstrip("/")) + 1:].split("/")


def _resolve(root_fd: int, parts: list[str], workdir: str) -> list[str]:
    """``parts`` with every symlink in it resolved inside the sandbox; ValueError when that leaves the tree."""
    done: list[str] = []
    todo = list(parts)
    links = 0
    while todo:
        name = todo.pop(0)
        parent_fd = _open_dir(root_fd, done)
        try:
            try:
                st = os.stat(name, dir_fd=parent_fd, follow_symlinks=False)
            except FileNotFoundError:
                done.append(name)
                done.extend(todo)  # the rest does not exist yet: nothing more to resolve
                break
            if not stat.S_ISLNK(st.st_mode):
                done.append(name)
                continue
            links += 1
            if links > _MAX_LINKS:
                raise ValueError(f"too many symbolic links in {'/'.join(parts)!r}")
            target = os.readlink(name, dir_fd=parent_fd)
        finally:
            os.close(parent_fd)
        base = workdir.rstrip("/") + "/" + "/".join(done)
        # An absolute target names a path inside the sandbox (its root is not the host's); relative ones
        # are relative to the link's directory. Either way the result must stay inside the work tree.
        rest = "/".join(todo)
        joined = posixpath.join(base, target, rest) if rest else posixpath.join(base, target)
        done, todo = [], tree_parts(joined, workdir)
    return done


def _open_dir(root_fd: int, parts: list[str]) -> int:
    """A new descriptor of directory ``parts`` below ``root_fd``, no symlink followed (caller closes it)."""
    fd = os.dup(root_fd)
    for name in parts:
        try:
            nxt = os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=fd)
        except OSError as exc:
            os.close(fd)
            if exc.errno == 40:  # ELOOP: a symlink appeared after resolution
                raise ValueError(f"{'/'.join(parts)!r} changed under us (symlink)") from exc
            raise
        os.close(fd)
        fd = nxt
    return fd


def read_tree_file(root_fd: int, workdir: str, path: str, max_bytes: int) -> bytes:
    """The first ``max_bytes`` bytes of regular file ``path`` of the work tree (see the module docstring).

    Raises:
        ValueError: The path leaves the work tree or is not a regular file.
        FileNotFoundError: There is no such file.
    """
    parts = _resolve(root_fd, tree_parts(path, workdir), workdir)
    if not parts:
        raise ValueError(f"{path!r} is the work tree itself, not a file")
    parent = _open_dir(root_fd, parts[:-1])
    try:
        fd = os.open(parts[-1], os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, dir_fd=parent)
    except OSError as exc:
        if exc.errno == 40:
            raise ValueError(f"{path!r} is a symbolic link that changed under us") from exc
        raise
    finally:
        os.close(parent)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise ValueError(f"{path!r} is not a regular file")
        chunks, left = [], max(0, int(max_bytes))
        while left > 0:
            chunk = os.read(fd, min(left, 1 << 20))
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


def write_tree_file(root_fd: int, workdir: str, path: str, data: bytes, uid: int) -> None:
    """Creates or replaces regular file ``path`` of the work tree, owned by ``uid`` (parents created).

    Raises:
        ValueError: The path leaves the work tree, or names something that is not a regular file.
        OSError: The write failed (e.g. ``ENOSPC``: the work tree's size cap).
    """
    parts = _resolve(root_fd, tree_parts(path, workdir), workdir)
    if not parts:
        raise ValueError(f"{path!r} is the work tree itself, not a file")
    fd = os.dup(root_fd)
    try:
        for name in parts[:-1]:
            try:
                os.mkdir(name, 0o755, dir_fd=fd)
                os.chown(name, uid, uid, dir_fd=fd, follow_symlinks=False)
            except FileExistsError:
                pass
            nxt = os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=fd)
            os.close(fd)
            fd = nxt
        flags = os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
        try:
            out = os.open(parts[-1], flags, 0o644, dir_fd=fd)
        except OSError as exc:
            if exc.errno in (40, 21, 6):  # ELOOP, EISDIR, ENXIO (a FIFO without a reader)
                raise ValueError(f"{path!r} is not a regular file") from exc
            raise
    finally:
        os.close(fd)
    try:
        if not stat.S_ISREG(os.fstat(out).st_mode):
            raise ValueError(f"{path!r} is not a regular file")
        os.ftruncate(out, 0)
        os.fchown(out, uid, uid)  # the agent's commands (run as ``uid``) must be able to edit it
        view = memoryview(bytes(data))
        while view:
            view = view[os.write(out, view):]
    finally:
        os.close(out)
