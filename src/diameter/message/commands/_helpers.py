"""Hand-written parts of the command classes: helper mixins and the registry.

The generated command modules list these mixins as bases where
python-diameter offered the same helper methods.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from .._base import all_commands, commands_by_application
from ..avp.generator import new_grouped as _new_grouped

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


def _append(msg, name: str, item) -> None:
    """Append ``item`` to the list attribute ``name`` (creating the list when unset)."""
    d = msg.__dict__
    current = d.get(name)
    if current is None:
        if "_raw" in d:     # decoded: the list may still be in the bytes
            current = getattr(msg, name, None)
            if current is not None:
                current.append(item)
                return
        setattr(msg, name, [item])
    else:
        current.append(item)


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
        sid = _new_grouped(g.SubscriptionId, {"subscription_id_type": subscription_id_type,
                                              "subscription_id_data": subscription_id_data})
        _append(self, "subscription_id", sid)


def _as_list(value):
    if value is None or isinstance(value, list):
        return value
    return [value]


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
        # only the arguments given: an argument left out reads None (a list one []) all the
        # same, and a group built from fewer keywords is built and encoded faster
        kw: dict = {}
        if granted_service_unit is not None:
            kw["granted_service_unit"] = granted_service_unit
        if requested_service_unit is not None:
            kw["requested_service_unit"] = requested_service_unit
        if used_service_unit is not None:
            kw["used_service_unit"] = _as_list(used_service_unit)
        if tariff_change_usage is not None:
            kw["tariff_change_usage"] = tariff_change_usage
        if service_identifier is not None:
            kw["service_identifier"] = _as_list(service_identifier)
        if rating_group is not None:
            kw["rating_group"] = rating_group
        if g_s_u_pool_reference is not None:
            kw["g_s_u_pool_reference"] = g_s_u_pool_reference
        if validity_time is not None:
            kw["validity_time"] = validity_time
        if result_code is not None:
            kw["result_code"] = result_code
        if final_unit_indication is not None:
            kw["final_unit_indication"] = final_unit_indication
        if avp:
            kw["additional_avps"] = list(avp)
        g = _GROUPED[0] if _GROUPED else _grouped()
        _append(self, "multiple_services_credit_control",
                _new_grouped(g.MultipleServicesCreditControl, kw))
