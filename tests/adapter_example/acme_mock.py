#!/usr/bin/env python3
"""Acme Helpdesk mock for the example adapter: GET /api/tickets?page=N with
X-Api-Key, 120 tickets in pages of 50.  127.0.0.1 only, bounded, stops on
SIGTERM.  Usage: acme_mock.py PORT_FILE [MAX_SECONDS [PAGE2_DELAY_SECONDS]]"""
import json, signal, sys, threading, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit, parse_qs

TICKETS = [{"id": 9000 + i, "subject": "Acme ticket %d" % i, "queue": ["Email", "Printer", "VPN"][i % 3],
            "urgency": ["High", "Medium", "Low"][i % 3], "state": "Closed", "within_sla": i % 10 != 0,
            "opened": "2026-01-%02dT10:00:00Z" % (1 + i % 28)} for i in range(120)]

class H(BaseHTTPRequestHandler):
    def log_message(self, *a):
        pass
    def do_GET(self):
        u = urlsplit(self.path)
        if self.headers.get("X-Api-Key") != "acme-key":
            return self.reply(401, {"error": "bad key"})
        if u.path != "/api/tickets":
            return self.reply(404, {"error": "not found"})
        page = int(parse_qs(u.query).get("page", ["1"])[0])
        if page == 2 and len(sys.argv) > 3:
            time.sleep(float(sys.argv[3]))
        items = TICKETS[(page - 1) * 50: page * 50]
        self.reply(200, {"items": items, "next_page": str(page + 1) if page * 50 < len(TICKETS) else None})
    def reply(self, status, obj):
        b = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(b)))
        self.end_headers()
        self.wfile.write(b)

srv = ThreadingHTTPServer(("127.0.0.1", 0), H)
signal.signal(signal.SIGTERM, lambda *a: threading.Thread(target=srv.shutdown).start())
# the lifetime bound; a daemon thread, so SIGTERM ends the process at once
lifetime = threading.Timer(float(sys.argv[2]) if len(sys.argv) > 2 else 300, srv.shutdown)
lifetime.daemon = True
lifetime.start()
with open(sys.argv[1] + ".tmp", "w") as f:
    f.write(str(srv.server_address[1]))
import os; os.rename(sys.argv[1] + ".tmp", sys.argv[1])
srv.serve_forever()
