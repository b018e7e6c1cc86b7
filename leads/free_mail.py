"""The shipped list of free-mail domains (design §3, `email_is_free`)."""

from functools import cache
from pathlib import Path

_DOMAINS_FILE = Path(__file__).with_name("data") / "free_mail_domains.txt"


@cache
def free_mail_domains() -> frozenset[str]:
    lines = _DOMAINS_FILE.read_text(encoding="utf-8").splitlines()
    return frozenset(
        line.strip().lower() for line in lines if line.strip() and not line.startswith("#")
    )


def is_free_mail(domain: str) -> bool:
    return domain.strip().lower() in free_mail_domains()
