# Copyright: Contributors to the knocknoc.fortinet project
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Controller-side execution of the collection's modules (issue 12, item 3).

Every module of the collection has an action plugin of the same name built on
:class:`InProcessModuleAction`. When the task's connection is ``local`` (the module would run on the
controller anyway), the action runs the module's own ``main()`` in Ansible's worker process instead of
packing an AnsiballZ payload and starting a Python interpreter for it: the module sees the arguments
exactly as Ansible would send them (``_update_module_args``: check mode, diff, no_log, verbosity, ...),
its own argument spec validates them, and its JSON output goes through the same
``_parse_returned_data`` a module process's output goes through, so results, ``no_log`` masking,
warnings and deprecations are the module's. The controller's Python runs it
(``ansible_python_interpreter`` plays no part, as with any action plugin).

The module runs as before (``_execute_module``) when the connection is not local (a task delegated to
a remote host), with ``async`` or ``become``, or when in-process execution is turned off with the
environment variable ``KNOCKNOC_FORTINET_IN_PROCESS=false`` or the variable
``knocknoc_fortinet_in_process: false`` (for debugging, or to compare both ways).
"""

from __future__ import annotations

import contextlib
import importlib
import io
import json
import os
import sys
import traceback

from ansible.module_utils import basic
from ansible.module_utils.common import warnings as module_warnings
from ansible.module_utils.common.json import Direction, get_module_encoder
from ansible.module_utils.parsing.convert_bool import boolean
from ansible.plugins.action import ActionBase
from ansible.utils.vars import merge_hash

try:
    from ansible.module_utils import _internal
except ImportError:  # pragma: no cover - an ansible-core without the flag
    _internal = None

MODULES = "ansible_collections.knocknoc.fortinet.plugins.modules."
# The serialization profile of the collection's modules (none declares another one).
PROFILE = "legacy"
LOCAL_CONNECTIONS = ("local", "ansible.builtin.local", "ansible.legacy.local")


def in_process_wanted(task_vars):
    """The opt-out: the variable wins over the environment; both default to in-process."""
    value = task_vars.get("knocknoc_fortinet_in_process", os.environ.get("KNOCKNOC_FORTINET_IN_PROCESS", "true"))
    return boolean(value, strict=False)


@contextlib.contextmanager
def _environment(values):
    """The task's ``environment:`` for the duration of the module (a module process would get it)."""
    saved = dict((key, os.environ.get(key)) for key in values)
    os.environ.update(dict((key, str(value)) for key, value in values.items()))
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@contextlib.contextmanager
def _module_args(payload):
    """What ``AnsibleModule`` reads its arguments from, set for one run and restored afterwards."""
    saved = (basic._ANSIBLE_ARGS, basic._ANSIBLE_PROFILE)
    basic._ANSIBLE_ARGS, basic._ANSIBLE_PROFILE = payload, PROFILE
    try:
        yield
    finally:
        basic._ANSIBLE_ARGS, basic._ANSIBLE_PROFILE = saved


@contextlib.contextmanager
def _not_the_controller():
    """The module's view of ansible.module_utils: on the controller, its warnings and deprecations would go
    to the controller's display instead of into the result, and its JSON would use the controller's encoders."""
    if not hasattr(_internal, "is_controller"):
        yield
        return
    controller, _internal.is_controller = _internal.is_controller, False
    try:
        yield
    finally:
        _internal.is_controller = controller


def run_module_main(name, module_args, environment=None):
    """Run module ``name``'s ``main()`` with ``module_args`` (already including Ansible's ``_ansible_*``
    keys) in this process; returns (stdout, stderr, rc) as a module process would have produced them."""
    payload = json.dumps(dict(ANSIBLE_MODULE_ARGS=module_args),
                         cls=get_module_encoder(PROFILE, Direction.CONTROLLER_TO_MODULE)).encode()
    # A module process starts with empty warning/deprecation lists; an earlier run here must not leak in.
    module_warnings._global_warnings.clear()
    module_warnings._global_deprecations.clear()
    out, err, rc = io.StringIO(), io.StringIO(), 0
    with _environment(environment or {}), _module_args(payload), _not_the_controller(), \
            contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            importlib.import_module(MODULES + name).main()
        except SystemExit as exc:
            rc = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        except Exception:  # pylint: disable=broad-except
            # A crash is reported as a crashing module process is: traceback on stderr, no JSON.
            traceback.print_exc(file=sys.stderr)
            rc = 1
    module_warnings._global_warnings.clear()
    module_warnings._global_deprecations.clear()
    return out.getvalue(), err.getvalue(), rc


def preload(name):
    """Import module ``name`` (and so ``requests`` and the module_utils) ahead of time.

    Ansible's strategy loads each task's action plugin class in the main process, before it forks a
    worker per host: what is imported then is inherited by every worker instead of imported again in
    each. Best effort: a failure here shows up, with its proper message, when the module runs."""
    try:
        importlib.import_module(MODULES + name)
    except Exception:  # pylint: disable=broad-except
        pass


class InProcessModuleAction(ActionBase):
    """Runs the module of the same name in the controller process when its connection is local."""

    _supports_check_mode = True
    _supports_async = True

    def __init_subclass__(cls, **kwargs):
        super(InProcessModuleAction, cls).__init_subclass__(**kwargs)
        # The action plugin's own name is the module's (plugins/action/<module>.py).
        preload(cls.__module__.rsplit(".", 1)[-1])

    def _runs_in_process(self, task_vars):
        if self._task.async_val or self._play_context.become:
            return False
        # After delegation this is the delegated host's connection: a task delegated to a remote host
        # runs its module there; one delegated to a local connection would run on the controller anyway.
        connection = getattr(self._connection, "_load_name", None) or getattr(self._connection, "transport", None)
        if connection not in LOCAL_CONNECTIONS:
            return False
        return in_process_wanted(task_vars)

    def run(self, tmp=None, task_vars=None):
        task_vars = task_vars or {}
        result = super(InProcessModuleAction, self).run(tmp, task_vars)
        del tmp  # no effect, as in ansible.builtin.normal
        if self._runs_in_process(task_vars):
            return merge_hash(result, self._execute_in_process(task_vars))
        wrap_async = self._task.async_val
        result = merge_hash(result, self._execute_module(task_vars=task_vars, wrap_async=wrap_async))
        if not wrap_async:
            self._remove_tmp_path(self._connection._shell.tmpdir)
        return result

    def _execute_in_process(self, task_vars):
        module_name = self._task.action
        module_args = dict(self._task.args)
        self._update_module_args(module_name, module_args, task_vars)
        environment = {}
        self._compute_environment_string(raw_environment_out=environment)
        name = (self._task.resolved_action or module_name).rsplit(".", 1)[-1]
        stdout, stderr, rc = run_module_main(name, module_args, environment)
        # The same parsing as a module process's output: result normalisation, warnings, deprecations.
        parsed = self._parse_returned_data(dict(stdout=stdout, stderr=stderr, rc=rc), PROFILE)
        if hasattr(parsed, "as_result_dict"):
            parsed.remove_internal_keys()
            return parsed.as_result_dict(for_round_trip=True)
        # ansible-core before 2.21 parses into a plain dict; _execute_module then cleans it like this.
        from ansible.vars.clean import remove_internal_keys  # pylint: disable=import-outside-toplevel
        parsed.pop("_ansible_suppress_tmpdir_delete", None)
        remove_internal_keys(parsed)
        return parsed
