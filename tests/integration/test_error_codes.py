"""Every transport-level agent error code, produced end to end: a fault injected in the lab, the
collection's client calling the device, and the rendered error checked for its code, its text and
the absence of any secret.

Codes that only a module can produce (202050, 202051, 202100, 202101, 202102) are checked in the
modules' own test files and once more here through the modules.
"""

import pytest

from ansible_collections.knocknoc.fortinet.plugins.module_utils._errors import AGENT_ERRORS, KnocknocError
from ansible_collections.knocknoc.fortinet.plugins.module_utils._fortigate import FortiGateClient
from ansible_collections.knocknoc.fortinet.plugins.module_utils._fortimanager import FortiManagerClient


def fortigate(labview, name="fgt1", token_name="kk-passiveplus", **overrides):
    info = labview.info(name)
    options = dict(ca_path=info["ca_path"], tls_server_name=info["tls_server_name"], timeout=5, retries=0)
    options.update(overrides)
    token = overrides.pop("token", None) or info["tokens"][token_name]
    options.pop("token", None)
    return FortiGateClient(info["url"], token, **options), token


def fortimanager(labview, token_name="lab-api", **overrides):
    info = labview.info("fmg1")
    options = dict(ca_path=info["ca_path"], tls_server_name=info["tls_server_name"], timeout=5, retries=0)
    token = overrides.pop("token", None) or info["tokens"][token_name]
    options.update(overrides)
    return FortiManagerClient(info["url"], token, **options), token


def assert_agent_error(exc_info, code, *secrets):
    err = exc_info.value
    assert isinstance(err, KnocknocError)
    text = str(err)
    assert err.code == code, text
    assert text.startswith("(agent error #%d) %s" % (code, AGENT_ERRORS[code][0])), text
    assert "Hint: " in text
    rendered = repr(err.fail_kwargs())
    for secret in secrets:
        assert secret not in rendered
    return err


def test_202000_connection_dropped(labview):
    client, token = fortigate(labview)
    labview.fault("fgt1", kind="drop")
    with pytest.raises(KnocknocError) as exc_info:
        client.system_status()
    assert_agent_error(exc_info, 202000, token)


def test_202000_nothing_listening(labview):
    info = labview.info("fgt1")
    client = FortiGateClient("https://127.0.0.1:1", info["tokens"]["lab-admin"], retries=0, timeout=2)
    with pytest.raises(KnocknocError) as exc_info:
        client.system_status()
    assert_agent_error(exc_info, 202000, info["tokens"]["lab-admin"])


def test_202001_fortigate_bad_token(labview):
    client, _unused = fortigate(labview, token="0123456789abcdefghijklmnopqrst")
    with pytest.raises(KnocknocError) as exc_info:
        client.get_table("firewall/address")
    err = assert_agent_error(exc_info, 202001, "0123456789abcdefghijklmnopqrst")
    assert err.details.get("http_status") == 401


def test_202001_fortigate_untrusted_source(labview):
    client, token = fortigate(labview, token_name="kk-untrusted")
    with pytest.raises(KnocknocError) as exc_info:
        client.get_table("firewall/address")
    assert_agent_error(exc_info, 202001, token)


def test_202001_fortimanager_bad_token(labview):
    client, token = fortimanager(labview, token="not-a-key-not-a-key-not-a-key1")
    with pytest.raises(KnocknocError) as exc_info:
        client.call("get", "/dvmdb/adom/root/device")
    assert_agent_error(exc_info, 202001, token)


def test_202001_fortimanager_invalid_session(labview):
    client, token = fortimanager(labview)
    labview.fault("fmg1", kind="jsonrpc", code=-10, message="Invalid session ID")
    with pytest.raises(KnocknocError) as exc_info:
        client.call("get", "/dvmdb/adom/root/device")
    assert_agent_error(exc_info, 202001, token)


def test_202002_fortigate_profile_without_permission(labview):
    client, token = fortigate(labview, token_name="kk-noperm")
    with pytest.raises(KnocknocError) as exc_info:
        client.get_table("system/external-resource")
    err = assert_agent_error(exc_info, 202002, token)
    assert err.details.get("http_status") == 403


def test_202002_fortimanager_profile_without_device_manager(labview):
    client, token = fortimanager(labview, token_name="kk-nodevmgr")
    with pytest.raises(KnocknocError) as exc_info:
        client.proxy("post", "/api/v2/monitor/system/external-resource/dynamic?vdom=root",
                     {"commands": [{"name": "kk_allow", "command": "add", "entries": ["198.51.100.7"]}]})
    err = assert_agent_error(exc_info, 202002, token)
    assert err.details["jsonrpc_code"] == -11


def test_202002_fortimanager_no_permission_status(labview):
    client, token = fortimanager(labview)
    labview.fault("fmg1", kind="jsonrpc", code=-5, message="No permission", count=1)
    with pytest.raises(KnocknocError) as exc_info:
        client.call("get", "/dvmdb/adom/root/device")
    assert_agent_error(exc_info, 202002, token)


def test_202003_wrong_certificate_name(labview):
    client, token = fortigate(labview)
    labview.fault("fgt1", kind="wrong_cert")
    with pytest.raises(KnocknocError) as exc_info:
        client.system_status()
    assert_agent_error(exc_info, 202003, token)


def test_202003_untrusted_ca_by_default(labview):
    info = labview.info("fmg1")
    client = FortiManagerClient(info["url"], info["admin_token"], retries=0, timeout=5)
    with pytest.raises(KnocknocError) as exc_info:
        client.call("get", "/sys/status")
    assert_agent_error(exc_info, 202003, info["admin_token"])


def test_202004_device_too_slow(labview):
    client, token = fortigate(labview, timeout=1)
    labview.fault("fgt1", kind="delay", seconds=2.5, count=1)
    with pytest.raises(KnocknocError) as exc_info:
        client.system_status()
    assert_agent_error(exc_info, 202004, token)


def test_202150_malformed_reply(labview):
    client, token = fortimanager(labview)
    labview.fault("fmg1", kind="malformed")
    with pytest.raises(KnocknocError) as exc_info:
        client.call("get", "/sys/status")
    assert_agent_error(exc_info, 202150, token)


def test_202150_invalid_parameters_status(labview):
    client, token = fortimanager(labview)
    labview.fault("fmg1", kind="jsonrpc", code=-6, message="Invalid url", count=1)
    with pytest.raises(KnocknocError) as exc_info:
        client.call("get", "/dvmdb/adom/root/device")
    assert_agent_error(exc_info, 202150, token)


def test_server_errors_are_retried_and_then_succeed(labview):
    client, _unused = fortigate(labview, retries=3)
    client.backoff_base = client.backoff_cap = 0.01
    labview.fault("fgt1", kind="status", status=503, count=2)
    assert client.system_status()["serial"] == labview.info("fgt1")["serial"]
    assert labview.counters()["fgt1"]["requests"] == 3


def test_authentication_failures_are_never_retried(labview):
    client, _unused = fortigate(labview, token="0123456789abcdefghijklmnopqrst", retries=3)
    with pytest.raises(KnocknocError):
        client.get_table("firewall/address")
    assert labview.counters()["fgt1"]["requests"] == 1
