"""The console's navigation: one line per area, shown only to roles with its capability.

An area adds its entry to ``CITY_NAV`` (pages of one city, paths relative to
``/console/c/{city}/``) or ``VENDOR_NAV`` (platform pages, relative to ``/console/vendor/``).
Labels are English message ids translated through the console catalog.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class NavItem:
    """A link in the navigation and on the home page.

    Parameters:
        key: a stable id (the link's ``id`` is ``nav-{key}``, tests rely on it).
        label: English message id.
        path: relative to the city console (or the vendor console).
        capability: what the role must allow.
        description: one sentence for the home page (English message id).
    """

    key: str
    label: str
    path: str
    capability: str
    description: str = ""


CITY_NAV: list[NavItem] = [
    NavItem(
        "staff", "Staff accounts", "staff", "staff.manage", "Create accounts, set roles and scopes, reset passwords."
    ),
    NavItem(
        "settings",
        "City settings",
        "settings",
        "city.configure",
        "Rules, branding, districts, plugins and single sign-on.",
    ),
    NavItem("audit", "Audit log", "audit", "audit.view", "Who changed what, and when."),
    NavItem(
        "agent",
        "Call centre",
        "agent",
        "agent.assist",
        "Find a caller, check their identity, book, cancel or move for them.",
    ),
    NavItem(
        "import",
        "Import catalogue",
        "import",
        "import.run",
        "Hospitals, departments, doctors and fees from CSV or XLSX files.",
    ),
    NavItem(
        "clinic", "In-clinic booking", "clinic", "booking.clinic", "Book a patient's follow-up into your own sessions."
    ),
    NavItem(
        "referral",
        "Referrals",
        "referral",
        "booking.referral",
        "Refer a patient to a hospital and follow the referral to the visit.",
    ),
    NavItem(
        "catalogue",
        "Hospitals",
        "catalogue",
        "hospital.manage",
        "Hospitals, campuses, departments, doctors and registration fees.",
    ),
    NavItem(
        "schedule",
        "Schedule",
        "schedule",
        "schedule.manage",
        "Sessions and their pools, booking lists and check-in, suspensions and moves.",
    ),
    NavItem(
        "templates",
        "Weekly templates",
        "templates",
        "schedule.manage",
        "Weekly templates of each doctor, and sessions generated from them.",
    ),
    NavItem(
        "hospital-complaints",
        "Complaints",
        "hospital/complaints",
        "complaints.handle",
        "Patients' complaints about the hospital: reply and close.",
    ),
    NavItem(
        "hospital-stats",
        "Hospital statistics",
        "hospital/stats",
        "reports.view",
        "Bookings by day and department, and no-show rates.",
    ),
    NavItem(
        "dashboards",
        "Dashboards",
        "dashboards",
        "reports.view",
        "Bookings, no-shows, slots, complaints, satisfaction and referrals of your region, with charts and exports.",
    ),
    NavItem(
        "deliveries",
        "Deliveries",
        "deliveries",
        "deliveries.manage",
        "HIS pushes, refunds and messages still to go out or failing: retry or abandon them.",
    ),
    NavItem(
        "broadcasts",
        "Broadcasts",
        "broadcasts",
        "broadcasts.send",
        "Send a notice to everyone booked in a session, a department or a hospital on a day, and follow each message.",
    ),
    NavItem(
        "his",
        "Hospital systems",
        "his",
        "deliveries.manage",
        "Each hospital's HIS: last schedule pull, pushes owed, health; sync now and compare a day.",
    ),
    NavItem(
        "api-clients",
        "Third-party applications",
        "api-clients",
        "city.configure",
        "Applications that book through the FHIR scheduling API: client credentials, scopes, quotas.",
    ),
    NavItem(
        "finance",
        "Finance",
        "finance",
        "deliveries.manage",
        "Providers' daily statements against the platform's payments and refunds: totals, mismatches, re-query, export.",
    ),
    NavItem(
        "scalpers",
        "Suspected scalpers",
        "scalpers",
        "scalpers.view",
        "Accounts registered together from one address or browser, and members who book and soon cancel.",
    ),
    NavItem(
        "licensing",
        "Licence and billing",
        "licensing/",
        "licensing.view",
        "The city's contract with the vendor, its usage month by month, its invoices and its licence.",
    ),
]

VENDOR_NAV: list[NavItem] = [
    NavItem("cities", "Cities", "", "vendor.manage", "Every city platform; create a city or enter its console."),
    NavItem("vendor-audit", "Audit log (all cities)", "audit", "vendor.manage", "Search staff actions across cities."),
    NavItem("vendor-plugins", "Plugins", "plugins", "vendor.manage",
            "Installed plugins, their versions and the cities using them; broken ones and why."),
    NavItem("vendor-contracts", "Contracts", "contracts", "vendor.manage",
            "Every city's contract; set a new version (an amendment) with its terms."),
    NavItem("vendor-invoices", "Invoices", "invoices", "vendor.manage",
            "Invoice runs, drafts to finalize, payments, voids and credit notes; the seller on invoices."),
    NavItem("vendor-licences", "Licences", "licences", "vendor.manage",
            "Every city's licence: its state, limits and overage; install a signed licence, renew or revoke."),
    NavItem("vendor-usage", "Usage", "usage", "vendor.manage", "Every city's metered usage for a month."),
]


def navigation(principal, city, _) -> list[dict]:
    """The links ``principal`` may follow, as ``{key, label, href, description}``."""
    if city is not None:
        items, base = CITY_NAV, f"/console/c/{city.slug}/"
    else:
        items, base = VENDOR_NAV, "/console/vendor/"
    return [
        {"key": i.key, "label": _(i.label), "href": base + i.path, "description": _(i.description) if i.description else ""}
        for i in items
        if principal.can(i.capability)
    ]
