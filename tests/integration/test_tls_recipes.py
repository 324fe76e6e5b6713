"""The README's TLS recipe per certificate shape (issue 11), against lab devices that present their
firmware's certificate: Fortinet_GUI_Server with IP subjectAltNames signed by the device's own
Fortinet_CA_SSL (FortiOS 7.2.1+), the CN-only self-signed Fortinet_Factory (FortiOS < 7.2.1) and
Fortinet_Local (FortiManager), and the serial-in-subjectAltName variant (a topology switch).

Each recipe must let a module through, a wrong name or pin must fail with 202003, and
fortinet_certificate_info must give the values the recipe needs.
"""

import pytest

from kklab.lab import Lab

# fgt1: FortiOS 7.4.4 (gui), fgt3: FortiOS 7.2.0 (factory), fmg1: FortiManager (local).
SHAPES = {"fgt1": "gui", "fgt3": "factory", "fmg1": "local"}
WRONG_SERIAL = "FGVM01TM99999999"


def read(run_module, args):
    """One read-only request through the device's module (the FortiGate or FortiManager client)."""
    if args["url"] and "fmg" in args.pop("_device"):
        return run_module("fortimanager_object_info", dict(args, path="/pm/config/adom/{adom}/obj/system/external-resource",
                                                           name="kk_none", retries=0))
    return run_module("fortigate_object_info", dict(args, path="system/external-resource", name="kk_none", retries=0))


def args_for(labview, device, **options):
    info = labview.info(device)
    return dict({"url": info["url"], "token": info["admin_token"], "_device": device}, **options)


@pytest.mark.parametrize("device", sorted(SHAPES))
def test_lab_json_names_each_shape(labview, device):
    info = labview.info(device)
    cert = info["certificate"]
    assert cert["shape"] == SHAPES[device]
    if SHAPES[device] == "gui":
        # Fortinet_GUI_Server: the HTTPS interface address, not the serial; signed by the device's own CA.
        assert cert["subject_alt_names"] == ["IP:127.0.0.1"] and info["serial"] not in str(cert["subject_alt_names"])
        assert cert["name"] == "Fortinet_GUI_Server" and cert["ca_name"] == "Fortinet_CA_SSL"
        assert info["serial"] in cert["issuer"] and info["ca_path"] != labview.state["ca_path"]
    else:
        # Fortinet_Factory / Fortinet_Local: the serial as the CN, no subjectAltName, self-signed.
        assert cert["subject_alt_names"] == [] and cert["subject_cn"] == info["serial"] and cert["self_signed"]
        assert info["tls_server_name"] == info["serial"]
    assert len(info["tls_fingerprint"].split(":")) == 32


@pytest.mark.parametrize("device", sorted(SHAPES))
def test_recipe_ca_path_and_name_works(labview, run_module, device):
    result = read(run_module, dict(labview.connection(device), _device=device))
    assert result.get("failed") is not True, result
    assert result["exists"] is False


@pytest.mark.parametrize("device", sorted(SHAPES))
def test_wrong_name_fails_with_202003(labview, run_module, device):
    info = labview.info(device)
    result = read(run_module, args_for(labview, device, ca_path=info["ca_path"], tls_server_name=WRONG_SERIAL))
    assert result["failed"] and result["error_code"] == 202003, result
    assert "tls_server_name %s" % WRONG_SERIAL in result["msg"]


@pytest.mark.parametrize("device", ["fgt3", "fmg1"])
def test_cn_only_certificate_needs_the_name(labview, run_module, device):
    # By IP without tls_server_name: the address is nowhere in a CN-only certificate.
    info = labview.info(device)
    result = read(run_module, args_for(labview, device, ca_path=info["ca_path"]))
    assert result["failed"] and result["error_code"] == 202003, result


def test_gui_certificate_with_the_serial_fails(labview, run_module):
    # The old README recipe (the serial as tls_server_name) against a 7.2.1+ certificate: the serial is
    # not in it. The chain is the device's CA, so this is the name check failing, as it should.
    info = labview.info("fgt1")
    result = read(run_module, args_for(labview, "fgt1", ca_path=info["ca_path"], tls_server_name=info["serial"]))
    assert result["failed"] and result["error_code"] == 202003
    assert "name does not match" in result["msg"]


def test_another_devices_ca_fails(labview, run_module):
    # fgt2's Fortinet_CA_SSL does not vouch for fgt1, although both certificates name 127.0.0.1.
    result = read(run_module, args_for(labview, "fgt1", ca_path=labview.info("fgt2")["ca_path"]))
    assert result["failed"] and result["error_code"] == 202003
    assert "not signed by a trusted CA" in result["msg"]


@pytest.mark.parametrize("device", sorted(SHAPES))
def test_pins(labview, run_module, device):
    pin = labview.info(device)["tls_fingerprint"]
    wrong = "AB" * 32
    assert read(run_module, args_for(labview, device, tls_fingerprint=pin)).get("failed") is not True
    assert read(run_module, args_for(labview, device, tls_fingerprint=[wrong, pin])).get("failed") is not True
    bad = read(run_module, args_for(labview, device, tls_fingerprint=[wrong]))
    assert bad["failed"] and bad["error_code"] == 202003 and "tls_fingerprint" in bad["msg"]


def test_rotation_with_a_list_of_pins(labview, run_module):
    old = labview.info("fgt1")["tls_fingerprint"]
    new = labview.control("POST", "/devices/fgt1/certificate/regenerate")["sha256"]
    try:
        assert new != old
        stale = read(run_module, args_for(labview, "fgt1", tls_fingerprint=old))
        assert stale["failed"] and stale["error_code"] == 202003
        assert read(run_module, args_for(labview, "fgt1", tls_fingerprint=[old, new])).get("failed") is not True
        # The device CA did not change: the ca_path recipe does not expire with the leaf.
        assert read(run_module, dict(labview.connection("fgt1"), _device="fgt1")).get("failed") is not True
    finally:
        labview.lab.write_state()


@pytest.mark.parametrize("device", sorted(SHAPES))
def test_certificate_info_gives_what_the_recipe_needs(labview, run_module, device, tmp_path):
    info = labview.info(device)
    presented = run_module("fortinet_certificate_info", {"url": info["url"]}, check=True)
    assert presented["changed"] is False
    assert presented["certificate"]["sha256"] == info["tls_fingerprint"]
    assert presented["certificate"]["subject_alt_names"] == info["certificate"]["subject_alt_names"]
    # Without options nothing trusts the device yet.
    assert presented["verification"]["accepted"] is False
    anchor = tmp_path / "anchor.pem"
    anchor.write_text(presented["trust_anchor_pem"])
    if SHAPES[device] == "gui":
        assert presented["chain_length"] == 2 and presented["ca"]["sha256"] == info["certificate"]["ca_sha256"]
        assert presented["tls_server_name"] is None  # the URL's address is in the certificate
    else:
        assert presented["ca"] is None and presented["tls_server_name"] == info["serial"]
    recipe = {"ca_path": str(anchor)}
    if presented["tls_server_name"]:
        recipe["tls_server_name"] = presented["tls_server_name"]
    checked = run_module("fortinet_certificate_info", dict(recipe, url=info["url"]))
    assert checked["verification"]["accepted"] is True, checked["verification"]
    assert read(run_module, args_for(labview, device, **recipe)).get("failed") is not True
    wrong = run_module("fortinet_certificate_info", dict(recipe, url=info["url"], tls_server_name=WRONG_SERIAL))
    assert wrong["verification"]["name_matches"] is False and wrong["verification"]["accepted"] is False


def test_certificate_info_unreachable_is_202000(run_module):
    result = run_module("fortinet_certificate_info", {"url": "https://127.0.0.1:9", "timeout": 2})
    assert result["failed"] and result["error_code"] == 202000


def test_pin_on_first_use_playbook(labview, run_playbook):
    info = labview.info("fgt3")
    rc, output, results = run_playbook("""
- hosts: localhost
  gather_facts: false
  tasks:
    - name: presented
      knocknoc.fortinet.fortinet_certificate_info:
        url: "{{ fgt.url }}"
      register: presented
    - name: pinned
      knocknoc.fortinet.fortigate_object_info:
        url: "{{ fgt.url }}"
        token: "{{ fgt.token }}"
        tls_fingerprint:
          - "{{ presented.certificate.sha256 }}"
        path: system/external-resource
        name: kk_none
""", extra_vars={"fgt": {"url": info["url"], "token": info["admin_token"]}})
    assert rc == 0, output
    assert results["presented"]["certificate"]["sha256"] == info["tls_fingerprint"]
    assert results["pinned"]["exists"] is False
    assert info["admin_token"] not in output


def test_serial_san_variant(tmp_path, labview_class, run_module):
    """The topology switch: every appliance with the lab CA's serial-in-subjectAltName certificate."""
    topology = {"certificates": "serial-san",
                "fortigate": [{"name": "fgt1", "serial": "FGVM01TM24000001", "version": "7.4.4"}],
                "fortimanager": [{"name": "fmg1", "serial": "FMG-VM0000000001", "adoms": {"root": {"devices": ["fgt1"]}}}]}
    lab = Lab(tmp_path, topology=topology).start()
    try:
        view = labview_class(lab)
        for device in ("fgt1", "fmg1"):
            info = view.info(device)
            assert info["certificate"]["shape"] == "serial-san" and info["ca_path"] == view.state["ca_path"]
            # trustme writes DNS names in lower case; name matching is case-insensitive.
            assert info["certificate"]["subject_alt_names"] == ["DNS:%s" % info["serial"].lower()]
            assert read(run_module, dict(view.connection(device), _device=device)).get("failed") is not True
            bad = read(run_module, dict(view.connection(device, tls_server_name=WRONG_SERIAL), _device=device))
            assert bad["failed"] and bad["error_code"] == 202003
    finally:
        lab.stop()
