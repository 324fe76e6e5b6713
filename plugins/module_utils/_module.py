# Copyright: Contributors to the knocknoc.fortinet project
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The module base: every module of the collection builds a :class:`KnocknocModule` where it would
build an ``AnsibleModule`` (same arguments), so what follows holds for all of them in one place.

- **Secrets carried by shape are masked before Ansible validates the arguments.** A password in a
  ``user:password@`` URL or the token in a Knocknoc allowlist URL's path, at any depth (inside
  ``fortigate_object``'s ``data`` too), goes into ``no_log_values`` while the raw arguments are
  loaded. Ansible masks no_log values in everything it returns or logs; doing it before validation
  also covers a task that Ansible refuses (a wrongly typed or unknown option), whose failure may echo
  the arguments.
- **Allowlist URLs are shown with their token redacted**, and URL passwords masked, in results,
  messages and warnings (also what a device returns: an object's comment, a feed's URL), unless the
  module names the key in :attr:`KnocknocModule.secret_results` (a value asked for explicitly).
- **validate_certs=false warns** once per device the task reached without verifying its certificate.
- ``requests`` is checked (``missing_required_lib``).
"""

from __future__ import annotations

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.knocknoc.fortinet.plugins.module_utils._errors import (
    redact_allowlist_urls,
    redact_shapes,
    secrets_in,
)
from ansible_collections.knocknoc.fortinet.plugins.module_utils._http import check_requirements, unverified_devices
from ansible_collections.knocknoc.fortinet.plugins.module_utils._validate import nul_option

UNVERIFIED_WARNING = (
    "validate_certs=false: the TLS certificate of %s was not verified, so anyone on the network path could pose as it"
    " and receive the credentials this task sent. Trust its CA with ca_path (and tls_server_name for an appliance"
    " certificate), or pin tls_fingerprint.")


class KnocknocModule(AnsibleModule):
    """``AnsibleModule`` with the collection's secret handling (see the module docstring).

    ``secret_results``: result keys returned in clear although they hold an allowlist URL, because the
    user asked for them (their RETURN documentation says the key holds a secret).
    """

    secret_results = ()

    def __init__(self, argument_spec, **kwargs):
        # A fresh record for this task: tests and benchmarks run modules in one interpreter.
        unverified_devices()
        super(KnocknocModule, self).__init__(argument_spec, **kwargs)
        check_requirements(self)

    def _load_params(self):
        super(KnocknocModule, self)._load_params()
        # Runs before validation (AnsibleModule.__init__ creates no_log_values first): a refused
        # argument is masked in the refusal as well.
        self.no_log_values.update(secrets_in(self.params))

    def _log_invocation(self):
        # A NUL character makes Ansible's syslog call fail with a message that names no option (W2-C).
        option = nul_option(self.params)
        if option:
            self.fail_json(msg="%s must not contain a NUL character" % option)
        super(KnocknocModule, self)._log_invocation()

    def warn(self, warning, **kwargs):
        super(KnocknocModule, self).warn(redact_shapes(warning), **kwargs)

    def _prepare_result(self, result):
        for device in unverified_devices():
            self.warn(UNVERIFIED_WARNING % device)
        keep = set(self.secret_results)
        return dict((key, value if key in keep else redact_allowlist_urls(value)) for key, value in result.items())

    def exit_json(self, **kwargs):
        super(KnocknocModule, self).exit_json(**self._prepare_result(kwargs))

    def fail_json(self, msg, **kwargs):
        # Also called by AnsibleModule.__init__ for a refused argument, before this class's __init__ ran.
        super(KnocknocModule, self).fail_json(redact_shapes(msg), **self._prepare_result(kwargs))
