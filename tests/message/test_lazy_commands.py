"""Command modules are imported on first use; the registries read as if filled eagerly."""
from __future__ import annotations

import dataclasses
import subprocess
import sys
from pathlib import Path

SRC = str(Path(__file__).resolve().parents[2] / "src")


def _run(code: str) -> str:
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={"PYTHONPATH": SRC, "PATH": "/usr/bin:/bin"}, timeout=120)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


def test_gy_program_loads_only_its_command_modules():
    loaded = _run(
        "import sys\n"
        "from diameter.message.commands import CreditControlRequest\n"
        "from diameter.message import Message\n"
        "ccr = CreditControlRequest(); ccr.session_id = 's;1'\n"
        "assert type(Message.from_bytes(ccr.as_bytes())) is CreditControlRequest\n"
        "print(sorted(m for m in sys.modules if m.startswith('diameter.message.commands.')))\n")
    names = eval(loaded)
    assert "diameter.message.commands.credit_control" in names
    assert "diameter.message.commands.aa" not in names
    assert len(names) <= 3, names   # credit_control, _helpers (and nothing of the other 90)


def test_decoding_an_unimported_command_imports_its_module():
    out = _run(
        "import sys\n"
        "from diameter.message import Message\n"
        "assert 'diameter.message.commands.session_termination' not in sys.modules\n"
        "raw = bytes.fromhex('01000014' '80000113' '00000000' '00000001' '00000002')\n"
        "msg = Message.from_bytes(raw)\n"
        "print(type(msg).__name__, 'diameter.message.commands.session_termination' in sys.modules)\n")
    assert out == "SessionTerminationRequest True"


def test_registry_iteration_sees_every_command():
    from diameter.message.commands import all_commands, commands_by_application
    assert len(all_commands) > 150
    assert all(isinstance(c, type) for c in all_commands.values())
    assert commands_by_application[(4, 272)].__name__ == "CreditControl"
    assert 999999 not in all_commands and all_commands.get(999999) is None


def test_register_replaces_a_lazy_entry():
    from diameter.message import Message
    from diameter.message.commands import commands_by_application, register
    from diameter.message.commands.device_watchdog import DeviceWatchdog
    saved = commands_by_application[(0, 280)]

    class MyWatchdog(DeviceWatchdog):
        pass
    try:
        register(MyWatchdog, 0)
        raw = bytes.fromhex("01000014" "80000118" "00000000" "00000001" "00000002")
        assert commands_by_application.get((0, 280)) is MyWatchdog
        assert type(Message.from_bytes(raw, plain_msg=True)) is MyWatchdog
    finally:
        register(saved, 0)


def test_grouped_classes_stay_dataclasses():
    from diameter.message.avp.grouped import SubscriptionId
    names = [f.name for f in dataclasses.fields(SubscriptionId)]
    assert names[:2] == ["subscription_id_type", "subscription_id_data"]
    a, b = SubscriptionId(0, "41780000001"), SubscriptionId(0, "41780000001")
    assert a == b and a != SubscriptionId(1, "x")
    assert repr(a).startswith("SubscriptionId(subscription_id_type=0, subscription_id_data='41780000001'")
    assert dataclasses.asdict(a)["subscription_id_data"] == "41780000001"
    assert dataclasses.replace(a, subscription_id_type=1).subscription_id_type == 1


def test_threads_decoding_unimported_commands_all_get_the_typed_class():
    out = _run(
        "import threading\n"
        "from diameter.message import Message\n"
        "codes = [257, 258, 271, 272, 274, 275, 280, 282, 316, 317, 318, 319, 320, 321, 323]\n"
        "raws = [bytes.fromhex('01000014') + bytes([0x80]) + c.to_bytes(3, 'big') + bytes(12)\n"
        "        for c in codes]\n"
        "bad = []\n"
        "def work():\n"
        "    for raw in raws:\n"
        "        if type(Message.from_bytes(raw)).__name__ == 'UndefinedMessage':\n"
        "            bad.append(raw[5:8].hex())\n"
        "ts = [threading.Thread(target=work) for _ in range(8)]\n"
        "[t.start() for t in ts]; [t.join() for t in ts]\n"
        "print(sorted(set(bad)))\n")
    assert out == "[]"


def test_command_module_has_no_submodules_and_its_grouped_names_stay_importable():
    # its __getattr__ (grouped classes on first use) answered "__path__" with grouped's
    # own: the module then looked like a package of grouped's files
    import importlib

    import diameter.message.avp.grouped as grouped
    from diameter.message.commands import credit_control
    from diameter.message.commands.credit_control import GrantedServiceUnit, RequestedServiceUnit
    assert GrantedServiceUnit is grouped.GrantedServiceUnit
    assert RequestedServiceUnit is grouped.RequestedServiceUnit
    assert credit_control.__path__ == []
    assert not hasattr(credit_control, "__no_such_dunder__")
    try:
        importlib.import_module("diameter.message.commands.credit_control._rfc4006")
    except ModuleNotFoundError as e:
        assert e.name == "diameter.message.commands.credit_control._rfc4006"
    else:
        raise AssertionError("a grouped shard imported as a command module's submodule")
    try:
        credit_control.NoSuchClass  # noqa: B018
    except AttributeError as e:
        assert "NoSuchClass" in str(e)
    else:
        raise AssertionError("an unknown name read as an attribute")
