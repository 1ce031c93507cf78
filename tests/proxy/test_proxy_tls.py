"""An HTTPS registry that wants a client certificate: the per-registry certs directory."""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Callable
from typing import Any

import pytest

from caisson import errors
from caisson.content import ContentStore
from tests.support.catalog import client_for
from tests.support.images import files_layer, make_image
from tests.support.registry import Registry

from .conftest import Pulls

# Loopback registries are not verified (like Docker's 127.0.0.0/8); the proxy silences
# urllib3's warning about it, but pytest re-enables warnings per test.
pytestmark = pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning")


def test_client_certificate_from_the_certs_dir(
    tmp_path: Any,
    new_registry: Callable[..., Registry],
    pulls: Pulls,
    content: ContentStore,
) -> None:
    reg = new_registry(tls=True, client_certs=True)
    image = make_image([files_layer({"t": b"tls"})])
    client_for(reg).push_image("tls/img", "v1", image)

    certs_dir = os.path.join(str(tmp_path), "certs.d")
    host_dir = os.path.join(certs_dir, reg.host)
    os.makedirs(host_dir)
    with pytest.raises(errors.Unavailable) as e:
        pulls.run(f"{reg.host}/tls/img:v1", pulls.puller(certs_dir=certs_dir))
    # The plain-HTTP attempt that follows (loopback is insecure) gets the TLS port's 400,
    # which does not hide the reason: Go's words for the server's alert (Go servers before
    # 1.21 send "bad certificate" for a missing client certificate, later ones "certificate
    # required").
    alert = "(bad certificate|certificate required)"
    expected = re.escape(f'Get "https://{reg.host}/v2/": remote error: tls: ') + alert
    assert re.fullmatch(expected, str(e.value)), str(e.value)

    for path in reg.client_files():
        shutil.copy(path, host_dir)
    pulls.run(f"{reg.host}/tls/img:v1", pulls.puller(certs_dir=certs_dir))
    assert content.exists(image.layer_digests[0])
