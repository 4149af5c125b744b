"""A run's settings, checked before a results runner reuses the run (bench/results.py).

gantry train writes the config it runs with (every key, resolved) to its run dir's config.toml at every start;
the runner archives that file beside the run's evaluations. Before it resumes a run or counts it as done, the
runner asks `gantry config` what the plan's command line resolves to now and compares: a run trained under
other settings (the plan or a base config changed since) is neither resumed with the new ones nor counted as
the new ones' result. A key the recorded config lacks (a gantry from before the option existed) counts only
where the plan or its base config sets it: an option at its default is what the older gantry did."""
import subprocess
import tomllib

# Keys that change how a run logs, checkpoints or stops, not what it computes (a resume is exact).
RUNTIME_KEYS = frozenset({"train.keep_checkpoints", "train.checkpoint_every", "train.stop_signals",
                          "data.prefetch", "data.decode_threads", "data.file_locking"})
RUNTIME_SECTIONS = ("log.",)


class SettingsError(Exception):
    pass


def flatten(table, prefix=""):
    """{"section.key": value} of a parsed TOML document."""
    flat = {}
    for k, v in table.items():
        if isinstance(v, dict):
            flat.update(flatten(v, f"{prefix}{k}."))
        else:
            flat[f"{prefix}{k}"] = v
    return flat


def has_config_command(gantry):
    """Whether this gantry binary has `gantry config` (binaries built before it do not)."""
    return subprocess.run([gantry, "config", "--help"], capture_output=True).returncode == 0


def resolved(gantry, config, sets):
    """The flattened config `gantry train --config CONFIG --set ...` would run with."""
    cmd = [gantry, "config", "--config", str(config)]
    for kv in sets:
        cmd += ["--set", kv]
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        last = (p.stderr.strip().splitlines() or ["no message"])[-1]
        raise SettingsError(f"{gantry} config failed (rc {p.returncode}): {last}")
    try:
        return flatten(tomllib.loads(p.stdout))
    except tomllib.TOMLDecodeError as e:
        raise SettingsError(f"{gantry} config printed no readable TOML: {e}") from None


def explicit_keys(config, sets):
    """The keys a run's command line sets: its config file's and its --set list's."""
    keys = {kv.split("=", 1)[0] for kv in sets}
    try:
        with open(config, "rb") as f:
            keys |= set(flatten(tomllib.load(f)))
    except (OSError, tomllib.TOMLDecodeError):
        pass  # gantry config has read it already: an unreadable file does not get this far
    return keys


def recorded(path):
    """The flattened config a run recorded, or None when there is no readable, non-empty one (a run from before
    configs were archived: unchecked)."""
    try:
        got = flatten(tomllib.loads(path.read_text()))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return None
    return got or None


ABSENT = "(absent)"


def differences(expected, got, ignore=(), explicit=()):
    """[(key, got's value, expected's value)]: the keys both have whose values differ, and the keys `explicit`
    names that got lacks; runtime-only keys and `ignore` aside."""
    out = []
    for k in sorted(expected.keys() & (got.keys() | set(explicit))):
        if k in RUNTIME_KEYS or k in ignore or k.startswith(RUNTIME_SECTIONS):
            continue
        if k not in got:
            out.append((k, ABSENT, expected[k]))
        elif expected[k] != got[k]:
            out.append((k, got[k], expected[k]))
    return out


def describe(diffs, limit=4):
    text = ", ".join(f"{k} {a!r} -> {b!r}" for k, a, b in diffs[:limit])
    return text + (f" and {len(diffs) - limit} more" if len(diffs) > limit else "")
