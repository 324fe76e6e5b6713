"""Run a collection module's ``main()`` in-process, the way Ansible would: one implementation for
the tests (tests/conftest.py) and the benchmarks (benchmarks/run.py)."""

import contextlib
import importlib
import io
import json

PACKAGE = "ansible_collections.knocknoc.fortinet.plugins.modules."


def module_result(name, args, check=False, diff=False):
    """main() of module ``name`` with ``args`` patched in; returns the JSON it printed.

    Raises AssertionError when the module printed no JSON (a traceback, a stray print).
    """
    from ansible.module_utils.common import warnings as module_warnings
    from ansible.module_utils.testing import patch_module_args

    # A real module runs in a fresh process: drop warnings left over by earlier in-process runs.
    module_warnings._global_warnings.clear()
    module_warnings._global_deprecations.clear()
    module = importlib.import_module(PACKAGE + name)
    params = dict(args)
    params.update(_ansible_check_mode=check, _ansible_diff=diff)
    out = io.StringIO()
    # ... and is never the controller: once a test imported controller code (ansible.errors), module
    # warnings would go to the controller's display instead of the result.
    from ansible.module_utils import _internal
    controller, _internal.is_controller = _internal.is_controller, False
    try:
        with patch_module_args(params), contextlib.redirect_stdout(out):
            try:
                module.main()
            except SystemExit:
                pass
    finally:
        _internal.is_controller = controller
    text = out.getvalue()
    try:
        return json.loads(text)
    except ValueError:
        raise AssertionError("%s printed no JSON: %r" % (name, text[:2000]))
