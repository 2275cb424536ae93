"""Returns to the PCC and list downloads: everyone reads issued returns and lists; managers and finance prepare."""
from tests.access import EVERYONE, Access, only

ROUTES = {
    "returns.index": Access(get=EVERYONE),
    "returns.prepare": Access(get=only("manager", "finance")),
    "returns.notes": Access(post=only("manager", "finance")),
    "returns.autosave": Access(post=only("manager", "finance")),
    "returns.draft": Access(get=only("manager", "finance")),
    "returns.issue": Access(get=only("manager", "finance"), post=only("manager", "finance")),
    "returns.view": Access(get=EVERYONE),
    "returns.download": Access(get=EVERYONE),
    "returns.export_commissions": Access(get=EVERYONE),
    "returns.export_ledger": Access(get=EVERYONE),
    "returns.export_budget": Access(get=EVERYONE),
    "returns.export_milestones": Access(get=EVERYONE),
    "returns.export_audit": Access(get=only()),
}

URL_VALUES = {
    "year_label": lambda session: "2025-26",
    "export_format": lambda session: "xlsx",
}
