"""An online charging server (OCS): accounts, tariffs, rating, reservations, ledger, storage.

The charging model (`model`, `tariff`, `rating`, `accounting`, `engine`, `store`) has no
Diameter types; the Diameter front that answers Gy/Ro and Huawei DCC requests sits on top.

The rating core (:mod:`.tariff`, :mod:`.books`, :mod:`.rating`) may be compiled extensions
(mypyc, like the codec and node cores); ``DIAMETER_PURE_PYTHON=1`` runs their Python source.
"""
import os as _os
import sys as _sys

_COMPILED_MODULES = ("tariff", "books", "rating")   # setup.py compiles these

if _os.environ.get("DIAMETER_PURE_PYTHON") and __name__ + ".tariff" not in _sys.modules:
    import importlib.util as _ilu
    from typing import Any as _Any
    for _name in _COMPILED_MODULES:   # in import order: each one's imports find the others
        _spec: _Any = _ilu.spec_from_file_location(
            f"{__name__}.{_name}", _os.path.join(_os.path.dirname(__file__), _name + ".py"))
        _mod = _ilu.module_from_spec(_spec)
        _sys.modules[_spec.name] = _mod
        _spec.loader.exec_module(_mod)

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
