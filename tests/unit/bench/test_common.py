"""Benchmark records name the command as run from the repository, never a machine path."""

import argparse
import re
import sys
from pathlib import Path

from bench import common

RESULTS = Path(common.__file__).with_name("RESULTS.md")


def test_the_command_is_written_as_run_from_the_repository(monkeypatch):
    script = Path(common.__file__).with_name("plan_screen.py")
    monkeypatch.setattr(sys, "argv", [str(script), "--quick", "--runs", "3"])
    assert common.command_line() == "python -m bench.plan_screen --quick --runs 3"


def test_no_record_holds_an_absolute_path():
    commands = re.findall(r"^- command: `([^`]*)`", RESULTS.read_text(), flags=re.M)
    assert commands, "RESULTS.md has no recorded commands to check"
    assert [c for c in commands if re.search(r"(^|\s)/", c)] == []


def test_quick_and_smoke_set_their_sizes_and_a_smoke_run_records_nothing(monkeypatch):
    monkeypatch.setattr(common, "_smoke", False)

    def parse(*argv: str):
        monkeypatch.setattr(sys, "argv", ["bench", *argv])
        parser = argparse.ArgumentParser()
        parser.add_argument("--referrals", type=int, default=20_000)
        parser.add_argument("--seconds", type=int, default=15)
        return common.sized(
            parser, quick={"referrals": 2000}, smoke={"referrals": 300, "seconds": 1}
        )

    assert (parse().referrals, parse().seconds) == (20_000, 15)
    assert (parse("--quick").referrals, parse("--quick", "--seconds", "5").seconds) == (2000, 5)
    assert not common._smoke
    smoke = parse("--smoke", "--referrals", "9")
    assert (smoke.referrals, smoke.seconds, common._smoke) == (300, 1, True)


def test_a_write_is_recorded_once_or_the_check_fails():
    assert common.recorded_once(100, 100, 0, in_flight=4)
    assert common.recorded_once(100, 104, 0, in_flight=4)  # in flight when wrk stopped
    assert not common.recorded_once(100, 99, 0, in_flight=4)  # an acknowledged one lost
    assert not common.recorded_once(100, 105, 0, in_flight=4)
    assert not common.recorded_once(100, 100, 1, in_flight=4)  # a key recorded twice
    assert common.acknowledged({"requests": 10, "non2xx": 2, "socket_errors": 1}) == 7
    assert common.ledger_check({"requests": 10, "non2xx": 2, "socket_errors": 1}, 8, 0, 1) == (
        7,
        True,
    )
    assert common.ledger_check({"requests": 10, "non2xx": 0, "socket_errors": 0}, 9, 0, 1) == (
        10,
        False,
    )
