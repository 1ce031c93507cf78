"""Tree removal for trees a hostile layer may have shaped.

shutil.rmtree recurses once per directory level (a deep enough layer raises RecursionError,
which its ignore_errors does not cover). This walks with an explicit stack of directory fds,
never follows a symlink, and removes each entry relative to its parent's fd.
"""

from __future__ import annotations

import contextlib
import os
import stat

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


def remove_at(dir_fd: int, name: str) -> None:
    """Removes `name` in `dir_fd`, whatever it is; a directory with everything below it."""
    try:
        st = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    except FileNotFoundError:
        return
    if not stat.S_ISDIR(st.st_mode):
        os.unlink(name, dir_fd=dir_fd)
        return
    # (parent fd, name in parent, own fd); the first parent fd is the caller's
    stack = [(dir_fd, name, os.open(name, _DIR_FLAGS, dir_fd=dir_fd))]
    try:
        while stack:
            parent, dname, fd = stack[-1]
            child = _empty_files(fd)
            if child is not None:
                stack.append((fd, child, os.open(child, _DIR_FLAGS, dir_fd=fd)))
                continue
            stack.pop()
            os.close(fd)
            os.rmdir(dname, dir_fd=parent)
    finally:
        for _, _, fd in stack:
            os.close(fd)


def _empty_files(fd: int) -> str | None:
    """Unlinks the non-directories in `fd` until it meets a subdirectory; returns its name,
    or None when the directory is now empty."""
    with os.scandir(fd) as entries:
        for entry in entries:
            if entry.is_dir(follow_symlinks=False):
                return entry.name
            os.unlink(entry.name, dir_fd=fd)
    return None


def remove_tree(path: str) -> None:
    """Removes `path` and everything below it; a missing path is not an error."""
    parent, name = os.path.split(os.path.abspath(path))
    try:
        pfd = os.open(parent, _DIR_FLAGS)
    except FileNotFoundError:
        return
    try:
        remove_at(pfd, name)
    finally:
        os.close(pfd)


def remove_quietly(path: str) -> None:
    """remove_tree for clean-up paths, where a failure must not hide the error being handled."""
    with contextlib.suppress(OSError):
        remove_tree(path)
