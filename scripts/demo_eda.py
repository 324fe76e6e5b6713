"""`make demo`, last step: Event-Driven Ansible. ansible-rulebook runs the collection's rulebook
(extensions/eda/rulebooks/knocknoc_access.yml) against the running lab; a user signs in on Knocknoc and fgt1
admits the address without anyone running a playbook, then signs out and fgt1 refuses it again.

Usage: scripts/demo_eda.py LAB_JSON   (scripts/demo.sh calls it with the demo's lab)
"""

import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from harness.eda import H, Device, Rulebook, wait_for  # noqa: E402

RESOURCE = "kk_eda"  # a push-only external resource of its own: the demo's feed polls its allowlist by itself
USER, IP = "erin", "198.51.100.20"


def main(lab_json):
    state = json.loads(Path(lab_json).read_text())
    fgt, kk = Device(state, "fgt1"), Device(state, "knocknoc")
    fgt.call("POST", "/api/v2/cmdb/system/external-resource", params=H,
             json={"name": RESOURCE, "type": "address", "update-method": "push"})
    fgt.call("POST", "/api/v2/cmdb/firewall/address", params=H, json={"name": "eda-srv", "subnet": "10.0.0.20/32"})
    fgt.call("POST", "/api/v2/cmdb/firewall/policy", params=H, json={
        "policyid": 0, "name": "kk-eda", "srcintf": [{"name": "port2"}], "dstintf": [{"name": "port1"}],
        "srcaddr": [{"name": RESOURCE}], "dstaddr": [{"name": "eda-srv"}], "action": "accept",
        "service": [{"name": "HTTPS"}], "schedule": "always"})
    knoc = kk.call("POST", "/api/v1/knocs", json={"name": "demo-eda", "mode": "passive_plus", "device_url": fgt.url,
                                                  "authorization_token": "unused",
                                                  "external_connector_name": RESOURCE}).json()

    def admitted():
        results = fgt.call("GET", "/api/v2/monitor/firewall/policy-lookup", params={
            "srcintf": "port2", "sourceip": IP, "dest": "10.0.0.20", "destport": 443, "protocol": 6, "vdom": "root"}
        ).json()["results"]
        return bool(results.get("success")) and results.get("policy_action") == "accept"

    # What the credentials would inject: the allowlist for the source, the agent's key for the playbooks.
    env = {"KNOCKNOC_ALLOWLIST_URL": knoc["allowlist"]["url"], "KNOCKNOC_ALLOWLIST_API_KEY": knoc["allowlist"]["api_key"],
           "KNOCKNOC_CA_PATH": kk.ca_path, "FORTIGATE_URL": fgt.url,
           "FORTIGATE_TOKEN": fgt.info["tokens"]["kk-passiveplus"], "FORTIGATE_CA_PATH": fgt.ca_path,
           "FORTIGATE_TLS_SERVER_NAME": fgt.server_name}
    variables = {"knocknoc_resource_name": RESOURCE, "knocknoc_allowlist_name": "demo-eda", "knocknoc_interval": 0.5}
    work = Path(tempfile.mkdtemp(prefix="kk-demo-eda-"))
    print("  ansible-rulebook -r knocknoc.fortinet.knocknoc_access -i localhost, --vars vars.json  (log: %s)"
          % (work / "rulebook.log"))
    rulebook = Rulebook(work, "knocknoc.fortinet.knocknoc_access", variables, env)
    try:
        wait_for(lambda: "no reconcile" in rulebook.output() or not rulebook.alive(), 180, step=0.2)
        if not rulebook.alive():
            raise SystemExit("ansible-rulebook stopped:\n" + rulebook.output()[-3000:])
        loaded = [line for line in rulebook.output().splitlines() if line.startswith("Loading rulebook from")]
        before = "admits" if admitted() else "refuses"
        print("  %s; before sign-in fgt1 %s %s" % (loaded[0] if loaded else "rulebook started", before, IP))
        start = time.monotonic()
        grant = kk.call("POST", "/api/v1/knocs/%d/grants" % knoc["knoc"]["id"], json={"username": USER, "ip": IP}).json()
        seconds = wait_for(admitted, 120)
        print("  %s signs in on Knocknoc -> fgt1 admits %s after %.1f s (no playbook started by hand)" % (USER, IP, seconds))
        kk.call("DELETE", "/api/v1/knocs/%d/grants/%d" % (knoc["knoc"]["id"], grant["grant"]["id"]))
        seconds = wait_for(lambda: not admitted(), 120)
        print("  %s signs out -> fgt1 refuses %s after %.1f s" % (USER, IP, seconds))
        wait_for(lambda: rulebook.runs() >= 2, 60, step=0.2)
        for line in rulebook.output().splitlines():
            if '"msg": "Knocknoc demo-eda:' in line:
                print("  playbook: " + line.split('"msg": "', 1)[1].rstrip('"').strip())
        print("  total %.1f s" % (time.monotonic() - start))
    finally:
        rulebook.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
