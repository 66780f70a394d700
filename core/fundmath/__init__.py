"""Fund maths: pure functions, no I/O, Decimal in and out, used by every page, job and export.

Each module's docstring states its conventions (day counts, rounding, tie-breaks).
"""

from core.fundmath._common import DEFAULT_MINOR_UNIT
from core.fundmath.allocation import allocate, scale_down
from core.fundmath.carry import (
    CarryStatement,
    Clawback,
    DealExit,
    ExitDistribution,
    TrueUp,
    WaterfallRun,
    carry_due,
    carry_statement,
    clawback,
    run_waterfall,
    true_up,
)
from core.fundmath.expenses import fund_expense_shares
from core.fundmath.fees import FeeBasis, FeeTerms, management_fee
from core.fundmath.returns import (
    MULTIPLE_QUANTUM,
    InvestorMetrics,
    Multiples,
    moic,
    multiples,
    portfolio_metrics,
    xirr,
    xirr_columns,
    xnpv,
)
from core.fundmath.statement import CapitalAccount, Movement, capital_account
from core.fundmath.waterfall import (
    ACCRUALS,
    MODELS,
    HurdleAccrual,
    WaterfallModel,
    WaterfallResult,
    WaterfallTerms,
    WaterfallTier,
    preferred_return,
    waterfall,
)

__all__ = [
    "ACCRUALS",
    "DEFAULT_MINOR_UNIT",
    "MODELS",
    "MULTIPLE_QUANTUM",
    "CapitalAccount",
    "CarryStatement",
    "Clawback",
    "DealExit",
    "ExitDistribution",
    "FeeBasis",
    "FeeTerms",
    "HurdleAccrual",
    "InvestorMetrics",
    "Movement",
    "Multiples",
    "TrueUp",
    "WaterfallModel",
    "WaterfallResult",
    "WaterfallRun",
    "WaterfallTerms",
    "WaterfallTier",
    "allocate",
    "capital_account",
    "carry_due",
    "carry_statement",
    "clawback",
    "fund_expense_shares",
    "management_fee",
    "moic",
    "multiples",
    "portfolio_metrics",
    "preferred_return",
    "run_waterfall",
    "scale_down",
    "true_up",
    "waterfall",
    "xirr",
    "xirr_columns",
    "xnpv",
]
