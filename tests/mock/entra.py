"""
entra.py -- a mock Microsoft Entra ID token endpoint (OAuth2 client
credentials), served by the Immy.Bot and Microsoft Graph mocks:

  POST /{tenant}/oauth2/v2.0/token   grant_type=client_credentials&client_id=..
                                      &client_secret=..&scope=<resource>/.default
  POST /{tenant}/oauth2/token         (v1: resource=<resource> instead of scope)

Errors are shaped like Entra's (error, error_description with an AADSTS code,
error_codes, timestamp, trace_id, correlation_id).  Issued tokens look like
JWTs (unsigned) and are remembered with their expiry and granted roles.
"""

import base64
import json
import re
import secrets
import threading
import time
import urllib.parse
import uuid

from mocklib import utc_iso

TOKEN_PATH = re.compile(r"^/(?P<tenant>[^/]+)/oauth2/(?P<v2>v2\.0/)?token$")


def _b64(obj):
    return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()


class TokenStore:
    def __init__(self, tenant_ids, client_id, client_secret, roles, ttl, audience_ok):
        self.tenant_ids = {t.lower() for t in tenant_ids}
        self.tenant_guid = tenant_ids[0]
        self.client_id = client_id
        self.client_secret = client_secret
        self.roles = list(roles)
        self.ttl = ttl
        self.audience_ok = audience_ok      # scope/resource -> bool
        self.tokens = {}
        self.lock = threading.Lock()

    def check(self, token):
        """None if valid, else the reason."""
        if not token:
            return "Access token is empty."
        with self.lock:
            info = self.tokens.get(token)
        if info is None:
            return "Invalid signature or malformed token."
        if time.time() >= info["exp"]:
            return "Lifetime validation failed, the token is expired."
        return None

    def roles_of(self, token):
        with self.lock:
            info = self.tokens.get(token)
        return info["roles"] if info else []

    def _error(self, status, error, code, description):
        now = time.time()
        return status, {
            "error": error,
            "error_description": "AADSTS%d: %s Trace ID: %s Correlation ID: %s Timestamp: %s"
                                 % (code, description, uuid.uuid4(), uuid.uuid4(), utc_iso(now)),
            "error_codes": [code], "timestamp": utc_iso(now).replace("T", " ").rstrip("Z") + "Z",
            "trace_id": str(uuid.uuid4()), "correlation_id": str(uuid.uuid4()),
            "error_uri": "https://login.microsoftonline.com/error?code=%d" % code}

    def issue(self, tenant, v2, form):
        """(status, json) for a token request."""
        f = {k: v[-1] for k, v in form.items()}
        if tenant.lower() not in self.tenant_ids:
            return self._error(400, "invalid_request", 90002,
                               "Tenant '%s' not found. Check to make sure you have the correct "
                               "tenant ID and are signing into the correct cloud." % tenant)
        if f.get("grant_type") != "client_credentials":
            return self._error(400, "unsupported_grant_type", 70003,
                               "The app requested an unsupported grant type '%s'."
                               % f.get("grant_type", ""))
        if f.get("client_id") != self.client_id:
            return self._error(400, "unauthorized_client", 700016,
                               "Application with identifier '%s' was not found in the directory."
                               % f.get("client_id", ""))
        if f.get("client_secret") != self.client_secret:
            return self._error(401, "invalid_client", 7000215,
                               "Invalid client secret provided. Ensure the secret being sent in "
                               "the request is the client secret value, not the client secret ID.")
        audience = f.get("scope") if v2 else f.get("resource")
        if not audience or not self.audience_ok(audience):
            return self._error(400, "invalid_scope" if v2 else "invalid_resource", 1002012
                               if v2 else 500011,
                               "The provided value for scope '%s' is not valid." % (audience or ""))
        now = int(time.time())
        claims = {"aud": audience.replace("/.default", ""), "iss": "https://sts.windows.net/%s/"
                  % self.tenant_guid, "iat": now, "nbf": now, "exp": now + self.ttl,
                  "appid": self.client_id, "tid": self.tenant_guid, "roles": self.roles,
                  "oid": str(uuid.uuid4())}
        token = "%s.%s.%s" % (_b64({"typ": "JWT", "alg": "RS256", "kid": "mock"}), _b64(claims),
                              secrets.token_urlsafe(32))
        with self.lock:
            self.tokens[token] = {"exp": time.time() + self.ttl, "roles": list(self.roles)}
        body = {"token_type": "Bearer", "expires_in": self.ttl, "ext_expires_in": self.ttl,
                "access_token": token}
        if not v2:
            body.update({"expires_on": str(now + self.ttl), "not_before": str(now),
                         "resource": audience})
            body["expires_in"] = str(self.ttl)
            body["ext_expires_in"] = str(self.ttl)
        return 200, body


def handle_token(handler, store, path):
    """Serve a token request if path is a token endpoint; returns True if it did."""
    m = TOKEN_PATH.match(path)
    if not m:
        return False
    if handler.command != "POST":
        handler.send_json(405, {"error": "invalid_request",
                                "error_description": "AADSTS900561: The endpoint only accepts POST requests."})
        return True
    ctype = (handler.headers.get("Content-Type") or "").lower()
    if "application/x-www-form-urlencoded" not in ctype:
        status, body = store._error(400, "invalid_request", 900144,
                                    "The request body must contain the following parameter: "
                                    "'grant_type'.")
        handler.send_json(status, body)
        return True
    form = urllib.parse.parse_qs(handler.req_body.decode("utf-8", "replace"), keep_blank_values=True)
    status, body = store.issue(m.group("tenant"), bool(m.group("v2")), form)
    handler.send_json(status, body, headers={"Cache-Control": "no-store, no-cache",
                                             "Pragma": "no-cache"})
    return True
