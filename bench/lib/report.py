#!/usr/bin/env python3
"""Turns bench/run's raw records (one "kind=... key=value ..." line each) into
the Markdown results page: medians over rounds, ratios to the floor measured in
the same run, the issue's targets met or missed, and two-point callgrind /
strace figures per request.  usage: report.py RAW > REPORT.md"""
import collections
import re
import statistics
import sys

CONNS_REF = 32  # the reference concurrency
APPS = ["memory", "redis"]


def parse(path):
    recs = []
    for line in open(path, encoding="utf-8"):
        line = line.rstrip("\n")
        if not line.startswith("kind="):
            continue
        if line.startswith("kind=machine "):
            m = re.match(r"kind=machine key=(\S+) value=(.*)", line)
            recs.append({"kind": "machine", "key": m.group(1), "value": m.group(2)})
            continue
        rec = {}
        for tok in line.split(" "):
            k, _, v = tok.partition("=")
            rec[k] = v
        recs.append(rec)
    return recs


def num(v):
    try:
        return float(v)
    except (TypeError, ValueError):
        return None


class Runs:
    def __init__(self, recs):
        self.by = collections.defaultdict(list)
        for r in recs:
            if r["kind"] == "run":
                self.by[(r["target"], r["workload"], int(r["conns"]))].append(r)
        self.conns = sorted({k[2] for k in self.by})

    def all(self, t, w, c):
        return self.by.get((t, w, c), [])

    def med(self, t, w, c, field):
        vals = [num(r.get(field)) for r in self.all(t, w, c)]
        vals = [v for v in vals if v is not None]
        return statistics.median(vals) if vals else None

    def floor(self, c, field):
        return self.med("floor", "view", c, field)

    def errors(self, t, w, c):
        n = 0
        for r in self.all(t, w, c):
            n += sum(int(r.get(k, 0)) for k in
                     ("err_connect", "err_read", "err_write", "err_status", "err_timeout"))
        return n


def ms(us):
    return "–" if us is None else (f"{us / 1000:.2f}" if us < 10000 else f"{us / 1000:.0f}")


def ratio(a, b):
    return None if a is None or not b else a / b


def fx(v, digits=2):
    return "–" if v is None else f"{v:.{digits}f}"


def krps(v):
    return "–" if v is None else f"{v:,.0f}"


def cpu(runs, t, w, c):
    parts = [runs.med(t, w, c, f) for f in ("nginx_cpu_us", "app_cpu_us", "redis_cpu_us")]
    return " / ".join("–" if v is None else f"{v:.1f}" for v in parts)


def callgrind_costs(path):
    """Self cost (Ir) per function and per object, and the total, from a
    callgrind out file (name compression handled; call costs skipped)."""
    names = {"fn": {}, "ob": {}}
    fn_cost = collections.Counter()
    ob_cost = collections.Counter()
    fn = ob = "?"
    fn_ob = {}
    skip_next = False
    total = 0
    for line in open(path, encoding="utf-8", errors="replace"):
        line = line.rstrip("\n")
        if skip_next:
            skip_next = False
            continue
        if line.startswith("calls="):
            skip_next = True
            continue
        m = re.match(r"(fn|ob|cfn|cob)=\((\d+)\)(?: (.*))?$", line)
        if m:
            kind, ident, name = m.groups()
            table = names["fn" if kind.endswith("fn") else "ob"]
            if name is not None:
                table[ident] = name
            if kind == "fn":
                fn = table.get(ident, "?")
                fn_ob.setdefault(fn, ob)
            elif kind == "ob":
                ob = table.get(ident, "?")
            continue
        if line.startswith(("summary:", "totals:")):
            total = int(line.split()[1])
            continue
        if line and (line[0].isdigit() or line[0] in "+-*"):
            parts = line.split()
            if len(parts) >= 2:
                c = int(parts[1])
                fn_cost[fn] += c
                ob_cost[fn_ob.get(fn, ob)] += c
    return total, fn_cost, ob_cost


def strace_counts(path):
    counts = {}
    pat = re.compile(r"^\s*[\d.]+\s+[\d.]+\s+\d+\s+(\d+)\s+(?:\d+\s+)?(\w+)\s*$")
    for line in open(path, encoding="utf-8", errors="replace"):
        m = pat.match(line)
        if m and m.group(2) != "total":
            counts[m.group(2)] = int(m.group(1))
    return counts


def short_ob(ob):
    return ob.rsplit("/", 1)[-1]


def main():
    recs = parse(sys.argv[1])
    machine = {r["key"]: r["value"] for r in recs if r["kind"] == "machine"}
    runs = Runs(recs)
    out = []
    p = out.append

    p(f"# sessionlab benchmark — {machine.get('date', '?')}, {machine.get('host', '?')}\n")
    p(f"Machine: {machine.get('nproc')} CPUs ({machine.get('cpu')}), kernel "
      f"{machine.get('kernel')}, nginx {machine.get('nginx')}, Redis {machine.get('redis')}, "
      f"wrk {machine.get('wrk')}; sessionlab {machine.get('commit')}.  ")
    p(f"Run: {machine.get('settings')}. Load average {machine.get('load')} "
      "(the machine was shared: absolute figures are noisy, ratios to the floor from "
      "the same rounds and instruction counts are the comparable ones).  ")
    p("Command: `bench/run` (release build in build-bench/). Medians over rounds; "
      "p50/p99 are wrk's latency percentiles; × floor compares with the empty "
      "libfcgi responder (bench/floor.c, 64 threads) behind the same nginx front.\n")

    # Headline: the table shape.
    c = CONNS_REF if CONNS_REF in runs.conns else (runs.conns[-1] if runs.conns else None)
    if c is not None:
        p(f"## Returning visitor, {c} connections (the issue's table)\n")
        p("| target | requests/s | × floor | p50 | p99 | increments lost |")
        p("|---|---|---|---|---|---|")
        fr = runs.floor(c, "rps")
        rows = [("nginx `return 200` (static)", "static", "view"),
                ("empty libfcgi responder, 64 threads (the floor)", "floor", "view"),
                ("sessionlab memory store", "memory", "returning"),
                ("sessionlab Redis store", "redis", "returning"),
                ("sessionlab memory store, `--workers 1`", "memory-w1", "returning"),
                ("sessionlab Redis store, `--workers 1`", "redis-w1", "returning")]
        for label, t, w in rows:
            rps = runs.med(t, w, c, "rps")
            lost = "–"
            if w == "returning":
                ls = [int(r["lost"]) for r in runs.all(t, w, c) if "lost" in r]
                inc = [int(r["increments"]) for r in runs.all(t, w, c) if "increments" in r]
                if ls:
                    lost = f"{max(ls)} of ~{statistics.median(inc):,.0f}"
            p(f"| {label} | {krps(rps)} | {fx(ratio(rps, fr))} | {ms(runs.med(t, w, c, 'p50_us'))} ms "
              f"| {ms(runs.med(t, w, c, 'p99_us'))} ms | {lost} |")
        p("")

    # Targets.
    p("## The issue's targets\n")
    p("| target | wanted | measured (1 / 8 / 32 / 128 connections) | verdict |")
    p("|---|---|---|---|")

    def per_conns(fn):
        vals = [(cc, fn(cc)) for cc in runs.conns]
        return vals, " / ".join(fx(v) for _, v in vals)

    def verdict(vals, ok, want_desc):
        bad = [(cc, v) for cc, v in vals if v is None or not ok(v)]
        if not bad:
            return "**met**"
        return "missed at " + ", ".join(f"{cc} ({fx(v, 3)} vs {want_desc})" for cc, v in bad)

    vals, txt = per_conns(lambda cc: ratio(runs.med("memory", "returning", cc, "rps"), runs.floor(cc, "rps")))
    p(f"| memory, returning: requests/s × floor | ≥ 0.90 | {txt} | {verdict(vals, lambda v: v >= 0.90, '0.90')} |")
    vals, txt = per_conns(lambda cc: ratio(runs.med("memory", "returning", cc, "p99_us"), runs.floor(cc, "p99_us")))
    p(f"| memory, returning: p99 × floor p99 | ≤ 1.5 | {txt} | {verdict(vals, lambda v: v <= 1.5, '1.5')} |")
    vals, txt = per_conns(lambda cc: ratio(runs.med("redis", "returning", cc, "rps"), runs.floor(cc, "rps")))
    p(f"| Redis, returning: requests/s × floor | ≥ 0.75 | {txt} | {verdict(vals, lambda v: v >= 0.75, '0.75')} |")
    cmds = [num(r.get("redis_client")) / max(1, int(r["views"]))
            for t in ("redis", "redis-w1") for k in runs.by if k[0] == t
            for r in runs.by[k] if r.get("redis_client") and int(r.get("views", 0)) > 0]
    mon = next((r for r in recs if r["kind"] == "monitor"), None)
    if cmds:
        p(f"| Redis: commands a client sends per view | exactly 1 | {min(cmds):.3f} – {max(cmds):.3f} "
          f"(commandstats, every run) | {'**met**' if all(abs(x - 1) < 0.005 for x in cmds) else 'missed'} |")
    for store in APPS:
        vals, txt = per_conns(lambda cc: ratio(runs.med(store, "new", cc, "rps"),
                                               runs.med(store, "returning", cc, "rps")))
        p(f"| {store}: new visitor requests/s ÷ returning | ≥ 0.90 | {txt} | "
          f"{verdict(vals, lambda v: v >= 0.90, '0.90')} |")
    for store in APPS + ["memory-w1", "redis-w1"]:
        ls = [(int(r["conns"]), int(r["lost"])) for k in runs.by if k[0] == store and k[1] == "returning"
              for r in runs.by[k] if "lost" in r]
        total = sum(max(0, x) for _, x in ls)
        worst = max((x for _, x in ls), default=None)
        p(f"| {store}: lost updates, every run | 0 | {total} lost in {len(ls)} runs (worst run {worst}) | "
          f"{'**met**' if ls and total == 0 else 'missed'} |")
    rss = {(r["phase"], r["target"]): int(r["kib"]) for r in recs if r["kind"] == "rss"}
    sess = next((r for r in recs if r["kind"] == "rss" and r["phase"] == "sessions"), None)
    for store in APPS:
        v = rss.get(("idle", store))
        if v is not None:
            p(f"| {store}: RSS idle | ≤ 8 MiB | {v / 1024:.1f} MiB | {'**met**' if v <= 8 * 1024 else 'missed'} |")
    if sess:
        v = int(sess["kib"])
        p(f"| memory: RSS with {int(sess['sessions']):,} live sessions | ≤ 40 MiB | {v / 1024:.1f} MiB | "
          f"{'**met**' if v <= 40 * 1024 and int(sess['sessions']) >= 100000 else 'missed'} |")
    if 32 in runs.conns and 128 in runs.conns:
        for t, w in [("memory", "returning"), ("memory", "new"), ("redis", "returning"), ("redis", "new"),
                     ("memory-w1", "returning"), ("redis-w1", "returning"), ("floor", "view")]:
            r = ratio(runs.med(t, w, 128, "p99_us"), runs.med(t, w, 32, "p99_us"))
            r50 = ratio(runs.med(t, w, 128, "p50_us"), runs.med(t, w, 32, "p50_us"))
            ok = "reference" if t == "floor" else ("**met**" if r is not None and r <= 3 else "missed")
            p(f"| {t}, {w}: p99 at 128 ÷ p99 at 32 connections | ≤ 3 | {fx(r)} (p50: {fx(r50)}) | {ok} |")
    p("")

    # Why: CPU per request explains the ratios on a saturated 2-core machine.
    def tot(t, w, cc):
        vals = [runs.med(t, w, cc, f) for f in ("nginx_cpu_us", "app_cpu_us", "redis_cpu_us")]
        return sum(v for v in vals if v is not None) if any(v is not None for v in vals) else None

    if CONNS_REF in runs.conns and tot("floor", "view", CONNS_REF):
        c = CONNS_REF
        f, m, r = tot("floor", "view", c), tot("memory", "returning", c), tot("redis", "returning", c)
        p("## Where the time goes\n")
        p(f"- At {c} connections every target saturates the 2 CPUs that wrk, nginx, the app and "
          f"redis-server share, so requests/s follows CPU per request. nginx + app + redis CPU per "
          f"request: floor {fx(f, 1)} µs, memory {fx(m, 1)} µs, Redis {fx(r, 1)} µs "
          f"(wrk's own share comes on top of each). The Redis store pays for the round trip "
          f"on both ends: redis-server {fx(runs.med('redis', 'returning', c, 'redis_cpu_us'), 1)} µs "
          f"per view, mostly reading and writing each request (the script itself runs in about 7 µs), "
          f"and the app {fx(runs.med('redis', 'returning', c, 'app_cpu_us'), 1)} µs against "
          f"{fx(runs.med('memory', 'returning', c, 'app_cpu_us'), 1)} µs with the memory store "
          f"(hiredis, 3 more syscalls, 2 more thread wake-ups). When Redis shares the cores, 0.75 × the floor "
          f"needs Redis and the app together to add no more than about a third of the floor's CPU. "
          f"The gap is mostly the kernel, not user-space instructions.")
        if 128 in runs.conns:
            p(f"- At 128 connections the app has 64 workers. When no worker is free, a worker that finishes "
              f"closes its FastCGI connection so that queued connections are not starved (see the "
              f"README). Every request then pays for a new connection: nginx + app CPU per request "
              f"goes from {fx(m, 1)} µs at {c} connections to {fx(tot('memory', 'returning', 128), 1)} µs "
              f"at 128, close to `--workers 1` ({fx(tot('memory-w1', 'returning', 128), 1)} µs), which "
              f"closes after every request. The floor keeps its connections and stays at "
              f"{fx(tot('floor', 'view', 128), 1)} µs.")
            p(f"- p99 at 128 connections against 32: at saturation, latency grows with the queue "
              f"(Little's law, 4× the connections → about 4× the latency). The floor's own ratio is "
              f"{fx(ratio(runs.med('floor', 'view', 128, 'p99_us'), runs.med('floor', 'view', 32, 'p99_us')))} "
              f"(p50 {fx(ratio(runs.med('floor', 'view', 128, 'p50_us'), runs.med('floor', 'view', 32, 'p50_us')))}). "
              f"On this machine the ≤ 3× target only holds while the 32-connection p99 is mostly noise.")
        p("")

    # All runs.
    p("## Every target, every concurrency (medians over rounds)\n")
    p("| target | workload | conns | requests/s | × floor | p50 ms | p99 ms | p99 × floor | errors "
      "| CPU µs/request: nginx / app / redis |")
    p("|---|---|---|---|---|---|---|---|---|---|")
    order = [("static", "view"), ("floor", "view"), ("memory", "returning"), ("memory", "new"),
             ("redis", "returning"), ("redis", "new"), ("memory-w1", "returning"), ("redis-w1", "returning")]
    for cc in runs.conns:
        for t, w in order:
            if not runs.all(t, w, cc):
                continue
            rps, p99 = runs.med(t, w, cc, "rps"), runs.med(t, w, cc, "p99_us")
            p(f"| {t} | {w} | {cc} | {krps(rps)} | {fx(ratio(rps, runs.floor(cc, 'rps')))} | "
              f"{ms(runs.med(t, w, cc, 'p50_us'))} | {ms(p99)} | {fx(ratio(p99, runs.floor(cc, 'p99_us')))} | "
              f"{runs.errors(t, w, cc)} | {cpu(runs, t, w, cc)} |")
    p("\n`static` is nginx answering by itself, `floor` the empty libfcgi responder; errors are wrk's "
      "connect/read/write/timeout errors plus non-2xx answers, summed over rounds. CPU µs/request: "
      "user+system CPU time of the nginx worker, the app process (all threads) and redis-server "
      "during the run (/proc/PID/stat, 10 ms ticks) divided by the requests wrk completed — less "
      "sensitive to other load than requests/s.\n")

    # Redis commands.
    p("## Redis commands per page view\n")
    if mon:
        p(f"MONITOR probe over {mon['views']} views: commands sent by the app: "
          f"`{mon['client'].strip(',')}`; run inside the script: {int(mon['lua_commands']) / int(mon['views']):.1f} "
          f"per view (`{mon['lua_set'].strip(',')}`). One round trip per view.\n")
    p("| target | workload | conns | client commands / view | all commands / view (commandstats, incl. in-script) |")
    p("|---|---|---|---|---|")
    for t in ("redis", "redis-w1"):
        for w in ("returning", "new"):
            for cc in runs.conns:
                rs = [r for r in runs.all(t, w, cc) if r.get("redis_total") and int(r.get("views", 0)) > 0]
                if not rs:
                    continue
                cl = statistics.median(int(r["redis_client"]) / int(r["views"]) for r in rs)
                al = statistics.median(int(r["redis_total"]) / int(r["views"]) for r in rs)
                p(f"| {t} | {w} | {cc} | {cl:.3f} | {al:.2f} |")
    p("")

    # Lost updates.
    p("## Lost updates (returning visitor)\n")
    p("Views the app answered 200 (from its /metrics) against the count the session holds afterwards; "
      "`in flight` is views the app served after wrk stopped counting (wrk's completed requests vs the app's).\n")
    p("| target | conns | views (median) | lost, worst round | in flight at stop, max |")
    p("|---|---|---|---|---|")
    for t in APPS + ["memory-w1", "redis-w1"]:
        for cc in runs.conns:
            rs = [r for r in runs.all(t, "returning", cc) if "lost" in r]
            if not rs:
                continue
            infl = max(int(r["views"]) - int(r["requests"]) for r in rs)
            p(f"| {t} | {cc} | {statistics.median(int(r['views']) for r in rs):,.0f} | "
              f"{max(int(r['lost']) for r in rs)} | {infl} |")
    p("")

    # RSS.
    p("## Resident memory (VmRSS)\n")
    p("| process | idle | after the rounds |")
    p("|---|---|---|")
    for t in ["floor"] + APPS + ["memory-w1", "redis-w1", "redis-server"]:
        i, l = rss.get(("idle", t)), rss.get(("loaded", t))
        p(f"| {t} | {'–' if i is None else f'{i / 1024:.1f} MiB'} | {'–' if l is None else f'{l / 1024:.1f} MiB'} |")
    if sess:
        p(f"\nA fresh memory-store process holding {int(sess['sessions']):,} live sessions "
          f"(created through nginx, /metrics `sessionlab_sessions_live`): {int(sess['kib']) / 1024:.1f} MiB.")
    p("")

    # workers 1.
    p("## `--workers 1` against the default (64), returning visitor\n")
    p("| store | conns | requests/s default | requests/s `--workers 1` | p99 default | p99 `--workers 1` |")
    p("|---|---|---|---|---|---|")
    for s in APPS:
        for cc in runs.conns:
            p(f"| {s} | {cc} | {krps(runs.med(s, 'returning', cc, 'rps'))} | "
              f"{krps(runs.med(s + '-w1', 'returning', cc, 'rps'))} | {ms(runs.med(s, 'returning', cc, 'p99_us'))} ms | "
              f"{ms(runs.med(s + '-w1', 'returning', cc, 'p99_us'))} ms |")
    p("\nWith one worker the app closes each FastCGI connection after its request (no other worker is "
      "free to accept), so nginx connects anew for every request.\n")

    # callgrind.
    cg = [r for r in recs if r["kind"] == "callgrind"]
    if cg:
        p("## Instructions per request (callgrind, two-point)\n")
        p("Each row: the app run under `valgrind --tool=callgrind` for N1 and N2 views over one keep-alive "
          "connection; (Ir(N2) − Ir(N1)) / (N2 − N1), so startup and shutdown cancel out. User-space "
          "instructions of the app process only (nginx, Redis and the kernel not included).\n")
        p("| target | workload | instructions / request | of which app code | libc | libfcgi | hiredis | other |")
        p("|---|---|---|---|---|---|---|---|")
        details = []
        for r in cg:
            n1, n2 = int(r["n1"]), int(r["n2"])
            t1, f1, o1 = callgrind_costs(r["f1"])
            t2, f2, o2 = callgrind_costs(r["f2"])
            d = n2 - n1
            per = (t2 - t1) / d
            obd = collections.Counter()
            for ob in set(o1) | set(o2):
                name = short_ob(ob)
                key = ("app" if name.startswith("sessionlab") else "libc" if name.startswith("libc") else
                       "libfcgi" if "fcgi" in name else "hiredis" if "hiredis" in name else "other")
                obd[key] += (o2.get(ob, 0) - o1.get(ob, 0)) / d
            p(f"| {r['target']} | {r['workload']} | {per:,.0f} | {obd['app']:,.0f} | {obd['libc']:,.0f} | "
              f"{obd['libfcgi']:,.0f} | {obd['hiredis']:,.0f} | {obd['other']:,.0f} |")
            fns = {fn: (f2.get(fn, 0) - f1.get(fn, 0)) / d for fn in set(f1) | set(f2)}
            details.append((r, per, sorted(fns.items(), key=lambda kv: -kv[1])[:12]))
        p("")
        for r, per, top in details:
            if r["target"] == "floor":
                continue
            p(f"<details><summary>Top functions, {r['target']} {r['workload']} ({per:,.0f} Ir/request)</summary>\n")
            p("| self Ir / request | share | function |")
            p("|---|---|---|")
            for fn, v in top:
                p(f"| {v:,.0f} | {100 * v / per:.1f} % | `{fn}` |")
            p("\n</details>\n")

    st = [r for r in recs if r["kind"] == "strace"]
    if st:
        p("## System calls per request (strace -f -c, two-point)\n")
        p("| target | workload | syscalls / request | by call |")
        p("|---|---|---|---|")
        for r in st:
            d = int(r["n2"]) - int(r["n1"])
            a, b = strace_counts(r["f1"]), strace_counts(r["f2"])
            per = {k: (b.get(k, 0) - a.get(k, 0)) / d for k in set(a) | set(b)}
            per = {k: v for k, v in per.items() if v >= 0.05}
            tot = sum(per.values())
            by = ", ".join(f"{k} {v:.2f}" for k, v in sorted(per.items(), key=lambda kv: -kv[1]))
            p(f"| {r['target']} | {r['workload']} | {tot:.2f} | {by} |")
        p("")
    print("\n".join(out))


if __name__ == "__main__":
    main()
