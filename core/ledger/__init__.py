"""The books: the ledger's vocabulary, posting, and the one read model every figure comes from.

- accounts:   accounts with their normal side, journal kinds, capital-account lines, and the map
              (journal kind, account) -> line. Nothing outside this package names an account in a
              query or writes a debit/credit rule.
- posting:    balanced, idempotent, append-only journals; reversals.
- read_model: movements() and the positions, books and series built on it.
- checks:     the ledger's own invariants, for `python -m core verify`.

This module re-exports the vocabulary only: db.models builds its checks from it, and posting and
the read model need db.models, so they are imported as submodules (from core.ledger import posting).
"""

from core.ledger.accounts import (
    BOOK_LINES,
    CAPITAL_LINES,
    MOVEMENTS,
    NAV_LINES,
    Account,
    JournalKind,
    Line,
    Side,
)

__all__ = ["BOOK_LINES", "CAPITAL_LINES", "MOVEMENTS", "NAV_LINES", "Account", "JournalKind", "Line", "Side"]
