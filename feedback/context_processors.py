from .roles import MANAGER, MARKETING, SDR, role_of


def roles(request):
    role = role_of(request.user) if hasattr(request, "user") else None
    return {
        "role": role,
        "is_manager": role == MANAGER,
        "is_marketing": role == MARKETING,
        "is_sdr": role == SDR,
    }
