"""The three roles of design.md and what each may do in the admin and the pages."""

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser

MARKETING = "Marketing"
SDR = "SDR"
MANAGER = "Manager"
ROLES = (MARKETING, SDR, MANAGER)

# app_label.model -> actions, per role. Marketing owns the rules and the data; SDRs work leads;
# managers see everything and manage the team.
ROLE_PERMISSIONS: dict[str, dict[str, tuple[str, ...]]] = {
    MARKETING: {
        "leads.account": ("view", "add", "change"),
        "leads.lead": ("view", "add", "change"),
        "leads.activity": ("view", "add"),
        "scoring.ruleset": ("view", "add", "change"),
        "scoring.fitrule": ("view", "add", "change", "delete"),
        "scoring.behaviorrule": ("view", "add", "change", "delete"),
        "scoring.scorechange": ("view",),
        "feedback.outcome": ("view", "add", "change"),
    },
    SDR: {
        "leads.account": ("view",),
        "leads.lead": ("view", "change"),
        "leads.activity": ("view",),
    },
    MANAGER: {
        "leads.account": ("view", "add", "change"),
        "leads.lead": ("view", "add", "change"),
        "leads.activity": ("view",),
        "scoring.ruleset": ("view",),
        "scoring.fitrule": ("view",),
        "scoring.behaviorrule": ("view",),
        "scoring.scorechange": ("view",),
        "feedback.sdrprofile": ("view", "add", "change"),
        "feedback.outcome": ("view",),
    },
}


def role_of(user: AbstractBaseUser | AnonymousUser) -> str | None:
    """The user's role for navigation: superusers count as managers."""
    if not user.is_authenticated:
        return None
    names = {g.name for g in user.groups.all()}
    if user.is_superuser or MANAGER in names:
        return MANAGER
    if MARKETING in names:
        return MARKETING
    if SDR in names:
        return SDR
    return None
