"""The standalone command line: `python -m emulator ...`."""

from __future__ import annotations

import pytest

from emulator import state_of
from emulator.__main__ import build_app, parse_args
from emulator.state import CallbackChaos


def test_it_turns_on_status_callback_chaos_from_the_command_line():
    args = parse_args(["--auth-token", "t0ken", "--chaos", "duplicate, reorder,delay=0.25", "--numbers",
                       "+14155550101,+14155550102"])

    state = state_of(build_app(args))

    assert state.callback_chaos == CallbackChaos(duplicate=True, reorder=True, delay=0.25)
    assert state.numbers == ["+14155550101", "+14155550102"]


def test_it_reads_chaos_from_the_environment_and_leaves_it_off_by_default(monkeypatch):
    assert parse_args(["--auth-token", "t"]).chaos == CallbackChaos()

    monkeypatch.setenv("EMULATOR_CHAOS", "reorder")

    assert parse_args(["--auth-token", "t"]).chaos == CallbackChaos(reorder=True)


@pytest.mark.parametrize("chaos", ["shuffle", "delay=soon", "delay=-1", "duplicate=2"])
def test_it_refuses_chaos_it_does_not_know(chaos, capsys):
    with pytest.raises(SystemExit) as exit_:
        parse_args(["--auth-token", "t", "--chaos", chaos])

    assert exit_.value.code == 2
    assert "--chaos" in capsys.readouterr().err
