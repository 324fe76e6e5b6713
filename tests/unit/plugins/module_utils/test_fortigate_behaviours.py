# Copyright: Contributors to the knocknoc.fortinet project
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""FortiOS replies real devices may give (issue 11): a push without per-command results, policy lookups by
protocol number."""

import pytest

from ansible_collections.knocknoc.fortinet.plugins.module_utils._errors import KnocknocError
from ansible_collections.knocknoc.fortinet.plugins.module_utils._fortigate import (
    Reply,
    dynamic_push_call,
    policy_lookup_call,
    protocol_number,
    read_reply,
)

PUSH = [{"name": "kk_allow", "command": "add", "entries": ["192.0.2.1"]}]


def reply(body, status=200):
    return Reply(status, body, "fgt1", "POST /api/v2/monitor/system/external-resource/dynamic", "root")


def test_a_push_reply_without_results_is_none_and_an_error_envelope_still_fails():
    call = dynamic_push_call(PUSH)
    assert read_reply(call, reply({"status": "success", "http_status": 200, "vdom": "root"})) is None
    with pytest.raises(KnocknocError):
        read_reply(call, reply({"status": "error", "http_status": 500}, 500))
    with pytest.raises(KnocknocError) as shape:
        read_reply(call, reply({"status": "success", "results": "nonsense"}))
    assert shape.value.code == 202150


@pytest.mark.parametrize("given, number", [("tcp", 6), ("TCP", 6), ("udp", 17), ("icmp", 1), ("icmp6", 58),
                                           ("sctp", 132), ("6", 6), (17, 17), ("0", 0), ("255", 255)])
def test_protocols_are_sent_as_numbers(given, number):
    assert protocol_number(given) == number
    assert policy_lookup_call("port1", "192.0.2.1", "10.0.0.10", protocol=given).params["protocol"] == number


@pytest.mark.parametrize("bad", ["gre!", "256", "-1", "", "6.0"])
def test_an_unknown_protocol_is_refused(bad):
    with pytest.raises(ValueError, match="protocol must be one of"):
        protocol_number(bad)
