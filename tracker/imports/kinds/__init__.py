"""One module per kind of import: what its rows must hold, how each is checked and what it becomes."""
from tracker.imports.kinds.budget import _Budget
from tracker.imports.kinds.commissions import _Commissions
from tracker.imports.kinds.ledger import _Ledger

KIND_CLASSES = {"ledger": _Ledger, "commissions": _Commissions, "budget": _Budget}
