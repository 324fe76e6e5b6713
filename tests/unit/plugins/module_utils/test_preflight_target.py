# Copyright: Contributors to the knocknoc.fortinet project
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""SingleFortiGate (one FortiGate of the shared transport, values and raised errors) and Target's
table cache."""

import pytest

from ansible_collections.knocknoc.fortinet.plugins.module_utils._errors import KnocknocError
from ansible_collections.knocknoc.fortinet.plugins.module_utils._fortigate import FortiGateClient, Reply
from ansible_collections.knocknoc.fortinet.plugins.module_utils._fortigates import (
    DirectFortiGate,
    ProxiedFortiGates,
    device_target,
)
from ansible_collections.knocknoc.fortinet.plugins.module_utils._fortimanager import FortiManagerClient
from ansible_collections.knocknoc.fortinet.plugins.module_utils._preflight.target import SingleFortiGate, Target

from preflight_fakes import FakeFortiGate
from test_fortigates import OK, Both, envelope


class FakeClient(object):
    """A FortiGateClient's ``answer``: ``replies[(method, path)]`` is a value or a KnocknocError."""

    base_url = "https://fgt.example.com"
    vdom = "root"

    def __init__(self, replies):
        self.replies = replies
        self.calls = []

    def answer(self, call, vdom=None):
        self.calls.append((call.method, call.path, vdom))
        reply = self.replies[(call.method, call.path)]
        if isinstance(reply, KnocknocError):
            raise reply
        return reply, Reply(200, {"status": "success"}, self.base_url, call.display(vdom), vdom)

    def close(self):
        pass


def single(replies):
    client = FakeClient(replies)
    return SingleFortiGate(DirectFortiGate(client, "vd1")), client


def test_values_come_back_and_the_vdom_is_the_transports():
    fgt, client = single({("GET", "/api/v2/cmdb/firewall/policy"): [{"policyid": 1}]})
    assert fgt.get_table("firewall/policy") == [{"policyid": 1}]
    assert client.calls == [("GET", "/api/v2/cmdb/firewall/policy", "vd1")]


def test_errors_are_raised():
    fgt, _client = single({("GET", "/api/v2/monitor/system/status"): KnocknocError(202001, cause="HTTP 401")})
    with pytest.raises(KnocknocError) as info:
        fgt.system_status()
    assert info.value.code == 202001


def test_a_missing_external_resource_reads_as_none_other_errors_raise():
    path = "/api/v2/monitor/system/external-resource/entry-list"
    fgt, _client = single({("GET", path): None})  # the 404 "missing value"
    assert fgt.entry_list("kk_allow") is None
    fgt, _client = single({("GET", path): KnocknocError(202002, cause="HTTP 403")})
    with pytest.raises(KnocknocError) as info:
        fgt.entry_list("kk_allow")
    assert info.value.code == 202002


@pytest.fixture
def ways(server, tls):
    """The same FortiGate (fgt1, VDOM vd1) directly and through FortiManager, on one scripted server."""
    both = Both(server)
    fmg = FortiManagerClient(server.url, "Mn3Bv8Cx1Zl6Kj4Hg9Fd2Sa7Qw5Er0", adom="root", retries=0, timeout=20, **tls)
    direct = SingleFortiGate(DirectFortiGate(FortiGateClient(server.url, "Zp4Lw9Qe2Rt7Yu1Io6Pa3Sd8Fg5Hj0", retries=0,
                                                             **tls), "vd1"))
    proxy = SingleFortiGate(ProxiedFortiGates(fmg, [device_target("root", "fgt1")], "vd1"))
    return both, direct, proxy


def answer(both, status, body):
    both.direct = (status, body)
    both.proxy_answers(lambda data: [{"target": "fgt1", "status": OK, "response": dict(body, http_status=status)}])


def test_add_member_reads_a_duplicate_as_already_there(ways):
    both, direct, proxy = ways
    for fgt in (direct, proxy):
        answer(both, 200, envelope(mkey="kk_a"))
        assert fgt.add_member("firewall/addrgrp", "kk users", "kk_a") is True
        answer(both, 500, envelope(500, error=-5))
        assert fgt.add_member("firewall/addrgrp", "kk users", "kk_a") is False
        answer(both, 500, envelope(500, error=-3))
        with pytest.raises(KnocknocError) as info:
            fgt.add_member("firewall/addrgrp", "kk users", "kk_a")
        assert info.value.details["fortios_error"] == -3
    assert [(r.method, r.path) for r in both.server.requests if r.path != "/jsonrpc"] == [
        ("POST", "/api/v2/cmdb/firewall/addrgrp/kk%20users/member?vdom=vd1")] * 3


def test_remove_member_deletes_the_child_entry(ways):
    both, direct, proxy = ways
    for fgt in (direct, proxy):
        answer(both, 200, envelope())
        assert fgt.remove_member("firewall/addrgrp", "g", "kk_a") is True
        answer(both, 404, envelope(404))
        assert fgt.remove_member("firewall/addrgrp", "g", "kk_a") is False
    assert [(r.method, r.path) for r in both.server.requests if r.path != "/jsonrpc"] == [
        ("DELETE", "/api/v2/cmdb/firewall/addrgrp/g/member/kk_a?vdom=vd1")] * 2
    assert len(both.jsonrpc_requests()) == 2


def test_target_reads_a_table_once_until_forgotten():
    reader = FakeFortiGate(tables={"firewall/policy": [{"policyid": 1}]})
    target = Target(reader, reader, "fgt1")
    assert target.table("firewall/policy") == target.table("firewall/policy")
    assert reader.calls == [("get_table", "firewall/policy")]
    target.forget("firewall/policy")
    target.table("firewall/policy")
    assert len(reader.calls) == 2
