"""The vulnerability gate of `make test` (.ci/pip_audit.py), with pip-audit's report faked: this
machine cannot reach PyPI's per-version JSON or OSV, so the gate's decisions are proven here on a
report shaped like pip-audit's own (--format json), and the command line it builds is checked."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
spec = importlib.util.spec_from_file_location("pip_audit_gate", ROOT / ".ci" / "pip_audit.py")
gate = importlib.util.module_from_spec(spec)
spec.loader.exec_module(gate)  # type: ignore[union-attr]

ADVISORY = "GHSA-test-0000-0001"


def fake_pip_audit(vulnerable: bool, reachable: bool = True) -> Any:
    """Stands in for `python -m pip_audit ...`: writes the JSON report pip-audit would, honouring
    --ignore-vuln the way pip-audit does (the advisory is left out of the report)."""
    commands: list[list[str]] = []

    def run(command: list[str], **_: Any) -> Any:
        commands.append(command)
        ignored = {command[i + 1] for i, arg in enumerate(command) if arg == "--ignore-vuln"}
        vulns = [{"id": ADVISORY, "fix_versions": ["2.0"], "description": "remote code execution"}]
        if reachable:
            report = {
                "dependencies": [
                    {"name": "examplepkg", "version": "1.0", "vulns": vulns if vulnerable else []},
                    {"name": "otherpkg", "version": "3.1", "vulns": []},
                ]
            }
            for dependency in report["dependencies"]:
                dependency["vulns"] = [v for v in dependency["vulns"] if v["id"] not in ignored]
            Path(command[command.index("--output") + 1]).write_text(json.dumps(report))

        class Done:
            returncode = 0 if reachable else 1
            stderr = "" if reachable else "ConnectionError: api.osv.dev"

        return Done()

    run.commands = commands  # type: ignore[attr-defined]
    return run


@pytest.fixture(autouse=True)
def no_pauses(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(gate.time, "sleep", lambda _: None)
    monkeypatch.delenv("PIP_AUDIT_STRICT", raising=False)


def test_a_known_vulnerability_fails_the_build(monkeypatch: pytest.MonkeyPatch, capsys: Any) -> None:
    monkeypatch.setattr(gate.subprocess, "run", fake_pip_audit(vulnerable=True))
    assert gate.audit(["resolved.txt"], {}) == 1
    out = capsys.readouterr()
    assert f"VULNERABLE examplepkg==1.0: {ADVISORY} (fixed in: 2.0)" in out.out
    assert "Raise the pin" in out.err


def test_an_exception_note_lets_it_pass_and_is_passed_to_pip_audit(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: Any
) -> None:
    note = tmp_path / ".pip-audit-ignore"
    note.write_text(f"# comment\n{ADVISORY}  # only the CLI's server mode, which we never run\n")
    monkeypatch.setattr(gate, "IGNORE_FILE", note)
    run = fake_pip_audit(vulnerable=True)
    monkeypatch.setattr(gate.subprocess, "run", run)
    ignored = gate.exceptions()
    assert ignored == {ADVISORY: "only the CLI's server mode, which we never run"}
    assert gate.audit(["resolved.txt"], ignored) == 0
    assert run.commands[0][-2:] == ["--ignore-vuln", ADVISORY]
    assert "no known vulnerabilities in 2 audited package(s)" in capsys.readouterr().out


def test_an_exception_without_a_reason_is_refused(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    note = tmp_path / ".pip-audit-ignore"
    note.write_text(f"{ADVISORY}\n")
    monkeypatch.setattr(gate, "IGNORE_FILE", note)
    with pytest.raises(SystemExit) as stopped:
        gate.exceptions()
    assert stopped.value.code == 2


def test_clean_pins_pass(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(gate.subprocess, "run", fake_pip_audit(vulnerable=False))
    assert gate.audit(["resolved.txt"], {}) == 0


def test_no_reachable_service_warns_and_fails_only_when_strict(
    monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    monkeypatch.setattr(gate.subprocess, "run", fake_pip_audit(vulnerable=True, reachable=False))
    assert gate.audit(["resolved.txt"], {}) == 0
    assert "NOTHING WAS AUDITED" in capsys.readouterr().err
    monkeypatch.setenv("PIP_AUDIT_STRICT", "1")
    assert gate.audit(["resolved.txt"], {}) == 1
