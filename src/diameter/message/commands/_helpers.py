"""Hand-written parts of the command classes: helper mixins and the registry.

The generated command modules list these mixins as bases where
python-diameter offered the same helper methods.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from .._base import all_commands, commands_by_application
from ...codec.assemble import add_grouped as _add_grouped
from ...codec.assemble import add_mscc as _add_mscc

if TYPE_CHECKING:
    from .._base import DefinedMessage
    from ..avp import Avp
    from ..avp.grouped import (FinalUnitIndication, GrantedServiceUnit, GsuPoolReference,
                               RequestedServiceUnit, UsedServiceUnit)

# all_commands: command classes by command code; commands_by_application: by
# (application id, command code). Both are the decoder's registries (message._base),
# indexed by the package `__init__` and filled as the command modules are imported.


def register(cmd_class: type[DefinedMessage], application_id: int | None = None) -> None:
    """Register a custom command class, so that parsing returns it.

    Replaces any class registered for the same command code (and, when
    `application_id` is given, for that application).

    Raises:
        RuntimeError: the class is not a DefinedMessage or has no `code`.
    """
    from .._base import DefinedMessage
    if not isinstance(cmd_class, type) or not issubclass(cmd_class, DefinedMessage):
        raise RuntimeError(f"Cannot register {cmd_class} as a command, it does "
                           f"not subclass DefinedMessage")
    code = getattr(cmd_class, "code", None)
    if not isinstance(code, int):
        raise RuntimeError(f"Cannot register {cmd_class} as a command, it does "
                           f"not have a `code` attribute")
    all_commands[code] = cmd_class
    if application_id is not None:
        commands_by_application[(application_id, code)] = cmd_class


_GROUPED: list = []


def _grouped():
    """diameter.message.avp.grouped, imported on first use (it imports this module's users)."""
    if not _GROUPED:
        from ..avp import grouped
        _GROUPED.append(grouped)
    return _GROUPED[0]


class SubscriptionIdMixin:
    """Adds `add_subscription_id` to messages with a `subscription_id` list."""

    def add_subscription_id(self, subscription_id_type: int,
                            subscription_id_data: str) -> None:
        """Append a Subscription-Id.

        Args:
            subscription_id_type: one of the `E_SUBSCRIPTION_ID_TYPE_*` values
            subscription_id_data: the identifier (MSISDN, IMSI, SIP URI, ...)
        """
        g = _GROUPED[0] if _GROUPED else _grouped()
        _add_grouped(self, "subscription_id", g.SubscriptionId,
                     {"subscription_id_type": subscription_id_type,
                      "subscription_id_data": subscription_id_data})


class MultipleServicesCreditControlMixin:
    """Adds `add_multiple_services_credit_control` to credit-control messages."""

    def add_multiple_services_credit_control(
            self, granted_service_unit: GrantedServiceUnit = None,
            requested_service_unit: RequestedServiceUnit = None,
            used_service_unit: list[UsedServiceUnit] | UsedServiceUnit = None,
            tariff_change_usage: int = None,
            service_identifier: list[int] | int = None,
            rating_group: int = None,
            g_s_u_pool_reference: list[GsuPoolReference] = None,
            validity_time: int = None,
            result_code: int = None,
            final_unit_indication: FinalUnitIndication = None,
            avp: list[Avp] = None) -> None:
        """Append a Multiple-Services-Credit-Control built from the arguments.

        `used_service_unit` and `service_identifier` accept one value or a
        list; `avp` holds further AVPs to carry inside the group.
        """
        # only the arguments given (compiled): an argument left out reads None (a list one
        # []) all the same, and a group built from fewer keywords is built and encoded faster
        g = _GROUPED[0] if _GROUPED else _grouped()
        _add_mscc(self, g.MultipleServicesCreditControl, granted_service_unit,
                  requested_service_unit, used_service_unit, tariff_change_usage,
                  service_identifier, rating_group, g_s_u_pool_reference, validity_time,
                  result_code, final_unit_indication, avp)
