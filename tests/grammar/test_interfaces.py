"""Every interface of issue 5 has its application, its commands and typed classes.

For each interface: the application id is in the dictionary, the application
binds every expected command code, each command's typed `<Name>Request` /
`<Name>Answer` import from `diameter.message.commands.<module>`, and the
request/answer carry the interface's key attributes (snake_case AVP names).
A missing interface, command, module or attribute fails here.
"""
from __future__ import annotations

import importlib

import pytest

from diameter.dictionary.source import load_all
from diameter.message import commands as C

# interface -> (application id, {code: module}, request attrs, answer attrs)
# key attributes are checked on the first command of each interface.
INTERFACES: dict[str, tuple[int, dict[int, str], tuple[str, ...], tuple[str, ...]]] = {
    "base": (0, {257: "capabilities_exchange", 258: "re_auth", 274: "abort_session",
                 275: "session_termination", 280: "device_watchdog", 282: "disconnect_peer"},
             ("origin_host", "host_ip_address", "vendor_id", "product_name"), ("result_code",)),
    "NASREQ": (1, {265: "aa", 258: "re_auth", 271: "accounting", 274: "abort_session",
                   275: "session_termination"},
               ("auth_request_type", "framed_ip_address"), ("result_code", "framed_ip_address")),
    "Mobile IPv4": (2, {260: "aa_mobile_node", 262: "home_agent_mip"},
                    ("mip_reg_request", "mip_mn_aaa_auth"), ("mip_reg_reply",)),
    "base accounting / Rf": (3, {271: "accounting"},
                             ("accounting_record_type", "service_context_id", "service_information"),
                             ("accounting_record_number",)),
    "credit control / Gy / Ro": (4, {272: "credit_control", 258: "re_auth"},
                                 ("cc_request_type", "multiple_services_credit_control",
                                  "service_information"), ("granted_service_unit",)),
    "EAP": (5, {268: "diameter_eap"}, ("eap_payload",), ("eap_master_session_key",)),
    "SIP (RFC 4740)": (6, {283: "sip_user_authorization", 284: "sip_server_assignment",
                           285: "sip_location_info", 286: "sip_multimedia_auth",
                           287: "sip_registration_termination", 288: "sip_push_profile"},
                       ("sip_aor", "sip_visited_network_id"), ("result_code",)),
    "Mobile IPv6 MIP6I": (7, {268: "diameter_eap"},
                          ("mip6_feature_vector", "mip6_agent_info", "mip_mobile_node_address"),
                          ("mip6_feature_vector", "service_selection")),
    "Mobile IPv6 MIP6A": (8, {325: "mip6"}, ("mip6_auth_mode", "mip_careof_address"), ("mip_mn_ha_msa",)),
    "Cx/Dx": (16777216, {300: "user_authorization", 301: "server_assignment", 302: "location_info",
                         303: "multimedia_auth", 304: "registration_termination", 305: "push_profile"},
              ("public_identity", "visited_network_identifier"), ("server_capabilities",)),
    "Sh": (16777217, {306: "user_data", 307: "profile_update", 308: "subscribe_notifications",
                      309: "push_notification"}, ("user_identity", "data_reference"), ("user_data",)),
    "Gq": (16777222, {265: "aa", 258: "re_auth", 274: "abort_session", 275: "session_termination"},
           ("media_component_description",), ("access_network_charging_identifier",)),
    "Gmb": (16777223, {265: "aa", 258: "re_auth", 274: "abort_session", 275: "session_termination"},
            ("additional_mbms_trace_info",), ("tmgi", "required_mbms_bearer_capabilities")),
    "MM10": (16777226, {311: "message_process"}, ("served_user_identity",), ("result_code",)),
    "CIP (Ericsson)": (16777232, {16777214: "charging_interrogation", 258: "re_auth", 274: "abort_session",
                                  275: "session_termination"},
                       ("charging_context_id", "access_information", "charging_state_information",
                        "cip_ip_version", "multiple_services_credit_control"),
                       ("result_code_extension", "cdr_information", "subscriber_information")),
    "E4": (16777231, {306: "user_data", 309: "push_notification"},
           ("globally_unique_address", "af_application_identifier"),
           ("logical_access_id", "ip_connectivity_status")),
    "Rx": (16777236, {265: "aa", 258: "re_auth", 274: "abort_session", 275: "session_termination"},
           ("media_component_description", "af_charging_identifier"), ("acceptable_service_info",)),
    "Gx": (16777238, {272: "credit_control", 258: "re_auth"},
           ("event_trigger", "qos_information"), ("charging_rule_install",)),
    "STa": (16777250, {268: "diameter_eap", 265: "aa", 258: "re_auth", 274: "abort_session",
                       275: "session_termination"}, ("eap_payload", "rat_type"), ("apn_configuration",)),
    "S6a/S6d": (16777251, {316: "update_location", 317: "cancel_location",
                           318: "authentication_information", 319: "insert_subscriber_data",
                           320: "delete_subscriber_data", 321: "purge_ue", 322: "reset", 323: "notify"},
                ("ulr_flags", "visited_plmn_id"), ("subscription_data",)),
    "S13": (16777252, {324: "me_identity_check"}, ("terminal_information",), ("equipment_status",)),
    "SLg": (16777255, {8388620: "tgpp_provide_location", 8388621: "tgpp_location_report"},
            ("slg_location_type", "lcs_eps_client_name"), ("location_estimate",)),
    "SWm": (16777264, {268: "diameter_eap", 265: "aa", 258: "re_auth", 274: "abort_session",
                       275: "session_termination"}, ("eap_payload",), ("apn_configuration",)),
    "SWx": (16777265, {301: "server_assignment", 303: "multimedia_auth",
                       304: "registration_termination", 305: "push_profile"},
            ("server_assignment_type",), ("non_3gpp_user_data",)),
    "Gxx": (16777266, {272: "credit_control", 258: "re_auth"},
            ("qos_rule_report",), ("qos_rule_install",)),
    "S9": (16777267, {272: "credit_control", 258: "re_auth", 8388656: "trigger_establishment"},
           ("subsession_enforcement_info", "multiple_bberf_action"), ("subsession_decision_info",)),
    "S6b": (16777272, {268: "diameter_eap", 265: "aa", 258: "re_auth", 274: "abort_session",
                       275: "session_termination"}, ("mip6_agent_info",), ("mip6_feature_vector",)),
    "SLh": (16777291, {8388622: "tgpp_lcs_routing_info"}, ("gmlc_number",), ("serving_node",)),
    "SGmb": (16777292, {258: "re_auth", 274: "abort_session", 275: "session_termination"},
             ("mbms_startstop_indication", "tmgi"), ("result_code",)),
    "Sy": (16777302, {8388635: "spending_limit", 8388636: "spending_status_notification",
                      275: "session_termination"}, ("sl_request_type",), ("policy_counter_status_report",)),
    "Sd": (16777303, {8388637: "tdf_session", 272: "credit_control", 258: "re_auth"},
           ("adc_rule_install", "adc_rule_remove"), ("adc_rule_report",)),
    "S7a": (16777308, {8388638: "update_vcsg_location", 8388642: "cancel_vcsg_location",
                       319: "insert_subscriber_data", 320: "delete_subscriber_data", 322: "reset"},
            ("uvr_flags",), ("vplmn_csg_subscription_data",)),
    "Tsp": (16777309, {8388639: "tgpp_device_action", 8388640: "tgpp_device_notification"},
            ("device_action",), ("device_notification",)),
    "S6m": (16777310, {8388641: "tgpp_subscriber_information"}, ("user_identifier", "sir_flags"), ("service_data",)),
    "T4": (16777311, {8388643: "tgpp_device_trigger", 8388644: "tgpp_delivery_report"},
           ("payload", "application_port_identifier", "old_reference_number"), ("mtc_error_diagnostic",)),
    "S6c": (16777312, {8388647: "send_routing_info_for_sm", 8388648: "alert_service_centre",
                       8388649: "report_sm_delivery_status"}, ("sc_address",), ("serving_node",)),
    "SGd": (16777313, {8388645: "mo_forward_short_message", 8388646: "mt_forward_short_message"},
            ("sm_rp_ui",), ("sm_delivery_failure_cause",)),
    "S15": (16777318, {272: "credit_control", 258: "re_auth"},
            ("cs_service_qos_request_identifier",), ("result_code",)),
    "S9a": (16777319, {272: "credit_control", 258: "re_auth", 8388656: "trigger_establishment"},
            ("qos_rule_report", "ue_local_ip_address"), ("qos_rule_install",)),
    "S9a*": (16777320, {272: "credit_control", 258: "re_auth"},
             ("charging_rule_report", "ue_local_ipv6_prefix"), ("charging_rule_install",)),
    "MB2-C": (16777335, {8388662: "gcs_action", 8388663: "gcs_notification"},
              ("tmgi_allocation_request",), ("tmgi_allocation_response",)),
    "PC4a": (16777336, {8388664: "prose_subscriber_information", 8388665: "update_prose_subscriber_data",
                        8388666: "prose_notify", 8388667: "reset_8388667",
                        8388713: "prose_initial_location_information"}, ("user_name",), ("prose_subscription_data",)),
    "PC2": (16777337, {8388676: "proximity_action", 8388727: "proximity_application"},
            ("prose_request_type", "banned_user_target"),
            ("prose_restricted_code_suffixrange", "prose_app_code_suffix_range", "monitor_target")),
    "PC6/PC7": (16777340, {8388668: "prose_authorization", 8388669: "prose_discovery",
                           8388670: "prose_match", 8388671: "prose_match_report_info",
                           8388672: "prose_proximity", 8388673: "prose_location_update",
                           8388674: "prose_alert", 8388675: "prose_cancellation"},
                ("user_identity", "visited_plmn_id"), ("prose_direct_allowed",)),
    "Np": (16777342, {8388720: "non_aggregated_ruci_report", 8388721: "aggregated_ruci_report",
                      8388722: "modify_uecontext"},
           ("congestion_level_value", "congestion_location_id", "rcaf_id"),
           ("reporting_restriction", "ruci_action", "congestion_level_definition", "pcrf_address")),
    "S6t": (16777345, {8388718: "configuration_information", 8388719: "reporting_information",
                       8388726: "nidd_information"}, ("monitoring_event_configuration",), ("monitoring_event_report",)),
    "T6a/T6b": (16777346, {8388718: "configuration_information", 8388719: "reporting_information",
                           8388732: "connection_management", 8388733: "mo_data", 8388734: "mt_data"},
                ("monitoring_event_configuration",), ("monitoring_event_report",)),
    "Ns": (16777347, {8388724: "network_status", 8388725: "network_status_continuous_report"},
           ("ns_request_type", "network_area_info_list", "congestion_level_range"),
           ("network_congestion_area_report",)),
    "Nt": (16777348, {8388723: "background_data_transfer"},
           ("transfer_request_type", "number_of_ues", "time_window", "transfer_policy_id"),
           ("transfer_policy", "pcrf_address")),
    "St": (16777349, {8388731: "tssf_notification", 8388637: "tdf_session", 275: "session_termination"},
           ("adc_rule_report",), ("result_code",)),
    "Nta": (16777358, {8388735: "event_configuration", 8388736: "event_reporting"},
            ("external_identifier", "event_configuration", "group_reporting_guard_timer"),
            ("event_reports", "event_configuration_status")),
}


def _attrs(cls: type) -> set[str]:
    return {d.attr_name for d in cls.avp_def}


@pytest.mark.parametrize("name", sorted(INTERFACES))
def test_interface_has_typed_commands(name: str) -> None:
    app_id, modules, req_attrs, ans_attrs = INTERFACES[name]
    d = load_all()
    assert app_id in d.applications, f"{name}: application {app_id} missing"
    bound = {code for (app, code) in C.commands_by_application if app == app_id}
    assert set(modules) <= bound, f"{name}: commands {sorted(set(modules) - bound)} not bound to {app_id}"
    for code, module in modules.items():
        cls = C.commands_by_application[(app_id, code)]
        mod = importlib.import_module(f"diameter.message.commands.{module}")
        assert cls.__module__ == mod.__name__
        req, ans = getattr(mod, cls.__name__ + "Request"), getattr(mod, cls.__name__ + "Answer")
        assert req.code == ans.code == code
        assert req().header.is_request and not ans().header.is_request
    first = C.commands_by_application[(app_id, next(iter(modules)))]
    mod = importlib.import_module(first.__module__)
    req, ans = getattr(mod, first.__name__ + "Request"), getattr(mod, first.__name__ + "Answer")
    assert set(req_attrs) <= _attrs(req), f"{name}: request lacks {set(req_attrs) - _attrs(req)}"
    assert set(ans_attrs) <= _attrs(ans), f"{name}: answer lacks {set(ans_attrs) - _attrs(ans)}"


def test_swa_and_swd_map_onto_sta_swm_s6b() -> None:
    """TS 29.273: SWa uses the STa application (16777250); SWd is the roaming
    relay of STa, SWm and S6b, so it has no application of its own."""
    d = load_all()
    swa = INTERFACES["STa"]
    assert d.applications[16777250].name.endswith("STa")
    for code in swa[1]:
        assert (16777250, code) in C.commands_by_application
    for relayed in (16777250, 16777264, 16777272):
        assert relayed in d.applications
        assert (relayed, 268) in C.commands_by_application
    # the Diameter-EAP class is shared: an SWd proxy decodes all three the same way
    assert len({C.commands_by_application[(a, 268)] for a in (16777250, 16777264, 16777272)}) == 1
    assert not [a for a in d.applications.values() if "SWd" in a.name or "SWa" in a.name]
