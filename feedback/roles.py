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
        "feedback.scoreflag": ("view", "change"),
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
        "feedback.handoff": ("view", "change"),
        "feedback.scoreflag": ("view", "change"),
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


def grant_role_permissions(apps) -> None:
    """Create the role groups and give them ROLE_PERMISSIONS; safe to run again (migrations
    call it whenever a role gains a permission)."""
    from django.contrib.auth.management import create_permissions

    # Permissions are normally created after all migrations ran; a fresh database needs them now.
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None

    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for role, grants in ROLE_PERMISSIONS.items():
        group, _ = Group.objects.get_or_create(name=role)
        for model_label, actions in grants.items():
            app_label, model = model_label.split(".")
            group.permissions.add(
                *Permission.objects.filter(
                    content_type__app_label=app_label,
                    codename__in=[f"{action}_{model}" for action in actions],
                )
            )
