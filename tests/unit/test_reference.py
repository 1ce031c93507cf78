import pytest

from caisson import errors, reference


@pytest.mark.parametrize(
    ("text", "full", "familiar"),
    [
        ("busybox", "docker.io/library/busybox:latest", "busybox:latest"),
        ("library/busybox:1.36", "docker.io/library/busybox:1.36", "busybox:1.36"),
        ("index.docker.io/user/app", "docker.io/user/app:latest", "user/app:latest"),
        ("localhost/app", "localhost/app:latest", "localhost/app:latest"),
        ("127.0.0.1:5000/a/b:v1", "127.0.0.1:5000/a/b:v1", "127.0.0.1:5000/a/b:v1"),
        (
            "quay.io/x/y@sha256:" + "a" * 64,
            "quay.io/x/y@sha256:" + "a" * 64,
            "quay.io/x/y@sha256:" + "a" * 64,
        ),
        ("app:v1@sha256:" + "b" * 64, "docker.io/library/app:v1@sha256:" + "b" * 64, None),
    ],
)
def test_normalisation(text, full, familiar):
    ref = reference.parse(text)
    assert str(ref) == full
    if familiar:
        assert ref.familiar() == familiar


def test_docker_hub_api_host():
    assert reference.parse("busybox").api_host == "registry-1.docker.io"
    assert reference.parse("127.0.0.1:5000/x").api_host == "127.0.0.1:5000"


@pytest.mark.parametrize(
    "bad",
    ["", "UPPER/case", "a b", "x@sha256:123", "x:-bad", "a" * 64, "x//y", "-x", "x:"],
)
def test_invalid_references(bad):
    with pytest.raises(errors.InvalidArgument, match="invalid"):
        reference.parse(bad)


def test_from_name_round_trips():
    ref = reference.parse("busybox:1")
    assert reference.from_name(ref.name, tag="1") == ref
