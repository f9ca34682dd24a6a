#!/usr/bin/env python3
"""Writes a large QBR document (docs/qbr-document.md) to stdout.

    tests/data/make_large_qbr.py [--devices 500] [--tickets 1000] [--seed 1]

It starts from tests/data/qbr_example.json and scales it up for the Gherkin
scenario "PDF renders correctly with large dataset": every device is four or
more years old (so every one is a row of the lifecycle table, named
DEV-0001 ... DEV-0500), the monthly ticket counts add up to --tickets, and
there are many risks, wins, recommendations, roadmap items and action items
(ACT-001 ...), so the tables run over many pages.  The same arguments always
give the same document.
"""
import argparse
import json
import os
import random
import sys

MODELS = [
    ("endpoint", "Dell OptiPlex 7050"), ("endpoint", "Dell OptiPlex 7060"),
    ("endpoint", "Lenovo ThinkCentre M720q"), ("endpoint", "HP EliteBook 840 G5"),
    ("endpoint", "HP ProDesk 600 G4"), ("endpoint", "Microsoft Surface Pro 6"),
    ("server", "Dell PowerEdge R640"), ("server", "HPE ProLiant DL380 Gen9"),
    ("network", "Fortinet FortiGate 60E"), ("network", "HPE Aruba 2530-48G PoE+"),
]
LEVELS = ["low", "medium", "high"]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--devices", type=int, default=500)
    ap.add_argument("--tickets", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    rnd = random.Random(args.seed)

    here = os.path.dirname(os.path.abspath(__file__))
    with open(os.path.join(here, "qbr_example.json"), encoding="utf-8") as f:
        doc = json.load(f)

    doc["client"] = {"id": 2, "name": "Kessler Logistik GmbH & Co. KG",
                     "segment": "A", "industry": "Logistics"}
    doc["draft"] = False

    # devices: all four or more years old, so all of them are listed
    devices = []
    for i in range(1, args.devices + 1):
        kind, model = rnd.choice(MODELS)
        age = round(rnd.uniform(4.0, 9.5), 1)
        year = 2025 + rnd.randint(-4, 2)
        devices.append({
            "name": "DEV-%04d" % i, "type": kind, "model": model, "age_years": age,
            "warranty_expires": "%d-%02d-%02d" % (year, rnd.randint(1, 12), rnd.randint(1, 28)),
        })
    doc["lifecycle"]["devices"] = devices
    doc["lifecycle"]["budget"] = {"m12": args.devices * 310, "m24": args.devices * 540,
                                  "m36": args.devices * 820}

    # tickets: twelve months adding up to --tickets
    weights = [rnd.uniform(0.8, 1.2) for _ in range(12)]
    counts = [int(args.tickets * w / sum(weights)) for w in weights]
    counts[-1] += args.tickets - sum(counts)
    doc["service"] = {
        "tickets_per_month": [{"month": "2025-%02d" % (m + 1), "count": c}
                              for m, c in enumerate(counts)],
        "total": args.tickets,
        "sla_total": args.tickets,
        "sla_met": int(args.tickets * 0.942),
        "reopened": int(args.tickets * 0.023),
        "after_hours": int(args.tickets * 0.081),
    }

    ticket = 50000
    def cite():
        nonlocal ticket
        ticket += rnd.randint(1, 40)
        return "[Ticket #%d]" % ticket

    doc["risks"] = [{
        "title": "Risk %02d: %s" % (i, rnd.choice(["unpatched firmware", "stale admin account",
                                                    "expired certificate", "shadow IT app",
                                                    "single point of failure"])),
        "business_impact": "Could stop order processing for up to %d hours %s." % (rnd.randint(2, 48), cite()),
        "status": rnd.choice(["open", "open", "mitigated", "accepted"]),
        "mitigation": "Owner and date agreed in the outcome plan; progress reviewed monthly.",
        "likelihood": rnd.choice(LEVELS), "impact": rnd.choice(LEVELS),
    } for i in range(1, 31)]
    doc["wins"] = ["Win %02d: resolved a recurring issue for the warehouse team %s" % (i, cite())
                   for i in range(1, 41)]
    doc["narrative"]["recommendations"] = [{
        "title": "Recommendation %02d" % i,
        "description": " ".join("Replacing aging hardware and tightening identity controls lowers "
                                "the risk score and the ticket load %s." % cite() for _ in range(3)),
        "priority": rnd.choice(LEVELS), "effort": rnd.choice(LEVELS),
        "cost_range": "€%d,000–€%d,000" % (i, i + 3),
        "evidence": [cite() for _ in range(4)],
    } for i in range(1, 26)]
    doc["narrative"]["discussion_points"] = ["Discussion point %02d" % i for i in range(1, 11)]
    doc["roadmap"] = {
        col: [{"title": "%s item %02d: %s" % (col.capitalize(), i, rnd.choice(
                  ["Replace aging workstations", "Conditional access rollout",
                   "Server retirement", "Backup restore test", "Wi-Fi refresh"])),
               "priority": rnd.choice(LEVELS), "cost_range": "€%d,000" % rnd.randint(1, 30)}
              for i in range(1, n + 1)]
        for col, n in (("now", 10), ("next", 12), ("later", 8))
    }
    doc["security"]["identity"]["citations"] = ["Identity finding %02d %s" % (i, cite()) for i in range(1, 21)]
    doc["security"]["email"]["citations"] = ["Email finding %02d %s" % (i, cite()) for i in range(1, 21)]
    doc["security"]["endpoint"]["citations"] = ["Endpoint finding %02d %s" % (i, cite()) for i in range(1, 21)]
    doc["outcome_plan"] = [{
        "action": "ACT-%03d: %s" % (i, rnd.choice(["Approve the refresh budget", "Schedule the rollout",
                                                   "Run the restore test", "Review admin accounts",
                                                   "Replace the failing access point"])),
        "owner": rnd.choice(["Bright IT Services", "Eva Kessler (CFO)", "Tom Brandt (IT lead)"]),
        "due_date": "2026-%02d-%02d" % (rnd.randint(1, 6), rnd.randint(1, 28)),
    } for i in range(1, 61)]

    json.dump(doc, sys.stdout, ensure_ascii=False, indent=1)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
