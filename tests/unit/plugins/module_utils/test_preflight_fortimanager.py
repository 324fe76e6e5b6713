# Copyright: Contributors to the knocknoc.fortinet project
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The "(FortiManager)" items: ADOM object, device targets (202101), and the Active trusted-hosts
administrators (exact usernames, slots 1-9)."""

from ansible_collections.knocknoc.fortinet.plugins.module_utils._preflight.fortimanager import (
    check_adom_object,
    check_device_targets,
    check_fmg_admins,
)
from ansible_collections.knocknoc.fortinet.plugins.module_utils._preflight.report import Report

from preflight_fakes import FakeFMG

DEVICES = [{"name": "fgt1", "sn": "FGVM01TM24000001"}, {"name": "fgt2", "sn": "FGVM01TM24000002"},
           {"name": "fgt3", "sn": "FGVM01TM24000003"}]
ROUTES = {"/dvmdb/adom/root/device": DEVICES,
          "/dvmdb/adom/root/group": [{"name": "branch", "object member": [{"name": "fgt3"}, {"name": "fgt1"}]}]}
LOOKUP = ("rpc", ("/dvmdb/adom/root/device", "/dvmdb/adom/root/group"))


def targets(wanted, routes=None):
    fmg = FakeFMG(ROUTES if routes is None else routes)
    report = Report()
    devices = check_device_targets(report, fmg, "root", wanted)
    return [t.device for t in devices], report.checks[0], fmg


def test_no_targets_means_every_fortigate_of_the_adom_in_one_read():
    devices, check, fmg = targets([])
    assert devices == ["fgt1", "fgt2", "fgt3"]
    assert check["passed"] is True and check["detail"] == "fgt1, fgt2, fgt3 in ADOM root"
    assert fmg.calls == [LOOKUP]


def test_names_serials_paths_and_groups_resolve_in_order_without_duplicates_in_one_request():
    devices, check, fmg = targets(["FGVM01TM24000002", "adom/root/group/branch", "adom/root/device/fgt1", "fgt3", "branch"])
    assert devices == ["fgt2", "fgt3", "fgt1"] and check["passed"] is True
    assert fmg.calls == [LOOKUP]


def test_an_unknown_device_fails_and_the_known_ones_are_still_checked():
    devices, check, _fmg = targets(["fgt1", "FGVM01TM24000009"])
    assert check["passed"] is False
    assert check["detail"] == ("'FGVM01TM24000009' is not a device nor a device group of ADOM root (names and serial"
                               " numbers are case-sensitive)")
    assert "202101" in check["fix"]
    assert devices == ["fgt1"]


def test_an_unknown_group_fails():
    devices, check, _fmg = targets(["adom/root/group/nope"])
    assert check["passed"] is False and "'adom/root/group/nope' is not a device group of ADOM root" in check["detail"]
    assert devices == []


def test_an_unknown_adom_is_named():
    devices, check, _fmg = targets(["adom/Root/device/fgt1"])
    assert check["passed"] is False and check["detail"].startswith("ADOM Root does not exist on FortiManager")
    assert devices == []


def test_an_adom_without_fortigates_fails():
    devices, check, _fmg = targets([], routes={"/dvmdb/adom/root/device": [], "/dvmdb/adom/root/group": []})
    assert devices == [] and check["detail"] == "ADOM root has no FortiGate to push to"


def test_the_adom_object_must_exist_with_exactly_that_name():
    url = "/pm/config/adom/root/obj/system/external-resource"
    report = Report()
    check_adom_object(report, FakeFMG({url: [{"name": "KK_allow"}]}), "root", "kk_allow")
    assert report.checks[0]["passed"] is False
    assert report.checks[0]["detail"] == "no external resource kk_allow in ADOM root (found KK_allow: names are case-sensitive)"
    report = Report()
    check_adom_object(report, FakeFMG({url: [{"name": "kk_allow"}]}), "root", "kk_allow")
    assert report.checks[0]["detail"] == "kk_allow exists in ADOM root"


# -- Active on FortiManager: the administrators Knocknoc controls --------------------------------------
UNUSED = ["255.255.255.255", "255.255.255.255"]


def admin(name, slot1=("127.0.0.1", "255.255.255.255"), v6_slot1="::1/128"):
    user = {"userid": name, "trusthost1": list(slot1), "ipv6_trusthost1": v6_slot1}
    for slot in range(2, 11):
        user["trusthost%d" % slot] = UNUSED
    return user


def admins(usernames, users):
    routes = {"/cli/global/system/admin/user": [{"userid": u["userid"]} for u in users]}
    routes.update(("/cli/global/system/admin/user/%s" % u["userid"], u) for u in users)
    fmg = FakeFMG(routes)
    report = Report()
    check_fmg_admins(report, fmg, usernames)
    return report, dict((c["id"], c) for c in report.checks), fmg


def test_controlled_admins_pass_with_one_list_read_and_one_read_each():
    report, checks, fmg = admins(["alice", "bob"], [admin("alice"), admin("bob")])
    assert report.ids() == ["usernames", "trusted_hosts", "trusted_hosts_ipv6"]
    assert all(c["passed"] for c in checks.values()), checks
    assert checks["usernames"]["detail"] == "alice, bob exist"
    assert len(fmg.calls) == 3


def test_usernames_are_case_sensitive():
    _report, checks, _fmg = admins(["Carol", "alice"], [admin("carol"), admin("alice")])
    assert checks["usernames"]["passed"] is False
    assert checks["usernames"]["detail"] == "no administrator named 'Carol' (found carol: usernames are case-sensitive)"
    assert checks["trusted_hosts"]["passed"] is True  # alice was found and is checked


def test_allow_all_slots_are_named_per_admin_and_ipv6_is_a_warning():
    bob = admin("bob", slot1=("0.0.0.0", "0.0.0.0"), v6_slot1="::/0")
    report, checks, _fmg = admins(["alice", "bob"], [admin("alice"), bob])
    assert checks["trusted_hosts"]["detail"] == "bob: trusted host 1 allow all (0.0.0.0/0.0.0.0)"
    assert checks["trusted_hosts_ipv6"]["severity"] == "warning"
    assert checks["trusted_hosts_ipv6"]["detail"] == "bob: IPv6 trusted host 1 allow all (::/0)"
    assert report.result()["failed_checks"] == ["trusted_hosts"]


def test_a_slot_the_admin_lacks_has_its_factory_value():
    # FortiManager's slot 1 allows every address until it is set (reference F1); the others are unused.
    _report, checks, _fmg = admins(["dave"], [{"userid": "dave"}])
    assert checks["trusted_hosts"]["detail"] == "dave: trusted host 1 allow all (0.0.0.0/0.0.0.0)"
    assert checks["trusted_hosts_ipv6"]["detail"] == "dave: IPv6 trusted host 1 allow all (::/0)"
    _report, checks, _fmg = admins(["erin"], [{"userid": "erin", "trusthost1": ["127.0.0.1", "255.255.255.255"],
                                               "ipv6_trusthost1": "::1/128"}])
    assert checks["trusted_hosts"]["passed"] is True and checks["trusted_hosts_ipv6"]["passed"] is True


def test_any_zero_mask_is_allow_all():
    _report, checks, _fmg = admins(["frank"], [admin("frank", slot1=("10.0.0.0", "0.0.0.0"))])
    assert checks["trusted_hosts"]["detail"] == "frank: trusted host 1 allow all (0.0.0.0/0.0.0.0)"


def test_no_usernames_skips_and_reads_nothing():
    report, checks, fmg = admins([], [])
    assert checks == {} and fmg.calls == []
    assert report.skipped[0]["reason"] == "no usernames given"


def test_trusted_hosts_from_the_profile_warn():
    # FortiManager 7.0.3+: th-from-profile set -> the profile's trusted hosts apply, slot 10 of the user does nothing
    profiled = dict(admin("bob"), profileid="Ops", **{"th-from-profile": 1, "th6-from-profile": 0})
    report, checks, _fmg = admins(["alice", "bob"], [dict(admin("alice"), **{"th-from-profile": 0}), profiled])
    assert report.ids() == ["usernames", "trusted_hosts", "trusted_hosts_ipv6", "trusted_hosts_own"]
    own = checks["trusted_hosts_own"]
    assert own["passed"] is False and own["severity"] == "warning"
    assert "bob: IPv4 trusted hosts from admin profile Ops" in own["detail"] and "alice" not in own["detail"]
