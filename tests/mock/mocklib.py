"""
mocklib.py -- the shared machinery of etop's mock vendor servers.

Every mock (cw_mock.py, immy_mock.py, graph_mock.py, openai_mock.py) is a
small subclass of MockHandler plus a dataset; this module gives them:

  * a threaded HTTP/1.1 server bound to 127.0.0.1 only (keep-alive, Nagle off);
  * bounds: --max-requests N and --max-seconds S, after which the server exits
    by itself, and a clean exit on SIGTERM / SIGINT;
  * --port 0 picks a free port; the port is printed as the first line of
    stdout and, with --port-file, written atomically to that file;
  * fault injection ("scenarios") chosen with --scenario on the command line
    or at run time with POST /__control, and request counters at
    GET /__requests (see tests/mock/README.md for the grammar);
  * an optional --log FILE of JSON lines, one per request, with secrets
    (Authorization, client_secret, api keys) redacted.

Standard library only.
"""

import argparse
import base64
import json
import os
import re
import signal
import socket
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

CONTROL_PREFIX = "/__"

# Scenario names understood by every server.  Vendor-specific names (for
# example the OpenAI mock's "hallucinate") are passed to the vendor handler.
GENERIC_FAULTS = {
    "hang", "slow", "stall", "drop", "close", "malformed", "not-array", "huge", "huge-stream",
    "deep-json",
}
RECORD_FAULTS = {"missing-fields", "wrong-types", "bad-ids", "nul-escape", "unknown-company"}


_DAYS = {}


def utc_iso(ts, millis=False):
    """Epoch seconds -> '2025-01-01T00:00:00Z' (vendor style).  Day strings
    are cached: the 50,000-ticket dataset formats a few hundred thousand."""
    whole = int(ts // 1)
    day, sec = divmod(whole, 86400)
    d = _DAYS.get(day)
    if d is None:
        d = _DAYS[day] = time.strftime("%Y-%m-%d", time.gmtime(day * 86400))
    h, rem = divmod(sec, 3600)
    mi, s = divmod(rem, 60)
    if millis:
        return "%sT%02d:%02d:%02d.%03dZ" % (d, h, mi, s, int((ts - whole) * 1000))
    return "%sT%02d:%02d:%02dZ" % (d, h, mi, s)


def parse_iso(s):
    """'2025-01-01T00:00:00Z' (or with fraction / +00:00) -> epoch seconds."""
    s = s.strip()
    if s.endswith("Z"):
        s = s[:-1]
    elif s.endswith("+00:00"):
        s = s[:-6]
    frac = 0.0
    if "." in s:
        s, f = s.split(".", 1)
        frac = float("0." + f) if f.isdigit() else 0.0
    if "T" not in s:
        s += "T00:00:00"
    import calendar
    return calendar.timegm(time.strptime(s, "%Y-%m-%dT%H:%M:%S")) + frac


class FaultRule:
    """One injected behaviour: name, how many more times (None = always),
    which paths it applies to, and its knobs."""

    def __init__(self, name, times=None, path=None, method=None,
                 retry_after=None, delay=None, size=None, status=None):
        self.name = str(name)
        self.times = None if times in (None, 0, -1) else int(times)
        self.path = path
        self.method = method.upper() if method else None
        self.retry_after = retry_after
        self.delay = delay
        self.size = size
        self.status = status
        if self.status is None and self.name.isdigit() and len(self.name) == 3:
            self.status = int(self.name)

    @classmethod
    def from_spec(cls, spec, defaults):
        """'429:3@/v1.0/users' -> FaultRule('429', times=3, path='/v1.0/users')."""
        path = None
        if "@" in spec:
            spec, path = spec.split("@", 1)
        times = None
        if ":" in spec:
            spec, t = spec.split(":", 1)
            times = int(t)
        return cls(spec, times=times, path=path, **defaults)

    @classmethod
    def from_json(cls, obj, defaults):
        kw = dict(defaults)
        for k in ("retry_after", "delay", "size", "status"):
            if k in obj:
                kw[k] = obj[k]
        return cls(obj.get("scenario") or obj.get("name") or "ok",
                   times=obj.get("times"), path=obj.get("path"),
                   method=obj.get("method"), **kw)

    def as_json(self):
        return {"scenario": self.name, "times": self.times, "path": self.path,
                "method": self.method, "retry_after": self.retry_after,
                "delay": self.delay, "size": self.size, "status": self.status}


class MockState:
    """Everything the handler threads share, behind one lock."""

    def __init__(self, args):
        self.args = args
        self.lock = threading.Lock()
        self.rules = []
        self.total = 0          # vendor requests (control endpoints not counted)
        self.by_path = {}
        self.by_status = {}
        self.recent = []
        self.stop = threading.Event()
        self.stop_reason = None
        self.started = time.time()
        self.log_file = open(args.log, "a", buffering=1) if args.log else None
        self.defaults = {"retry_after": args.retry_after, "delay": args.delay,
                         "size": args.size}
        for spec in args.scenario or []:
            if spec and spec != "ok":
                self.rules.append(FaultRule.from_spec(spec, self.defaults))

    def request_stop(self, reason):
        with self.lock:
            if self.stop_reason is None:
                self.stop_reason = reason
        self.stop.set()

    def take_rule(self, method, path, api_path):
        """The first active rule matching this request; consumes one use."""
        with self.lock:
            for r in self.rules:
                if r.times is not None and r.times <= 0:
                    continue
                if r.method and r.method != method:
                    continue
                if r.path is not None:
                    if not path.startswith(r.path):
                        continue
                elif not api_path:
                    continue        # rules without a path spare token endpoints
                if r.times is not None:
                    r.times -= 1
                return r
        return None

    def record(self, entry):
        with self.lock:
            self.total += 1
            self.by_path[entry["path"]] = self.by_path.get(entry["path"], 0) + 1
            st = str(entry["status"])
            self.by_status[st] = self.by_status.get(st, 0) + 1
            self.recent.append(entry)
            if len(self.recent) > 500:
                del self.recent[:100]
            n = self.total
            if self.log_file:
                self.log_file.write(json.dumps(entry, sort_keys=True) + "\n")
        if self.args.max_requests and n >= self.args.max_requests:
            self.request_stop("max-requests")

    def snapshot(self):
        with self.lock:
            return {"total": self.total, "by_path": dict(self.by_path),
                    "by_status": dict(self.by_status),
                    "recent": list(self.recent[-200:]),
                    "rules": [r.as_json() for r in self.rules],
                    "uptime_seconds": round(time.time() - self.started, 3)}


SENSITIVE_HEADER_WORDS = ("authorization", "key", "secret", "token", "cookie")
SENSITIVE_FORM_FIELDS = ("client_secret", "password", "assertion", "client_assertion",
                         "refresh_token", "code")


def redact_headers(headers):
    out = {}
    for k, v in headers.items():
        lk = k.lower()
        if any(w in lk for w in SENSITIVE_HEADER_WORDS):
            scheme = v.split(" ", 1)[0] if " " in v else ""
            out[k] = (scheme + " ***").strip()
        else:
            out[k] = v
    return out


class MockHandler(BaseHTTPRequestHandler):
    """Base request handler.  Subclasses implement route(method, path, query)
    and may override vendor_error() and transform_record()."""

    protocol_version = "HTTP/1.1"
    server_version = "etop-mock/1.0"
    sys_version = ""
    disable_nagle_algorithm = True
    state = None            # MockState, set by serve()
    vendor = "mock"

    # --- plumbing -------------------------------------------------------

    def log_message(self, fmt, *args):
        if self.state.args.verbose:
            sys.stderr.write("%s: %s\n" % (self.vendor, fmt % args))

    def do_GET(self):
        self._dispatch("GET")

    def do_POST(self):
        self._dispatch("POST")

    def do_PUT(self):
        self._dispatch("PUT")

    def do_PATCH(self):
        self._dispatch("PATCH")

    def do_DELETE(self):
        self._dispatch("DELETE")

    def read_body(self):
        n = int(self.headers.get("Content-Length") or 0)
        if n > 64 * 1024 * 1024:
            raise ValueError("request body too large")
        return self.rfile.read(n) if n > 0 else b""

    def base_url(self):
        return "http://%s" % (self.headers.get("Host") or
                              "127.0.0.1:%d" % self.server.server_address[1])

    def _dispatch(self, method):
        parsed = urllib.parse.urlsplit(self.path)
        path = parsed.path
        query = urllib.parse.parse_qs(parsed.query, keep_blank_values=True)
        self.raw_query = parsed.query
        self.req_body = b""
        self.sent_status = 0
        self.rule = None
        try:
            self.req_body = self.read_body()
        except Exception:
            self.close_connection = True
            return
        if path.startswith(CONTROL_PREFIX):
            self._control(method, path)
            return
        t0 = time.time()
        try:
            self.rule = self.state.take_rule(method, path, self.is_api_path(path))
            if self.rule and self._apply_generic_fault(self.rule):
                pass
            else:
                self.route(method, path, query)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        except Exception as e:      # a bug in a mock must not hang the client
            import traceback
            traceback.print_exc()
            try:
                self.send_json(500, {"error": "mock internal error: %s" % e})
            except Exception:
                self.close_connection = True
        entry = {"ts": utc_iso(t0, millis=True), "method": method, "path": path,
                 "query": parsed.query, "status": self.sent_status,
                 "scenario": self.rule.name if self.rule else None,
                 "ms": round((time.time() - t0) * 1000, 1),
                 "headers": redact_headers(dict(self.headers))}
        if self.state.args.log:
            entry["body"] = self.loggable_body()
        self.state.record(entry)

    def loggable_body(self):
        if not self.req_body:
            return None
        ctype = (self.headers.get("Content-Type") or "").lower()
        try:
            if "json" in ctype or self.req_body[:1] in (b"{", b"["):
                return json.loads(self.req_body)
            if "x-www-form-urlencoded" in ctype:
                form = urllib.parse.parse_qs(self.req_body.decode(), keep_blank_values=True)
                return {k: ("***" if k in SENSITIVE_FORM_FIELDS else v[0])
                        for k, v in form.items()}
        except Exception:
            pass
        return {"bytes": len(self.req_body)}

    def is_api_path(self, path):
        """Paths that fault rules without an explicit path apply to (token
        endpoints are spared so '401' means 'the API rejects the token')."""
        return "/oauth2/" not in path

    # --- control endpoints ----------------------------------------------

    def _control(self, method, path):
        st = self.state
        if path == "/__requests" and method == "GET":
            self.send_json(200, st.snapshot())
        elif path == "/__control" and method == "POST":
            try:
                obj = json.loads(self.req_body or b"{}")
                with st.lock:
                    if obj.get("reset_counts"):
                        st.total = 0
                        st.by_path.clear()
                        st.by_status.clear()
                        st.recent.clear()
                    if obj.get("clear") or "scenario" in obj:
                        st.rules = []
                    if "scenario" in obj and obj["scenario"] not in (None, "ok"):
                        st.rules.append(FaultRule.from_json(obj, st.defaults))
                    for r in obj.get("add", []) if isinstance(obj.get("add"), list) else \
                            ([obj["add"]] if obj.get("add") else []):
                        st.rules.append(FaultRule.from_json(r, st.defaults))
                    rules = [r.as_json() for r in st.rules]
                self.control_hook(obj)
                self.send_json(200, {"ok": True, "rules": rules})
            except Exception as e:
                self.send_json(400, {"ok": False, "error": str(e)})
        elif path == "/__shutdown" and method == "POST":
            self.send_json(200, {"ok": True})
            st.request_stop("shutdown endpoint")
        elif path == "/__health":
            self.send_json(200, {"ok": True, "vendor": self.vendor})
        else:
            self.send_json(404, {"error": "unknown control endpoint"})

    def control_hook(self, obj):
        """Vendor-specific control keys (none by default)."""

    # --- responses --------------------------------------------------------

    def send_bytes(self, status, body, content_type="application/json; charset=utf-8",
                   headers=None):
        self.sent_status = status
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            self.send_header(k, str(v))
        self._write_all(body)   # headers and body in one write

    def _header_bytes(self):
        """The buffered status line + headers, ended, for one write together
        with (the start of) the body; avoids a separate small write that
        Nagle + delayed ACK would stall."""
        self._headers_buffer.append(b"\r\n")
        data = b"".join(self._headers_buffer)
        self._headers_buffer = []
        return data

    def _write_all(self, body):
        head = self._header_bytes()
        if len(body) > 65536:
            # Nagle is off: two writes cost nothing and save copying a big body
            self.wfile.write(head)
            self.wfile.write(body)
        else:
            self.wfile.write(head + body)

    def send_json(self, status, obj, headers=None):
        self.send_bytes(status, json.dumps(obj).encode(), headers=headers)

    def vendor_error(self, status, message=None):
        """(body bytes, extra headers) for an HTTP error, in the vendor's shape."""
        return (json.dumps({"error": message or self.responses.get(status, ("Error",))[0],
                            "status": status}).encode(), {})

    def send_error_status(self, status, message=None, retry_after=None):
        body, headers = self.vendor_error(status, message)
        headers = dict(headers)
        if retry_after is not None:
            headers["Retry-After"] = str(retry_after)
        self.send_bytes(status, body, headers=headers)

    def transform_record(self, rec, fault):
        """Break one record for the missing-fields / wrong-types scenarios."""
        return break_record(rec, fault)

    def record_fault(self):
        """'missing-fields' / 'wrong-types' when such a rule is active."""
        return self.rule.name if self.rule and self.rule.name in RECORD_FAULTS else None

    # --- generic faults -----------------------------------------------------

    def _sleep(self, seconds):
        """Sleep, but wake up when the server is stopping."""
        self.state.stop.wait(seconds)

    def _apply_generic_fault(self, rule):
        """Performs a generic fault; returns False when the vendor handler
        must handle the request (ok, record faults, vendor scenarios)."""
        name = rule.name
        if rule.status is not None:
            if rule.status >= 400:
                ra = None
                if rule.status == 429:
                    ra = rule.retry_after if rule.retry_after is not None else 60
                elif rule.status == 503:
                    ra = rule.retry_after       # only when asked for
                self.send_error_status(rule.status, retry_after=ra)
                return True
            return False
        if name in ("hang", "slow"):
            self._sleep(rule.delay if rule.delay is not None else 3600)
            if self.state.stop.is_set():
                self.close_connection = True
                return True
            return False            # after the delay, answer normally
        if name == "close":
            self.close_connection = True
            self.sent_status = 0
            return True
        if name in ("drop", "stall"):
            body = self.fault_payload()
            half = max(1, len(body) // 2)
            self.sent_status = 200
            self.send_response(200)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.wfile.write(self._header_bytes() + body[:half])
            self.wfile.flush()
            if name == "stall":
                self._sleep(rule.delay if rule.delay is not None else 3600)
                if not self.state.stop.is_set():
                    self.wfile.write(body[half:])
                    return True
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return True
        if name == "malformed":
            body = self.fault_payload()
            self.send_bytes(200, body[: max(1, len(body) * 2 // 3)] + b'",}{')
            return True
        if name == "bad-utf8":
            # valid JSON but for one byte: a string that starts with 0xFF (never UTF-8)
            body = self.fault_payload()
            m = re.search(rb'":\s*"', body)
            i = m.end() if m else 0
            self.send_bytes(200, body[:i] + b"\xff" + body[i:])
            return True
        if name == "not-array":
            # valid JSON, 200, but not the records (array or {"value": [...]})
            self.send_bytes(200, b'{"message": "maintenance page", "records": 0}')
            return True
        if name in ("huge", "huge-stream"):
            self._send_huge(rule.size or 1 << 30, declared=(name == "huge"))
            return True
        if name == "deep-json":
            # valid JSON, but one record holds arrays nested `size` levels deep
            # (default 100000): more than any parser's stack should be asked for
            depth = rule.size or 100000
            rec = b'{"id": 1, "name": "deep", "deep": ' + b"[" * depth + b"]" * depth + b"}"
            body = self.fault_payload()
            if body.startswith(b"["):
                body = b"[" + rec + b"," + body[1:]
            else:                   # {"value": [...]} / {"results": [...]}
                body = re.sub(rb'(":\s*\[)', lambda m: m.group(1) + rec + b",", body, count=1)
            self.send_bytes(200, body)
            return True
        return False

    def fault_payload(self):
        """A plausible body for drop/stall/malformed (vendors override)."""
        return json.dumps([{"id": i, "name": "record %d" % i} for i in range(200)]).encode()

    def _send_huge(self, size, declared):
        chunk = (b'{"id":1,"padding":"' + b"x" * 65400 + b'"},')
        self.sent_status = 200
        self.send_response(200)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        if declared:
            self.send_header("Content-Length", str(size))
        else:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.wfile.write(self._header_bytes() + b"[")
        sent = 1
        try:
            while sent < size - 1 and not self.state.stop.is_set():
                piece = chunk[: size - 1 - sent]
                self.wfile.write(piece)
                sent += len(piece)
            self.wfile.write(b"]")
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True


def basic_auth(headers):
    """(user, password) from an Authorization: Basic header, or None."""
    h = headers.get("Authorization") or ""
    if not h.lower().startswith("basic "):
        return None
    try:
        raw = base64.b64decode(h[6:].strip(), validate=True).decode("utf-8")
    except Exception:
        return None
    if ":" not in raw:
        return None
    return tuple(raw.split(":", 1))


def bearer_token(headers):
    h = headers.get("Authorization") or ""
    if h.lower().startswith("bearer "):
        return h[7:].strip()
    return None


def common_args(description):
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--port", type=int, default=0,
                   help="TCP port on 127.0.0.1 (0 = pick a free one)")
    p.add_argument("--port-file", help="write the chosen port to this file")
    p.add_argument("--max-requests", type=int, default=0,
                   help="exit after this many vendor requests (0 = no limit)")
    p.add_argument("--max-seconds", type=float, default=600,
                   help="exit after this many seconds (default 600; 0 = no limit)")
    p.add_argument("--scenario", action="append",
                   help="fault rule NAME[:TIMES][@PATHPREFIX], repeatable "
                        "(see tests/mock/README.md)")
    p.add_argument("--retry-after", type=int, default=None,
                   help="Retry-After seconds sent with 429 (default 60) and, "
                        "when given, with 503")
    p.add_argument("--delay", type=float, default=None,
                   help="seconds a hang/slow/stall scenario waits (default: until exit)")
    p.add_argument("--size", type=int, default=None,
                   help="bytes of the huge scenario's body (default 1 GiB)")
    p.add_argument("--log", help="append one JSON line per request to this file")
    p.add_argument("--verbose", action="store_true", help="log requests to stderr")
    p.add_argument("--tls-cert", help="serve HTTPS with this PEM certificate (tests of TLS checks)")
    p.add_argument("--tls-key", help="private key of --tls-cert")
    return p


def serve(handler_cls, args, name):
    """Run until SIGTERM/SIGINT, --max-requests, --max-seconds or
    POST /__shutdown; returns the process exit status (0)."""
    state = MockState(args)
    handler_cls.state = state
    ThreadingHTTPServer.allow_reuse_address = True
    ThreadingHTTPServer.daemon_threads = True
    ThreadingHTTPServer.request_queue_size = 128
    httpd = ThreadingHTTPServer(("127.0.0.1", args.port), handler_cls)
    port = httpd.server_address[1]
    if args.tls_cert:
        import ssl
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(args.tls_cert, args.tls_key)
        # a client that rejects the certificate makes accept() fail; the
        # server just goes on (socketserver ignores accept errors)
        httpd.socket = ctx.wrap_socket(httpd.socket, server_side=True)

    def on_signal(signum, frame):
        state.request_stop(signal.Signals(signum).name)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    t = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.1},
                         daemon=True)
    t.start()
    if args.port_file:
        tmp = args.port_file + ".tmp.%d" % os.getpid()
        with open(tmp, "w") as f:
            f.write("%d\n" % port)
        os.replace(tmp, args.port_file)
    sys.stdout.write("%d\n" % port)
    sys.stdout.flush()
    sys.stderr.write("%s mock listening on 127.0.0.1:%d (pid %d)\n" % (name, port, os.getpid()))
    deadline = time.time() + args.max_seconds if args.max_seconds else None
    while not state.stop.wait(0.1):
        if deadline and time.time() >= deadline:
            state.request_stop("max-seconds")
    httpd.shutdown()
    httpd.server_close()
    sys.stderr.write("%s mock on port %d stopped (%s) after %d requests\n"
                     % (name, port, state.stop_reason, state.total))
    if state.log_file:
        state.log_file.close()
    return 0


class Collection:
    """A list of records with each record's JSON rendered once, so a page of
    1000 is a join of 1000 byte strings (the 50,000-ticket benchmark)."""

    def __init__(self, records):
        self.records = records
        self.rendered = [json.dumps(r, separators=(",", ":")).encode() for r in records]

    def __len__(self):
        return len(self.records)

    def page_bytes(self, indexes, fault=None, handler=None):
        """JSON array of the records at these indexes."""
        if fault and handler:
            return json.dumps([handler.transform_record(self.records[i], fault)
                               for i in indexes]).encode()
        return b"[" + b",".join(self.rendered[i] for i in indexes) + b"]"


MISSING_KEYS = ("id", "summary", "name", "company", "_info", "serialNumber",
                "userPrincipalName", "mail", "accountEnabled", "computerName", "title",
                "severity", "maxScore", "riskLevel", "isMfaRegistered", "resultName",
                "choices", "usage")


def break_record(rec, fault):
    """missing-fields: drop the keys an adapter relies on; wrong-types: numbers
    become strings, booleans "yes"/"no", timestamps epoch numbers, objects
    their name string, lists a string."""
    rec = dict(rec)
    if fault == "bad-ids":
        # ids of the wrong type: integer ids become 1e30 (a JSON number far out
        # of any integer range), string ids (Graph's GUIDs) the number 12345
        if isinstance(rec.get("id"), str):
            rec["id"] = 12345
        elif "id" in rec:
            rec["id"] = 1e30
        return rec
    if fault == "unknown-company":
        # every 15th record (by id) belongs to a company that is not synced
        # (a former client): company 999
        if isinstance(rec.get("company"), dict) and isinstance(rec.get("id"), int) and rec["id"] % 15 == 0:
            rec["company"] = {"id": 999, "identifier": "FormerClient", "name": "Former Client LLC"}
        return rec
    if fault == "nul-escape":
        # a U+0000 inside a string (JSON "\u0000"): valid JSON jsonb cannot store
        for k in ("summary", "name", "displayName", "computerName", "title"):
            if isinstance(rec.get(k), str):
                rec[k] = rec[k] + "\u0000" + " (after NUL)"
                break
        return rec
    if fault == "missing-fields":
        gone = [k for k in MISSING_KEYS if k in rec]
        for k in gone or list(rec)[:3]:
            rec.pop(k, None)
        return rec
    for k, v in list(rec.items()):
        if isinstance(v, bool):
            rec[k] = "yes" if v else "no"
        elif isinstance(v, (int, float)):
            rec[k] = str(v)
        elif isinstance(v, str) and re.match(r"\d{4}-\d\d-\d\dT", v):
            try:
                rec[k] = int(parse_iso(v))
            except Exception:
                rec[k] = 0
        elif isinstance(v, dict):
            if k == "_info":
                rec[k] = {ik: (int(parse_iso(iv)) if isinstance(iv, str) and re.match(r"\d{4}-", iv) else iv)
                          for ik, iv in v.items()}
            else:
                rec[k] = str(v.get("name") or v.get("id") or "")
        elif isinstance(v, list):
            rec[k] = "n/a"
    return rec
