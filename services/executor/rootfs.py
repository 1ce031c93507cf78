"""A container's root filesystem: the overlay of its image's snapshots, and the mounts made in
its own mount namespace before its process runs. No transport; all privileged calls go
through a Syscalls object, so the exact sequence is unit-tested with the recording fake.

Modelled on runc's libcontainer/rootfs_linux.go, as named steps:
    mount_overlay / unmount          in the executor's namespace (the container's rootfs)
    prepare_rootfs(sc, spec)        in the container's new mount namespace, by its init:
        make_private -> bind_rootfs -> mount_proc -> mount_dev (nodes, symlinks, pts, shm,
        mqueue) -> mount_sys -> user tmpfs and binds -> working dir -> /etc files -> pivot_root ->
        readonly_paths -> mask_paths -> readonly rootfs
Every destination inside the rootfs is resolved component by component with lstat, symlinks
followed as they would be inside the container (absolute targets from the rootfs), and a
symlink that climbs above the rootfs is refused: an image cannot redirect a mount onto the
host. Mount points the image lacks are created (a directory, or an empty file for a file
source), as docker does.

The container init imports this module on every start, so it imports nothing that costs an
import (typing, dataclasses, contextlib).
"""

from __future__ import annotations

import errno
import os
import posixpath
import stat
import time

from caisson import errors
from caisson.ocidefaults import MASKED_PATHS, READONLY_PATHS

TYPE_CHECKING = False  # typing's, without importing typing
if TYPE_CHECKING:
    from caisson.executor.syscalls import Syscalls

MS_RDONLY = 0x1
MS_NOSUID = 0x2
MS_NODEV = 0x4
MS_NOEXEC = 0x8
MS_SYNCHRONOUS = 0x10
MS_REMOUNT = 0x20
MS_DIRSYNC = 0x80
MS_NOATIME = 0x400
MS_NODIRATIME = 0x800
MS_BIND = 0x1000
MS_REC = 0x4000
MS_UNBINDABLE = 1 << 17
MS_PRIVATE = 1 << 18
MS_SLAVE = 1 << 19
MS_SHARED = 1 << 20
MS_RELATIME = 1 << 21
MS_STRICTATIME = 1 << 24
MNT_DETACH = 0x2

PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")
MAX_SYMLINKS = 40  # the kernel's limit on symlinks followed in one lookup


# (name, major, minor): runc's AllowedDevices that it creates, all mode 0666 root:root.
DEV_NODES = (
    ("null", 1, 3),
    ("zero", 1, 5),
    ("full", 1, 7),
    ("random", 1, 8),
    ("urandom", 1, 9),
    ("tty", 5, 0),
)
DEV_SYMLINKS = (
    ("fd", "/proc/self/fd"),
    ("stdin", "/proc/self/fd/0"),
    ("stdout", "/proc/self/fd/1"),
    ("stderr", "/proc/self/fd/2"),
    ("ptmx", "pts/ptmx"),
)

_PROPAGATION = {
    "private": MS_PRIVATE,
    "rprivate": MS_PRIVATE | MS_REC,
    "shared": MS_SHARED,
    "rshared": MS_SHARED | MS_REC,
    "slave": MS_SLAVE,
    "rslave": MS_SLAVE | MS_REC,
    "unbindable": MS_UNBINDABLE,
    "runbindable": MS_UNBINDABLE | MS_REC,
}

# mount(8) option words that are flags; (flag, set?) — the rest go to the fs as data.
_FLAG_WORDS = {
    "ro": (MS_RDONLY, True),
    "rw": (MS_RDONLY, False),
    "nosuid": (MS_NOSUID, True),
    "suid": (MS_NOSUID, False),
    "nodev": (MS_NODEV, True),
    "dev": (MS_NODEV, False),
    "noexec": (MS_NOEXEC, True),
    "exec": (MS_NOEXEC, False),
    "sync": (MS_SYNCHRONOUS, True),
    "async": (MS_SYNCHRONOUS, False),
    "dirsync": (MS_DIRSYNC, True),
    "noatime": (MS_NOATIME, True),
    "atime": (MS_NOATIME, False),
    "nodiratime": (MS_NODIRATIME, True),
    "diratime": (MS_NODIRATIME, False),
    "relatime": (MS_RELATIME, True),
    "norelatime": (MS_RELATIME, False),
    "strictatime": (MS_STRICTATIME, True),
    "nostrictatime": (MS_STRICTATIME, False),
}


# --- the overlay ---------------------------------------------------------------------------


def overlay_data(lowerdirs: list[str], upperdir: str, workdir: str) -> str:
    data = "lowerdir=" + ":".join(lowerdirs)
    if upperdir:
        data += f",upperdir={upperdir},workdir={workdir}"
    return data


def mount_overlay(
    sc: Syscalls,
    lowerdirs: list[str],
    upperdir: str,
    workdir: str,
    target: str,
    readonly: bool = False,
) -> None:
    """Mounts the overlay of `lowerdirs` (snapshot fs dirs, top layer first) on `target`.
    Writable: `upperdir` and `workdir` (same filesystem) take the container's changes.
    Read-only: no upper; a single layer is bound read-only (overlayfs wants two lowers then).

    The mount data must fit in one page. With many layers the absolute paths do not, so, as
    containerd does, the paths are made relative to their common parent (the snapshots dir)
    and the mount is made from there: this changes the working directory for the duration,
    so call it from a single-threaded process (the container's init or a helper)."""
    if not lowerdirs:
        raise errors.InvalidArgument("an overlay needs at least one lower directory")
    if readonly:
        if len(lowerdirs) == 1:
            sc.mount(lowerdirs[0], target, "", MS_BIND, "")
            sc.mount("", target, "", MS_BIND | MS_REMOUNT | MS_RDONLY, "")
            return
        upperdir = workdir = ""
    elif not upperdir or not workdir:
        raise errors.InvalidArgument("a writable overlay needs an upper and a work directory")
    flags = MS_RDONLY if readonly else 0
    data = overlay_data(lowerdirs, upperdir, workdir)
    if len(data) < PAGE_SIZE:
        sc.mount("overlay", target, "overlay", flags, data)
        return
    dirs = lowerdirs + ([upperdir, workdir] if upperdir else [])
    base = os.path.commonpath([os.path.abspath(d) for d in dirs])
    rel = [os.path.relpath(os.path.abspath(d), base) for d in dirs]
    short = overlay_data(rel[: len(lowerdirs)], *(rel[len(lowerdirs) :] or ["", ""]))
    if len(short) >= PAGE_SIZE:
        raise errors.ResourceExhausted(
            f"cannot mount an overlay of {len(lowerdirs)} layers: its options take "
            f"{len(short)} bytes even with paths relative to {base}, over the kernel's "
            f"limit of {PAGE_SIZE - 1}"
        )
    cwd = os.open(".", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        sc.chdir(base)
        try:
            sc.mount("overlay", os.path.abspath(target), "overlay", flags, short)
        finally:
            sc.fchdir(cwd)
    finally:
        os.close(cwd)


def unmount(sc: Syscalls, target: str, attempts: int = 5, pause: float = 0.1) -> None:
    """Unmounts everything mounted on `target` (mounts may be stacked); a no-op when nothing
    is. A busy mount is retried, then detached (lazy) as the last resort, so no mount is left
    visible on `target` when this returns."""
    busy = 0
    while True:
        try:
            sc.umount2(target, MNT_DETACH if busy >= attempts else 0)
        except OSError as e:
            if e.errno in (errno.EINVAL, errno.ENOENT):
                return  # not (or no longer) a mount point
            if e.errno != errno.EBUSY or busy >= attempts:
                raise errors.Internal(f"cannot unmount {target}: {e.strerror}") from e
            busy += 1
            time.sleep(pause)


# --- paths inside the rootfs ---------------------------------------------------------------


def resolve_in_root(root: str, path: str) -> tuple[str, list[str]]:
    """Resolves container path `path` inside `root` as the container would see it, following
    symlinks with lstat one component at a time (absolute targets start from `root`).
    Returns the host path of the longest existing prefix (no symlink left in it) and the
    components that do not exist yet. A symlink that climbs above `root` is refused."""
    root = os.path.abspath(root)
    todo = [c for c in posixpath.normpath("/" + path).split("/") if c]
    todo.reverse()
    parts: list[str] = []  # resolved components below root
    links = 0
    while todo:
        comp = todo.pop()
        if comp == ".":
            continue
        if comp == "..":
            if not parts:
                raise errors.InvalidArgument(
                    f"mount destination {path} resolves outside the container's root"
                )
            parts.pop()
            continue
        host = os.path.join(root, *parts, comp)
        try:
            st = os.lstat(host)
        except FileNotFoundError:
            return os.path.join(root, *parts), [comp, *reversed(todo)]
        if not stat.S_ISLNK(st.st_mode):
            parts.append(comp)
            continue
        links += 1
        if links > MAX_SYMLINKS:
            raise errors.InvalidArgument(f"mount destination {path}: too many symlinks")
        target = os.readlink(host)
        if target.startswith("/"):
            parts = []
        todo.extend(reversed([c for c in target.split("/") if c]))
    return os.path.join(root, *parts), []


def mountpoint(sc: Syscalls, root: str, dest: str, is_dir: bool = True) -> str:
    """The host path to mount on for container path `dest`, created when missing (parents as
    directories; the last as a directory or an empty file)."""
    path, missing = resolve_in_root(root, dest)
    for i, comp in enumerate(missing):
        path = os.path.join(path, comp)
        if i == len(missing) - 1 and not is_dir:
            sc.create_file_path(path, 0o644)
        else:
            sc.mkdir_path(path, 0o755)
    if missing:
        return path
    if os.path.isdir(path) != is_dir:
        kind = "directory" if is_dir else "file"
        raise errors.InvalidArgument(f"mount destination {dest} is not a {kind} in the image")
    return path


def parse_options(options: tuple[str, ...], flags: int = 0) -> tuple[int, str]:
    """Splits mount(8) style options into mount flags (starting from `flags`) and fs data."""
    data = []
    for opt in options:
        word = _FLAG_WORDS.get(opt)
        if word is None:
            data.append(opt)
        elif word[1]:
            flags |= word[0]
        else:
            flags &= ~word[0]
    return flags, ",".join(data)


# --- the spec ------------------------------------------------------------------------------


class BindMount:
    """-v/--mount type=bind: `source` on the host, `destination` in the container."""

    def __init__(
        self,
        source: str,
        destination: str,
        readonly: bool = False,
        recursive: bool = True,  # rbind, docker's default for -v
        propagation: str = "rprivate",
    ) -> None:
        self.source = source
        self.destination = destination
        self.readonly = readonly
        self.recursive = recursive
        self.propagation = propagation


class TmpfsMount:
    """--tmpfs DEST[:OPTS]: docker mounts it nosuid,nodev,noexec unless OPTS say otherwise."""

    def __init__(self, destination: str, options: tuple[str, ...] = ()) -> None:
        self.destination = destination
        self.options = options


class CgroupV1Mount:
    """One v1 hierarchy as the host mounts it under /sys/fs/cgroup."""

    def __init__(self, name: str, options: str) -> None:
        self.name = name  # the directory: "memory", "cpu,cpuacct", "systemd"
        self.options = options  # the mount data naming it: "memory", "cpu,cpuacct", "name=systemd"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, CgroupV1Mount):
            return NotImplemented
        return (self.name, self.options) == (other.name, other.options)

    def __hash__(self) -> int:
        return hash((self.name, self.options))

    def __repr__(self) -> str:
        return f"CgroupV1Mount({self.name!r}, {self.options!r})"


def host_cgroup_layout(
    mountinfo: str = "/proc/self/mountinfo", root: str = "/sys/fs/cgroup"
) -> tuple[str, tuple[CgroupV1Mount, ...], tuple[tuple[str, str], ...]]:
    """How the host mounts cgroups, for RootfsSpec's cgroup, cgroup1 and cgroup1_links:
    ("cgroup2", (), ()) on a unified host, ("cgroup1", hierarchies, symlinks) when v1
    hierarchies sit under `root` (v1 and hybrid hosts; the hybrid's cgroup2 is left out, as
    docker leaves it)."""
    mounts = []
    with open(mountinfo) as f:
        for line in f:
            pre, _, post = line.partition(" - ")
            fields, (fstype, _source, options) = pre.split(), post.split()[:3]
            point = fields[4]
            if point == root and fstype == "cgroup2":
                return "cgroup2", (), ()
            if fstype == "cgroup" and os.path.dirname(point) == root:
                # The superblock's options name the hierarchy; rw/ro are the mount's, and a
                # release_agent may not be given from inside a cgroup namespace.
                keep = [
                    o
                    for o in options.split(",")
                    if o not in ("rw", "ro") and not o.startswith("release_agent=")
                ]
                mounts.append(CgroupV1Mount(os.path.basename(point), ",".join(keep)))
    if not mounts:
        return "none", (), ()
    links = []
    try:
        for entry in sorted(os.scandir(root), key=lambda e: e.name):
            if entry.is_symlink():
                links.append((entry.name, os.readlink(entry.path)))
    except OSError:
        pass
    return "cgroup1", tuple(mounts), tuple(links)


class RootfsSpec:
    def __init__(
        self,
        rootfs: str,  # the mounted overlay, as a host path
        *,
        readonly: bool = False,  # --read-only
        shm_size: int = 64 * 1024 * 1024,  # --shm-size, bytes
        binds: tuple[BindMount, ...] = (),
        tmpfs: tuple[TmpfsMount, ...] = (),
        # host paths of the per-container files bound on /etc/hostname, /etc/hosts,
        # /etc/resolv.conf ("" = none)
        hostname_file: str = "",
        hosts_file: str = "",
        resolv_conf_file: str = "",
        # /sys/fs/cgroup: "cgroup2" mounts cgroup2 read-only (with a cgroup namespace it shows
        # the container's own subtree); "cgroup1" mounts a tmpfs holding each of `cgroup1`'s
        # hierarchies read-only (each showing the container's own cgroup too) and
        # `cgroup1_links`, as docker does on a v1 host (its tmpfs stays rw, as docker's);
        # "none" leaves it; any other value is a host path bound ro.
        cgroup: str = "cgroup2",
        cgroup1: tuple[CgroupV1Mount, ...] = (),
        cgroup1_links: tuple[tuple[str, str], ...] = (),  # (name, target): cpu -> cpu,cpuacct
        masked_paths: tuple[str, ...] = MASKED_PATHS,
        readonly_paths: tuple[str, ...] = READONLY_PATHS,
        # /sys read-only (docker's default); a privileged container's is writable.
        readonly_sys: bool = True,
        # --privileged: every device node of the host's /dev is made in the container's too.
        host_devices: bool = False,
        # The process's working directory, created (root-owned, 0755) when missing, as
        # docker does.
        workdir: str = "",
    ) -> None:
        self.rootfs = rootfs
        self.readonly = readonly
        self.shm_size = shm_size
        self.binds = binds
        self.tmpfs = tmpfs
        self.hostname_file = hostname_file
        self.hosts_file = hosts_file
        self.resolv_conf_file = resolv_conf_file
        self.cgroup = cgroup
        self.cgroup1 = cgroup1
        self.cgroup1_links = cgroup1_links
        self.masked_paths = masked_paths
        self.readonly_paths = readonly_paths
        self.readonly_sys = readonly_sys
        self.host_devices = host_devices
        self.workdir = workdir


# --- prepare_rootfs and its steps ----------------------------------------------------------


def prepare_rootfs(sc: Syscalls, spec: RootfsSpec) -> None:
    """Builds the container's mount tree and enters it with pivot_root. Runs in the
    container's new mount namespace (its init, before exec); afterwards "/" is the rootfs and
    no host mount is reachable."""
    make_private(sc)
    bind_rootfs(sc, spec)
    mount_proc(sc, spec)
    mount_dev(sc, spec)
    mount_sys(sc, spec)
    mount_user(sc, spec)
    make_workdir(sc, spec)
    bind_etc_files(sc, spec)
    pivot_root(sc, spec.rootfs)
    readonly_paths(sc, spec.readonly_paths)
    mask_paths(sc, spec.masked_paths)
    if spec.readonly:
        sc.mount("", "/", "", MS_BIND | MS_REMOUNT | MS_RDONLY, "")


def make_private(sc: Syscalls) -> None:
    # No mount made here may propagate back to the host's namespace, and pivot_root refuses
    # shared mounts.
    sc.mount("", "/", "", MS_REC | MS_PRIVATE, "")


def bind_rootfs(sc: Syscalls, spec: RootfsSpec) -> None:
    # pivot_root needs the new root to be a mount point.
    sc.mount(spec.rootfs, spec.rootfs, "", MS_BIND | MS_REC, "")


def mount_proc(sc: Syscalls, spec: RootfsSpec) -> None:
    path = mountpoint(sc, spec.rootfs, "/proc")
    sc.mount("proc", path, "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, "")


def mount_dev(sc: Syscalls, spec: RootfsSpec) -> None:
    dev = mountpoint(sc, spec.rootfs, "/dev")
    sc.mount("tmpfs", dev, "tmpfs", MS_NOSUID | MS_STRICTATIME, "mode=755,size=65536k")
    for name, major, minor in DEV_NODES:
        sc.mknod_path(os.path.join(dev, name), stat.S_IFCHR | 0o666, os.makedev(major, minor))
    for name, target in DEV_SYMLINKS:
        sc.symlink_path(target, os.path.join(dev, name))
    for name in ("pts", "shm", "mqueue"):
        sc.mkdir_path(os.path.join(dev, name), 0o755)
    if spec.host_devices:
        for rel, mode, rdev in host_devices():
            parts = rel.split("/")
            for n in range(1, len(parts)):
                parent = os.path.join(dev, *parts[:n])
                if not os.path.isdir(parent):
                    sc.mkdir_path(parent, 0o755)
            path = os.path.join(dev, rel)
            if not os.path.lexists(path):
                sc.mknod_path(path, mode, rdev)
    sc.mount(
        "devpts",
        os.path.join(dev, "pts"),
        "devpts",
        MS_NOSUID | MS_NOEXEC,
        "newinstance,ptmxmode=0666,mode=0620,gid=5",
    )
    sc.mount(
        "shm",
        os.path.join(dev, "shm"),
        "tmpfs",
        MS_NOSUID | MS_NODEV | MS_NOEXEC,
        f"mode=1777,size={spec.shm_size}",
    )
    sc.mount("mqueue", os.path.join(dev, "mqueue"), "mqueue", MS_NOSUID | MS_NODEV | MS_NOEXEC, "")


# Not devices of the host to copy: the container has its own (runc's HostDevices skips these).
_HOST_DEV_SKIP = {"pts", "shm", "mqueue", "fd", "console", "ptmx", ".lxc", ".lxd-mounts", ".udev"}


def host_devices(root: str = "/dev") -> list[tuple[str, int, int]]:
    """(path relative to /dev, mode with the S_IF type, device number) of every character and
    block device under the host's `root`, as runc lists them for a privileged container."""
    out: list[tuple[str, int, int]] = []

    def walk(d: str, rel: str) -> None:
        try:
            entries = list(os.scandir(d))
        except OSError:
            return
        for e in entries:
            if not rel and e.name in _HOST_DEV_SKIP:
                continue
            path = os.path.join(rel, e.name)
            try:
                st = e.stat(follow_symlinks=False)
            except OSError:
                continue
            if stat.S_ISDIR(st.st_mode):
                walk(e.path, path)
            elif stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode):
                out.append((path, st.st_mode & (stat.S_IFMT(st.st_mode) | 0o7777), st.st_rdev))

    walk(root, "")
    return sorted(out)


def mount_sys(sc: Syscalls, spec: RootfsSpec) -> None:
    # sysfs shows the network devices of the mounter's net namespace: the container's own.
    path = mountpoint(sc, spec.rootfs, "/sys")
    ro = MS_RDONLY if spec.readonly_sys else 0
    sc.mount("sysfs", path, "sysfs", ro | MS_NOSUID | MS_NODEV | MS_NOEXEC, "")
    if spec.cgroup == "none":
        return
    cg = mountpoint(sc, spec.rootfs, "/sys/fs/cgroup")
    flags = MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_RELATIME
    if spec.cgroup == "cgroup2":
        sc.mount("cgroup2", cg, "cgroup2", flags | MS_RDONLY, "")
    elif spec.cgroup == "cgroup1":
        sc.mount("tmpfs", cg, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=755")
        for h in spec.cgroup1:
            path = os.path.join(cg, h.name)
            sc.mkdir_path(path, 0o755)
            sc.mount("cgroup", path, "cgroup", flags | MS_RDONLY, h.options)
        for name, target in spec.cgroup1_links:
            sc.symlink_path(target, os.path.join(cg, name))
    else:
        sc.mount(spec.cgroup, cg, "", MS_BIND | MS_REC, "")
        sc.mount("", cg, "", MS_BIND | MS_REMOUNT | MS_RDONLY | flags, "")


def _depth(dest: str) -> int:
    return len([c for c in posixpath.normpath("/" + dest).split("/") if c])


def mount_user(sc: Syscalls, spec: RootfsSpec) -> None:
    """--tmpfs and bind mounts, parents before children (docker sorts by path depth)."""
    mounts: list[BindMount | TmpfsMount] = [*spec.tmpfs, *spec.binds]
    for m in sorted(mounts, key=lambda m: _depth(m.destination)):
        if isinstance(m, TmpfsMount):
            mount_tmpfs(sc, spec.rootfs, m)
        else:
            mount_bind(sc, spec.rootfs, m)


def mount_tmpfs(sc: Syscalls, root: str, m: TmpfsMount) -> None:
    flags, data = parse_options(m.options, MS_NOSUID | MS_NODEV | MS_NOEXEC)
    path = mountpoint(sc, root, m.destination)
    sc.mount("tmpfs", path, "tmpfs", flags, data)


def mount_bind(sc: Syscalls, root: str, m: BindMount) -> None:
    if m.propagation not in _PROPAGATION:
        raise errors.InvalidArgument(
            f"invalid propagation {m.propagation!r} for {m.destination}: "
            f"expected one of {', '.join(_PROPAGATION)}"
        )
    try:
        is_dir = stat.S_ISDIR(os.stat(m.source).st_mode)
    except FileNotFoundError:
        raise errors.InvalidArgument(f"bind source path does not exist: {m.source}") from None
    path = mountpoint(sc, root, m.destination, is_dir)
    sc.mount(m.source, path, "", MS_BIND | (MS_REC if m.recursive else 0), "")
    if m.readonly:
        # A bind takes its flags from a remount (the first mount ignores MS_RDONLY).
        sc.mount("", path, "", MS_BIND | MS_REMOUNT | MS_RDONLY, "")
    sc.mount("", path, "", _PROPAGATION[m.propagation], "")


def make_workdir(sc: Syscalls, spec: RootfsSpec) -> None:
    """runc's cwd step: a missing working directory is made by root before pivot_root (after
    the mounts, so one under a volume lands in the volume) and before a --read-only remount;
    one that exists as something else is left for chdir to report."""
    if not spec.workdir:
        return
    path, missing = resolve_in_root(spec.rootfs, spec.workdir)
    for comp in missing:
        path = os.path.join(path, comp)
        sc.mkdir_path(path, 0o755)


def bind_etc_files(sc: Syscalls, spec: RootfsSpec) -> None:
    for source, dest in (
        (spec.hostname_file, "/etc/hostname"),
        (spec.hosts_file, "/etc/hosts"),
        (spec.resolv_conf_file, "/etc/resolv.conf"),
    ):
        if source:
            # docker mounts them read-only along with a --read-only rootfs.
            mount_bind(sc, spec.rootfs, BindMount(source, dest, readonly=spec.readonly))


def pivot_root(sc: Syscalls, rootfs: str) -> None:
    """runc's trick: pivot_root(".", ".") stacks the old root on the new one, which needs no
    put_old directory in the image; the old root is then made a slave (so its unmount does not
    propagate to the host) and detached from where it sits."""
    old = os.open("/", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        sc.chdir(rootfs)
        sc.pivot_root(".", ".")
        sc.fchdir(old)
    finally:
        os.close(old)
    sc.mount("", ".", "", MS_SLAVE | MS_REC, "")
    sc.umount2(".", MNT_DETACH)
    sc.chdir("/")


def readonly_paths(sc: Syscalls, paths: tuple[str, ...]) -> None:
    """Binds each path (after pivot_root; absent ones skipped) onto itself and remounts it
    read-only, keeping /proc's nosuid,nodev,noexec."""
    for path in paths:
        try:
            sc.mount(path, path, "", MS_BIND | MS_REC, "")
        except FileNotFoundError:
            continue
        sc.mount(
            "",
            path,
            "",
            MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC,
            "",
        )


def mask_paths(sc: Syscalls, paths: tuple[str, ...]) -> None:
    """Hides each path (after pivot_root; absent ones skipped): /dev/null bound over a file,
    an empty read-only tmpfs over a directory (the bind fails with ENOTDIR), as runc does."""
    for path in paths:
        try:
            sc.mount("/dev/null", path, "", MS_BIND, "")
        except FileNotFoundError:
            continue
        except NotADirectoryError:
            sc.mount("tmpfs", path, "tmpfs", MS_RDONLY, "")
