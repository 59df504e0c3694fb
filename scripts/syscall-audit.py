#!/usr/bin/env python3
"""Checks an strace log of the exporter against a systemd unit's sandbox.

Usage: syscall-audit.py UNIT_FILE STRACE_LOG

Lists the system calls the log shows that the unit's SystemCallFilter= lines refuse, and the
socket families its socket() calls use that RestrictAddressFamilies= refuses; exits 1 when
there is any, 0 otherwise (printing what was used). Groups such as @system-service are expanded
with `systemd-analyze syscall-filter`, so the check follows the systemd on the machine.
scripts/check-package.sh runs it, since the unit cannot be started where CI runs.
"""

import re
import subprocess
import sys


def syscall_groups():
    """Group name -> its entries (syscalls and nested @groups), from systemd-analyze."""
    listing = subprocess.run(
        ["systemd-analyze", "syscall-filter", "--no-pager"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    groups, current = {}, None
    for line in listing.splitlines():
        entry = line.strip()
        if not entry or entry.startswith("#"):
            continue
        if not line[0].isspace() and entry.startswith("@"):
            current = groups.setdefault(entry, [])
        elif current is not None:
            current.append(entry)
    return groups


def expand(names, groups):
    out = set()
    for name in names:
        if name.startswith("@"):
            if name not in groups:
                sys.exit(f"syscall-audit: unknown system call group {name}")
            out |= expand(groups[name], groups)
        else:
            out.add(name)
    return out


def unit_settings(path, key):
    """The values of KEY= in the unit file, in order."""
    with open(path, encoding="utf-8") as unit:
        return [
            line.split("=", 1)[1].strip()
            for line in unit
            if line.startswith(key + "=")
        ]


def allowed_syscalls(unit, groups):
    filters = unit_settings(unit, "SystemCallFilter")
    if not filters or filters[0].startswith("~"):
        sys.exit(f"syscall-audit: {unit} has no SystemCallFilter= allow list to check against")
    allowed = set()
    for value in filters:
        deny = value.startswith("~")
        names = expand(value.lstrip("~").split(), groups)
        allowed = allowed - names if deny else allowed | names
    return allowed


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    unit, log = sys.argv[1:]
    with open(log, encoding="utf-8", errors="replace") as f:
        trace = f.read()
    # "PID name(args..." starts a call; "<... name resumed>" continues one already counted.
    used = set(re.findall(r"^\d+ +([a-z0-9_]+)\(", trace, re.M))
    families = set(re.findall(r"^\d+ +socket\((AF_[A-Z0-9]+)", trace, re.M))
    if not used:
        sys.exit(f"syscall-audit: no system calls in {log}: is it an `strace -f` log?")

    refused = sorted(used - allowed_syscalls(unit, syscall_groups()))
    restrict = " ".join(unit_settings(unit, "RestrictAddressFamilies")).split()
    if not restrict or restrict[0].startswith("~"):
        sys.exit(f"syscall-audit: {unit} has no RestrictAddressFamilies= allow list to check against")
    refused_families = sorted(families - set(restrict))
    print(f"syscall-audit: {len(used)} system calls used: {' '.join(sorted(used))}")
    print(f"syscall-audit: socket families used: {' '.join(sorted(families))}")
    if refused:
        print(f"syscall-audit: refused by SystemCallFilter=: {' '.join(refused)}")
    if refused_families:
        print(f"syscall-audit: refused by RestrictAddressFamilies=: {' '.join(refused_families)}")
    return 1 if refused or refused_families else 0


if __name__ == "__main__":
    sys.exit(main())
