"""The per-container /etc/hosts and /etc/resolv.conf, as docker writes them."""

from caisson.executor import etcfiles

HOST_RESOLV = "search corp.example\nnameserver 127.0.0.53\nnameserver 10.0.0.2\noptions timeout:2\n"


def test_hosts_of_a_container_on_a_network_ends_with_its_extra_and_own_lines():
    text = etcfiles.hosts("bridge", "1.1.1.1 hostonly\n", ["1.2.3.4\tdb"], ["10.87.0.2\tabc"])
    lines = text.splitlines()
    assert lines[: len(etcfiles.DEFAULT_HOSTS)] == list(etcfiles.DEFAULT_HOSTS)
    assert lines[-2:] == ["1.2.3.4\tdb", "10.87.0.2\tabc"] and "hostonly" not in text


def test_hosts_with_host_network_is_the_hosts_file():
    assert etcfiles.hosts("host", "1.1.1.1 h\n", [], None) == "1.1.1.1 h\n"


def test_resolv_conf_drops_local_nameservers_in_a_namespace_of_its_own():
    text = etcfiles.resolv_conf("bridge", HOST_RESOLV, [], [], [])
    assert text == "search corp.example\nnameserver 10.0.0.2\noptions timeout:2\n"
    only_local = etcfiles.resolv_conf("bridge", "nameserver 127.0.0.53\n", [], [], [])
    assert only_local == "nameserver 8.8.8.8\nnameserver 8.8.4.4\n"


def test_resolv_conf_with_the_embedded_dns_keeps_search_and_options_and_adds_ndots():
    text = etcfiles.resolv_conf("bridge", HOST_RESOLV, [], [], [], embedded_dns=True)
    assert text == "search corp.example\nnameserver 127.0.0.11\noptions timeout:2 ndots:0\n"
    text = etcfiles.resolv_conf("bridge", HOST_RESOLV, [], ["a.b"], ["ndots:3"], embedded_dns=True)
    assert text == "search a.b\nnameserver 127.0.0.11\noptions ndots:3\n"
