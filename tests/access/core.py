"""Sign-in, account and home routes."""
from tests.access import EVERYONE, PUBLIC, Access

ROUTES = {
    "static": PUBLIC,
    "auth.sign_in": PUBLIC,
    "auth.sign_out": Access(post=EVERYONE),
    "auth.change_password": Access(get=EVERYONE, post=EVERYONE),
    "main.home": Access(get=EVERYONE),
}

URL_VALUES = {
    "filename": lambda session: "css/app.css",
}
