"""Benchmark records name the command as run from the repository, never a machine path."""

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
