"""`exec`: another process in a running container, under a monitor of its own that joins the
container's pid namespace; the init (containerinit, mode "exec") joins the others and applies
the container's user, capabilities and seccomp before it execve's. Exec output is not logged
(docker does not either); the caller streams it."""

from __future__ import annotations

import secrets
import threading
from collections.abc import Iterator
from pathlib import Path

from caisson import errors, logs
from caisson.executor import capabilities, containers, monitor
from caisson.executor.containerinit import InitSpec, ProcessSpec
from caisson.executor.containers import (
    ContainerManager,
    _init_argv,
    _init_env,
    _write_atomic,
    wait_monitor,
)
from caisson.executor.rmtree import remove_tree as rmtree
from caisson_api.executor.v1 import containers_pb2 as pb

log = logs.get("caisson.executor.exec")


class ExecManager:
    def __init__(self, manager: ContainerManager) -> None:
        self.m = manager

    def _init_spec(self, spec: pb.ContainerSpec, pid: int, open_: pb.ExecOpen) -> InitSpec:
        proc = open_.process
        privileged = open_.privileged or spec.privileged
        caps = capabilities.effective_set(list(spec.cap_add), list(spec.cap_drop), privileged)
        nss = ["ipc", "uts", "cgroup", "mnt"]
        if (spec.network_mode or "none") != "host":
            nss.insert(2, "net")
        base = self.m._init_spec(spec)
        return InitSpec(
            mode="exec",
            process=ProcessSpec(
                args=list(proc.args),
                env=list(proc.env),
                cwd=proc.cwd or spec.process.cwd or "/",
                user=proc.user or spec.process.user,
                groups=list(spec.process.additional_groups),
            ),
            namespaces=nss,
            target_pid=pid,
            cgroup_procs=base.cgroup_procs,
            rlimits=base.rlimits,
            caps=sorted(caps),
            no_new_privs=spec.no_new_privileges,
            console=proc.tty,
            seccomp_bpf="" if privileged else base.seccomp_bpf,
            seccomp_flags=0 if privileged else base.seccomp_flags,
        )

    def run(
        self,
        open_: pb.ExecOpen,
        requests: Iterator[pb.ExecRequest],
        gone: threading.Event,
    ) -> Iterator[pb.ExecResponse]:
        from caisson.executor.service_containers import close_when, pump_input, state_pb

        st = self.m.get(open_.id)
        if st.status == containers.PAUSED:
            raise errors.FailedPrecondition(
                f"Container {open_.id} is paused, unpause the container before exec"
            )
        if st.status != containers.RUNNING:
            raise errors.FailedPrecondition(f"Container {open_.id} is not running")
        if not open_.process.args:
            raise errors.InvalidArgument("No exec command specified")
        spec = self.m.spec(open_.id)
        exec_id = open_.exec_id or secrets.token_hex(32)
        bundle = self.m.run / open_.id / "exec" / exec_id
        bundle.mkdir(parents=True)
        init = self._init_spec(spec, st.pid, open_)
        _write_atomic(bundle / "init.json", init.to_json(), 0o600)
        proc = open_.process
        opts = monitor.MonitorOptions(
            dir=bundle,
            log=None,
            tty=proc.tty,
            console=proc.tty,
            stdin=proc.stdin,
            wait_attach=not open_.detach,
            join_pid=st.pid,
            tty_size=(proc.rows, proc.cols) if proc.rows else None,
        )
        spawned = monitor.launch(opts, _init_argv(bundle), _init_env())
        client: monitor.AttachClient | None = None
        try:
            if not open_.detach:
                client = monitor.AttachClient(bundle)
            try:
                started = spawned.started()
            except monitor.StartFailed as e:
                yield pb.ExecResponse(
                    exit=pb.ContainerState(
                        id=open_.id, exit_code=e.exit_code, error=e.message, started=False
                    )
                )
                return
            log.info("exec started", container=open_.id, exec_id=exec_id, pid=started.child_pid)
            yield pb.ExecResponse(started=started.child_pid)
            if client is None:
                threading.Thread(target=_reap, args=(bundle,), daemon=True).start()
                return
            threading.Thread(
                target=pump_input, args=(requests, client), daemon=True, name="exec-in"
            ).start()
            threading.Thread(target=close_when, args=(gone, client), daemon=True).start()
            for out in client:
                if out.stream == "stdout":
                    yield pb.ExecResponse(stdout=out.data)
                else:
                    yield pb.ExecResponse(stderr=out.data)
            ex = client.exit_status
            if ex is not None:
                final = containers.State(
                    id=open_.id,
                    status=containers.STOPPED,
                    exit_code=ex.exit_code,
                    error=ex.error,
                    started=ex.started,
                )
                yield pb.ExecResponse(exit=state_pb(final))
        finally:
            spawned.close()
            if client is not None:
                client.close()
                rmtree(str(bundle))


def _reap(bundle: Path) -> None:
    # A detached exec's files go once its monitor has recorded the exit.
    wait_monitor(bundle, threading.Event())
    rmtree(str(bundle))
