"""An online charging server (OCS): accounts, tariffs, rating, reservations, ledger, storage.

The charging model (`model`, `tariff`, `rating`, `accounting`, `engine`, `store`) has no
Diameter types; the Diameter front that answers Gy/Ro and Huawei DCC requests sits on top
(`front`, with `mapping` between the two).

The charging model, the rating core and the CCR/CCA mapping (:mod:`.model`, :mod:`.tariff`,
:mod:`.books`, :mod:`.rating`, :mod:`.mapping`) may be compiled extensions (mypyc, like the
codec and node cores); ``DIAMETER_PURE_PYTHON=1`` runs their Python source.
"""
from diameter.codec.source_switch import use_source as _use_source

_COMPILED_MODULES = ("model", "tariff", "books", "rating", "mapping")   # setup.py compiles these

_use_source(__name__, __file__, _COMPILED_MODULES)

# the imports below come after the pure-Python switch
from .accounting import RechargeRequest  # noqa: E402
from .engine import Engine  # noqa: E402
from .model import (  # noqa: E402
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
from .rating import ChargeRequest, ServiceUsage  # noqa: E402
from .store import Storage, StorageError, Target, open_storage  # noqa: E402
from .tariff import DEFAULT_TARIFF, Policy, Rate, Tariff, TariffError, load_tariff  # noqa: E402

__all__ = [
    "Account", "AccountKind", "AccountState", "AuditReport", "Balance", "BalanceType",
    "ChargeRequest", "DEFAULT_TARIFF", "Engine", "FinalAction", "Grant", "Outcome", "Policy",
    "Rate", "RechargeRequest", "RequestKind", "RequestedAction", "ServiceUsage", "Storage",
    "StorageError", "SubscriptionType", "Target", "Tariff", "TariffError", "UnitKind",
    "load_tariff", "open_storage",
]
