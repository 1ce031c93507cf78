"""Capabilities: docker's --cap-add/--cap-drop/--privileged arithmetic and wording, and, as
root in forked children only, the sets the kernel reports after apply/finalize, before and
after execve, for root and for a non-root user."""

from __future__ import annotations

import os
from collections.abc import Callable

import pytest

from caisson.executor import capabilities as c
from caisson.executor.users import ExecUser

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="needs root (capset, setuid)")


# --- the arithmetic -----------------------------------------------------------------------


def test_names_and_numbers() -> None:
    assert c.CAPS["CAP_CHOWN"] == 0
    assert c.CAPS["CAP_SYS_ADMIN"] == 21
    assert c.CAPS["CAP_CHECKPOINT_RESTORE"] == 40
    assert len(c.CAPS) == 41
    assert len(c.DEFAULT) == 14
    assert c.mask(c.DEFAULT) == 0xA80425FB  # what `docker run busybox grep CapEff` prints
    assert c.names(0xA80425FB) == c.DEFAULT


def test_last_cap_is_the_kernels() -> None:
    with open("/proc/sys/kernel/cap_last_cap") as f:
        assert c.last_cap() == int(f.read())
    assert c.supported(37) == frozenset(n for n, v in c.CAPS.items() if v <= 37)


def test_nothing_asked_is_docker_default() -> None:
    assert c.effective_set([], [], False) == c.DEFAULT


def test_add_and_drop_any_spelling() -> None:
    got = c.effective_set(["net_admin", "CAP_SYS_TIME", "Sys_Ptrace"], ["mknod", "CAP_KILL"], False)
    assert got == (c.DEFAULT - {"CAP_MKNOD", "CAP_KILL"}) | {
        "CAP_NET_ADMIN",
        "CAP_SYS_TIME",
        "CAP_SYS_PTRACE",
    }


def test_add_wins_over_drop_of_the_same_cap() -> None:
    # docker drops from the defaults first, then appends the adds
    assert "CAP_CHOWN" in c.effective_set(["chown"], ["chown"], False)


def test_drop_all_then_add() -> None:
    assert c.effective_set(["NET_BIND_SERVICE"], ["ALL"], False) == {"CAP_NET_BIND_SERVICE"}
    assert c.effective_set([], ["all"], False) == frozenset()


def test_add_all_except_drops() -> None:
    got = c.effective_set(["ALL"], ["SYS_ADMIN"], False, last=40)
    assert got == frozenset(c.CAPS) - {"CAP_SYS_ADMIN"}


def test_privileged_is_every_supported_cap_whatever_else() -> None:
    assert c.effective_set(["bogus"], ["ALL"], True, last=40) == frozenset(c.CAPS)
    assert c.effective_set([], [], True, last=37) == c.supported(37)


def test_all_is_limited_to_the_kernel() -> None:
    assert "CAP_BPF" not in c.effective_set(["ALL"], [], False, last=38)


@pytest.mark.parametrize(
    ("add", "drop", "message"),
    [
        (["FOO"], [], 'unknown capability: "CAP_FOO"'),
        ([], ["cap_bar"], 'unknown capability: "CAP_BAR"'),
        (["CAP_"], [], 'unknown capability: "CAP_"'),
    ],
)
def test_unknown_capability_is_refused(add: list[str], drop: list[str], message: str) -> None:
    with pytest.raises(ValueError) as e:
        c.effective_set(add, drop, False)
    assert str(e.value) == message


def test_capability_the_kernel_lacks_is_refused() -> None:
    with pytest.raises(ValueError) as e:
        c.effective_set(["checkpoint_restore"], [], False, last=39)
    assert str(e.value) == (
        "capability not supported by your kernel or not available in the current environment:"
        ' "CAP_CHECKPOINT_RESTORE"'
    )


# --- the kernel, in forked children ---------------------------------------------------------


def status(text: str) -> dict[str, str]:
    return {k: v.strip() for k, _, v in (line.partition(":") for line in text.splitlines())}


def in_child(fn: Callable[[int], bytes]) -> str:
    """Runs `fn(write_fd)` in a forked child and returns what it returned, or what reached
    `write_fd` before it exec'd (raises with the child's error): the caps and ids it changes
    are the child's alone, never this test process's."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        code = 0
        try:
            os.close(r)
            out = fn(w)
        except BaseException as e:  # noqa: BLE001 - reported to the parent
            out, code = f"{type(e).__name__}: {e}".encode(), 1
        try:
            while out:
                out = out[os.write(w, out) :]
        finally:
            os._exit(code)
    os.close(w)
    with os.fdopen(r, "rb") as f:
        data = f.read().decode()
    _, st = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(st) == 0, data
    return data


def exec_status(prepare: Callable[[], object]) -> dict[str, str]:
    """/proc/self/status of /bin/cat exec'd in a child after `prepare` ran there."""

    def child(w: int) -> bytes:
        prepare()
        os.dup2(w, 1)
        os.execv("/bin/cat", ["cat", "/proc/self/status"])

    return status(in_child(child))


def own_status() -> bytes:
    with open("/proc/self/status", "rb") as f:
        return f.read()


def hex16(m: int) -> str:
    return f"{m:016x}"


@pytest.fixture
def bounding() -> int:
    """The caps this test process may hand out (a restricted host may lack some)."""
    with open("/proc/self/status") as f:
        return int(status(f.read())["CapBnd"], 16)


ROOT = ExecUser(0, 0, (0,), "/root")
NOBODY = ExecUser(1000, 1000, (1000, 20), "/home/u")


@pytest.mark.root
@needs_root
def test_apply_sets_bounding_permitted_effective(bounding: int) -> None:
    s = status(in_child(lambda w: (c.apply(c.DEFAULT), own_status())[1]))
    want = hex16(c.mask(c.DEFAULT) & bounding)
    assert (s["CapEff"], s["CapPrm"], s["CapBnd"]) == (want, want, want)
    assert (s["CapInh"], s["CapAmb"]) == (hex16(0), hex16(0))


@pytest.mark.root
@needs_root
def test_root_keeps_the_caps_across_execve(bounding: int) -> None:
    caps = c.effective_set(["NET_ADMIN"], ["MKNOD"], False)
    s = exec_status(lambda: c.finalize(ROOT, caps))
    want = hex16(c.mask(caps) & bounding)
    assert (s["CapEff"], s["CapPrm"], s["CapBnd"]) == (want, want, want)
    assert (s["CapInh"], s["CapAmb"]) == (hex16(0), hex16(0))
    assert s["Uid"].split() == ["0"] * 4
    assert s["Groups"].split() == ["0"]


@pytest.mark.root
@needs_root
def test_non_root_user_gets_no_caps_like_docker(bounding: int) -> None:
    s = exec_status(lambda: c.finalize(NOBODY, c.DEFAULT))
    assert (s["CapEff"], s["CapPrm"], s["CapInh"], s["CapAmb"]) == (hex16(0),) * 4
    assert s["CapBnd"] == hex16(c.mask(c.DEFAULT) & bounding)
    assert s["Uid"].split() == ["1000"] * 4
    assert s["Gid"].split() == ["1000"] * 4
    assert sorted(s["Groups"].split()) == ["1000", "20"]


@pytest.mark.root
@needs_root
def test_keep_for_user_passes_caps_through_ambient(bounding: int) -> None:
    caps = frozenset({"CAP_NET_BIND_SERVICE", "CAP_CHOWN"})
    s = exec_status(lambda: c.finalize(NOBODY, caps, keep_for_user=True))
    want = hex16(c.mask(caps) & bounding)
    assert (s["CapEff"], s["CapPrm"], s["CapInh"], s["CapAmb"], s["CapBnd"]) == (want,) * 5
    assert s["Uid"].split() == ["1000"] * 4


@pytest.mark.root
@needs_root
def test_privileged_gets_all_the_host_has(bounding: int) -> None:
    all_caps = c.effective_set([], [], True)
    s = exec_status(lambda: c.finalize(ROOT, all_caps))
    assert s["CapEff"] == s["CapBnd"] == hex16(c.mask(all_caps) & bounding)


@pytest.mark.root
@needs_root
def test_no_caps_at_all() -> None:
    s = exec_status(lambda: c.finalize(ROOT, frozenset()))
    assert (s["CapEff"], s["CapPrm"], s["CapBnd"]) == (hex16(0),) * 3


@pytest.mark.root
@needs_root
def test_apply_reports_what_it_granted(bounding: int) -> None:
    out = in_child(lambda w: " ".join(sorted(c.apply(c.effective_set([], [], True)))).encode())
    assert set(out.split()) == c.names(c.mask(c.supported()) & bounding)


@pytest.mark.root
@needs_root
def test_no_new_privs() -> None:
    s = exec_status(c.set_no_new_privs)
    assert s["NoNewPrivs"] == "1"
