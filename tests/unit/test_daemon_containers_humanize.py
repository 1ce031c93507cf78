import pytest

from caisson import errors
from caisson.daemon import humanize
from caisson.daemon.containerrecord import State


@pytest.mark.parametrize(
    "seconds,text",
    [
        (0, "Less than a second"),
        (0.9, "Less than a second"),
        (1, "1 second"),
        (59, "59 seconds"),
        (60, "About a minute"),
        (119, "About a minute"),
        (120, "2 minutes"),
        (3599, "59 minutes"),
        (3600, "About an hour"),
        (5399, "About an hour"),
        (5400, "2 hours"),
        (47 * 3600, "47 hours"),
        (48 * 3600, "2 days"),
        (13 * 86400, "13 days"),
        (14 * 86400, "2 weeks"),
        (59 * 86400, "8 weeks"),
        (60 * 86400, "2 months"),
        (729 * 86400, "24 months"),
        (730 * 86400, "2 years"),
    ],
)
def test_human_duration_as_go_units(seconds, text):
    assert humanize.human_duration(seconds) == text


NOW = 1_700_000_000.0


@pytest.mark.parametrize(
    "state,text",
    [
        (State(), "Created"),
        (State(status="running", started_at=NOW - 5), "Up 5 seconds"),
        (State(status="paused", started_at=NOW - 3), "Up 3 seconds (Paused)"),
        (
            State(status="restarting", exit_code=1, started_at=NOW - 9, finished_at=NOW - 1),
            "Restarting (1) 1 second ago",
        ),
        (
            State(status="exited", exit_code=0, started_at=NOW - 900, finished_at=NOW - 130),
            "Exited (0) 2 minutes ago",
        ),
        (State(status="exited", exit_code=137, started_at=NOW - 9), ""),
        (State(status="exited", exit_code=127), "Created"),
        (State(status="removing", started_at=NOW - 9), "Removal In Progress"),
        (State(status="dead", started_at=NOW - 9), "Dead"),
    ],
)
def test_state_string_as_docker(state, text):
    assert humanize.state_string(state, NOW) == text


@pytest.mark.parametrize(
    "path,args,text",
    [
        ("sh", [], "sh"),
        ("sh", ["-c", "echo hi"], "sh -c 'echo hi'"),
        (
            "/docker-entrypoint.sh",
            ["nginx", "-g", "daemon off;"],
            "/docker-entrypoint.sh nginx -g 'daemon off;'",
        ),
    ],
)
def test_command_column(path, args, text):
    assert humanize.command_column(path, args) == text


def test_ps_truncates_and_quotes_like_the_cli():
    cmd = humanize.command_column("sh", ["-c", "while true; do echo hi; done"])
    assert humanize.go_quote(humanize.ellipsis(cmd, 20)) == '"sh -c \'while true; …"'
    assert humanize.ellipsis("short", 20) == "short"
    assert humanize.ellipsis("abc", 1) == "…" and humanize.ellipsis("abc", 0) == ""
    assert humanize.go_quote('a"b\\c\n\x01é') == '"a\\"b\\\\c\\n\\x01é"'


@pytest.mark.parametrize(
    "text,decimal,binary",
    [
        ("20m", 20_000_000, 20 << 20),
        ("64M", 64_000_000, 64 << 20),
        ("1k", 1000, 1024),
        ("1.5kb", 1500, 1536),
        ("1KiB", 1000, 1024),
        ("10", 10, 10),
        ("2 g", 2 * 10**9, 2 << 30),
    ],
)
def test_sizes_as_go_units(text, decimal, binary):
    assert humanize.from_human_size(text) == decimal
    assert humanize.ram_in_bytes(text) == binary


@pytest.mark.parametrize("text", ["", "m", "-1m", "1x", "1mm"])
def test_bad_sizes(text):
    with pytest.raises(errors.InvalidArgument) as e:
        humanize.ram_in_bytes(text)
    assert str(e.value) == f"invalid size: '{text}'"
