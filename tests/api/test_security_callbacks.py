"""Callbacks never go to cloud metadata, carrier-grade NAT or loopback addresses, however the
address is spelt (issue 14, finding 5). Everything here is decided by the policy or at job
creation: no request is ever sent to these addresses."""
import pytest

from api.callback_policy import CallbackPolicy

OPEN = CallbackPolicy()

METADATA_AND_CGNAT = [
    "http://100.100.100.200/latest/meta-data/",  # Alibaba Cloud
    "http://100.64.0.1/x", "http://100.127.255.254/x",  # both ends of 100.64.0.0/10
    "http://[fd00:ec2::254]/latest/meta-data/",  # AWS over IPv6
    "http://169.254.170.2/v2/credentials",  # ECS task credentials (link-local)
    "http://168.63.129.16/machine",  # Azure wire server
    "http://192.0.0.192/x",
    "http://[fe80::a9fe:a9fe]/x", "http://[febf::1]/x",  # both ends of fe80::/10
]
LOOPBACK_SPELLINGS = [
    "http://127.0.0.1:9000/hook", "http://127.9.9.9/hook", "http://[::1]:9000/hook", "http://0.0.0.0:9000/hook",
    "http://0.1.2.3/hook", "http://[::ffff:127.0.0.1]/hook", "http://localhost:9000/hook", "http://a.localhost/hook",
]
EMBEDDED_METADATA = [
    "http://[::ffff:169.254.169.254]/x",  # IPv4-mapped
    "http://[64:ff9b::a9fe:a9fe]/x",  # NAT64 of 169.254.169.254
    "http://[2002:6464:64c8::1]/x",  # 6to4 of 100.100.100.200
    "http://[::ffff:100.100.100.200]/x",
]


@pytest.mark.parametrize("url", METADATA_AND_CGNAT)
def test_cloud_metadata_and_cgnat_addresses_are_refused_as_callback_targets(url):
    assert OPEN.check_url(url)


@pytest.mark.parametrize("url", LOOPBACK_SPELLINGS)
def test_loopback_is_refused_alike_for_ipv4_and_ipv6(url):
    assert "loopback" in OPEN.check_url(url)


@pytest.mark.parametrize("url", EMBEDDED_METADATA)
def test_ipv6_spellings_of_a_blocked_ipv4_address_are_refused(url):
    assert OPEN.check_url(url)


def test_a_name_resolving_to_metadata_cgnat_or_loopback_is_refused_at_send_time():
    for address in ("100.100.100.200", "fd00:ec2::254", "::1", "127.0.0.1", "::ffff:127.0.0.1"):
        assert OPEN.check_resolved("http://hooks.example/x", lambda host, a=address: [a]), address


def test_loopback_is_let_in_only_by_listing_it_for_each_family():
    v4_only = CallbackPolicy.from_setting("127.0.0.0/8")
    assert v4_only.check_url("http://127.0.0.1:9000/hook") is None
    assert v4_only.check_url("http://[::1]:9000/hook")
    both = CallbackPolicy.from_setting("127.0.0.0/8, ::1/128")
    assert both.check_url("http://[::1]:9000/hook") is None


def test_private_intranet_addresses_stay_allowed():
    for url in ("http://10.2.3.4/hook", "http://172.16.0.9/hook", "http://192.168.1.20/hook", "http://[fd12::1]/hook"):
        assert OPEN.check_url(url) is None, url


@pytest.mark.parametrize("url", ["http://100.100.100.200/latest/meta-data/", "http://[fd00:ec2::254]/x",
                                 "http://[::1]:9000/hook", "http://127.0.0.1:9000/hook"])
def test_a_job_with_a_metadata_or_loopback_callback_is_refused_at_creation(service, url):
    data = "决策事项名称\n关于编制全市国土空间总体规划的决定\n".encode()
    r = service.client.post("/api/v1/jobs", files={"file": ("m.csv", data, "text/csv")},
                            data={"callback_url": url}, headers=service.headers)
    assert r.status_code == 422, r.text
    body = r.json()
    assert body["code"] == "callback_url_not_allowed" and body["field"] == "callback_url"
    assert any("\u4e00" <= ch <= "\u9fff" for ch in body["message_zh"])
