"""validate_certs=false is the last resort of the TLS options: it works, and the task says so once per device it
reached without checking the certificate (urllib3's own warning is silenced and named no device)."""

import pytest


def texts(result):
    return [w if isinstance(w, str) else w["event"]["msg"] for w in result.get("warnings", [])]


@pytest.mark.parametrize("device, module, args", [
    ("fgt1", "fortigate_object_info", dict(path="firewall/address", name="all")),
    ("fmg1", "fortimanager_object_info", dict(path="/cli/global/system/admin/user", name="bob")),
    ("knocknoc", "knocknoc_grant_info", dict(knoc="nothing-here")),
])
def test_one_warning_naming_the_device(labview, run_module, device, module, args):
    conn = labview.connection(device, retries=0)
    verified = run_module(module, dict(conn, **args))
    assert not [t for t in texts(verified) if "validate_certs" in t]

    insecure = dict(conn, validate_certs=False, **args)
    insecure.pop("ca_path")
    insecure.pop("tls_server_name", None)
    result = run_module(module, insecure)
    warnings = [t for t in texts(result) if "validate_certs=false" in t]
    origin = "/".join(labview.info(device)["url"].split("/")[:3])
    assert len(warnings) == 1 and "%s " % origin in warnings[0], result  # once, although several requests were sent
    assert result.get("failed") == verified.get("failed")  # the same answer otherwise (a failure warns too)
