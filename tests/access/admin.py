"""The admin area: admins only, for reading and for changing."""
from tests.access import ADMIN, Access

ADMINS = frozenset({ADMIN})

ROUTES = {
    "admin.index": Access(get=ADMINS),
    "admin.users": Access(get=ADMINS),
    "admin.create_user": Access(get=ADMINS, post=ADMINS),
    "admin.user": Access(get=ADMINS),
    "admin.change_role": Access(post=ADMINS),
    "admin.set_active": Access(post=ADMINS),
    "admin.reset_password": Access(post=ADMINS),
    "admin.strands": Access(get=ADMINS, post=ADMINS),
    "admin.edit_strand": Access(get=ADMINS, post=ADMINS),
    "admin.categories": Access(get=ADMINS, post=ADMINS),
    "admin.edit_category": Access(get=ADMINS, post=ADMINS),
    "admin.settings": Access(get=ADMINS),
    "admin.update_setting": Access(post=ADMINS),
    "admin.audit": Access(get=ADMINS),
}

URL_VALUES = {
    "key": lambda session: "vru_name",
}
