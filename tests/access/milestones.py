"""Milestones and deadlines: everyone reads, managers (and admins) change; every signed-in user manages their
own calendar feed token; the feed itself is public but checks its token."""
from tests.access import EVERYONE, PUBLIC, Access, only

ROUTES = {
    "milestones.index": Access(get=EVERYONE),
    "milestones.timeline": Access(get=EVERYONE),
    "milestones.download": Access(get=EVERYONE),
    "milestones.show": Access(get=EVERYONE),
    "milestones.create": Access(get=only("manager"), post=only("manager")),
    "milestones.edit": Access(get=only("manager"), post=only("manager")),
    "milestones.complete": Access(get=only("manager"), post=only("manager")),
    "milestones.calendar": Access(get=EVERYONE),
    "milestones.calendar_token": Access(post=EVERYONE),
    "milestones.feed": PUBLIC,
}

URL_VALUES = {
    "token": lambda session: "not-a-real-token",
}
