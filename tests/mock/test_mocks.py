"""
test_mocks.py -- self-test of the mock vendor servers: starts each one on a
free 127.0.0.1 port, talks to it with curl, checks counts, paging, auth and
the fault scenarios, and stops it with SIGTERM.  Run by selftest.sh.
"""

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

CW_AUTH = ["-u", "etopdemo+etopPublicKey:etopPrivateKey",
           "-H", "clientId: 5e1a7e1c-0000-4000-8000-00000000e70b"]
CW_API = "/v4_6_release/apis/3.0"
PYTHON = os.environ.get("ETOP_PYTHON") or sys.executable


class Server:
    def __init__(self, script, *args):
        self.tmp = tempfile.mkdtemp(prefix="etop-mock-")
        self.port_file = os.path.join(self.tmp, "port")
        self.proc = subprocess.Popen(
            [PYTHON, os.path.join(HERE, script), "--port", "0",
             "--port-file", self.port_file, "--max-seconds", "120"] + list(args),
            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        deadline = time.time() + 30
        while not os.path.exists(self.port_file):
            if self.proc.poll() is not None:
                raise RuntimeError("%s exited: %s" % (script, self.proc.stderr.read().decode()))
            if time.time() > deadline:
                raise RuntimeError("%s did not start" % script)
            time.sleep(0.05)
        with open(self.port_file) as f:
            self.port = int(f.read())
        self.base = "http://127.0.0.1:%d" % self.port

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        rc = self.proc.wait(10)
        self.proc.stdout.close()
        self.proc.stderr.close()
        return rc

    def control(self, **obj):
        return curl(self.base + "/__control", "-X", "POST", "-H", "Content-Type: application/json",
                    "--data", json.dumps(obj))


def curl(url, *args, timeout=60):
    """(curl exit code, HTTP status, headers {lowercase: value}, body bytes)."""
    with tempfile.NamedTemporaryFile() as hf, tempfile.NamedTemporaryFile() as bf:
        p = subprocess.run(["curl", "-sS", "--noproxy", "*", "-D", hf.name, "-o", bf.name,
                            "-w", "%{http_code}", url] + list(args),
                           capture_output=True, timeout=timeout)
        headers = {}
        with open(hf.name, "rb") as f:
            raw_headers = f.read().decode("latin-1")
        with open(bf.name, "rb") as f:
            body = f.read()
        for line in raw_headers.splitlines():
            if ":" in line:
                k, v = line.split(":", 1)
                headers[k.strip().lower()] = v.strip()
        status = int(p.stdout or b"0")
        return p.returncode, status, headers, body


def jget(url, *args):
    rc, status, headers, body = curl(url, *args)
    assert rc == 0 and status == 200, (url, rc, status, body[:300])
    return json.loads(body), headers


def next_link(headers):
    for part in headers.get("link", "").split(","):
        if 'rel="next"' in part:
            return part.split(";")[0].strip().strip("<>")
    return None


class ConnectWiseTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.s = Server("cw_mock.py")

    @classmethod
    def tearDownClass(cls):
        assert cls.s.stop() == 0

    def setUp(self):
        self.s.control(clear=True)

    def url(self, rel, **q):
        return self.s.base + CW_API + "/" + rel + ("?" + urllib.parse.urlencode(q) if q else "")

    def test_auth(self):
        self.assertEqual(curl(self.url("company/companies"))[1], 401)
        bad = ["-u", "etopdemo+etopPublicKey:wrong", "-H", "clientId: 5e1a7e1c-0000-4000-8000-00000000e70b"]
        rc, st, _, body = curl(self.url("company/companies"), *bad)
        self.assertEqual(st, 401)
        self.assertEqual(json.loads(body)["code"], "Unauthorized")
        no_client = CW_AUTH[:2]
        self.assertEqual(curl(self.url("company/companies"), *no_client)[1], 401)

    def test_counts(self):
        for rel, n in [("company/companies", 5), ("finance/agreements", 8),
                       ("service/tickets", 150), ("company/configurations", 47),
                       ("company/contacts", 25)]:
            data, _ = jget(self.url(rel, pageSize=1000), *CW_AUTH)
            self.assertEqual(len(data), n, rel)
            cnt, _ = jget(self.url(rel + "/count"), *CW_AUTH)
            self.assertEqual(cnt["count"], n)
        companies, _ = jget(self.url("company/companies"), *CW_AUTH)
        sites = sum(len(jget(self.url("company/companies/%d/sites" % c["id"]), *CW_AUTH)[0])
                    for c in companies)
        self.assertEqual(sites, 7)

    def test_link_paging(self):
        url, ids, pages = self.url("service/tickets", pageSize=40), [], 0
        while url:
            data, headers = jget(url, *CW_AUTH)
            ids += [t["id"] for t in data]
            pages += 1
            url = next_link(headers)
        self.assertEqual(pages, 4)
        self.assertEqual(len(ids), 150)
        self.assertEqual(len(set(ids)), 150)
        _, headers = jget(self.url("service/tickets", pageSize=40, page=4), *CW_AUTH)
        self.assertIn('rel="first"', headers["link"])
        self.assertNotIn('rel="next"', headers["link"])

    def test_misbehaving_paging(self):
        # page-size-cap: fewer than asked, but the Link headers lead to every record
        self.s.control(scenario="page-size-cap", size=10)
        url, ids = self.url("service/tickets", pageSize=1000), []
        while url:
            data, headers = jget(url, *CW_AUTH)
            self.assertLessEqual(len(data), 10)
            ids += [t["id"] for t in data]
            url = next_link(headers)
        self.assertEqual(len(set(ids)), 150)
        # ignore-paging: page 2 is page 1
        self.s.control(scenario="ignore-paging")
        p1, _ = jget(self.url("service/tickets", pageSize=10, page=1), *CW_AUTH)
        p2, h2 = jget(self.url("service/tickets", pageSize=10, page=2), *CW_AUTH)
        self.assertEqual(p1, p2)
        self.assertIn("page=3", next_link(h2))
        # endless: full pages past the end, always a next page
        self.s.control(scenario="endless")
        p99, h99 = jget(self.url("service/tickets", pageSize=10, page=99), *CW_AUTH)
        self.assertEqual(len(p99), 10)
        self.assertIn("page=100", next_link(h99))
        # record faults: bad-ids (1e30), unknown-company (company 999), nul-escape
        self.s.control(scenario="bad-ids")
        rc, st, _, body = curl(self.url("service/tickets", pageSize=2), *CW_AUTH)
        self.assertIn(b'"id": 1e+30', body)
        self.s.control(scenario="unknown-company")
        data, _ = jget(self.url("company/configurations", pageSize=1000), *CW_AUTH)
        self.assertEqual(sum(1 for r in data if r["company"]["id"] == 999), 3)
        self.s.control(scenario="nul-escape")
        rc, st, _, body = curl(self.url("service/tickets", pageSize=1), *CW_AUTH)
        self.assertIn(b"\\u0000 (after NUL)", body)
        self.s.control(scenario="deep-json", size=300)
        rc, st, _, body = curl(self.url("service/tickets", pageSize=1), *CW_AUTH)
        self.assertIn(b"[" * 300 + b"]" * 300, body)
        json.loads(body)

    def test_forward_only(self):
        url, ids = self.url("service/tickets", pageSize=60), []
        while url:
            data, headers = jget(url, *CW_AUTH, "-H", "pagination-type: forward-only")
            ids += [t["id"] for t in data]
            url = next_link(headers)
        self.assertEqual(sorted(ids), sorted(set(ids)))
        self.assertEqual(len(ids), 150)

    def test_conditions(self):
        tickets, _ = jget(self.url("service/tickets", pageSize=1000), *CW_AUTH)
        stamps = sorted(t["_info"]["lastUpdated"] for t in tickets)
        cut = stamps[100]           # ISO strings in Z form sort like times
        expect = sum(1 for s in stamps if s > cut)
        q = {"conditions": "lastUpdated>[%s]" % cut, "pageSize": 1000}
        data, _ = jget(self.url("service/tickets", **q), *CW_AUTH)
        self.assertEqual(len(data), expect)
        self.assertTrue(all(t["_info"]["lastUpdated"] > cut for t in data))
        data, _ = jget(self.url("service/tickets", conditions='company/identifier="ContosoDental"',
                                pageSize=1000), *CW_AUTH)
        self.assertEqual(len(data), 40)
        rc, st, _, body = curl(self.url("service/tickets", conditions="summary >>> 3"), *CW_AUTH)
        self.assertEqual(st, 400)

    def test_fields_and_realistic_values(self):
        cfgs, _ = jget(self.url("company/configurations", pageSize=1000), *CW_AUTH)
        names = {c["name"] for c in cfgs}
        self.assertIn("WS-ACCT-01", names)
        for key in ("serialNumber", "modelNumber", "manufacturer", "purchaseDate",
                    "warrantyExpirationDate", "osType", "type", "deviceIdentifier", "lastLoginName"):
            self.assertIn(key, cfgs[0])
        t, _ = jget(self.url("service/tickets/48001"), *CW_AUTH)
        for key in ("summary", "board", "status", "priority", "closedDate", "isInSla",
                    "respondMinutes", "resPlanMinutes", "resolveMinutes", "_info"):
            self.assertIn(key, t)
        self.assertIn("dateEntered", t["_info"])
        few, _ = jget(self.url("company/configurations", fields="id,name", pageSize=2), *CW_AUTH)
        self.assertEqual(set(few[0]), {"id", "name"})

    def test_429_then_ok(self):
        self.s.control(scenario="429", times=2, retry_after=1)
        for _ in range(2):
            rc, st, h, body = curl(self.url("company/companies"), *CW_AUTH)
            self.assertEqual(st, 429)
            self.assertEqual(h["retry-after"], "1")
        self.assertEqual(curl(self.url("company/companies"), *CW_AUTH)[1], 200)

    def test_faults(self):
        u = self.url("service/tickets", pageSize=100)
        self.s.control(scenario="500", times=1)
        self.assertEqual(curl(u, *CW_AUTH)[1], 500)
        self.s.control(scenario="503", times=1)
        self.assertEqual(curl(u, *CW_AUTH)[1], 503)
        self.s.control(scenario="drop", times=1)
        self.assertEqual(curl(u, *CW_AUTH)[0], 18)          # partial file
        self.s.control(scenario="close", times=1)
        self.assertEqual(curl(u, *CW_AUTH)[0], 52)          # empty reply
        self.s.control(scenario="malformed", times=1)
        rc, st, _, body = curl(u, *CW_AUTH)
        self.assertEqual(st, 200)
        self.assertRaises(ValueError, json.loads, body)
        self.s.control(scenario="huge", times=1, size=20 << 20)
        rc = curl(u, *CW_AUTH, "--max-filesize", "1000000")[0]
        self.assertEqual(rc, 63)                            # maximum file size exceeded
        self.s.control(scenario="hang", times=1, delay=5)
        t0 = time.time()
        self.assertEqual(curl(u, *CW_AUTH, "--max-time", "1")[0], 28)
        self.assertLess(time.time() - t0, 3)
        self.s.control(scenario="missing-fields", times=1)
        data, _ = jget(u, *CW_AUTH)
        self.assertTrue(all("id" not in t for t in data))
        self.s.control(scenario="wrong-types", times=1)
        data, _ = jget(u, *CW_AUTH)
        self.assertIsInstance(data[0]["id"], str)
        self.assertIsInstance(data[0]["_info"]["lastUpdated"], int)
        counts, _ = jget(self.s.base + "/__requests")
        self.assertGreater(counts["total"], 5)


class BoundsTest(unittest.TestCase):
    def test_max_requests(self):
        s = Server("cw_mock.py", "--max-requests", "2")
        for _ in range(2):
            curl(s.base + CW_API + "/system/info", *CW_AUTH)
        self.assertEqual(s.proc.wait(10), 0)
        s.stop()

    def test_sigterm_during_hang(self):
        s = Server("cw_mock.py", "--scenario", "hang")
        p = subprocess.Popen(["curl", "-s", "--noproxy", "*", s.base + CW_API + "/system/info"]
                             + CW_AUTH, stdout=subprocess.DEVNULL)
        time.sleep(0.5)
        t0 = time.time()
        self.assertEqual(s.stop(), 0)
        self.assertLess(time.time() - t0, 3)
        p.wait(10)

    def test_benchmark_50k(self):
        t0 = time.time()
        s = Server("cw_mock.py", "--tickets", "50000")
        started = time.time() - t0
        try:
            url, n, pages = s.base + CW_API + "/service/tickets?pageSize=1000", 0, 0
            t1 = time.time()
            while url:
                rc, st, headers, body = curl(url, *CW_AUTH)
                self.assertEqual(st, 200)
                n += body.count(b'"recordType":"ServiceTicket"')
                pages += 1
                url = next_link(headers)
            served = time.time() - t1
        finally:
            s.stop()
        self.assertEqual(n, 50000)
        self.assertEqual(pages, 50)
        sys.stderr.write("\n  50k tickets: startup %.1fs, 50 pages served in %.2fs "
                         "(incl. 50 curl processes) ... " % (started, served))
        self.assertLess(served, 20)


class ImmyTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.s = Server("immy_mock.py")
        cls.cw = Server("cw_mock.py")

    @classmethod
    def tearDownClass(cls):
        assert cls.s.stop() == 0
        assert cls.cw.stop() == 0

    def token(self, secret="mock-immy-secret", scope="https://etopdemo.immy.bot/.default"):
        return curl(self.s.base + "/3c9e1f7a-2b4d-4e6f-8a1c-5d7e9f0a1b2c/oauth2/v2.0/token",
                    "--data-urlencode", "grant_type=client_credentials",
                    "--data-urlencode", "client_id=0b7a6c5d-4e3f-4a1b-9c8d-7e6f5a4b3c2d",
                    "--data-urlencode", "client_secret=" + secret,
                    "--data-urlencode", "scope=" + scope)

    def auth(self):
        rc, st, _, body = self.token()
        self.assertEqual(st, 200)
        return ["-H", "Authorization: Bearer " + json.loads(body)["access_token"]]

    def test_token_errors(self):
        rc, st, _, body = self.token(secret="nope")
        self.assertEqual(st, 401)
        self.assertEqual(json.loads(body)["error"], "invalid_client")
        self.assertEqual(curl(self.s.base + "/api/v1/computers")[1], 401)

    def test_computers_correlate_with_connectwise(self):
        a = self.auth()
        page, _ = jget(self.s.base + "/api/v1/computers/paged?skip=0&take=1000", *a)
        self.assertEqual(page["count"], 47)
        self.assertEqual(len(page["results"]), 47)
        short, _ = jget(self.s.base + "/api/v1/computers", *a)
        self.assertEqual(len(short), 25)                      # real API default pageSize
        allp, n = [], 0
        while True:
            p, _ = jget(self.s.base + "/api/v1/computers/paged?skip=%d&take=20" % n, *a)
            allp += p["results"]
            n += 20
            if n >= p["count"]:
                break
        self.assertEqual(len(allp), 47)
        cfgs, _ = jget(self.cw.base + CW_API + "/company/configurations?pageSize=1000", *CW_AUTH)
        self.assertEqual({c["serialNumber"] for c in cfgs}, {c["serialNumber"] for c in allp})

    def test_v1_token_endpoint(self):
        rc, st, _, body = curl(self.s.base + "/etopmsp.onmicrosoft.com/oauth2/token",
                               "--data-urlencode", "grant_type=client_credentials",
                               "--data-urlencode", "client_id=0b7a6c5d-4e3f-4a1b-9c8d-7e6f5a4b3c2d",
                               "--data-urlencode", "client_secret=mock-immy-secret",
                               "--data-urlencode", "resource=https://etopdemo.immy.bot")
        self.assertEqual(st, 200, body)
        tok = json.loads(body)["access_token"]
        self.assertEqual(curl(self.s.base + "/api/v1/tenants", "-H", "Authorization: Bearer " + tok)[1], 200)

    def test_baselines_and_drift(self):
        a = self.auth()
        base, _ = jget(self.s.base + "/api/v1/target-assignments", *a)
        self.assertEqual(len(base), 3)
        comps, _ = jget(self.s.base + "/api/v1/computers/paged?take=1000", *a)
        ids = [c["id"] for c in comps["results"]]
        # the published request body needs maintenanceIdentifier: 400 without it
        self.assertEqual(curl(self.s.base + "/api/v1/maintenance-actions/latest-action-for-computers",
                              *a, "-H", "Content-Type: application/json",
                              "--data", json.dumps({"computerIds": ids}))[1], 400)
        acts = []
        for b in base:
            acts += jget(self.s.base + "/api/v1/maintenance-actions/latest-action-for-computers",
                         *a, "-H", "Content-Type: application/json",
                         "--data", json.dumps({"computerIds": ids, "maintenanceIdentifier": b["maintenanceIdentifier"],
                                               "maintenanceType": b["maintenanceType"]}))[0]
        self.assertEqual(len(acts), 12)
        self.assertTrue(all("maintenanceDisplayName" not in b for b in base))
        self.assertEqual({b["maintenanceType"] for b in base}, {0, 6})
        self.assertEqual({x["resultName"] for x in acts}, {"Success", "Failed", "Pending"})
        self.assertTrue({x["assignmentId"] for x in acts} <= {b["id"] for b in base})
        newest = max(time.mktime(time.strptime(x["createdDateUTC"], "%Y-%m-%dT%H:%M:%SZ")) for x in acts)
        self.assertLess(time.time() - time.timezone - newest, 86400)
        per_tenant = 0
        tenants, _ = jget(self.s.base + "/api/v1/tenants", *a)
        for t in tenants:
            per_tenant += len(jget(self.s.base + "/api/v1/maintenance-actions/latest-for-tenant/%d"
                                   % t["id"], *a)[0])
        self.assertEqual(per_tenant, 12)
        # tenants are paged (page / pageSize)
        pages = [jget(self.s.base + "/api/v1/tenants?page=%d&pageSize=4" % p, *a)[0] for p in (1, 2, 3)]
        self.assertEqual([len(p) for p in pages], [4, 2, 0])


class GraphTest(unittest.TestCase):
    TENANT = "8f4d2c1a-5b6e-4f70-9a81-2c3d4e5f6a7b"

    @classmethod
    def setUpClass(cls):
        cls.s = Server("graph_mock.py")

    @classmethod
    def tearDownClass(cls):
        assert cls.s.stop() == 0

    def token(self, server=None, scope="https://graph.microsoft.com/.default"):
        s = server or self.s
        return curl(s.base + "/%s/oauth2/v2.0/token" % self.TENANT,
                    "--data-urlencode", "grant_type=client_credentials",
                    "--data-urlencode", "client_id=11111111-2222-4333-8444-555555555555",
                    "--data-urlencode", "client_secret=mock-graph-secret",
                    "--data-urlencode", "scope=" + scope)

    def auth(self, server=None):
        rc, st, _, body = self.token(server)
        self.assertEqual(st, 200, body)
        return ["-H", "Authorization: Bearer " + json.loads(body)["access_token"]]

    def collect(self, url, a):
        out, pages = [], 0
        while url:
            d, _ = jget(url, *a)
            out += d["value"]
            pages += 1
            url = d.get("@odata.nextLink")
        return out, pages

    def test_scope(self):
        rc, st, _, body = self.token(scope="https://example.com/.default")
        self.assertEqual(st, 400)
        self.assertEqual(json.loads(body)["error"], "invalid_scope")

    def test_users(self):
        a = self.auth()
        sel = "id,displayName,userPrincipalName,mail,accountEnabled,userType,signInActivity"
        users, pages = self.collect(self.s.base + "/v1.0/users?$select=" + sel, a)
        self.assertEqual(len(users), 73)
        self.assertGreater(pages, 1)
        self.assertEqual(len({u["id"] for u in users}), 73)
        self.assertTrue(all("@" in u["userPrincipalName"] and "@" in u["mail"] for u in users))
        self.assertTrue(all(isinstance(u["accountEnabled"], bool) for u in users))
        self.assertIn("lastSignInDateTime", next(u for u in users if u["signInActivity"])["signInActivity"])
        d, _ = jget(self.s.base + "/v1.0/users?$top=5", *a)
        self.assertNotIn("accountEnabled", d["value"][0])     # not a default property
        mfa, _ = self.collect(self.s.base + "/v1.0/reports/authenticationMethods/userRegistrationDetails", a)
        self.assertEqual(len(mfa), 73)
        self.assertTrue(all(isinstance(m["isMfaRegistered"], bool) for m in mfa))
        risky, _ = self.collect(self.s.base + "/v1.0/identityProtection/riskyUsers", a)
        self.assertTrue({r["riskLevel"] for r in risky} <= {"none", "low", "medium", "high"})

    def test_security(self):
        a = self.auth()
        profiles, _ = self.collect(self.s.base + "/v1.0/security/secureScoreControlProfiles", a)
        self.assertEqual(len(profiles), 28)
        self.assertIn("MFA Enforcement", {p["title"] for p in profiles})
        scores, _ = jget(self.s.base + "/v1.0/security/secureScores?$top=1", *a)
        self.assertEqual(len(scores["value"]), 1)
        self.assertEqual(len(scores["value"][0]["controlScores"]), 28)
        alerts, _ = self.collect(self.s.base + "/v1.0/security/alerts_v2", a)
        self.assertEqual(len(alerts), 5)
        self.assertTrue(all(a_["serviceSource"] == "microsoftDefenderForEndpoint" for a_ in alerts))

    def test_token_expiry_and_shutdown(self):
        s = Server("graph_mock.py", "--token-ttl", "1")
        try:
            a = self.auth(s)
            self.assertEqual(curl(s.base + "/v1.0/users", *a)[1], 200)
            time.sleep(1.2)
            rc, st, _, body = curl(s.base + "/v1.0/users", *a)
            self.assertEqual(st, 401)
            self.assertEqual(json.loads(body)["error"]["code"], "InvalidAuthenticationToken")
            self.assertEqual(curl(s.base + "/__shutdown", "-X", "POST")[1], 200)
            self.assertEqual(s.proc.wait(10), 0)
        finally:
            s.stop()

    def test_insufficient_roles(self):
        s = Server("graph_mock.py", "--roles", "User.Read.All")
        try:
            a = self.auth(s)
            self.assertEqual(curl(s.base + "/v1.0/users", *a)[1], 200)
            rc, st, _, body = curl(s.base + "/v1.0/security/alerts_v2", *a)
            self.assertEqual(st, 403)
            self.assertEqual(json.loads(body)["error"]["code"], "Authorization_RequestDenied")
        finally:
            s.stop()

    def test_entra_licence(self):
        lic = "Authentication_RequestFromNonPremiumTenantOrB2CTenant"
        for licence, refused in (("P1", ["identityProtection/riskyUsers"]),
                                 ("none", ["identityProtection/riskyUsers",
                                           "reports/authenticationMethods/userRegistrationDetails",
                                           "users?$select=id,signInActivity"])):
            s = Server("graph_mock.py", "--entra-licence", licence)
            try:
                a = self.auth(s)
                for path in refused:
                    rc, st, _, body = curl(s.base + "/v1.0/" + path, *a)
                    self.assertEqual((st, json.loads(body)["error"]["code"]), (403, lic), path)
                self.assertEqual(curl(s.base + "/v1.0/users?$select=id,accountEnabled", *a)[1], 200)
                self.assertEqual(curl(s.base + "/v1.0/security/alerts_v2", *a)[1], 200)
            finally:
                s.stop()

    def test_scenarios(self):
        a = self.auth()
        self.s.control(scenario="403", path="/v1.0/security")
        self.assertEqual(curl(self.s.base + "/v1.0/security/alerts_v2", *a)[1], 403)
        self.assertEqual(curl(self.s.base + "/v1.0/users", *a)[1], 200)
        self.s.control(scenario="429", times=1, retry_after=7)
        rc, st, h, body = curl(self.s.base + "/v1.0/users", *a)
        self.assertEqual((st, h.get("retry-after")), (429, "7"))
        self.assertEqual(json.loads(body)["error"]["code"], "TooManyRequests")
        self.s.control(clear=True)
        self.assertEqual(curl(self.s.base + "/v1.0/users")[1], 401)


PROMPT = """You are an Account Manager writing a quarterly business review for Contoso Dental Group.

STRICT RULES:
1. Only use facts from the PROVIDED DATA below.
2. Every claim must cite evidence: [Ticket #12345], [Device: WS-ACCT-01], [Policy: MFA Enforcement].

PROVIDED DATA:
%s

Write a 3-paragraph executive summary."""

DATA = {"client": {"id": 1, "name": "Contoso Dental Group"},
        "scores": {"standards": {"score": 83}, "risk": {"score": 15}, "experience": {"score": 78}},
        "recent_tickets": [{"id": 48001, "summary": "Printer offline"}, {"id": 48017}],
        "top_risks": [{"title": "Unpatched Exchange Server"}],
        "lifecycle_items": [{"name": "LT-DR-02"}, {"name": "WS-HYG-01"}],
        "controls": [{"title": "MFA Enforcement", "status": "fail"}]}


class OpenAITest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.log = tempfile.mktemp(prefix="etop-llm-", suffix=".jsonl")
        cls.s = Server("openai_mock.py", "--log", cls.log, "--api-key", "sk-test-123")

    @classmethod
    def tearDownClass(cls):
        assert cls.s.stop() == 0
        os.unlink(cls.log)

    def setUp(self):
        self.s.control(clear=True)

    def ask(self, *extra):
        body = {"model": "gpt-4o", "response_format": {"type": "json_object"},
                "messages": [{"role": "system", "content": "You write QBRs."},
                             {"role": "user", "content": PROMPT % json.dumps(DATA, indent=2)}]}
        return curl(self.s.base + "/v1/chat/completions", "-H", "Authorization: Bearer sk-test-123",
                    "-H", "Content-Type: application/json", "--data", json.dumps(body), *extra)

    def content(self):
        rc, st, h, body = self.ask()
        self.assertEqual(st, 200, body)
        d = json.loads(body)
        self.assertGreater(d["usage"]["total_tokens"], 0)
        return d["choices"][0]["message"]["content"]

    def test_good_citations_are_valid(self):
        n = json.loads(self.content())
        allowed = {"[Ticket #48001]", "[Ticket #48017]", "[Risk: Unpatched Exchange Server]",
                   "[Device: LT-DR-02]", "[Device: WS-HYG-01]", "[Policy: MFA Enforcement]"}
        self.assertTrue(3 <= len(n["recommendations"]) <= 7)
        self.assertTrue(3 <= len(n["discussion_points"]) <= 5)
        self.assertEqual(len(n["executive_summary"].split("\n\n")), 3)
        for r in n["recommendations"]:
            self.assertTrue(r["evidence"])
            self.assertTrue(set(r["evidence"]) <= allowed, r["evidence"])
            for k in ("title", "description", "priority", "effort", "cost_range"):
                self.assertIn(k, r)
        self.assertNotIn("WS-ACCT-01", json.dumps(n))   # the rules' example, not data
        with open(self.log) as f:
            lines = [json.loads(x) for x in f]
        self.assertIn("PROVIDED DATA", lines[-1]["body"]["messages"][1]["content"])
        with open(self.log) as f:
            self.assertNotIn("sk-test-123", f.read())

    def test_hallucination_and_invalid_json(self):
        self.s.control(scenario="hallucinate", times=1)
        self.assertIn("[Device: FW-MAIN-99]", self.content())
        self.s.control(scenario="invalid-json", times=1)
        self.assertRaises(ValueError, json.loads, self.content())

    def test_canned_and_fenced(self):
        self.s.control(scenario="canned", times=1, content={"executive_summary": "x"})
        self.assertEqual(json.loads(self.content()), {"executive_summary": "x"})
        self.s.control(scenario="missing-fields", times=1)
        self.assertNotIn("recommendations", json.loads(self.content()))
        self.s.control(scenario="wrong-types", times=1)
        self.assertIsInstance(json.loads(self.content())["recommendations"], str)
        self.s.control(scenario="fenced", times=1)
        c = self.content()
        self.assertTrue(c.startswith("```json\n") and c.endswith("\n```"))
        self.assertIn("recommendations", json.loads(c[8:-4]))

    def test_errors(self):
        self.assertEqual(curl(self.s.base + "/v1/chat/completions", "--data", "{}")[1], 401)
        self.s.control(scenario="429", times=1, retry_after=2)
        rc, st, h, body = self.ask()
        self.assertEqual((st, h.get("retry-after")), (429, "2"))
        self.assertEqual(json.loads(body)["error"]["code"], "rate_limit_exceeded")
        self.s.control(scenario="500", times=1)
        self.assertEqual(self.ask()[1], 500)
        self.s.control(scenario="slow", times=1, delay=3)
        t0 = time.time()
        self.assertEqual(self.ask("--max-time", "1")[0], 28)
        self.assertLess(time.time() - t0, 2.5)


if __name__ == "__main__":
    unittest.main(verbosity=2)
