# Copyright: Contributors to the knocknoc.fortinet project
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""FortiManager JSON-RPC client, and the factory for modules that reach a FortiGate directly or
through FortiManager.

``FortiManagerClient.from_params(module.params)`` after ``check_requirements(module)``. The API
key travels as ``Authorization: Bearer`` (FortiManager 7.2.2+), never as ``access_token`` in the
URL (refused from 7.4.7/7.6.2) and without ``session``.

- :meth:`FortiManagerClient.rpc` sends several params in one request and returns the raw
  ``result`` list (one entry per param, in order); it only checks the reply's shape.
- :meth:`FortiManagerClient.call` sends one param and raises :class:`KnocknocError` for a
  non-zero status, mapping it as the Knocknoc agent does (seed "FortiManager Status Codes").
- :meth:`FortiManagerClient.proxy` runs a FortiOS REST call on managed FortiGates.
- :meth:`FortiManagerClient.workspace` is the lock/commit/unlock context manager.
- :meth:`FortiManagerClient.install_package` installs a policy package and waits for its task.
"""

from __future__ import annotations

import contextlib
import random
import time

# The connection options live in _connection; modules import these from here too.
from ansible_collections.knocknoc.fortinet.plugins.module_utils._connection import (  # pylint: disable=unused-import
    fortimanager_argspec,
    fortinet_argspec,
    resolve_fortimanager_params,
    resolve_fortinet_params,
)
from ansible_collections.knocknoc.fortinet.plugins.module_utils._errors import KnocknocError
from ansible_collections.knocknoc.fortinet.plugins.module_utils._fortigate import FortiGateClient
from ansible_collections.knocknoc.fortinet.plugins.module_utils._http import (
    HttpClient,
    tls_kwargs,
)

# result[].status.code meanings (reference E5), used in causes when FortiManager sends no message.
FMG_STATUS = {
    0: "OK",
    -1: "internal error",
    -2: "object already exists (Knocknoc: object not found)",
    -3: "object does not exist",
    -4: "object not found",
    -5: "no such command",
    -6: "invalid url",
    -7: "entry in use",
    -8: "invalid parameter",
    -9: "the command is invalid for the selected url",
    -10: "the data is invalid for selected url",
    -11: "no permission for the resource",
    -22: "login fail",
    -10015: "object is used",
    -10131: "object dependency failed",
    -10147: "no write permission (workspace lock not held)",
    -20002: "invalid argument (device does not exist)",
    -20010: "device already added",
    -20020: "no permission",
    -20042: "device unreachable",
    -20055: "workspace is locked by other user",
}

# The agent's mapping (seed "FortiManager Status Codes"); -2 depends on the call (see call()).
AGENT_STATUS_CODES = {
    -5: 202002,
    -6: 202150,
    -10: 202001,
    -11: 202002,
}

# Words in FortiManager's message that confirm the seed's meaning of an ambiguous status.
_SEED_MEANING = {
    -5: ("permission",),
    -10: ("session",),
}

NO_PERMISSION = -11
# FortiManager 7.4.x refuses API-key requests that overlap another one with -11, at random (fixed in 7.6.2). A refused
# request did nothing, so it is sent again after growing, jittered pauses (0.5-1, 1-2, 2-4 times this many seconds) that
# spread parallel jobs apart: with a fleet of hosts in parallel (forks, AWX slices) one retry collides again too often.
# Only after the last one does /sys/status (asked twice) tell a refused key (202001) from a short profile (202002). The
# firmware version does not decide it: a -11 looks the same either way, and a wrong guess fails a fleet's revokes.
# The cost is on the error path: a refused key or a missing permission is reported after 2-4 s.
REFUSED_RETRY_AFTER = 0.5
REFUSED_RETRIES = 3
WORKSPACE_LOCKED = -20055
NOT_IN_WORKSPACE_MODE = -9  # lock/lockinfo on an ADOM that is not in workspace mode
IDEMPOTENT_RPC_METHODS = frozenset(("get", "set", "update"))
DEFAULT_TARGET_GROUP = "All_FortiGate"
GLOBAL_ADOM = "global"
# A `get` of something that is not there: -3 "Object does not exist" (reference E5), -4 "Object
# not found" (E5), -2 (the Knocknoc docs' "object not found"; for `add` it means "already exists").
NOT_FOUND_CODES = frozenset((-2, -3, -4))
INVALID_URL = -6  # also FortiManager's answer for an ADOM that does not exist


def connection_from_params(params, environ=None):
    """A :class:`FortiManagerClient` (``use_fortimanager``) or a :class:`FortiGateClient` for
    module params shaped by :func:`fortinet_argspec` (resolved by :func:`resolve_fortinet_params`)."""
    resolved = resolve_fortinet_params(params, environ)
    if resolved.get("use_fortimanager"):
        return FortiManagerClient.from_params(resolved, environ)
    return FortiGateClient.from_params(resolved, environ)


def adom_url(prefix, adom, rest=""):
    """An ADOM-scoped JSON-RPC URL: ``<prefix>/adom/<adom>[/<rest>]``, or ``<prefix>/global[/<rest>]``
    for the global ADOM (reference G1, G5), e.g. ``adom_url("/pm/config", "root", "obj/firewall/address")``."""
    base = "%s/%s" % (prefix.rstrip("/"), GLOBAL_ADOM if adom == GLOBAL_ADOM else "adom/%s" % adom)
    return "%s/%s" % (base, rest.strip("/")) if rest else base


def unknown_adom_error(adom, cause="", details=None, secrets=()):
    """The one answer for an ADOM that FortiManager does not know (it says -6 "Invalid url" for
    ADOM URLs and -2 for proxy targets): 202101, as every target in it is unknown."""
    text = "ADOM %s does not exist on FortiManager" % adom
    return KnocknocError(202101, cause="%s (%s)" % (text, cause) if cause else text,
                         hint="Check adom (and the adom/<adom>/... targets): ADOM names must match FortiManager"
                              " exactly, and the API user must have access to the ADOM.",
                         details=dict(details or {}, adom=adom), secrets=secrets)


def target_path(kind, name, adom=None):
    """A proxy target (reference H1): ``adom/<adom>/<kind>/<name>`` (``kind``: ``device`` or
    ``group``), or the ADOM-less ``<kind>/<name>`` for the global ADOM (its names are looked up
    over every ADOM) and without an ADOM (targets that span several)."""
    if adom is None or adom == GLOBAL_ADOM:
        return "%s/%s" % (kind, name)
    return "adom/%s/%s/%s" % (adom, kind, name)


class FortiManagerClient(HttpClient):
    """FortiManager JSON-RPC (``POST /jsonrpc``) with an API key.

    :param url: ``https://fortimanager[:port]``.
    :param token: API key of an ``api`` admin (sent as ``Authorization: Bearer``).
    :param adom: default ADOM (``root``).
    :param lock_timeout: seconds to keep retrying a workspace lock held by someone else (60).
    :param lock_interval: seconds between those attempts (2).
    :param task_interval: seconds between task polls (2); ``task_timeout``: deadline (600).
    Other keyword arguments: see :class:`HttpClient`. ``clock`` (monotonic seconds) and
    ``sleep`` are injectable for tests.
    """

    API_NAME = "FortiManager"

    def __init__(self, url, token, adom="root", lock_timeout=60, lock_interval=2.0, task_interval=2.0,
                 task_timeout=600, **kwargs):
        super(FortiManagerClient, self).__init__(url, **kwargs)
        self.use_api_key(token, "FORTIMANAGER_TOKEN")
        self.adom = adom or "root"
        self.lock_timeout = lock_timeout
        self.lock_interval = lock_interval
        self.task_interval = task_interval
        self.task_timeout = task_timeout
        self.clock = time.monotonic
        self._next_id = 1
        self._workspace_mode = None
        self._no_workspace = set()
        self._open_workspaces = {}
        self.refused_retry_after = REFUSED_RETRY_AFTER
        self.refused_retries = REFUSED_RETRIES

    @classmethod
    def from_params(cls, params, environ=None):
        """Build from module params shaped by :func:`fortimanager_argspec` (top-level options, the
        ``fortimanager`` dict, ``FORTIMANAGER_*``: see ``_connection``)."""
        resolved = resolve_fortimanager_params(params, environ)
        return cls(resolved["url"], resolved["token"], adom=resolved["adom"], **tls_kwargs(resolved))

    # -- JSON-RPC -------------------------------------------------------------------------------------
    def rpc(self, method, params, idempotent=None):
        """Send ``method`` with the list ``params`` (each ``{"url", "data"?, <options>}``) in one
        request; return the ``result`` list (one dict per param, in order). Raises only for
        transport/HTTP failures and malformed replies (202150). ``idempotent`` (default: True for
        get/set/update) allows retries on 429/502/503/504."""
        if idempotent is None:
            idempotent = method in IDEMPOTENT_RPC_METHODS
        request_id = self._next_id
        self._next_id += 1
        body = {"id": request_id, "method": method, "params": list(params), "verbose": 1}
        response = self.request("POST", "/jsonrpc", json=body, idempotent=idempotent)
        what = "%s %s" % (method, ", ".join(str(p.get("url")) for p in params))
        reply = response.data
        self.expect(isinstance(reply, dict), response, "the JSON-RPC reply to %s is not an object" % what)
        result = reply.get("result")
        self.expect(isinstance(result, list) and len(result) == len(params), response,
                    "the JSON-RPC reply to %s has no 'result' list with one entry per param" % what)
        for item in result:
            status = item.get("status") if isinstance(item, dict) else None
            self.expect(isinstance(status, dict) and isinstance(status.get("code"), int), response,
                        "a JSON-RPC result of %s has no status code" % what)
        return result

    def jsonrpc_error(self, method, url, status, not_found_code=None, code_map=None, details=None):
        """The :class:`KnocknocError` for a non-zero ``result[].status``.

        -5/-11 -> 202002, -6 -> 202150, -10 -> 202001 (the agent's table; -5 and -10 only when
        FortiManager's message does not say they mean "no such command" / "invalid data", their
        reference E5 meanings); -2 and -3 -> the
        caller's ``not_found_code`` (202051 for an admin user, 202101 for a proxy target), and so
        is -4 (:data:`NOT_FOUND_CODES`): the Knocknoc docs say a missing object gives -2 while
        FortiManager's own table says -3, so both are taken as "not found" except for ``add``,
        where -2 means "already exists". Anything
        else gets ``code=None`` and the meaning from reference E5. ``code_map`` overrides.
        """
        code = status.get("code")
        message = status.get("message") or FMG_STATUS.get(code, "no documented meaning")
        mapping = dict(AGENT_STATUS_CODES)
        if not_found_code is not None:
            for not_found in NOT_FOUND_CODES:
                if not_found != -2 or method != "add":
                    mapping[not_found] = not_found_code
        mapping.update(code_map or {})
        info = dict(details or {})
        info.update({"jsonrpc_code": code, "jsonrpc_message": status.get("message"), "method": method, "url": url})
        cause = 'JSON-RPC status %s "%s" on %s %s' % (code, message, method, url)
        agent_code = mapping.get(code)
        if code in _SEED_MEANING and status.get("message") and not code_map \
                and not any(word in status["message"].lower() for word in _SEED_MEANING[code]):
            # Reference conflict: the seed reads -10 as "Invalid session ID" and -5 as "No
            # permission", FortiManager's own table (E5) as "The data is invalid for selected url"
            # and "No such command". Follow the agent's mapping unless FortiManager's message
            # says it is the other meaning: a bad attribute is not an authentication failure.
            agent_code = None
        if agent_code is not None:
            return KnocknocError(agent_code, cause=cause, details=info, secrets=self.secrets)
        return KnocknocError(None, cause=cause, description="FortiManager rejected the request",
                             details=info, secrets=self.secrets)

    def call(self, method, url, data=None, not_found_code=None, code_map=None, idempotent=None, **options):
        """One JSON-RPC operation; returns its ``data`` (None when the reply has none).

        ``options`` go into the param as is (``fields``, ``filter``, ``option``, ``range``...).
        A non-zero status raises (see :meth:`jsonrpc_error`).
        """
        param = {"url": url}
        if data is not None:
            param["data"] = data
        param.update(options)
        result = self.rpc(method, [param], idempotent=idempotent)[0]
        status = result["status"]
        for attempt in range(self.refused_retries):
            if status.get("code") != NO_PERMISSION:
                break
            self._pause_after_refusal(attempt)
            result = self.rpc(method, [param], idempotent=idempotent)[0]
            status = result["status"]
        if status.get("code") == NO_PERMISSION and self.token_refused():
            raise KnocknocError(202001, cause='JSON-RPC status -11 on %s %s, and on get /sys/status too: the API'
                                ' key was not accepted' % (method, url),
                                hint="Check the token (an API key of an api admin whose trusted hosts admit this host)."
                                     " FortiManager before 7.2.2, and FortiManager Cloud, have no API keys.",
                                details={"jsonrpc_code": -11, "method": method, "url": url},
                                secrets=self.secrets)
        if status.get("code") != 0:
            raise self.jsonrpc_error(method, url, status, not_found_code, code_map)
        return result.get("data")

    def get_or_none(self, url, adom=None, **options):
        """``get`` that answers None when the object is not there (:data:`NOT_FOUND_CODES`).

        With ``adom`` (the ADOM ``url`` lies in), an "Invalid url" answer raises
        :func:`unknown_adom_error` (202101) instead of 202150: that is how FortiManager says
        the ADOM does not exist. Other failures raise as :meth:`call` does.
        """
        try:
            return self.call("get", url, **options)
        except KnocknocError as err:
            code = err.details.get("jsonrpc_code")
            if code in NOT_FOUND_CODES:
                return None
            if code == INVALID_URL and adom is not None:
                raise unknown_adom_error(adom, 'JSON-RPC status -6 on get %s' % url, err.details, self.secrets)
            raise

    def token_refused(self):
        """Whether FortiManager refuses the API key itself.

        FortiManager answers a bad key and a missing permission alike (-11, reference E4/E5), so
        ask for ``/sys/status``, which every API user may read: -11 there too means the key is not
        accepted (202001), an answer means the key is good and the profile is short (202002).
        """
        probe = self.rpc("get", [{"url": "/sys/status"}])[0]
        if probe["status"].get("code") == NO_PERMISSION:
            # The probe may collide too (FortiManager 7.4.x, see REFUSED_RETRIES): asked once more before a verdict.
            self._pause_after_refusal(0)
            probe = self.rpc("get", [{"url": "/sys/status"}])[0]
        return probe["status"].get("code") == NO_PERMISSION

    def _pause_after_refusal(self, attempt):
        self.sleep(self.refused_retry_after * (2 ** attempt) * random.uniform(0.5, 1.0))

    # -- proxy to managed FortiGates -----------------------------------------------------------------
    @property
    def proxy_timeout(self):
        """Seconds FortiManager may wait for the devices of a proxy call: a second below this
        client's read timeout, so that FortiManager reports a slow device itself (per device)
        before the whole call times out here. FortiManager's own default is 60 s."""
        return max(1, int(self.timeout) - 1)

    def proxy(self, action, resource, payload=None, targets=None, timeout=None, idempotent=None):
        """Run one FortiOS REST call on managed FortiGates (``exec /sys/proxy/json``, reference H).

        :param action: ``get``, ``post``, ``put`` or ``delete``.
        :param resource: FortiOS path with its query, e.g.
            ``/api/v2/monitor/system/external-resource/dynamic?vdom=root``.
        :param targets: list of ``adom/<adom>/device/<name>`` / ``adom/<adom>/group/<group>``
            (default: ``All_FortiGate`` of the client's ADOM).
        :param timeout: seconds FortiManager waits for the devices (default and upper bound :attr:`proxy_timeout`).
        :param idempotent: allow HTTP-level retries (default: True for get/put/delete).
        :returns: one dict per device: ``target`` (device name), ``status_code`` and
            ``status_message`` (FortiManager's per-device status), ``response`` (the FortiGate's
            envelope, verbatim), ``http_status`` and ``ok`` (status 0 and no FortiOS error).

        A whole-call "not found" status raises 202101 (target device or group not found).
        """
        action = action.lower()
        if idempotent is None:
            idempotent = action in ("get", "put", "delete")
        data = {"action": action, "resource": resource,
                "target": list(targets) if targets else [target_path("group", DEFAULT_TARGET_GROUP, self.adom)]}
        if payload is not None:
            data["payload"] = payload
        # Never at or above this client's own read timeout (FortiManager's default, without one, is 60 s): a slow
        # device must be reported by FortiManager, per device, before the whole call times out here.
        data["timeout"] = int(self.proxy_timeout if timeout is None else max(1, min(timeout, self.proxy_timeout)))
        items = self.call("exec", "/sys/proxy/json", data=data, not_found_code=202101, idempotent=idempotent)
        if items is None:
            items = []
        if not isinstance(items, list):
            raise self.error("parse", "unexpected reply to exec /sys/proxy/json: 'data' is not a list",
                             {"targets": data["target"]})
        return [self._proxy_item(item) for item in items]

    @staticmethod
    def _proxy_item(item):
        item = item if isinstance(item, dict) else {}
        status = item.get("status") if isinstance(item.get("status"), dict) else {}
        response = item.get("response")
        http_status = None
        fortios_ok = False
        if isinstance(response, dict):
            http_status = response.get("http_status")
            if http_status is None:
                # monitor replies may omit http_status (reference H2): derive it from status
                http_status = 200 if response.get("status", "success") == "success" else 500
            fortios_ok = response.get("status", "success") != "error" and int(http_status) < 400
        return {
            "target": item.get("target"),
            "status_code": status.get("code"),
            "status_message": status.get("message"),
            "response": response,
            "http_status": http_status,
            "ok": status.get("code") == 0 and fortios_ok,
        }

    # -- workspace (ADOM locking) --------------------------------------------------------------------
    @staticmethod
    def _workspace_url(adom):
        return adom_url("/dvmdb", adom, "workspace")

    def workspace_mode(self):
        """The global ``workspace-mode`` (``disabled``, ``normal``, ``workflow``, ``per-adom``), cached;
        ``unknown`` when the API user may not read system settings (-11): as Fortinet's own plugin does,
        the check is skipped, and taking the lock tells (-9: not in workspace mode)."""
        if self._workspace_mode is None:
            url = "/cli/global/system/global"
            item = self.rpc("get", [{"url": url, "fields": ["workspace-mode", "adom-status"]}])[0]
            code = item["status"].get("code")
            if code == NO_PERMISSION:
                self._workspace_mode = "unknown"
                return self._workspace_mode
            if code != 0:
                raise self.jsonrpc_error("get", url, item["status"])
            data = item.get("data")
            mode = data.get("workspace-mode") if isinstance(data, dict) else None
            # unconfirmed in the reference: the "off" spelling; 0 is its numeric (non-verbose) form
            if mode in (None, 0, "0", "disable", "disabled"):
                mode = "disabled"
            self._workspace_mode = str(mode)
        return self._workspace_mode

    def lock_info(self, adom=None):
        """Who holds the ADOM lock: the ``lockinfo`` list (``lock_user``, ``lock_time``...), [] when free."""
        data = self.call("get", self._workspace_url(adom or self.adom) + "/lockinfo")
        if isinstance(data, dict):
            return [data]
        return data or []

    def _lock(self, adom):
        """Take the ADOM lock, waiting up to ``lock_timeout`` while another admin holds it.
        Returns False when the ADOM is not in workspace mode (nothing to lock)."""
        url = self._workspace_url(adom) + "/lock"
        deadline = self.clock() + self.lock_timeout
        while True:
            status = self.rpc("exec", [{"url": url}])[0]["status"]
            code = status.get("code")
            if code == 0:
                return True
            if code == NOT_IN_WORKSPACE_MODE:
                self._no_workspace.add(adom)
                return False
            if code == NO_PERMISSION and self._workspace_mode == "unknown":
                # Neither the mode nor the lock may be read by this key: go on without a lock, as Fortinet's
                # plugin does; in a workspace-mode ADOM the first write then fails with -10147 (lock not held).
                self._no_workspace.add(adom)
                return False
            if code != WORKSPACE_LOCKED:
                raise self.jsonrpc_error("exec", url, status)
            if self.clock() + self.lock_interval > deadline:
                break
            self.sleep(self.lock_interval)
        holder = "another administrator"
        details = {"adom": adom, "jsonrpc_code": WORKSPACE_LOCKED, "lock_timeout": self.lock_timeout}
        try:
            info = self.lock_info(adom)
        except KnocknocError:
            info = []
        if info and isinstance(info[0], dict) and info[0].get("lock_user"):
            holder = "administrator %s" % info[0]["lock_user"]
            details["lock_user"] = info[0]["lock_user"]
            details["lock_time"] = info[0].get("lock_time")
        raise self._locked_error(adom, holder, details)

    def _locked_error(self, adom, holder, details):
        return KnocknocError(
            None, "ADOM %s is locked by %s (still locked after %ss)" % (adom, holder, self.lock_timeout),
            description="FortiManager ADOM is locked",
            hint="Wait until the other administrator commits and unlocks the ADOM (or ask them to),"
                 " then run again.", details=details, secrets=self.secrets)

    def _unlock(self, adom):
        self.call("exec", self._workspace_url(adom) + "/unlock")

    def workspace(self, adom=None):
        """Hold the ADOM's workspace lock around a block of writes.

        Yields True when a lock was taken, False when the ADOM is not in workspace mode (the block
        then runs without one). On success the changes are committed and the ADOM unlocked; on
        any exception nothing is committed and the ADOM is unlocked all the same (an unlock
        failure is added to the original error's ``details.unlock_error``). If the commit fails
        the ADOM is unlocked and the commit error raised. :meth:`open_workspace` yields a
        handle that can also commit midway.
        """
        return _LockedFlag(self.open_workspace(adom))

    @contextlib.contextmanager
    def open_workspace(self, adom=None):
        """:meth:`workspace`, yielding a :class:`Workspace` handle: ``handle.locked``, and
        ``handle.commit()`` to save what is written so far while keeping the lock (e.g. before
        an install, which sends what is saved)."""
        handle = Workspace(self, adom or self.adom)
        adom = handle.adom
        if self.workspace_mode() == "disabled" or adom in self._no_workspace or not self._lock(adom):
            yield handle
            return
        handle.locked = True
        self._open_workspaces[adom] = handle
        try:
            try:
                yield handle
            except BaseException as exc:
                self._unlock_quietly(adom, exc)  # (also after an install that unlocked it: nothing to lose)
                raise
            try:
                handle.commit()
            except KnocknocError as err:
                if self._unlocked_by_install(handle):
                    return
                self._unlock_quietly(adom, err)
                raise
            try:
                self._unlock(adom)
            except KnocknocError:
                if not self._unlocked_by_install(handle):
                    raise
        finally:
            self._open_workspaces.pop(adom, None)

    def _unlocked_by_install(self, handle):
        """After an install, whether the ADOM is no longer locked: FortiManager 7.2.2+ unlocks it at the end
        of an install (``workspace-unlock-after-install``), so the commit or unlock that follows may fail
        for want of a lock. Everything was committed before the install (:meth:`Workspace.commit`), so
        there is nothing left to save. One lockinfo read, only when such a step failed after an install."""
        if not handle.installed:
            return False
        try:
            info = self.lock_info(handle.adom)
        except KnocknocError:
            return False
        if info:
            return False
        handle.locked = False
        return True

    def _unlock_quietly(self, adom, original):
        try:
            self._unlock(adom)
        except Exception as err:  # keep the original failure; report the unlock one beside it
            if isinstance(original, KnocknocError):
                original.details["unlock_error"] = str(err)

    def commit_url(self, adom=None):
        """``exec`` URL that saves the ADOM's workspace (``/dvmdb/global/workspace/commit`` for global)."""
        return self._workspace_url(adom or self.adom) + "/commit"

    # -- install and tasks ------------------------------------------------------------------------------
    def install_package(self, adom, pkg, scope, flags=("none",), wait=True, vdom="root"):
        """Install policy package ``pkg`` of ``adom`` on ``scope`` (``[{"name": dev, "vdom": v}]``;
        a plain string ``dev`` means ``{"name": dev, "vdom": vdom}``) and, with ``wait``,
        return the finished task (see :meth:`wait_task`); else ``{"task": id}``."""
        members = []
        for member in scope:
            members.append({"name": member, "vdom": vdom or "root"} if isinstance(member, str) else dict(member))
        data = {"adom": adom or self.adom, "pkg": pkg, "scope": members, "flags": list(flags)}
        if data["adom"] in self._open_workspaces:
            # from here on the ADOM may be unlocked by FortiManager itself (7.2.2+, see open_workspace)
            self._open_workspaces[data["adom"]].installed = True
        result = self.call("exec", "/securityconsole/install/package", data=data)
        task = result.get("task") if isinstance(result, dict) else None
        if not isinstance(task, int):
            raise self.error("parse", "exec /securityconsole/install/package returned no task id",
                             {"adom": data["adom"], "pkg": pkg})
        if not wait:
            return {"task": task}
        return self.wait_task(task)

    def wait_task(self, task_id, interval=None, timeout=None):
        """Poll ``/task/task/<id>`` every ``interval`` s until ``percent`` reaches 100; return the
        task data. A task with errors raises (details hold its ``line`` list); the deadline
        (``timeout``, default ``task_timeout``) raises 202004."""
        interval = self.task_interval if interval is None else interval
        timeout = self.task_timeout if timeout is None else timeout
        deadline = self.clock() + timeout
        url = "/task/task/%s" % task_id
        while True:
            task = self.call("get", url)
            if not isinstance(task, dict):
                raise self.error("parse", "get %s returned no task object" % url, {"task": task_id})
            state = str(task.get("state", "")).lower()
            if int(task.get("percent") or 0) >= 100 or state in ("done", "error", "cancelled", "aborted"):
                break
            if self.clock() + interval > deadline:
                raise KnocknocError(202004, cause="FortiManager task %s still running after %ss (%s%%)" % (
                    task_id, timeout, task.get("percent")), details={"task": task_id, "state": state},
                    secrets=self.secrets)
            self.sleep(interval)
        errors = int(task.get("num_err") or 0)
        if errors or state in ("error", "cancelled", "aborted"):
            lines = task.get("line") if isinstance(task.get("line"), list) else []
            failed = [line for line in lines if isinstance(line, dict) and (line.get("err") or
                                                                            line.get("state") == "error")]
            first = failed[0] if failed else {}
            cause = "FortiManager task %s (%s) finished with %d error(s)" % (task_id, task.get("title") or "task", errors)
            if first:
                cause += "; %s: %s" % (first.get("name"), first.get("detail") or first.get("state"))
            raise KnocknocError(None, cause=cause, description="FortiManager task failed",
                                details={"task": task_id, "state": state, "lines": lines}, secrets=self.secrets)
        return task


class Workspace(object):
    """An ADOM's workspace as :meth:`FortiManagerClient.open_workspace` holds it.

    ``locked`` is False when the ADOM is not in workspace mode (writes then need no lock and
    there is nothing to commit).
    """

    def __init__(self, client, adom):
        self.client = client
        self.adom = adom
        self.locked = False
        self.installed = False  # an install was started while the lock was held

    def commit(self):
        """Save the changes made so far (``exec .../workspace/commit``); nothing to do unlocked."""
        if self.locked:
            self.client.call("exec", self.client.commit_url(self.adom))


class _LockedFlag(object):
    """:meth:`FortiManagerClient.open_workspace` seen as the bool ``locked`` (``workspace()``)."""

    def __init__(self, manager):
        self.manager = manager

    def __enter__(self):
        return self.manager.__enter__().locked

    def __exit__(self, *exc_info):
        return self.manager.__exit__(*exc_info)
