"""`cp` through the real helper, as root, on a rootfs made of plain directories in a temp dir:
naming as docker's archive endpoints, stat, binds seen as the container sees them, and the
hostile cases (symlinks that climb out, tar entries that climb out, read-only mounts). The
host canary next to the rootfs must never be read through nor written to."""

from __future__ import annotations

import gzip
import io
import os
import shutil
import stat
import tarfile
import tempfile
import threading
from collections.abc import Iterator

import pytest

from caisson import errors
from caisson.executor import copy

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root (mount namespaces)")


@pytest.fixture
def base() -> Iterator[str]:
    d = tempfile.mkdtemp(prefix="caisson-copy-")
    try:
        os.makedirs(f"{d}/root/etc")
        os.makedirs(f"{d}/root/tmp")
        os.makedirs(f"{d}/root/data")  # a volume's mount point
        os.makedirs(f"{d}/vol")
        os.makedirs(f"{d}/host")
        write(f"{d}/host/secret", "host secret\n")
        write(f"{d}/root/etc/passwd", "root:x:0:0::/root:/bin/sh\n")
        write(f"{d}/vol/v.txt", "in the volume\n")
        yield d
    finally:
        shutil.rmtree(d)


def write(path: str, text: str) -> None:
    with open(path, "w") as f:
        f.write(text)


def read(path: str) -> str:
    with open(path) as f:
        return f.read()


def req(base: str, op: str, path: str, **kw: object) -> copy.Request:
    binds = kw.pop("binds", (copy.Bind(f"{base}/vol", "/data"),))
    return copy.Request(op=op, rootfs=f"{base}/root", path=path, binds=binds, **kw)  # type: ignore[arg-type]


def copy_out(
    base: str, path: str, **kw: object
) -> tuple[copy.PathStat, list[tarfile.TarInfo], bytes]:
    items = list(copy.copy_from(req(base, copy.FROM, path, **kw), threading.Event()))
    first = items[0]
    assert isinstance(first, copy.PathStat)
    data = b"".join(i for i in items[1:] if isinstance(i, bytes))
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        members = tar.getmembers()
    return first, members, data


def tar_of(*entries: tuple[str, str, bytes | str]) -> bytes:
    """A tar of (name, kind, content-or-link) entries."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, kind, extra in entries:
            info = tarfile.TarInfo(name)
            info.mtime = 1_700_000_000
            if kind == "file":
                assert isinstance(extra, bytes)
                info.size, info.mode, info.uid, info.gid = len(extra), 0o640, 1234, 5678
                tar.addfile(info, io.BytesIO(extra))
            elif kind == "dir":
                info.type, info.mode = tarfile.DIRTYPE, 0o750
                tar.addfile(info)
            elif kind in ("sym", "hard"):
                info.type = tarfile.SYMTYPE if kind == "sym" else tarfile.LNKTYPE
                info.linkname = str(extra)
                tar.addfile(info)
    return buf.getvalue()


def copy_in(base: str, dest: str, data: bytes, **kw: object) -> None:
    chunks = [data[i : i + 4096] for i in range(0, len(data), 4096)]
    copy.copy_to(req(base, copy.TO, dest, **kw), iter(chunks))


def assert_host_untouched(base: str) -> None:
    assert os.listdir(f"{base}/host") == ["secret"]
    assert read(f"{base}/host/secret") == "host secret\n"


# --- naming and stat -----------------------------------------------------------------------


def test_split_path_dir_entry_and_source_as_docker() -> None:
    assert copy.split_path_dir_entry("/a/b") == ("/a", "b")
    assert copy.split_path_dir_entry("/a/b/") == ("/a", "b")
    assert copy.split_path_dir_entry("/a/b/.") == ("/a/b", ".")
    assert copy.source_of("/etc") == ("/etc", "etc")
    assert copy.source_of("/etc/") == ("/etc/", "etc")  # a final symlink is followed
    assert copy.source_of("/etc/.") == ("/etc/.", ".")
    assert copy.source_of("/") == ("/.", ".")


def test_a_directory_comes_rooted_at_its_base_name(base: str) -> None:
    info, members, _ = copy_out(base, "/etc")
    assert info.name == "etc" and stat.S_ISDIR(info.mode) and info.link_target == ""
    assert [m.name for m in members] == ["etc", "etc/passwd"]
    _, members, _ = copy_out(base, "/etc/.")
    assert [m.name for m in members] == [".", "./passwd"]


def test_a_file_keeps_content_mode_and_numeric_owner(base: str) -> None:
    os.chmod(f"{base}/root/etc/passwd", 0o604)
    os.chown(f"{base}/root/etc/passwd", 4321, 8765)
    info, members, data = copy_out(base, "/etc/passwd")
    assert info.name == "passwd" and info.size == 26 and stat.S_IMODE(info.mode) == 0o604
    (m,) = members
    assert (m.name, m.uid, m.gid, m.mode, m.uname, m.gname) == ("passwd", 4321, 8765, 0o604, "", "")
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        f = tar.extractfile("passwd")
        assert f is not None and f.read() == b"root:x:0:0::/root:/bin/sh\n"


def test_a_symlink_comes_as_itself_and_its_stat_names_the_resolved_target(base: str) -> None:
    os.symlink("../etc/passwd", f"{base}/root/tmp/rel")
    info, members, _ = copy_out(base, "/tmp/rel")
    assert stat.S_ISLNK(info.mode) and info.link_target == "/etc/passwd"
    assert [(m.name, m.linkname, m.issym()) for m in members] == [("rel", "../etc/passwd", True)]


def test_a_bind_is_read_through_as_the_container_sees_it(base: str) -> None:
    _, members, _ = copy_out(base, "/data")
    assert [m.name for m in members] == ["data", "data/v.txt"]
    # Without the bind, the image's own (empty) mount point shows.
    _, members, _ = copy_out(base, "/data", binds=())
    assert [m.name for m in members] == ["data"]


def test_a_missing_path_is_not_found(base: str) -> None:
    with pytest.raises(errors.NotFound, match="no such file or directory: /nothing"):
        copy_out(base, "/nothing")
    with pytest.raises(errors.NotFound):
        copy_out(base, "/etc/passwd/x")


def test_symlinks_that_climb_out_resolve_inside_the_root(base: str) -> None:
    up = "/.." * 10
    os.symlink(f"{up}{base}/host/secret", f"{base}/root/abs")
    os.symlink(f"../../../../../../../../..{base}/host", f"{base}/root/tmp/rel")
    os.symlink(f"{base}/host", f"{base}/vol/inbind")  # in a volume, resolved in the root too
    info, members, _ = copy_out(base, "/abs")
    assert info.link_target == f"{base}/host/secret"  # a path inside the container
    assert [m.name for m in members] == ["abs"] and members[0].issym()
    for followed in ("/abs/", "/tmp/rel/secret", "/tmp/rel/", "/data/inbind/secret"):
        with pytest.raises(errors.NotFound):
            copy_out(base, followed)


def test_a_stat_only_call_stops_the_helper(base: str) -> None:
    os.makedirs(f"{base}/root/big")
    for i in range(200):
        write(f"{base}/root/big/{i}", "x" * 10000)
    stream = copy.copy_from(req(base, copy.FROM, "/big"), threading.Event())
    first = next(stream)
    assert isinstance(first, copy.PathStat) and first.name == "big"
    stream.close()  # the helper is killed and reaped, nothing waits on its pipe


def test_a_cancelled_copy_ends(base: str) -> None:
    os.makedirs(f"{base}/root/big")
    write(f"{base}/root/big/f", "x" * (4 << 20))
    cancelled = threading.Event()
    stream = copy.copy_from(req(base, copy.FROM, "/big"), cancelled)
    next(stream)
    cancelled.set()
    for _ in stream:  # ends once the helper is killed, without an error
        pass


# --- into the container --------------------------------------------------------------------


def test_files_and_directories_land_with_their_owners_modes_and_times(base: str) -> None:
    copy_in(base, "/tmp", tar_of(("d", "dir", b""), ("d/f", "file", b"hello\n")))
    st = os.lstat(f"{base}/root/tmp/d/f")
    assert read(f"{base}/root/tmp/d/f") == "hello\n"
    assert (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)) == (1234, 5678, 0o640)
    assert st.st_mtime == 1_700_000_000
    assert stat.S_IMODE(os.lstat(f"{base}/root/tmp/d").st_mode) == 0o750


def test_into_a_bind_and_compressed_input(base: str) -> None:
    copy_in(base, "/data", gzip.compress(tar_of(("new.txt", "file", b"zipped\n"))))
    assert read(f"{base}/vol/new.txt") == "zipped\n"
    assert not os.path.exists(f"{base}/root/data/new.txt")


def test_an_existing_file_is_replaced_but_a_directory_never_changes_kind(base: str) -> None:
    copy_in(base, "/etc", tar_of(("passwd", "file", b"new\n")))
    assert read(f"{base}/root/etc/passwd") == "new\n"
    with pytest.raises(errors.FailedPrecondition, match="cannot overwrite directory"):
        copy_in(base, "/", tar_of(("etc", "file", b"")))
    with pytest.raises(errors.FailedPrecondition, match="cannot overwrite non-directory"):
        copy_in(base, "/etc", tar_of(("passwd", "dir", b"")))


@pytest.mark.parametrize(
    ("entries", "message"),
    [
        ((("../../../escaped", "file", b"x"),), "is outside of"),
        ((("a/../../escaped", "file", b"x"),), "is outside of"),
        ((("up", "sym", "../../../../.."),), "invalid symlink"),
        ((("d", "dir", b""), ("d/up", "sym", "../../x")), "invalid symlink"),
        ((("hl", "hard", "../../host/secret"),), "invalid hardlink"),
    ],
)
def test_entries_that_climb_out_are_refused(
    base: str, entries: tuple[tuple[str, str, bytes | str], ...], message: str
) -> None:
    with pytest.raises(errors.InvalidArgument, match=message):
        copy_in(base, "/tmp", tar_of(*entries))
    assert not os.path.exists(f"{base}/escaped") and not os.path.exists(f"{base}/root/escaped")
    assert_host_untouched(base)


def test_absolute_names_and_links_stay_inside(base: str) -> None:
    # A leading "/" is dropped (docker's archive); an absolute symlink is the container's own.
    copy_in(base, "/tmp", tar_of(("/abs.txt", "file", b"a\n"), ("link", "sym", f"{base}/host")))
    assert read(f"{base}/root/tmp/abs.txt") == "a\n"
    assert os.readlink(f"{base}/root/tmp/link") == f"{base}/host"
    # Writing through that link (a later entry, or a later copy) cannot reach the host.
    with pytest.raises(errors.CaissonError):
        copy_in(base, "/tmp", tar_of(("link/planted", "file", b"p\n")))
    with pytest.raises(errors.NotFound):
        copy_in(base, "/tmp/link/", tar_of(("planted", "file", b"p\n")))
    assert_host_untouched(base)


def test_a_symlink_planted_by_the_container_leads_into_its_own_root(base: str) -> None:
    os.makedirs(f"{base}/root{base}/host")  # the same path, inside the container
    os.symlink(f"/../../../..{base}/host", f"{base}/root/tmp/trap")
    info, _, _ = copy_out(base, "/tmp/trap")
    assert info.link_target == f"{base}/host"  # where the CLI then copies to
    with pytest.raises(errors.FailedPrecondition, match="not a directory"):
        copy_in(base, "/tmp/trap", tar_of(("planted", "file", b"p\n")))
    copy_in(base, "/tmp/trap/", tar_of(("planted", "file", b"p\n")))
    assert read(f"{base}/root{base}/host/planted") == "p\n"
    assert_host_untouched(base)


def test_destination_checks(base: str) -> None:
    with pytest.raises(errors.NotFound, match="no such file or directory: /nowhere"):
        copy_in(base, "/nowhere", tar_of(("f", "file", b"")))
    with pytest.raises(errors.FailedPrecondition, match="extraction point is not a directory"):
        copy_in(base, "/etc/passwd", tar_of(("f", "file", b"")))
    with pytest.raises(errors.InvalidArgument, match="invalid tar archive"):
        copy_in(base, "/tmp", b"this is not a tar archive" * 40)


def test_read_only_rootfs_and_read_only_bind_are_refused(base: str) -> None:
    data = tar_of(("f", "file", b"x"))
    with pytest.raises(errors.FailedPrecondition, match="container rootfs is marked read-only"):
        copy_in(base, "/tmp", data, readonly_rootfs=True)
    ro = (copy.Bind(f"{base}/vol", "/data", readonly=True),)
    with pytest.raises(errors.FailedPrecondition, match="mounted volume is marked read-only"):
        copy_in(base, "/data", data, binds=ro)
    assert sorted(os.listdir(f"{base}/vol")) == ["v.txt"]
    assert not os.path.exists(f"{base}/root/tmp/f")
