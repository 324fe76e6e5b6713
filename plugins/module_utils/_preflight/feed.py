# Copyright: Contributors to the knocknoc.fortinet project
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Checklist area "Your FortiGate external resource is correct" (Passive and Passive+): the feed's
name, type, credentials, URL and last poll, on every target FortiGate."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlsplit

from ansible_collections.knocknoc.fortinet.plugins.module_utils._preflight.report import case_hint, find_exact, join

# Query keys that put a credential in a feed URL (the allowlist takes HTTP basic auth instead).
CREDENTIAL_KEYS = ("token", "key", "pass", "secret", "auth")


def credentials_in_url(url):
    """How ``url`` embeds a credential (``user:password@`` or a query key), or None."""
    parts = urlsplit(url or "")
    if parts.username is not None or parts.password is not None:
        return "user:password@ in the URL"
    for key, _value in parse_qsl(parts.query, keep_blank_values=True):
        if any(word in key.lower() for word in CREDENTIAL_KEYS):
            return "query parameter %s" % key
    return None


def safe_url(url):
    """scheme://host[:port] only: allowlist URLs carry a random token in their path."""
    parts = urlsplit(url or "")
    if not parts.hostname:
        return "(no URL)"
    return "%s://%s%s/..." % (parts.scheme, parts.hostname, ":%d" % parts.port if parts.port else "")


def polled(obj):
    """Whether the external resource downloads a feed (push-only resources do not)."""
    return obj.get("update-method", "feed") == "feed"


def check_feed(report, targets, name, allowlist_url):
    """The external resource ``name`` on each of ``targets``; returns ``{label: resource}`` found."""
    found = {}

    def feed_name():
        bad, good = [], []
        for target in targets:
            obj, others = find_exact(target.table("system/external-resource"), "name", name)
            if obj is None:
                bad.append("%s: no external resource named %s%s" % (target.label, name, case_hint(others)))
            else:
                found[target.label] = obj
                good.append(target.label)
        if bad:
            return False, join(bad)
        return True, "%s exists on %s" % (name, ", ".join(good))
    report.run("feed_name", "External resource name exactly matches the External Feed Name", feed_name,
               "Create the external resource under exactly this name on every target FortiGate (module"
               " knocknoc.fortinet.fortinet_external_resource), or make the Knoc's External Feed Name match it exactly.")
    if not found:
        return found

    def feed_type():
        bad = ["%s: type %s" % (label, obj.get("type")) for label, obj in sorted(found.items())
               if obj.get("type") != "address"]
        return (not bad, join(bad) or "an IP address list (type address)")
    report.run("feed_type", "External resource is an IP address list", feed_type,
               "Recreate the external resource with type address (a threat feed of IP addresses).")

    def feed_credentials():
        bad = []
        for label, obj in sorted(found.items()):
            if not polled(obj):
                continue
            embedded = credentials_in_url(obj.get("resource"))
            if embedded:
                bad.append("%s: credentials in the resource URL (%s)" % (label, embedded))
            elif not obj.get("username") or not obj.get("password"):
                bad.append("%s: no HTTP basic username/password set" % label)
        return (not bad, join(bad) or "URL without credentials; HTTP basic username and password set")
    report.run("feed_credentials", "Credentials use the separate credentials format (not embedded in the URL)",
               feed_credentials, "Set the resource URI to the plain allowlist URL and put the allowlist API key in the"
               " external resource's HTTP basic authentication (username apikey, password the key).")

    if allowlist_url:
        def feed_url():
            feeds = dict((label, obj) for label, obj in found.items() if polled(obj))
            if not feeds:
                return None
            bad = ["%s: points to %s" % (label, safe_url(obj.get("resource"))) for label, obj in sorted(feeds.items())
                   if obj.get("resource") != allowlist_url]
            return (not bad, join(bad) or "points to the Knoc's allowlist URL")
        if report.run("feed_url", "External feed points to the allowlist URL", feed_url,
                      "Set the external resource's resource URI to the Knoc's allowlist URL.") is None:
            report.skip("External feed points to the allowlist URL", "the external resource is push-only")
    else:
        report.skip("External feed points to the allowlist URL", "no allowlist_url or knoc given")

    def feed_poll():
        bad, good = [], []
        for target in targets:
            obj = found.get(target.label)
            if obj is None or not polled(obj):
                continue
            status = target.entry_list(name) or {}
            if obj.get("status") == "disable":
                bad.append("%s: the external resource is disabled" % target.label)
            elif status.get("status") == "success":
                good.append("%s: %s entries" % (target.label, status.get("valid_count", 0)))
            else:
                bad.append("%s: last poll %s (%s)" % (target.label, status.get("status") or "unknown",
                                                      status.get("error") or "no download yet"))
        if not bad and not good:
            return None
        return (not bad, join(bad) or join(good))
    passed = report.run("feed_poll", "FortiGate downloads the allowlist (credentials match the allowlist API key)",
                        feed_poll, "Check that the FortiGate can reach the Knocknoc server over HTTPS, that the username/"
                        "password are the allowlist API key, and that the key's IP restrictions allow the FortiGate.")
    if passed is None:
        report.skip("FortiGate downloads the allowlist", "the external resource is push-only")
    return found
