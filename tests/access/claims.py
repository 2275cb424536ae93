"""Claims, grant conditions, match contributions and virements: everyone reads, finance changes."""
from tests.access import EVERYONE, FINANCE, Access, only

WRITE = only(FINANCE)

ROUTES = {
    "claims.prepare": Access(post=WRITE),
    "claims.claim": Access(get=EVERYONE, post=WRITE),
    "claims.submit": Access(post=WRITE),
    "claims.decision": Access(post=WRITE),
    "claims.payment": Access(post=WRITE),
    "claims.schedule": Access(get=EVERYONE),
    "claims.submission_schedule": Access(get=EVERYONE),
    "claims.year_schedule": Access(get=EVERYONE),
    "claims.new_condition": Access(get=WRITE, post=WRITE),
    "claims.delete_condition": Access(post=WRITE),
    "claims.new_contribution": Access(get=WRITE, post=WRITE),
    "claims.edit_contribution": Access(get=WRITE, post=WRITE),
    "claims.delete_contribution": Access(post=WRITE),
    "claims.virement": Access(get=WRITE, post=WRITE),
}
