"""Funding years, streams, allocations, budget lines and the budget page: everyone reads, finance changes."""
from tests.access import EVERYONE, FINANCE, Access, only

WRITE = only(FINANCE)

ROUTES = {
    "funding.years": Access(get=EVERYONE),
    "funding.new_year": Access(get=WRITE, post=WRITE),
    "funding.year": Access(get=EVERYONE),
    "funding.edit_year": Access(get=WRITE, post=WRITE),
    "funding.open_year": Access(post=WRITE),
    "funding.close_year": Access(post=WRITE),
    "funding.reopen_year": Access(post=only()),
    "funding.rollover": Access(get=WRITE, post=WRITE),
    "funding.streams": Access(get=EVERYONE),
    "funding.new_stream": Access(get=WRITE, post=WRITE),
    "funding.edit_stream": Access(get=WRITE, post=WRITE),
    "funding.new_allocation": Access(get=WRITE, post=WRITE),
    "funding.allocation": Access(get=EVERYONE, post=WRITE),
    "funding.allocation_history": Access(get=EVERYONE),
    "funding.new_line": Access(get=WRITE, post=WRITE),
    "funding.edit_line": Access(get=WRITE, post=WRITE),
    "funding.planned": Access(get=WRITE, post=WRITE),
    "funding.delete_line": Access(get=WRITE, post=WRITE),
    "funding.budget": Access(get=EVERYONE),
}
