"""The explorer answers only the hosts it is meant to be reached by (no DNS rebinding)."""

from __future__ import annotations

import http.client
import json

import pytest
from starlette.testclient import TestClient

from xdeg_pipeline.core.settings import Settings
from xdeg_pipeline.explorer.app import CSP, create_app
from xdeg_pipeline.explorer.hosts import HostPolicy, host_name, split_hosts
from xdeg_pipeline_tests.helpers.live_server import running_explorer


@pytest.mark.parametrize("header, name", [
    ("127.0.0.1:8765", "127.0.0.1"), ("[::1]:8765", "::1"), ("LocalHost", "localhost"),
    ("evil.example:8765", "evil.example"), ("localhost.:80", "localhost"), ("[::1", ""),
])
def test_host_name(header: str, name: str) -> None:
    assert host_name(header) == name


def test_default_policy_answers_loopback_names_only() -> None:
    policy = HostPolicy("127.0.0.1")
    for ok in ("127.0.0.1:8765", "localhost:8765", "[::1]:8765", "localhost", "app.localhost"):
        assert policy.allows(ok), ok
    for bad in ("evil.example:8765", "127.0.0.1.evil.example", "192.168.1.5:8765", "", None,
                "localhost.evil.example", "[::2]:8765"):
        assert not policy.allows(bad), bad


def test_the_bound_address_and_the_setting_add_hosts() -> None:
    assert HostPolicy("192.168.1.5").allows("192.168.1.5:8765")
    assert HostPolicy("fe80::1").allows("[fe80::1]:8765")
    wide = HostPolicy("0.0.0.0")  # every interface: IP literals (nothing to rebind), no names
    assert wide.allows("10.1.2.3:8765") and wide.allows("[2001:db8::1]:8765")
    assert not wide.allows("evil.example:8765")
    extra = HostPolicy("127.0.0.1", split_hosts("xdeg.lab.org, .team.example"))
    assert extra.allows("xdeg.lab.org:8765") and extra.allows("a.team.example")
    assert extra.allows("team.example") and not extra.allows("evil.example")
    assert HostPolicy("127.0.0.1", ["*"]).allows("anything.example")
    settings = Settings.from_env({"XDEG_ALLOWED_HOSTS": "a.org,b.org"})
    assert split_hosts(settings.allowed_hosts) == ("a.org", "b.org")


def test_a_foreign_host_is_refused_with_421(explorer_home: dict) -> None:
    app = create_app(explorer_home["home"], explorer_home["images"])
    with TestClient(app, base_url="http://evil.example:8765") as client:
        for url in ("/", "/api/status", "/api/images?q=img", "/static/explorer.js"):
            r = client.get(url)
            assert r.status_code == 421, url
            assert "evil.example" in r.json()["error"] and "XDEG_ALLOWED_HOSTS" in r.json()["error"]
            assert r.headers["content-security-policy"] == CSP
    app = create_app(explorer_home["home"], explorer_home["images"], allowed_hosts=["evil.example"])
    with TestClient(app, base_url="http://evil.example:8765") as client:
        assert client.get("/api/status").status_code == 200


def test_a_real_server_refuses_a_rebound_host(explorer_home: dict) -> None:
    """The issue's case: ``curl -H "Host: evil.example:8765" http://127.0.0.1:8765/api/status``."""
    with running_explorer(explorer_home["home"], explorer_home["images"]) as base:
        port = int(base.rsplit(":", 1)[1])
        answers = {}
        for host in ("evil.example:8765", f"127.0.0.1:{port}", f"localhost:{port}"):
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            conn.request("GET", "/api/status", headers={"Host": host})
            response = conn.getresponse()
            answers[host] = (response.status, json.loads(response.read()))
            conn.close()
    assert answers["evil.example:8765"][0] == 421
    assert answers[f"127.0.0.1:{port}"][0] == answers[f"localhost:{port}"][0] == 200
