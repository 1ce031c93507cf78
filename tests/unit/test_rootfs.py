"""The rootfs steps seen through the recording syscalls (no root needed): the exact ordered
mount sequence for a typical container, --read-only, --tmpfs, binds, masked paths, overlay
options (and the page-size fallback), unmount, and mount destinations that symlinks in the
image try to redirect."""

from __future__ import annotations

import errno
import os
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from caisson import errors
from caisson.executor import rootfs as r
from caisson.executor.rootfs import BindMount, RootfsSpec, TmpfsMount
from caisson.executor.syscalls import RecordingSyscalls

NSD = r.MS_NOSUID | r.MS_NODEV | r.MS_NOEXEC


@pytest.fixture
def base() -> Iterator[str]:
    with tempfile.TemporaryDirectory(prefix="caisson-rootfs-") as d:
        os.makedirs(os.path.join(d, "root", "etc"))
        os.makedirs(os.path.join(d, "root", "proc"))
        yield d


def calls(rec: RecordingSyscalls, root: str) -> list[tuple[object, ...]]:
    """(op, path with the rootfs shown as ROOT, *args), mount args without empty strings."""
    out: list[tuple[object, ...]] = []
    for c in rec.calls:
        path = c.path.replace(root, "ROOT")
        args = tuple(a.replace(root, "ROOT") if isinstance(a, str) else a for a in c.args)
        out.append((c.op, path, *args))
    return out


def dev_calls(shm: int = 64 * 1024 * 1024) -> list[tuple[object, ...]]:
    chr666 = stat.S_IFCHR | 0o666
    return [
        ("mkdir", "ROOT/dev", 0o755),
        (
            "mount",
            "ROOT/dev",
            "tmpfs",
            "tmpfs",
            r.MS_NOSUID | r.MS_STRICTATIME,
            "mode=755,size=65536k",
        ),
        ("mknod", "ROOT/dev/null", chr666, os.makedev(1, 3)),
        ("mknod", "ROOT/dev/zero", chr666, os.makedev(1, 5)),
        ("mknod", "ROOT/dev/full", chr666, os.makedev(1, 7)),
        ("mknod", "ROOT/dev/random", chr666, os.makedev(1, 8)),
        ("mknod", "ROOT/dev/urandom", chr666, os.makedev(1, 9)),
        ("mknod", "ROOT/dev/tty", chr666, os.makedev(5, 0)),
        ("symlink", "ROOT/dev/fd", "/proc/self/fd"),
        ("symlink", "ROOT/dev/stdin", "/proc/self/fd/0"),
        ("symlink", "ROOT/dev/stdout", "/proc/self/fd/1"),
        ("symlink", "ROOT/dev/stderr", "/proc/self/fd/2"),
        ("symlink", "ROOT/dev/ptmx", "pts/ptmx"),
        ("mkdir", "ROOT/dev/pts", 0o755),
        ("mkdir", "ROOT/dev/shm", 0o755),
        ("mkdir", "ROOT/dev/mqueue", 0o755),
        (
            "mount",
            "ROOT/dev/pts",
            "devpts",
            "devpts",
            r.MS_NOSUID | r.MS_NOEXEC,
            "newinstance,ptmxmode=0666,mode=0620,gid=5",
        ),
        ("mount", "ROOT/dev/shm", "shm", "tmpfs", NSD, f"mode=1777,size={shm}"),
        ("mount", "ROOT/dev/mqueue", "mqueue", "mqueue", NSD, ""),
    ]


def pivot_calls() -> list[tuple[object, ...]]:
    return [
        ("chdir", "ROOT"),
        ("pivot_root", ".", "."),
        ("fchdir", "/"),
        ("mount", ".", "", "", r.MS_SLAVE | r.MS_REC, ""),
        ("umount2", ".", r.MNT_DETACH),
        ("chdir", "/"),
    ]


def test_typical_container_exact_sequence(base: str) -> None:
    root = os.path.join(base, "root")
    hostname = os.path.join(base, "hostname")
    hosts = os.path.join(base, "hosts")
    open(hostname, "w").close()
    open(hosts, "w").close()
    spec = RootfsSpec(
        rootfs=root,
        hostname_file=hostname,
        hosts_file=hosts,
        masked_paths=("/proc/kcore", "/proc/acpi"),
        readonly_paths=("/proc/sys",),
    )
    rec = RecordingSyscalls(
        failures={("mount", "/proc/acpi"): errno.ENOTDIR},
        failures_left={("mount", "/proc/acpi"): 1},  # a dir: /dev/null cannot go over it
    )
    r.prepare_rootfs(rec, spec)
    ro_remount = r.MS_BIND | r.MS_REMOUNT | r.MS_RDONLY
    assert calls(rec, root) == [
        ("mount", "/", "", "", r.MS_REC | r.MS_PRIVATE, ""),
        ("mount", "ROOT", "ROOT", "", r.MS_BIND | r.MS_REC, ""),
        ("mount", "ROOT/proc", "proc", "proc", NSD, ""),
        *dev_calls(),
        ("mkdir", "ROOT/sys", 0o755),
        ("mount", "ROOT/sys", "sysfs", "sysfs", r.MS_RDONLY | NSD, ""),
        ("mkdir", "ROOT/sys/fs", 0o755),
        ("mkdir", "ROOT/sys/fs/cgroup", 0o755),
        (
            "mount",
            "ROOT/sys/fs/cgroup",
            "cgroup2",
            "cgroup2",
            NSD | r.MS_RELATIME | r.MS_RDONLY,
            "",
        ),
        ("create_file", "ROOT/etc/hostname", 0o644),
        ("mount", "ROOT/etc/hostname", hostname, "", r.MS_BIND | r.MS_REC, ""),
        ("mount", "ROOT/etc/hostname", "", "", r.MS_PRIVATE | r.MS_REC, ""),
        ("create_file", "ROOT/etc/hosts", 0o644),
        ("mount", "ROOT/etc/hosts", hosts, "", r.MS_BIND | r.MS_REC, ""),
        ("mount", "ROOT/etc/hosts", "", "", r.MS_PRIVATE | r.MS_REC, ""),
        *pivot_calls(),
        ("mount", "/proc/sys", "/proc/sys", "", r.MS_BIND | r.MS_REC, ""),
        ("mount", "/proc/sys", "", "", ro_remount | NSD, ""),
        ("mount", "/proc/kcore", "/dev/null", "", r.MS_BIND, ""),
        ("mount", "/proc/acpi", "/dev/null", "", r.MS_BIND, ""),
        ("mount", "/proc/acpi", "tmpfs", "tmpfs", r.MS_RDONLY, ""),
    ]
    assert os.readlink(os.path.join(root, "dev", "ptmx")) == "pts/ptmx"


def test_read_only_rootfs_is_remounted_last(base: str) -> None:
    root = os.path.join(base, "root")
    rec = RecordingSyscalls()
    r.prepare_rootfs(rec, RootfsSpec(rootfs=root, readonly=True, cgroup="none"))
    assert calls(rec, root)[-1] == (
        "mount",
        "/",
        "",
        "",
        r.MS_BIND | r.MS_REMOUNT | r.MS_RDONLY,
        "",
    )
    assert not rec.find("mount", os.path.join(root, "sys/fs/cgroup"))


def test_shm_size(base: str) -> None:
    root = os.path.join(base, "root")
    rec = RecordingSyscalls()
    r.prepare_rootfs(rec, RootfsSpec(rootfs=root, shm_size=1 << 20))
    (m,) = rec.find("mount", os.path.join(root, "dev/shm"))
    assert m.args[-1] == "mode=1777,size=1048576"


def test_tmpfs_options_and_binds_sorted_by_depth(base: str) -> None:
    root = os.path.join(base, "root")
    src = os.path.join(base, "data")
    os.mkdir(src)
    rec = RecordingSyscalls()
    r.mount_user(
        rec,
        RootfsSpec(
            rootfs=root,
            binds=(
                BindMount(src, "/srv/data/deep", readonly=True, propagation="rslave"),
                BindMount(src, "/srv", recursive=False),
            ),
            tmpfs=(
                TmpfsMount("/srv/data/deep/tmp", ("exec", "size=1m", "mode=1777")),
                TmpfsMount("/run"),
            ),
        ),
    )
    assert calls(rec, root) == [
        ("mkdir", "ROOT/run", 0o755),
        ("mount", "ROOT/run", "tmpfs", "tmpfs", NSD, ""),
        ("mkdir", "ROOT/srv", 0o755),
        ("mount", "ROOT/srv", src, "", r.MS_BIND, ""),
        ("mount", "ROOT/srv", "", "", r.MS_PRIVATE | r.MS_REC, ""),
        ("mkdir", "ROOT/srv/data", 0o755),
        ("mkdir", "ROOT/srv/data/deep", 0o755),
        ("mount", "ROOT/srv/data/deep", src, "", r.MS_BIND | r.MS_REC, ""),
        ("mount", "ROOT/srv/data/deep", "", "", r.MS_BIND | r.MS_REMOUNT | r.MS_RDONLY, ""),
        ("mount", "ROOT/srv/data/deep", "", "", r.MS_SLAVE | r.MS_REC, ""),
        ("mkdir", "ROOT/srv/data/deep/tmp", 0o755),
        (
            "mount",
            "ROOT/srv/data/deep/tmp",
            "tmpfs",
            "tmpfs",
            r.MS_NOSUID | r.MS_NODEV,
            "size=1m,mode=1777",
        ),
    ]


def test_bind_errors(base: str) -> None:
    root = os.path.join(base, "root")
    rec = RecordingSyscalls()
    with pytest.raises(errors.InvalidArgument, match="bind source path does not exist: /nope"):
        r.mount_bind(rec, root, BindMount("/nope", "/x"))
    with pytest.raises(errors.InvalidArgument, match="invalid propagation 'sideways'"):
        r.mount_bind(rec, root, BindMount(base, "/x", propagation="sideways"))
    f = os.path.join(base, "file")
    open(f, "w").close()
    with pytest.raises(errors.InvalidArgument, match="/etc is not a file in the image"):
        r.mount_bind(rec, root, BindMount(f, "/etc"))
    assert rec.calls == []


def test_symlink_escaping_the_root_is_refused(base: str) -> None:
    root = os.path.join(base, "root")
    os.symlink("../../../../..", os.path.join(root, "escape"))
    rec = RecordingSyscalls()
    with pytest.raises(errors.InvalidArgument, match="/escape/etc resolves outside"):
        r.mount_bind(rec, root, BindMount(base, "/escape/etc"))
    assert rec.calls == []


def test_absolute_symlinks_resolve_inside_the_root(base: str) -> None:
    root = os.path.join(base, "root")
    # an image's /var/run -> /run, and a link that names the host's /etc: both stay inside
    os.makedirs(os.path.join(root, "var"))
    os.symlink("/run", os.path.join(root, "var", "run"))
    os.symlink("/etc", os.path.join(root, "hostetc"))
    rec = RecordingSyscalls()
    r.mount_bind(rec, root, BindMount(base, "/var/run/x"))
    r.mount_bind(rec, root, BindMount(base, "/hostetc/sub"))
    r.mount_bind(rec, root, BindMount(base, "/../../etc/other"))  # lexically clamped at /
    mounted = [c.path for c in rec.calls if c.op == "mount" and c.args[2] == r.MS_BIND | r.MS_REC]
    assert mounted == [
        os.path.join(root, "run/x"),
        os.path.join(root, "etc/sub"),
        os.path.join(root, "etc/other"),
    ]


def test_symlink_loop_is_refused(base: str) -> None:
    root = os.path.join(base, "root")
    os.symlink("b", os.path.join(root, "a"))
    os.symlink("a", os.path.join(root, "b"))
    with pytest.raises(errors.InvalidArgument, match="too many symlinks"):
        r.resolve_in_root(root, "/a/x")


def test_missing_paths_are_skipped_when_masking_or_read_only(base: str) -> None:
    rec = RecordingSyscalls(
        failures={("mount", "/proc/gone"): errno.ENOENT, ("mount", "/proc/nope"): errno.ENOENT}
    )
    r.readonly_paths(rec, ("/proc/gone",))
    r.mask_paths(rec, ("/proc/nope",))
    assert [c.op for c in rec.calls] == ["mount", "mount"]


def test_overlay_options() -> None:
    rec = RecordingSyscalls()
    r.mount_overlay(rec, ["/s/2/fs", "/s/1/fs"], "/c/upper", "/c/work", "/c/merged")
    r.mount_overlay(rec, ["/s/2/fs", "/s/1/fs"], "", "", "/c/ro", readonly=True)
    r.mount_overlay(rec, ["/s/1/fs"], "", "", "/c/one", readonly=True)
    assert [(c.path, *c.args) for c in rec.calls] == [
        (
            "/c/merged",
            "overlay",
            "overlay",
            0,
            "lowerdir=/s/2/fs:/s/1/fs,upperdir=/c/upper,workdir=/c/work",
        ),
        ("/c/ro", "overlay", "overlay", r.MS_RDONLY, "lowerdir=/s/2/fs:/s/1/fs"),
        ("/c/one", "/s/1/fs", "", r.MS_BIND, ""),
        ("/c/one", "", "", r.MS_BIND | r.MS_REMOUNT | r.MS_RDONLY, ""),
    ]
    with pytest.raises(errors.InvalidArgument, match="needs an upper and a work directory"):
        r.mount_overlay(rec, ["/s/1/fs"], "", "", "/c/m")
    with pytest.raises(errors.InvalidArgument, match="at least one lower"):
        r.mount_overlay(rec, [], "/u", "/w", "/c/m")


def test_overlay_of_many_layers_uses_short_relative_paths() -> None:
    snaps = "/var/lib/caisson/snapshots"
    lowers = [f"{snaps}/{i:064x}/fs" for i in range(50)]
    assert len(r.overlay_data(lowers, "", "")) >= r.PAGE_SIZE
    rec = RecordingSyscalls()
    cwd = os.getcwd()
    r.mount_overlay(rec, lowers, f"{snaps}/c/upper", f"{snaps}/c/work", "merged")
    assert os.getcwd() == cwd
    chdir, mount, back = rec.calls
    assert (chdir.op, chdir.path) == ("chdir", snaps)
    assert mount.path == os.path.join(cwd, "merged")
    assert mount.args[-1] == (
        "lowerdir="
        + ":".join(f"{i:064x}/fs" for i in range(50))
        + ",upperdir=c/upper,workdir=c/work"
    )
    assert (back.op, back.path) == ("fchdir", cwd)


def test_overlay_too_long_even_when_short() -> None:
    lowers = [f"/s/{i:064x}/fs" for i in range(100)]
    with pytest.raises(errors.ResourceExhausted, match="overlay of 100 layers"):
        r.mount_overlay(RecordingSyscalls(), lowers, "/s/u", "/s/w", "/m")


def test_unmount_stacked_busy_and_absent() -> None:
    rec = RecordingSyscalls()
    r.unmount(rec, "/m")  # nothing mounted: a no-op
    rec.mount("a", "/m", "", 0, "")
    rec.mount("b", "/m", "", 0, "")
    r.unmount(rec, "/m")
    assert rec.mounted == []
    rec = RecordingSyscalls(failures={("umount2", "/m"): errno.EBUSY})
    rec.mounted.append("/m")
    rec.failures_left[("umount2", "/m")] = 3  # busy three times, then fine
    r.unmount(rec, "/m", attempts=5, pause=0)
    assert [c.args for c in rec.calls] == [(0,)] * 5
    rec = RecordingSyscalls(failures={("umount2", "/m"): errno.EBUSY})
    rec.failures_left[("umount2", "/m")] = 2  # busy until detached
    rec.mounted.append("/m")
    r.unmount(rec, "/m", attempts=2, pause=0)
    assert [c.args for c in rec.calls] == [(0,), (0,), (r.MNT_DETACH,), (r.MNT_DETACH,)]
    rec = RecordingSyscalls(failures={("umount2", "/m"): errno.EPERM})
    with pytest.raises(errors.Internal, match="cannot unmount /m"):
        r.unmount(rec, "/m")


def _fresh_root(base: str, name: str) -> str:
    root = os.path.join(base, name)
    os.makedirs(os.path.join(root, "etc"))
    os.makedirs(os.path.join(root, "proc"))
    return root


def test_workdir_is_made_before_pivot_root(base: str) -> None:
    root = _fresh_root(base, "one")
    rec = RecordingSyscalls()
    r.prepare_rootfs(rec, RootfsSpec(rootfs=root, cgroup="none", workdir="/new/dir"))
    ops = [(c.op, c.path) for c in rec.calls if c.op in ("mkdir", "pivot_root")]
    made = [p for op, p in ops if op == "mkdir"]
    assert made[-2:] == [os.path.join(root, "new"), os.path.join(root, "new/dir")], ops
    assert ops[-1][0] == "pivot_root", ops
    root = _fresh_root(base, "two")
    rec = RecordingSyscalls()
    r.prepare_rootfs(rec, RootfsSpec(rootfs=root, cgroup="none", workdir="/etc"))
    assert not rec.find("mkdir", os.path.join(root, "etc"))


def test_privileged_sys_is_writable(base: str) -> None:
    for readonly_sys, flags in ((True, r.MS_RDONLY | NSD), (False, NSD)):
        root = _fresh_root(base, f"ro-{readonly_sys}")
        rec = RecordingSyscalls()
        r.prepare_rootfs(rec, RootfsSpec(rootfs=root, cgroup="none", readonly_sys=readonly_sys))
        (m,) = rec.find("mount", os.path.join(root, "sys"))
        assert m.args[-2] == flags


HYBRID_MOUNTINFO = """\
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
40 31 0:37 / /sys/fs/cgroup/systemd rw - cgroup cgroup rw,xattr,release_agent=/x,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
"""


def test_host_cgroup_layout(base: str) -> None:
    cg = os.path.join(base, "cg")
    os.makedirs(os.path.join(cg, "cpu,cpuacct"))
    os.symlink("cpu,cpuacct", os.path.join(cg, "cpu"))
    info = os.path.join(base, "mountinfo")
    with open(info, "w") as f:
        f.write(HYBRID_MOUNTINFO.replace("/sys/fs/cgroup", cg))
    assert r.host_cgroup_layout(info, cg) == (
        "cgroup1",
        (
            r.CgroupV1Mount("cpu,cpuacct", "cpu,cpuacct"),
            r.CgroupV1Mount("memory", "memory"),
            r.CgroupV1Mount("systemd", "xattr,name=systemd"),
        ),
        (("cpu", "cpu,cpuacct"),),
    )
    with open(info, "w") as f:
        f.write(f"31 23 0:28 / {cg} rw,relatime - cgroup2 cgroup2 rw\n")
    assert r.host_cgroup_layout(info, cg) == ("cgroup2", (), ())
    with open(info, "w") as f:
        f.write("")
    assert r.host_cgroup_layout(info, cg) == ("none", (), ())


def test_cgroup1_mounts_each_hierarchy_read_only(base: str) -> None:
    root = _fresh_root(base, "v1")
    rec = RecordingSyscalls()
    spec = RootfsSpec(
        rootfs=root,
        cgroup="cgroup1",
        cgroup1=(r.CgroupV1Mount("cpu,cpuacct", "cpu,cpuacct"), r.CgroupV1Mount("pids", "pids")),
        cgroup1_links=(("cpu", "cpu,cpuacct"),),
    )
    r.prepare_rootfs(rec, spec)
    cg = os.path.join(root, "sys/fs/cgroup")
    ops = [c for c in rec.calls if c.path.startswith(cg)]
    flags = NSD | r.MS_RELATIME | r.MS_RDONLY
    assert [(c.op, c.path, *c.args) for c in ops if c.op != "mkdir"] == [
        ("mount", cg, "tmpfs", "tmpfs", NSD, "mode=755"),
        ("mount", f"{cg}/cpu,cpuacct", "cgroup", "cgroup", flags, "cpu,cpuacct"),
        ("mount", f"{cg}/pids", "cgroup", "cgroup", flags, "pids"),
        ("symlink", f"{cg}/cpu", "cpu,cpuacct"),
    ]


def test_etc_files_are_read_only_with_a_read_only_rootfs(base: str) -> None:
    src = os.path.join(base, "hostname")
    with open(src, "w") as f:
        f.write("box\n")
    for readonly in (False, True):
        root = _fresh_root(base, f"etc-{readonly}")
        rec = RecordingSyscalls()
        r.prepare_rootfs(
            rec, RootfsSpec(rootfs=root, cgroup="none", readonly=readonly, hostname_file=src)
        )
        remounts = [
            c
            for c in rec.find("mount", os.path.join(root, "etc/hostname"))
            if c.args[-2] & r.MS_RDONLY
        ]
        assert len(remounts) == int(readonly)


@pytest.mark.skipif(os.geteuid() != 0, reason="mknod needs root")
def test_host_devices_lists_nodes_below_dev_without_the_containers_own(tmp_path: Path) -> None:
    # A fake /dev: regular files and symlinks are not devices; pts and friends are skipped.
    (tmp_path / "pts").mkdir()
    (tmp_path / "net").mkdir()
    (tmp_path / "notadevice").write_text("x")
    (tmp_path / "link").symlink_to("notadevice")
    os.mknod(tmp_path / "kmsg", stat.S_IFCHR | 0o644, os.makedev(1, 11))
    os.mknod(tmp_path / "net" / "tun", stat.S_IFCHR | 0o666, os.makedev(10, 200))
    os.mknod(tmp_path / "pts" / "0", stat.S_IFCHR | 0o620, os.makedev(136, 0))
    os.mknod(tmp_path / "loop0", stat.S_IFBLK | 0o660, os.makedev(7, 0))
    got = r.host_devices(str(tmp_path))

    def node(rel: str) -> tuple[str, int, int]:
        st = os.lstat(tmp_path / rel)  # mode as made (the umask applies to mknod)
        return rel, st.st_mode, st.st_rdev

    assert got == [node("kmsg"), node("loop0"), node("net/tun")]
    assert [stat.S_ISBLK(m) for _, m, _ in got] == [False, True, False]
