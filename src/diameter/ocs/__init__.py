"""An online charging server (OCS): accounts, tariffs, rating, reservations, ledger, storage.

The charging model (`model`, `tariff`, `rating`, `accounting`, `engine`, `store`) has no
Diameter types; the Diameter front that answers Gy/Ro and Huawei DCC requests sits on top.
"""

from .accounting import RechargeRequest
from .engine import Engine
from .model import (
    Account,
    AccountKind,
    AccountState,
    AuditReport,
    Balance,
    BalanceType,
    FinalAction,
    Grant,
    Outcome,
    RequestedAction,
    RequestKind,
    SubscriptionType,
    UnitKind,
)
from .rating import ChargeRequest, ServiceUsage
from .store import Storage, StorageError, Target, open_storage
from .tariff import DEFAULT_TARIFF, Policy, Rate, Tariff, TariffError, load_tariff

__all__ = [
    "Account", "AccountKind", "AccountState", "AuditReport", "Balance", "BalanceType",
    "ChargeRequest", "DEFAULT_TARIFF", "Engine", "FinalAction", "Grant", "Outcome", "Policy",
    "Rate", "RechargeRequest", "RequestKind", "RequestedAction", "ServiceUsage", "Storage",
    "StorageError", "SubscriptionType", "Target", "Tariff", "TariffError", "UnitKind",
    "load_tariff", "open_storage",
]
