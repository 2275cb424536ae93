"""Procurement Act notices: everyone reads them, managers record them published, admins keep the thresholds."""
from tests.access import EVERYONE, FINANCE, MANAGER, Access, only

ROUTES = {
    "procurement.index": Access(get=EVERYONE),
    "procurement.notice_csv": Access(get=EVERYONE),
    "procurement.publish": Access(post=only(MANAGER)),
    "procurement.thresholds": Access(get=only(), post=only()),
}

ROUTES.update({
    "procurement.publications": Access(get=EVERYONE),
    "procurement.publication": Access(get=EVERYONE),
    "procurement.publication_draft": Access(get=EVERYONE),
    "procurement.issue_publication": Access(post=only(MANAGER, FINANCE)),
    "procurement.publication_download": Access(get=EVERYONE),
    "procurement.publication_published": Access(post=only(MANAGER, FINANCE)),
    "procurement.personal_data_decision": Access(post=only(FINANCE)),
})
URL_VALUES = {"kind_key": lambda session: "spend-monthly"}
