"""run_module_main: a module's main() in this process, as a module process would run it."""

import json
import os

from ansible.module_utils import basic
from ansible.module_utils.common import warnings as module_warnings

from ansible_collections.knocknoc.fortinet.plugins.plugin_utils.in_process import in_process_wanted, run_module_main

ARGS = {"_ansible_check_mode": False, "_ansible_diff": False, "_ansible_no_log": False, "_ansible_verbosity": 0,
        "_ansible_module_name": "knocknoc.fortinet.fortigate_object_info"}


def test_a_refused_argument_gives_the_modules_failure_and_leaves_no_state_behind():
    saved = (basic._ANSIBLE_ARGS, basic._ANSIBLE_PROFILE)
    module_warnings.warn("left over from an earlier task")
    stdout, stderr, rc = run_module_main("fortigate_object_info", dict(ARGS, path="firewall/address", colour="red"),
                                         {"KK_IN_PROCESS_TEST": "1"})
    result = json.loads(stdout)
    assert rc == 1 and result["failed"] and "colour" in result["msg"]
    assert "left over" not in stdout and stderr == ""
    # Arguments, warnings and the task's environment are the module's alone.
    assert (basic._ANSIBLE_ARGS, basic._ANSIBLE_PROFILE) == saved
    assert not module_warnings.get_warning_messages()
    assert "KK_IN_PROCESS_TEST" not in os.environ


def test_a_crash_is_a_traceback_without_json():
    stdout, stderr, rc = run_module_main("fortigate_object_info", None)
    assert rc == 1 and "Traceback" in stderr


def test_opt_out(monkeypatch):
    monkeypatch.delenv("KNOCKNOC_FORTINET_IN_PROCESS", raising=False)
    assert in_process_wanted({})
    monkeypatch.setenv("KNOCKNOC_FORTINET_IN_PROCESS", "false")
    assert not in_process_wanted({})
    assert in_process_wanted({"knocknoc_fortinet_in_process": True})
    monkeypatch.setenv("KNOCKNOC_FORTINET_IN_PROCESS", "true")
    assert not in_process_wanted({"knocknoc_fortinet_in_process": "no"})
