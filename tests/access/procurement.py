"""Procurement Act notices: everyone reads them, managers record them published, admins keep the thresholds."""
from tests.access import EVERYONE, MANAGER, Access, only

ROUTES = {
    "procurement.index": Access(get=EVERYONE),
    "procurement.notice_csv": Access(get=EVERYONE),
    "procurement.publish": Access(post=only(MANAGER)),
    "procurement.thresholds": Access(get=only(), post=only()),
}
