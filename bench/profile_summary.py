#!/usr/bin/env python3
"""Where a training step's time goes, from a Chrome trace of LibTorch's profiler.

gantry writes one with GANTRY_PROFILE="FIRST-LAST:FILE" (train/step_profiler.h);
bench/torch_reference.py writes one with --profile FILE. Both mark their phases
with the same user scopes (gantry::d_phase, gantry::g_phase, gantry::optimizer,
gantry::grad_sync_finish, gantry::ema, gantry::data_wait), so two traces of the
same workload compare line by line.

  bench/profile_summary.py TRACE.json [TRACE2.json] [--steps N] [--top 25] [--json]

Prints, per trace: milliseconds per step in each phase (inclusive), and the ops
with the most SELF time (time not spent in a nested op), per step. Self time is
computed from the nesting of complete ("X") events on each thread.
"""
import argparse
import collections
import json
import sys


def load_events(path):
    try:
        with open(path) as f:
            trace = json.load(f)
    except (OSError, ValueError) as e:
        sys.exit(f"profile_summary: {path}: {e}")
    events = trace["traceEvents"] if isinstance(trace, dict) else trace
    keep = ("cpu_op", "user_annotation", "cuda_runtime", "kernel", "gpu_user_annotation")
    return [e for e in events if e.get("ph") == "X" and e.get("cat") in keep and "dur" in e]


def self_times(events):
    """(name → total self µs, name → count, phase → inclusive µs), nesting per (pid, tid)."""
    by_thread = collections.defaultdict(list)
    for e in events:
        if e["cat"] in ("kernel", "gpu_user_annotation"):
            continue  # device timelines: not nested with host ops
        by_thread[(e.get("pid"), e.get("tid"))].append(e)
    self_us = collections.Counter()
    count = collections.Counter()
    phase_us = collections.Counter()
    for evs in by_thread.values():
        evs.sort(key=lambda e: (float(e["ts"]), -float(e["dur"])))
        stack = []  # [end, name, child_us, is_annotation]
        def pop():
            end, name, child, ann = stack.pop()
            return end, name, child, ann
        for e in evs:
            ts, dur = float(e["ts"]), float(e["dur"])
            while stack and stack[-1][0] <= ts:
                pop()
            if stack:
                stack[-1][2] += dur
            ann = e["cat"] == "user_annotation"
            if ann:
                phase_us[e["name"]] += dur
            else:
                count[e["name"]] += 1
            stack.append([ts + dur, e["name"], 0.0, ann])
            # Self time is dur minus direct children: accounted when children arrive (above), so
            # record the parent's full duration now and subtract children as they are seen.
            if not ann:
                self_us[e["name"]] += dur
            parent = stack[-2] if len(stack) > 1 else None
            if parent is not None and not parent[3]:
                self_us[parent[1]] -= dur
    return self_us, count, phase_us


def summarize(path, steps, top):
    events = load_events(path)
    self_us, count, phase_us = self_times(events)
    total = sum(self_us.values())
    return {
        "trace": path,
        "steps": steps,
        "phases_ms_per_step": {k: round(v / 1000 / steps, 3) for k, v in sorted(phase_us.items())
                                if k.startswith("gantry::")},
        "op_self_ms_per_step_total": round(total / 1000 / steps, 3),
        "top_ops": [
            {"op": name, "self_ms_per_step": round(us / 1000 / steps, 3), "share": round(us / total, 4) if total else 0,
             "calls_per_step": round(count[name] / steps, 1)}
            for name, us in self_us.most_common(top)
        ],
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("traces", nargs="+")
    ap.add_argument("--steps", type=int, default=1, help="steps the trace covers (figures are per step)")
    ap.add_argument("--top", type=int, default=25)
    ap.add_argument("--json", action="store_true", help="one JSON object instead of tables")
    a = ap.parse_args()
    if a.steps < 1:
        sys.exit("profile_summary: --steps must be positive")
    results = [summarize(p, a.steps, a.top) for p in a.traces]
    if a.json:
        print(json.dumps(results if len(results) > 1 else results[0]))
        return
    for r in results:
        print(f"== {r['trace']} ({r['steps']} steps; op self time {r['op_self_ms_per_step_total']} ms/step)")
        for k, v in r["phases_ms_per_step"].items():
            print(f"  {k:<28} {v:9.3f} ms/step")
        print(f"  {'op':<48} {'self ms/step':>12} {'share':>7} {'calls/step':>10}")
        for o in r["top_ops"]:
            print(f"  {o['op'][:48]:<48} {o['self_ms_per_step']:12.3f} {o['share']:7.1%} {o['calls_per_step']:10.1f}")


if __name__ == "__main__":
    main()
