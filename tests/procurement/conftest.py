import pytest

from tracker.extensions import db
from tracker.procurement.notices import seed_thresholds


@pytest.fixture
def thresholds(app):
    """The thresholds the Act started with, as the migration seeds them."""
    seed_thresholds(db.session)
    db.session.commit()


@pytest.fixture
def manager(auth):
    return auth.login("manager")
