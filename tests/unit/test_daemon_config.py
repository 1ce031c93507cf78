import json
import os
import subprocess
import sys

import pytest

from caisson import errors
from caisson.daemon import config
from caisson.daemon.pidfile import PidFile


def test_flag_beats_file_and_file_fills_the_rest(tmp_path):
    f = tmp_path / "daemon.json"
    f.write_text(json.dumps({"data-root": "/from/file", "max-concurrent-downloads": 7}))
    cfg = config.load(["--config-file", str(f), "--data-root", "/from/flag"])
    assert cfg.data_root == "/from/flag"
    assert cfg.max_concurrent_downloads == 7
    assert cfg.listen == (config.DEFAULT_HOST,)


def test_unknown_key_is_an_error(tmp_path):
    f = tmp_path / "daemon.json"
    f.write_text(json.dumps({"data-rot": "/x"}))
    with pytest.raises(errors.InvalidArgument, match="unknown key 'data-rot'"):
        config.load(["--config-file", str(f)])


def test_wrong_type_and_bad_json_are_errors(tmp_path):
    f = tmp_path / "daemon.json"
    f.write_text(json.dumps({"insecure-registries": "a:5000"}))
    with pytest.raises(errors.InvalidArgument, match="list of strings"):
        config.load(["--config-file", str(f)])
    f.write_text("{not json")
    with pytest.raises(errors.InvalidArgument, match="not valid JSON"):
        config.load(["--config-file", str(f)])


def test_missing_explicit_config_file_is_an_error(tmp_path):
    with pytest.raises(errors.InvalidArgument, match="does not exist"):
        config.load(["--config-file", str(tmp_path / "nope.json")])


def test_reload_changes_only_reloadable_keys(tmp_path):
    f = tmp_path / "daemon.json"
    f.write_text(json.dumps({"data-root": "/a"}))
    cfg = config.load(["--config-file", str(f)])
    f.write_text(json.dumps({"data-root": "/b", "debug": True, "max-concurrent-downloads": 9}))
    new = config.reload(cfg)
    assert (new.data_root, new.log_level, new.max_concurrent_downloads) == ("/a", "debug", 9)


def test_repeatable_flags():
    cfg = config.load(
        [
            "-H",
            "unix:///a",
            "-H",
            "tcp://127.0.0.1:1",
            "--insecure-registry",
            "r:1",
            "--insecure-registry",
            "r:2",
        ]
    )
    assert cfg.listen == ("unix:///a", "tcp://127.0.0.1:1")
    assert cfg.insecure_registries == ("r:1", "r:2")


def test_second_holder_of_pidfile_fails_naming_the_pid(tmp_path):
    path = str(tmp_path / "run" / "caisson.pid")
    first = PidFile(path)
    first.acquire()
    try:
        # Another process: flock is per open file description, so use a child.
        code = (
            "import sys; from caisson.daemon.pidfile import PidFile; from caisson import errors\n"
            f"try: PidFile({path!r}).acquire()\n"
            "except errors.FailedPrecondition as e: print(e); sys.exit(3)\n"
        )
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
        assert out.returncode == 3
        assert f"pid {os.getpid()}" in out.stdout
    finally:
        first.release()
    assert not os.path.exists(path)


def test_stale_pidfile_is_taken_over(tmp_path):
    path = tmp_path / "caisson.pid"
    path.write_text("999999\n")
    p = PidFile(str(path))
    p.acquire()
    assert path.read_text().strip() == str(os.getpid())
    p.release()
