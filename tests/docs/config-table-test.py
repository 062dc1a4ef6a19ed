#!/usr/bin/env python3
"""README's configuration table says what the app's settings table says.

sessionlab-app --help prints one line per row of config.c's settings table
(flag, variable, help, [default]); README.md's "Configuration" table has one
row per setting (variable, flag, default, description). Every variable must
be in both, with the same flag and the same default. Exit 1 on a difference.
usage: config-table-test.py APP README
"""
import re
import subprocess
import sys


def app_settings(app):
    out = subprocess.run([app, "--help"], capture_output=True, text=True, check=True).stdout
    rows = {}
    for line in out.splitlines():
        m = re.match(r"\s+--(\S+)\s+(SESSIONLAB_\w+)\s+.*\[(.*)\]$", line)
        if m:
            rows[m.group(2)] = (m.group(1), m.group(3))
    return rows


def readme_settings(readme):
    rows, inside = {}, False
    for line in open(readme, encoding="utf-8"):
        if line.startswith("## "):
            inside = line.strip() == "## Configuration"
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if inside and len(cells) >= 3 and cells[0].startswith("`SESSIONLAB_"):
            rows[cells[0].strip("`")] = (cells[1].strip("`").lstrip("-"), cells[2].replace("`", ""))
    return rows


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    app, doc = app_settings(sys.argv[1]), readme_settings(sys.argv[2])
    failed = 0
    for env in sorted(set(app) | set(doc)):
        if env not in doc:
            print(f"FAIL {env}: in the app's settings, not in README's table")
        elif env not in app:
            print(f"FAIL {env}: in README's table, not in the app's settings")
        elif app[env] != doc[env]:
            print(f"FAIL {env}: app says --{app[env][0]} [{app[env][1]}], "
                  f"README says --{doc[env][0]} [{doc[env][1]}]")
        else:
            print(f"ok   {env}: --{app[env][0]} [{app[env][1]}]")
            continue
        failed += 1
    print(f"{len(app)} settings, {failed} differences")
    sys.exit(1 if failed or not app else 0)


if __name__ == "__main__":
    main()
