"""Code in and output out of a sandboxed call through anonymous memory files (issue 12, item 13).

Nothing of a call is ever written to the host's file system: the code is the child's stdin and its
stdout and stderr are its output files, all three ``memfd_create`` files that have no name. They vanish
with the last descriptor, so a process killed during a call (an env-pool worker sent ``SIGKILL``) leaves
nothing behind; before, it left ``/tmp/turngym-py-*`` folders holding the code and the captured output.
The output files are bounded by the child's ``RLIMIT_FSIZE`` and, being memory, are charged to the call's
memory cgroup.
"""

from __future__ import annotations

import os
import tempfile

_MARKER = "\n[... truncated ...]\n"


def anonymous_file(name: str) -> int:
    """A read-write file descriptor of a file that has no name (``memfd_create``; close-on-exec).

    Where ``memfd_create`` is missing, an unnamed temporary file (``O_TMPFILE`` on Linux) stands in.
    """
    if hasattr(os, "memfd_create"):
        return os.memfd_create(name, os.MFD_CLOEXEC)
    handle = tempfile.TemporaryFile()  # pragma: no cover - Linux always has memfd_create
    fd = os.dup(handle.fileno())  # pragma: no cover
    handle.close()  # pragma: no cover
    return fd  # pragma: no cover


class Streams:
    """The stdin (holding ``code``), stdout and stderr of one call; a context manager that closes them.

    Args:
        code: The program, written UTF-8 (lone surrogates kept, so any ``str`` arrives as written).

    Attributes:
        stdin, stdout, stderr: File descriptors to pass to ``subprocess.Popen``.
    """

    def __init__(self, code: str):
        self.stdin = self.stdout = self.stderr = -1
        try:
            self.stdin = anonymous_file("turngym-py-code")
            data = code.encode("utf-8", errors="surrogatepass")
            view = memoryview(data)
            while view:
                view = view[os.write(self.stdin, view):]
            os.lseek(self.stdin, 0, os.SEEK_SET)
            self.stdout = anonymous_file("turngym-py-stdout")
            self.stderr = anonymous_file("turngym-py-stderr")
        except BaseException:
            self.close()
            raise

    def read(self, which: str, limit: int) -> tuple[str, bool]:
        """Text of ``"stdout"`` or ``"stderr"``: all of it, or ``limit`` bytes of head and tail; truncated?"""
        return read_capped(getattr(self, which), limit)

    def close(self) -> None:
        """Closes the three descriptors (the files vanish once the call's processes are gone too)."""
        for name in ("stdin", "stdout", "stderr"):
            fd = getattr(self, name)
            if fd >= 0:
                os.close(fd)
                setattr(self, name, -1)

    def __enter__(self) -> Streams:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def read_capped(fd: int, limit: int) -> tuple[str, bool]:
    """Reads a captured stream, keeping at most ``limit`` bytes of head and of tail; (text, truncated)."""
    try:
        size = os.fstat(fd).st_size
        if size <= 2 * limit:
            return os.pread(fd, size, 0).decode("utf-8", errors="replace"), False
        head = os.pread(fd, limit, 0)
        tail = os.pread(fd, limit, size - limit)
    except OSError:
        return "", False
    return head.decode("utf-8", errors="replace") + _MARKER + tail.decode("utf-8", errors="replace"), True
