from caisson.daemon.containerrecord import ContainerRecord, MountPoint, State
from caisson_api.daemon.v1 import containers_pb2 as api


def _record() -> ContainerRecord:
    cfg = api.ContainerConfig(image="busybox", env=["A=1"], tty=True, hostname="abc")
    cfg.cmd.values[:] = ["sh", "-c", "echo hi"]
    cfg.entrypoint.SetInParent()  # present and empty: different from absent
    cfg.labels["x"] = "y"
    cfg.stop_timeout = 3
    hc = api.HostConfig(binds=["/a:/b:ro"], memory=8 << 20)
    hc.restart_policy.name = "on-failure"
    hc.restart_policy.maximum_retry_count = 2
    hc.init = False
    hc.mounts.add(type="tmpfs", target="/t", tmpfs_size=1024)
    return ContainerRecord(
        id="a" * 64,
        name="web",
        created=1700000000.123456,
        image="busybox",
        image_id="sha256:" + "b" * 64,
        config=cfg,
        host_config=hc,
        path="sh",
        args=["-c", "echo hi"],
        state=State(status="exited", exit_code=3, finished_at=1700000001.5, oom_killed=True),
        mounts=[MountPoint(type="bind", destination="/b", source="/a", rw=False, mode="ro")],
        restart_count=1,
        log_path="/logs/x.log",
        anonymous_volumes=["v" * 64],
    )


def test_json_round_trip_keeps_everything():
    rec = _record()
    back = ContainerRecord.from_json(rec.to_json())
    assert back == rec
    # Presence survives: absent stays absent, empty-but-present stays present.
    assert back.config.HasField("cmd") and back.config.HasField("entrypoint")
    assert back.config.HasField("stop_timeout") and back.host_config.HasField("init")
    assert not back.host_config.HasField("pids_limit")
    assert back.config.entrypoint.values == []


def test_absent_lists_stay_absent():
    rec = _record()
    rec.config.ClearField("cmd")
    rec.config.ClearField("entrypoint")
    back = ContainerRecord.from_json(rec.to_json())
    assert not back.config.HasField("cmd") and not back.config.HasField("entrypoint")


def test_state_running_covers_paused_and_restarting():
    assert State(status="running").running
    assert State(status="paused").running
    assert State(status="restarting").running
    assert not State(status="exited").running
    assert not State().running and State().status == "created"
