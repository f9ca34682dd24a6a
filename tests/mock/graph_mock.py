#!/usr/bin/env python3
"""
graph_mock.py -- a mock Microsoft Graph v1.0 (the Microsoft 365 tenant of
client 1) with its Entra ID client-credentials token endpoint.

  python3 tests/mock/graph_mock.py --port 0 --port-file /tmp/graph.port

Token: POST /{tenant}/oauth2/v2.0/token, scope https://graph.microsoft.com/.default
(the "authority" is this server's base URL).  Resources, with the
application permission each needs (missing -> 403 Authorization_RequestDenied):

  /v1.0/users                                               User.Read.All (+AuditLog.Read.All for signInActivity)
  /v1.0/reports/authenticationMethods/userRegistrationDetails   AuditLog.Read.All
  /v1.0/identityProtection/riskyUsers                       IdentityRiskyUser.Read.All
  /v1.0/security/secureScores                               SecurityEvents.Read.All
  /v1.0/security/secureScoreControlProfiles                 SecurityEvents.Read.All
  /v1.0/security/alerts_v2                                  SecurityAlert.Read.All

OData: $select, $top, $skiptoken (@odata.nextLink), simple $filter, $count.
See tests/mock/README.md.
"""

import base64
import json
import re
import sys
import time
import urllib.parse
import uuid

import mocklib
from datasets import World
from entra import TokenStore, handle_token
from mocklib import Collection, MockHandler, bearer_token, parse_iso, utc_iso

ALL_ROLES = ["User.Read.All", "AuditLog.Read.All", "IdentityRiskyUser.Read.All",
             "SecurityEvents.Read.All", "SecurityAlert.Read.All", "SecurityActions.Read.All"]

USER_DEFAULT = ["businessPhones", "displayName", "givenName", "jobTitle", "mail", "mobilePhone",
                "officeLocation", "preferredLanguage", "surname", "userPrincipalName", "id"]

# path -> (entity set name for @odata.context, entity type, required role, default $select or None)
RESOURCES = {
    "users": ("users", "user", "User.Read.All", USER_DEFAULT),
    "reports/authenticationMethods/userRegistrationDetails":
        ("reports/authenticationMethods/userRegistrationDetails", "userRegistrationDetails",
         "AuditLog.Read.All", None),
    "identityProtection/riskyUsers": ("identityProtection/riskyUsers", "riskyUser",
                                      "IdentityRiskyUser.Read.All", None),
    "security/secureScores": ("security/secureScores", "secureScore", "SecurityEvents.Read.All", None),
    "security/secureScoreControlProfiles": ("security/secureScoreControlProfiles",
                                            "secureScoreControlProfile", "SecurityEvents.Read.All", None),
    "security/alerts_v2": ("security/alerts_v2", "microsoft.graph.security.alert",
                           "SecurityAlert.Read.All", None),
}

_FILTER_RE = re.compile(r"\s*([A-Za-z_][\w/]*)\s+(eq|ne|gt|ge|lt|le)\s+('(?:[^']|'')*'|\S+)\s*")


class FilterError(ValueError):
    pass


def compile_filter(expr):
    if not expr:
        return lambda r: True
    clauses = []
    for part in re.split(r"\s+and\s+", expr.strip(), flags=re.IGNORECASE):
        m = _FILTER_RE.fullmatch(part)
        if not m:
            raise FilterError("Invalid filter clause: %s" % part)
        field, op, raw = m.groups()
        if raw.startswith("'"):
            val = ("str", raw[1:-1].replace("''", "'").lower())
        elif raw in ("true", "false"):
            val = ("bool", raw == "true")
        elif raw == "null":
            val = ("null", None)
        elif re.match(r"\d{4}-\d\d-\d\dT", raw):
            val = ("date", parse_iso(raw))
        else:
            try:
                val = ("num", float(raw))
            except ValueError:
                raise FilterError("Invalid filter value: %s" % raw)
        clauses.append((field, op, val))

    def get(r, path):
        for p in path.split("/"):
            r = r.get(p) if isinstance(r, dict) else None
        return r

    def ok(r, field, op, val):
        kind, want = val
        got = get(r, field)
        if kind == "null":
            return (got is None) == (op == "eq")
        if got is None:
            return op == "ne"
        try:
            if kind == "date":
                got = parse_iso(got)
            elif kind == "str":
                got = str(got).lower()
            elif kind == "num":
                got = float(got)
        except Exception:
            return False
        return {"eq": got == want, "ne": got != want, "gt": got > want, "ge": got >= want,
                "lt": got < want, "le": got <= want}[op]

    return lambda r: all(ok(r, f, o, v) for f, o, v in clauses)


class GraphData:
    def __init__(self, world):
        self.world = world
        self.sets = {
            "users": Collection(world.graph_users()),
            "reports/authenticationMethods/userRegistrationDetails":
                Collection(world.graph_registration_details()),
            "identityProtection/riskyUsers": Collection(world.graph_risky_users()),
            "security/secureScores": Collection(world.graph_secure_scores()),
            "security/secureScoreControlProfiles": Collection(world.graph_control_profiles()),
            "security/alerts_v2": Collection(world.graph_alerts()),
        }


def _inner_error():
    return {"date": utc_iso(time.time()), "request-id": str(uuid.uuid4()),
            "client-request-id": str(uuid.uuid4())}


class GraphHandler(MockHandler):
    vendor = "graph"
    data = None
    tokens = None

    def vendor_error(self, status, message=None):
        codes = {400: ("BadRequest", "Invalid request."),
                 401: ("InvalidAuthenticationToken", "Access token validation failure."),
                 403: ("Authorization_RequestDenied", "Insufficient privileges to complete the operation."),
                 404: ("Request_ResourceNotFound", "Resource not found."),
                 429: ("TooManyRequests", "Too many requests."),
                 500: ("generalException", "An unexpected error occurred."),
                 502: ("badGateway", "Bad gateway."),
                 503: ("serviceNotAvailable", "The service is temporarily unavailable. Please retry later."),
                 504: ("gatewayTimeout", "Gateway timeout.")}
        code, default = codes.get(status, ("UnknownError", "Error"))
        body = {"error": {"code": code, "message": message or default, "innerError": _inner_error()}}
        headers = {"request-id": body["error"]["innerError"]["request-id"],
                   "client-request-id": body["error"]["innerError"]["client-request-id"]}
        return json.dumps(body).encode(), headers

    def licence_error(self):
        """Graph's 403 for a tenant without the Entra ID P1/P2 licence a feature needs."""
        body = {"error": {"code": "Authentication_RequestFromNonPremiumTenantOrB2CTenant",
                          "message": "Neither tenant is B2C or tenant doesn't have premium license",
                          "innerError": _inner_error()}}
        self.send_bytes(403, json.dumps(body).encode(),
                        headers={"request-id": body["error"]["innerError"]["request-id"],
                                 "client-request-id": body["error"]["innerError"]["client-request-id"]})

    def fault_payload(self):
        return json.dumps({"@odata.context": "https://graph.microsoft.com/v1.0/$metadata#users",
                           "value": self.data.sets["users"].records[:40]}).encode()

    def route(self, method, path, query):
        if handle_token(self, self.tokens, path):
            return
        if not path.startswith("/v1.0/"):
            return self.send_error_status(404, "Invalid version: %s" % path.split("/")[1:2])
        reason = self.tokens.check(bearer_token(self.headers))
        if reason:
            return self.send_error_status(401, reason)
        rel = path[len("/v1.0/"):].rstrip("/")
        if method != "GET":
            return self.send_error_status(405, "The mock is read-only.")
        roles = self.tokens.roles_of(bearer_token(self.headers))
        # single entity: /users/{id}
        m = re.fullmatch(r"(users|security/alerts_v2|security/secureScoreControlProfiles|"
                         r"identityProtection/riskyUsers)/([^/]+)", rel)
        if m:
            res = RESOURCES[m.group(1)]
            if res[2] not in roles:
                return self.send_error_status(403)
            key = urllib.parse.unquote(m.group(2))
            for r in self.data.sets[m.group(1)].records:
                if r["id"] == key or r.get("userPrincipalName", "").lower() == key.lower():
                    obj = dict(r)
                    obj["@odata.context"] = "https://graph.microsoft.com/v1.0/$metadata#%s/$entity" % res[0]
                    return self.send_json(200, obj)
            return self.send_error_status(404, "Resource '%s' does not exist or one of its queried "
                                               "reference-property objects are not present." % key)
        if rel not in RESOURCES:
            return self.send_error_status(400, "Resource not found for the segment '%s'."
                                          % rel.split("/")[-1])
        ctx_name, etype, role, default_select = RESOURCES[rel]
        if role not in roles:
            return self.send_error_status(403)
        # Entra ID licences: riskyUsers needs P2 (riskyuser-list: "requires a
        # Microsoft Entra ID P2 license"), the authentication methods report P1
        # or P2 (usage and insights); Graph answers 403 with this error code.
        lic = self.state.args.entra_licence
        if (rel == "identityProtection/riskyUsers" and lic != "P2") or \
                (rel == "reports/authenticationMethods/userRegistrationDetails" and lic == "none"):
            return self.licence_error()
        q = {k: v[-1] for k, v in query.items()}
        coll = self.data.sets[rel]
        args = self.state.args
        try:
            top = int(q.get("$top", args.page_size))
            skip = 0
            if q.get("$skiptoken"):
                skip = int(base64.urlsafe_b64decode(q["$skiptoken"] + "==").decode().split(":")[1])
        except Exception:
            return self.send_error_status(400, "Invalid $top or $skiptoken value.")
        if top < 1 or top > 999:
            return self.send_error_status(400, "Invalid page size specified: '%d'. Must be between "
                                               "1 and 999 inclusive." % top)
        if rel == "identityProtection/riskyUsers" and top > 500:
            # riskyuser-list: "$top ... The maximum value is 500"
            return self.send_error_status(400, "Invalid page size specified: '%d'. Must be between "
                                               "1 and 500 inclusive." % top)
        select = [s.strip() for s in q["$select"].split(",")] if q.get("$select") else default_select
        if select:
            known = set()
            for r in coll.records[:1]:
                known = set(r.keys())
            bad = [s for s in select if s not in known]
            if bad:
                return self.send_error_status(400, "Could not find a property named '%s' on type "
                                                   "'microsoft.graph.%s'." % (bad[0], etype))
            if rel == "users" and "signInActivity" in select:
                # signInActivity needs AuditLog.Read.All and Entra ID P1 or P2
                if "AuditLog.Read.All" not in roles:
                    return self.send_error_status(403)
                if self.state.args.entra_licence == "none":
                    return self.licence_error()
        try:
            pred = compile_filter(q.get("$filter"))
        except FilterError as e:
            return self.send_error_status(400, str(e))
        idx = [i for i, r in enumerate(coll.records) if pred(r)]
        page_size = min(top, args.max_page_size)
        if rel == "users" and select and "signInActivity" in select:
            # user-list: with signInActivity selected a page holds at most 120 users
            page_size = min(page_size, 120)
        sel = idx[skip:skip + page_size]
        out = {"@odata.context": "https://graph.microsoft.com/v1.0/$metadata#%s%s"
                                 % (ctx_name, "(%s)" % ",".join(select) if q.get("$select") else "")}
        if q.get("$count") == "true":
            out["@odata.count"] = len(idx)
        if skip + page_size < len(idx):
            nq = [(k, v) for k, v in urllib.parse.parse_qsl(self.raw_query, keep_blank_values=True)
                  if k not in ("$skiptoken",)]
            token = base64.urlsafe_b64encode(("RFNwdAIAAQAAAB:%d:%s" % (skip + page_size,
                                                                       uuid.uuid4().hex[:8])).encode()).decode().rstrip("=")
            nq.append(("$skiptoken", token))
            out["@odata.nextLink"] = "%s/v1.0/%s?%s" % (self.base_url(), rel, urllib.parse.urlencode(
                nq, safe="$,()'", quote_via=urllib.parse.quote))
        if (self.rule is not None and self.rule.name == "foreign-next-link"
                and "@odata.nextLink" in out):
            # a next page on another host: a client must not send its token there
            out["@odata.nextLink"] = re.sub(r"^http://[^/]+", "http://127.0.0.2:9",
                                            out["@odata.nextLink"])
        if self.rule is not None and self.rule.name == "self-next-link":
            # every page links to itself: paging that never ends
            out["@odata.nextLink"] = "%s%s" % (self.base_url(), self.path)
        if (self.rule is not None and self.rule.name == "cycle-next-link"
                and q.get("$skiptoken") and "@odata.nextLink" not in out):
            # the last page links back to the first (no $skiptoken): a cycle
            nq = [(k, v) for k, v in urllib.parse.parse_qsl(self.raw_query, keep_blank_values=True)
                  if k != "$skiptoken"]
            out["@odata.nextLink"] = "%s/v1.0/%s?%s" % (self.base_url(), rel, urllib.parse.urlencode(
                nq, safe="$,()'", quote_via=urllib.parse.quote))
        if (self.rule is not None and self.rule.name == "long-next-link"
                and "@odata.nextLink" in out):
            # a next page on this host that is no page (400), with a long non-ASCII
            # path: the error names it, cut at a whole character
            out["@odata.nextLink"] = "%s/v1.0/no-such-page/x%s" % (self.base_url(), "\u00e9" * 600)
        fault = self.record_fault()
        if self.rule is not None and self.rule.name == "graph-forms":
            # forms Graph really sends: alerts_v2 severity/status "unknown"
            # (alertSeverity / alertStatus enums); secureScores controlScores'
            # undeclared extra properties as strings, some left out
            recs = [json.loads(json.dumps(coll.records[i])) for i in sel]
            for k, r in enumerate(recs):
                if rel == "security/alerts_v2" and k == 0:
                    r["severity"], r["status"] = "unknown", "unknown"
                if rel == "security/secureScores":
                    for j, c in enumerate(r.get("controlScores") or []):
                        for key in ("score", "scoreInPercentage"):
                            if isinstance(c.get(key), (int, float)):
                                c[key] = str(c[key])
                        if j % 3 == 0:
                            c.pop("scoreInPercentage", None)
                            c.pop("implementationStatus", None)
            out["value"] = [{k: r.get(k) for k in select} if select else r for r in recs]
            return self.send_bytes(200, json.dumps(out).encode(),
                                   headers={"request-id": str(uuid.uuid4()), "OData-Version": "4.0"})
        if select is None and not fault:
            body = json.dumps(out)[:-1].encode() + b',"value":' + coll.page_bytes(sel) + b"}"
        else:
            recs = []
            for i in sel:
                r = coll.records[i]
                r = {k: r.get(k) for k in select} if select else r
                recs.append(mocklib.break_record(r, fault) if fault else r)
            out["value"] = recs
            body = json.dumps(out).encode()
        self.send_bytes(200, body, headers={"request-id": str(uuid.uuid4()),
                                            "client-request-id": str(uuid.uuid4()),
                                            "OData-Version": "4.0"})


def main(argv=None):
    p = mocklib.common_args("Mock Microsoft Graph v1.0 + Entra ID token endpoint (127.0.0.1 only)")
    p.add_argument("--seed", type=int, default=4242)
    p.add_argument("--now", help="anchor time, e.g. 2026-01-15T12:00:00Z (default: now)")
    p.add_argument("--tenant-id", default=World.M365_TENANT_ID,
                   help="Entra tenant of client 1 (its domain contosodental.onmicrosoft.com "
                        "and contosodental.com also work)")
    p.add_argument("--client-id", default="11111111-2222-4333-8444-555555555555")
    p.add_argument("--client-secret", default="mock-graph-secret")
    p.add_argument("--roles", default=",".join(ALL_ROLES),
                   help="application permissions granted to the app (comma separated); "
                        "leave some out to get 403s")
    p.add_argument("--entra-licence", choices=["P2", "P1", "none"], default="P2",
                   help="the tenant's Microsoft Entra ID licence: P2 (default, everything), "
                        "P1 (Microsoft 365 Business Premium: no riskyUsers), none (also no "
                        "signInActivity, no userRegistrationDetails); the refused requests get "
                        "403 Authentication_RequestFromNonPremiumTenantOrB2CTenant")
    p.add_argument("--page-size", type=int, default=25,
                   help="page size when the request has no $top (default 25)")
    p.add_argument("--max-page-size", type=int, default=50,
                   help="server-side page cap even with a larger $top (default 50; "
                        "Graph may return fewer items than $top)")
    p.add_argument("--token-ttl", type=int, default=3599)
    args = p.parse_args(argv)
    anchor = parse_iso(args.now) if args.now else time.time()
    GraphHandler.data = GraphData(World(anchor, seed=args.seed))
    GraphHandler.tokens = TokenStore(
        [args.tenant_id, "contosodental.onmicrosoft.com", "contosodental.com"],
        args.client_id, args.client_secret,
        roles=[r.strip() for r in args.roles.split(",") if r.strip()], ttl=args.token_ttl,
        audience_ok=lambda a: a in ("https://graph.microsoft.com/.default",
                                    "https://graph.microsoft.com", "https://graph.microsoft.com/"))
    return mocklib.serve(GraphHandler, args, "graph")


if __name__ == "__main__":
    sys.exit(main())
