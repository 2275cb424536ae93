"""The commissions register, commission pages, variations and providers: managers change, everyone reads."""
from tests.access import EVERYONE, MANAGER, Access, only

ROUTES = {
    "commissions.index": Access(get=EVERYONE),
    "commissions.show": Access(get=EVERYONE),
    "commissions.create": Access(get=only(MANAGER), post=only(MANAGER)),
    "commissions.edit": Access(get=only(MANAGER), post=only(MANAGER)),
    "commissions.share_lines": Access(get=only(MANAGER)),
    "commissions.share_schedule": Access(get=only(MANAGER), post=only(MANAGER)),
    "commissions.change_status": Access(post=only(MANAGER)),
    "commissions.change_end_date": Access(post=only(MANAGER)),
    "commissions.add_variation": Access(post=only(MANAGER)),
    "commissions.delete": Access(get=only(MANAGER), post=only(MANAGER)),
    "commissions.providers": Access(get=EVERYONE),
    "commissions.provider": Access(get=EVERYONE),
    "commissions.create_provider": Access(get=only(MANAGER), post=only(MANAGER)),
    "commissions.edit_provider": Access(get=only(MANAGER), post=only(MANAGER)),
}
