import hashlib
import threading
import time

import pytest

from caisson import errors
from caisson.daemon import pull
from caisson.daemon.engine import Engine, Events
from caisson.daemon.store import ImageRecord, Layer, Store
from caisson.daemon.system import _matcher


def test_chain_ids_follow_the_oci_formula():
    d = ["sha256:" + c * 64 for c in "abc"]
    chains = pull.chain_ids(d)
    assert chains[0] == d[0]
    c1 = "sha256:" + hashlib.sha256(f"{d[0]} {d[1]}".encode()).hexdigest()
    assert chains[1] == c1
    assert chains[2] == "sha256:" + hashlib.sha256(f"{c1} {d[2]}".encode()).hexdigest()


def test_parse_platform():
    p = pull.parse_platform("linux/arm/v7")
    assert (p.os, p.architecture, p.variant) == ("linux", "arm", "v7")
    with pytest.raises(errors.InvalidArgument, match="os/arch"):
        pull.parse_platform("arm64")


def _image(store, n="1"):
    img = ImageRecord(
        id="sha256:" + n * 64,
        manifest_digest="sha256:" + "f" * 64,
        manifest_media_type="application/vnd.oci.image.manifest.v1+json",
        layers=[Layer("sha256:" + "e" * 64, "t", 10, "sha256:" + "d" * 64, "sha256:" + "d" * 64)],
        pulled_at=time.time(),
    )
    store.put_image(img)
    return img


def test_store_tags_digests_and_prefix(tmp_path):
    store = Store(str(tmp_path / "db" / "caisson.db"))
    img = _image(store)
    assert store.set_tag("docker.io/library/x", "latest", img.id, 1.0) is None
    other = _image(store, "2")
    assert store.set_tag("docker.io/library/x", "latest", other.id, 2.0) == img.id
    store.set_digest("docker.io/library/x", "sha256:" + "f" * 64, other.id)
    assert store.image_ids_with_prefix("2222") == [other.id]
    got = store.image(other.id)
    assert got.tags == [("docker.io/library/x", "latest")]
    assert got.layers[0].chain_id == "sha256:" + "d" * 64
    store.delete_image(other.id)
    assert store.image(other.id) is None
    assert store.tagged("docker.io/library/x", "latest") is None
    store.close()
    # Survives reopening.
    assert Store(str(tmp_path / "db" / "caisson.db")).image(img.id) is not None


def test_jobs_publish_start_and_end_events(tmp_path):
    store = Store(str(tmp_path / "caisson.db"))
    engine = Engine(Events(store))
    t0 = time.time() - 1
    with engine.job("pull", reference="x") as job:
        assert [j.id for j in engine.running] == [job.id]
    with pytest.raises(errors.NotFound), engine.job("pull", reference="y"):
        raise errors.NotFound("nope")
    evs = store.events_since(t0)
    assert [(e.type, e.action) for e in evs] == [
        ("job", "start"),
        ("job", "done"),
        ("job", "start"),
        ("job", "fail"),
    ]
    assert evs[-1].attributes["error"] == "nope"
    assert not engine.running
    engine.stop_accepting()
    with pytest.raises(errors.Unavailable), engine.job("pull"):
        pass


def test_live_subscribers_get_events(tmp_path):
    events = Events(Store(str(tmp_path / "caisson.db")))
    got = []
    with events.subscribe() as q:
        threading.Thread(target=events.publish, args=("image", "pull", "x")).start()
        got.append(q.get(timeout=5))
    assert got[0].action == "pull"


def test_event_filters():
    from caisson.daemon.store import StoredEvent

    ev = StoredEvent(1.0, "image", "pull", "busybox:latest", {"name": "docker.io/library/busybox"})
    assert _matcher(["type=image", "event=pull"])(ev)
    assert not _matcher(["type=job"])(ev)
    assert _matcher(["image=busybox:latest", "image=other"])(ev)
    with pytest.raises(errors.InvalidArgument, match="invalid filter"):
        _matcher(["colour=red"])
