"""Audit the pinned requirements for known vulnerabilities (pip-audit), as `make test` runs it.

    python .ci/pip_audit.py [REQUIREMENTS ...]     (default: requirements-dev.txt, which includes
                                                     requirements.txt: everything we pin)

Outcomes:
- exit 1: a known vulnerability in a pinned package (direct or transitive) that has no exception in
  .pip-audit-ignore. Fix it by raising the pin to a fixed version; only if there is none (or it
  breaks us) add the advisory id there with a reason.
- exit 0 with a loud warning: the vulnerability services could not be asked (no network, PyPI's JSON
  API or OSV down or blocking us) after retries, or some packages could not be looked up. An
  outage of someone else's service is not a defect in this code, so it must not fail every build;
  the warning names what was not audited. Set PIP_AUDIT_STRICT=1 (a nightly job, a release) to
  make "could not audit" fail too.
- exit 2: a malformed .pip-audit-ignore (every exception needs a reason).

The requirements are resolved once by pip (`pip install --dry-run --report`, the same resolution
`make install` does, transitive dependencies included) into an exact name==version list, which
pip-audit then checks without installing anything (--no-deps --disable-pip). PyPI's vulnerability
data is asked first, OSV (api.osv.dev) second for whatever PyPI could not answer. Each service gets
three attempts with a pause between them.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
IGNORE_FILE = ROOT / ".pip-audit-ignore"
ATTEMPTS = 3
PAUSES = (5, 15)
_LINE = re.compile(r"^(?P<id>[A-Za-z0-9][A-Za-z0-9._:-]+)\s+#\s*(?P<reason>\S.*)$")


def exceptions() -> dict[str, str]:
    """Advisory id -> reason, from .pip-audit-ignore ("ID  # reason" per line, # comments)."""
    found: dict[str, str] = {}
    if not IGNORE_FILE.exists():
        return found
    for number, raw in enumerate(IGNORE_FILE.read_text().splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        match = _LINE.match(line)
        if match is None:
            print(
                f"{IGNORE_FILE.name}:{number}: expected 'ADVISORY-ID  # reason', got {raw!r}", file=sys.stderr
            )
            sys.exit(2)
        found[match["id"]] = match["reason"]
    return found


def resolve(requirements: list[str], folder: Path) -> str:
    """Every package the requirements install, pinned exactly, as a requirements file."""
    report = folder / "resolution.json"
    command = [sys.executable, "-m", "pip", "install", "--dry-run", "--ignore-installed", "--quiet"]
    command += ["--report", str(report)]
    for requirement in requirements:
        command += ["--requirement", requirement]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
    if done.returncode != 0 or not report.exists():
        print(f"pip could not resolve {', '.join(requirements)}:\n{done.stderr}", file=sys.stderr)
        sys.exit(1)  # our requirements are broken (or no index answers): a real failure
    installs = json.loads(report.read_text())["install"]
    pinned = folder / "resolved.txt"
    pinned.write_text("".join(f"{i['metadata']['name']}=={i['metadata']['version']}\n" for i in installs))
    return str(pinned)


def run_service(service: str, requirements: list[str], ignored: dict[str, str]) -> dict | None:
    """pip-audit's JSON report from one service, or None if the service could not be reached."""
    for attempt in range(1, ATTEMPTS + 1):
        with tempfile.TemporaryDirectory(prefix="pip-audit-") as folder:
            report = Path(folder) / "report.json"
            command = [sys.executable, "-m", "pip_audit", "--vulnerability-service", service]
            command += ["--format", "json", "--output", str(report), "--progress-spinner", "off"]
            command += ["--timeout", "30", "--no-deps", "--disable-pip"]
            for requirement in requirements:
                command += ["--requirement", requirement]
            for advisory in ignored:
                command += ["--ignore-vuln", advisory]
            done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
            if report.exists() and report.stat().st_size:
                return json.loads(report.read_text())
            # No report: pip-audit stopped before auditing (service unreachable, resolution failed).
            reason = (done.stderr.strip().splitlines() or ["no output"])[-1]
            print(
                f"pip-audit ({service}), attempt {attempt}/{ATTEMPTS}: no report: {reason}", file=sys.stderr
            )
        if attempt < ATTEMPTS:
            time.sleep(PAUSES[min(attempt, len(PAUSES)) - 1])
    return None


def main(argv: list[str]) -> int:
    ignored = exceptions()
    with tempfile.TemporaryDirectory(prefix="pip-audit-") as folder:
        return audit([resolve(argv or ["requirements-dev.txt"], Path(folder))], ignored)


def audit(requirements: list[str], ignored: dict[str, str]) -> int:
    vulnerable: dict[str, list[dict]] = {}
    unaudited: dict[str, str] = {}
    audited: set[str] = set()
    for service in ("pypi", "osv"):
        report = run_service(service, requirements, ignored)
        if report is None:
            continue
        for dependency in report.get("dependencies", []):
            name = dependency["name"]
            if "skip_reason" in dependency:
                if name not in audited:
                    unaudited.setdefault(name, dependency["skip_reason"])
                continue
            audited.add(name)
            unaudited.pop(name, None)
            if dependency.get("vulns"):
                vulnerable[f"{name}=={dependency['version']}"] = dependency["vulns"]
        if audited and not unaudited:
            break
    for package, vulns in sorted(vulnerable.items()):
        for vuln in vulns:
            fixed = ", ".join(vuln.get("fix_versions") or []) or "no fixed version yet"
            print(
                f"VULNERABLE {package}: {vuln['id']} (fixed in: {fixed}) {vuln.get('description', '')[:200]}"
            )
    if ignored:
        print(f"pip-audit: {len(ignored)} advisory exception(s) in {IGNORE_FILE.name}: {', '.join(ignored)}")
    if vulnerable:
        print(
            f"pip-audit: {sum(map(len, vulnerable.values()))} known vulnerabilit(y/ies) in {len(vulnerable)} "
            f"package(s). Raise the pin to a fixed version, or add 'ID  # reason' to {IGNORE_FILE.name}.",
            file=sys.stderr,
        )
        return 1
    strict = os.environ.get("PIP_AUDIT_STRICT") == "1"
    if not audited:
        print(
            "WARNING pip-audit: no vulnerability service could be asked (PyPI, OSV): NOTHING WAS AUDITED"
            + (
                " (PIP_AUDIT_STRICT=1: failing)"
                if strict
                else "; not failing the build for someone else's outage"
            ),
            file=sys.stderr,
        )
        return 1 if strict else 0
    if unaudited:
        print(
            f"WARNING pip-audit: {len(unaudited)} package(s) could not be audited: "
            + ", ".join(sorted(unaudited))[:2000],
            file=sys.stderr,
        )
        if strict:
            return 1
    print(f"pip-audit: no known vulnerabilities in {len(audited)} audited package(s)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
