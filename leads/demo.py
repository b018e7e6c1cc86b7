"""Deterministic demo data for Leadgauge, and the hidden truth behind it.

`DemoDataset(seed=..., n_leads=..., months=..., now=...)` draws plausible accounts, leads and
activity from one `random.Random(seed)`: the same seed and sizes always give the same data (only
shifted in time with `now`). `seed_demo_data()` writes it with `bulk_create`; `ensure_demo_users()`
creates the demo logins. `manage.py seed_demo` calls both.

What the data looks like
------------------------
- Accounts in software, logistics, fintech, healthcare, retail, education, manufacturing and
  professional services; employee counts log-normal (median about 90, a few enterprises),
  revenue = employees x the industry's revenue per employee x noise; countries weighted to
  US, GB, CA, DE, FR; technologies; funding stage consistent with size. Companies use one e-mail
  pattern each (first.last@, flast@, ...). `rivalco.com` is the competitor of the rule set.
- Leads from Student and Intern to Manager, Director, Head of, VP and C-level; about 15 % with a
  free-mail address (students mostly); sources website, webinar, paid_search, linkedin, event,
  referral, partner; created over the last `months`, a little more often recently.
- Activity from each lead's creation to now: a first touch that matches its source, background
  activity whose rate is log-normal per lead (most leads have a handful, about 1 % are heavy
  readers with hundreds), mostly e-mail opens, then page views (/, /blog/..., /product/...,
  rarely /pricing and /careers), clicks, e-book downloads, webinars. On top of that, a hidden
  profile per lead: *in market* (more likely for good fit) gives a buying burst of pricing views,
  case-study and ROI-calculator downloads and, often, a demo request or trial signup;
  *researcher* gives e-books, blog posts and webinars; *job seeker* gives /careers views. A few
  leads unsubscribe, after which e-mail activity stops. Every activity has a source (marketo,
  web, app, zoom, salesforce) and an external_id unique within it.
- Dana Whitfield (dana@northwind-logistics.com, VP Marketing at Northwind Logistics, 300
  employees, US) is always lead 0: a demo request 3 days ago, three /pricing views in the last
  two weeks and regular e-mail opens, so the default rule set puts her in A1.

The hidden truth
----------------
Nothing below is stored on the lead. `demo_truth(row)` is the probability that the lead becomes
a customer if sales works it, a logistic function of what is observable about it (`TruthRow`:
title, size, industry, e-mail domain and activity counts up to some instant). Later demo steps
(dispositions, opportunities, won/lost) draw from it, so a calibration can rediscover it:

    p = 0 for students and interns (title word student, intern, internship, trainee) and for
        the competitor's domain; otherwise
    p = sigmoid(-7.0
                + 1.3 senior title (vp, svp, evp, vice president, director, head of, chief,
                      cmo, cto, cro, ceo, coo, cfo, founder)  | + 0.6 manager | - 0.3 no title
                + 1.0 50-2000 employees | + 0.3 2001-4999 | - 0.4 5000+ | - 1.2 under 20
                      | - 0.3 unknown
                + 0.8 software, logistics, fintech or healthcare | + 0.2 manufacturing
                      | - 0.8 education
                - 2.0 free-mail address
                + 2.6 any demo request      + 1.0 any trial signup
                + 0.7 per case-study / ROI-calculator download (at most 3)
                + 0.3 per /pricing view (at most 4)
                + 0.25 per webinar attended (at most 2)   + 0.1 per e-mail click (at most 3)
                - 1.0 any /careers view     - 2.0 unsubscribed)

E-mail opens, e-book downloads, blog views and the country predict nothing. Where this departs
from the default rule set is what a calibration should find: healthcare buys but is not a
target industry, 5000+ employees earn +8 points but buy less, CTO/CEO/COO and founders are senior
but the title rule misses them, North America and e-mail opens earn points for nothing, and
webinars earn far more points than they are worth. Scored as of seeding with the default rule
set, leads in A1 buy with p of about 0.5, A2/B1 about 0.2-0.3, C3 under 0.01.

`truth_rows(leads, as_of=T)` builds the rows from the database in one query (activities up to
T, for example a handoff's creation); `truth_row_from_activities()` builds one in memory.
"""

from __future__ import annotations

import math
import random
import re
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field, fields
from datetime import datetime, timedelta
from decimal import Decimal
from functools import reduce
from itertools import accumulate
from operator import or_
from typing import Any

from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import Group, User
from django.db import transaction
from django.db.models import Count, F, Q, QuerySet
from django.utils import timezone

from feedback.models import SdrProfile
from feedback.roles import MANAGER, MARKETING, SDR

from .free_mail import is_free_mail
from .models import Account, Activity, Lead

DEMO_PASSWORD = "leadgauge-demo"
COMPETITOR_DOMAIN = "rivalco.com"
DANA_EMAIL = "dana@northwind-logistics.com"
DAY = 86_400.0

# One activity while it is being generated: (age in days, kind, url, properties).
Event = tuple[float, str, str, dict[str, Any]]

# --------------------------------------------------------------------------------------------
# The hidden truth
# --------------------------------------------------------------------------------------------

_NEVER_BUYS = re.compile(r"\b(student|intern|internship|trainee)\b", re.IGNORECASE)
_SENIOR = re.compile(
    r"\b(vp|svp|evp|vice president|director|head of|chief|cmo|cto|cro|ceo|coo|cfo|founder)\b",
    re.IGNORECASE,
)
_MANAGER = re.compile(r"\bmanager\b", re.IGNORECASE)
_TARGET_INDUSTRIES = {"software", "logistics", "fintech", "healthcare"}


@dataclass(frozen=True, slots=True)
class TruthRow:
    """What `demo_truth` looks at: the lead's fit fields and its activity counts."""

    title: str = ""
    employee_count: int | None = None
    industry: str = ""
    email_domain: str = ""
    email_is_free: bool = False
    demo_requests: int = 0
    trial_signups: int = 0
    case_study_downloads: int = 0
    pricing_views: int = 0
    webinars_attended: int = 0
    email_clicks: int = 0
    careers_views: int = 0
    unsubscribes: int = 0
    # Carried so callers can show they do not matter; demo_truth ignores them.
    email_opens: int = 0
    ebook_downloads: int = 0
    blog_views: int = 0


_TRUTH_FIELDS = tuple(f.name for f in fields(TruthRow))
_COUNT_FIELDS = _TRUTH_FIELDS[5:]


def activity_feature(kind: str, url: str) -> str | None:
    """The TruthRow counter an activity adds to, or None when the truth ignores it."""
    url = (url or "").lower()
    if kind == "page_view":
        if "/pricing" in url:
            return "pricing_views"
        if "/careers" in url:
            return "careers_views"
        if "/blog/" in url:
            return "blog_views"
        return None
    if kind == "content_download":
        if "/case-studies/" in url or "/roi-calculator" in url:
            return "case_study_downloads"
        if "/ebooks/" in url:
            return "ebook_downloads"
        return None
    return {
        "demo_request": "demo_requests",
        "trial_signup": "trial_signups",
        "webinar_attended": "webinars_attended",
        "email_click": "email_clicks",
        "email_open": "email_opens",
        "unsubscribe": "unsubscribes",
    }.get(kind)


def truth_row_from_activities(
    activities: Iterable[tuple[str, str]], **lead_fields: Any
) -> TruthRow:
    """A TruthRow from the lead's fit fields and its (kind, url) activities."""
    counts = dict.fromkeys(_COUNT_FIELDS, 0)
    for kind, url in activities:
        feature = activity_feature(kind, url)
        if feature:
            counts[feature] += 1
    return TruthRow(**lead_fields, **counts)


def demo_truth(row: TruthRow | Mapping[str, Any]) -> float:
    """The probability (0-1) that this lead buys if sales works it. See the module docstring."""
    if not isinstance(row, TruthRow):
        row = TruthRow(**{k: row[k] for k in _TRUTH_FIELDS if k in row and row[k] is not None})
    title = row.title or ""
    if _NEVER_BUYS.search(title) or row.email_domain.lower() == COMPETITOR_DOMAIN:
        return 0.0
    x = -7.0
    if _SENIOR.search(title):
        x += 1.3
    elif _MANAGER.search(title):
        x += 0.6
    elif not title.strip():
        x -= 0.3
    size = row.employee_count
    if size is None:
        x -= 0.3
    elif size < 20:
        x -= 1.2
    elif 50 <= size <= 2000:
        x += 1.0
    elif 2000 < size < 5000:
        x += 0.3
    elif size >= 5000:
        x -= 0.4
    industry = (row.industry or "").strip().lower()
    if industry in _TARGET_INDUSTRIES:
        x += 0.8
    elif industry == "manufacturing":
        x += 0.2
    elif industry == "education":
        x -= 0.8
    if row.email_is_free:
        x -= 2.0
    x += 2.6 * (row.demo_requests > 0) + 1.0 * (row.trial_signups > 0)
    x += 0.7 * min(row.case_study_downloads, 3) + 0.3 * min(row.pricing_views, 4)
    x += 0.25 * min(row.webinars_attended, 2) + 0.1 * min(row.email_clicks, 3)
    x -= 1.0 * (row.careers_views > 0) + 2.0 * (row.unsubscribes > 0)
    return 1.0 / (1.0 + math.exp(-x))


def truth_rows(
    leads: QuerySet[Lead] | None = None, *, as_of: datetime | None = None
) -> dict[int, TruthRow]:
    """TruthRows by lead id, from the database in one aggregate query (activities <= as_of)."""
    when = Q(activities__occurred_at__lte=as_of) if as_of else Q()

    def count(kind: str, *urls: str) -> Count:
        condition = when & Q(activities__kind=kind)
        if urls:
            condition &= reduce(or_, (Q(activities__url__icontains=u) for u in urls))
        return Count("activities", filter=condition)

    qs = (
        (leads if leads is not None else Lead.objects.all())
        .order_by()
        .annotate(
            demo_requests=count("demo_request"),
            trial_signups=count("trial_signup"),
            case_study_downloads=count("content_download", "/case-studies/", "/roi-calculator"),
            pricing_views=count("page_view", "/pricing"),
            webinars_attended=count("webinar_attended"),
            email_clicks=count("email_click"),
            careers_views=count("page_view", "/careers"),
            unsubscribes=count("unsubscribe"),
            email_opens=count("email_open"),
            ebook_downloads=count("content_download", "/ebooks/"),
            blog_views=count("page_view", "/blog/"),
        )
    )
    lead_fields = ("pk", "title", "email_domain", "email_is_free")
    account_fields = ("account__employee_count", "account__industry")
    rows = qs.values(*lead_fields, *account_fields, *_COUNT_FIELDS)
    return {
        r["pk"]: TruthRow(
            title=r["title"],
            employee_count=r["account__employee_count"],
            industry=r["account__industry"] or "",
            email_domain=r["email_domain"],
            email_is_free=r["email_is_free"],
            **{k: r[k] for k in _COUNT_FIELDS},
        )
        for r in rows
    }


# --------------------------------------------------------------------------------------------
# Word lists
# --------------------------------------------------------------------------------------------


def _words(text: str, sep: str | None = None) -> tuple[str, ...]:
    """A tuple from a long string: keeps the lists below compact and readable."""
    return tuple(w.strip() for w in text.split(sep) if w.strip())


def _weighted(text: str) -> tuple[list[str], list[float]]:
    """'a:3 b:1' -> (['a', 'b'], cumulative weights [3, 4]) for rng.choices(cum_weights=...)."""
    pairs = [w.rsplit(":", 1) for w in text.split()]
    return [name for name, _ in pairs], list(accumulate(float(weight) for _, weight in pairs))


FIRST_NAMES = _words("""
    James Mary Robert Patricia John Jennifer Michael Linda David Elizabeth William Barbara
    Richard Susan Joseph Jessica Thomas Sarah Charles Karen Daniel Lisa Matthew Nancy Anthony
    Betty Mark Sandra Steven Ashley Andrew Emily Joshua Michelle Kevin Amanda Brian Melissa
    Ryan Stephanie Jacob Rebecca Nicholas Laura Eric Amy Jonathan Angela Justin Rachel Brandon
    Samantha Benjamin Katherine Samuel Hannah Gregory Olivia Alexander Emma Patrick Sophia
    Tyler Chloe Aaron Grace Nathan Zoe Adam Nora Ethan Maya Lucas Isabel Noah Leah Oliver
    Priya Aisha Mei Yuki Fatima Ana Lucia Ingrid Freya Sofia Elena Amara Leila Chen Wei Raj
    Arjun Vikram Omar Hassan Kenji Hiroshi Diego Mateo Luca Marco Pierre Louis Hugo Felix Lars
    Sven Jonas Tobias Niklas Henrik Mohammed Ali Tariq Kwame Kofi Tunde Sipho Nikhil Rohan
    Siobhan Aoife Ciaran Declan Camille Manon Chiara Giulia Anja Katja
""")
LAST_NAMES = _words("""
    Smith Johnson Williams Brown Jones Garcia Miller Davis Rodriguez Martinez Hernandez Lopez
    Gonzalez Wilson Anderson Thomas Taylor Moore Jackson Martin Lee Perez Thompson White Harris
    Sanchez Clark Ramirez Lewis Robinson Walker Young Allen King Wright Scott Torres Nguyen Hill
    Flores Green Adams Nelson Baker Hall Rivera Campbell Mitchell Carter Roberts Patel Shah
    Kumar Singh Gupta Chen Wang Li Zhang Liu Tanaka Sato Suzuki Kim Park Choi Müller Schmidt
    Schneider Fischer Weber Meyer Wagner Becker Dubois Bernard Lefebvre Moreau Laurent
    Rossi Russo Ferrari Esposito Bianchi Romano Jensen Nielsen Hansen Larsen Andersson
    Johansson Karlsson Novak Kowalski Nowak Murphy Kelly O'Brien Byrne Walsh Okafor Mensah
    Adeyemi Diallo Haddad Khan Rahman Ahmed Hussain Silva Santos Oliveira Costa Pereira
    Fernandes Cohen Levi Friedman Holloway Prescott Ashby Thornton Whitaker Sinclair
    Fairbanks Calloway Donnelly Brennan Gallagher Lindqvist Bergstrom Ivanova Petrov Novikov
""")


def _titles(text: str) -> tuple[str, ...]:
    """Like _words, for names with spaces: separated by |."""
    return _words(text, "|")


IC_TITLES = _titles("""
    Marketing Coordinator | Marketing Specialist | Sales Development Representative |
    Account Executive | Data Analyst | Business Analyst | Software Engineer |
    Operations Analyst | Content Strategist | Customer Success Specialist | Consultant |
    Logistics Coordinator | Financial Analyst | Product Designer |
    Revenue Operations Analyst | Buyer | Procurement Specialist
""")
MANAGER_TITLES = _titles("""
    Marketing Manager | Demand Generation Manager | Product Marketing Manager |
    Sales Manager | Operations Manager | Marketing Operations Manager |
    Senior Manager, Growth | Engineering Manager | IT Manager | Supply Chain Manager |
    Account Manager | Project Manager
""")
DIRECTOR_TITLES = _titles("""
    Director of Marketing | Marketing Director | Director, Demand Generation |
    Director of Sales | Director of Operations | IT Director |
    Senior Director, Revenue Operations | Director of Engineering
""")
HEAD_TITLES = _titles("""
    Head of Marketing | Head of Growth | Head of Sales | Head of Operations |
    Head of Revenue Operations
""")
VP_TITLES = _titles("""
    VP Marketing | VP Sales | VP of Operations | Vice President, Marketing | SVP Sales |
    VP Engineering | VP Revenue Operations
""")
C_LEVEL_TITLES = _titles("""
    CMO | CTO | CRO | CEO | COO | Chief Marketing Officer | Chief Revenue Officer |
    Founder & CEO | Co-founder
""")

# (level, weight, titles): the ladder from Student to C-level.
TITLE_LEVELS: tuple[tuple[str, float, tuple[str, ...]], ...] = (
    ("student", 0.045, _titles("Student | Graduate Student | MBA Student | PhD Student")),
    ("intern", 0.03, _titles("Marketing Intern | Sales Intern | Intern | Summer Intern")),
    ("ic", 0.36, IC_TITLES),
    ("manager", 0.28, MANAGER_TITLES),
    ("director", 0.12, DIRECTOR_TITLES),
    ("head", 0.05, HEAD_TITLES),
    ("vp", 0.07, VP_TITLES),
    ("clevel", 0.03, C_LEVEL_TITLES),
    ("blank", 0.015, ("",)),
)
_LEVEL_CUM = list(accumulate(w for _, w, _ in TITLE_LEVELS))

# Industry: (weight, revenue per employee in USD, nouns for company names).
INDUSTRIES: dict[str, tuple[float, int, tuple[str, ...]]] = {
    "Software": (26, 220_000, _words("Labs Cloud Systems Software Data AI Analytics Stack")),
    "Logistics": (12, 150_000, _words("Logistics Freight Shipping Transport Cargo Fleet")),
    "Fintech": (10, 300_000, _words("Pay Capital Finance Ledger Wallet Money Credit")),
    "Healthcare": (12, 130_000, _words("Health Care Medical Clinics Bio Therapeutics")),
    "Retail": (12, 110_000, _words("Goods Market Outfitters Stores Home Brands")),
    "Education": (8, 70_000, _words("Learning Academy University Education Institute")),
    "Manufacturing": (12, 200_000, _words("Manufacturing Industries Components Machinery")),
    "Professional Services": (6, 150_000, _words("Partners Consulting Advisors Associates")),
}
_INDUSTRY_NAMES = list(INDUSTRIES)
_INDUSTRY_CUM = list(accumulate(w for w, _, _ in INDUSTRIES.values()))

NAME_PREFIXES = _words("""
    North South Blue Red Green Silver Golden Summit Harbor River Pine Oak Maple Cedar Granite
    Iron Bright Clear True Swift Atlas Apex Vertex Nova Orbit Polar Prairie Coastal Lake Ridge
    Stone Falcon Eagle Fox Wolf Bear Lumen Quantum Vector Signal Beacon Anchor Compass Keystone
    Crest Horizon Meridian Pioneer Frontier Evergreen Sterling Bay Elm Willow Copper Cobalt
    Crimson Amber Ivory Onyx Sol Terra Aero Hyper Zen Kite Tidal Echo Union Liberty Metro Urban
    Alpine Canyon
""")
NAME_ENDINGS = _words("""
    wind path gate field line point bridge wave stone wood light peak forge mark spring view
    craft bay ware haven
""")

_COUNTRY_CODES, _COUNTRY_CUM = _weighted(
    "US:45 GB:10 CA:8 DE:8 FR:6 NL:3 AU:4 IN:4 IE:2 SE:2 ES:2 IT:2 BR:2 SG:1 JP:1"
)
COUNTRY_TLDS = dict(
    w.split(":")
    for w in _words("GB:.co.uk DE:.de FR:.fr CA:.ca NL:.nl AU:.com.au IN:.in IE:.ie SE:.se ES:.es")
)

TECHNOLOGIES = _titles("""
    Salesforce | HubSpot | Marketo | Snowflake | AWS | Azure | Google Cloud | Slack | Zendesk |
    Segment | Workday | NetSuite | Google Analytics | Microsoft 365 | Jira | Tableau
""")
INDUSTRY_TECHNOLOGIES = {
    "Software": ("GitHub", "Datadog", "Kubernetes"),
    "Fintech": ("Stripe", "Plaid"),
    "Retail": ("Shopify", "Stripe", "Klaviyo"),
    "Logistics": ("SAP", "Oracle", "Project44"),
    "Manufacturing": ("SAP", "Oracle", "Siemens PLM"),
    "Healthcare": ("Epic", "Oracle"),
    "Education": ("Canvas", "Blackboard"),
    "Professional Services": ("Xero",),
}

# How each company builds addresses; first.last is the most common.
EMAIL_PATTERNS = ("first.last", "first.last", "flast", "first", "firstl", "first_last")
_FREE_MAIL_DOMAINS, _FREE_MAIL_CUM = _weighted(
    "gmail.com:60 yahoo.com:9 outlook.com:8 hotmail.com:7 icloud.com:5 aol.com:2 gmx.de:2 "
    "web.de:1 orange.fr:1 hotmail.co.uk:2 proton.me:2 yahoo.co.uk:1"
)
_SOURCE_NAMES, _SOURCE_CUM = _weighted(
    "website:30 paid_search:15 linkedin:15 webinar:12 event:10 partner:10 referral:8"
)

BLOG_POSTS = _words("""
    lead-scoring-101 mql-vs-sql what-is-a-fit-score b2b-intent-signals
    sales-and-marketing-alignment building-an-sdr-team account-based-marketing-basics
    email-benchmarks-2025 how-to-run-a-webinar attribution-models-explained pipeline-math
    why-leads-go-cold crm-hygiene-checklist demand-gen-budget content-that-converts
    the-buyer-journey revops-explained linkedin-ads-tips forecasting-for-founders
""")
EBOOKS = _words("""
    state-of-demand-gen-2025 ultimate-guide-to-lead-scoring b2b-marketing-playbook
    email-nurture-templates abm-handbook marketing-ops-salary-report revops-maturity-model
""")
CASE_STUDIES = _words("""
    northwind-freight-doubles-pipeline bluepath-pay-cuts-response-time
    summit-health-scales-sdr-team keystone-labs-aligns-sales-and-marketing
    harbor-outfitters-triples-mqls copperfield-manufacturing-roi
""")
WEBINARS = _words("""
    scoring-leads-that-sales-trust from-mql-to-revenue calibrating-your-funnel
    intent-data-in-practice sdr-playbooks-that-work q4-planning-for-marketing-ops
""")
PRODUCT_PAGES = _words("""
    /product /product/scoring /product/routing /product/analytics /integrations/salesforce
    /integrations/hubspot /about /customers /security
""")
EVENTS = ("SaaStr Annual", "Dreamforce", "B2B Marketing Expo", "MarketingOps Summit")
CAMPAIGNS = ("Weekly newsletter", "Product update", "Webinar invite", "Customer story", "Event")

# Where each kind of activity comes from, and the external_id prefix of that source.
KIND_SOURCE = {
    "email_open": "marketo",
    "email_click": "marketo",
    "unsubscribe": "marketo",
    "page_view": "web",
    "content_download": "web",
    "form_submit": "web",
    "demo_request": "web",
    "trial_signup": "app",
    "webinar_registered": "zoom",
    "webinar_attended": "zoom",
    "event_attended": "salesforce",
}
SOURCE_PREFIX = {"marketo": "mkto", "web": "evt", "app": "app", "zoom": "zoom", "salesforce": "sf"}

# How much more likely a seniority level is to be in market than an individual contributor.
MARKET_LIFT = {
    "director": 3.0,
    "head": 3.0,
    "vp": 3.0,
    "clevel": 3.0,
    "manager": 1.6,
    "student": 0.6,
    "intern": 0.6,
}

# Background activity: mostly e-mail opens, then page views. URLs are drawn separately.
_BACKGROUND_KINDS, _BACKGROUND_CUM = _weighted(
    "email_open:64 page_view:25 email_click:6 content_download:3 webinar_registered:1 "
    "webinar_attended:1"
)


# --------------------------------------------------------------------------------------------
# The generator
# --------------------------------------------------------------------------------------------


@dataclass(slots=True)
class DemoAccount:
    name: str
    domain: str
    industry: str
    employee_count: int | None
    annual_revenue: Decimal | None
    country: str
    technologies: list[str]
    funding_stage: str
    created_at: datetime
    email_pattern: str
    owner_slot: int | None  # index into the SDRs, for accounts sales already works
    weight: float  # how many of the leads land here (bigger companies, more leads)


@dataclass(slots=True)
class DemoActivity:
    kind: str
    occurred_at: datetime
    url: str
    source: str
    external_id: str
    properties: dict[str, Any]


@dataclass(slots=True)
class DemoLead:
    email: str
    first_name: str
    last_name: str
    title: str
    account_index: int | None
    source: str
    external_id: str | None
    created_at: datetime
    attributes: dict[str, Any]
    activities: list[DemoActivity] = field(default_factory=list)

    @property
    def email_domain(self) -> str:
        return self.email.rpartition("@")[2]


def _pick(rng: random.Random, items: list[Any], cum: list[float]) -> Any:
    return rng.choices(items, cum_weights=cum)[0]


def _poisson(rng: random.Random, lam: float) -> int:
    """A Poisson draw (Knuth for small means, a rounded normal for large ones)."""
    if lam <= 0:
        return 0
    if lam > 30:
        return max(0, round(rng.gauss(lam, math.sqrt(lam))))
    limit, k, p = math.exp(-lam), 0, rng.random()
    while p > limit:
        k += 1
        p *= rng.random()
    return k


def _slug(text: str) -> str:
    """ASCII letters and digits only: Müller -> muller, O'Brien -> obrien."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "", ascii_text.lower())


def _local_part(pattern: str, first: str, last: str) -> str:
    """The part before the @ under the company's address pattern."""
    return {
        "first.last": f"{first}.{last}",
        "flast": f"{first[0]}{last}",
        "first": first,
        "firstl": f"{first}{last[0]}",
        "first_last": f"{first}_{last}",
    }[pattern]


class DemoDataset:
    """Accounts (built at once) and leads with their activities (streamed, in a fixed order)."""

    def __init__(self, *, seed: int, n_leads: int, months: int, now: datetime) -> None:
        if n_leads < 1 or months < 1:
            raise ValueError("n_leads and months must be at least 1")
        self.seed, self.n_leads, self.months, self.now = seed, n_leads, months, now
        self.span_days = months * 365.25 / 12
        self.rng = random.Random(seed)
        self._domains: set[str] = set()
        self._emails: set[str] = {DANA_EMAIL}
        self._activity_counter = 0
        self.accounts: list[DemoAccount] = self._build_accounts()
        self._account_cum = list(accumulate(a.weight for a in self.accounts))

    # -- accounts ------------------------------------------------------------------------------

    def _build_accounts(self) -> list[DemoAccount]:
        northwind = self._account(
            "Northwind Logistics", "northwind-logistics.com", "Logistics", 300
        )
        northwind.technologies = ["Salesforce", "Marketo", "Snowflake", "SAP"]
        northwind.funding_stage, northwind.email_pattern = "Series C", "first"
        rival = self._account("RivalCo", COMPETITOR_DOMAIN, "Software", 800)
        rival.technologies = ["Salesforce", "HubSpot", "AWS"]
        rival.weight /= 3  # a competitor's staff rarely fill in our forms
        fixed = [northwind, rival]
        count = max(len(fixed), round(self.n_leads * 0.3))
        return fixed + [self._random_account() for _ in range(count - len(fixed))]

    def _account(self, name: str, domain: str, industry: str, employees: int) -> DemoAccount:
        """A fixed, well-known account (US, no owner); the caller fills in the details."""
        self._domains.add(domain)
        return DemoAccount(
            name=name,
            domain=domain,
            industry=industry,
            employee_count=employees,
            annual_revenue=Decimal(employees * INDUSTRIES[industry][1]),
            country="US",
            technologies=[],
            funding_stage="Series D+",
            created_at=self.now - timedelta(days=self.span_days + 30),
            email_pattern="first.last",
            owner_slot=None,
            weight=employees**0.45,
        )

    def _random_account(self) -> DemoAccount:
        rng = self.rng
        industry = _pick(rng, _INDUSTRY_NAMES, _INDUSTRY_CUM)
        country = _pick(rng, _COUNTRY_CODES, _COUNTRY_CUM)
        # Log-normal sizes (median ~90) plus a few enterprises: most companies are small.
        if rng.random() < 0.05:
            employees = rng.lognormvariate(math.log(12_000), 0.8)
        else:
            employees = rng.lognormvariate(math.log(90), 1.5)
        employees = max(1, min(250_000, int(employees)))
        if employees >= 1000:
            employees = round(employees, -2)
        elif employees >= 100:
            employees = round(employees, -1)
        per_head = INDUSTRIES[industry][1] * rng.lognormvariate(0, 0.3)
        revenue = Decimal(round(employees * per_head, -3))
        name, domain = self._company_name(industry, country)
        pool = list(TECHNOLOGIES) + list(INDUSTRY_TECHNOLOGIES[industry])
        n_tech = min(len(pool), _poisson(rng, 1.5 + math.log10(employees + 1)))
        account = DemoAccount(
            name=name,
            domain=domain,
            industry="" if rng.random() < 0.03 else industry,  # some records lack it
            employee_count=employees,
            annual_revenue=revenue,
            country=country,
            technologies=rng.sample(pool, n_tech),
            funding_stage=self._funding_stage(industry, employees),
            created_at=self.now - timedelta(days=self.span_days + rng.uniform(1, 900)),
            email_pattern=rng.choice(EMAIL_PATTERNS),
            owner_slot=None,
            weight=employees**0.45,
        )
        if rng.random() < 0.1:  # accounts sales already works: their leads have an owner
            account.owner_slot = rng.randrange(3)
        if rng.random() < 0.08:  # not every record is complete
            account.employee_count, account.annual_revenue = None, None
            account.weight = 3.0
        return account

    def _company_name(self, industry: str, country: str) -> tuple[str, str]:
        rng = self.rng
        noun = rng.choice(INDUSTRIES[industry][2])
        roll = rng.random()
        if roll < 0.55:
            base = rng.choice(NAME_PREFIXES)
            name = f"{base} {noun}"
        elif roll < 0.8:
            base = rng.choice(NAME_PREFIXES) + rng.choice(NAME_ENDINGS)
            name = f"{base} {noun}" if rng.random() < 0.5 else base
        else:
            a, b = rng.sample(LAST_NAMES, 2)
            name = f"{a} & {b}" if industry == "Professional Services" else f"{a} {noun}"
        slug = _slug(name)
        tld = ".com"
        if country in COUNTRY_TLDS and rng.random() < 0.5:
            tld = COUNTRY_TLDS[country]
        elif industry == "Software" and rng.random() < 0.25:
            tld = ".io"
        hyphenated = "-".join(_slug(part) for part in name.replace("&", " ").split())
        for candidate in (slug, hyphenated, f"get{slug}", f"{slug}hq", f"{slug}group"):
            if f"{candidate}{tld}" not in self._domains:
                break
        else:
            n = 2
            while f"{slug}{n}{tld}" in self._domains:
                n += 1
            candidate = f"{slug}{n}"
        domain = f"{candidate}{tld}"
        self._domains.add(domain)
        return name, domain

    def _funding_stage(self, industry: str, employees: int) -> str:
        rng = self.rng
        if rng.random() < 0.08:
            return ""
        if industry == "Education":
            return rng.choice(("Non-profit", "Public sector", "Private"))
        if employees < 20:
            options = ("Bootstrapped", "Pre-seed", "Seed")
        elif employees < 200:
            options = ("Bootstrapped", "Seed", "Series A", "Series B")
        elif employees < 2000:
            options = ("Series B", "Series C", "Series D+", "Private equity", "Bootstrapped")
        else:
            options = ("Public", "Public", "Private equity", "Series D+")
        return rng.choice(options)

    # -- leads ---------------------------------------------------------------------------------

    def iter_leads(self) -> Iterator[DemoLead]:
        """Dana first, then the rest; call once (the draws continue from the accounts')."""
        yield self._dana()
        for index in range(1, self.n_leads):
            yield self._random_lead(index)

    def _email(self, local: str, domain: str) -> str:
        email = f"{local}@{domain}"
        n = 2
        while email in self._emails:
            email = f"{local}{n}@{domain}"
            n += 1
        self._emails.add(email)
        return email

    def _random_lead(self, index: int) -> DemoLead:
        rng = self.rng
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        level_index = rng.choices(range(len(TITLE_LEVELS)), cum_weights=_LEVEL_CUM)[0]
        level, _, titles = TITLE_LEVELS[level_index]
        title = rng.choice(titles)
        free_share = {"student": 0.65, "intern": 0.25}.get(level, 0.11)
        f, la = _slug(first), _slug(last)
        if rng.random() < free_share:
            domain = _pick(rng, _FREE_MAIL_DOMAINS, _FREE_MAIL_CUM)
            year, n = rng.randint(1950, 2006), rng.randint(1, 99)
            local = rng.choice((f"{f}.{la}", f"{f}{la}", f"{f}.{la}{n}", f"{f[0]}{la}{year}"))
            # Half of the free-mail leads still told us their company (a form field).
            account_index = self._pick_account() if rng.random() < 0.5 else None
        else:
            account_index = self._pick_account()
            account = self.accounts[account_index]
            domain = account.domain
            local = _local_part(account.email_pattern, f, la)
        email = self._email(local, domain)
        source = _pick(rng, _SOURCE_NAMES, _SOURCE_CUM)
        # Slightly more leads recently: marketing grows.
        tenure = max(0.05, self.span_days * rng.random() ** 1.15)
        attributes: dict[str, Any] = {}
        if source in ("paid_search", "linkedin"):
            attributes["utm_campaign"] = rng.choice(("brand", "lead-scoring", "competitor"))
        lead = DemoLead(
            email=email,
            first_name=first,
            last_name=last,
            title=title,
            account_index=account_index,
            source=source,
            external_id=f"00Q{self.seed % 10_000:04d}{index:011d}" if rng.random() < 0.7 else None,
            created_at=self.now - timedelta(days=tenure),
            attributes=attributes,
        )
        account = self.accounts[account_index] if account_index is not None else None
        events = self._lead_events(lead, level, account, tenure)
        lead.activities = self._materialize(events)
        return lead

    def _pick_account(self) -> int:
        return self.rng.choices(range(len(self.accounts)), cum_weights=self._account_cum)[0]

    def _lead_events(
        self, lead: DemoLead, level: str, account: DemoAccount | None, tenure: float
    ) -> list[Event]:
        """(age in days, kind, url, properties) of one lead's activity, in no order."""
        rng = self.rng
        events: list[Event] = []
        add = events.append
        self._first_touch(lead.source, tenure, add)

        # Background: a per-lead log-normal rate (per 30 days) makes volumes heavy-tailed; the
        # cap keeps one lead to hundreds, not thousands, of activities a year.
        rate = min(12.0, rng.lognormvariate(math.log(1.1), 1.2))
        if rng.random() < 0.012:
            rate = rng.uniform(20, 60)  # the heavy readers
        for _ in range(_poisson(rng, rate * tenure / 30)):
            self._background_event(rng.uniform(0, tenure), add)

        # The hidden profile: who is in market depends on fit, as in life.
        size = account.employee_count if account else None
        p_market = 0.035 * MARKET_LIFT.get(level, 1.0)
        if size and 50 <= size <= 2000:
            p_market *= 2.0
        if account and account.industry.lower() in _TARGET_INDUSTRIES:
            p_market *= 1.8
        if lead.email_domain and is_free_mail(lead.email_domain):
            p_market *= 0.6
        roll = rng.random()
        if roll < p_market:
            self._buying_burst(tenure, add)
        elif roll < p_market + 0.22:
            self._research(tenure, add)
        elif roll < p_market + 0.22 + (0.3 if level in ("student", "intern") else 0.03):
            for _ in range(_poisson(rng, 2) + 1):
                add((rng.uniform(0, tenure), "page_view", "/careers", {}))
            if rng.random() < 0.5:
                add((rng.uniform(0, tenure), "page_view", "/careers/open-positions", {}))

        if rng.random() < 0.025:
            gone = rng.uniform(0, tenure)
            events = [e for e in events if not (e[1].startswith("email_") and e[0] < gone)]
            events.append((gone, "unsubscribe", "", {"list": "all"}))
        return events

    def _first_touch(self, source: str, tenure: float, add: Callable[..., None]) -> None:
        rng = self.rng
        if source == "webinar":
            webinar = f"/webinars/{rng.choice(WEBINARS)}"
            add((tenure, "webinar_registered", webinar, {}))
            if rng.random() < 0.55:
                add((max(0.0, tenure - rng.uniform(0.5, 7)), "webinar_attended", webinar, {}))
        elif source == "event":
            event = f"{rng.choice(EVENTS)} {(self.now - timedelta(days=tenure)).year}"
            add((tenure, "event_attended", "", {"event": event}))
        elif source == "linkedin":
            via = {"via": "linkedin_lead_gen"}
            add((tenure, "content_download", f"/ebooks/{rng.choice(EBOOKS)}", via))
        elif source == "paid_search":
            add((tenure + 0.001, "page_view", "/?utm_source=google&utm_medium=cpc", {}))
            add((tenure, "content_download", f"/ebooks/{rng.choice(EBOOKS)}", {}))
        elif source == "website" and rng.random() < 0.6:
            add((tenure, "content_download", f"/ebooks/{rng.choice(EBOOKS)}", {}))
        elif source == "partner":
            add((tenure, "form_submit", "/partners/referral", {}))
        else:
            add((tenure, "form_submit", "/contact", {}))

    def _background_event(self, age: float, add: Callable[..., None]) -> None:
        rng = self.rng
        kind = _pick(rng, _BACKGROUND_KINDS, _BACKGROUND_CUM)
        if kind in ("email_open", "email_click"):
            week = int(age // 7)
            sent = self.now - timedelta(days=week * 7 + 7)
            props = {"campaign": f"{CAMPAIGNS[week % len(CAMPAIGNS)]} {sent:%Y-%m-%d}"}
            url = f"/blog/{rng.choice(BLOG_POSTS)}" if kind == "email_click" else ""
            add((age, kind, url, props))
        elif kind == "page_view":
            roll = rng.random()
            if roll < 0.45:
                url = f"/blog/{rng.choice(BLOG_POSTS)}"
            elif roll < 0.7:
                url = "/"
            elif roll < 0.9:
                url = rng.choice(PRODUCT_PAGES)
            elif roll < 0.96:
                url = "/pricing"
            else:
                url = "/careers"
            add((age, kind, url, {}))
        elif kind == "content_download":
            if rng.random() < 0.85:
                add((age, kind, f"/ebooks/{rng.choice(EBOOKS)}", {}))
            else:
                add((age, kind, f"/case-studies/{rng.choice(CASE_STUDIES)}", {}))
        else:
            add((age, kind, f"/webinars/{rng.choice(WEBINARS)}", {}))

    def _buying_burst(self, tenure: float, add: Callable[..., None]) -> None:
        """Weeks of evaluation ending (often) in a demo request or a trial: half of them soon
        after the lead arrived (it came because it is looking), the rest at any time since."""
        rng = self.rng
        gap = rng.uniform(3, 60)
        end = tenure - gap if rng.random() < 0.5 and gap < tenure else rng.uniform(0, tenure)
        start = min(tenure, end + rng.uniform(3, 35))

        def when() -> float:
            return rng.uniform(end, start)

        for _ in range(_poisson(rng, 2.5) + 1):
            add((when(), "page_view", "/pricing", {}))
        for _ in range(_poisson(rng, 1.2)):
            add((when(), "content_download", f"/case-studies/{rng.choice(CASE_STUDIES)}", {}))
        if rng.random() < 0.25:
            add((when(), "content_download", "/roi-calculator", {}))
        for _ in range(rng.randint(1, 3)):
            add((when(), "page_view", rng.choice(PRODUCT_PAGES), {}))
        if rng.random() < 0.3:
            add((when(), "email_click", "/case-studies", {"campaign": "Customer story"}))
        if rng.random() < 0.55:
            add((end, "demo_request", "/demo", {"form": "Request a demo"}))
        if rng.random() < 0.3:
            add((max(0.0, end - rng.uniform(0, 3)), "trial_signup", "/trial", {"plan": "trial"}))

    def _research(self, tenure: float, add: Callable[..., None]) -> None:
        """Reading, not buying: e-books, blog posts, webinars, more of them the longer known."""
        rng = self.rng
        months = tenure / 30
        for _ in range(_poisson(rng, 0.3 * months) + 1):
            add((rng.uniform(0, tenure), "content_download", f"/ebooks/{rng.choice(EBOOKS)}", {}))
        for _ in range(_poisson(rng, 1.0 * months)):
            add((rng.uniform(0, tenure), "page_view", f"/blog/{rng.choice(BLOG_POSTS)}", {}))
        for _ in range(_poisson(rng, 0.12 * months)):
            webinar = f"/webinars/{rng.choice(WEBINARS)}"
            add((rng.uniform(0, tenure), "webinar_attended", webinar, {}))
        if rng.random() < 0.15:
            url = f"/case-studies/{rng.choice(CASE_STUDIES)}"
            add((rng.uniform(0, tenure), "content_download", url, {}))
        if rng.random() < 0.2:
            add((rng.uniform(0, tenure), "page_view", "/pricing", {}))

    def _materialize(self, events: list[Event]) -> list[DemoActivity]:
        """Oldest first, with times and ids; ids follow generation order, so they are stable."""
        events.sort(key=lambda e: -e[0])
        now, seed = self.now, self.seed
        out = []
        for age, kind, url, props in events:
            self._activity_counter += 1
            source = KIND_SOURCE[kind]
            out.append(
                DemoActivity(
                    kind=kind,
                    occurred_at=now - timedelta(seconds=round(age * DAY)),
                    url=url,
                    source=source,
                    external_id=f"{SOURCE_PREFIX[source]}-{seed}-{self._activity_counter:08d}",
                    properties=props,
                )
            )
        return out

    def _dana(self) -> DemoLead:
        """The recognisable demo lead: fixed, whatever the seed, so a demo script can use her."""
        tenure = min(120.0, self.span_days)
        case_study = "/case-studies/northwind-freight-doubles-pipeline"
        campaign = {"campaign": "Weekly newsletter"}
        events: list[Event] = [
            (120.0, "content_download", "/ebooks/ultimate-guide-to-lead-scoring", {}),
            (100.0, "page_view", "/", {}),
            (72.0, "webinar_registered", "/webinars/scoring-leads-that-sales-trust", {}),
            (70.0, "webinar_attended", "/webinars/scoring-leads-that-sales-trust", {}),
            (40.0, "content_download", case_study, {}),
            (13.0, "page_view", "/pricing", {}),
            (11.0, "email_click", "/case-studies", campaign),
            (6.0, "page_view", "/pricing", {}),
            (3.0, "demo_request", "/demo", {"form": "Request a demo"}),
            (1.0, "page_view", "/pricing", {}),
        ]
        events += [(age, "email_open", "", campaign) for age in (2, 5, 11, 19, 33, 47, 62, 90)]
        events = [e for e in events if e[0] <= tenure]
        return DemoLead(
            email=DANA_EMAIL,
            first_name="Dana",
            last_name="Whitfield",
            title="VP Marketing",
            account_index=0,
            source="website",
            external_id=f"00Q{self.seed % 10_000:04d}{0:011d}",
            created_at=self.now - timedelta(days=tenure),
            attributes={},
            activities=self._materialize(events),
        )


# --------------------------------------------------------------------------------------------
# Writing it
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DemoUser:
    username: str
    role: str | None  # None: the superuser
    first_name: str
    last_name: str


DEMO_USERS = (
    DemoUser("marketing", MARKETING, "Priya", "Natarajan"),
    DemoUser("sdr1", SDR, "Jordan", "Ellis"),
    DemoUser("sdr2", SDR, "Aisha", "Okafor"),
    DemoUser("sdr3", SDR, "Mateo", "Rossi"),
    DemoUser("manager", MANAGER, "Rachel", "Goldberg"),
    DemoUser("admin", None, "Alex", "Morgan"),
)


def ensure_demo_users() -> list[tuple[DemoUser, User, bool]]:
    """The demo logins, created when missing; existing users are left exactly as they are."""
    groups = {role: Group.objects.get_or_create(name=role)[0] for role in (MARKETING, SDR, MANAGER)}
    hashed: str | None = None
    result = []
    for spec in DEMO_USERS:
        user = User.objects.filter(username=spec.username).first()
        created = user is None
        if created:
            # One hash for the one shared demo password: hashing is deliberately slow.
            hashed = hashed or make_password(DEMO_PASSWORD)
            user = User.objects.create(
                username=spec.username,
                first_name=spec.first_name,
                last_name=spec.last_name,
                email=f"{spec.first_name}.{spec.last_name}@leadgauge-demo.com".lower(),
                password=hashed,
                is_staff=spec.role in (MARKETING, MANAGER, None),
                is_superuser=spec.role is None,
            )
            if spec.role:
                user.groups.add(groups[spec.role])
            if spec.role == SDR:
                SdrProfile.objects.get_or_create(user=user)
        result.append((spec, user, created))
    return result


@dataclass(frozen=True, slots=True)
class SeedSummary:
    accounts: int
    leads: int
    activities: int
    owned_leads: int


BATCH_SIZE = 2000
LEADS_PER_STEP = 500


@transaction.atomic
def seed_demo_data(
    *,
    n_leads: int,
    months: int,
    seed: int,
    sdrs: list[User],
    now: datetime | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> SeedSummary:
    """Write the demo accounts, leads and activities. Scores are left to the rule set's rescore."""
    dataset = DemoDataset(seed=seed, n_leads=n_leads, months=months, now=now or timezone.now())
    accounts = Account.objects.bulk_create(
        [
            Account(
                name=a.name,
                domain=a.domain,
                industry=a.industry,
                employee_count=a.employee_count,
                annual_revenue=a.annual_revenue,
                country=a.country,
                technologies=a.technologies,
                funding_stage=a.funding_stage,
                created_at=a.created_at,
            )
            for a in dataset.accounts
        ],
        batch_size=BATCH_SIZE,
    )
    for chunk in range(0, len(accounts), LEADS_PER_STEP):
        pks = [account.pk for account in accounts[chunk : chunk + LEADS_PER_STEP]]
        Account.objects.filter(pk__in=pks).update(updated_at=F("created_at"))
    owners = {
        i: sdrs[a.owner_slot % len(sdrs)]
        for i, a in enumerate(dataset.accounts)
        if a.owner_slot is not None and sdrs
    }
    done = n_activities = n_owned = 0
    stream = dataset.iter_leads()
    while done < n_leads:
        specs = [next(stream) for _ in range(min(LEADS_PER_STEP, n_leads - done))]
        leads = []
        for spec in specs:
            domain = spec.email_domain
            index = spec.account_index
            owner = owners.get(index) if index is not None else None
            n_owned += owner is not None
            # bulk_create skips Lead.save(), which is what normally derives these two.
            leads.append(
                Lead(
                    email=spec.email,
                    first_name=spec.first_name,
                    last_name=spec.last_name,
                    title=spec.title,
                    account=accounts[index] if index is not None else None,
                    source=spec.source,
                    owner=owner,
                    external_id=spec.external_id,
                    attributes=spec.attributes,
                    created_at=spec.created_at,
                    email_domain=domain,
                    email_is_free=is_free_mail(domain),
                )
            )
        Lead.objects.bulk_create(leads, batch_size=BATCH_SIZE)
        # Never edited since: updated_at is when it was created (auto_now stamped the seeding),
        # so a bad-data disposition in the history holds the lead back as it would in life.
        Lead.objects.filter(pk__in=[lead.pk for lead in leads]).update(updated_at=F("created_at"))
        activities = [
            Activity(
                lead=lead,
                kind=a.kind,
                occurred_at=a.occurred_at,
                url=a.url,
                properties=a.properties,
                source=a.source,
                external_id=a.external_id,
                created_at=a.occurred_at,
            )
            for lead, spec in zip(leads, specs, strict=True)
            for a in spec.activities
        ]
        Activity.objects.bulk_create(activities, batch_size=BATCH_SIZE)
        n_activities += len(activities)
        done += len(specs)
        if progress:
            progress(done, n_leads)
    return SeedSummary(
        accounts=len(accounts), leads=done, activities=n_activities, owned_leads=n_owned
    )
