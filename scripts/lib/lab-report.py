#!/usr/bin/env python3
"""The lab's HTML report: the results table and, per row, a chart of what
every simulated user saw.

    scripts/lib/lab-report.py LAB_OUT HTML_FILE

LAB_OUT is a lab run's output directory (tests/out/lab/TARGET): results.json
(scripts/lab's rows) and row-STEP/ with the probes' JSON reports, which carry
a "trace" per user when the probes ran with --trace ([[request, access count,
host index, unix ms], ...]), and an optional events.txt ("UNIX_MS LABEL" per
line: a kill, a rollout step, a scale event). The chart: x the request number
of each user, y the Access Count it saw, one line per user coloured by the
replica that answered, a red mark where the count fell (the session was
lost), a dashed line at each event. The table's "logged in" and "cart"
columns are each row's own words from results.json ("8/8": every user kept
it; "logged out 8/8", "cart lost 8/8": every user lost it). One
self-contained file: inline SVG and CSS, no script, nothing fetched when it
is opened.
"""

import html
import json
import os
import sys

PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#e377c2",
           "#17becf", "#bcbd22", "#7f7f7f", "#393b79"]
W, H = 720, 260            # chart size in px
ML, MR, MT, MB = 52, 12, 12, 36  # margins: left, right, top, bottom


def esc(s):
    return html.escape(str(s), quote=True)


def load_json(path):
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def row_dir(out, step):
    return os.path.join(out, "row-" + str(step).replace(" ", "-"))


def row_users(rdir):
    """Every user of a row: (host names, trace points) per probe client."""
    users = []
    if not os.path.isdir(rdir):
        return users
    for name in sorted(os.listdir(rdir)):
        if not (name.startswith("probe-") and name.endswith(".json")):
            continue
        rep = load_json(os.path.join(rdir, name)) or {}
        for c in rep.get("per_client") or []:
            users.append((c.get("hosts") or [], c.get("trace") or [], c.get("requests_by_host") or {}))
    return users


def row_events(rdir):
    events = []
    try:
        with open(os.path.join(rdir, "events.txt"), encoding="utf-8") as f:
            for line in f:
                t, _, label = line.strip().partition(" ")
                if t.isdigit():
                    events.append((int(t), label or "event"))
    except OSError:
        pass
    return events


def spread(users):
    """Requests per replica over the row, and max/mean of those shares."""
    total = {}
    for _, _, by_host in users:
        for h, n in by_host.items():
            total[h] = total.get(h, 0) + n
    if not total:
        return {}, None
    mean = sum(total.values()) / len(total)
    return total, (max(total.values()) / mean if mean else None)


def host_colours(users):
    names = sorted({h for hosts, _, _ in users for h in hosts})
    return {h: PALETTE[i % len(PALETTE)] for i, h in enumerate(names)}


def scale(v, lo, hi, a, b):
    return a if hi <= lo else a + (v - lo) * (b - a) / (hi - lo)


MAX_POINTS = 300  # per user: a longer trace is thinned (charts stay small)


def thin(trace):
    """The points worth drawing: every change of replica and every fall of
    the count (with the point before it) are kept; in between, one in k."""
    if len(trace) <= MAX_POINTS:
        return trace
    k = -(-len(trace) // MAX_POINTS)
    keep = set()
    for i, p in enumerate(trace):
        if i % k == 0 or i == len(trace) - 1:
            keep.add(i)
        elif p[2] != trace[i - 1][2] or p[1] <= trace[i - 1][1]:
            keep.update((i - 1, i))
    return [trace[i] for i in sorted(keep)]


def dense_paths(hosts, trace, colours, xs, ys):
    """A user whose replica changes on almost every request (round robin):
    one grey line through the thinned points and a dot per point in the
    colour of its replica, a red cross where the count fell."""
    k = -(-len(trace) // MAX_POINTS)
    pts = [p for i, p in enumerate(trace) if i % k == 0 or i == len(trace) - 1]
    out = ['<polyline points="' + " ".join(f"{xs(p[0]):.0f},{ys(p[1]):.0f}" for p in pts)
           + '" fill="none" stroke="#bbb" stroke-width="1"/>']
    for p in pts:
        host = hosts[p[2]] if 0 <= p[2] < len(hosts) else "?"
        out.append(f'<circle cx="{xs(p[0]):.0f}" cy="{ys(p[1]):.0f}" r="1.6" fill="{colours.get(host, "#000")}"/>')
    for prev, p in zip(trace, trace[1:]):
        if p[1] <= prev[1]:
            x, y = xs(p[0]), ys(p[1])
            out.append(f'<path d="M{x-3:.1f},{y-3:.1f}l6,6m0,-6l-6,6" stroke="#d62728" stroke-width="1.4"/>')
    return out


def user_paths(hosts, trace, colours, xs, ys):
    """SVG for one user: a polyline per run of answers from one replica, and
    a red cross where the access count did not rise."""
    out, run, run_host, prev = [], [], None, None
    def flush():
        if len(run) >= 1:
            colour = colours.get(run_host, "#000")
            pts = " ".join(f"{x:.1f},{y:.1f}" for x, y in run)
            if len(run) == 1:
                x, y = run[0]
                out.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="1.6" fill="{colour}"/>')
            else:
                out.append(f'<polyline points="{pts}" fill="none" stroke="{colour}" stroke-width="1.4"/>')
    for n, count, hi, _ in trace:
        host = hosts[hi] if 0 <= hi < len(hosts) else "?"
        p = (xs(n), ys(count))
        if host != run_host:
            flush()
            run = [run[-1]] if run and prev is not None and count > prev else []
            run_host = host
        run.append(p)
        if prev is not None and count <= prev:
            x, y = p
            out.append(f'<path d="M{x-3:.1f},{y-3:.1f}l6,6m0,-6l-6,6" stroke="#d62728" stroke-width="1.4"/>')
        prev = count
    flush()
    return out


def event_lines(events, users, xs):
    """A dashed line per event at the median request number users were at."""
    out = []
    events = [e for e in events if e[1] != "done"]  # the end mark is for the verdict
    for i, (t, label) in enumerate(events):
        at = []
        for _, trace, _ in users:
            later = [p[0] for p in trace if p[3] >= t]
            if later:
                at.append(later[0])
        if not at:
            continue
        at.sort()
        x = xs(at[len(at) // 2])
        out.append(f'<line x1="{x:.1f}" y1="{MT}" x2="{x:.1f}" y2="{H - MB}" stroke="#444" '
                   f'stroke-dasharray="4 3"/><text x="{x + 3:.1f}" y="{MT + 10 + 11 * (i % 6)}" class="ev">{esc(label)}</text>')
    return out


def axes(nmax, cmax):
    parts = [f'<line x1="{ML}" y1="{H - MB}" x2="{W - MR}" y2="{H - MB}" stroke="#888"/>',
             f'<line x1="{ML}" y1="{MT}" x2="{ML}" y2="{H - MB}" stroke="#888"/>',
             f'<text x="{(ML + W - MR) / 2}" y="{H - 6}" class="ax" text-anchor="middle">request number (per user)</text>',
             f'<text x="12" y="{(MT + H - MB) / 2}" class="ax" text-anchor="middle" '
             f'transform="rotate(-90 12 {(MT + H - MB) / 2})">Access Count</text>']
    for v, x in ((1, ML), (nmax, W - MR)):
        parts.append(f'<text x="{x}" y="{H - MB + 14}" class="tick" text-anchor="middle">{v}</text>')
    for v, y in ((0, H - MB), (cmax, MT)):
        parts.append(f'<text x="{ML - 4}" y="{y + 4}" class="tick" text-anchor="end">{v}</text>')
    return parts


def chart(users, events):
    traces = [t for _, t, _ in users if t]
    if not traces:
        return '<p class="none">No trace in this row\'s probe reports (run the probes with --trace).</p>'
    nmax = max(p[0] for t in traces for p in t)
    cmax = max(max(p[1] for t in traces for p in t), 1)
    xs = lambda n: scale(n, 1, max(nmax, 2), ML, W - MR)
    ys = lambda c: scale(c, 0, cmax, H - MB, MT)
    colours = host_colours(users)
    body = axes(nmax, cmax)
    for hosts, trace, _ in users:
        changes = sum(1 for a, b in zip(trace, trace[1:]) if a[2] != b[2])
        if changes > MAX_POINTS // 2:
            body += dense_paths(hosts, trace, colours, xs, ys)
        else:
            body += user_paths(hosts, thin(trace), colours, xs, ys)
    body += event_lines(events, users, xs)
    legend = " ".join(f'<span class="key" style="background:{c}"></span>{esc(h)}' for h, c in colours.items())
    return (f'<svg viewBox="0 0 {W} {H}" width="{W}" height="{H}" role="img" '
            f'aria-label="access count per request, coloured by replica">{"".join(body)}</svg>'
            f'<p class="legend">{legend} <span class="lost">✕</span> count fell (session lost)</p>')


def spread_text(users):
    total, ratio = spread(users)
    if not total:
        return "-"
    n = sum(total.values())
    shares = ", ".join(f"{esc(h)} {100 * v / n:.0f} %" for h, v in sorted(total.items()))
    return shares + (f"; max/mean {ratio:.2f}" if ratio else "")


def row_html(out, row):
    rdir = row_dir(out, row.get("step"))
    users = row_users(rdir)
    facts = row.get("facts") or {}
    if row.get("skipped"):
        return (f'<section><h2>Step {esc(row.get("step"))}: {esc(row.get("setup"))}</h2>'
                f'<p>Skipped on this target: {esc(row["skipped"])}.</p></section>')
    verdict = "ok" if row.get("pass") else "MISMATCH: " + "; ".join(row.get("mismatches") or [])
    return (f'<section><h2>Step {esc(row.get("step"))}: {esc(row.get("setup"))}</h2>'
            f'<p>Expected: {esc(row.get("expected"))}. Result: <b class="{"ok" if row.get("pass") else "bad"}">'
            f'{esc(verdict)}</b>. Event: {esc(row.get("event") or "none")}. '
            f'{esc(facts.get("clients", 0))} users, {esc(facts.get("requests", 0))} requests. '
            f'Logged in and cart: {esc(row.get("logged_in") or "-")}; {esc(row.get("cart") or "-")}. '
            f'Load spread: {spread_text(users)}.</p>'
            f'{chart(users, row_events(rdir))}</section>')


def table_html(rows):
    head = ("<tr><th>step</th><th>setup</th><th>hosts seen</th><th>id changes</th>"
            "<th>logged in</th><th>cart</th>"
            "<th>errors</th><th>event</th><th>expected</th><th>result</th></tr>")
    lines = [head]
    for r in rows:
        f = r.get("facts") or {}
        lines.append("<tr>" + "".join(f"<td>{esc(v)}</td>" for v in (
            r.get("step"), r.get("setup"), ", ".join(f.get("hosts") or []), f.get("id_changes", "-"),
            r.get("logged_in") or "-", r.get("cart") or "-",
            f.get("errors", "-"), r.get("event") or "-", r.get("expected"),
            "skipped" if r.get("skipped") else "ok" if r.get("pass") else "MISMATCH")) + "</tr>")
    return "<table>" + "".join(lines) + "</table>"


CSS = """body{font:14px/1.4 system-ui,sans-serif;margin:24px;max-width:980px;color:#222}
table{border-collapse:collapse;font-size:13px}td,th{border:1px solid #ccc;padding:3px 6px;text-align:left}
section{margin:28px 0}h2{font-size:16px;margin:0 0 4px}.ok{color:#2ca02c}.bad{color:#d62728}
svg{background:#fafafa;border:1px solid #ddd}.ax{font-size:12px;fill:#444}.tick{font-size:11px;fill:#666}
.ev{font-size:11px;fill:#222}.legend{font-size:12px}.key{display:inline-block;width:10px;height:10px;
margin:0 3px 0 10px}.lost{color:#d62728;margin-left:10px}.none{color:#888}"""


def report(out):
    res = load_json(os.path.join(out, "results.json"))
    if not res or not isinstance(res.get("rows"), list):
        raise SystemExit(f"lab-report: no results.json with rows in {out}")
    rows = res["rows"]
    title = f"sessionlab lab, target {res.get('target', '?')}"
    return (f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{esc(title)}</title>'
            f'<style>{CSS}</style></head><body><h1>{esc(title)}</h1>'
            f'<p>{"every step as expected" if res.get("pass") else "some steps did not match"}.</p>'
            f'{table_html(rows)}{"".join(row_html(out, r) for r in rows)}</body></html>\n')


def main(argv):
    if len(argv) != 3:
        print("usage: lab-report.py LAB_OUT HTML_FILE", file=sys.stderr)
        return 2
    text = report(argv[1])
    tmp = argv[2] + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, argv[2])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
