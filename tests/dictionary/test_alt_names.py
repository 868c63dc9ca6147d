"""The seed's own names for four Huawei AVPs: constants and look-up by name."""
from __future__ import annotations

import pytest

from diameter.message import constants
from diameter.message.avp import avp_by_name
from diameter.message.avp.dictionary import AVP_VENDOR_DICTIONARY

SEED_NAMES = {  # name in seed 004 -> (code, python-diameter's name)
    "MO-MSC-Addr": (20404, "MO-MSC-Address"),
    "MT-MSC-Addr": (20405, "MT-MSC-Address"),
    "SMSC-Address": (20401, "SMSC-Address-Huawei"),
    "Status-Report-Request": (20415, "Status-Report-Requested"),
}


def test_constants_under_both_names():
    assert constants.AVP_HUAWEI_MO_MSC_ADDR == constants.AVP_HUAWEI_MO_MSC_ADDRESS == 20404
    assert constants.AVP_HUAWEI_MT_MSC_ADDR == constants.AVP_HUAWEI_MT_MSC_ADDRESS == 20405
    assert constants.AVP_HUAWEI_SMSC_ADDRESS == constants.AVP_HUAWEI_SMSC_ADDRESS_HUAWEI == 20401
    assert (constants.AVP_HUAWEI_STATUS_REPORT_REQUEST
            == constants.AVP_HUAWEI_STATUS_REPORT_REQUESTED == 20415)


@pytest.mark.parametrize("seed_name", sorted(SEED_NAMES))
def test_lookup_by_either_name(seed_name):
    code, pd_name = SEED_NAMES[seed_name]
    huawei = constants.VENDOR_HUAWEI
    assert avp_by_name(seed_name, huawei) == (code, huawei)
    assert avp_by_name(pd_name, huawei) == (code, huawei)
    assert avp_by_name(seed_name.upper(), huawei) == (code, huawei)
    # the dictionary keeps python-diameter's name
    assert AVP_VENDOR_DICTIONARY[huawei][code]["name"] == pd_name


def test_unique_names_need_no_vendor_and_ambiguous_ones_say_so():
    assert avp_by_name("MO-MSC-Addr") == (20404, constants.VENDOR_HUAWEI)
    assert avp_by_name("Session-Id") == (263, 0)
    with pytest.raises(ValueError, match="ambiguous"):
        avp_by_name("SMSC-Address")      # 3GPP's SMSC-Address (2017) too
    assert avp_by_name("SMSC-Address", constants.VENDOR_TGPP) == (2017, constants.VENDOR_TGPP)
    with pytest.raises(KeyError):
        avp_by_name("No-Such-AVP")
