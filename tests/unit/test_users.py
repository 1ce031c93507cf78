"""Users: docker's `-u` and `--group-add` lookup (every form, every error message), the
image's passwd/group read inside its root whatever its symlinks say, and, as root in a forked
child, the switch itself."""

from __future__ import annotations

import io
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from caisson.executor import users as u
from caisson.executor.users import ExecUser

PASSWD = """\
root:x:0:0:root:/root:/bin/sh
daemon:x:1:1:daemon:/usr/sbin:/bin/false

alice:x:1000:1000:Alice:/home/alice:/bin/sh
bob:x:1001:100::/home/bob:/bin/sh
1234:x:4321:4321:numeric name:/home/num:/bin/sh
alice:x:2000:2000:second alice:/nowhere:/bin/sh
short:x:7
"""
GROUP = """\
# comment
root:x:0:
wheel:x:10:root,alice
users:x:100:bob,alice
alice:x:1000:
staff:x:50:bob
empty:x:60
"""


def look(spec: str, extra: tuple[str, ...] = (), passwd: str | None = PASSWD,
         group: str | None = GROUP) -> ExecUser:  # fmt: skip
    return u.lookup(
        spec,
        io.StringIO(passwd) if passwd is not None else None,
        io.StringIO(group) if group is not None else None,
        extra,
    )


@pytest.mark.parametrize(
    ("spec", "want"),
    [
        # default user: root, with its /etc/group memberships; primary gid first, like docker
        ("", ExecUser(0, 0, (0, 10), "/root")),
        ("root", ExecUser(0, 0, (0, 10), "/root")),
        ("alice", ExecUser(1000, 1000, (1000, 10, 100), "/home/alice")),  # first match wins
        ("1000", ExecUser(1000, 1000, (1000, 10, 100), "/home/alice")),
        ("bob", ExecUser(1001, 100, (100, 50), "/home/bob")),
        # a number is always a uid, never a name
        ("1234", ExecUser(1234, 0, (0,), "/")),
        ("4321", ExecUser(4321, 4321, (4321,), "/home/num")),
        # a uid not in passwd: gid 0, home "/"
        ("5555", ExecUser(5555, 0, (0,), "/")),
        # explicit group: no supplementary groups from /etc/group
        ("alice:staff", ExecUser(1000, 50, (50,), "/home/alice")),
        ("alice:60", ExecUser(1000, 60, (60,), "/home/alice")),
        ("1000:4444", ExecUser(1000, 4444, (4444,), "/home/alice")),
        ("5555:wheel", ExecUser(5555, 10, (10,), "/")),
        ("5555:6666", ExecUser(5555, 6666, (6666,), "/")),
        (":users", ExecUser(0, 100, (100,), "/root")),
        ("short", ExecUser(7, 0, (0,), "")),
        ("+42", ExecUser(42, 0, (0,), "/")),
    ],
)
def test_user_forms(spec: str, want: ExecUser) -> None:
    assert look(spec) == want


def test_group_add_by_name_and_number() -> None:
    got = look("bob", ("wheel", "777", "users", "10"))
    assert got == ExecUser(1001, 100, (100, 50, 10, 777), "/home/bob")


def test_group_add_number_matches_gid_not_name() -> None:
    assert look("5555", ("1000",)).additional_gids == (0, 1000)


def test_no_passwd_or_group_file() -> None:
    assert look("", passwd=None, group=None) == ExecUser(0, 0, (0,), "/")
    assert look("99:98", ("5",), passwd=None, group=None) == ExecUser(99, 98, (98, 5), "/")


NO_USER = "unable to find user mallory: no matching entries in passwd file"
RANGE = "uids and gids must be in range 0-2147483647"


@pytest.mark.parametrize(
    ("spec", "extra", "passwd", "message"),
    [
        ("mallory", (), PASSWD, NO_USER),
        ("mallory", (), None, NO_USER),
        ("alice:nogroup", (), PASSWD, "unable to find group nogroup: " + u.NO_GROUP),
        ("alice", ("ghosts",), PASSWD, "Unable to find group ghosts: " + u.NO_GROUP),
        ("-1", (), PASSWD, RANGE),
        ("2147483648", (), PASSWD, RANGE),
        ("0:99999999999999999999", (), PASSWD, RANGE),
        ("alice", ("-5",), PASSWD, RANGE),
    ],
)
def test_errors_have_dockers_wording(
    spec: str, extra: tuple[str, ...], passwd: str | None, message: str
) -> None:
    with pytest.raises(ValueError) as e:
        look(spec, extra, passwd=passwd)
    assert str(e.value) == message


def test_lenient_parsing_like_moby() -> None:
    users = u.parse_passwd(["a:x:notanumber:1:g:/h:/s", "  b:x:2:2  ", ""])
    assert [(x.name, x.uid, x.gid, x.home) for x in users] == [("a", 0, 1, "/h"), ("b", 2, 2, "")]
    groups = u.parse_group(["g:x:5:a,b", "h:x:6:", "#c:x:7:a"])
    assert [(g.name, g.gid, g.members) for g in groups] == [("g", 5, ("a", "b")), ("h", 6, ())]


def test_home_env() -> None:
    user = ExecUser(1, 1, (1,), "/home/x")
    assert u.home_env({"PATH": "/bin"}, user) == {"PATH": "/bin", "HOME": "/home/x"}
    assert u.home_env({"HOME": "/set"}, user) == {"HOME": "/set"}


# --- reading the image's files inside its root ---------------------------------------------


@pytest.fixture
def tmp() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="caisson-users-") as d:
        yield Path(d)


def make_root(tmp: Path) -> Path:
    root = tmp / "rootfs"
    (root / "etc").mkdir(parents=True)
    return root


def test_resolve_reads_the_roots_files(tmp: Path) -> None:
    root = make_root(tmp)
    (root / "etc/passwd").write_text(PASSWD)
    (root / "etc/group").write_text(GROUP)
    assert u.resolve("alice", root, ["staff"]) == ExecUser(
        1000, 1000, (1000, 10, 100, 50), "/home/alice"
    )


def test_symlinks_resolve_inside_the_root(tmp: Path) -> None:
    root = make_root(tmp)
    (root / "data").mkdir()
    (root / "data/passwd").write_text("eve:x:3000:3000::/home/eve:/bin/sh\n")
    (root / "etc/passwd").symlink_to("/data/passwd")  # absolute: from the container's "/"
    (root / "etc/group").symlink_to("../../../../../../data/../etc/../data/group")
    (root / "data/group").write_text("ops:x:3001:eve\n")
    assert u.resolve("eve", root) == ExecUser(3000, 3000, (3000, 3001), "/home/eve")


def test_symlink_to_a_host_file_does_not_leave_the_root(tmp: Path) -> None:
    host = tmp / "host-passwd"
    host.write_text("mallory:x:0:0::/root:/bin/sh\n")
    root = make_root(tmp)
    (root / "etc/passwd").symlink_to(host)  # the host path does not exist inside the root
    (root / "etc/group").symlink_to("../" * 10 + str(host).lstrip("/"))
    with pytest.raises(ValueError, match="unable to find user mallory"):
        u.resolve("mallory", root)
    assert u.resolve("0", root) == ExecUser(0, 0, (0,), "/")


def test_fifo_or_directory_is_ignored_not_read(tmp: Path) -> None:
    root = make_root(tmp)
    os.mkfifo(root / "etc/passwd")  # opening it for reading would block forever
    (root / "etc/group").mkdir()
    assert u.resolve("", root) == ExecUser(0, 0, (0,), "/")


def test_oversized_file_is_refused(tmp: Path) -> None:
    root = make_root(tmp)
    with open(root / "etc/passwd", "wb") as f:
        f.truncate(u.MAX_FILE + 1)
    with pytest.raises(ValueError, match="file exceeds 10485760 bytes"):
        u.resolve("", root)


def test_missing_root_is_an_error(tmp: Path) -> None:
    with pytest.raises(FileNotFoundError):
        u.resolve("", tmp / "nope")


# --- the switch, as root in a forked child ----------------------------------------------------


@pytest.mark.root
@pytest.mark.skipif(os.geteuid() != 0, reason="needs root (setuid)")
def test_switch_sets_every_id() -> None:
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        try:
            os.close(r)
            u.switch(ExecUser(1000, 1001, (1001, 5, 6), "/"))
            ids = (os.getresuid(), os.getresgid(), sorted(os.getgroups()))
            os.write(w, repr(ids).encode())
        finally:
            os._exit(0)
    os.close(w)
    with os.fdopen(r) as f:
        out = f.read()
    os.waitpid(pid, 0)
    assert out == repr(((1000, 1000, 1000), (1001, 1001, 1001), [5, 6, 1001]))
