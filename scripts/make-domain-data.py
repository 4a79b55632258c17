#!/usr/bin/env python3
"""Writes retune's own corporate-card domain dataset into fixtures/domain/.

The merchants, programs and categories below were written for retune (not copied from any
dataset). Each category lists merchants that clearly belong to it and "decoys": merchants whose
name suggests another category, where only the spend program, trip or department tells the
answer (a restaurant bill on a client program is Client Entertainment, on a team program Team
Meals). That ambiguity is what a generic model gets wrong and a fine-tune learns.

Deterministic: `python3 scripts/make-domain-data.py` rewrites the same files byte for byte.
"""
import json
import random
from pathlib import Path

CITIES = [
    "San Francisco, CA", "Seattle, WA", "Austin, TX", "New York, NY", "Boston, MA",
    "Chicago, IL", "Denver, CO", "Atlanta, GA", "Los Angeles, CA", "Portland, OR",
    "Toronto, ON", "London, UK", "Berlin, DE", "Remote",
]
TRIPS = [
    "Q2 Customer Visits - Chicago", "AWS re:Invent 2026", "Sales Kickoff Las Vegas",
    "Berlin Office Opening", "Onsite at Acme Health", "Board Meeting NYC",
    "Recruiting Tour - Austin", "Partner Summit London", "Seattle Design Sprint",
]

# category -> (description, departments, [(merchant, [merchant categories], (lo, hi))],
#              [spend programs], trip probability)
CATEGORIES = {
    "Software Subscriptions": (
        "Per-seat and annual licenses for business software used by employees.",
        ["Engineering", "Sales", "Marketing", "Finance", "HR", "Design"],
        [("Figma", ["Design Software", "SaaS"], (15, 900)),
         ("Notion Labs", ["Productivity Software", "SaaS"], (10, 1200)),
         ("JetBrains s.r.o.", ["Developer Tools", "Software"], (90, 2500)),
         ("Salesforce.com", ["CRM Software", "SaaS"], (150, 9000)),
         ("1Password", ["Security Software", "SaaS"], (8, 600)),
         ("Loom Inc", ["Video Software", "SaaS"], (12, 400)),
         ("Gusto", ["Payroll Software", "SaaS"], (40, 1500)),
         ("Datadog Inc", ["Monitoring Software", "SaaS"], (300, 7000))],
        ["Annual Software Renewals", "Team Tooling Budget", "New Hire Seats"], 0.0),
    "Cloud Hosting & Compute": (
        "Usage-based cloud infrastructure: servers, storage, databases, GPUs and bandwidth.",
        ["Engineering", "Data Science", "IT Operations"],
        [("Amazon Web Services", ["Cloud Computing", "Infrastructure"], (400, 48000)),
         ("Google Cloud", ["Cloud Computing", "Data Storage"], (200, 30000)),
         ("Microsoft Azure", ["Cloud Computing"], (150, 25000)),
         ("Lambda Labs", ["GPU Cloud", "Compute"], (800, 20000)),
         ("Hetzner Online", ["Dedicated Servers", "Hosting"], (60, 3000)),
         ("Snowflake Computing", ["Data Warehouse", "Cloud Services"], (500, 15000)),
         ("Datadog Inc", ["Log Ingestion", "Usage Billing"], (900, 12000)),
         ("Fly.io", ["App Hosting", "Cloud Computing"], (20, 900))],
        ["Production Infrastructure", "ML Training Compute", "Staging Environments"], 0.0),
    "Computer Hardware": (
        "Laptops, monitors, phones, peripherals and servers bought as equipment.",
        ["Engineering", "IT Operations", "Design", "Sales"],
        [("Apple Store", ["Computers", "Electronics"], (1200, 4200)),
         ("Dell Technologies", ["Computers", "Servers"], (700, 9000)),
         ("B&H Photo Video", ["Electronics", "Camera Equipment"], (150, 3500)),
         ("CDW Direct", ["IT Hardware Reseller"], (300, 12000)),
         ("Lenovo US", ["Computers"], (800, 2600)),
         ("Amazon.com", ["Online Retail", "Electronics"], (90, 1400)),
         ("Logitech", ["Computer Peripherals"], (60, 450)),
         ("Best Buy", ["Electronics Retail"], (80, 2200))],
        ["New Hire Equipment", "Laptop Refresh Cycle", "Lab Hardware"], 0.0),
    "Office Supplies": (
        "Consumables for the office: paper, pens, printer ink, small furniture and kitchen stock.",
        ["Operations", "Facilities", "HR", "Finance"],
        [("Staples", ["Office Supplies", "Retail"], (12, 400)),
         ("Office Depot", ["Office Supplies"], (15, 650)),
         ("Amazon.com", ["Online Retail"], (10, 300)),
         ("Uline", ["Packaging Supplies", "Office Supplies"], (40, 900)),
         ("Costco Business Center", ["Warehouse Club", "Groceries"], (60, 800)),
         ("IKEA", ["Furniture", "Home Goods"], (30, 1200)),
         ("W.B. Mason", ["Office Supplies", "Breakroom Supplies"], (25, 700))],
        ["Office Restock", "Breakroom Supplies", "Printer Consumables"], 0.0),
    "Airfare": (
        "Flights for business trips, including seat upgrades and change fees.",
        ["Sales", "Engineering", "Executive", "Customer Success", "Marketing"],
        [("United Airlines", ["Airline", "Travel"], (180, 2400)),
         ("Delta Air Lines", ["Airline"], (150, 2100)),
         ("Alaska Airlines", ["Airline"], (110, 900)),
         ("British Airways", ["Airline", "International Travel"], (600, 5200)),
         ("Southwest Airlines", ["Airline"], (90, 650)),
         ("Expedia", ["Online Travel Agency"], (200, 1800)),
         ("Navan", ["Corporate Travel Booking"], (220, 2600))],
        ["Business Travel", "Customer Onsite Travel", "Executive Travel"], 0.95),
    "Lodging": (
        "Hotel and short-stay accommodation while travelling for work.",
        ["Sales", "Engineering", "Executive", "Customer Success"],
        [("Marriott Hotels", ["Hotel", "Lodging"], (160, 1900)),
         ("Hilton Garden Inn", ["Hotel"], (130, 1200)),
         ("Hyatt Regency", ["Hotel", "Lodging"], (190, 2300)),
         ("Airbnb", ["Vacation Rental", "Lodging"], (140, 2800)),
         ("Booking.com", ["Online Travel Agency", "Hotel"], (110, 1500)),
         ("Ace Hotel", ["Boutique Hotel"], (210, 1300)),
         ("Navan", ["Corporate Travel Booking", "Hotel"], (180, 1700))],
        ["Business Travel", "Customer Onsite Travel", "Relocation Temporary Housing"], 0.9),
    "Ground Transportation": (
        "Taxis, rideshare, trains, rental cars, parking and tolls during work travel.",
        ["Sales", "Engineering", "Executive", "Customer Success", "Operations"],
        [("Uber", ["Rideshare", "Transportation"], (9, 140)),
         ("Lyft", ["Rideshare"], (8, 120)),
         ("Amtrak", ["Rail Travel"], (40, 390)),
         ("Hertz Car Rental", ["Car Rental"], (90, 900)),
         ("SpotHero", ["Parking"], (12, 85)),
         ("Yellow Cab Co", ["Taxi"], (15, 90)),
         ("Enterprise Rent-A-Car", ["Car Rental"], (70, 700))],
        ["Business Travel", "Customer Onsite Travel", "Late Night Rides Home"], 0.75),
    "Team Meals": (
        "Food for employees only: team lunches, late-night dinners, offsite catering.",
        ["Engineering", "Design", "Operations", "Data Science", "Marketing"],
        [("DoorDash", ["Food Delivery"], (40, 600)),
         ("Uber Eats", ["Food Delivery"], (30, 450)),
         ("Sweetgreen", ["Restaurant", "Fast Casual"], (60, 480)),
         ("ezCater", ["Catering"], (200, 2400)),
         ("The Cheesecake Factory", ["Restaurant"], (120, 900)),
         ("Blue Bottle Coffee", ["Coffee Shop"], (15, 160)),
         ("Le Bernardin", ["Fine Dining", "Restaurant"], (300, 1800))],
        ["Team Lunch Program", "Release Night Dinner", "Engineering Offsite", "Sprint Demo Catering"], 0.1),
    "Client Entertainment": (
        "Meals, drinks, tickets and gifts for customers, prospects and partners.",
        ["Sales", "Executive", "Customer Success", "Partnerships"],
        [("Le Bernardin", ["Fine Dining", "Restaurant"], (400, 3200)),
         ("The Capital Grille", ["Steakhouse", "Restaurant"], (250, 2200)),
         ("Topgolf", ["Entertainment Venue"], (300, 1800)),
         ("Ticketmaster", ["Event Tickets"], (180, 2400)),
         ("Sweetgreen", ["Restaurant", "Fast Casual"], (40, 220)),
         ("Harry & David", ["Gift Baskets"], (60, 900)),
         ("Uber Eats", ["Food Delivery"], (80, 400))],
        ["Client Dinner Budget", "Prospect Hospitality", "Customer Appreciation Gifts", "Partner Relations"], 0.3),
    "Conferences & Events": (
        "Tickets, booths and sponsorships for industry conferences and trade shows.",
        ["Marketing", "Sales", "Engineering", "Developer Relations"],
        [("Eventbrite", ["Event Tickets", "Conference Registration"], (90, 1800)),
         ("Cvent", ["Event Management"], (1500, 25000)),
         ("AWS Events", ["Conference Registration"], (900, 2200)),
         ("Hyatt Regency", ["Hotel", "Event Venue"], (2500, 18000)),
         ("Marriott Hotels", ["Event Venue", "Meeting Rooms"], (1800, 14000)),
         ("Freeman Company", ["Trade Show Services", "Booth Construction"], (3000, 28000)),
         ("Hopin", ["Virtual Events", "SaaS"], (400, 6000))],
        ["Conference Sponsorships", "Trade Show Booth", "Sales Kickoff Event", "Developer Summit"], 0.35),
    "Training & Education": (
        "Courses, certifications, books and workshops that build employee skills.",
        ["Engineering", "Data Science", "HR", "Finance", "Sales"],
        [("Coursera", ["Online Learning"], (49, 900)),
         ("O'Reilly Media", ["Technical Books", "Online Learning"], (40, 6000)),
         ("Udemy Business", ["Online Learning", "SaaS"], (30, 3600)),
         ("AWS Training and Certification", ["Certification Exams"], (150, 300)),
         ("Eventbrite", ["Workshop Tickets"], (60, 700)),
         ("Stanford Continuing Studies", ["University Courses"], (500, 2800)),
         ("Amazon.com", ["Books"], (15, 180))],
        ["Learning & Development Stipend", "Certification Program", "Leadership Training"], 0.05),
    "Advertising & Marketing": (
        "Paid ads, sponsored content, printed collateral and branded swag.",
        ["Marketing", "Growth", "Sales"],
        [("Google Ads", ["Online Advertising"], (500, 40000)),
         ("LinkedIn Marketing Solutions", ["Online Advertising", "Social Media"], (400, 22000)),
         ("Meta Platforms", ["Social Media Advertising"], (300, 18000)),
         ("Vistaprint", ["Printing Services"], (60, 1500)),
         ("Sticker Mule", ["Custom Printing", "Promotional Products"], (90, 2500)),
         ("Reddit Ads", ["Online Advertising"], (200, 8000)),
         ("Podcast One", ["Audio Sponsorship"], (2000, 15000))],
        ["Demand Generation", "Brand Campaign Q3", "Product Launch Marketing", "Swag Budget"], 0.0),
    "Professional Services": (
        "Legal, accounting, audit, tax and management consulting firms.",
        ["Finance", "Legal", "Executive", "HR"],
        [("Cooley LLP", ["Legal Services"], (2500, 60000)),
         ("Deloitte", ["Accounting", "Consulting"], (5000, 80000)),
         ("Carta", ["Equity Management", "Valuation Services"], (1200, 18000)),
         ("Baker McKenzie", ["Legal Services", "Immigration Law"], (1800, 30000)),
         ("Bain & Company", ["Management Consulting"], (10000, 90000)),
         ("Pilot.com", ["Bookkeeping", "Tax Preparation"], (500, 6000)),
         ("LegalZoom", ["Legal Document Services"], (100, 1500))],
        ["Annual Audit", "Board & Governance", "Immigration Filings", "Corporate Legal"], 0.0),
    "Recruiting & Hiring": (
        "Job ads, recruiting agencies, background checks and candidate travel.",
        ["HR", "Recruiting", "Engineering"],
        [("LinkedIn Talent Solutions", ["Job Postings", "Recruiting Software"], (500, 12000)),
         ("Greenhouse Software", ["Applicant Tracking", "SaaS"], (800, 9000)),
         ("Hired Inc", ["Recruiting Marketplace"], (2000, 25000)),
         ("Checkr", ["Background Checks"], (30, 900)),
         ("Indeed", ["Job Board"], (100, 4000)),
         ("United Airlines", ["Airline"], (200, 900)),
         ("Marriott Hotels", ["Hotel"], (150, 600))],
        ["Engineering Hiring Plan", "Candidate Onsite Travel", "Agency Placement Fees"], 0.15),
    "Shipping & Postage": (
        "Couriers, freight and postage for sending equipment, documents and swag.",
        ["Operations", "IT Operations", "Marketing", "Sales"],
        [("FedEx", ["Courier", "Shipping"], (15, 1400)),
         ("UPS", ["Courier", "Shipping"], (12, 1200)),
         ("USPS", ["Postage"], (5, 300)),
         ("DHL Express", ["International Shipping"], (45, 2200)),
         ("Shippo", ["Shipping Software", "Postage"], (20, 700)),
         ("Uline", ["Shipping Supplies"], (60, 800))],
        ["Laptop Returns", "Customer Swag Shipments", "Contract Courier", "Office Moves"], 0.0),
    "Telecommunications": (
        "Mobile phone plans, office internet, conferencing lines and phone numbers.",
        ["IT Operations", "Sales", "Operations", "Customer Success"],
        [("Verizon Wireless", ["Mobile Carrier"], (60, 4500)),
         ("AT&T Business", ["Telecom", "Internet Service"], (120, 3800)),
         ("Comcast Business", ["Internet Service"], (150, 1400)),
         ("Twilio", ["Communications API", "Telephony"], (50, 9000)),
         ("Zoom Video Communications", ["Video Conferencing", "Phone System"], (20, 2500)),
         ("T-Mobile for Business", ["Mobile Carrier"], (50, 3200)),
         ("Gogo Inflight", ["Inflight Wi-Fi"], (9, 60))],
        ["Company Mobile Plans", "Office Connectivity", "Support Phone Lines"], 0.1),
    "Facilities & Maintenance": (
        "Office rent add-ons, cleaning, repairs, security and building services.",
        ["Facilities", "Operations"],
        [("WeWork", ["Coworking Space", "Office Rental"], (400, 18000)),
         ("ABM Industries", ["Janitorial Services"], (600, 6000)),
         ("The Home Depot", ["Hardware Store", "Home Improvement"], (20, 1600)),
         ("Brivo", ["Access Control", "Security Systems"], (300, 4000)),
         ("Cintas", ["Facility Services", "Uniforms"], (90, 1500)),
         ("TaskRabbit", ["Handyman Services"], (80, 700)),
         ("IKEA", ["Furniture"], (400, 7000))],
        ["Office Operations", "Building Repairs", "New Office Buildout"], 0.0),
    "Employee Wellness & Perks": (
        "Benefits-style spend: gym stipends, wellness apps, celebrations and gifts for staff.",
        ["HR", "People Operations"],
        [("ClassPass", ["Fitness Membership"], (30, 2400)),
         ("Headspace for Work", ["Wellness App", "SaaS"], (70, 3000)),
         ("Equinox", ["Gym"], (180, 2600)),
         ("Snackpass", ["Food Ordering"], (50, 900)),
         ("Sugarwish", ["Gifts", "Candy"], (25, 1200)),
         ("Ticketmaster", ["Event Tickets"], (150, 2500)),
         ("DoorDash", ["Food Delivery"], (100, 900))],
        ["Wellness Stipend", "Employee Appreciation", "Holiday Party", "Work Anniversary Gifts"], 0.0),
    "Dues & Memberships": (
        "Professional association dues, industry group memberships and club fees.",
        ["Executive", "Legal", "Finance", "Engineering", "Sales"],
        [("IEEE", ["Professional Association"], (120, 400)),
         ("ACM", ["Professional Association"], (99, 300)),
         ("Chamber of Commerce", ["Business Association"], (300, 2500)),
         ("State Bar of California", ["Legal Licensing", "Professional Dues"], (400, 900)),
         ("AICPA", ["Accounting Association"], (250, 600)),
         ("Costco Business Center", ["Warehouse Club Membership"], (65, 130)),
         ("Amazon Business Prime", ["Membership Fee"], (69, 1299))],
        ["Professional Dues", "Executive Memberships", "Annual Memberships"], 0.0),
    "Contractors & Freelancers": (
        "Individual contractors and freelance marketplaces paid for project work.",
        ["Engineering", "Design", "Marketing", "Data Science"],
        [("Upwork", ["Freelance Marketplace"], (200, 9000)),
         ("Toptal", ["Freelance Developers"], (3000, 30000)),
         ("Fiverr", ["Freelance Marketplace"], (40, 2000)),
         ("Deel Inc", ["Contractor Payments", "EOR Services"], (2000, 25000)),
         ("99designs", ["Design Contests"], (300, 1500)),
         ("Scale AI", ["Data Labeling Services"], (1500, 40000)),
         ("Contra", ["Freelance Platform"], (500, 8000))],
        ["Contract Design Work", "Data Labeling Project", "Temporary Engineering Help"], 0.0),
}

PER_CATEGORY = 15


def amount(rng, lo, hi):
    value = rng.uniform(lo, hi)
    # Card data mixes round invoices with odd totals.
    if rng.random() < 0.3:
        return float(round(value, -1) or lo)
    return round(value, 2)


def main():
    rng = random.Random(20261201)
    out = Path(__file__).resolve().parent.parent / "fixtures" / "domain"
    out.mkdir(parents=True, exist_ok=True)
    categories = []
    records = []
    seen = set()
    for name, (description, departments, merchants, programs, trip_p) in CATEGORIES.items():
        samples = [m[0] for m in merchants[:5]]
        categories.append({
            "category": name,
            "description": description,
            "sample_transactions": samples,
            "departments": departments,
        })
        made = 0
        while made < PER_CATEGORY:
            merchant, mcats, (lo, hi) = rng.choice(merchants)
            program = rng.choice(programs)
            dept = rng.choice(departments)
            key = (merchant, program, dept)
            if key in seen:
                continue
            seen.add(key)
            records.append({
                "merchant_name": merchant,
                "merchant_category": mcats,
                "department": dept,
                "location": rng.choice(CITIES),
                "amount": amount(rng, lo, hi),
                "spend_program_name": program,
                "trip_name": rng.choice(TRIPS) if rng.random() < trip_p else None,
                "expense_category": name,
            })
            made += 1
    rng.shuffle(records)
    (out / "categories.json").write_text(json.dumps(categories, indent=2) + "\n")
    with open(out / "transactions.jsonl", "w") as f:
        for r in records:
            f.write(json.dumps(r, separators=(",", ":")) + "\n")
    print(f"wrote {len(categories)} categories and {len(records)} transactions to {out}")


if __name__ == "__main__":
    main()
