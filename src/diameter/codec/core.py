"""The codec's hot loops under their former single name.

The compiled codec's main modules: :mod:`.frame` (header and AVP framing,
scanning, limits), :mod:`.typed` and :mod:`.typed_encode` (typed classes over
bytes, and their encoding), :mod:`.assemble` (constructors), :mod:`.objects`
(python-diameter's Avp objects and whole messages) and :mod:`.grammar` (the
validation fast path). This module re-exports their names for code written
against ``diameter.codec.core``; new code imports from the module that holds
the name. :data:`COMPILED` tells whether the mypyc-compiled build is running.
"""
from __future__ import annotations

from .frame import (COMPILED, LIMITS, Entry, Limits, check, frame_at, header_error, scan,
                    scan_indexed, scan_struct, u32_at)
from .grammar import AvpRules, GrammarRules, RuleBook, VInfo, grammar_ok
from .objects import (AVP_TABLES, MESSAGE_TYPES, AvpTables, MessageTypes, decode_message,
                      grouped_value, make_avps, scan_avp_objects, value_i32, value_i64,
                      value_octets, value_u32, value_u64, value_utf8)
from .assemble import GroupedInit, init_grouped
from .typed import (BINDINGS, EAGER, GENERATION, K_CALL, K_GROUP, K_I32, K_I64, K_OCTETS,
                    K_U32, K_U64, K_UTF8, MISS, SLOW, Attr, Binding, FillState, Slot, attr_get,
                    entries_of, fill, fill_dict, scan_fill)
from .typed_encode import encode_fresh

_scan_struct = scan_struct      # the names the codec's own tests use
_scan_indexed = scan_indexed
_frame = frame_at

__all__ = [
    "COMPILED", "LIMITS", "Entry", "Limits", "check", "frame_at", "header_error", "scan",
    "scan_indexed", "scan_struct", "u32_at", "AvpRules", "GrammarRules", "RuleBook", "VInfo",
    "grammar_ok", "AVP_TABLES", "MESSAGE_TYPES", "AvpTables", "MessageTypes", "decode_message",
    "grouped_value", "make_avps", "scan_avp_objects", "value_i32", "value_i64", "value_octets",
    "value_u32", "value_u64", "value_utf8", "BINDINGS", "EAGER", "GENERATION", "K_CALL",
    "K_GROUP", "K_I32", "K_I64", "K_OCTETS", "K_U32", "K_U64", "K_UTF8", "MISS", "SLOW", "Attr",
    "Binding", "FillState", "GroupedInit", "Slot", "attr_get", "encode_fresh", "entries_of",
    "fill", "fill_dict", "init_grouped", "scan_fill",
]
