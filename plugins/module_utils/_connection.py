# Copyright: Contributors to the knocknoc.fortinet project
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Connection options of every module, and how they are resolved. One implementation for the
three APIs (FortiGate REST, FortiManager JSON-RPC, Knocknoc).

A module accepts its connection two ways at once:

- top-level options (``url``, ``token``, ``vdom``/``adom``, ``validate_certs``, ``ca_path``,
  ``tls_server_name``, ``tls_fingerprint``, ``timeout``, ``retries``), as before;
- one dict per API it talks to, named after the API (``fortigate``, ``fortimanager``,
  ``knocknoc``) with the same keys, so that ``module_defaults`` of the action group
  ``group/knocknoc.fortinet.<api>`` can carry a whole connection in one variable.

Precedence, option by option: top-level option > the API's dict > ``<API>_<OPTION>``
environment variable > default (``vdom``/``adom`` ``root``, ``validate_certs`` true,
``timeout`` 10, ``retries`` 3; ``retries`` has no environment variable). Because the argument
spec cannot express that order, it carries no fallbacks nor defaults for these options;
:func:`resolve_connection` applies them at run time. The clients' ``from_params`` call it, so a
module may hand them ``module.params`` as they are; a module that reads a connection option itself
(``vdom``, ``adom``, ``token``) reads it from the resolved copy, never from ``module.params``.

Modules that reach a FortiGate directly or through FortiManager (``fortinet_argspec``) accept
both dicts; ``use_fortimanager`` picks the API whose ``url``, ``token`` and TLS options are
used, ``vdom`` always comes from the FortiGate side and ``adom`` from the FortiManager side.

Mirrored by the doc fragments ``knocknoc.fortinet.fortigate``, ``.fortimanager``, ``.fortinet``
and ``.knocknoc`` (tests/unit/plugins/module_utils/test_doc_fragments.py holds them together).
"""

from __future__ import annotations

import collections
import copy
import os

from ansible_collections.knocknoc.fortinet.plugins.module_utils._errors import KnocknocError

Api = collections.namedtuple("Api", "name env_prefix location")
FORTIGATE = Api("fortigate", "FORTIGATE", "vdom")
FORTIMANAGER = Api("fortimanager", "FORTIMANAGER", "adom")
KNOCKNOC = Api("knocknoc", "KNOCKNOC", None)
APIS = (FORTIGATE, FORTIMANAGER, KNOCKNOC)

TLS_OPTIONS = ("validate_certs", "ca_path", "tls_server_name", "tls_fingerprint", "timeout", "retries")
# Options that have no environment variable (kept as before the dicts existed).
NO_ENVIRONMENT = frozenset(("retries",))
DEFAULTS = {"vdom": "root", "adom": "root", "validate_certs": True}  # timeout, retries: see _default()
_TYPES = {"url": "str", "token": "str", "vdom": "str", "adom": "str", "validate_certs": "bool", "ca_path": "path",
          "tls_server_name": "str", "tls_fingerprint": "list", "timeout": "int", "retries": "int"}


def api_options(api):
    """The connection option names of ``api``, in documentation order."""
    names = ["url", "token"]
    if api.location:
        names.append(api.location)
    return tuple(names) + TLS_OPTIONS


def _option(name):
    spec = {"type": _TYPES[name]}
    if spec["type"] == "list":
        # tls_fingerprint: one pin or several (a rotation); a single string is a list of one, and
        # the environment variable separates pins with commas.
        spec["elements"] = "str"
    if name == "token":
        spec["no_log"] = True
    return spec


def tls_argspec():
    """The shared TLS, timeout and retries options (no fallback nor default: see the module doc)."""
    return dict((name, _option(name)) for name in TLS_OPTIONS)


def connection_dict_argspec(api):
    """The ``<api>`` dict option: the API's connection options as typed suboptions."""
    return {"type": "dict", "options": dict((name, _option(name)) for name in api_options(api))}


def _argspec(top_level, apis, options):
    spec = dict((name, _option(name)) for name in top_level)
    for api in apis:
        spec[api.name] = connection_dict_argspec(api)
    spec.update(copy.deepcopy(options or {}))
    return spec


def fortigate_argspec(**options):
    """Connection options of a FortiGate module (and its ``fortigate`` dict), plus ``options``."""
    return _argspec(api_options(FORTIGATE), (FORTIGATE,), options)


def fortimanager_argspec(**options):
    """Connection options of a FortiManager module (and its ``fortimanager`` dict), plus ``options``."""
    return _argspec(api_options(FORTIMANAGER), (FORTIMANAGER,), options)


def knocknoc_argspec(**options):
    """Connection options of a Knocknoc module (and its ``knocknoc`` dict), plus ``options``."""
    return _argspec(api_options(KNOCKNOC), (KNOCKNOC,), options)


def fortinet_argspec(**options):
    """Connection options of a module that works on a FortiGate directly or through FortiManager:
    ``url``/``token``/TLS of the API ``use_fortimanager`` picks, ``vdom``, ``adom``, and both dicts."""
    spec = _argspec(("url", "token", "vdom", "adom") + TLS_OPTIONS, (FORTIGATE, FORTIMANAGER), None)
    spec["use_fortimanager"] = {"type": "bool", "default": False}
    spec.update(copy.deepcopy(options or {}))
    return spec


def _env_bool(value):
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on", "y", "t"):
        return True
    if text in ("0", "false", "no", "off", "n", "f"):
        return False
    raise ValueError(value)


def _from_environment(name, env_prefix, environ):
    variable = "%s_%s" % (env_prefix, name.upper())
    raw = environ.get(variable)
    if name in NO_ENVIRONMENT or not raw:
        return None
    try:
        if _TYPES[name] == "bool":
            return _env_bool(raw)
        if _TYPES[name] == "int":
            return int(raw)
        if _TYPES[name] == "path":
            return os.path.expanduser(os.path.expandvars(raw))
        return raw
    except ValueError:
        raise KnocknocError(None, "environment variable %s has an invalid value" % variable,
                            description="Invalid connection option")


def resolve_option(params, name, api, environ=None):
    """One connection option: ``params[name]``, else ``params[api.name][name]``, else the
    ``<API>_<NAME>`` environment variable, else its default (None when it has none)."""
    value = _given(params, name, api, os.environ if environ is None else environ)
    return _default(name) if value is None else value


def _given(params, name, api, environ):
    """Option ``name`` where it is given (top level, the API's dict, environment), else None."""
    value = params.get(name)
    if value is None:
        value = (params.get(api.name) or {}).get(name)
    if value is None:
        value = _from_environment(name, api.env_prefix, environ)
    return value


def _default(name):
    if name in ("timeout", "retries"):
        # The client's own defaults; imported here because _http re-exports resolve_tls_params.
        from ansible_collections.knocknoc.fortinet.plugins.module_utils._http import DEFAULT_RETRIES, DEFAULT_TIMEOUT
        return DEFAULT_TIMEOUT if name == "timeout" else DEFAULT_RETRIES
    return DEFAULTS.get(name)


def _require(resolved, name, api):
    if not resolved.get(name):
        raise KnocknocError(None, "option %s is required (or %s.%s, or set %s_%s)"
                            % (name, api.name, name, api.env_prefix, name.upper()),
                            description="Invalid connection option")


def resolve_connection(params, api, environ=None, require=("url", "token")):
    """A copy of module ``params`` with the connection options of ``api`` resolved (see the module
    doc for the order). Raises :class:`KnocknocError` naming the option, the dict key and the
    environment variable when an option of ``require`` is missing."""
    resolved = dict(params)
    for name in api_options(api):
        resolved[name] = resolve_option(params, name, api, environ)
    for name in require:
        _require(resolved, name, api)
    return resolved


def resolve_tls_params(params, env_prefix, environ=None):
    """The TLS, timeout and retries options of ``params`` (no dict) with ``<env_prefix>_*``
    environment fallbacks and defaults applied."""
    api = next((a for a in APIS if a.env_prefix == env_prefix), Api(None, env_prefix, None))
    flat = dict((name, params.get(name)) for name in TLS_OPTIONS)
    return dict((name, resolve_option(flat, name, api, environ)) for name in TLS_OPTIONS)


def resolve_fortigate_params(params, environ=None):
    """Module ``params`` of :func:`fortigate_argspec` with url, token, vdom and TLS resolved."""
    return resolve_connection(params, FORTIGATE, environ)


def resolve_fortimanager_params(params, environ=None):
    """Module ``params`` of :func:`fortimanager_argspec` with url, token, adom and TLS resolved."""
    return resolve_connection(params, FORTIMANAGER, environ)


def resolve_knocknoc_params(params, environ=None):
    """Module ``params`` of :func:`knocknoc_argspec` with url, token and TLS resolved (the token
    is optional: allowlist reads do not need it)."""
    return resolve_connection(params, KNOCKNOC, environ, require=("url",))


def resolve_prefixed(params, api, prefix, environ=None, fallback=None):
    """The connection of a second API a module talks to (``fortinet_preflight``'s Knocknoc server),
    which takes both ``<prefix><name>`` top-level options and the ``<api>`` dict: per option
    ``params[prefix + name]`` > ``params[api.name][name]`` > environment > ``fallback[name]`` >
    default. Nothing is required here; the caller names what it needs."""
    flat = dict((name, params.get(prefix + name)) for name in api_options(api))
    flat[api.name] = params.get(api.name)
    resolved = {}
    for name in api_options(api):
        value = _given(flat, name, api, os.environ if environ is None else environ)
        if value is None:
            value = (fallback or {}).get(name)
        resolved[name] = _default(name) if value is None else value
    return resolved


def resolve_fortinet_params(params, environ=None):
    """Module ``params`` of :func:`fortinet_argspec`, resolved: ``url``, ``token`` and TLS from the
    API ``use_fortimanager`` picks (top level, its dict, its environment), ``vdom`` from the
    FortiGate side and ``adom`` from the FortiManager side (both default to ``root``)."""
    path = FORTIMANAGER if params.get("use_fortimanager") else FORTIGATE
    resolved = resolve_connection(params, path, environ)
    resolved["vdom"] = resolve_option(params, "vdom", FORTIGATE, environ)
    resolved["adom"] = resolve_option(params, "adom", FORTIMANAGER, environ)
    return resolved
