"""The verbs steer a live call only through the CallControl protocol, which LiveCall implements."""

from __future__ import annotations

import ast
import inspect

import pytest

from emulator import conference, dial, queues, recording, verbs
from emulator.call_control import CallControl
from emulator.engine import LiveCall
from emulator.state import Call, EmulatorState


def protocol_members() -> set[str]:
    return {name for name in vars(CallControl) if not name.startswith("_")}


def test_the_live_call_offers_everything_the_protocol_promises():
    account_sid = "AC" + "1" * 32
    call = Call(sid="CA" + "1" * 32, account_sid=account_sid, from_="+15550001111", to="+15550002222",
                direction="inbound")
    live = LiveCall(EmulatorState(account_sid, "token"), call)

    missing = [name for name in protocol_members() if not hasattr(live, name)]

    assert protocol_members() >= {"wake_when", "expect_bridge", "count_redirect", "fetch", "wait"}
    assert not missing, f"LiveCall lacks {missing}"
    live.session.close()


@pytest.mark.parametrize("module", [verbs, queues, dial, conference, recording], ids=lambda m: m.__name__)
def test_no_verb_assigns_to_the_live_call(module):
    tree = ast.parse(inspect.getsource(module))
    offenders = []
    for function in (n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)):
        controls = {a.arg for a in function.args.args if a.annotation is not None
                    and ast.unparse(a.annotation) == "CallControl"}
        for node in ast.walk(function):
            targets = node.targets if isinstance(node, ast.Assign) else (
                [node.target] if isinstance(node, ast.AugAssign | ast.AnnAssign) else [])
            offenders += [f"{function.name}: {ast.unparse(t)}" for t in targets
                          if isinstance(t, ast.Attribute) and isinstance(t.value, ast.Name) and t.value.id in controls]

    assert not offenders, f"verbs must call CallControl methods, not set the call's fields: {offenders}"
