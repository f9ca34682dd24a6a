#!/usr/bin/env python3
"""
cw_mock.py -- a mock ConnectWise Manage (PSA) REST API, v4_6_release/apis/3.0.

  python3 tests/mock/cw_mock.py --port 0 --port-file /tmp/cw.port [--tickets 50000]

Speaks the real API's shapes: Basic auth "companyId+publicKey:privateKey" plus
the clientId header (anything else -> 401), page/pageSize paging (pageSize
capped at 1000) with a Link header (rel next/last/first/prev), forward-only
paging (header "pagination-type: forward-only" + pageId), /count endpoints,
conditions= filtering (e.g. lastUpdated>[2025-01-01T00:00:00Z]), orderBy and
fields.  See tests/mock/README.md.
"""

import re
import sys
import threading
import time
import urllib.parse

import mocklib
from datasets import World
from mocklib import Collection, MockHandler, basic_auth, break_record, parse_iso

API = "/v4_6_release/apis/3.0"


class ConditionError(ValueError):
    pass


_COND_RE = re.compile(
    r"""\s*(?P<field>[A-Za-z_][\w/]*)\s*
        (?P<op>>=|<=|!=|<>|=|>|<|\s+not\s+like\s+|\s+like\s+|\s+contains\s+|\s+not\s+in\s+|\s+in\s+)\s*
        (?P<value>\[[^\]]*\]|"[^"]*"|'[^']*'|\([^)]*\)|[^\s()]+)\s*""",
    re.IGNORECASE | re.VERBOSE)

ALIASES = {"lastUpdated": "_info/lastUpdated", "dateEntered": "_info/dateEntered",
           "updatedBy": "_info/updatedBy", "enteredBy": "_info/enteredBy"}


def _split_top(expr, word):
    """Split on ' and ' / ' or ' outside quotes, brackets and parentheses."""
    parts, depth, quote, start, i = [], 0, None, 0, 0
    w = " %s " % word
    low = expr.lower()
    while i < len(expr):
        ch = expr[i]
        if quote:
            if ch == quote:
                quote = None
        elif ch in "\"'":
            quote = ch
        elif ch in "[(":
            depth += 1
        elif ch in "])":
            depth -= 1
        elif depth == 0 and low.startswith(w, i):
            parts.append(expr[start:i])
            i += len(w)
            start = i
            continue
        i += 1
    parts.append(expr[start:])
    return parts


def _literal(v):
    v = v.strip()
    if v.startswith("[") and v.endswith("]"):
        try:
            return ("date", parse_iso(v[1:-1]))
        except Exception:
            raise ConditionError("Invalid date %s in conditions" % v)
    if (v[:1] == v[-1:] == '"') or (v[:1] == v[-1:] == "'"):
        return ("str", v[1:-1])
    if v.lower() in ("true", "false"):
        return ("bool", v.lower() == "true")
    if v.lower() == "null":
        return ("null", None)
    try:
        return ("num", float(v))
    except ValueError:
        raise ConditionError("Unexpected value %s in conditions" % v)


def _get(rec, path):
    cur = rec
    for part in path.split("/"):
        if isinstance(cur, dict) and part in cur:
            cur = cur[part]
        elif isinstance(cur, dict):
            lk = {k.lower(): k for k in cur}
            if part.lower() in lk:
                cur = cur[lk[part.lower()]]
            else:
                return None
        else:
            return None
    return cur


def _cmp_value(actual, kind):
    if actual is None:
        return None
    if kind == "date":
        try:
            return parse_iso(actual) if isinstance(actual, str) else float(actual)
        except Exception:
            return None
    if kind == "num":
        try:
            return float(actual)
        except (TypeError, ValueError):
            return None
    if kind == "bool":
        return bool(actual)
    return str(actual).lower()


def compile_conditions(expr):
    """conditions string -> predicate(record)."""
    expr = (expr or "").strip()
    if not expr:
        return lambda rec: True
    ors = []
    for or_part in _split_top(expr, "or"):
        ands = []
        for clause in _split_top(or_part, "and"):
            clause = clause.strip()
            while clause.startswith("(") and clause.endswith(")"):
                clause = clause[1:-1].strip()
            m = _COND_RE.fullmatch(clause)
            if not m:
                raise ConditionError("Cannot parse condition: %s" % clause)
            field = ALIASES.get(m.group("field"), m.group("field"))
            op = " ".join(m.group("op").lower().split())
            raw = m.group("value")
            if op in ("in", "not in"):
                items = [_literal(x) for x in raw.strip("()").split(",") if x.strip()]
                ands.append((field, op, items))
            else:
                ands.append((field, op, _literal(raw)))
        ors.append(ands)

    def clause_ok(rec, field, op, lit):
        actual = _get(rec, field)
        if op in ("in", "not in"):
            vals = [(_cmp_value(actual, k), (v.lower() if isinstance(v, str) else v)) for k, v in lit]
            hit = any(a == b for a, b in vals)
            return hit if op == "in" else not hit
        kind, want = lit
        if kind == "null":
            return (actual is None) == (op in ("=",)) if op in ("=", "!=", "<>") else False
        got = _cmp_value(actual, kind)
        if kind == "str":
            want = want.lower()
        if op in ("like", "not like"):
            pat = "^" + re.escape(want).replace(r"\*", ".*").replace("%", ".*") + "$"
            hit = got is not None and re.match(pat, got) is not None
            return hit if op == "like" else not hit
        if op == "contains":
            return got is not None and want in got
        if got is None:
            return op in ("!=", "<>")
        if op == "=":
            return got == want
        if op in ("!=", "<>"):
            return got != want
        try:
            return {">": got > want, ">=": got >= want, "<": got < want, "<=": got <= want}[op]
        except TypeError:
            return False

    return lambda rec: any(all(clause_ok(rec, f, o, l) for f, o, l in ands) for ands in ors)


class CWData:
    def __init__(self, world):
        self.world = world
        self.collections = {
            "company/companies": Collection(world.cw_companies()),
            "company/contacts": Collection(world.cw_contacts),
            "finance/agreements": Collection(world.cw_agreements),
            "service/tickets": Collection(world.cw_tickets()),
            "company/configurations": Collection(world.cw_configurations),
            "_sites": Collection(world.cw_sites),
        }
        self.filter_cache = {}
        self.page_cache = {}
        self.lock = threading.Lock()
        # Pre-render the pages a full sync asks for (pageSize=1000, no
        # conditions), so the 50,000-ticket benchmark measures the client.
        for name, coll in self.collections.items():
            if name != "_sites":
                idx = self.select(name, None, None)
                for start in range(0, len(idx), 1000):
                    self.page_cache[(name, "", "", None, start, 1000)] = \
                        coll.page_bytes(idx[start:start + 1000])

    def page(self, name, conditions, order_by, extra, idx, start, size):
        """Rendered JSON of idx[start:start+size] (cached)."""
        key = (name, conditions or "", order_by or "", extra, start, size)
        with self.lock:
            hit = self.page_cache.get(key)
        if hit is not None:
            return hit
        body = self.collections[name].page_bytes(idx[start:start + size])
        with self.lock:
            if len(self.page_cache) > 4096:
                self.page_cache.clear()
            self.page_cache[key] = body
        return body

    def select(self, name, conditions, order_by, extra=None):
        """Indexes of the matching records, ordered (cached)."""
        key = (name, conditions or "", order_by or "", extra)
        with self.lock:
            hit = self.filter_cache.get(key)
        if hit is not None:
            return hit
        coll = self.collections[name]
        pred = compile_conditions(conditions)
        idx = [i for i, r in enumerate(coll.records)
               if pred(r) and (extra is None or r["company"]["id"] == extra)]
        field, desc = "id", False
        if order_by:
            parts = order_by.strip().split()
            field = ALIASES.get(parts[0], parts[0])
            desc = len(parts) > 1 and parts[1].lower() == "desc"
        if field != "id" or desc:
            def sort_key(i):
                v = _get(coll.records[i], field)
                return (v is None, v if v is not None else "")
            try:
                idx.sort(key=sort_key, reverse=desc)
            except TypeError:
                pass
        with self.lock:
            if len(self.filter_cache) > 256:
                self.filter_cache.clear()
            self.filter_cache[key] = idx
        return idx


class CWHandler(MockHandler):
    vendor = "connectwise"
    data = None

    def vendor_error(self, status, message=None):
        codes = {400: "BadRequest", 401: "Unauthorized", 403: "Forbidden", 404: "NotFound",
                 429: "TooManyRequests", 500: "UnexpectedServerError",
                 502: "BadGateway", 503: "ServiceUnavailable", 504: "GatewayTimeout"}
        default = {401: "Authentication failed: invalid API member credentials or clientId.",
                   403: "You do not have permission to access this resource.",
                   429: "Too many requests. Please slow down.",
                   500: "An unexpected error has occurred.",
                   503: "The service is temporarily unavailable."}
        return (mocklib.json.dumps({"code": codes.get(status, "Error"),
                                    "message": message or default.get(status, "Request failed."),
                                    "errors": None}).encode(), {})

    def fault_payload(self):
        coll = self.data.collections["service/tickets"]
        return coll.page_bytes(range(min(200, len(coll))))

    def authorized(self):
        a = self.state.args
        creds = basic_auth(self.headers)
        want_user = "%s+%s" % (a.company_id, a.public_key)
        return (creds is not None and creds[0].lower() == want_user.lower()
                and creds[1] == a.private_key
                and (self.headers.get("clientId") or "") == a.client_id)

    def route(self, method, path, query):
        if path.startswith("/login/companyinfo/"):
            return self.send_json(200, {
                "CompanyName": "ETop Demo MSP", "Codebase": "v4_6_release/",
                "VersionCode": "v2024.1", "VersionNumber": "v4.6.88787",
                "CompanyID": path.rsplit("/", 1)[-1], "IsCloud": True,
                "SiteUrl": self.headers.get("Host") or ""})
        if not path.startswith(API + "/"):
            return self.send_error_status(404, "No resource matches %s" % path)
        if not self.authorized():
            return self.send_error_status(401)
        if method != "GET":
            return self.send_error_status(405 if method in ("DELETE",) else 403,
                                          "The mock is read-only.")
        rel = path[len(API) + 1:].rstrip("/")
        q = {k.lower(): v[-1] for k, v in query.items()}
        if rel == "system/info":
            return self.send_json(200, {"version": "v2024.1.88787", "isCloud": True,
                                        "serverTimeZone": "Eastern Standard Time",
                                        "cloudRegion": "NA"})
        count = rel.endswith("/count")
        if count:
            rel = rel[: -len("/count")]
        extra = None
        m = re.fullmatch(r"company/companies/(\d+)/sites", rel)
        name = rel
        if m:
            name, extra = "_sites", int(m.group(1))
            if not any(c["id"] == extra for c in self.data.collections["company/companies"].records):
                return self.send_error_status(404, "Company recId %s not found" % extra)
        m = re.fullmatch(r"([a-z]+/[a-zA-Z]+)/(\d+)", rel)
        if m and not count and m.group(1) in self.data.collections:
            coll = self.data.collections[m.group(1)]
            rid = int(m.group(2))
            for r, b in zip(coll.records, coll.rendered):
                if r["id"] == rid:
                    return self.send_bytes(200, b)
            return self.send_error_status(404, "%s recId %d not found" % (m.group(1), rid))
        if name not in self.data.collections:
            return self.send_error_status(404, "No resource matches %s" % path)
        try:
            idx = self.data.select(name, q.get("conditions"), q.get("orderby"), extra)
        except ConditionError as e:
            return self.send_bytes(400, mocklib.json.dumps(
                {"code": "InvalidObject", "message": str(e), "errors": None}).encode())
        if count:
            return self.send_json(200, {"count": len(idx)})
        try:
            page_size = int(q.get("pagesize") or 25)
            page = int(q.get("page") or 1)
            page_id = int(q["pageid"]) if "pageid" in q else None
        except ValueError:
            return self.send_error_status(400, "page, pageSize and pageId must be integers")
        page_size = max(1, min(page_size, 1000))
        page = max(1, page)
        rname = self.rule.name if self.rule is not None else None
        if rname == "page-size-cap":
            # the server returns fewer records per page than asked (size, default
            # 10); its Link headers say where the next page is
            page_size = min(page_size, self.rule.size or 10)
        if rname == "endless":
            return self.send_endless(name, idx, page, page_size)
        coll = self.data.collections[name]
        headers = {}
        forward = (self.headers.get("pagination-type") or "").lower() == "forward-only" \
            or page_id is not None
        if forward:
            start = 0
            if page_id:
                # records are in id order for forward-only paging
                lo, hi = 0, len(idx)
                while lo < hi:
                    mid = (lo + hi) // 2
                    if coll.records[idx[mid]]["id"] <= page_id:
                        lo = mid + 1
                    else:
                        hi = mid
                start = lo
            if rname == "ignore-paging":
                start = 0
            sel = idx[start:start + page_size]
            if start + page_size < len(idx) and sel:
                headers["Link"] = '<%s>; rel="next"' % self.page_url(
                    {"pageId": coll.records[sel[-1]]["id"], "pageSize": page_size}, drop=("page",))
            headers["pagination-type"] = "forward-only"
        else:
            start = (page - 1) * page_size
            sel = idx[start:start + page_size]
            if rname == "ignore-paging":
                # page is ignored: always the first page (Link headers as usual)
                start, sel = 0, idx[:page_size]
            last = max(1, (len(idx) + page_size - 1) // page_size)
            links = []
            if page < last:
                links.append('<%s>; rel="next"' % self.page_url({"page": page + 1, "pageSize": page_size}))
                links.append('<%s>; rel="last"' % self.page_url({"page": last, "pageSize": page_size}))
            if page > 1:
                links.append('<%s>; rel="first"' % self.page_url({"page": 1, "pageSize": page_size}))
                links.append('<%s>; rel="prev"' % self.page_url({"page": min(page - 1, last), "pageSize": page_size}))
            if links:
                headers["Link"] = ", ".join(links)
        fields = q.get("fields")
        fault = self.record_fault()
        if fields:
            wanted = [f.strip() for f in fields.split(",") if f.strip()]
            out = []
            for i in sel:
                r = coll.records[i]
                o = {}
                for f in wanted:
                    v = _get(r, ALIASES.get(f, f))
                    if v is not None:
                        top = f.split("/")[0]
                        o[top] = r.get(top) if "/" in f else v
                out.append(break_record(o, fault) if fault else o)
            body = mocklib.json.dumps(out).encode()
        elif fault or forward:
            body = coll.page_bytes(sel, fault, self)
        else:
            body = self.data.page(name, q.get("conditions"), q.get("orderby"), extra, idx,
                                  start, page_size)
        self.send_bytes(200, body, headers=headers)

    def send_endless(self, name, idx, page, page_size):
        """Scenario endless: every page is full and has a next page; records
        past the end are the collection again with ids + 1,000,000 per round."""
        coll = self.data.collections[name]
        recs = []
        for k in range((page - 1) * page_size, page * page_size):
            r = dict(coll.records[idx[k % len(idx)]]) if idx else {"id": 0}
            r["id"] = r["id"] + 1000000 * (k // max(1, len(idx)))
            recs.append(r)
        link = '<%s>; rel="next"' % self.page_url({"page": page + 1, "pageSize": page_size})
        self.send_bytes(200, mocklib.json.dumps(recs).encode(), headers={"Link": link})

    def page_url(self, replace, drop=()):
        items = [(k, v) for k, v in urllib.parse.parse_qsl(self.raw_query, keep_blank_values=True)
                 if k.lower() not in {x.lower() for x in replace} | {d.lower() for d in drop}]
        items += list(replace.items())
        return "%s%s?%s" % (self.base_url(), urllib.parse.urlsplit(self.path).path,
                            urllib.parse.urlencode(items, quote_via=urllib.parse.quote))


def main(argv=None):
    p = mocklib.common_args("Mock ConnectWise Manage REST API (127.0.0.1 only)")
    p.add_argument("--tickets", type=int, default=150, help="number of tickets (default 150)")
    p.add_argument("--seed", type=int, default=4242)
    p.add_argument("--now", help="anchor time, e.g. 2026-01-15T12:00:00Z (default: now)")
    p.add_argument("--company-id", default="etopdemo")
    p.add_argument("--public-key", default="etopPublicKey")
    p.add_argument("--private-key", default="etopPrivateKey")
    p.add_argument("--client-id", default="5e1a7e1c-0000-4000-8000-00000000e70b")
    args = p.parse_args(argv)
    t0 = time.time()
    anchor = parse_iso(args.now) if args.now else time.time()
    CWHandler.data = CWData(World(anchor, seed=args.seed, tickets=args.tickets))
    if args.verbose:
        sys.stderr.write("connectwise dataset built in %.2fs\n" % (time.time() - t0))
    return mocklib.serve(CWHandler, args, "connectwise")


if __name__ == "__main__":
    sys.exit(main())
