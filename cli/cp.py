"""`caisson cp`: files between a container and the local filesystem, as docker 20.10's.

The daemon sends and receives tar streams rooted at the base name of the path (docker's
archive format: `/etc` comes as `etc/...`, `/etc/.` as `./...`). Which name the copy takes
follows docker's PrepareArchiveCopy: into an existing directory as is, otherwise renamed to
the destination's base name, by rewriting the first component of every entry.
"""

from __future__ import annotations

import argparse
import io
import os
import stat
from collections.abc import Iterator
from typing import IO, TYPE_CHECKING, Any

from caisson.cli import args as cli_args
from caisson.cli import channel as rpc
from caisson.cli import containers, lazy
from caisson.cli.context import Context
from caisson.cli.errors import CLIError

if TYPE_CHECKING:
    from caisson_api.daemon.v1 import containers_pb2 as pb
else:
    pb = lazy.module("caisson_api.daemon.v1.containers_pb2")

CHUNK = 64 * 1024
# Go's os.FileMode type bits, in case the daemon reports docker's mode rather than st_mode.
_GO_MODE_DIR = 1 << 31
_GO_MODE_SYMLINK = 1 << 27


def split_cp_arg(arg: str) -> tuple[str, str]:
    """docker's splitCpArg: CONTAINER:PATH, unless it is an absolute or ./-relative local
    path that merely contains a colon."""
    if os.path.isabs(arg):
        return "", arg
    container, sep, path = arg.partition(":")
    if not sep or container.startswith("."):
        return "", arg
    return container, path


def split_path_dir_entry(path: str) -> tuple[str, str]:
    """docker's SplitPathDirEntry: "/a/b/." is ("/a/b", "."), "/a/b/" is ("/a", "b")."""
    cleaned = os.path.normpath(path)
    if path.endswith(os.sep + ".") or path == ".":
        cleaned = os.path.join(cleaned, ".")
    return os.path.dirname(cleaned) or ".", os.path.basename(cleaned)


def asserts_directory(path: str) -> bool:
    return path.endswith(os.sep) or path.endswith(os.sep + ".")


def is_dir_mode(mode: int) -> bool:
    return stat.S_ISDIR(mode) or bool(mode & _GO_MODE_DIR)


def is_link_mode(mode: int) -> bool:
    return stat.S_ISLNK(mode) or bool(mode & _GO_MODE_SYMLINK)


def is_regular_mode(mode: int) -> bool:
    # Go's FileMode has no type bits for a regular file; st_mode has S_IFREG.
    return stat.S_IFMT(mode) in (0, stat.S_IFREG) and not mode & ~0o7777 & ~stat.S_IFREG


def rebase(name: str, old: str, new: str) -> str:
    """docker's RebaseArchiveEntries for one entry name."""
    if old == new:
        return name
    if name == old or name.startswith(old + "/"):
        return new + name[len(old) :]
    return name


class _ChunkReader(io.RawIOBase):
    """A file over the data chunks of a CopyFrom stream, for tarfile's streaming mode."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks = chunks
        self._pending = b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while not self._pending:
            try:
                self._pending = next(self._chunks)
            except StopIteration:
                return 0
        n = min(len(buffer), len(self._pending))
        buffer[:n] = self._pending[:n]
        self._pending = self._pending[n:]
        return n


def extract(chunks: Iterator[bytes], dest_dir: str, old_base: str, new_base: str) -> None:
    """Extracts a tar stream into dest_dir, renaming its top entry old_base to new_base."""
    # tarfile (with shutil) costs ~4 ms that only cp needs; every command imports this module.
    import tarfile

    class LocalTar(tarfile.TarFile):
        """Extraction as docker's client does it: owned by the user running it (NoLchown)."""

        def chown(self, tarinfo: tarfile.TarInfo, targetpath: str, numeric_owner: bool) -> None:
            pass

    def keep_mode_filter(member: tarfile.TarInfo, dest: str) -> tarfile.TarInfo:
        """tarfile's `tar` filter (nothing lands outside dest) without its mode changes."""
        checked = tarfile.tar_filter(member, dest)
        return checked.replace(mode=member.mode, deep=False)

    with LocalTar.open(fileobj=io.BufferedReader(_ChunkReader(chunks)), mode="r|") as tar:
        for member in tar:
            member.name = rebase(member.name, old_base, new_base)
            if member.islnk():
                member.linkname = rebase(member.linkname, old_base, new_base)
            tar.extract(member, dest_dir, filter=keep_mode_filter)


def _data(call: Iterator[pb.CopyChunk]) -> Iterator[bytes]:
    for chunk in call:
        if chunk.WhichOneof("chunk") == "data":
            yield chunk.data


def _stat(ctx: Context, container: str, path: str) -> pb.PathStat | None:
    """The container path's stat (the first message of CopyFrom), None when missing."""
    call = containers.stub(ctx).CopyFrom(pb.CopyFromRequest(container=container, path=path))
    try:
        first = next(iter(call), None)
    except rpc.RpcError as e:
        if e.code() == rpc.StatusCode.NOT_FOUND:
            if "No such container" in (e.details() or ""):
                raise CLIError(f"Error: No such container:path: {container}:{path}") from None
            return None
        raise ctx.daemon.error(e) from None
    finally:
        call.cancel()
    return first.stat if first is not None and first.WhichOneof("chunk") == "stat" else None


def _resolve_local(path: str) -> str:
    """docker's resolveLocalPath: absolute, keeping a trailing separator or "/."."""
    absolute = os.path.abspath(path)
    if path.endswith(os.sep + ".") or path == ".":
        return absolute + os.sep + "."
    if path.endswith(os.sep):
        return absolute + os.sep
    return absolute


def copy_from_container(ctx: Context, container: str, src: str, dst: str, follow: bool) -> int:
    rebase_name = ""
    if follow:
        info = _stat(ctx, container, src)
        if info is not None and is_link_mode(info.mode):
            target = info.link_target
            if not os.path.isabs(target):
                target = os.path.join(split_path_dir_entry(src)[0], target)
            rebase_name = split_path_dir_entry(src)[1]
            src = target
    call = containers.stub(ctx).CopyFrom(pb.CopyFromRequest(container=container, path=src))
    chunks = iter(call)
    try:
        try:
            first = next(chunks, None)
        except rpc.RpcError as e:
            if e.code() == rpc.StatusCode.NOT_FOUND:
                raise CLIError(f"Error: No such container:path: {container}:{src}") from None
            raise ctx.daemon.error(e) from None
        if first is None or first.WhichOneof("chunk") != "stat":
            raise CLIError("Error response from daemon: the copy stream has no stat")
        with ctx.daemon.calls():
            if dst == "-":
                out = ctx.stdout.buffer if hasattr(ctx.stdout, "buffer") else None
                for data in _data(chunks):
                    if out is not None:
                        out.write(data)
                    else:
                        ctx.stdout.write(data.decode("latin-1"))
                ctx.stdout.flush()
                return 0
            _copy_into_local(chunks, src, first.stat, dst, rebase_name)
    finally:
        call.cancel()
    return 0


def _copy_into_local(
    chunks: Iterator[pb.CopyChunk], src: str, info: pb.PathStat, dst: str, rebase_name: str
) -> None:
    """docker's CopyTo: where the archive lands and under which name. Its entries start with
    the base name of src; with -L through a link they take the link's name (RebaseName)."""
    dst = _resolve_local(dst)
    _, entries_base = split_path_dir_entry(src)
    dst_dir, dst_base = split_path_dir_entry(dst)
    if os.path.isdir(dst):
        extract(_data(chunks), dst, entries_base, rebase_name or entries_base)
        return
    if os.path.lexists(dst):
        if is_dir_mode(info.mode):
            raise CLIError("cannot copy directory")
    elif not os.path.isdir(dst_dir):
        what = "not a directory" if os.path.exists(dst_dir) else "no such file or directory"
        raise CLIError(f"stat {dst_dir}: {what}")
    elif not is_dir_mode(info.mode) and asserts_directory(dst):
        raise CLIError("no such directory")
    extract(_data(chunks), dst_dir, entries_base, dst_base)


def _requests(open_message: pb.CopyToOpen, data: IO[bytes]) -> Iterator[pb.CopyToRequest]:
    yield pb.CopyToRequest(open=open_message)
    while block := data.read(CHUNK):
        yield pb.CopyToRequest(data=block)


def _stdin_bytes(ctx: Context) -> IO[bytes]:
    buffer = getattr(ctx.stdin, "buffer", None)
    if buffer is not None:
        return buffer  # type: ignore[no-any-return]
    return io.BytesIO(ctx.stdin.read().encode("latin-1"))


def copy_to_container(ctx: Context, src: str, container: str, dst: str, follow: bool) -> int:
    info = _stat(ctx, container, dst)
    dst_path = dst
    if info is not None and is_link_mode(info.mode):
        target = info.link_target
        if not os.path.isabs(target):
            target = os.path.join(split_path_dir_entry(dst)[0], target)
        dst_path = target
        info = _stat(ctx, container, target)
    if info is not None and not is_dir_mode(info.mode) and not is_regular_mode(info.mode):
        raise CLIError(f'destination "{container}:{dst}" must be a directory or a regular file')
    dst_exists = info is not None
    dst_is_dir = dst_exists and is_dir_mode(info.mode if info else 0)
    stub = containers.stub(ctx)
    if src == "-":
        if not dst_is_dir:
            raise CLIError(f'destination "{container}:{dst}" must be a directory')
        with ctx.daemon.calls():
            stub.CopyTo(
                _requests(pb.CopyToOpen(container=container, path=dst_path), _stdin_bytes(ctx))
            )
        return 0
    src = _resolve_local(src)
    stat_fn = os.stat if follow else os.lstat
    try:
        src_stat = stat_fn(src.rstrip(os.sep + ".") if src.endswith(os.sep + ".") else src)
    except OSError as e:
        verb = "stat" if follow else "lstat"
        raise CLIError(f"{verb} {src}: {(e.strerror or str(e)).lower()}") from None
    src_is_dir = stat.S_ISDIR(src_stat.st_mode)
    src_dir, src_base = split_path_dir_entry(src)
    dst_dir, dst_base = split_path_dir_entry(dst_path)
    # docker's PrepareArchiveCopy: which directory to extract into and under which name.
    if dst_exists and dst_is_dir:
        target, name = dst_path, src_base
    elif dst_exists and src_is_dir:
        raise CLIError("cannot copy directory")
    elif not dst_exists and not src_is_dir and asserts_directory(dst_path):
        raise CLIError("no such directory")
    else:
        target, name = dst_dir, dst_base
    import tarfile
    import tempfile

    with tempfile.TemporaryFile() as spool:
        with tarfile.open(fileobj=spool, mode="w", format=tarfile.PAX_FORMAT) as tar:
            tar.add(os.path.join(src_dir, src_base), arcname=name, recursive=True)
        spool.seek(0)
        with ctx.daemon.calls():
            stub.CopyTo(_requests(pb.CopyToOpen(container=container, path=target), spool))
    return 0


def cp(ctx: Context, args: argparse.Namespace) -> int:
    if not args.source:
        raise CLIError("source can not be empty")
    if not args.destination:
        raise CLIError("destination can not be empty")
    src_container, src = split_cp_arg(args.source)
    dst_container, dst = split_cp_arg(args.destination)
    if src_container and dst_container:
        raise CLIError("copying between containers is not supported")
    if src_container:
        return copy_from_container(ctx, src_container, src, dst, args.follow_link)
    if dst_container:
        return copy_to_container(ctx, src, dst_container, dst, args.follow_link)
    raise CLIError("must specify at least one container source")


def _cp_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("-a", "--archive", action="store_true", help="Archive mode (copy UID/GID)")
    p.add_argument("-L", "--follow-link", action="store_true", help="Follow symbol link in SRC")
    cli_args.takes(
        p,
        "[OPTIONS] CONTAINER:SRC_PATH DEST_PATH|-\n       caisson cp [OPTIONS] SRC_PATH|- "
        "CONTAINER:DEST_PATH",
        "source",
        "destination",
        least=2,
        most=2,
    )


CP_HELP = "Copy files/folders between a container and the local filesystem"


def register(
    commands: cli_args.Commands,
    container_commands: cli_args.Commands,
) -> None:
    for group in (commands, container_commands):
        cli_args.command(group, ["cp"], cp, _cp_args, CP_HELP)
