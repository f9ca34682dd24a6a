#!/usr/bin/env python3
"""
immy_mock.py -- a mock Immy.Bot API (https://<instance>.immy.bot/api/v1/...)
with the Microsoft Entra ID client-credentials token endpoint it relies on.

  python3 tests/mock/immy_mock.py --port 0 --port-file /tmp/immy.port

Paths and field names follow Immy.Bot's own swagger (v1): computers
(ComputerSearch, ComputerListViewModel), tenants, target-assignments (the
deployments used as compliance baselines) and maintenance-actions
(GetMaintenanceActionResponse, the per-computer drift/compliance results).
See tests/mock/README.md.
"""

import json
import re
import sys
import time
import uuid

import mocklib
from datasets import World
from entra import TokenStore, handle_token
from mocklib import Collection, MockHandler, bearer_token, parse_iso


class ImmyData:
    def __init__(self, world):
        self.world = world
        self.computers = Collection(world.immy_computers())
        self.tenants = world.immy_tenants()
        self.baselines = Collection(world.immy_baselines())
        self.actions = Collection(world.immy_actions())


class ImmyHandler(MockHandler):
    vendor = "immybot"
    data = None
    tokens = None

    def vendor_error(self, status, message=None):
        titles = {400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found",
                  429: "Too Many Requests", 500: "An error occurred while processing your request.",
                  502: "Bad Gateway", 503: "Service Unavailable", 504: "Gateway Timeout"}
        body = {"type": "https://tools.ietf.org/html/rfc9110#section-15.%d.%d"
                        % (5 if status < 500 else 6, (status % 100) + 1),
                "title": titles.get(status, "Error"), "status": status,
                "traceId": "00-%s-%s-00" % (uuid.uuid4().hex, uuid.uuid4().hex[:16])}
        if message:
            body["detail"] = message
        return json.dumps(body).encode(), {}

    def fault_payload(self):
        return self.data.computers.page_bytes(range(len(self.data.computers)))

    def route(self, method, path, query):
        if handle_token(self, self.tokens, path):
            return
        if not path.startswith("/api/v1/"):
            return self.send_error_status(404)
        reason = self.tokens.check(bearer_token(self.headers))
        if reason:
            return self.send_bytes(401, b"", headers={
                "WWW-Authenticate": 'Bearer error="invalid_token", error_description="%s"' % reason})
        q = {k.lower(): v[-1] for k, v in query.items()}
        rel = path[len("/api/v1/"):].rstrip("/")
        fault = self.record_fault()
        d = self.data

        def ints(name, default):
            try:
                return int(q.get(name, default))
            except ValueError:
                raise ValueError(name)

        try:
            if rel == "computers" and method == "GET":
                # ComputerSearch: the short list (real API: up to pageSize, default 25).
                size = max(1, ints("pagesize", 25))
                tenant = q.get("tenantid")
                name = (q.get("name") or "").lower()
                out = []
                for r in d.computers.records:
                    if tenant and str(r["tenantId"]) != tenant:
                        continue
                    if name and name not in r["computerName"].lower():
                        continue
                    out.append({"id": r["id"], "name": r["computerName"], "tenant": r["tenantName"],
                                "tenantId": r["tenantId"], "online": r["isOnline"],
                                "updatedDate": r["updatedDate"],
                                "excludeFromMaintenance": r["excludeFromMaintenance"]})
                    if len(out) >= size:
                        break
                if fault:
                    out = [mocklib.break_record(r, fault) for r in out]
                return self.send_json(200, out)
            if rel == "computers/paged" and method == "GET":
                skip = max(0, ints("skip", 0))
                take = max(1, min(ints("take", 50), 1000))
                tenant = q.get("tenantid")
                idx = [i for i, r in enumerate(d.computers.records)
                       if not tenant or str(r["tenantId"]) == tenant]
                page = idx[skip:skip + take]
                if self.rule is not None and self.rule.name == "ignore-paging":
                    # skip is ignored and every page is full: the first `take`
                    # computers (the 47 repeated to fill the page)
                    page = [idx[i % len(idx)] for i in range(take)]
                body = b'{"count":%d,"results":%s}' % (len(idx), d.computers.page_bytes(page, fault, self))
                return self.send_bytes(200, body)
            m = re.fullmatch(r"computers/(\d+)", rel)
            if m and method == "GET":
                for r in d.computers.records:
                    if r["id"] == int(m.group(1)):
                        return self.send_json(200, self.computer_detail(r))
                return self.send_error_status(404, "Computer %s was not found" % m.group(1))
            if rel == "tenants" and method == "GET":
                # paged (Page / PageSize, 1-based); the server caps PageSize at
                # --tenants-page-cap, so a client must ask until a page is empty
                if "page" not in q and "pagesize" not in q:
                    return self.send_json(200, d.tenants)
                page = max(1, ints("page", 1))
                size = max(1, min(ints("pagesize", 50), self.state.args.tenants_page_cap))
                out = d.tenants[(page - 1) * size:page * size]
                if self.rule is not None and self.rule.name == "ignore-paging":
                    out = d.tenants[:size]
                return self.send_json(200, out)
            if rel == "target-assignments" and method == "GET":
                page = ints("page", 1)
                size = ints("pagesize", 1000)
                idx = list(range(len(d.baselines)))[(page - 1) * size:(page - 1) * size + size]
                if self.rule is not None and self.rule.name == "ignore-paging":
                    idx = [i % len(d.baselines) for i in range(size)]
                return self.send_bytes(200, d.baselines.page_bytes(idx, fault, self))
            m = re.fullmatch(r"target-assignments/(\d+)", rel)
            if m and method == "GET":
                for r, b in zip(d.baselines.records, d.baselines.rendered):
                    if r["id"] == int(m.group(1)):
                        return self.send_bytes(200, b)
                return self.send_error_status(404, "Deployment %s was not found" % m.group(1))
            return self.actions_route(method, rel, q, fault, ints)
        except ValueError as e:
            return self.send_error_status(400, "The value is not valid for %s." % e)

    def actions_route(self, method, rel, q, fault, ints):
        d = self.data
        acts = d.actions.records

        def send(idx):
            return self.send_bytes(200, d.actions.page_bytes(idx, fault, self))

        since = None
        if q.get("dateutc") or q.get("createddateutc"):
            try:
                since = parse_iso(q.get("dateutc") or q.get("createddateutc"))
            except Exception:
                return self.send_error_status(400, "The value is not valid for dateUtc.")

        def recent(i):
            return since is None or parse_iso(acts[i]["createdDateUTC"]) >= since

        m = re.fullmatch(r"maintenance-actions/latest-for-tenant/(\d+)", rel)
        if m and method == "GET":
            return send([i for i, a in enumerate(acts) if a["tenantId"] == int(m.group(1)) and recent(i)])
        m = re.fullmatch(r"maintenance-actions/latest-non-compliant-actions-for-tenant/(\d+)", rel)
        if m and method == "GET":
            return send([i for i, a in enumerate(acts)
                         if a["tenantId"] == int(m.group(1)) and a["resultName"] == "Failed" and recent(i)])
        m = re.fullmatch(r"maintenance-actions/latest-for-computer/(\d+)", rel)
        if m and method == "GET":
            return send([i for i, a in enumerate(acts) if a["computerId"] == int(m.group(1))])
        if rel == "maintenance-actions/latest-action-for-computers" and method == "POST":
            try:
                body = json.loads(self.req_body or b"{}")
                ids = {int(x) for x in body.get("computerIds") or []}
                if body.get("dateUtc"):
                    since = parse_iso(body["dateUtc"])
            except Exception:
                return self.send_error_status(400, "The request body is not valid JSON for "
                                                   "GetLatestActionForComputersRequestBody.")
            ident = body.get("maintenanceIdentifier")
            if not ident:
                # GetLatestActionForComputersRequestBody: maintenanceIdentifier and
                # maintenanceType are part of the request (answers per maintenance item)
                b, h = self.vendor_error(400)
                err = json.loads(b)
                err["title"] = "One or more validation errors occurred."
                err["errors"] = {"MaintenanceIdentifier": ["The MaintenanceIdentifier field is required."]}
                return self.send_bytes(400, json.dumps(err).encode(), content_type="application/problem+json")
            mtype = body.get("maintenanceType")
            return send([i for i, a in enumerate(acts) if a["computerId"] in ids and recent(i)
                         and a["maintenanceIdentifier"] == str(ident)
                         and (mtype is None or a["maintenanceType"] == mtype)])
        if rel == "maintenance-actions/dx" and method == "GET":
            page = ints("page", 1)
            size = ints("pagesize", 1000)
            idx = list(range(len(acts)))[(page - 1) * size:(page - 1) * size + size]
            return send(idx)
        return self.send_error_status(404)

    def computer_detail(self, r):
        return {
            "id": r["id"], "deviceId": r["deviceId"], "tenantId": r["tenantId"],
            "computerName": r["computerName"], "primaryPersonId": r["primaryPersonId"],
            "onboardingStatus": r["onboardingStatus"], "isOnline": r["isOnline"],
            "isDomainController": r["domainRole"] >= 4, "isPortable": r["chassisTypes"] == [10],
            "isServer": r["domainRole"] == 3, "isDesktop": r["chassisTypes"] == [3],
            "tenantName": r["tenantName"],
            "inventory": {"WindowsSystemInfo": {
                "SerialNumber": r["serialNumber"], "Manufacturer": r["manufacturer"],
                "Model": r["model"], "OSName": r["operatingSystem"],
                "Domain": r["domain"], "LastBootTimeUtc": r["lastBootTimeUtc"],
                "InternalIpAddress": r["internalIpAddress"]}},
            "isMissingSomeRequiredInventoryResults": False, "detectionOutdated": False,
            "isSandbox": False, "excludeFromMaintenance": False,
            "devLabVmClaimExpirationDateUtc": None, "isDevLab": False, "devLabVmUnclaimed": False,
            "ephemeralAgentConnected": r["isOnline"], "licensed": True,
            "excludedFromUserAffinity": False, "sessions": [], "additionalPersons": [],
            "primaryPerson": None if r["primaryPersonId"] is None else {
                "id": r["primaryPersonId"], "tenantId": r["tenantId"],
                "firstName": r["primaryUserFirstName"], "lastName": r["primaryUserLastName"],
                "emailAddress": r["primaryUserEmail"],
                "displayName": "%s %s" % (r["primaryUserFirstName"], r["primaryUserLastName"])},
            "tenant": {"id": r["tenantId"], "name": r["tenantName"]},
            "agents": [], "computerTagIds": [],
        }


def main(argv=None):
    p = mocklib.common_args("Mock Immy.Bot API + Entra ID token endpoint (127.0.0.1 only)")
    p.add_argument("--seed", type=int, default=4242)
    p.add_argument("--now", help="anchor time, e.g. 2026-01-15T12:00:00Z (default: now)")
    p.add_argument("--tenant-id", default="3c9e1f7a-2b4d-4e6f-8a1c-5d7e9f0a1b2c",
                   help="the MSP's Entra tenant (GUID); its domain etopmsp.onmicrosoft.com also works")
    p.add_argument("--client-id", default="0b7a6c5d-4e3f-4a1b-9c8d-7e6f5a4b3c2d")
    p.add_argument("--client-secret", default="mock-immy-secret")
    p.add_argument("--token-ttl", type=int, default=3599)
    p.add_argument("--tenants-page-cap", type=int, default=100,
                   help="most tenants per page of GET /api/v1/tenants?page=&pageSize= (default 100)")
    args = p.parse_args(argv)
    anchor = parse_iso(args.now) if args.now else time.time()
    ImmyHandler.data = ImmyData(World(anchor, seed=args.seed))
    ImmyHandler.tokens = TokenStore(
        [args.tenant_id, "etopmsp.onmicrosoft.com"], args.client_id, args.client_secret,
        roles=[], ttl=args.token_ttl,
        audience_ok=lambda a: a.startswith("https://") and (a.endswith("/.default") or "immy" in a
                                                            or "127.0.0.1" in a or "localhost" in a))
    return mocklib.serve(ImmyHandler, args, "immybot")


if __name__ == "__main__":
    sys.exit(main())
