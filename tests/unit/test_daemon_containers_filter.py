import pytest

from caisson import errors
from caisson.daemon import containerfilter as cf
from caisson.daemon.containerrecord import ContainerRecord, MountPoint, State
from caisson_api.daemon.v1 import containers_pb2 as api

IMG_A, IMG_B = "sha256:" + "a" * 64, "sha256:" + "b" * 64


def rec(n, name, status="running", exit_code=0, started=True, labels=None, image=IMG_A, **kw):
    cfg = api.ContainerConfig(image="x", labels=labels or {}, exposed_ports=kw.pop("ports", []))
    r = ContainerRecord(
        id=f"{n:x}" * 64 if n < 16 else f"{n:064x}",
        name=name,
        created=float(n),
        image="x",
        image_id=image,
        config=cfg,
        host_config=api.HostConfig(network_mode=kw.pop("network", "none")),
        path="sh",
        args=[],
        state=State(status=status, exit_code=exit_code, started_at=1.0 if started else 0.0),
    )
    r.mounts = kw.pop("mounts", [])
    return r


RECORDS = [
    rec(1, "web", labels={"app": "web", "tier": "front"}),
    rec(2, "db", status="exited", exit_code=1, labels={"app": "db"}, image=IMG_B),
    rec(
        3,
        "worker",
        status="exited",
        exit_code=0,
        mounts=[MountPoint(type="volume", destination="/data", name="vol1")],
    ),
    rec(4, "fresh", status="created", started=False, ports=["80/tcp"]),
    rec(5, "web2", status="paused", network="host"),
]
BY_NAME = {r.name: r for r in RECORDS}


def resolve_container(text):
    if text in BY_NAME:
        return BY_NAME[text]
    raise errors.NotFound(f"No such container: {text}")


def resolve_image(text):
    ids = {"busybox": IMG_A, "redis": IMG_B}
    if text in ids:
        return ids[text]
    raise errors.NotFound(f"No such image: {text}")


def ps(*filters, all_=False, limit=0):
    listing = cf.parse(
        list(filters),
        all_=all_,
        limit=limit,
        resolve_container=resolve_container,
        resolve_image=resolve_image,
    )
    return [r.name for r in cf.apply(listing, RECORDS)]


def test_running_by_default_newest_first_all_with_a():
    assert ps() == ["web2", "web"]
    assert ps(all_=True) == ["web2", "fresh", "worker", "db", "web"]


def test_limit_implies_all():
    assert ps(limit=2) == ["web2", "fresh"]


def test_name_and_id_are_unanchored_regexes_or_within_a_key():
    assert ps("name=web", all_=True) == ["web2", "web"]
    assert ps("name=^/web$", all_=True) == ["web"]
    assert ps("name=^db$", "name=^worker$", all_=True) == ["worker", "db"]
    assert ps("id=" + "2" * 12, all_=True) == ["db"]
    assert ps("name=[", all_=True) == []  # an invalid regex matches nothing


def test_labels_must_all_match():
    assert ps("label=app", all_=True) == ["db", "web"]
    assert ps("label=app=web", "label=tier=front") == ["web"]
    assert ps("label=app=web", "label=app=db", all_=True) == []


def test_status_implies_all_and_exited_codes():
    assert ps("status=exited") == ["worker", "db"]
    assert ps("status=created", "status=paused") == ["web2", "fresh"]
    assert ps("exited=1", all_=True) == ["db"]
    assert ps("exited=0", "exited=1", all_=True) == ["worker", "db"]
    assert ps("exited=0") == []  # exited does not imply --all, as docker


def test_and_across_keys():
    assert ps("status=exited", "label=app") == ["db"]


def test_before_and_since():
    assert ps("before=worker", all_=True) == ["db", "web"]
    assert ps("since=db", all_=True) == ["web2", "fresh", "worker"]
    assert ps("since=db", "before=web2", all_=True) == ["fresh", "worker"]


def test_ancestor_volume_network_expose_health():
    assert ps("ancestor=redis", all_=True) == ["db"]
    assert ps("ancestor=busybox", "ancestor=nope", all_=True) == ["web2", "fresh", "worker", "web"]
    assert ps("ancestor=nope", all_=True) == []
    assert ps("volume=vol1", all_=True) == ["worker"]
    assert ps("volume=/data", all_=True) == ["worker"]
    assert ps("network=host", all_=True) == ["web2"]
    assert ps("expose=80", all_=True) == ["fresh"]
    assert ps("expose=79-81/tcp", all_=True) == ["fresh"]
    assert ps("expose=80/udp", all_=True) == []
    assert ps("health=none") == ["web2", "web"]
    assert ps("health=healthy") == []
    assert ps("publish=80", all_=True) == []
    assert ps("is-task=false") == ["web2", "web"] and ps("is-task=true") == []


@pytest.mark.parametrize(
    "filt,message",
    [
        ("foo=1", "Invalid filter 'foo'"),
        ("status=bogus", "Invalid filter 'status=bogus'"),
        ("exited=x", 'strconv.Atoi: parsing "x": invalid syntax'),
        ("is-task=maybe", "Invalid filter 'is-task=[maybe]'"),
        ("health=ok", "Invalid filter 'health=ok'"),
        ("expose=http", "Invalid filter 'expose=http'"),
    ],
)
def test_bad_filters(filt, message):
    with pytest.raises(errors.InvalidArgument) as e:
        ps(filt)
    assert str(e.value) == message


def test_before_an_unknown_container():
    with pytest.raises(errors.NotFound, match="No such container: ghost"):
        ps("before=ghost")


class _Images:
    def resolve(self, text):
        from caisson.daemon.store import ImageRecord

        return ImageRecord(
            id=resolve_image(text), manifest_digest="", manifest_media_type="", layers=[]
        )


def test_select_resolves_containers_and_images_itself():
    got = cf.select(RECORDS, ["ancestor=redis"], True, _Images())
    assert [r.name for r in got] == ["db"]
    got = cf.select(RECORDS, ["before=" + BY_NAME["worker"].id[:5]], True, _Images(), limit=1)
    assert [r.name for r in got] == ["db"]
    with pytest.raises(errors.NotFound, match="^No such container: ghost$"):
        cf.select(RECORDS, ["since=ghost"], True, _Images())


def test_find_by_id_name_or_prefix():
    assert cf.find(RECORDS, "db").name == "db"
    assert cf.find(RECORDS, "/db").name == "db"
    assert cf.find(RECORDS, BY_NAME["web"].id).name == "web"
    assert cf.find(RECORDS, "333").name == "worker"
    extra = [*RECORDS, rec(0x31, "x")]
    extra[-1].id = "3" * 10 + "f" * 54
    with pytest.raises(errors.InvalidArgument, match="multiple IDs found with provided prefix: 33"):
        cf.find(extra, "33")
