import pytest

from tests.feedback.history import build_march


@pytest.fixture
def march(db) -> dict:
    """March 2026: seven handoffs worked out by hand (see test_calibration.py)."""
    return build_march()
