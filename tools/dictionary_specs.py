"""Which specification (data file) defines an AVP, by vendor and code range.

Facts from the AVP code allocations of IANA (vendor 0) and 3GPP TS 29.230
(vendor 10415), checked against the per-specification AVP tables. Used by
tools/import_dictionary.py to place each imported AVP in its data file.
"""
from __future__ import annotations

# (first, last, file) for vendor 0; first match wins.
IETF_RANGES = [
    (1, 1, "rfc6733"), (25, 25, "rfc6733"), (27, 27, "rfc6733"), (33, 33, "rfc6733"),
    (44, 44, "rfc6733"), (50, 50, "rfc6733"), (55, 55, "rfc6733"), (85, 85, "rfc6733"),
    (124, 125, "rfc5447"), (2, 123, "rfc4005"), (126, 132, "rfc5580"),
    (257, 300, "rfc6733"), (301, 301, "rfc7944"),
    (318, 348, "rfc4004"), (363, 366, "rfc4005"), (367, 367, "rfc4004"),
    (368, 393, "rfc4740"), (400, 410, "rfc4005"), (411, 461, "rfc4006"),
    (462, 465, "rfc4072"), (480, 485, "rfc6733"), (486, 486, "rfc5447"),
    (487, 507, "rfc5778"), (508, 582, "rfc5777"), (618, 620, "rfc6942"),
    (621, 638, "rfc7683"),
]

# (first, last, file) for vendor 10415 (3GPP TS 29.230 table 6.1).
TGPP_RANGES = [
    (636, 636, "3gpp-ts29329"),            # Wildcarded-IMPU: 29.329 in the 29.229 block
    (1015, 1015, "3gpp-ts29212"),          # PDP-Session-Operation (29.210, folded into Gx)
    (0, 99, "3gpp-ts29061"), (300, 399, "3gpp-ts29234"), (400, 499, "3gpp-ts29109"),
    (500, 599, "3gpp-ts29214"), (600, 699, "3gpp-ts29229"), (700, 799, "3gpp-ts29329"),
    (800, 899, "3gpp-ts32299"), (900, 999, "3gpp-ts29061"), (1000, 1099, "3gpp-ts29212"),
    (1100, 1199, "3gpp-ts29140"), (1200, 1399, "3gpp-ts32299"), (1400, 1499, "3gpp-ts29272"),
    (1500, 1599, "3gpp-ts29273"), (1600, 1799, "3gpp-ts29272"), (2000, 2199, "3gpp-ts32299"),
    (2200, 2299, "3gpp-ts29215"), (2300, 2399, "3gpp-ts32299"), (2400, 2499, "3gpp-ts29173"),
    (2500, 2599, "3gpp-ts29172"), (2600, 2799, "3gpp-ts32299"), (2800, 2899, "3gpp-ts29212"),
    (2900, 2999, "3gpp-ts29219"), (3000, 3099, "3gpp-ts29368"), (3100, 3199, "3gpp-ts29336"),
    (3200, 3299, "3gpp-ts29337"), (3300, 3399, "3gpp-ts29338"), (3400, 3499, "3gpp-ts32299"),
    (3500, 3599, "3gpp-ts29468"), (3600, 3699, "3gpp-ts29345"), (3700, 3799, "3gpp-ts29344"),
    (3800, 3899, "3gpp-ts29345"), (3900, 3999, "3gpp-ts32299"), (4000, 4099, "3gpp-ts29217"),
    (4200, 4299, "3gpp-ts29154"), (4300, 4399, "3gpp-ts29128"), (4400, 4400, "3gpp-ts29212"),
    (4401, 4499, "3gpp-ts32299"),
]

SPEC_TITLES = {
    "rfc6733": ("RFC 6733", "Diameter Base Protocol"),
    "rfc4004": ("RFC 4004", "Diameter Mobile IPv4 Application"),
    "rfc4005": ("RFC 7155", "Diameter Network Access Server Application (RFC 4005, RFC 7155)"),
    "rfc4006": ("RFC 4006", "Diameter Credit-Control Application"),
    "rfc4072": ("RFC 4072", "Diameter Extensible Authentication Protocol (EAP) Application"),
    "rfc4740": ("RFC 4740", "Diameter Session Initiation Protocol (SIP) Application"),
    "rfc5447": ("RFC 5447", "Diameter Mobile IPv6: Support for NAS to Diameter Server Interaction"),
    "rfc5580": ("RFC 5580", "Carrying Location Objects in RADIUS and Diameter"),
    "rfc5777": ("RFC 5777", "Traffic Classification and Quality of Service (QoS) Attributes for Diameter"),
    "rfc5778": ("RFC 5778", "Diameter Mobile IPv6: Support for Home Agent to Diameter Server Interaction"),
    "rfc6942": ("RFC 6942", "Diameter Support for the EAP Re-authentication Protocol (ERP)"),
    "rfc7683": ("RFC 7683", "Diameter Overload Indication Conveyance"),
    "rfc7944": ("RFC 7944", "Diameter Routing Message Priority"),
    "ietf-other": ("IETF/IANA", "Other IETF and IANA registered Diameter AVPs"),
    "3gpp-misc": ("3GPP", "3GPP AVPs whose defining TS is not established here"),
    "etsi": ("ETSI", "ETSI TISPAN / e2e4 AVPs"),
    "3gpp2": ("3GPP2", "3GPP2 AVPs"),
    "iana-vendors": ("IANA", "SMI Network Management Private Enterprise Codes used by Diameter"),
    "iana-applications": ("IANA", "Diameter Application IDs"),
}


def ts_title(stem: str) -> tuple[str, str]:
    if stem in SPEC_TITLES:
        return SPEC_TITLES[stem]
    if stem.startswith("3gpp-ts"):
        num = stem[len("3gpp-ts"):]
        return (f"3GPP TS {num[:2]}.{num[2:]}", f"3GPP TS {num[:2]}.{num[2:]}")
    if stem.startswith("vendor-"):
        v = stem[len("vendor-"):]
        return (v, f"{v} vendor-specific AVPs")
    return (stem, stem)


VENDOR_FILES = {
    2011: "vendor-huawei", 193: "vendor-ericsson", 94: "vendor-nokia",
    28458: "vendor-nsn", 5771: "vendor-cisco", 9: "vendor-cisco-systems",
    8164: "vendor-starent", 637: "vendor-alcatel-lucent", 2636: "vendor-juniper",
    323: "vendor-oracle", 12645: "vendor-vodafone", 12951: "vendor-verizon",
    27640: "vendor-telefonica", 4329: "vendor-siemens", 19444: "vendor-metaswitch",
    311: "vendor-microsoft", 11: "vendor-hp", 45687: "vendor-onem2m",
    41897: "vendor-inovar", 42: "vendor-sun", 13019: "etsi", 5535: "3gpp2",
}


def spec_file(vendor: int, code: int) -> str:
    """The data file stem for an AVP."""
    if vendor == 0:
        for lo, hi, f in IETF_RANGES:
            if lo <= code <= hi:
                return f
        return "ietf-other"
    if vendor == 10415:
        for lo, hi, f in TGPP_RANGES:
            if lo <= code <= hi:
                return f
        return "3gpp-misc"
    if vendor in VENDOR_FILES:
        return VENDOR_FILES[vendor]
    return f"vendor-{vendor}"


# Names the specifications use where Wireshark and python-diameter use another
# spelling; written as alt_names so grammars may use the specification's name.
SPEC_ALT_NAMES = {
    (0, 50): ["Acct-Multi-Session-Id"],
    (0, 68): ["Acct-Tunnel-Connection"],          # RFC 2867 / RFC 7155 name
    (10415, 29): ["TWAN-Identifier"],             # TS 29.212 / 29.273 name
    (10415, 606): ["User-Data"],                  # TS 29.229 6.3.7
    (10415, 634): ["Wildcarded-Public-Identity"],  # TS 29.229 6.3.35
    (10415, 2407): ["PPR-Address"],               # TS 29.173 6.4.9
    (10415, 2510): ["LCS-Supported-GAD-Shapes"],  # TS 29.172 7.4.58
    (10415, 2554): ["1xRTT-RCID"],                # TS 29.172 7.4.73
}

# AVPs of the specifications that neither Wireshark nor python-diameter define:
# (vendor, code, name, type, must, may, must_not, note).
SPEC_ADDITIONS = [
    (10415, 29, "TWAN-Identifier", "OctetString", "V", "P", "M",
     "3GPP TS 29.061 16.4.7 (3GPP-TWAN-Identifier sub-attribute 29)"),
    (10415, 4202, "Reference-Id", "OctetString", "V", "P", "M",
     "3GPP TS 29.154 5.4.3"),
    (10415, 4209, "Number-Of-UEs", "Unsigned32", "V", "", "M", "3GPP TS 29.154 5.4.10"),
    (10415, 3324, "SMSMI-Correlation-ID", "Grouped", "V", "", "M", "3GPP TS 29.338 5.3.3.23"),
    (10415, 3325, "HSS-ID", "UTF8String", "V", "", "M", "3GPP TS 29.338 5.3.3.24"),
    (10415, 3326, "Originating-SIP-URI", "UTF8String", "V", "", "M", "3GPP TS 29.338 5.3.3.25"),
    (10415, 3327, "Destination-SIP-URI", "UTF8String", "V", "", "M", "3GPP TS 29.338 5.3.3.26"),
    (10415, 3328, "OFR-Flags", "Unsigned32", "V", "", "M", "3GPP TS 29.338 5.3.3.27"),
]

# Member lists of SPEC_ADDITIONS grouped AVPs: (vendor, code) -> [(vendor, code), ...].
SPEC_ADDITION_MEMBERS = {
    (10415, 3324): [(10415, 3325), (10415, 3326), (10415, 3327)],
}
