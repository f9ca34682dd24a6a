"""
datasets.py -- the demo MSP the mock vendor servers serve.

One deterministic world, shared by every mock so the vendors agree with each
other: the 47 ConnectWise configurations and the 47 Immy.Bot computers have
the same serial numbers, Microsoft 365 is the tenant of client 1 (Contoso
Dental Group) and its Defender alerts name client 1's devices.

Counts are the spec's (etop-architecture.md, Gherkin "ConnectWise / Immy.Bot /
Microsoft 365 Adapter Sync"): 5 companies, 8 agreements, 150 tickets
(--tickets N for benchmarks), 47 configurations; 47 computers, 3 baselines,
12 drift reports; 73 users, 28 Secure Score controls, 5 Defender alerts.

Timestamps are relative to an anchor ("now", floored to the minute, or
--now) so the data is always recent; identifiers, names and serials depend
only on the seed.
"""

import hashlib
import random
import uuid

from mocklib import utc_iso

DAY = 86400.0

# ---------------------------------------------------------------------------
# Companies (ConnectWise) = tenants (Immy.Bot); company 1 is the M365 tenant.
# ---------------------------------------------------------------------------

COMPANIES = [
    # id, identifier, name, netbios, domain, city, state, state name, zip, tickets share
    dict(id=250, identifier="ContosoDental", name="Contoso Dental Group", netbios="CONTOSO",
         domain="contosodental.com", city="Albany", state="NY", state_name="New York",
         zip="12207", phone="518-555-0142", employees=48, ticket_share=40,
         devices=[("WS", "ACCT", 2), ("WS", "FRONT", 3), ("WS", "HYG", 3), ("WS", "XRAY", 1),
                  ("LT", "DR", 3), ("SRV", "DC-01", 0), ("SRV", "IMAGING-01", 0)],
         lifecycle=5),
    dict(id=251, identifier="NorthwindLogistics", name="Northwind Logistics", netbios="NORTHWIND",
         domain="northwindlogistics.com", city="Hartford", state="CT", state_name="Connecticut",
         zip="06103", phone="860-555-0177", employees=35, ticket_share=35,
         devices=[("WS", "DISP", 3), ("WS", "WHSE", 2), ("LT", "OPS", 2), ("LT", "FLEET", 1),
                  ("SRV", "WMS-01", 0), ("SRV", "NWDC-01", 0)],
         lifecycle=3),
    dict(id=252, identifier="FabrikamLegal", name="Fabrikam Legal LLP", netbios="FABRIKAM",
         domain="fabrikamlegal.com", city="Boston", state="MA", state_name="Massachusetts",
         zip="02110", phone="617-555-0119", employees=22, ticket_share=30,
         devices=[("WS", "PARA", 3), ("LT", "ATTY", 4), ("SRV", "DOCS-01", 0),
                  ("SRV", "FLDC-01", 0)],
         lifecycle=2),
    dict(id=253, identifier="TailspinAccounting", name="Tailspin Accounting", netbios="TAILSPIN",
         domain="tailspinaccounting.com", city="Providence", state="RI", state_name="Rhode Island",
         zip="02903", phone="401-555-0163", employees=14, ticket_share=25,
         devices=[("WS", "TAX", 4), ("LT", "AUDIT", 3), ("SRV", "QB-01", 0)],
         lifecycle=2),
    dict(id=254, identifier="AdventureWorksClinic", name="Adventure Works Clinic",
         netbios="ADVWORKS", domain="adventureworksclinic.com", city="Burlington", state="VT",
         state_name="Vermont", zip="05401", phone="802-555-0188", employees=11, ticket_share=20,
         devices=[("WS", "CLINIC", 2), ("WS", "RECEP", 1), ("LT", "NURSE", 2),
                  ("SRV", "EHR-01", 0)],
         lifecycle=1),
]

FIRST = ["James", "Mary", "Robert", "Patricia", "John", "Jennifer", "Michael", "Linda",
         "David", "Elizabeth", "William", "Barbara", "Richard", "Susan", "Joseph", "Jessica",
         "Thomas", "Sarah", "Charles", "Karen", "Priya", "Wei", "Carlos", "Aisha", "Mateo",
         "Olga", "Kenji", "Fatima", "Liam", "Chloe", "Noah", "Grace", "Ethan", "Zoe",
         "Lucas", "Nina", "Omar", "Hannah", "Diego", "Maya"]
LAST = ["Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis",
        "Rodriguez", "Martinez", "Hernandez", "Lopez", "Gonzalez", "Wilson", "Anderson",
        "Thomas", "Taylor", "Moore", "Jackson", "Martin", "Lee", "Perez", "Thompson", "White",
        "Harris", "Sanchez", "Clark", "Ramirez", "Lewis", "Robinson", "Walker", "Young",
        "Allen", "King", "Wright", "Scott", "Torres", "Nguyen", "Hill", "Flores"]

TECHS = [(142, "jlopez", "Jordan Lopez"), (143, "mchen", "Mei Chen"),
         (144, "dpatel", "Dev Patel"), (145, "sokafor", "Sam Okafor")]

HW = {
    "WS": [("Dell Inc.", 7, "OptiPlex 7090", "dell"), ("Dell Inc.", 7, "OptiPlex 7010", "dell"),
           ("HP", 9, "EliteDesk 800 G6", "hp")],
    "LT": [("LENOVO", 8, "ThinkPad T14 Gen 3", "lenovo"), ("Dell Inc.", 7, "Latitude 5440", "dell"),
           ("HP", 9, "EliteBook 840 G8", "hp")],
    "SRV": [("Dell Inc.", 7, "PowerEdge R450", "dell"), ("HPE", 11, "ProLiant DL360 Gen10", "hpe")],
}
MANUFACTURER_IDS = {"Dell Inc.": 3, "HP": 5, "LENOVO": 7, "HPE": 9}
TYPE_REFS = {"WS": {"id": 11, "name": "Workstation"}, "LT": {"id": 12, "name": "Laptop"},
             "SRV": {"id": 13, "name": "Server"}}

SERIAL_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ0123456789"


def _serial(rng, style):
    if style == "dell":      # 7-character service tag
        return "".join(rng.choice(SERIAL_ALPHABET) for _ in range(7))
    if style == "lenovo":    # PF + 6
        return "PF" + "".join(rng.choice(SERIAL_ALPHABET) for _ in range(6))
    if style == "hp":        # 5CG/MXL + 7
        return rng.choice(["5CG", "MXL", "2UA"]) + "".join(rng.choice("0123456789ABCDEFGHJKLMNPQRSTUVWXYZ") for _ in range(7))
    return "CZJ" + "".join(rng.choice("0123456789") for _ in range(4)) + "".join(rng.choice("ABCDEFGHJKLMNPQRSTUVWXYZ") for _ in range(3))


def _guid(rng):
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def _fast_guid(rng):
    h = "%032x" % rng.getrandbits(128)
    return "%s-%s-4%s-%x%s-%s" % (h[:8], h[8:12], h[13:16], 8 | (int(h[16], 16) & 3), h[17:20], h[20:32])


def _ref(company):
    return {"id": company["id"], "identifier": company["identifier"], "name": company["name"]}


class World:
    """The whole demo MSP.  Build once per server process."""

    def __init__(self, anchor, seed=4242, tickets=150):
        self.anchor = float(int(anchor // 60) * 60)
        self.seed = seed
        self.n_tickets = tickets
        self._people()
        self._sites_contacts()
        self._configurations()
        self._agreements()

    def ts(self, days_ago, hours=0.0):
        return utc_iso(self.anchor - days_ago * DAY - hours * 3600)

    # -- people ------------------------------------------------------------

    def _people(self):
        rng = random.Random(self.seed * 7 + 1)
        self.people = {}
        used = set()
        for c in COMPANIES:
            n = 73 if c["id"] == 250 else max(8, c["employees"] // 2)
            plist = []
            while len(plist) < n:
                f, l = rng.choice(FIRST), rng.choice(LAST)
                key = (c["id"], f, l)
                if key in used:
                    continue
                used.add(key)
                plist.append((f, l))
            self.people[c["id"]] = plist

    def person_login(self, company, i):
        f, l = self.people[company["id"]][i % len(self.people[company["id"]])]
        return "%s\\%s%s" % (company["netbios"], f[0].lower(), l.lower())

    # -- ConnectWise ---------------------------------------------------------

    def _sites_contacts(self):
        rng = random.Random(self.seed * 7 + 2)
        self.cw_sites = []
        self.cw_contacts = []
        sid, cid = 1100, 5200
        streets = ["100 State St", "25 Main St", "400 Elm Ave", "77 Harbor Way", "12 Church St",
                   "910 Commerce Dr", "3 Park Plaza"]
        for ci, c in enumerate(COMPANIES):
            c["sites"] = []
            for si in range(2 if ci < 2 else 1):
                sid += 1
                site = {
                    "id": sid, "name": "Main" if si == 0 else "Branch Office",
                    "addressLine1": streets[(ci + si * 3) % len(streets)],
                    "addressLine2": "Suite %d" % (100 + 10 * si) if si else "",
                    "city": c["city"],
                    "stateReference": {"id": 30 + ci, "identifier": c["state"], "name": c["state_name"]},
                    "zip": c["zip"], "country": {"id": 1, "name": "United States"},
                    "phoneNumber": c["phone"].replace("-", ""), "faxNumber": "",
                    "taxCode": {"id": 5, "name": c["state"]},
                    "expenseReimbursement": 0.0, "primaryAddressFlag": si == 0,
                    "defaultShippingFlag": si == 0, "defaultBillingFlag": si == 0,
                    "defaultMailingFlag": si == 0, "inactiveFlag": False,
                    "billSeparateFlag": False, "mobileGuid": _guid(rng),
                    "timeZone": {"id": 1, "name": "US Eastern"},
                    "company": _ref(c),
                    "_info": {"lastUpdated": self.ts(400 - 30 * ci), "updatedBy": "jlopez",
                              "dateEntered": self.ts(900 - 30 * ci), "enteredBy": "jlopez"},
                }
                c["sites"].append(site)
                self.cw_sites.append(site)
            c["contacts"] = []
            for k in range(5):
                cid += 1
                f, l = self.people[c["id"]][k]
                email = "%s.%s@%s" % (f.lower(), l.lower(), c["domain"])
                contact = {
                    "id": cid, "firstName": f, "lastName": l, "company": _ref(c),
                    "site": {"id": c["sites"][0]["id"], "name": c["sites"][0]["name"]},
                    "addressLine1": c["sites"][0]["addressLine1"], "city": c["city"],
                    "state": c["state"], "zip": c["zip"], "country": {"id": 1, "name": "United States"},
                    "relationship": {"id": 2, "name": "Client"},
                    "department": {"id": 4 + k, "name": ["Operations", "Finance", "Front Office",
                                                         "Clinical", "Administration"][k]},
                    "inactiveFlag": False, "title": ["Office Manager", "Controller",
                                                     "Receptionist", "Practice Lead", "Owner"][k],
                    "marriedFlag": False, "childrenFlag": False, "disablePortalLoginFlag": False,
                    "unsubscribeFlag": False, "gender": None, "mobileGuid": _guid(rng),
                    "defaultPhoneType": "Direct", "defaultPhoneNbr": "%s%02d" % (c["phone"].replace("-", "")[:8], k),
                    "defaultBillingFlag": k == 4, "defaultFlag": k == 0,
                    "companyLocation": {"id": 2, "name": "Main"},
                    "communicationItems": [
                        {"id": cid * 10 + 1, "type": {"id": 1, "name": "Email"}, "value": email,
                         "defaultFlag": True, "communicationType": "Email"},
                        {"id": cid * 10 + 2, "type": {"id": 2, "name": "Direct"},
                         "value": "%s%02d" % (c["phone"].replace("-", "")[:8], k),
                         "defaultFlag": True, "communicationType": "Phone"}],
                    "types": [{"id": 1, "name": "Primary Contact"}] if k == 0 else [],
                    "_info": {"lastUpdated": self.ts(200 - 10 * k), "updatedBy": "mchen",
                              "dateEntered": self.ts(800), "enteredBy": "jlopez"},
                }
                c["contacts"].append(contact)
                self.cw_contacts.append(contact)

    def _configurations(self):
        rng = random.Random(self.seed * 7 + 3)
        self.cw_configurations = []
        self.devices = []               # shared view: name, serial, company, ...
        cfg_id = 3000
        for ci, c in enumerate(COMPANIES):
            names = []
            for kind, dept, count in c["devices"]:
                if kind == "SRV":
                    names.append((kind, "SRV-" + dept))
                else:
                    for n in range(1, count + 1):
                        names.append((kind, "%s-%s-%02d" % (kind, dept, n)))
            old = set(rng.sample([i for i, (k, _) in enumerate(names) if k != "SRV"],
                                 c["lifecycle"]))
            for i, (kind, name) in enumerate(names):
                cfg_id += 1
                manu, _, model, style = rng.choice(HW[kind])
                serial = _serial(rng, style)
                if i in old:
                    purchase_days = rng.randint(5 * 365 + 30, 7 * 365)
                elif kind == "SRV":
                    purchase_days = rng.randint(300, 4 * 365)
                else:
                    purchase_days = rng.randint(60, 4 * 365)
                warranty_years = 5 if kind == "SRV" else 3
                warranty_days = purchase_days - warranty_years * 365
                if kind == "SRV":
                    os_type = "Windows Server 2016 Standard" if purchase_days > 5 * 365 else "Windows Server 2022 Standard"
                    os_info = "10.0.14393" if "2016" in os_type else "10.0.20348"
                elif i in old:
                    os_type, os_info = "Windows 10 Pro", "10.0.19045"
                else:
                    os_type, os_info = "Windows 11 Pro", rng.choice(["10.0.22631", "10.0.26100"])
                login = self.person_login(c, rng.randrange(60)) if kind != "SRV" else "%s\\administrator" % c["netbios"]
                ip = "10.%d.%d.%d" % (ci + 10, 20 if kind == "SRV" else 10, 10 + i)
                mac = "".join("%02X" % rng.randrange(256) for _ in range(6))
                device_id = _guid(rng)
                site = c["sites"][0 if i % 4 else -1]
                cfg = {
                    "id": cfg_id, "name": name, "type": TYPE_REFS[kind],
                    "status": {"id": 2, "name": "Active"},
                    "company": _ref(c),
                    "contact": {"id": c["contacts"][i % 5]["id"],
                                "name": "%s %s" % (c["contacts"][i % 5]["firstName"],
                                                   c["contacts"][i % 5]["lastName"])},
                    "site": {"id": site["id"], "name": site["name"]},
                    "locationId": 2, "businessUnitId": 10,
                    "deviceIdentifier": device_id,
                    "serialNumber": serial, "modelNumber": model,
                    "tagNumber": "AT-%05d" % cfg_id,
                    "purchaseDate": self.ts(purchase_days)[:10] + "T00:00:00Z",
                    "installationDate": self.ts(purchase_days - 7)[:10] + "T00:00:00Z",
                    "warrantyExpirationDate": self.ts(warranty_days)[:10] + "T00:00:00Z",
                    "vendorNotes": "", "notes": "",
                    "macAddress": "-".join(mac[k:k + 2] for k in range(0, 12, 2)),
                    "lastLoginName": login, "billFlag": True,
                    "ipAddress": ip, "defaultGateway": "10.%d.0.1" % (ci + 10),
                    "osType": os_type, "osInfo": os_info,
                    "cpuSpeed": rng.choice(["2.90", "3.20", "2.10", "1.80"]),
                    "ram": str(rng.choice([8, 16, 16, 32]) * 1024) if kind != "SRV" else "65536",
                    "localHardDrives": "C: %d GB (%d GB free)" % ((256, rng.randint(40, 180)) if kind != "SRV" else (960, rng.randint(90, 600))),
                    "manufacturer": {"id": MANUFACTURER_IDS[manu], "name": manu},
                    "activeFlag": True, "managementLink": "", "remoteLink": "",
                    "mobileGuid": _guid(rng), "companyLocationId": 2,
                    "showRemoteFlag": False, "showAutomateFlag": True,
                    "needsRenewalFlag": i in old,
                    "_info": {"lastUpdated": self.ts(rng.uniform(0, 120)), "updatedBy": "RMM Sync",
                              "dateEntered": self.ts(purchase_days - 7), "enteredBy": "jlopez"},
                }
                self.cw_configurations.append(cfg)
                self.devices.append({
                    "name": name, "serial": serial, "company": c, "kind": kind,
                    "manufacturer": manu, "model": model, "os": os_type, "os_build": os_info,
                    "login": login, "ip": ip, "device_id": device_id, "lifecycle": i in old,
                    "cw_id": cfg_id})

    def _agreements(self):
        self.cw_agreements = []
        specs = [(0, "Managed Services - Gold", "Managed Services", 6850.00),
                 (0, "Security Add-on (EDR + SOC)", "Security Services", 1150.00),
                 (1, "Managed Services - Silver", "Managed Services", 4200.00),
                 (1, "Block Time - 20 Hours", "Block Time", 3000.00),
                 (2, "Managed Services - Gold", "Managed Services", 3900.00),
                 (2, "Microsoft 365 Licensing", "Licensing", 860.00),
                 (3, "Managed Services - Bronze", "Managed Services", 1750.00),
                 (4, "Managed Services - Silver", "Managed Services", 1650.00)]
        type_ids = {"Managed Services": 1, "Security Services": 2, "Block Time": 3, "Licensing": 4}
        for k, (ci, name, tname, amount) in enumerate(specs):
            c = COMPANIES[ci]
            start_days = 700 - 60 * k
            expired = k == 3
            self.cw_agreements.append({
                "id": 610 + k, "name": name,
                "type": {"id": type_ids[tname], "name": tname},
                "company": _ref(c),
                "contact": {"id": c["contacts"][0]["id"],
                            "name": "%s %s" % (c["contacts"][0]["firstName"], c["contacts"][0]["lastName"])},
                "site": {"id": c["sites"][0]["id"], "name": c["sites"][0]["name"]},
                "location": {"id": 2, "name": "Main"}, "department": {"id": 10, "name": "Services"},
                "restrictLocationFlag": False, "restrictDepartmentFlag": False,
                "startDate": self.ts(start_days)[:10] + "T00:00:00Z",
                "endDate": (self.ts(30)[:10] + "T00:00:00Z") if expired else
                           (self.ts(start_days - 3 * 365)[:10] + "T00:00:00Z"),
                "noEndingDateFlag": False, "cancelledFlag": False,
                "sla": {"id": 1, "name": "Standard SLA"},
                "internalNotes": "",
                "applicationUnits": "Hours" if tname == "Block Time" else "Amount",
                "applicationLimit": 20.0 if tname == "Block Time" else 0.0,
                "applicationCycle": "ContractYear" if tname == "Block Time" else "CalendarMonth",
                "applicationUnlimitedFlag": tname != "Block Time", "oneTimeFlag": False,
                "coverAgreementTime": True, "coverAgreementProduct": False,
                "coverAgreementExpense": False, "coverSalesTax": False,
                "carryOverUnused": False, "allowOverruns": True, "expiredDays": 0, "limit": 0,
                "expireWhenZero": tname == "Block Time", "chargeToFirm": False,
                "billingCycle": {"id": 1, "name": "Monthly"},
                "billOneTimeFlag": False, "billingTerms": {"id": 1, "name": "Net 30"},
                "invoicingCycle": "CalendarYear", "billToCompany": _ref(c),
                "billAmount": amount, "taxable": False, "prorateFirstBill": False,
                "billStartDate": self.ts(start_days)[:10] + "T00:00:00Z",
                "restrictDownPayment": False, "prorateFlag": False,
                "invoiceDescription": name, "billTime": "Billable", "billExpenses": "Billable",
                "billProducts": "Billable", "currency": {"id": 7, "symbol": "$",
                                                         "isoCode": "USD", "name": "US Dollars"},
                "periodType": "Current", "autoInvoiceFlag": True,
                "agreementStatus": "Expired" if expired else "Active",
                "_info": {"lastUpdated": self.ts(20 + 9 * k), "updatedBy": "mchen",
                          "dateEntered": self.ts(start_days), "enteredBy": "mchen"},
            })

    def cw_companies(self):
        out = []
        for ci, c in enumerate(COMPANIES):
            out.append({
                "id": c["id"], "identifier": c["identifier"], "name": c["name"],
                "status": {"id": 1, "name": "Active"},
                "addressLine1": c["sites"][0]["addressLine1"], "addressLine2": "",
                "city": c["city"], "state": c["state"], "zip": c["zip"],
                "country": {"id": 1, "name": "United States"},
                "phoneNumber": c["phone"].replace("-", ""), "faxNumber": "",
                "website": "www." + c["domain"],
                "territory": {"id": 3, "name": "New England"},
                "market": {"id": 8, "name": "Healthcare" if ci in (0, 4) else "Professional Services"},
                "accountNumber": "ACCT-%04d" % (1000 + ci),
                "defaultContact": {"id": c["contacts"][0]["id"],
                                   "name": "%s %s" % (c["contacts"][0]["firstName"], c["contacts"][0]["lastName"])},
                "dateAcquired": self.ts(1500 - 200 * ci)[:10] + "T00:00:00Z",
                "annualRevenue": float(c["employees"] * 120000),
                "numberOfEmployees": c["employees"],
                "timeZoneSetup": {"id": 1, "name": "US Eastern"},
                "leadFlag": False, "unsubscribeFlag": False,
                "taxCode": {"id": 5, "name": c["state"]},
                "billingTerms": {"id": 1, "name": "Net 30"},
                "billToCompany": _ref(c),
                "billingSite": {"id": c["sites"][0]["id"], "name": c["sites"][0]["name"]},
                "invoiceDeliveryMethod": {"id": 1, "name": "Email"},
                "invoiceToEmailAddress": "ap@" + c["domain"],
                "deletedFlag": False, "mobileGuid": str(uuid.UUID(int=c["id"] * 7919, version=4)),
                "currency": {"id": 7, "symbol": "$", "isoCode": "USD", "name": "US Dollars"},
                "territoryManager": {"id": 150, "identifier": "akim", "name": "Alex Kim"},
                "isVendorFlag": False,
                "types": [{"id": 1, "name": "Client"}],
                "site": {"id": c["sites"][0]["id"], "name": c["sites"][0]["name"]},
                "_info": {"lastUpdated": self.ts(15 + 40 * ci), "updatedBy": "akim",
                          "dateEntered": self.ts(1500 - 200 * ci), "enteredBy": "akim"},
                "customFields": [{"id": 4, "caption": "QBR Cadence", "type": "Text",
                                  "entryMethod": "List", "numberOfDecimals": 0,
                                  "value": "Quarterly" if ci < 3 else "Semi-Annual"}],
            })
        return out

    def cw_tickets(self):
        """The ticket list (generated on demand; --tickets 50000 is fine)."""
        rng = random.Random(self.seed * 7 + 4)
        total_share = sum(c["ticket_share"] for c in COMPANIES)
        counts = [self.n_tickets * c["ticket_share"] // total_share for c in COMPANIES]
        counts[0] += self.n_tickets - sum(counts)
        owners = [{"id": t[0], "identifier": t[1], "name": t[2]} for t in TECHS]
        boards = [({"id": 1, "name": "Help Desk"}, 60), ({"id": 2, "name": "Alerts"}, 15),
                  ({"id": 3, "name": "Onboarding"}, 12), ({"id": 4, "name": "Projects"}, 13)]
        priorities = [({"id": 1, "name": "Priority 1 - Emergency Response", "sort": 1}, 5, 15, 240),
                      ({"id": 2, "name": "Priority 2 - Quick Response", "sort": 2}, 15, 60, 480),
                      ({"id": 3, "name": "Priority 3 - Normal Response", "sort": 3}, 55, 240, 1440),
                      ({"id": 4, "name": "Priority 4 - Schedule Maintenance", "sort": 4}, 25, 480, 4320)]
        sources = [{"id": 2, "name": "Email Connector"}, {"id": 3, "name": "Phone"},
                   {"id": 4, "name": "Portal"}, {"id": 6, "name": "RMM"}]
        teams = [{"id": 21, "name": "Tier 1"}, {"id": 22, "name": "Tier 2"},
                 {"id": 23, "name": "Projects"}]
        types = {"Help Desk": [({"id": 31, "name": "Incident"}, {"id": 41, "name": "Email"}),
                               ({"id": 31, "name": "Incident"}, {"id": 42, "name": "Hardware"}),
                               ({"id": 32, "name": "Request"}, {"id": 43, "name": "Account"}),
                               ({"id": 31, "name": "Incident"}, {"id": 44, "name": "Network"}),
                               ({"id": 31, "name": "Incident"}, {"id": 45, "name": "Security"}),
                               ({"id": 32, "name": "Request"}, {"id": 46, "name": "Software"})],
                 "Alerts": [({"id": 33, "name": "Alert"}, {"id": 47, "name": "Monitoring"})],
                 "Onboarding": [({"id": 32, "name": "Request"}, {"id": 48, "name": "New User"})],
                 "Projects": [({"id": 34, "name": "Project"}, {"id": 49, "name": "Upgrade"})]}
        summaries = {
            "Help Desk": ["Outlook keeps prompting for password - {user}",
                          "Printer on 2nd floor showing offline", "VPN disconnects every 30 minutes",
                          "MFA prompt not arriving on phone - {user}",
                          "Phishing email reported by {user}", "Teams audio cutting out in meetings",
                          "Scanner not saving to network folder", "Password reset - {user}",
                          "{device} running very slow", "Request access to shared mailbox for {user}",
                          "Replace failing battery in {device}", "Wi-Fi drops in conference room",
                          "Excel crashes when opening large workbook", "Cannot map S: drive on {device}"],
            "Alerts": ["{server} - Disk space low on C:", "{server} - Backup job failed",
                       "{device} - Defender signature out of date", "{server} - High CPU for 15 minutes",
                       "{device} - Offline for more than 24 hours"],
            "Onboarding": ["New hire setup: {user} starting Monday", "Offboard departing employee {user}",
                           "Set up laptop for {user}"],
            "Projects": ["Windows 11 upgrade for {device}", "Firewall firmware update",
                         "Migrate file shares to SharePoint", "Replace end-of-life {device}"],
        }
        devices_by_company = {}
        for d in self.devices:
            devices_by_company.setdefault(d["company"]["id"], []).append(d)

        def pick(weighted):
            r = rng.uniform(0, sum(w for _, w, *rest in weighted))
            for item in weighted:
                r -= item[1]
                if r <= 0:
                    return item
            return weighted[-1]

        tickets = []
        tid = 48000
        for ci, c in enumerate(COMPANIES):
            devs = devices_by_company[c["id"]]
            servers = [d for d in devs if d["kind"] == "SRV"] or devs
            clients = [d for d in devs if d["kind"] != "SRV"] or devs
            agreement = next(a for a in self.cw_agreements if a["company"]["id"] == c["id"])
            for _ in range(counts[ci]):
                tid += 1
                board = pick(boards)[0]
                prio, _, resp_target, resol_target = pick(priorities)
                ttype, subtype = rng.choice(types[board["name"]])
                f, l = rng.choice(self.people[c["id"]])
                summary = rng.choice(summaries[board["name"]]).format(
                    user="%s %s" % (f, l), device=rng.choice(clients)["name"],
                    server=rng.choice(servers)["name"])
                age = rng.uniform(0.02, 365) if rng.random() < 0.85 else rng.uniform(365, 540)
                entered = self.anchor - age * DAY
                # SLA: most tickets meet it; P1/P2 a little less often.
                in_sla = rng.random() < (0.78 if prio["sort"] <= 2 else 0.9)
                respond = int(resp_target * (rng.uniform(0.1, 0.9) if in_sla else rng.uniform(1.1, 3.0)))
                resplan = int(respond + rng.uniform(5, resp_target))
                resolve = int(resol_target * (rng.uniform(0.1, 0.95) if in_sla else rng.uniform(1.05, 2.5)))
                closed = age > 120 or (age > 1 and rng.random() < 0.7)
                contact = rng.choice(c["contacts"])
                owner = rng.choice(owners)
                t_resp = entered + respond * 60
                t_resplan = entered + resplan * 60
                t_resolved = entered + resolve * 60
                if closed:
                    if t_resolved > self.anchor:
                        t_resolved = self.anchor - 60
                    closed_at = min(self.anchor - 30, t_resolved + rng.uniform(0, 2) * 3600)
                    last_upd = closed_at
                    status = {"id": 40, "name": "Closed"}
                else:
                    last_upd = min(self.anchor - 60, entered + rng.uniform(0, age) * DAY)
                    status = rng.choice([{"id": 41, "name": "New"}, {"id": 42, "name": "In Progress"},
                                         {"id": 43, "name": "Waiting on Client"},
                                         {"id": 44, "name": "Scheduled"}])
                responded = closed or t_resp < self.anchor
                hours = round(rng.choice([0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 4.5]), 2)
                t = {
                    "id": tid, "summary": summary, "recordType": "ServiceTicket",
                    "board": board, "status": status,
                    "company": _ref(c),
                    "site": {"id": c["sites"][0]["id"], "name": c["sites"][0]["name"]},
                    "siteName": c["sites"][0]["name"],
                    "addressLine1": c["sites"][0]["addressLine1"], "city": c["city"],
                    "stateIdentifier": c["state"], "zip": c["zip"],
                    "contact": {"id": contact["id"],
                                "name": "%s %s" % (contact["firstName"], contact["lastName"])},
                    "contactName": "%s %s" % (contact["firstName"], contact["lastName"]),
                    "contactPhoneNumber": contact["defaultPhoneNbr"],
                    "contactEmailAddress": contact["communicationItems"][0]["value"],
                    "type": ttype, "subType": subtype,
                    "team": teams[0] if board["id"] in (1, 2) else teams[2 if board["id"] == 4 else 1],
                    "owner": owner, "priority": prio,
                    "serviceLocation": {"id": 1, "name": "Remote" if rng.random() < 0.8 else "On-Site"},
                    "source": sources[3] if board["id"] == 2 else rng.choice(sources[:3]),
                    "agreement": {"id": agreement["id"], "name": agreement["name"],
                                  "type": agreement["type"]["name"]},
                    "agreementType": agreement["type"]["name"],
                    "severity": ["High", "Medium", "Low", "Low"][prio["sort"] - 1],
                    "impact": ["High", "Medium", "Medium", "Low"][prio["sort"] - 1],
                    "allowAllClientsPortalView": False, "customerUpdatedFlag": False,
                    "automaticEmailContactFlag": True, "automaticEmailResourceFlag": True,
                    "automaticEmailCcFlag": False,
                    "closedDate": utc_iso(closed_at) if closed else None,
                    "closedBy": owner["identifier"] if closed else None,
                    "closedFlag": closed, "actualHours": hours if closed else round(hours / 2, 2),
                    "approved": True, "estimatedExpenseCost": 0.0, "estimatedExpenseRevenue": 0.0,
                    "estimatedProductCost": 0.0, "estimatedProductRevenue": 0.0,
                    "estimatedTimeCost": 0.0, "estimatedTimeRevenue": 0.0,
                    "billingMethod": "ActualRates", "subBillingMethod": "ActualRates",
                    "dateResolved": utc_iso(t_resolved) if closed else None,
                    "dateResplan": utc_iso(t_resplan) if closed or t_resplan < self.anchor else None,
                    "dateResponded": utc_iso(t_resp) if responded else None,
                    "resolveMinutes": resolve if closed else 0,
                    "resPlanMinutes": resplan if closed or t_resplan < self.anchor else 0,
                    "respondMinutes": respond if responded else 0,
                    "isInSla": in_sla,
                    "resources": owner["identifier"],
                    "hasChildTicket": False, "hasMergedChildTicketFlag": False,
                    "billTime": "Billable", "billExpenses": "Billable", "billProducts": "Billable",
                    "location": {"id": 2, "name": "Main"}, "department": {"id": 10, "name": "Services"},
                    "mobileGuid": _fast_guid(rng),
                    "sla": {"id": 1, "name": "Standard SLA"},
                    "slaStatus": "Resolved" if closed else (
                        "Resolve by %s" % utc_iso(entered + resol_target * 60) if responded
                        else "Respond by %s" % utc_iso(entered + resp_target * 60)),
                    "requestForChangeFlag": False,
                    "currency": {"id": 7, "symbol": "$", "isoCode": "USD", "name": "US Dollars"},
                    "escalationLevel": 0, "minutesBeforeWaiting": 0,
                    "respondedSkippedMinutes": 0, "resplanSkippedMinutes": 0,
                    "respondedHours": round(respond / 60.0, 2) if responded else None,
                    "respondedBy": owner["identifier"] if responded else None,
                    "resplanHours": round(resplan / 60.0, 2) if closed else None,
                    "resplanBy": owner["identifier"] if closed else None,
                    "resolutionHours": round(resolve / 60.0, 2) if closed else None,
                    "resolvedBy": owner["identifier"] if closed else None,
                    "minutesWaiting": 0,
                    "_info": {"lastUpdated": utc_iso(last_upd), "updatedBy": owner["identifier"],
                              "dateEntered": utc_iso(entered),
                              "enteredBy": "Email Connector" if rng.random() < 0.5 else owner["identifier"]},
                    "customFields": [],
                }
                tickets.append(t)
        return tickets

    # -- Immy.Bot ------------------------------------------------------------

    def immy_tenants(self):
        out = [{"id": 1, "name": "ETop MSP", "slug": "etop-msp", "ownerTenantId": None,
                "active": True, "principalId": None, "msp": True,
                "updatedDateUTC": self.ts(300), "createdDateUTC": self.ts(1000),
                "isMsp": True}]
        for ci, c in enumerate(COMPANIES):
            out.append({"id": 10 + ci, "name": c["name"], "slug": c["identifier"].lower(),
                        "ownerTenantId": 1, "active": True,
                        "principalId": str(uuid.UUID(int=(c["id"] << 64) | 77, version=4)),
                        "msp": False, "isMsp": False, "parentTenantId": 1,
                        "updatedDateUTC": self.ts(30 + ci), "createdDateUTC": self.ts(900 - 50 * ci)})
        return out

    def immy_computers(self):
        """ComputerListViewModel records (GET /api/v1/computers/paged)."""
        rng = random.Random(self.seed * 7 + 5)
        out = []
        renamed = {5, 19, 33}           # re-imaged machines: Immy sees a new name
        for i, d in enumerate(self.devices):
            c = d["company"]
            ci = COMPANIES.index(c)
            f, l = self.people[c["id"]][i % len(self.people[c["id"]])]
            name = d["name"]
            if i in renamed:
                name = "DESKTOP-" + hashlib.sha1(d["serial"].encode()).hexdigest()[:7].upper()
            chassis = {"WS": [3], "LT": [10], "SRV": [23]}[d["kind"]]
            out.append({
                "createdDate": self.ts(rng.uniform(100, 700)),
                "id": 1001 + i, "deletedAt": None, "isOnline": rng.random() < 0.8,
                "primaryUserFirstName": f if d["kind"] != "SRV" else None,
                "primaryUserLastName": l if d["kind"] != "SRV" else None,
                "primaryUserEmail": ("%s.%s@%s" % (f.lower(), l.lower(), c["domain"]))
                if d["kind"] != "SRV" else None,
                "tenantName": c["name"], "tenantId": 10 + ci,
                "primaryPersonId": 20000 + i if d["kind"] != "SRV" else None,
                "providerLinkIds": [1], "computerTagIds": [],
                "deviceId": d["device_id"], "onboardingStatus": 2,
                "activeSessionStatus": None, "activeSessionId": None,
                "computerName": name, "chassisTypes": chassis,
                "operatingSystem": "Microsoft " + d["os"],
                "manufacturer": d["manufacturer"], "model": d["model"],
                "serialNumber": d["serial"],
                "domainRole": 3 if d["kind"] == "SRV" else 1,
                "hasPendingReboot": rng.random() < 0.15,
                "domain": c["domain"].split(".")[0] + ".local",
                "lastBootTimeUtc": self.ts(rng.uniform(0.1, 20)),
                "internalIpAddress": d["ip"], "externalIpAddress": "203.0.113.%d" % (10 + ci),
                "lastLoggedOnUser": d["login"], "isSandbox": False,
                "excludeFromMaintenance": False, "devLabVmClaimExpirationDateUtc": None,
                "devLabVmUnclaimed": False, "devLabVmName": None, "isDevLab": False,
                "lastProviderAgentEventDateUtc": self.ts(rng.uniform(0, 0.9)),
                "licensed": True,
                "updatedDate": self.ts(rng.uniform(0, 0.9)),
            })
        return out

    def immy_baselines(self):
        """3 deployments (LocalTargetAssignmentResource), the compliance baselines."""
        # maintenanceType (ImmyBot's MaintenanceType enum): 0 GlobalSoftware, 1 LocalSoftware,
        # 2 WindowsUpdate, 3 Chocolatey, 4 Ninite, 5 LocalMaintenanceTask,
        # 6 GlobalMaintenanceTask, 7 AgentUpdate.  A target assignment has no
        # maintenanceDisplayName (its results do).
        specs = [(301, "BitLocker Encryption", 6, "12", "All Workstations and Portable Devices",
                  "All Computers", 2),
                 (302, "Microsoft Defender for Endpoint", 0, "84", "All Computers", "All Computers", 0),
                 (303, "Windows Security Updates (Monthly)", 6, "31", "All Computers",
                  "All Computers", 0)]
        out = []
        for k, (aid, title, mtype, ident, target_text, type_name, group_filter) in enumerate(specs):
            out.append({
                "targetText": target_text, "targetTypeName": type_name,
                "targetScopeName": "Cross Tenant", "targetMissing": False, "tenantMissing": False,
                "targetTypeMissing": False, "targetTypeDescription": None, "targetType": 1,
                "onboardingOnly": False, "target": None, "targetCategory": 0,
                "targetGroupFilter": group_filter, "tenantId": None,
                "propagateToChildTenants": True, "allowAccessToParentTenant": False,
                "providerLinkId": None, "providerClientGroupType": None,
                "providerDeviceGroupType": None,
                "targetGroupFilterName": "Workstations and Portable Devices" if group_filter == 2 else "All",
                "id": aid, "isCore": False, "excluded": False, "targetEnforcement": 1,
                "notes": "Baseline: %s" % title, "notesUpdatedByUserName": "Jordan Lopez",
                "notesUpdatedUtc": self.ts(90 - k),
                "maintenanceType": mtype, "maintenanceIdentifier": ident,
                "targetName": None, "softwareSemanticVersion": None,
                "softwareSemanticVersionString": None,
                "desiredSoftwareState": 5 if mtype == 0 else None,
                "softwareProviderType": 0 if mtype == 0 else None,
                "licenseId": None, "licenseName": None,
                "updatedDateUTC": self.ts(60 - k), "updatedBy": "Jordan Lopez",
                "createdDateUTC": self.ts(400 - 30 * k),
                "maintenanceTaskMode": 1 if mtype in (5, 6) else None, "taskParameterValues": None,
                "sortOrder": k, "integrationTypeId": None, "integrationPrompt": None,
                "providerLinkIdForMaintenanceItem": None, "databaseType": 0,
                "visibility": None,
            })
        return out

    def immy_actions(self):
        """12 drift/compliance results (GetMaintenanceActionResponse)."""
        rng = random.Random(self.seed * 7 + 6)
        baselines = {b["id"]: b for b in self.immy_baselines()}
        titles = {301: "BitLocker Encryption", 302: "Microsoft Defender for Endpoint",
                  303: "Windows Security Updates (Monthly)"}
        computers = self.immy_computers()
        # pass/fail/unknown mix: 6 Success, 4 Failed, 2 Pending
        results = [(1, "Success")] * 6 + [(2, "Failed")] * 4 + [(0, "Pending")] * 2
        picks = rng.sample(range(len(computers)), 12)
        out = []
        for k, idx in enumerate(picks):
            comp = computers[idx]
            aid = 301 + k % 3
            b = baselines[aid]
            res, res_name = results[k]
            title = titles[aid]
            created = self.anchor - rng.uniform(0.5, 20) * 3600
            is_task = b["maintenanceType"] in (5, 6)
            if res == 1:
                status, status_name, atype, atype_name = 5, "Completed", 0, "NoAction"
            elif res == 2:
                status, status_name, atype, atype_name = 6, "Failed", (7 if is_task else 1), ("Enforce" if is_task else "Install")
            else:
                status, status_name, atype, atype_name = 0, "NotStarted", 7, "Undetermined"
            out.append({
                "id": 143700 + k, "parentId": None, "maintenanceSessionId": 102300 + k,
                "tenantId": comp["tenantId"], "computerId": comp["id"],
                "computerName": comp["computerName"], "isComputerOnline": comp["isOnline"],
                "startTime": utc_iso(created), "endTime": utc_iso(created + rng.uniform(30, 900)),
                "actionType": atype, "actionTypeName": atype_name,
                "status": status, "statusName": status_name,
                "assignmentId": aid, "assignmentType": 0, "tenantName": comp["tenantName"],
                "maintenanceType": b["maintenanceType"],
                "maintenanceIdentifier": b["maintenanceIdentifier"],
                "desiredSoftwareState": b["desiredSoftwareState"],
                "description": "%s %s [%s]" % (atype_name, title, status_name),
                "postMaintenanceTest": None, "postMaintenanceTestType": None,
                "postMaintenanceTestResult": None, "postMaintenanceTestResultMessage": None,
                "maintenanceTypeName": "GlobalMaintenanceTask" if is_task else "GlobalSoftware",
                "maintenanceDisplayName": title,
                "detectedVersionString": None if is_task else ("4.18.24090.11" if res == 1 else None),
                "desiredVersionString": None if is_task else "4.18.24090.11",
                "reason": 0, "result": res, "resultName": res_name,
                "maintenanceTaskMode": 1 if is_task else None,
                "maintenanceTaskGetResult": ("Compliant" if res == 1 else "NonCompliant") if is_task and res else None,
                "createdDateUTC": utc_iso(created), "updatedDateUTC": utc_iso(created + 900),
                "updatedBy": None, "createdBy": None, "softwareType": None if is_task else 0,
                "maintenanceTaskType": 0 if is_task else None,
                "resultReason": None if res != 2 else 3,
                "resultReasonMessage": None if res != 2 else (
                    "TPM not ready; BitLocker could not be enabled" if aid == 301 else
                    "Installer exited with code 1603" if aid == 302 else
                    "3 security updates pending a reboot"),
                "dependsOnNames": [], "dependentsNames": [],
                "softwareActionIdForConfigurationTask": None,
                "softwareProviderType": None if is_task else 0,
                "policyDescription": "%s at %s should have \"%s\" %s" % (
                    "Workstations and portable devices" if aid == 301 else "All computers",
                    comp["tenantName"], title,
                    "enforced" if is_task else "installed"),
            })
        return out

    # -- Microsoft 365 (tenant of client 1) -------------------------------------

    M365_TENANT_ID = "8f4d2c1a-5b6e-4f70-9a81-2c3d4e5f6a7b"

    def graph_users(self):
        rng = random.Random(self.seed * 7 + 7)
        c = COMPANIES[0]
        out = []
        departments = ["Front Office", "Hygiene", "Clinical", "Billing", "Administration", "Imaging"]
        titles = ["Dental Hygienist", "Dentist", "Receptionist", "Billing Specialist",
                  "Office Manager", "Dental Assistant", "X-Ray Technician"]
        for i, (f, l) in enumerate(self.people[c["id"]]):
            uid = str(uuid.UUID(int=(0xC0FFEE << 96) | (i + 1), version=4))
            guest = i >= 70
            disabled = i in (12, 27, 41, 58, 66)
            if guest:
                ext = "%s.%s_gmail.com" % (f.lower(), l.lower())
                upn = "%s#EXT#@contosodental.onmicrosoft.com" % ext
                mail = "%s.%s@gmail.com" % (f.lower(), l.lower())
            else:
                upn = mail = "%s.%s@%s" % (f.lower(), l.lower(), c["domain"])
            never = i in (27, 66, 72)
            stale = i in (12, 41, 58, 35, 50)
            if never:
                sia = None
            else:
                last = rng.uniform(95, 200) if stale else rng.uniform(0.01, 14)
                sia = {"lastSignInDateTime": self.ts(last),
                       "lastSignInRequestId": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
                       "lastNonInteractiveSignInDateTime": self.ts(max(0.0, last - rng.uniform(0, 1))),
                       "lastNonInteractiveSignInRequestId": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
                       "lastSuccessfulSignInDateTime": self.ts(last),
                       "lastSuccessfulSignInRequestId": str(uuid.UUID(int=rng.getrandbits(128), version=4))}
            out.append({
                "id": uid, "businessPhones": [] if guest else ["+1 518 555 %04d" % (100 + i)],
                "displayName": "%s %s" % (f, l), "givenName": f, "surname": l,
                "jobTitle": None if guest else titles[i % len(titles)],
                "mail": mail, "mobilePhone": None, "officeLocation": None if guest else "Albany",
                "preferredLanguage": "en-US", "userPrincipalName": upn,
                "accountEnabled": not disabled,
                "userType": "Guest" if guest else "Member",
                "department": None if guest else departments[i % len(departments)],
                "createdDateTime": self.ts(rng.uniform(30, 1500)),
                "onPremisesSyncEnabled": None,
                "signInActivity": sia,
                "assignedLicenses": [] if guest else [{"disabledPlans": [],
                                                       "skuId": "f245ecc8-75af-4f8e-b61f-27d8114de5f3"}],
            })
        return out

    def graph_registration_details(self):
        out = []
        unregistered = {3, 9, 14, 20, 27, 33, 41, 47, 55, 61, 66, 71}   # 12 without MFA
        for i, u in enumerate(self.graph_users()):
            reg = i not in unregistered
            methods = (["microsoftAuthenticatorPush", "softwareOneTimePasscode"] if i % 3 else
                       ["microsoftAuthenticatorPush", "mobilePhone"]) if reg else []
            out.append({
                "id": u["id"], "userPrincipalName": u["userPrincipalName"],
                "userDisplayName": u["displayName"],
                "userType": "guest" if u["userType"] == "Guest" else "member",
                "isAdmin": i in (0, 4), "isSsprRegistered": reg, "isSsprEnabled": True,
                "isSsprCapable": reg, "isMfaRegistered": reg, "isMfaCapable": reg,
                "isPasswordlessCapable": reg and i % 5 == 0,
                "methodsRegistered": methods,
                "isSystemPreferredAuthenticationMethodEnabled": True,
                "systemPreferredAuthenticationMethods": ["push"] if reg else [],
                "userPreferredMethodForSecondaryAuthentication": "push" if reg else "none",
                "lastUpdatedDateTime": self.ts(1 + i % 9),
            })
        return out

    def graph_risky_users(self):
        users = self.graph_users()
        spec = [(6, "high", "atRisk", "none"), (18, "high", "confirmedCompromised", "adminConfirmedUserCompromised"),
                (25, "medium", "atRisk", "none"), (39, "medium", "atRisk", "none"),
                (52, "low", "atRisk", "none"), (63, "none", "remediated", "userPerformedSecuredPasswordChange")]
        out = []
        for k, (i, level, state, detail) in enumerate(spec):
            u = users[i]
            out.append({"id": u["id"], "isDeleted": False, "isProcessing": False,
                        "riskLastUpdatedDateTime": self.ts(2 + 5 * k),
                        "riskLevel": level, "riskState": state, "riskDetail": detail,
                        "userDisplayName": u["displayName"],
                        "userPrincipalName": u["userPrincipalName"]})
        return out

    # 28 Secure Score control profiles: (id, title, category, maxScore, service, tier,
    #                                    cost, userImpact, actionType, implemented fraction)
    CONTROL_PROFILES = [
        ("AdminMFAV2", "Ensure multifactor authentication is enabled for all users in administrative roles", "Identity", 10, "AzureAD", "Core", "Low", "Low", "Config", 1.0),
        ("MFARegistrationV2", "MFA Enforcement", "Identity", 9, "AzureAD", "Core", "Low", "Moderate", "Config", 0.84),
        ("BlockLegacyAuthentication", "Enable Conditional Access policies to block legacy authentication", "Identity", 8, "AzureAD", "Core", "Moderate", "Moderate", "Config", 1.0),
        ("SelfServicePasswordReset", "Enable self-service password reset", "Identity", 1, "AzureAD", "Core", "Low", "Low", "Config", 1.0),
        ("PWAgePolicyNew", "Set the password expiration policy to never expire", "Identity", 8, "AzureAD", "Core", "Low", "Low", "Config", 1.0),
        ("IntegratedApps", "Do not allow users to grant consent to unreliable applications", "Identity", 4, "AzureAD", "Core", "Moderate", "Moderate", "Config", 0.0),
        ("OneAdmin", "Designate more than one global admin", "Identity", 1, "AzureAD", "Core", "Low", "Low", "Config", 1.0),
        ("RoleOverlap", "Use least privileged administrative roles", "Identity", 1, "AzureAD", "Core", "Low", "Low", "Review", 0.0),
        ("SigninRiskPolicy", "Turn on sign-in risk policy", "Identity", 7, "AzureAD", "Defense in Depth", "Moderate", "Moderate", "Config", 0.0),
        ("UserRiskPolicy", "Turn on user risk policy", "Identity", 7, "AzureAD", "Defense in Depth", "Moderate", "Moderate", "Config", 0.0),
        ("aad_admin_accounts_separate_unassigned_cloud_only", "Ensure Administrative accounts are separate and cloud-only", "Identity", 3, "AzureAD", "Core", "Moderate", "Low", "Review", 0.0),
        ("mdo_safeattachments", "Turn on Safe Attachments in block mode", "Apps", 8, "MDO", "Core", "Low", "Low", "Config", 1.0),
        ("mdo_safelinksforemail", "Create Safe Links policies for email messages", "Apps", 9, "MDO", "Core", "Low", "Low", "Config", 1.0),
        ("mdo_antiphishingpolicies", "Set the phishing email level threshold at 2 or higher", "Apps", 9, "MDO", "Core", "Low", "Low", "Config", 0.5),
        ("mdo_atpprotection", "Turn on Microsoft Defender for Office 365 in SharePoint, OneDrive, and Microsoft Teams", "Apps", 5, "MDO", "Core", "Low", "Low", "Config", 1.0),
        ("exo_mailboxaudit", "Ensure mailbox auditing for all users is Enabled", "Apps", 5, "EXO", "Core", "Low", "Low", "Config", 1.0),
        ("exo_storageproviderrestricted", "Ensure additional storage providers are restricted in Outlook on the web", "Data", 2, "EXO", "Core", "Low", "Moderate", "Config", 0.0),
        ("exo_outlookaddins", "Ensure users installing Outlook add-ins is not allowed", "Apps", 2, "EXO", "Core", "Low", "Moderate", "Config", 0.0),
        ("exo_individualsharing", "Ensure calendar details sharing with external users is disabled", "Data", 3, "EXO", "Core", "Low", "Low", "Config", 1.0),
        ("spo_idle_session_timeout", "Ensure Idle Session Timeout is set to 3 hours or less for unmanaged devices", "Apps", 2, "SPO", "Core", "Low", "Moderate", "Config", 0.0),
        ("meeting_restrictanonymousjoin_v1", "Only people in my org can bypass the lobby", "Apps", 1, "Teams", "Core", "Low", "Moderate", "Config", 1.0),
        ("mip_sensitivitylabelspolicies", "Publish M365 sensitivity label data classification policies", "Data", 5, "MIP", "Defense in Depth", "Moderate", "Low", "Config", 0.0),
        ("DLPEnabled", "Turn on data loss prevention policies", "Data", 10, "MIP", "Defense in Depth", "Moderate", "Low", "Config", 0.0),
        ("CustomerLockBoxEnabled", "Turn on customer lockbox feature", "Data", 5, "EXO", "Advanced", "Low", "Low", "Config", 0.0),
        ("AuditLogSearch", "Turn on audit log search", "Apps", 3, "EXO", "Core", "Low", "Low", "Config", 1.0),
        ("scid_2010", "Turn on Microsoft Defender Antivirus real-time protection", "Device", 10, "MDATP", "Core", "Low", "Low", "Config", 0.96),
        ("scid_2090", "Encrypt all BitLocker-supported drives", "Device", 9, "MDATP", "Core", "Moderate", "Low", "Config", 0.64),
        ("scid_10", "Update Microsoft Windows 10 and 11", "Device", 10, "MDATP", "Core", "Moderate", "Moderate", "Config", 0.79),
    ]

    def graph_control_profiles(self):
        out = []
        for rank, (cid, title, cat, maxs, service, tier, cost, impact, atype, frac) in enumerate(self.CONTROL_PROFILES, 1):
            out.append({
                "id": cid, "azureTenantId": self.M365_TENANT_ID, "actionType": atype,
                "actionUrl": "https://security.microsoft.com/securescore?viewid=actions&actionId=%s" % cid,
                "controlCategory": cat, "title": title, "deprecated": False,
                "implementationCost": cost, "lastModifiedDateTime": self.ts(45 + rank % 7),
                "maxScore": float(maxs), "rank": rank,
                "remediation": "<p>%s.</p>" % title,
                "remediationImpact": "Users may notice a change when '%s' is enforced." % title,
                "service": service, "threats": ["accountBreach"] if cat == "Identity" else ["dataExfiltration"],
                "tier": tier, "userImpact": impact, "complianceInformation": None,
                "controlStateUpdates": [{"assignedTo": "", "comment": "", "state": "Default",
                                         "updatedBy": "", "updatedDateTime": self.ts(90)}],
                "vendorInformation": {"provider": "SecureScore", "providerVersion": None,
                                      "subProvider": None, "vendor": "Microsoft"},
            })
        return out

    def graph_secure_scores(self, days=7):
        out = []
        max_total = float(sum(p[3] for p in self.CONTROL_PROFILES))
        for d in range(days):
            drift = 1.0 - 0.004 * d
            controls = []
            current = 0.0
            for (cid, title, cat, maxs, *_rest, frac) in self.CONTROL_PROFILES:
                score = round(maxs * frac * (drift if frac < 1 else 1), 2)
                current += score
                controls.append({"controlCategory": cat, "controlName": cid,
                                 "description": title, "score": score,
                                 "scoreInPercentage": round(100.0 * score / maxs, 2),
                                 "implementationStatus": "Implemented" if frac >= 1 else
                                 ("Partially implemented" if frac > 0 else "Not implemented"),
                                 "lastSynced": self.ts(d)})
            out.append({
                "id": "%s_%s" % (self.M365_TENANT_ID, self.ts(d)[:10]),
                "azureTenantId": self.M365_TENANT_ID, "activeUserCount": 68,
                "createdDateTime": self.ts(d)[:10] + "T00:00:00Z",
                "currentScore": round(current, 2), "maxScore": max_total,
                "enabledServices": ["HasExchange", "HasSharePoint", "HasOD4B", "HasTeams", "HasMDATP"],
                "licensedUserCount": 70,
                "averageComparativeScores": [
                    {"basis": "AllTenants", "averageScore": 47.93},
                    {"basis": "TotalSeats", "averageScore": 51.2, "seatSizeRangeLowerValue": 26,
                     "seatSizeRangeUpperValue": 100}],
                "controlScores": controls,
                "vendorInformation": {"provider": "SecureScore", "providerVersion": None,
                                      "subProvider": None, "vendor": "Microsoft"},
            })
        return out

    def graph_alerts(self):
        users = self.graph_users()
        byname = {d["name"]: d for d in self.devices}
        specs = [
            ("Suspicious PowerShell command line", "high", "new", "Execution", ["T1059.001"],
             "WS-FRONT-02", 0.4, "truePositive", None),
            ("'Emotet' malware was detected", "medium", "resolved", "Malware", ["T1204.002"],
             "LT-DR-01", 11.0, "truePositive", "malware"),
            ("Ransomware behavior detected in the file system", "high", "inProgress", "Ransomware",
             ["T1486"], "SRV-IMAGING-01", 2.5, None, None),
            ("Suspicious connection blocked by network protection", "low", "resolved",
             "CommandAndControl", ["T1071"], "WS-HYG-02", 20.0, "falsePositive", "notMalicious"),
            ("Unexpected behavior observed by a process run with no command line arguments",
             "medium", "new", "DefenseEvasion", ["T1055"], "WS-ACCT-01", 1.2, None, None),
        ]
        out = []
        for k, (title, sev, status, cat, mitre, dev_name, days, classification, determination) in enumerate(specs):
            d = byname[dev_name]
            u = users[3 + 11 * k]
            aid = "da63%07d-%04x-4c2f-9e1b-%012x" % (k + 1, 0x1f0 + k, 0xabc000 + k)
            created = self.anchor - days * DAY
            out.append({
                "id": aid, "providerAlertId": aid[4:], "incidentId": str(3120 + k),
                "status": status, "severity": sev, "classification": classification,
                "determination": determination, "serviceSource": "microsoftDefenderForEndpoint",
                "detectionSource": "antivirus" if cat == "Malware" else "microsoftDefenderForEndpoint",
                "productName": "Microsoft Defender for Endpoint",
                "detectorId": "%08x-0000-4000-8000-%012x" % (0x7e57 + k, k),
                "tenantId": self.M365_TENANT_ID, "title": title,
                "description": "%s was observed on %s." % (title, dev_name),
                "recommendedActions": "Isolate the device if the activity was not expected; collect an investigation package.",
                "category": cat, "assignedTo": "Jordan Lopez" if status != "new" else None,
                "alertWebUrl": "https://security.microsoft.com/alerts/%s?tid=%s" % (aid, self.M365_TENANT_ID),
                "incidentWebUrl": "https://security.microsoft.com/incidents/%d?tid=%s" % (3120 + k, self.M365_TENANT_ID),
                "actorDisplayName": None, "threatDisplayName": "Emotet" if k == 1 else None,
                "threatFamilyName": "Emotet" if k == 1 else None, "mitreTechniques": mitre,
                "createdDateTime": utc_iso(created, millis=True),
                "lastUpdateDateTime": utc_iso(created + 3600 * (1 + k), millis=True),
                "resolvedDateTime": utc_iso(created + 7200, millis=True) if status == "resolved" else None,
                "firstActivityDateTime": utc_iso(created - 600, millis=True),
                "lastActivityDateTime": utc_iso(created - 60, millis=True),
                "comments": [], "systemTags": [],
                "evidence": [
                    {"@odata.type": "#microsoft.graph.security.deviceEvidence",
                     "createdDateTime": utc_iso(created, millis=True), "verdict": "suspicious",
                     "remediationStatus": "remediated" if status == "resolved" else "none",
                     "remediationStatusDetails": None, "roles": [], "tags": [],
                     "firstSeenDateTime": self.ts(400),
                     "mdeDeviceId": hashlib.sha1(d["serial"].encode()).hexdigest(),
                     "azureAdDeviceId": d["device_id"], "deviceDnsName": d["name"].lower() + ".contosodental.local",
                     "osPlatform": "WindowsServer2016" if "Server 2016" in d["os"] else
                                   ("WindowsServer2022" if "Server" in d["os"] else
                                    ("Windows10" if "10" in d["os"] else "Windows11")),
                     "osBuild": int(d["os_build"].split(".")[-1]), "version": d["os_build"],
                     "healthStatus": "active", "riskScore": sev, "rbacGroupId": 0,
                     "rbacGroupName": None, "onboardingStatus": "onboarded",
                     "defenderAvStatus": "updated",
                     "loggedOnUsers": [{"accountName": u["userPrincipalName"].split("@")[0],
                                        "domainName": "CONTOSO"}]},
                    {"@odata.type": "#microsoft.graph.security.userEvidence",
                     "createdDateTime": utc_iso(created, millis=True), "verdict": "unknown",
                     "remediationStatus": "none", "remediationStatusDetails": None,
                     "roles": [], "tags": [],
                     "userAccount": {"accountName": u["userPrincipalName"].split("@")[0],
                                     "domainName": "CONTOSO", "userSid": "S-1-5-21-1004336348-1177238915-682003330-%d" % (1100 + k),
                                     "azureAdUserId": u["id"], "userPrincipalName": u["userPrincipalName"],
                                     "displayName": u["displayName"]}},
                ],
            })
        return out
