"""`cp` out of and into a container (docker's archive endpoints), done by a helper process.

A path a user gives must resolve as the container sees it, and nothing a container holds (a
symlink, a tar entry) may reach the host. The container's binds and volumes are mounted only
in its own mount namespace, and a stopped container has none. So, as docker's chrootarchive
does, the executor fork+execs this module as a helper that builds the container's view and
enters it:

    unshare(CLONE_NEWNS) -> make_private -> bind_rootfs -> binds and volumes (read-only ones
    read-only) -> /etc/hostname, hosts, resolv.conf -> pivot_root (the host is detached) ->
    [read-only rootfs] -> forget the host's import path -> stat / tar out / extract in

After pivot_root the helper's "/" is the container's root and nothing else is mounted: the
kernel resolves every path and symlink as it would in the container, and nothing can be read
or written outside it. This works the same for running and stopped containers; like docker's,
the view has no tmpfs mounts (what a running container has in a tmpfs is not seen).

The helper's protocol (argv[1] is the JSON request): on stdout one JSON line first, either
{"stat": {...}} or {"error": {"kind": ..., "message": ...}}; for "from" the tar stream follows;
for "to" the tar is read from stdin and a last line says {"done": true} or the error.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import posixpath
import stat
import subprocess
import sys
import tarfile
import threading
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from typing import IO, TYPE_CHECKING, Any, NoReturn

from caisson import errors

if TYPE_CHECKING:  # the helper starts without protobuf
    from caisson_api.executor.v1 import containers_pb2 as pb

CHUNK = 64 * 1024
FROM, TO = "from", "to"

_ERRORS: dict[str, Callable[[str], errors.CaissonError]] = {
    "not_found": errors.NotFound,
    "invalid": errors.InvalidArgument,
    "failed": errors.FailedPrecondition,
    "internal": errors.Internal,
}


@dataclass(frozen=True)
class Bind:
    source: str  # a host path
    destination: str  # a container path
    readonly: bool = False


@dataclass(frozen=True)
class Request:
    """What the helper needs: the container's mounted rootfs, its mounts, the operation."""

    op: str  # FROM or TO
    rootfs: str
    path: str
    readonly_rootfs: bool = False
    binds: tuple[Bind, ...] = ()
    hostname_file: str = ""
    hosts_file: str = ""
    resolv_conf_file: str = ""

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> Request:
        raw = json.loads(text)
        raw["binds"] = tuple(Bind(**b) for b in raw.get("binds", []))
        return cls(**raw)


@dataclass(frozen=True)
class PathStat:
    """docker's ContainerPathStat; `mode` is st_mode, `link_target` the resolved path."""

    name: str
    size: int
    mode: int
    mtime_ns: int
    link_target: str = ""


@dataclass
class _Helper:
    proc: subprocess.Popen[bytes]
    stderr: list[bytes] = field(default_factory=list)

    def header(self) -> dict[str, Any]:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            self.proc.wait()
            raise errors.Internal(f"copy helper failed: {self._stderr_text()}")
        msg: dict[str, Any] = json.loads(line)
        err = msg.get("error")
        if err:
            raise _ERRORS.get(err.get("kind", ""), errors.Internal)(err.get("message", ""))
        return msg

    def _stderr_text(self) -> str:
        text = b"".join(self.stderr).decode(errors="replace").strip()
        return text.splitlines()[-1] if text else f"exit status {self.proc.returncode}"

    def close(self) -> None:
        """Kills the helper if still running (a cancelled copy) and reaps it."""
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        for f in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            if f is not None:
                with contextlib.suppress(OSError):
                    f.close()


def _launch(req: Request) -> _Helper:
    keep = ("PATH", "PYTHONPATH", "LANG")
    proc = subprocess.Popen(
        [sys.executable, "-m", "caisson.executor.copy", req.to_json()],
        stdin=subprocess.PIPE if req.op == TO else subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        close_fds=True,
        env={k: os.environ[k] for k in keep if k in os.environ},
    )
    helper = _Helper(proc)

    def drain() -> None:  # a full stderr pipe would block the helper
        assert proc.stderr is not None
        for line in proc.stderr:
            helper.stderr.append(line)

    threading.Thread(target=drain, daemon=True, name="copy-stderr").start()
    return helper


def copy_from(req: Request, cancelled: threading.Event) -> Iterator[PathStat | bytes]:
    """The path's stat, then its tar stream (entries rooted at its base name). The helper is
    killed when `cancelled` is set or the caller stops iterating (a stat-only call)."""
    helper = _launch(req)
    stop = threading.Event()

    def watch() -> None:
        while not stop.is_set():
            if cancelled.wait(0.2):
                with contextlib.suppress(ProcessLookupError):
                    if helper.proc.poll() is None:
                        helper.proc.kill()
                return

    threading.Thread(target=watch, daemon=True, name="copy-cancel").start()
    try:
        yield PathStat(**helper.header()["stat"])
        out = helper.proc.stdout
        assert out is not None
        while block := out.read1(CHUNK):  # type: ignore[attr-defined]
            yield block
        if helper.proc.wait() != 0 and not cancelled.is_set():
            raise errors.Internal(f"copy from container failed: {helper._stderr_text()}")
    finally:
        stop.set()
        helper.close()


def copy_to(req: Request, data: Iterator[bytes]) -> None:
    """Extracts the tar stream `data` into directory req.path of the container."""
    helper = _launch(req)
    try:
        helper.header()  # the destination is checked before any data is taken
        stdin = helper.proc.stdin
        assert stdin is not None
        try:
            for block in data:
                stdin.write(block)
            stdin.close()
        except BrokenPipeError:
            pass  # the helper stopped reading: its last line says why
        helper.header()
        if helper.proc.wait() != 0:
            raise errors.Internal(f"copy into container failed: {helper._stderr_text()}")
    finally:
        helper.close()


# --- the helper, inside the container's root -------------------------------------------------


class _Failure(Exception):
    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message


def split_path_dir_entry(path: str) -> tuple[str, str]:
    """docker's SplitPathDirEntry: "/a/b/." is ("/a/b", "."), "/a/b/" is ("/a", "b")."""
    cleaned = posixpath.normpath("/" + path.lstrip("/"))
    if path == "." or path.endswith("/."):
        cleaned = posixpath.join(cleaned, ".")
    return posixpath.dirname(cleaned), posixpath.basename(cleaned)


def source_of(path: str) -> tuple[str, str]:
    """What to archive for container path `path` and the name of its top entry (docker's
    archivePath + TarResourceRebaseOpts). A trailing "/" or "/." follows a final symlink; the
    entry keeps the name the user gave ("." for "/.")."""
    dir_, base = split_path_dir_entry(path)
    if base in (".", ""):  # "/." or "/"
        return posixpath.join(dir_, "."), "."
    if path.endswith("/"):
        return posixpath.join(dir_, base) + "/", base
    return posixpath.join(dir_, base), base


def stat_path(path: str) -> PathStat:
    """docker's statPath inside the container's root: the final symlink is not followed
    unless the path ends in "/" or "/."; its target is given fully resolved."""
    source, name = source_of(path)
    try:
        st = os.lstat(source)
    except FileNotFoundError:
        raise _Failure("not_found", f"no such file or directory: {path}") from None
    except NotADirectoryError:
        raise _Failure("not_found", f"not a directory: {path}") from None
    link = os.path.realpath(source) if stat.S_ISLNK(st.st_mode) else ""
    return PathStat(name, st.st_size, st.st_mode, st.st_mtime_ns, link)


def write_tar(path: str, out: IO[bytes]) -> None:
    """The tar of `path` (a whole tree for a directory), entries under its base name. Owners
    stay numeric: no name is looked up in the container's passwd (NSS could load its code)."""
    source, name = source_of(path)
    with tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT) as tar:
        tar.add(source, arcname=name, recursive=True)


def _lexical_parts(name: str) -> list[str] | None:
    """The components of `name` below the extraction dir; None when it climbs above it."""
    parts: list[str] = []
    for comp in name.split("/"):
        if comp in ("", "."):
            continue
        if comp == "..":
            if not parts:
                return None
            parts.pop()
        else:
            parts.append(comp)
    return parts


def check_destination(dest: str, binds: tuple[Bind, ...] = ()) -> None:
    """docker's checks before an extraction: the directory exists, is one, is writable
    (docker names the read-only mount: the rootfs, or the volume the path is in)."""
    try:
        st = os.lstat(dest)
    except FileNotFoundError:
        raise _Failure("not_found", f"no such file or directory: {dest}") from None
    except NotADirectoryError:
        raise _Failure("failed", "extraction point is not a directory") from None
    if not stat.S_ISDIR(st.st_mode):
        raise _Failure("failed", "extraction point is not a directory")
    if os.statvfs(dest).f_flag & os.ST_RDONLY:
        if _mount_of(os.path.realpath(dest), binds) is not None:
            raise _Failure("failed", "mounted volume is marked read-only")
        raise _Failure("failed", "container rootfs is marked read-only")


def _mount_of(path: str, binds: tuple[Bind, ...]) -> Bind | None:
    """The bind `path` (resolved in the root) is in: the one mounted deepest."""
    best: tuple[int, Bind] | None = None
    for b in binds:
        target = os.path.realpath(b.destination)
        inside = path == target or path.startswith(target.rstrip("/") + "/")
        if inside and (best is None or len(target) > best[0]):
            best = (len(target), b)
    return best[1] if best else None


def extract_tar(src: IO[bytes], dest: str) -> None:
    """docker's Unpack with NoOverwriteDirNonDir: entries keep their owners (numeric), modes
    and times; an entry, hardlink or relative symlink that climbs above `dest` is refused;
    a directory never replaces a non-directory nor the reverse. The kernel confines the rest:
    this runs inside the container's root, where a symlink cannot lead out."""
    try:
        with tarfile.open(fileobj=src, mode="r|*", errorlevel=2) as tar:
            for member in tar:
                _extract_one(tar, member, dest)
    except tarfile.TarError as e:
        raise _Failure("invalid", f"invalid tar archive: {e}") from None


def _extract_one(tar: tarfile.TarFile, m: tarfile.TarInfo, dest: str) -> None:
    parts = _lexical_parts(m.name)
    if parts is None:
        raise _Failure("invalid", f"{m.name!r} is outside of {dest!r}")
    if not parts:
        return  # the extraction dir itself ("." or "/"): docker leaves it as it is
    path = os.path.join(dest, *parts)
    m.name = "/".join(parts)  # a leading "/" is dropped: every entry lands below dest
    if m.islnk():
        target = _lexical_parts(m.linkname)
        if not target:
            raise _Failure("invalid", f"invalid hardlink {path!r} -> {m.linkname!r}")
        m.linkname = "/".join(target)
    if m.issym() and not m.linkname.startswith("/"):
        rel = posixpath.join(*parts[:-1], m.linkname) if parts[:-1] else m.linkname
        if _lexical_parts(rel) is None:
            raise _Failure("invalid", f"invalid symlink {path!r} -> {m.linkname!r}")
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        st = None
    if st is not None:
        if stat.S_ISDIR(st.st_mode) and not m.isdir():
            raise _Failure("failed", f"cannot overwrite directory {path!r} with non-directory")
        if not stat.S_ISDIR(st.st_mode) and m.isdir():
            raise _Failure("failed", f"cannot overwrite non-directory {path!r} with directory")
        if not stat.S_ISDIR(st.st_mode):
            os.unlink(path)
    try:
        tar.extract(m, dest, numeric_owner=True, filter="fully_trusted")
    except OSError as e:
        if e.errno == errno.EROFS:
            raise
        raise _Failure("failed", f"cannot extract {m.name!r}: {e.strerror or e}") from None


def _enter(req: Request) -> None:
    """The container's mount tree in a private namespace, entered with pivot_root."""
    from caisson.executor import namespaces, rootfs
    from caisson.executor.syscalls import RealSyscalls

    sc = RealSyscalls()
    namespaces.unshare(namespaces.CLONE_NEWNS)
    spec = rootfs.RootfsSpec(
        rootfs=req.rootfs,
        hostname_file=req.hostname_file,
        hosts_file=req.hosts_file,
        resolv_conf_file=req.resolv_conf_file,
    )
    rootfs.make_private(sc)
    rootfs.bind_rootfs(sc, spec)
    for b in sorted(req.binds, key=lambda b: len(posixpath.normpath(b.destination))):
        rootfs.mount_bind(sc, req.rootfs, rootfs.BindMount(b.source, b.destination, b.readonly))
    rootfs.bind_etc_files(sc, spec)
    rootfs.pivot_root(sc, req.rootfs)
    if req.readonly_rootfs:
        sc.mount("", "/", "", rootfs.MS_BIND | rootfs.MS_REMOUNT | rootfs.MS_RDONLY, "")


def _seal_imports() -> None:
    """After pivot_root the import path would be the container's: a module found there would
    run as root outside the container's other limits. Everything needed is loaded already."""
    sys.path.clear()
    sys.path_importer_cache.clear()
    # Owner names are never looked up inside the container (its NSS config could load code).
    tarfile.pwd = None  # type: ignore[attr-defined]
    tarfile.grp = None  # type: ignore[attr-defined]


def _reply(out: IO[bytes], msg: dict[str, Any]) -> None:
    out.write(json.dumps(msg).encode() + b"\n")
    out.flush()


def _fail(out: IO[bytes], kind: str, message: str) -> NoReturn:
    _reply(out, {"error": {"kind": kind, "message": message}})
    sys.exit(1)


def helper_main(argv: list[str]) -> None:
    # Loaded before the host's files go away (tarfile's compressed modes import these lazily).
    import bz2  # noqa: F401
    import encodings.latin_1  # noqa: F401
    import gzip  # noqa: F401
    import lzma  # noqa: F401

    out = sys.stdout.buffer
    req = Request.from_json(argv[1])
    try:
        _enter(req)
    except errors.CaissonError as e:
        _fail(out, "failed", str(e))
    except OSError as e:
        _fail(out, "internal", f"cannot enter the container's filesystem: {e}")
    _seal_imports()
    try:
        if req.op == FROM:
            _reply(out, {"stat": asdict(stat_path(req.path))})
            write_tar(req.path, out)
            out.flush()
        elif req.op == TO:
            check_destination(req.path, req.binds)
            _reply(out, {"ready": True})
            extract_tar(sys.stdin.buffer, req.path)
            _reply(out, {"done": True})
        else:
            _fail(out, "invalid", f"unknown copy operation {req.op!r}")
    except _Failure as e:
        _fail(out, e.kind, e.message)
    except OSError as e:
        if e.errno == errno.EROFS:  # a read-only mount below the destination
            _fail(out, "failed", f"{e.filename or req.path}: read-only file system")
        _fail(out, "internal", f"{e.strerror or e}: {e.filename or req.path}")


if __name__ == "__main__":
    helper_main(sys.argv)


def request_for(
    op: str,
    spec: pb.ContainerSpec,
    data_dir: str,
    volume_dir: Callable[[str], object],
    path: str,
) -> Request:
    """The helper's request for a container: its binds and volumes as its init mounts them,
    and its per-container /etc files."""
    binds = tuple(
        Bind(
            str(volume_dir(m.source)) if m.type == "volume" else m.source,
            m.target,
            m.read_only,
        )
        for m in spec.mounts
        if m.type in ("bind", "volume")
    )
    return Request(
        op=op,
        rootfs=os.path.join(data_dir, "rootfs"),
        path=path,
        readonly_rootfs=spec.readonly_rootfs,
        binds=binds,
        hostname_file=os.path.join(data_dir, "hostname"),
        hosts_file=os.path.join(data_dir, "hosts"),
        resolv_conf_file=os.path.join(data_dir, "resolv.conf"),
    )
