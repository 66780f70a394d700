"""The ledger's vocabulary, written once: accounts, journal kinds, and what each movement means.

Chart of accounts (per pool, in the pool's currency; the normal side is where a balance sits):
- pool level: cash (D); investments at cost (D); unrealized, the marks above or below cost (D);
  call_clearing (C), the other side of capital called and not yet paid; fee_income (C), the
  management fees owed to the manager; carry_escrow (C), carried interest taken from the investors
  but held back in the pool's cash until the clawback risk clears; clawback_due (D), carry the GP
  must pay back out of its own pocket after the wind-down true-up.
- investor level: commitment (C), what they promised, against commitment_memo (D), its twin so the
  memo pair balances; receivable (D), called and not yet paid; capital (C), their share of the
  pool's NAV.

How each movement is booked (journal kind: entries):
- commitment:     Dr commitment_memo(i) / Cr commitment(i)
- capital_call:   Dr receivable(i) for each investor / Cr call_clearing (the call's total)
- payment:        Dr cash / Cr capital(i) (the contribution); Dr call_clearing / Cr receivable(i)
- management_fee: Dr capital(i) / Cr fee_income
- fund_expense:   Dr capital(i) for each investor, pro rata to commitments / Cr cash (the pool pays
                  the expense; the capital that paid it stays contributed capital in the waterfall)
- investment:     Dr investments / Cr cash (a purchase at cost)
- valuation:      Dr unrealized / Cr capital(i) for a gain; the mirror image for a loss. An exit
                  releases the holding's marks with a valuation journal of its own.
- exit:           Dr cash (proceeds) / Cr investments (cost); the difference, the realized gain,
                  Cr capital(i) (a loss: Dr capital(i))
- distribution:   Dr capital(i) / Cr cash (the investors' share)
- carry:          Dr capital(i) / Cr cash (the GP's carried interest); the part the pool's terms hold
                  in escrow stays in cash: Dr cash / Cr carry_escrow, in the same operation. At the
                  wind-down true-up: escrow released to the GP, Dr carry_escrow / Cr cash; escrow
                  applied to a clawback, Dr carry_escrow / Cr capital(i) (then distributed); the rest
                  of the clawback, Dr clawback_due / Cr capital(i)
A reversal keeps the kind of the journal it reverses, so every line nets out.

MOVEMENTS maps (journal kind, account) to the line it feeds, and the side on which an entry adds
to that line. It is the only place a debit/credit rule is written: the read model
(core.ledger.read_model) applies it in SQL, and every figure on every surface aggregates that.
"""

from __future__ import annotations

from enum import StrEnum


class Side(StrEnum):
    DEBIT = "D"
    CREDIT = "C"

    @property
    def opposite(self) -> Side:
        return Side.CREDIT if self is Side.DEBIT else Side.DEBIT


class Account(StrEnum):
    CASH = "cash"
    INVESTMENTS = "investments"
    UNREALIZED = "unrealized"
    CALL_CLEARING = "call_clearing"
    FEE_INCOME = "fee_income"
    CARRY_ESCROW = "carry_escrow"
    CLAWBACK_DUE = "clawback_due"
    COMMITMENT = "commitment"
    COMMITMENT_MEMO = "commitment_memo"
    RECEIVABLE = "receivable"
    CAPITAL = "capital"

    @property
    def per_investor(self) -> bool:
        """Investor-level accounts carry an investor on every entry; pool-level ones never do."""
        return self in INVESTOR_ACCOUNTS


POOL_ACCOUNTS = (
    Account.CASH,
    Account.INVESTMENTS,
    Account.UNREALIZED,
    Account.CALL_CLEARING,
    Account.FEE_INCOME,
    Account.CARRY_ESCROW,
    Account.CLAWBACK_DUE,
)
INVESTOR_ACCOUNTS = (Account.COMMITMENT, Account.COMMITMENT_MEMO, Account.RECEIVABLE, Account.CAPITAL)


class JournalKind(StrEnum):
    COMMITMENT = "commitment"
    CAPITAL_CALL = "capital_call"
    PAYMENT = "payment"
    MANAGEMENT_FEE = "management_fee"
    FUND_EXPENSE = "fund_expense"
    INVESTMENT = "investment"
    VALUATION = "valuation"
    EXIT = "exit"
    DISTRIBUTION = "distribution"
    CARRY = "carry"


NORMAL_SIDE = {
    Account.CASH: Side.DEBIT,
    Account.INVESTMENTS: Side.DEBIT,
    Account.UNREALIZED: Side.DEBIT,
    Account.CALL_CLEARING: Side.CREDIT,
    Account.FEE_INCOME: Side.CREDIT,
    Account.CARRY_ESCROW: Side.CREDIT,
    Account.CLAWBACK_DUE: Side.DEBIT,
    Account.COMMITMENT: Side.CREDIT,
    Account.COMMITMENT_MEMO: Side.DEBIT,
    Account.RECEIVABLE: Side.DEBIT,
    Account.CAPITAL: Side.CREDIT,
}


class Line(StrEnum):
    """A line of the read model: an investor's capital account (ILPA names), or the pool's books.

    nav_sign: how the line moves the investor's capital account (NAV); 0 for memo lines.
    """

    # The investor's capital account.
    COMMITMENT = "commitment"
    CALLED = "called"
    CONTRIBUTIONS = "contributions"
    DISTRIBUTIONS = "distributions"
    MANAGEMENT_FEES = "management_fees"
    FUND_EXPENSES = "fund_expenses"
    REALIZED_GAIN = "realized_gain"
    UNREALIZED_GAIN = "unrealized_gain"
    CARRIED_INTEREST = "carried_interest"
    # The pool's own books.
    CASH = "cash"
    INVESTMENTS_AT_COST = "investments_at_cost"
    UNREALIZED_VALUE = "unrealized_value"
    FEES_PAYABLE = "fees_payable"
    CARRY_IN_ESCROW = "carry_in_escrow"
    CLAWBACK_DUE = "clawback_due"

    @property
    def label(self) -> str:
        return LABELS[self]

    @property
    def nav_sign(self) -> int:
        return NAV_SIGN.get(self, 0)

    @property
    def per_investor(self) -> bool:
        return self in CAPITAL_LINES


CAPITAL_LINES = (
    Line.COMMITMENT,
    Line.CALLED,
    Line.CONTRIBUTIONS,
    Line.DISTRIBUTIONS,
    Line.MANAGEMENT_FEES,
    Line.FUND_EXPENSES,
    Line.REALIZED_GAIN,
    Line.UNREALIZED_GAIN,
    Line.CARRIED_INTEREST,
)
BOOK_LINES = (
    Line.CASH,
    Line.INVESTMENTS_AT_COST,
    Line.UNREALIZED_VALUE,
    Line.FEES_PAYABLE,
    Line.CARRY_IN_ESCROW,
    Line.CLAWBACK_DUE,
)
# The lines that make up NAV, in the order an ILPA capital account statement lists them.
NAV_LINES = (
    Line.CONTRIBUTIONS,
    Line.DISTRIBUTIONS,
    Line.MANAGEMENT_FEES,
    Line.FUND_EXPENSES,
    Line.REALIZED_GAIN,
    Line.UNREALIZED_GAIN,
    Line.CARRIED_INTEREST,
)
NAV_SIGN = {
    Line.CONTRIBUTIONS: 1,
    Line.DISTRIBUTIONS: -1,
    Line.MANAGEMENT_FEES: -1,
    Line.FUND_EXPENSES: -1,
    Line.REALIZED_GAIN: 1,
    Line.UNREALIZED_GAIN: 1,
    Line.CARRIED_INTEREST: -1,
}
LABELS = {
    Line.COMMITMENT: "Commitment",
    Line.CALLED: "Capital called",
    Line.CONTRIBUTIONS: "Contributions",
    Line.DISTRIBUTIONS: "Distributions",
    Line.MANAGEMENT_FEES: "Management fees",
    Line.FUND_EXPENSES: "Fund expenses",
    Line.REALIZED_GAIN: "Realized gain/(loss)",
    Line.UNREALIZED_GAIN: "Change in unrealized gain/(loss)",
    Line.CARRIED_INTEREST: "Carried interest",
    Line.CASH: "Cash",
    Line.INVESTMENTS_AT_COST: "Investments at cost",
    Line.UNREALIZED_VALUE: "Unrealized gain/(loss) on investments",
    Line.FEES_PAYABLE: "Management fees payable",
    Line.CARRY_IN_ESCROW: "Carried interest held in escrow",
    Line.CLAWBACK_DUE: "Clawback due from the GP",
}

# (journal kind, account) -> (line, the side on which an entry adds to the line).
MOVEMENTS: dict[tuple[JournalKind, Account], tuple[Line, Side]] = {
    (JournalKind.COMMITMENT, Account.COMMITMENT): (Line.COMMITMENT, Side.CREDIT),
    (JournalKind.CAPITAL_CALL, Account.RECEIVABLE): (Line.CALLED, Side.DEBIT),
    (JournalKind.PAYMENT, Account.CAPITAL): (Line.CONTRIBUTIONS, Side.CREDIT),
    (JournalKind.MANAGEMENT_FEE, Account.CAPITAL): (Line.MANAGEMENT_FEES, Side.DEBIT),
    (JournalKind.FUND_EXPENSE, Account.CAPITAL): (Line.FUND_EXPENSES, Side.DEBIT),
    (JournalKind.VALUATION, Account.CAPITAL): (Line.UNREALIZED_GAIN, Side.CREDIT),
    (JournalKind.EXIT, Account.CAPITAL): (Line.REALIZED_GAIN, Side.CREDIT),
    (JournalKind.DISTRIBUTION, Account.CAPITAL): (Line.DISTRIBUTIONS, Side.DEBIT),
    (JournalKind.CARRY, Account.CAPITAL): (Line.CARRIED_INTEREST, Side.DEBIT),
    # The pool's books follow their account whatever the journal.
    **{
        (kind, account): (line, NORMAL_SIDE[account])
        for kind in JournalKind
        for account, line in (
            (Account.CASH, Line.CASH),
            (Account.INVESTMENTS, Line.INVESTMENTS_AT_COST),
            (Account.UNREALIZED, Line.UNREALIZED_VALUE),
            (Account.FEE_INCOME, Line.FEES_PAYABLE),
            (Account.CARRY_ESCROW, Line.CARRY_IN_ESCROW),
            (Account.CLAWBACK_DUE, Line.CLAWBACK_DUE),
        )
    },
}
# Not lines: commitment_memo (the commitment's twin), the payment's credit to the receivable (it
# always equals the contribution, so outstanding = called - contributions) and call_clearing (the
# receivables' twin). `python -m core verify` checks those identities against the balances.
