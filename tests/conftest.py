"""Fixtures shared by every suite: the lab, and an independent way to look at it.

The lab runs in-process (its devices are HTTPS servers on 127.0.0.1 threads), one per pytest
worker. Assertions about device state go through :class:`LabView`, which talks to the devices
with plain ``requests`` and shares no code with the collection's clients.
"""

import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "lab"))
sys.path.insert(0, str(ROOT / "tests"))

from harness.labview import LabView  # noqa: E402
from harness.modules import module_result  # noqa: E402
from kklab.lab import Lab  # noqa: E402


@pytest.fixture(scope="session")
def lab(tmp_path_factory):
    instance = Lab(tmp_path_factory.mktemp("lab")).start()
    yield instance
    instance.stop()


@pytest.fixture
def fresh_lab(lab):
    """The session lab back in its seed state (faults cleared, counters at zero)."""
    lab.reset()
    return lab


@pytest.fixture
def labview(fresh_lab):
    return LabView(fresh_lab)


def dump(obj):
    return json.dumps(obj, indent=1, sort_keys=True)


def _module_result(name, args, check=False, diff=False):
    """Run a collection module's main() in-process, the way Ansible would, and return its JSON."""
    result = module_result(name, args, check=check, diff=diff)
    # ansible-core before 2.20 echoes the arguments in every result; tests look at what the module
    # says, the same on every core. A secret in the echo is checked separately (see test_secrets).
    result.pop("invocation", None)
    return result


@pytest.fixture
def run_module():
    return _module_result


def _run_playbook(playbook_text, tmp_path, extra_vars=None, check=False, diff=False, env=None, timeout=300):
    """Run ansible-playbook (this venv's) on a playbook given as YAML text; return (rc, stdout, results).

    ``results`` is the list of per-task results from the json callback, keyed by task name.
    """
    import os
    import subprocess

    book = tmp_path / "play.yml"
    book.write_text(playbook_text)
    cmd = [str(Path(sys.executable).with_name("ansible-playbook")), str(book), "-i", "localhost,",
           "-c", "local", "-e", "ansible_python_interpreter=" + sys.executable]
    if extra_vars:
        extra = tmp_path / "extra.json"
        extra.write_text(json.dumps(extra_vars))
        cmd += ["-e", "@" + str(extra)]
    if check:
        cmd.append("--check")
    if diff:
        cmd.append("--diff")
    run_env = dict(os.environ)
    run_env.update({
        "ANSIBLE_COLLECTIONS_PATH": str(ROOT / ".cache" / "collections"),
        "ANSIBLE_STDOUT_CALLBACK": "ansible.posix.json",
        "ANSIBLE_LOCALHOST_WARNING": "false",
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_RETRY_FILES_ENABLED": "false",
        "ANSIBLE_LOCAL_TEMP": str(tmp_path / "ansible-local"),
        "ANSIBLE_REMOTE_TEMP": str(tmp_path / "ansible-remote"),
    })
    run_env.update(env or {})
    proc = subprocess.run(cmd, check=False, capture_output=True, text=True, env=run_env, timeout=timeout, cwd=str(tmp_path))
    results = {}
    try:
        data = json.loads(proc.stdout)
        for play in data.get("plays", []):
            for task in play.get("tasks", []):
                results[task["task"]["name"]] = task["hosts"].get("localhost", {})
    except ValueError:
        pass
    return proc.returncode, proc.stdout + proc.stderr, results


@pytest.fixture
def run_playbook(tmp_path):
    def run(playbook_text, **kwargs):
        return _run_playbook(playbook_text, tmp_path, **kwargs)
    return run


@pytest.fixture
def labview_class():
    """LabView itself, for a test that starts a lab of its own (another fleet, another firmware)."""
    return LabView
