"""Where job-end callbacks may go (api/callback_policy.py)."""
import pytest

from api.callback_policy import CallbackPolicy

OPEN = CallbackPolicy()


@pytest.mark.parametrize("url", ["http://169.254.169.254/latest/meta-data/", "http://[fe80::1]/x",
                                 "http://0.0.0.0:8000/x", "http://224.0.0.1/x"])
def test_link_local_unspecified_and_multicast_addresses_are_never_callback_targets(url):
    assert OPEN.check_url(url)


@pytest.mark.parametrize("url", ["http://10.2.3.4/hook", "http://192.168.1.20:9000/hook", "http://[fd12:3456::1]/x",
                                 "https://oa.example.gov.cn/x"])
def test_intranet_and_named_hosts_are_allowed_without_an_allow_list(url):
    assert OPEN.check_url(url) is None


def test_an_allow_list_admits_listed_names_suffixes_and_networks_only():
    policy = CallbackPolicy.from_setting("oa.example.gov.cn, *.intra.example, 10.20.0.0/16")
    assert policy.check_url("https://oa.example.gov.cn/hook") is None
    assert policy.check_url("https://a.b.intra.example/hook") is None
    assert policy.check_url("http://10.20.5.6/hook") is None
    assert "allow-list" in policy.check_url("http://10.30.5.6/hook")
    resolver = {"svc.other.example": ["10.20.1.1"], "far.other.example": ["192.0.2.7"]}.get
    assert policy.check_resolved("http://svc.other.example/x", resolver) is None  # resolves into a listed network
    assert "allow-list" in policy.check_resolved("http://far.other.example/x", resolver)


def test_a_network_entry_lets_a_blocked_range_in_on_purpose():
    assert CallbackPolicy.from_setting("169.254.0.0/16").check_url("http://169.254.10.10/x") is None


def test_names_are_checked_on_what_they_resolve_to_at_send_time():
    assert "169.254.169.254" in OPEN.check_resolved("http://meta.example/x", lambda h: ["169.254.169.254"])
    assert OPEN.check_resolved("http://oa.example/x", lambda h: ["10.1.1.1", "fd00::1"]) is None


def test_a_name_that_does_not_resolve_is_left_to_the_attempt_and_its_retries():
    def fail(host):
        raise OSError("no such host")

    assert OPEN.check_resolved("http://gone.example/x", fail) is None
