"""What bench/peer_bench.py and bench/peer_check_shapes.py share: the
workloads of the gantry-vs-PyTorch comparison, their data files, and how to
start gantry and the reference (bench/torch_reference.py) with one intra-op
thread per rank.
"""
import glob
import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FMNIST_PACKED = "runs/data/fashion-mnist-train.h5"  # what scripts/quickstart.sh packs

# name: config, CPU-sized overrides (dropped by peer_bench.py --as-configured),
# data shape, synthetic image count, and timing: log windows of `every` steps,
# the first one the warm-up, `windows` timed ones. Sized so that the default
# peer_bench.py (3 reps, 1 and 2 ranks) takes ~15 min on 2 cores.
WORKLOADS = {
    "dcgan": dict(config="configs/fmnist_dcgan.toml", sets=[], shape=(1, 28, 28), count=4096,
                  fmnist=True, every=10, windows=2),
    "sngan_pgn": dict(config="configs/sngan_cnn_pgn.toml", sets=[], shape=(3, 32, 32), count=2048,
                      every=1, windows=2),  # ~8 s per step on one core
    # As configured (64 D / 128 G images, n_dis 5) one step takes minutes on a core; PGN's double
    # backward through D at 128² costs ~1 s per image. CPU-sized: the same networks, loss, PGN and
    # D:G batch ratio on 2 / 4 images, n_dis 1 (~15 s per step on one core).
    "resnet128_pgn": dict(config="configs/celebahq128_resnet_pgn.toml",
                          sets=["data.batch=2", "train.g_batch=4", "train.n_dis=1"],
                          shape=(3, 128, 128), count=256, every=1, windows=1),
}


def die(message, code=2):
    """One line on stderr; exit 2 (bad input) unless told otherwise (1: a run failed)."""
    print(f"{os.path.basename(sys.argv[0])}: {message}", file=sys.stderr)
    sys.exit(code)


def pick_workloads(text):
    names = [n for n in text.split(",") if n]
    for n in names:
        if n not in WORKLOADS:
            die(f"unknown workload '{n}' (choose from {', '.join(WORKLOADS)})")
    return names


def default_python():
    home = os.environ.get("GANTRY_HOME", os.path.expanduser("~/.local/share/gantry"))
    return os.path.join(home, "venv", "bin", "python")


def gantry_env():
    """One intra-op thread per gantry rank: GANTRY_THREADS=1 (src/dist/world.cpp;
    the default would be cores / local ranks). OMP_NUM_THREADS is left UNSET:
    launch/mpirun.sh sizes its core binding with `nproc`, which honours
    OMP_NUM_THREADS, and with it set to 1 would think 2 ranks oversubscribe
    one core and run them unbound."""
    env = dict(os.environ, GANTRY_THREADS="1", GANTRY_DEVICE="cpu", OMPI_ALLOW_RUN_AS_ROOT="1",
               OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")
    env.pop("OMP_NUM_THREADS", None)
    return env


def reference_env():
    """One intra-op thread per reference rank (it also calls torch.set_num_threads(1))."""
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    env.pop("GANTRY_THREADS", None)
    return env


def cores():
    return len(os.sched_getaffinity(0))


def run_logged(cmd, log_path, env, timeout=None):
    """Runs cmd (in the repo root) with stdout+stderr in log_path; stops the
    whole driver with the log's tail on failure."""
    with open(log_path, "w") as log:
        log.write(" ".join(cmd) + "\n")
        log.flush()
        try:
            rc = subprocess.run(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                                timeout=timeout).returncode
        except subprocess.TimeoutExpired:
            rc = "timeout"
    if rc != 0:
        with open(log_path) as log:
            tail = log.readlines()[-15:]
        sys.stderr.write("".join(tail))
        die(f"failed ({rc}): {' '.join(cmd)} (log: {log_path})", 1)
    with open(log_path) as log:
        return log.read()


def data_file(name, gantry, data_dir, env, count=None):
    """The .h5 a workload trains on: the packed Fashion-MNIST for dcgan if
    present, else `gantry synth` images of the workload's shape (made once)."""
    w = WORKLOADS[name]
    if w.get("fmnist") and count is None and os.path.isfile(os.path.join(ROOT, FMNIST_PACKED)):
        return FMNIST_PACKED
    count = count or w["count"]
    c, h, wd = w["shape"]
    path = os.path.join(data_dir, f"synth-{c}x{h}x{wd}-{count}.h5")
    if not os.path.isfile(os.path.join(ROOT, path)):
        os.makedirs(os.path.join(ROOT, data_dir), exist_ok=True)
        run_logged([gantry, "synth", "--shape", f"{c},{h},{wd}", "--count", str(count), "--seed", "0", "--out", path,
                    "--quiet"], os.path.join(ROOT, path + ".log"), env)
    return path


def gantry_train_cmd(gantry, ranks, config, run_dir, sets):
    args = [gantry, "train", "--config", config, "--run-dir", run_dir, "--quiet"]
    for s in sets:
        args += ["--set", s]
    return ["launch/mpirun.sh", "-n", str(ranks)] + args


def reference_cmd(python, ranks, config, sets, extra):
    """Like launch/mpirun.sh, which binds each rank to a core when there are
    enough cores (--bind-to core), the reference pins rank r to core r then."""
    script = ["bench/torch_reference.py", "--config", config] + [a for s in sets for a in ("--set", s)] + extra
    if ranks <= cores():
        script.append("--bind-core")
    if ranks == 1:
        return [python] + script
    return [python, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", str(ranks)] + script


def newest_checkpoint(run_dir):
    files = sorted(glob.glob(os.path.join(ROOT, run_dir, "ckpt-*.pt")))
    if not files:
        die(f"no checkpoint in {run_dir}", 1)
    return files[-1]


def last_json(text):
    """The last line of text that parses as a JSON object."""
    for line in reversed(text.splitlines()):
        line = line.strip()
        if line.startswith("{"):
            try:
                return json.loads(line)
            except json.JSONDecodeError:
                continue
    return None
