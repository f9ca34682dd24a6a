#!/usr/bin/env python3
"""
openai_mock.py -- a mock OpenAI-compatible chat-completions server for the
QBR narrative (POST /v1/chat/completions, JSON mode).

  python3 tests/mock/openai_mock.py --port 0 --port-file /tmp/llm.port \
      --log /tmp/llm.jsonl [--scenario hallucinate] [--api-key sk-test]

Scenarios (--scenario or POST /__control {"scenario": ...}):
  good         (default) a narrative whose citations are built only from names
               found in the prompt's PROVIDED DATA, so they are valid
  hallucinate  the good narrative plus "Replace aging firewall" citing
               [Device: FW-MAIN-99]
  no-evidence  recommendations with empty evidence arrays
  invalid-json content that is not JSON (truncated, finish_reason "length")
  fenced       the JSON wrapped in a ```json fence
  missing-fields / wrong-types   narrative without recommendations and
               discussion_points / with them as a string and a number
  canned       exactly the "content" given to /__control (or --canned FILE)
  choices-object  a reply whose "choices" is an object, not an array
  deep-json    content nested too deeply to parse (100,000 arrays)
  bad-utf8-content  a good narrative with a byte that is not UTF-8 in it
               (bad-utf8, the generic fault, spoils the reply itself)
  slow / hang  answer after --delay seconds (default: never, until exit)
  429, 500 ... generic HTTP faults (429 carries Retry-After)
Every request is appended to --log as a JSON line (API key redacted), so
tests can assert what the prompt contained.  Responses carry "usage".
"""

import json
import re
import sys
import time
import uuid

import mocklib
from mocklib import MockHandler, bearer_token

CITATION_RE = re.compile(r"\[(Ticket #\d+|Device: [^\]\n\"]+|Policy: [^\]\n\"]+|Risk: [^\]\n\"]+)\]")


def _texts(messages):
    out = []
    for m in messages or []:
        c = m.get("content") if isinstance(m, dict) else None
        if isinstance(c, str):
            out.append((m.get("role"), c))
        elif isinstance(c, list):       # content parts
            out.append((m.get("role"), " ".join(p.get("text", "") for p in c if isinstance(p, dict))))
    return out


def provided_data(messages):
    """The text after the 'PROVIDED DATA:' heading (in any message), else the
    text after the last mention of PROVIDED DATA, else all user text.  The
    heading wins over a mere mention (rules often say "use the PROVIDED DATA")."""
    texts = _texts(messages)
    for _, t in texts:
        m = None
        for m in re.finditer(r"PROVIDED DATA\s*:", t, re.IGNORECASE):
            pass
        if m:
            return t[m.end():]
    for _, t in reversed(texts):
        i = t.upper().rfind("PROVIDED DATA")
        if i >= 0:
            return t[i + len("PROVIDED DATA"):]
    return "\n".join(t for role, t in texts if role == "user")


class Facts:
    def __init__(self):
        self.tickets, self.devices, self.policies, self.risks = [], [], [], []
        self.client = None
        self.scores = {}

    def add(self, kind, value):
        lst = {"Ticket": self.tickets, "Device": self.devices, "Policy": self.policies,
               "Risk": self.risks}[kind]
        value = str(value).strip()
        if value and value not in lst:
            lst.append(value)

    def citation(self, kind, value):
        return "[Ticket #%s]" % value if kind == "Ticket" else "[%s: %s]" % (kind, value)


def _classify(key):
    k = (key or "").lower()
    if "ticket" in k:
        return "Ticket"
    if any(w in k for w in ("device", "lifecycle", "configuration", "computer", "asset", "endpoint")):
        return "Device"
    if any(w in k for w in ("polic", "control", "standard", "baseline")):
        return "Policy"
    if "risk" in k or "alert" in k:
        return "Risk"
    return None


def _walk(obj, key, facts):
    if isinstance(obj, dict):
        kind = _classify(key)
        if kind == "Ticket":
            v = obj.get("ticket_id") or obj.get("external_id") or obj.get("id") or obj.get("number")
            if v is not None and re.fullmatch(r"#?\d+", str(v)):
                facts.add("Ticket", str(v).lstrip("#"))
        elif kind == "Device":
            v = obj.get("name") or obj.get("device_name") or obj.get("hostname")
            if isinstance(v, str):
                facts.add("Device", v)
        elif kind in ("Policy", "Risk"):
            v = obj.get("title") or obj.get("name") or obj.get("policy")
            if isinstance(v, str):
                facts.add(kind, v)
        for k, v in obj.items():
            if k in ("standards", "risk", "experience"):
                s = v.get("score") if isinstance(v, dict) else v
                if isinstance(s, (int, float)):
                    facts.scores[k] = s
            if k == "client" and isinstance(v, dict) and isinstance(v.get("name"), str):
                facts.client = v["name"]
            _walk(v, k, facts)
    elif isinstance(obj, list):
        for item in obj:
            _walk(item, key, facts)


def extract_facts(messages):
    facts = Facts()
    text = provided_data(messages)
    for m in CITATION_RE.finditer(text):
        c = m.group(1)
        if c.startswith("Ticket #"):
            facts.add("Ticket", c[len("Ticket #"):])
        else:
            kind, _, value = c.partition(": ")
            facts.add(kind, value)
    start = min([i for i in (text.find("{"), text.find("[")) if i >= 0] or [-1])
    if start >= 0:
        try:
            obj, _ = json.JSONDecoder().raw_decode(text[start:])
            _walk(obj, None, facts)
        except ValueError:
            pass
    return facts


def good_narrative(facts):
    cite = facts.citation
    t = [cite("Ticket", x) for x in facts.tickets]
    d = [cite("Device", x) for x in facts.devices]
    p = [cite("Policy", x) for x in facts.policies]
    r = [cite("Risk", x) for x in facts.risks]
    every = r + d + p + t
    client = facts.client or "your organization"
    sc = facts.scores

    def first(lst, n=1):
        return lst[:n] if lst else every[:n]

    def score(name):
        return ("%s" % sc[name]) if name in sc else "steady"

    recs = []
    if r:
        recs.append({"title": "Remediate the top open security risk",
                     "description": "Close out %s to reduce the chance of a business-stopping incident."
                                    % facts.risks[0],
                     "priority": "High", "effort": "Medium", "cost_range": "$1,000-$3,000",
                     "evidence": first(r, 1) + first(d, 1)})
    if d:
        recs.append({"title": "Replace end-of-life workstations",
                     "description": "Plan replacements for %s so staff are not slowed down by failing hardware."
                                    % ", ".join(facts.devices[:3]),
                     "priority": "Medium", "effort": "Medium", "cost_range": "$4,000-$9,000",
                     "evidence": d[:3]})
    if p:
        recs.append({"title": "Close the gap on %s" % facts.policies[0],
                     "description": "Finish rolling out %s for every user to cut account-takeover risk."
                                    % facts.policies[0],
                     "priority": "High", "effort": "Low", "cost_range": "$0-$500",
                     "evidence": p[:2]})
    if t:
        recs.append({"title": "Reduce repeat support requests",
                     "description": "Recurring issues drove avoidable downtime this quarter; a root-cause "
                                    "fix saves staff time.",
                     "priority": "Medium", "effort": "Low", "cost_range": "$500-$1,500",
                     "evidence": t[:3]})
    extra = [("Schedule a security awareness refresher", "Low", "Low", "$300-$800"),
             ("Review backup and recovery readiness", "Medium", "Medium", "$500-$2,000"),
             ("Document a 12-month technology roadmap", "Low", "Low", "$0-$500")]
    k = 0
    while len(recs) < 3 and k < len(extra):
        title, prio, effort, cost = extra[k]
        recs.append({"title": title, "description": "Keeps the improvements of this quarter on track.",
                     "priority": prio, "effort": effort, "cost_range": cost,
                     "evidence": every[k:k + 1]})
        k += 1
    summary = "\n\n".join([
        "This quarter %s's technology health was measured on three scores: standards %s, risk %s and "
        "experience %s. %s" % (client, score("standards"), score("risk"), score("experience"),
                               ("The open items are listed with their evidence %s." % " ".join(first(every, 2)))
                               if every else ""),
        "The biggest win was keeping staff productive: requests were handled quickly %s."
        % " ".join(first(t, 2)) if t else "The biggest win was a stable environment with few disruptions.",
        "The top priority for next quarter is reducing risk to the business %s, which protects revenue "
        "and patient/client trust." % " ".join(first(r or p or d, 1)),
    ])
    trends = []
    if "standards" in sc:
        trends.append("Standards compliance is at %s %s." % (sc["standards"], " ".join(first(p, 1))))
    if "risk" in sc:
        trends.append("Risk is at %s %s." % (sc["risk"], " ".join(first(r, 1))))
    if "experience" in sc:
        trends.append("Service experience is at %s %s." % (sc["experience"], " ".join(first(t, 1))))
    if not trends:
        trends.append("Service volume and security posture were broadly stable quarter over quarter %s."
                      % " ".join(first(every, 1)))
    points = ["Agree the order of the recommended projects %s" % " ".join(first(d or every, 1)),
              "Confirm budget for next quarter's priorities %s" % " ".join(first(r or every, 1)),
              "Review open support themes with the team %s" % " ".join(first(t or every, 1))]
    return {"executive_summary": summary, "trends": trends, "recommendations": recs[:7],
            "discussion_points": points}


def hallucinated(facts):
    n = good_narrative(facts)
    n["recommendations"].insert(0, {
        "title": "Replace aging firewall", "description": "Device FW-MAIN-99 is end-of-life",
        "priority": "High", "effort": "Medium", "cost_range": "$2,000-$4,000",
        "evidence": ["[Device: FW-MAIN-99]"]})
    return n


class OpenAIHandler(MockHandler):
    vendor = "openai"
    canned = None

    def vendor_error(self, status, message=None):
        kinds = {400: ("invalid_request_error", None), 401: ("invalid_request_error", "invalid_api_key"),
                 403: ("invalid_request_error", "unsupported_country_region_territory"),
                 404: ("invalid_request_error", "model_not_found"),
                 429: ("requests", "rate_limit_exceeded"),
                 500: ("server_error", None), 502: ("server_error", None),
                 503: ("server_error", None), 504: ("server_error", None)}
        msgs = {401: "Incorrect API key provided.",
                429: "Rate limit reached for requests. Please try again later.",
                500: "The server had an error while processing your request. Sorry about that!",
                503: "The engine is currently overloaded, please try again later."}
        etype, code = kinds.get(status, ("server_error", None))
        body = {"error": {"message": message or msgs.get(status, "Request failed."), "type": etype,
                          "param": None, "code": code}}
        headers = {"x-request-id": "req_" + uuid.uuid4().hex}
        if status == 429:
            headers.update({"x-ratelimit-limit-requests": "500", "x-ratelimit-remaining-requests": "0",
                            "x-ratelimit-reset-requests": "%ss" % (self.rule.retry_after if self.rule and
                                                                   self.rule.retry_after else 60)})
        return json.dumps(body).encode(), headers

    def fault_payload(self):
        return json.dumps(self.completion("{}", {"prompt_tokens": 10, "completion_tokens": 1,
                                                 "total_tokens": 11}, "gpt-4o")).encode()

    def control_hook(self, obj):
        if "content" in obj:
            c = obj["content"]
            OpenAIHandler.canned = c if isinstance(c, str) else json.dumps(c)

    def completion(self, content, usage, model, finish="stop"):
        return {"id": "chatcmpl-" + uuid.uuid4().hex[:24], "object": "chat.completion",
                "created": int(time.time()), "model": model,
                "choices": [{"index": 0, "message": {"role": "assistant", "content": content,
                                                      "refusal": None},
                             "logprobs": None, "finish_reason": finish}],
                "usage": usage, "system_fingerprint": "fp_mock"}

    def route(self, method, path, query):
        args = self.state.args
        if args.api_key and bearer_token(self.headers) != args.api_key:
            return self.send_error_status(401)
        if path in ("/v1/models", "/models") and method == "GET":
            return self.send_json(200, {"object": "list", "data": [
                {"id": m, "object": "model", "created": 1715367049, "owned_by": "system"}
                for m in ("gpt-4o", "gpt-4o-mini", "gpt-4.1")]})
        if path not in ("/v1/chat/completions", "/chat/completions"):
            return self.send_error_status(404, "Unknown request URL: %s %s." % (method, path))
        if method != "POST":
            return self.send_error_status(404, "Unknown request URL: %s %s." % (method, path))
        try:
            req = json.loads(self.req_body or b"")
            assert isinstance(req, dict)
        except Exception:
            return self.send_error_status(400, "We could not parse the JSON body of your request.")
        messages = req.get("messages")
        if not isinstance(messages, list) or not messages:
            return self.send_error_status(400, "'messages' is a required property")
        if not req.get("model"):
            return self.send_error_status(400, "you must provide a model parameter")
        scenario = self.rule.name if self.rule else "good"
        facts = extract_facts(messages)
        finish = "stop"
        if scenario == "canned" or (OpenAIHandler.canned is not None and scenario == "good"
                                    and args.canned_always):
            content = OpenAIHandler.canned if OpenAIHandler.canned is not None else "{}"
        elif scenario == "hallucinate":
            content = json.dumps(hallucinated(facts), indent=2)
        elif scenario == "no-evidence":
            n = good_narrative(facts)
            for r in n["recommendations"]:
                r["evidence"] = []
            content = json.dumps(n, indent=2)
        elif scenario == "invalid-json":
            full = json.dumps(good_narrative(facts), indent=2)
            content = full[: max(20, len(full) // 3)]
            finish = "length"
        elif scenario == "missing-fields":
            n = good_narrative(facts)
            del n["recommendations"], n["discussion_points"]
            content = json.dumps(n, indent=2)
        elif scenario == "wrong-types":
            n = good_narrative(facts)
            n["recommendations"] = "; ".join(r["title"] for r in n["recommendations"])
            n["discussion_points"] = len(n["discussion_points"])
            n["executive_summary"] = n["executive_summary"].split("\n\n")
            content = json.dumps(n, indent=2)
        elif scenario == "choices-object":
            return self.send_json(200, {"id": "chatcmpl-x", "object": "chat.completion",
                                        "choices": {"0": {"message": {"content": "{}"}}}})
        elif scenario == "bad-utf8-content":
            # a good narrative whose trends hold a byte that is not UTF-8
            n = good_narrative(facts)
            n["trends"] = "BADBYTE " + str(n.get("trends", ""))
            usage = {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}
            body = json.dumps(self.completion(json.dumps(n), usage, req["model"])).encode()
            return self.send_bytes(200, body.replace(b"BADBYTE", b"caf\xff"))
        elif scenario == "deep-json":
            content = "[" * 100000 + "]" * 100000
        elif scenario == "fenced":
            content = "```json\n%s\n```" % json.dumps(good_narrative(facts), indent=2)
        else:
            content = json.dumps(good_narrative(facts), indent=2)
        prompt_chars = sum(len(t) for _, t in _texts(messages))
        usage = {"prompt_tokens": max(1, prompt_chars // 4), "completion_tokens": max(1, len(content) // 4)}
        usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
        usage["prompt_tokens_details"] = {"cached_tokens": 0}
        usage["completion_tokens_details"] = {"reasoning_tokens": 0}
        self.send_json(200, self.completion(content, usage, req["model"], finish),
                       headers={"x-request-id": "req_" + uuid.uuid4().hex,
                                "openai-processing-ms": "842"})


def main(argv=None):
    p = mocklib.common_args("Mock OpenAI-compatible chat completions (127.0.0.1 only)")
    p.add_argument("--api-key", default="",
                   help="require this bearer key (default: accept any or none)")
    p.add_argument("--canned", help="file whose text is the 'canned' scenario's content")
    p.add_argument("--canned-always", action="store_true",
                   help="answer every request with the canned content")
    args = p.parse_args(argv)
    if args.canned:
        with open(args.canned) as f:
            OpenAIHandler.canned = f.read()
    return mocklib.serve(OpenAIHandler, args, "openai")


if __name__ == "__main__":
    sys.exit(main())
