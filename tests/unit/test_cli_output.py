"""The CLI's text, without a daemon: sizes, ages, tables, templates, times, progress lines."""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime, timedelta

import pytest

from caisson.cli import events, images, output, progress, template
from caisson_api.daemon.v1 import daemon_pb2

S = daemon_pb2.LayerStatus
NOW = datetime(2026, 11, 27, 21, 30, tzinfo=UTC)
ID = "sha256:" + "ab" * 32


class TTY(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize(
    ("size", "four", "three"),
    [
        (0, "0B", "0B"),
        (999, "999B", "999B"),
        (1000, "1kB", "1kB"),
        (1234, "1.234kB", "1.23kB"),
        (12_345_678, "12.35MB", "12.3MB"),
        (4_261_000, "4.261MB", "4.26MB"),
        (999_999, "1000kB", "1e+03kB"),  # docker's own quirk, kept so outputs compare equal
        (2 * 10**9, "2GB", "2GB"),
    ],
)
def test_sizes_are_dockers_decimal_units(size: int, four: str, three: str) -> None:
    assert output.human_size(size) == four
    assert output.image_size(size) == three


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0.4, "Less than a second"),
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
        (3 * 86400, "3 days"),
        (20 * 86400, "2 weeks"),
        (100 * 86400, "3 months"),
        (800 * 86400, "2 years"),
    ],
)
def test_durations_are_dockers(seconds: float, text: str) -> None:
    assert output.human_duration(seconds) == text


def test_since_and_ids() -> None:
    assert output.since(NOW - timedelta(days=2), NOW) == "2 days ago"
    assert output.since(None, NOW) == "N/A"
    assert output.short_id(ID) == "abababababab"
    assert output.short_id(ID, trunc=False) == ID


def test_table_pads_like_tabwriter() -> None:
    text = output.table([["REPOSITORY", "TAG", "SIZE"], ["busybox", "latest", "4.26MB"]])
    assert text == "REPOSITORY   TAG       SIZE\nbusybox      latest    4.26MB\n"


def summary(tags: list[str], digests: list[str], size: int = 4_261_000) -> daemon_pb2.ImageSummary:
    s = daemon_pb2.ImageSummary(id=ID, repo_tags=tags, repo_digests=digests, size=size)
    s.created.FromDatetime(NOW - timedelta(days=2))
    return s


BUSYBOX = summary(
    ["docker.io/library/busybox:latest", "docker.io/library/busybox:1.36"],
    ["docker.io/library/busybox@sha256:" + "cd" * 32],
)


def test_images_table() -> None:
    untagged = daemon_pb2.ImageSummary(id="sha256:" + "ef" * 32, size=1000)
    text = images.render_images([BUSYBOX, untagged], now=NOW)
    assert text.splitlines() == [
        "REPOSITORY   TAG       IMAGE ID       CREATED      SIZE",
        "busybox      1.36      abababababab   2 days ago   4.26MB",
        "busybox      latest    abababababab   2 days ago   4.26MB",
        "<none>       <none>    efefefefefef   N/A          1kB",
    ]


def test_images_digests_quiet_and_no_trunc() -> None:
    text = images.render_images([BUSYBOX], digests=True, now=NOW)
    assert text.splitlines()[0].split() == [
        "REPOSITORY", "TAG", "DIGEST", "IMAGE", "ID", "CREATED", "SIZE"
    ]  # fmt: skip
    assert "sha256:" + "cd" * 32 in text.splitlines()[1]
    # One ID per row, as docker: busybox has two tags.
    assert images.render_images([BUSYBOX], quiet=True) == "abababababab\n" * 2
    assert images.render_images([BUSYBOX], quiet=True, trunc=False) == (ID + "\n") * 2
    untagged = daemon_pb2.ImageSummary(id="sha256:" + "ef" * 32)
    assert images.render_images([untagged], quiet=True) == "efefefefefef\n"


@pytest.mark.parametrize(("counted", "shown"), [(-1, "N/A"), (0, "0"), (3, "3")])
def test_images_containers_not_counted_is_n_a(counted: int, shown: str) -> None:
    import json

    image = summary(["docker.io/library/busybox:latest"], [])
    image.containers = counted
    doc = json.loads(images.render_images([image], fmt="{{json .}}", now=NOW))
    assert doc["Containers"] == shown


def test_digest_only_images_show_none_tag() -> None:
    only_digest = summary([], ["host:5000/app@sha256:" + "cd" * 32])
    rows = images.image_rows([only_digest], digests=False)
    assert [(r.repository, r.tag, r.digest) for r in rows] == [
        ("host:5000/app", "<none>", "<none>")
    ]


def test_images_json_has_dockers_keys() -> None:
    import json

    line = images.render_images([BUSYBOX], fmt="json", now=NOW).splitlines()[0]
    doc = json.loads(line)
    assert sorted(doc) == sorted(
        [
            "Containers", "CreatedAt", "CreatedSince", "Digest", "ID", "Repository",
            "SharedSize", "Size", "Tag", "UniqueSize", "VirtualSize",
        ]
    )  # fmt: skip
    assert doc["Repository"] == "busybox" and doc["Tag"] == "1.36" and doc["Digest"] == "<none>"
    assert doc["ID"] == "abababababab" and doc["Size"] == "4.26MB"
    assert "\\u003cnone\\u003e" in line  # escaped as docker 20.10's json.Marshal does


def test_images_template_and_table_format() -> None:
    assert images.render_images([BUSYBOX], fmt="{{.Repository}}:{{.Tag}}") == (
        "busybox:1.36\nbusybox:latest\n"
    )
    text = images.render_images([BUSYBOX], fmt="table {{.ID}}\\t{{.Tag}}")
    assert text.splitlines() == [
        "IMAGE ID       TAG",
        "abababababab   1.36",
        "abababababab   latest",
    ]


def test_history_table_truncates_created_by() -> None:
    top = daemon_pb2.HistoryEntry(id=ID, created_by="/bin/sh -c " + "x" * 60, size=4_261_000)
    top.created.FromDatetime(NOW - timedelta(hours=3))
    base = daemon_pb2.HistoryEntry(id="<missing>", created_by='CMD ["sh"]', empty_layer=True)
    base.created.FromDatetime(NOW - timedelta(hours=3))
    lines = images.render_history([top, base], now=NOW).splitlines()
    assert lines[0].split() == ["IMAGE", "CREATED", "CREATED", "BY", "SIZE", "COMMENT"]
    assert lines[1].startswith("abababababab   3 hours ago   /bin/sh -c xxx")
    assert "…" in lines[1] and "4.26MB" in lines[1]
    assert lines[2].startswith("<missing>")
    assert images.render_history([top, base], quiet=True) == "abababababab\n<missing>\n"
    assert "x" * 60 in images.render_history([top], trunc=False, now=NOW)


def test_history_not_human_shows_times_and_bytes() -> None:
    top = daemon_pb2.HistoryEntry(id=ID, created_by="/bin/sh -c echo", size=4_261_000)
    top.created.FromDatetime(NOW - timedelta(hours=3))
    at = output.rfc3339(NOW - timedelta(hours=3))  # 2026-11-27T18:30:00Z in UTC
    lines = images.render_history([top], human=False, now=NOW).splitlines()
    assert lines[0].split() == ["IMAGE", "CREATED", "AT", "CREATED", "BY", "SIZE", "COMMENT"]
    assert lines[1].split() == ["abababababab", at, "/bin/sh", "-c", "echo", "4261000"]
    fields = images.history_fields(top, trunc=True, now=NOW, human=False)
    assert (fields["CreatedSince"], fields["Size"]) == (at, "4261000")


def test_history_json_keys_are_sorted() -> None:
    # docker's {{json .}} of a formatter row is Go's JSON of a map: keys sorted.
    top = daemon_pb2.HistoryEntry(id=ID, created_by="/bin/sh -c echo", size=5)
    for fmt in ("json", "{{json .}}"):
        line = images.render_history([top], fmt=fmt, now=NOW)
        keys = re.findall(r'"(\w+)":', line)
        assert keys == sorted(keys) == [
            "Comment", "CreatedAt", "CreatedBy", "CreatedSince", "ID", "Size"
        ]  # fmt: skip


DOC = {
    "Id": ID,
    "RepoTags": ["busybox:latest"],
    "Size": 4261000,
    "Config": {"Cmd": ["sh", "-c", "echo hi"], "Env": None, "Labels": {"b": "2", "a": "1"}},
}


@pytest.mark.parametrize(
    ("fmt", "text"),
    [
        ("{{.Id}}", ID),
        ("{{.Config.Cmd}}", "[sh -c echo hi]"),
        ("{{json .Config.Cmd}}", '["sh","-c","echo hi"]'),
        ("{{.Config.Labels}}", "map[a:1 b:2]"),
        ("{{.Config.Env}}", "<no value>"),
        ("{{.Nope}}", "<no value>"),
        ("{{.Size}}", "4261000"),
        ('{{join .Config.Cmd ","}}', "sh,-c,echo hi"),
        ('{{index .Config.Labels "a"}}', "1"),
        ("{{.Config.Cmd | json}}", '["sh","-c","echo hi"]'),
        ("{{upper (index .RepoTags 0)}}", None),
        ("id={{ truncate .Id 19 }}", "id=" + ID[:19]),
        ("{{- .Id -}}  x", ID + "x"),
    ],
)
def test_template_subset(fmt: str, text: str | None) -> None:
    if text is None:
        with pytest.raises(template.TemplateError):
            template.Template(fmt)
        return
    assert template.Template(fmt).execute(DOC) == text


@pytest.mark.parametrize(
    "fmt", ["{{.Id", "{{range .RepoTags}}x{{end}}", "{{$x := 1}}", "{{len .Size}}", "{{json}}"]
)
def test_template_rejects_what_it_does_not_support(fmt: str) -> None:
    with pytest.raises(template.TemplateError):
        template.Template(fmt).execute(DOC)


def test_event_time_forms() -> None:
    now = 1_800_000_000.0
    assert events.parse_time("10m", now) == now - 600
    assert events.parse_time("1h30m", now) == now - 5400
    assert events.parse_time("1.5h", now) == now - 5400
    assert events.parse_time("1700000000", now) == 1_700_000_000
    assert events.parse_time("1700000000.5", now) == 1_700_000_000.5
    assert events.parse_time("2026-11-27T21:30:00Z", now) == NOW.timestamp()
    assert events.parse_time("2026-11-27T22:30:00+01:00", now) == NOW.timestamp()
    with pytest.raises(ValueError, match="failed to parse"):
        events.parse_time("yesterday", now)


def test_event_line_is_dockers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TZ", "UTC")
    ev = daemon_pb2.Event(
        type="image",
        action="pull",
        id="docker.io/library/busybox:latest",
        attributes={"name": "docker.io/library/busybox", "digest": "sha256:x"},
    )
    ev.time.FromDatetime(NOW)
    assert events.render_event(ev) == (
        "2026-11-27T21:30:00.000000000Z image pull docker.io/library/busybox:latest "
        "(digest=sha256:x, name=docker.io/library/busybox)"
    )


def layer(
    lid: str, status: int, current: int = 0, total: int = 0, message: str = ""
) -> daemon_pb2.LayerProgress:
    return daemon_pb2.LayerProgress(
        id=lid, status=status, current=current, total=total, message=message
    )


# 12.3 of 45.6 is 26%: 13 of docker's 50 cells.
BAR = "[" + "=" * 13 + ">" + " " * 37 + "]   12.3MB/45.6MB"


def test_bar_is_dockers() -> None:
    assert progress.bar(12_300_000, 45_600_000) == BAR
    assert progress.bar(12_300_000, 45_600_000, width=80) == "  12.3MB/45.6MB"
    assert progress.bar(0, 0) == ""
    assert progress.bar(45_600_000, 45_600_000).startswith("[" + "=" * 50 + ">]")


def test_plain_progress_prints_only_status_changes() -> None:
    out = io.StringIO()
    p = progress.PullProgress(out, tty=False)
    p.message("latest: Pulling from library/busybox")
    p.layer(layer("aaaaaaaaaaaa", S.LAYER_STATUS_WAITING), initial=True)
    p.layer(layer("bbbbbbbbbbbb", S.LAYER_STATUS_ALREADY_EXISTS), initial=True)
    for done in (1, 2, 3):
        p.layer(layer("aaaaaaaaaaaa", S.LAYER_STATUS_DOWNLOADING, done * 100, 300))
    p.layer(layer("aaaaaaaaaaaa", S.LAYER_STATUS_RETRYING, message="connection reset"))
    p.layer(layer("aaaaaaaaaaaa", S.LAYER_STATUS_DOWNLOADING, 300, 300))
    p.layer(layer("aaaaaaaaaaaa", S.LAYER_STATUS_VERIFYING))
    p.layer(layer("aaaaaaaaaaaa", S.LAYER_STATUS_DOWNLOAD_COMPLETE))
    p.layer(layer("aaaaaaaaaaaa", S.LAYER_STATUS_EXTRACTING, 100, 300))
    p.layer(layer("aaaaaaaaaaaa", S.LAYER_STATUS_EXTRACTING, 300, 300))
    p.layer(layer("aaaaaaaaaaaa", S.LAYER_STATUS_PULL_COMPLETE))
    # Off a terminal docker prints no update that has a progress bar: no Downloading or
    # Extracting lines.
    assert out.getvalue().splitlines() == [
        "latest: Pulling from library/busybox",
        "aaaaaaaaaaaa: Pulling fs layer",
        "bbbbbbbbbbbb: Already exists",
        "aaaaaaaaaaaa: Retrying: connection reset",
        "aaaaaaaaaaaa: Verifying Checksum",
        "aaaaaaaaaaaa: Download complete",
        "aaaaaaaaaaaa: Pull complete",
    ]
    assert "\x1b" not in out.getvalue()


def test_plain_progress_prints_a_status_without_a_bar() -> None:
    # Nothing to draw (no size known yet): docker prints the status line.
    out = io.StringIO()
    p = progress.PullProgress(out, tty=False)
    p.layer(layer("aaaaaaaaaaaa", S.LAYER_STATUS_DOWNLOADING, 0, 0))
    assert out.getvalue() == "aaaaaaaaaaaa: Downloading\n"


def render_screen(data: str) -> list[str]:
    """A tiny terminal: enough of ANSI (cursor up/down, clear line, CR, LF) to read the
    screen a TTY progress stream leaves behind."""
    import re

    rows: list[str] = [""]
    row = col = 0
    for token in re.findall(r"\x1b\[\d*[ABK]|\x1b\[2K|\r|\n|[^\x1b\r\n]+", data):
        if token == "\n":
            row, col = row + 1, 0
        elif token == "\r":
            col = 0
        elif token.startswith("\x1b["):
            n = int(token[2:-1] or 1) if token[-1] in "AB" else 0
            if token[-1] == "A":
                row = max(0, row - n)
            elif token[-1] == "B":
                row += n
            else:
                rows[row] = ""
        else:
            line = rows[row].ljust(col)
            rows[row] = line[:col] + token + line[col + len(token) :]
            col += len(token)
        while len(rows) <= row:
            rows.append("")
    return rows


def test_tty_progress_redraws_one_line_per_layer() -> None:
    out = TTY()
    p = progress.PullProgress(out, tty=True, width=200)
    p.message("latest: Pulling from library/busybox")
    p.layer(layer("aaaaaaaaaaaa", S.LAYER_STATUS_WAITING), initial=True)
    p.layer(layer("bbbbbbbbbbbb", S.LAYER_STATUS_WAITING), initial=True)
    p.layer(layer("aaaaaaaaaaaa", S.LAYER_STATUS_DOWNLOADING, 12_300_000, 45_600_000))
    p.layer(layer("bbbbbbbbbbbb", S.LAYER_STATUS_DOWNLOADING, 1_000, 2_000))
    p.layer(layer("bbbbbbbbbbbb", S.LAYER_STATUS_PULL_COMPLETE))
    assert "\x1b[2A\x1b[2K\raaaaaaaaaaaa: Downloading [" in out.getvalue()
    p.message("Digest: sha256:" + "cd" * 32)
    assert render_screen(out.getvalue()) == [
        "latest: Pulling from library/busybox",
        "aaaaaaaaaaaa: Downloading " + BAR,
        "bbbbbbbbbbbb: Pull complete",
        "Digest: sha256:" + "cd" * 32,
        "",
    ]


def test_tty_lines_never_wrap() -> None:
    out = TTY()
    p = progress.PullProgress(out, tty=True, width=40)
    p.layer(layer("aaaaaaaaaaaa", S.LAYER_STATUS_DOWNLOADING, 1, 2))
    assert all(len(line) < 40 for line in render_screen(out.getvalue()))


def test_event_json_is_dockers_message() -> None:
    from caisson.cli import events
    from caisson_api.daemon.v1 import daemon_pb2

    ev = daemon_pb2.Event(
        type="container", action="start", id="abc", attributes={"image": "busybox", "name": "x"}
    )
    ev.time.FromNanoseconds(1_700_000_000_123_456_789)
    doc = events.event_fields(ev)
    assert list(doc) == [
        "status", "id", "from", "Type", "Action", "Actor", "scope", "time", "timeNano",
    ]  # fmt: skip
    assert (doc["status"], doc["id"], doc["from"], doc["scope"]) == (
        "start",
        "abc",
        "busybox",
        "local",
    )
    assert (doc["time"], doc["timeNano"]) == (1_700_000_000, 1_700_000_000_123_456_789)
    job = daemon_pb2.Event(type="job", action="done", id="j1", job_id="j1")
    assert "status" not in events.event_fields(job)
    assert events.event_fields(job)["JobID"] == "j1"
