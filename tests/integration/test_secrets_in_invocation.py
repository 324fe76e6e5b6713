"""Ansible echoes module arguments back (``invocation``, and in -v output). A password someone
wrongly put in a URL must be masked there too, while the module refuses the URL."""

import json

from ansible.module_utils.ansible_release import __version__ as ansible_version
from ansible.module_utils.testing import patch_module_args


def test_url_credentials_are_masked_in_the_echoed_arguments(labview, capsys):
    from ansible_collections.knocknoc.fortinet.plugins.modules import fortinet_external_resource

    info = labview.info("fgt1")
    args = dict(url=info["url"], token=info["tokens"]["kk-passiveplus"], ca_path=info["ca_path"],
                tls_server_name=info["tls_server_name"], name="kk_allow",
                resource="https://apikey:topsecret-key@knocknoc.example.com/api/v1/allowlists/x/y.txt")
    if tuple(int(p) for p in ansible_version.split(".")[:2]) >= (2, 20):
        # ansible-core 2.20+ echoes the arguments only when asked (INJECT_INVOCATION); older always do.
        args["_ansible_inject_invocation"] = True
    with patch_module_args(args):
        try:
            fortinet_external_resource.main()
        except SystemExit:
            pass
    result = json.loads(capsys.readouterr().out)
    assert result["failed"] and "credentials" in result["msg"]
    assert result["invocation"]["module_args"]["resource"].startswith("https://apikey:")
    text = json.dumps(result)
    assert "topsecret-key" not in text
    assert info["tokens"]["kk-passiveplus"] not in text
    assert labview.counters()["fgt1"]["requests"] == 0
