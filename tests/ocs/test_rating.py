"""The rating functions alone: pure, on hand-built snapshots."""

from __future__ import annotations

import pytest

from diameter.ocs import rating
from diameter.ocs.accounting import RechargeRequest, recharge
from diameter.ocs.model import (
    Account,
    AccountState,
    Balance,
    BalanceType,
    FinalAction,
    Hold,
    RequestedAction,
    RequestKind,
    Reservation,
    Snapshot,
    UnitKind,
)
from diameter.ocs.rating import ChargeRequest, ServiceUsage
from diameter.ocs.tariff import DEFAULT_TARIFF, Policy, Rate, Tariff, TariffError, tariff_from_dict

from .helpers import GY, MIB, gy

NOW = 1_000_000.0


def snap(amount: int, *extra: Balance, state: AccountState = AccountState.ACTIVE,
         reservations: list[Reservation] | None = None) -> Snapshot:
    main = Balance(1, 7, UnitKind.MONEY, amount, BalanceType.PREPAID_MAIN, priority=30)
    return Snapshot(Account(7, "a", state=state), [main, *extra], reservations or [])


def apply(s: Snapshot, dec) -> None:
    """Carry a decision's reservations into the snapshot (what storage would do)."""
    keep = {(r.session_id, r.rating_group): r for r in s.reservations}
    for k in dec.reservations_del:
        keep.pop(tuple(k), None)
    for r in dec.reservations_put:
        keep[(r.session_id, r.rating_group)] = r
    s.reservations = list(keep.values())
    for row in dec.sessions_put:
        s.sessions[row.session_id] = row
    for sid in dec.sessions_del:
        s.sessions.pop(sid, None)


def test_initial_grants_default_quota_and_reserves_its_price():
    s = snap(1000)
    dec = rating.charge(s, gy("s", 0, RequestKind.INITIAL), DEFAULT_TARIFF, NOW)
    g = dec.outcome.grants[0]
    assert (dec.outcome.result_code, g.result_code, g.units) == (2001, 2001, 10 * MIB)
    assert g.validity_time == 600 and g.volume_threshold == 2 * MIB and g.final_action is None
    assert s.balances[0].amount == 900  # 10 MiB at 10 per MiB reserved
    assert [(r.op, r.amount) for r in dec.ledger] == [("reserve", -100)]


def test_requested_units_win_over_default_and_blocks_are_rounded_up():
    s = snap(1000)
    dec = rating.charge(s, gy("s", 0, RequestKind.INITIAL, requested=MIB + 1), DEFAULT_TARIFF, NOW)
    assert dec.outcome.grants[0].units == MIB + 1
    assert s.balances[0].amount == 980  # two started MiB blocks


def test_update_debits_used_and_reserves_again_then_termination_releases():
    s = snap(1000)
    apply(s, rating.charge(s, gy("s", 0, RequestKind.INITIAL), DEFAULT_TARIFF, NOW))
    apply(s, rating.charge(s, gy("s", 1, RequestKind.UPDATE, used=3 * MIB), DEFAULT_TARIFF, NOW))
    assert s.balances[0].amount == 1000 - 30 - 100
    dec = rating.charge(s, gy("s", 2, RequestKind.TERMINATION, used=MIB // 2, requested=None),
                        DEFAULT_TARIFF, NOW)
    assert s.balances[0].amount == 1000 - 30 - 10
    assert dec.reservations_del == [("s", 1)] and not dec.reservations_put
    assert dec.cdrs[0]["charged"] == 40 and dec.cdrs[0]["reason"] == "terminated"


def test_last_units_carry_final_unit_indication_without_4012_then_final_report_gets_nothing():
    s = snap(25)  # pays for 2 MiB only
    dec = rating.charge(s, gy("s", 0, RequestKind.INITIAL), DEFAULT_TARIFF, NOW)
    g = dec.outcome.grants[0]
    assert (g.result_code, g.units, g.final_action) == (2001, 2 * MIB, FinalAction.TERMINATE)
    apply(s, dec)
    dec = rating.charge(s, gy("s", 1, RequestKind.UPDATE, used=2 * MIB, final=True), DEFAULT_TARIFF, NOW)
    g = dec.outcome.grants[0]
    assert (g.result_code, g.units, g.cost) == (2001, None, 20)
    assert s.balances[0].amount == 5


def test_after_final_units_an_update_gets_no_units_until_a_recharge():
    s = snap(20)
    apply(s, rating.charge(s, gy("s", 0, RequestKind.INITIAL), DEFAULT_TARIFF, NOW))
    assert s.sessions["s"].final
    dec = rating.charge(s, gy("s", 1, RequestKind.UPDATE, used=2 * MIB), DEFAULT_TARIFF, NOW)
    apply(s, dec)
    assert (dec.outcome.result_code, dec.outcome.grants[0].result_code) == (2001, 2001)
    assert dec.outcome.grants[0].units is None
    dec = recharge(s, RechargeRequest(1000), NOW)
    assert dec.outcome.reauth_sessions == ["s"]
    dec = rating.charge(s, gy("s", 2, RequestKind.UPDATE), DEFAULT_TARIFF, NOW)
    g = dec.outcome.grants[0]
    assert (g.units, g.final_action) == (10 * MIB, None) and not s.sessions["s"].final


def test_no_credit_is_4012_at_mscc_and_top_level_on_initial():
    dec = rating.charge(snap(5), gy("s", 0, RequestKind.INITIAL), DEFAULT_TARIFF, NOW)
    assert dec.outcome.result_code == 4012 and dec.outcome.grants[0].result_code == 4012
    assert not dec.ledger and not dec.reservations_put
    assert not dec.sessions_put and dec.cdrs[0]["reason"] == "denied"


def test_redirect_policy_puts_top_up_address_in_the_final_grant():
    tariff = Tariff(DEFAULT_TARIFF.rates, Policy(final_unit_action=FinalAction.REDIRECT,
                                                 redirect_address="http://pay.example/"))
    g = rating.charge(snap(15), gy("s", 0, RequestKind.INITIAL), tariff, NOW).outcome.grants[0]
    assert g.final_action == FinalAction.REDIRECT and g.redirect_address == "http://pay.example/"


def test_free_rating_group_is_4011_and_unknown_rating_is_5031():
    dec = rating.charge(snap(100), gy("s", 0, RequestKind.INITIAL, rg=1000), DEFAULT_TARIFF, NOW)
    assert dec.outcome.grants[0].result_code == 4011 and not dec.ledger
    only_data = Tariff((Rate(UnitKind.OCTETS, price=1, per=MIB, default_quota=MIB, rating_group=1),))
    dec = rating.charge(snap(100), gy("s", 0, RequestKind.INITIAL, rg=9), only_data, NOW)
    assert dec.outcome.grants[0].result_code == 5031 and dec.outcome.result_code == 5031


def test_grant_is_shared_between_sessions_of_one_wallet():
    other = Reservation("other", 1, 7, UnitKind.OCTETS, MIB, [Hold(1, 10, MIB)], NOW + 60)
    s = snap(40, reservations=[other])  # 4 MiB affordable, two sessions
    g = rating.charge(s, gy("s", 0, RequestKind.INITIAL), DEFAULT_TARIFF, NOW).outcome.grants[0]
    assert g.units == 2 * MIB and g.final_action is None


def test_unit_bucket_is_consumed_before_money_in_priority_order():
    bucket = Balance(2, 7, UnitKind.OCTETS, 3 * MIB, BalanceType.FREE_UNITS, rating_groups=(1,),
                     priority=10, valid_until=NOW + 100)
    s = snap(1000, bucket)
    rating.charge(s, gy("s", 0, RequestKind.INITIAL, requested=5 * MIB), DEFAULT_TARIFF, NOW)
    assert s.balance(2).amount == 0 and s.balances[0].amount == 980
    expired = Balance(3, 7, UnitKind.OCTETS, 3 * MIB, rating_groups=(1,), priority=10,
                      valid_until=NOW - 1)
    s = snap(1000, expired)
    rating.charge(s, gy("s", 0, RequestKind.INITIAL, requested=5 * MIB), DEFAULT_TARIFF, NOW)
    assert s.balance(3).amount == 3 * MIB and s.balances[0].amount == 950


def test_overuse_is_charged_down_to_the_floor_never_below():
    s = snap(30)
    apply(s, rating.charge(s, gy("s", 0, RequestKind.INITIAL, requested=MIB), DEFAULT_TARIFF, NOW))
    dec = rating.charge(s, gy("s", 1, RequestKind.TERMINATION, used=50 * MIB, requested=None),
                        DEFAULT_TARIFF, NOW)
    assert s.balances[0].amount == 0 and dec.outcome.grants[0].cost == 30
    assert dec.cdrs[0]["units"] == {"1:octets": 50 * MIB, "1:unpaid": 47 * MIB}


def test_suspended_account_is_denied_on_initial():
    dec = rating.charge(snap(1000, state=AccountState.SUSPENDED), gy("s", 0, RequestKind.INITIAL),
                        DEFAULT_TARIFF, NOW)
    assert dec.outcome.result_code == 4010 and not dec.ledger


@pytest.mark.parametrize("action,expect", [
    (RequestedAction.DIRECT_DEBITING, (2001, 995, 5)),
    (RequestedAction.REFUND_ACCOUNT, (2001, 1005, 5)),
    (RequestedAction.PRICE_ENQUIRY, (2001, 1000, 5)),
])
def test_events(action, expect):
    s = snap(1000)
    req = ChargeRequest("e", 0, RequestKind.EVENT, [(0, "x")], "32274@3gpp.org",
                        [ServiceUsage(None, requested={UnitKind.EVENTS: 1})], action=action)
    out = rating.charge(s, req, DEFAULT_TARIFF, NOW).outcome
    assert (out.result_code, s.balances[0].amount, out.cost) == expect


def test_check_balance_and_direct_debit_without_credit():
    req = ChargeRequest("e", 0, RequestKind.EVENT, [(0, "x")], "32274@3gpp.org",
                        [ServiceUsage(None, requested={UnitKind.EVENTS: 3})],
                        action=RequestedAction.CHECK_BALANCE)
    assert rating.charge(snap(14), req, DEFAULT_TARIFF, NOW).outcome.check_balance == 1
    assert rating.charge(snap(15), req, DEFAULT_TARIFF, NOW).outcome.check_balance == 0
    req.action = RequestedAction.DIRECT_DEBITING
    s = snap(14)
    out = rating.charge(s, req, DEFAULT_TARIFF, NOW).outcome
    assert out.result_code == 4012 and s.balances[0].amount == 14


def test_recharge_lists_sessions_that_got_final_units_and_reversal_respects_floor():
    fui = Reservation("fui", 1, 7, UnitKind.OCTETS, MIB, [Hold(1, 10, MIB)], NOW + 60, final=True)
    s = snap(0, reservations=[fui])
    dec = recharge(s, RechargeRequest(500), NOW)
    assert (dec.outcome.amount_before, dec.outcome.balance, dec.outcome.reauth_sessions) == (0, 500, ["fui"])
    assert recharge(s, RechargeRequest(600, reversal=True), NOW).outcome.result_code == 4012
    dec = recharge(s, RechargeRequest(100, cancel=True), NOW)
    assert dec.outcome.balance == 500 and not dec.ledger


def test_expiry_releases_only_expired_reservations():
    old = Reservation("old", 1, 7, UnitKind.OCTETS, MIB, [Hold(1, 10, MIB)], NOW - 1)
    new = Reservation("new", 1, 7, UnitKind.OCTETS, MIB, [Hold(1, 10, MIB)], NOW + 60)
    s = snap(80, reservations=[old, new])
    dec = rating.expire(s, NOW)
    assert dec.reservations_del == [("old", 1)] and s.balances[0].amount == 90


def test_service_context_with_operator_prefix_matches_and_tariff_file_is_checked():
    assert DEFAULT_TARIFF.rate_for("ext.01.001.8.32260@3gpp.org", None, None).unit is UnitKind.TIME
    assert DEFAULT_TARIFF.rate_for(GY, 5, None).unit is UnitKind.OCTETS
    t = tariff_from_dict({"policy": {"final_unit_action": "redirect"},
                          "rates": [{"unit": "events", "price": 3, "context": "32274@3gpp.org"}]})
    assert t.policy.final_unit_action is FinalAction.REDIRECT and t.rates[0].price == 3
    with pytest.raises(TariffError):
        tariff_from_dict({"rates": [{"unit": "parsecs"}]})
    with pytest.raises(TariffError):
        tariff_from_dict({"rates": [{"unit": "time", "price": -1}]})


def test_tcc_close_leaves_a_session_another_instance_charged_recently():
    s = snap(1000)
    apply(s, rating.charge(s, gy("s", 0, RequestKind.INITIAL), DEFAULT_TARIFF, NOW))
    dec = rating.close(s, "s", "tcc_expired", NOW + 10, idle=600)
    assert not dec.ledger and not dec.cdrs
    dec = rating.close(s, "s", "tcc_expired", NOW + 601, idle=600)
    assert [r.op for r in dec.ledger] == ["release"] and dec.cdrs[0]["reason"] == "tcc_expired"


def test_restrict_policy_puts_filter_rules_in_the_final_grant_and_tariff_file_checks_them():
    from diameter.ocs.tariff import DEFAULT_RESTRICTION_RULES, TariffError, tariff_from_dict

    tariff = tariff_from_dict({"policy": {"final_unit_action": "restrict"}})
    g = rating.charge(snap(15), gy("s", 0, RequestKind.INITIAL), tariff, NOW).outcome.grants[0]
    assert g.final_action == FinalAction.RESTRICT_ACCESS and g.redirect_address is None
    assert g.restriction_filter_rules == list(DEFAULT_RESTRICTION_RULES) and g.filter_ids is None
    with pytest.raises(TariffError, match="restriction_filter_rules"):
        tariff_from_dict({"policy": {"restriction_filter_rules": "permit out ip from any to any"}})
