"""Delivery monitoring: outputs grid, provider workbooks, metrics and documents."""
from tests.access import EVERYONE, STAFF, Access, only

ROUTES = {
    "monitoring.index": Access(get=EVERYONE),
    "monitoring.outputs": Access(get=EVERYONE),
    "monitoring.add_measure": Access(post=only("manager")),
    "monitoring.edit_measure": Access(get=only("manager"), post=only("manager")),
    "monitoring.delete_measure": Access(get=only("manager"), post=only("manager")),
    "monitoring.actual": Access(get=EVERYONE, post=only("manager")),
    "monitoring.narrative": Access(get=only("manager"), post=only("manager")),
    "monitoring.copy": Access(post=only("manager")),
    "monitoring.download_workbook": Access(get=STAFF),
    "monitoring.upload_return": Access(post=only("manager")),
    "monitoring.preview": Access(get=STAFF),
    "monitoring.commit": Access(post=only("manager")),
    "monitoring.withdraw": Access(get=only("manager"), post=only("manager")),
    "monitoring.metrics": Access(get=only(), post=only()),
    "monitoring.edit_metric": Access(get=only(), post=only()),
    "monitoring.documents": Access(get=EVERYONE, post=only("manager", "finance")),
    "monitoring.add_version": Access(post=only("manager", "finance")),
    "monitoring.download": Access(get=EVERYONE),
    "monitoring.delete_document": Access(get=only(), post=only()),
}

URL_VALUES = {
    "owner_type": lambda session: "commission",
}
