"""Imports: finance (and admins) upload, commit, withdraw and assign; every role reads the import history
(what was loaded, by whom, with which problems); managers also see the unmatched ledger lines."""
from tests.access import EVERYONE, FINANCE, MANAGER, Access, only

WRITE = only(FINANCE)

ROUTES = {
    "imports.index": Access(get=EVERYONE),
    "imports.batch": Access(get=EVERYONE),
    "imports.progress": Access(get=EVERYONE),
    "imports.original": Access(get=EVERYONE),
    "imports.batch_problems": Access(get=EVERYONE),
    "imports.withdraw": Access(get=WRITE, post=WRITE),
    "imports.upload": Access(get=WRITE, post=WRITE),
    "imports.mapping": Access(get=WRITE, post=WRITE),
    "imports.preview": Access(get=WRITE),
    "imports.draft_problems": Access(get=WRITE),
    "imports.commit": Access(post=WRITE),
    "imports.cancel": Access(post=WRITE),
    "imports.unmatched": Access(get=only(FINANCE, MANAGER)),
    "imports.assign": Access(post=WRITE),
    "imports.reinvoice": Access(post=WRITE),
    "imports.confirm_held": Access(post=WRITE),
    "imports.release_held": Access(post=WRITE),
    "imports.rules": Access(get=only(FINANCE, MANAGER)),
    "imports.edit_supplier_rule": Access(get=WRITE, post=WRITE),
    "imports.delete_supplier_rule": Access(post=WRITE),
    "imports.add_account_rule": Access(post=WRITE),
    "imports.delete_account_rule": Access(post=WRITE),
    "imports.reconciliation": Access(get=EVERYONE),
    "imports.reconciliation_download": Access(get=EVERYONE),
}

URL_VALUES = {"token": lambda session: "no-such-draft-token-000"}
