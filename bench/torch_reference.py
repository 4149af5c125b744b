#!/usr/bin/env python3
"""A plain PyTorch training loop of the workload a gantry config describes,
for comparing gantry's speed with what a PyTorch user would write (issue 11).

  python bench/torch_reference.py --config CONFIG.toml [--set section.key=value ...]
        [--synthetic] [--warmup 5] [--steps 20] [--threads 1] [--name NAME] [--dump-shapes FILE]
        [--device cpu|cuda]
  python -m torch.distributed.run --standalone --nproc_per_node N bench/torch_reference.py ...   # N ranks

CONFIG is a gantry config (configs/*.toml) or the resolved config.toml of a
run dir; --set uses gantry's syntax. The same G and D (torch_reference_models),
losses, GN/PGN output normalisation, n_dis D steps + 1 G step per step, D batch
data.batch and G batch train.g_batch (global; each of N ranks takes 1/N), Adam
with the config's lr/betas (lr_schedule too), EMA of G. Data: the config's
.h5 read whole with h5py into a float tensor (x/127.5 − 1), or with
--synthetic random images of the model's shape; data.hflip is applied.

N ranks: DistributedDataParallel on gloo, one DDP wrapper per network.
  - The G phase calls D's plain module with D's requires_grad off (gantry
    freezes D the same way), so D's DDP reducer never waits for gradients
    that will not come; the D phase calls G's plain module under no_grad.
  - GN/PGN take ∇ₓD with torch.autograd.grad(create_graph=True) w.r.t. the
    INPUT only, which fires none of DDP's parameter hooks; the one
    loss.backward() then reduces every gradient once. `--grad-sync manual`
    (one flat all-reduce per network after backward) exists in case a torch
    version refuses that.
  - No per-forward buffer broadcast (forward_sync_buffers=False; before
    torch 2.15 broadcast_buffers=False): with synchronized BN the running
    statistics are identical on every rank already, and gantry broadcasts
    nothing per step either.
  - Synchronized BN (model.sync_batch_norm, the default): nn.SyncBatchNorm
    is CUDA-only, so torch_reference_models.BatchNorm all-reduces the
    per-channel statistics itself (one collective forward, one backward) on a
    separate gloo group, so its collectives never interleave with DDP's.

--device cuda (one GPU per rank, cuda:LOCAL_RANK): nets, the in-memory
images and each batch live on the GPU; z is drawn on the CPU and copied, as
gantry does; the timer is read after torch.cuda.synchronize(); peak_gpu_mb is
torch.cuda.max_memory_allocated (gantry's peak_gpu_mb is the same counter of
the same caching allocator). Adam is PyTorch's default (foreach) on CUDA.

train.precision = bf16 (autocast forwards, float32 outputs, losses and
GN/PGN) and train.channels_last (NHWC parameters and D inputs) are mirrored.

z and the flips are drawn for the global batch and sliced per rank, so 1 and
N ranks train the same (fp32): `param_l1` (Σ|θ| at the end) agrees to ~1e-8
relative between 1 rank and 2 ranks with either --grad-sync.

Not reproduced (costs outside a plain loop): gantry's non-finite gradient
check (a gradient norm per phase), per-step stop-signal agreement,
metric logging, checkpoints and sample grids at the end; gantry's prefetching
loader threads (here the batch is sliced from memory in the training thread).
Prints ONE JSON line (rank 0): img_s = steps · n_dis · data.batch / time, the
definition of img_s in gantry's metrics.jsonl. Bad input: one line, exit 2.
"""
import argparse
import contextlib
import inspect
import json
import os
import sys
import time
import tomllib

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch_reference_models as models  # noqa: E402

# Every key gantry's TrainConfig has, with its default (src/train/train_config.{h,cpp}).
DEFAULTS = {
    "model": dict(arch="dcgan", resolution=32, channels=3, z_dim=128, g_width=0, d_width=0, g_norm="bn",
                  d_norm="none", g_weight_norm="none", d_weight_norm="sn", sync_batch_norm=True, vbn_reference=64,
                  mbd_kernels=0, mbd_kernel_dim=5, sdeconv_sets=8, sdeconv_layers=4, mlp_hidden=128, mlp_depth=3,
                  data_dim=2, mlp_banks=0),
    "data": dict(path="", mixture="", batch=64, hflip=False, shift=0, last_batch="drop", prefetch=4,
                 decode_threads=1, in_memory=False, file_locking=True),
    "train": dict(steps=1000, n_dis=1, g_batch=0, loss="bce", lr_g=2e-4, lr_d=2e-4, beta1_g=0.0, beta2_g=0.9,
                  beta1_d=0.0, beta2_d=0.9, lr_schedule="constant", seed=0, ema_beta=0.9999, ema_start=0,
                  checkpoint_every=500, keep_checkpoints=3, max_bad_steps=10, stop_signals="TERM,INT,USR1,USR2",
                  precision="fp32", channels_last=False),
    "reg": dict(direal_d=False, direal_g=False, direal_tau_d=0.5, direal_tau_g=0.5, direal_lambda_d=0.1,
                direal_lambda_g=1e-3, grad_norm="none", wgan_gp=False, gp_lambda=10.0, r1_gamma=0.0, r1_interval=1,
                cr_lambda=0.0, cr_shift=0.2, feature_matching=False, fm_distance="l2", ha_lambda_d=0.0,
                ha_lambda_g=0.0, label_smoothing=1.0, split_loss_lambda=0.0),
    "log": dict(every=50, sample_every=500, sample_count=64),
    "eval": dict(every=0, metrics="", count=0, feature_net="", ema=True),
}


class BadInput(Exception):
    pass


# --------------------------------------------------------------------------
# Config: gantry's TOML + --set, checked for what this reference can run


def _assign(cfg, key, value):
    section, _, name = key.partition(".")
    if section not in DEFAULTS or name not in DEFAULTS[section]:
        # Also what a key added to gantry later looks like: add it to DEFAULTS (and mirror what it does).
        raise BadInput(f"config: unknown key '{key}' (not in torch_reference.py's DEFAULTS)")
    default = DEFAULTS[section][name]
    # Same type rules as gantry: floats accept integers, nothing else converts.
    if isinstance(default, bool):
        ok = isinstance(value, bool)
    elif isinstance(default, int):
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif isinstance(default, float):
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        value = float(value) if ok else value
    else:
        ok = isinstance(value, str)
    if not ok:
        raise BadInput(f"config: {key} must be {type(default).__name__}, not {value!r}")
    cfg[section][name] = value


def load_config(path, overrides):
    cfg = {s: dict(v) for s, v in DEFAULTS.items()}
    if path:
        try:
            with open(path, "rb") as f:
                table = tomllib.load(f)
        except FileNotFoundError:
            raise BadInput(f"config: {path}: no such file")
        except tomllib.TOMLDecodeError as e:
            raise BadInput(f"config: {path}: {e}")
        for section, entries in table.items():
            if not isinstance(entries, dict):
                raise BadInput(f"config: unknown key '{section}'")
            for name, value in entries.items():
                _assign(cfg, f"{section}.{name}", value)
    for o in overrides:
        key, eq, text = o.partition("=")
        if not eq or not key:
            raise BadInput(f"--set expects key=value, not '{o}'")
        try:  # the value as TOML (numbers, booleans, quoted strings); bare words are strings
            value = tomllib.loads("v = " + text)["v"]
        except tomllib.TOMLDecodeError:
            value = text
        _assign(cfg, key, value)
    return cfg


def check_supported(cfg, world):
    """Normalises names and refuses what the reference does not rebuild, one line each."""
    m, t, r, d = cfg["model"], cfg["train"], cfg["reg"], cfg["data"]
    if m["arch"] not in models.RESOLUTIONS:
        raise BadInput(f"model.arch '{m['arch']}' is not supported by the reference (dcgan, sngan_cnn, resnet)")
    if m["resolution"] not in models.RESOLUTIONS[m["arch"]]:
        allowed = ", ".join(map(str, models.RESOLUTIONS[m["arch"]]))
        raise BadInput(f"model: {m['arch']} supports resolutions {allowed}, not {m['resolution']}")
    if m["channels"] not in (1, 3):
        raise BadInput(f"model: image channels must be 1 or 3, not {m['channels']}")
    for key in ("g_norm", "d_norm"):
        name = {"batch": "bn", "layer": "ln"}.get(m[key], m[key])
        if name not in ("none", "bn", "ln"):
            raise BadInput(f"model.{key} '{m[key]}' is not supported by the reference (none, bn, ln)")
        m[key] = name
    for key in ("g_weight_norm", "d_weight_norm"):
        name = {"spectral": "sn"}.get(m[key], m[key])
        if name not in ("none", "sn"):
            raise BadInput(f"model.{key} '{m[key]}' is not supported by the reference (none, sn)")
        m[key] = name
    if m["mbd_kernels"] > 0:
        raise BadInput("model.mbd_kernels (minibatch discrimination) is not supported by the reference")
    for key in ("direal_d", "direal_g", "wgan_gp", "feature_matching"):
        if r[key]:
            raise BadInput(f"reg.{key} is not supported by the reference")
    for key in ("r1_gamma", "cr_lambda", "ha_lambda_d", "ha_lambda_g", "split_loss_lambda"):
        if r[key] > 0:
            raise BadInput(f"reg.{key} is not supported by the reference")
    if r["grad_norm"] not in ("none", "gn", "pgn"):
        raise BadInput(f"reg.grad_norm must be none, gn or pgn, not '{r['grad_norm']}'")
    if r["grad_norm"] != "none" and m["d_norm"] == "bn":
        raise BadInput("reg.grad_norm needs per-sample gradients of D and cannot be combined with batch norm in D")
    if t["loss"] not in ("bce", "hinge", "wasserstein"):
        raise BadInput(f"train.loss must be bce, hinge or wasserstein, not '{t['loss']}'")
    if r["label_smoothing"] != 1.0 and t["loss"] != "bce":
        raise BadInput("reg.label_smoothing applies to the bce loss only")
    if t["precision"] not in ("fp32", "bf16"):
        raise BadInput(f"train.precision must be fp32 or bf16, not '{t['precision']}'")
    if t["lr_schedule"] not in ("constant", "linear"):
        raise BadInput("train.lr_schedule must be constant or linear")
    if t["n_dis"] < 1 or d["batch"] <= 0 or t["g_batch"] < 0:
        raise BadInput("train.n_dis must be >= 1, data.batch > 0, train.g_batch >= 0")
    if d["mixture"]:
        raise BadInput("data.mixture (2-D mixtures) is not supported by the reference")
    if d["shift"] > 0:
        raise BadInput("data.shift (shift augmentation) is not supported by the reference")
    if cfg["eval"]["every"] > 0:
        raise BadInput("eval.every > 0 (evaluation during training) is not supported by the reference")
    t["g_batch"] = t["g_batch"] or d["batch"]
    for key, value in (("data.batch", d["batch"]), ("train.g_batch", t["g_batch"])):
        if value % world:
            raise BadInput(f"{key} {value} must be a multiple of the world size {world}")


# --------------------------------------------------------------------------
# Data


def load_images(cfg, synthetic, synthetic_count):
    m = cfg["model"]
    shape = (m["channels"], m["resolution"], m["resolution"])
    if synthetic:
        count = max(synthetic_count, cfg["data"]["batch"])
        return torch.rand((count,) + shape, generator=torch.Generator().manual_seed(0)) * 2 - 1
    path = cfg["data"]["path"]
    if not path:
        raise BadInput("data.path is empty (give a dataset or --synthetic)")
    if not os.path.isfile(path):
        raise BadInput(f"data {path}: no such file")
    try:
        import h5py

        with h5py.File(path, "r") as f:
            images = f["images"][...]
    except (OSError, KeyError) as e:
        raise BadInput(f"data {path}: {e}")
    if images.ndim != 4 or tuple(images.shape[1:]) != shape:
        raise BadInput(f"data {path} holds {'x'.join(map(str, images.shape[1:]))} images, "
                       f"the model makes {'x'.join(map(str, shape))}")
    if images.shape[0] < cfg["data"]["batch"]:
        raise BadInput(f"data.batch is larger than the dataset ({images.shape[0]} images)")
    return torch.from_numpy(images).float().div_(127.5).sub_(1)  # gantry's x/127.5 − 1


class Batches:
    """Epoch permutations of the in-memory images; each rank takes its slice of
    every global batch (the last incomplete batch of an epoch is dropped)."""

    def __init__(self, images, global_batch, rank, world, seed, hflip):
        self.images, self.global_batch, self.hflip = images, global_batch, hflip
        self.b, self.rank = global_batch // world, rank
        self.epoch, self.offset, self.perm = -1, 0, None
        self.flip_gen = torch.Generator().manual_seed(seed)  # draws for the global batch: world-size invariant
        self.seed = seed

    def next(self):
        if self.perm is None or self.offset + self.global_batch > len(self.images):
            self.epoch += 1
            gen = torch.Generator().manual_seed(self.seed + self.epoch)
            self.perm = torch.randperm(len(self.images), generator=gen)
            self.offset = 0
        start = self.offset + self.rank * self.b
        x = self.images.index_select(0, self.perm[start : start + self.b].to(self.images.device))
        self.offset += self.global_batch
        if self.hflip:
            draws = torch.rand(self.global_batch, generator=self.flip_gen)
            flip = draws[self.rank * self.b : (self.rank + 1) * self.b] < 0.5
            x = torch.where(flip.view(-1, 1, 1, 1).to(x.device), x.flip(3), x)
        return x


# --------------------------------------------------------------------------
# Training


class Ema:
    """θ_ema ← β θ_ema + (1 − β) θ after each G step, a plain copy before
    ema_start; floating buffers the same, others copied (src/reg/ema.cpp)."""

    def __init__(self, g, shadow, beta, start):
        self.g, self.shadow, self.beta, self.start = g, shadow, beta, start
        shadow.load_state_dict(g.state_dict())
        shadow.eval().requires_grad_(False)

    @torch.no_grad()
    def update(self, step):
        keep = 0.0 if step < self.start else self.beta
        for pe, p in zip(self.shadow.parameters(), self.g.parameters()):
            pe.mul_(keep).add_(p, alpha=1 - keep)
        for be, b in zip(self.shadow.buffers(), self.g.buffers()):
            if be.is_floating_point():
                be.mul_(keep).add_(b, alpha=1 - keep)
            else:
                be.copy_(b)


def all_reduce_mean_grads(net, world):
    """--grad-sync manual: one flat all-reduce of every gradient of `net`."""
    import torch.distributed as dist

    grads = [p.grad for p in net.parameters() if p.grad is not None]
    flat = torch.cat([g.reshape(-1) for g in grads])
    dist.all_reduce(flat)
    flat.div_(world)
    offset = 0
    for g in grads:
        g.copy_(flat[offset : offset + g.numel()].view_as(g))
        offset += g.numel()


def ddp(net):
    """DDP without per-forward buffer broadcasts (torch 2.15 renamed the option)."""
    from torch.nn.parallel import DistributedDataParallel as DDP

    options = inspect.signature(DDP).parameters
    no_sync = "forward_sync_buffers" if "forward_sync_buffers" in options else "broadcast_buffers"
    return DDP(net, **{no_sync: False})


class Trainer:
    def __init__(self, cfg, g, d, g_ema, batches, world, rank, grad_sync, device):
        t = cfg["train"]
        self.device = device
        self.cfg, self.world, self.rank, self.grad_sync = cfg, world, rank, grad_sync
        self.g, self.d = g, d  # plain modules
        self.g_fwd, self.d_fwd = g, d  # what a training forward calls (DDP wrappers under --grad-sync ddp)
        if grad_sync == "ddp":
            self.g_fwd, self.d_fwd = ddp(g), ddp(d)
        elif grad_sync == "manual":
            import torch.distributed as dist

            for p in list(g.parameters()) + list(d.parameters()):
                dist.broadcast(p.data, 0)
        self.opt_g = torch.optim.Adam(g.parameters(), lr=t["lr_g"], betas=(t["beta1_g"], t["beta2_g"]))
        self.opt_d = torch.optim.Adam(d.parameters(), lr=t["lr_d"], betas=(t["beta1_d"], t["beta2_d"]))
        self.ema = Ema(g, g_ema, t["ema_beta"], t["ema_start"])
        self.batches = batches
        self.phase = 0
        self.times = {"data": 0.0, "d": 0.0, "g": 0.0}
        self.bf16, self.channels_last = t["precision"] == "bf16", t["channels_last"]

    def _z(self, global_batch):
        # This rank's rows of a global draw per phase, as gantry: 1 and N ranks see the same z.
        gen = torch.Generator().manual_seed(self.cfg["train"]["seed"] * 1_000_003 + self.phase)
        self.phase += 1
        b = global_batch // self.world
        z = torch.randn(global_batch, self.cfg["model"]["z_dim"], generator=gen)[self.rank * b : (self.rank + 1) * b]
        return z.to(self.device)

    def _forward(self, net, x):
        # train.precision = bf16: the forward under autocast, its output cast back to float32, so that
        # losses and GN/PGN's gradient norms (and their double backward) are float32, as in gantry.
        if not self.bf16:
            return net(x)
        with torch.autocast(self.device.type, dtype=torch.bfloat16):
            y = net(x)
        return y.float()

    def _d(self, net, x):
        if self.channels_last:  # image batches in the nets' layout (gantry's in_layout)
            x = x.contiguous(memory_format=torch.channels_last)
        return self._forward(net, x)

    def _d_out(self, net, x):
        # D's (GN/PGN-normalised) output; x must require grad under GN/PGN.
        return models.normalize_output(self.cfg["reg"]["grad_norm"], self._d(net, x), x)

    def d_phase(self):
        with scope("gantry::d_phase"):
            self._d_phase()

    def _d_phase(self):
        c = self.cfg
        t0 = time.perf_counter()
        with scope("gantry::data_wait"):
            real = self.batches.next()
        t1 = time.perf_counter()
        b = real.shape[0]
        z = self._z(c["data"]["batch"])
        with torch.no_grad():
            fake = self._forward(self.g, z)  # training mode (BN batch statistics), no graph, no DDP
        self.opt_d.zero_grad(set_to_none=True)
        if c["reg"]["grad_norm"] != "none":  # one forward of real ‖ fake, as gantry
            f = self._d_out(self.d_fwd, torch.cat([real, fake]).requires_grad_(True))
            f_real, f_fake = f[:b], f[b:]
        else:
            f_real, f_fake = self._d(self.d_fwd, real), self._d(self.d_fwd, fake)
        loss = models.d_loss(c["train"]["loss"], f_real, f_fake, c["reg"]["label_smoothing"])
        loss.backward()
        if self.grad_sync == "manual":
            all_reduce_mean_grads(self.d, self.world)
        with scope("gantry::optimizer"):
            self.opt_d.step()
        self.times["data"] += t1 - t0
        self.times["d"] += time.perf_counter() - t1

    def g_phase(self, step):
        with scope("gantry::g_phase"):
            self._g_phase(step)

    def _g_phase(self, step):
        c = self.cfg
        t0 = time.perf_counter()
        self.d.requires_grad_(False)  # D frozen: no D gradients computed or reduced
        self.opt_g.zero_grad(set_to_none=True)
        z = self._z(c["train"]["g_batch"])
        fake = self._forward(self.g_fwd, z)
        loss = models.g_loss(c["train"]["loss"], self._d_out(self.d, fake))  # plain D module: D's DDP stays idle
        loss.backward()
        self.d.requires_grad_(True)
        if self.grad_sync == "manual":
            all_reduce_mean_grads(self.g, self.world)
        with scope("gantry::optimizer"):
            self.opt_g.step()
        with scope("gantry::ema"):
            self.ema.update(step)
        self.times["g"] += time.perf_counter() - t0

    def step(self, step):
        t = self.cfg["train"]
        if t["lr_schedule"] == "linear":
            scale = 1.0 - step / t["steps"]
            for opt, lr in ((self.opt_g, t["lr_g"]), (self.opt_d, t["lr_d"])):
                for group in opt.param_groups:
                    group["lr"] = lr * scale
        for _ in range(t["n_dis"]):
            self.d_phase()
        self.g_phase(step)


PROFILING = False


def scope(name):
    """A profiler range named as gantry's (bench/profile_summary.py compares the two); free when not profiling."""
    return torch.autograd.profiler.record_function(name) if PROFILING else contextlib.nullcontext()


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--config", required=True, help="gantry config TOML (configs/*.toml or a run's config.toml)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="gantry-style override (repeatable)")
    p.add_argument("--synthetic", action="store_true", help="random images of the model's shape instead of data.path")
    p.add_argument("--synthetic-count", type=int, default=1024, help="images in the synthetic set")
    p.add_argument("--warmup", type=int, default=5, help="untimed steps first")
    p.add_argument("--steps", type=int, default=20, help="timed steps (0: build and --dump-shapes only)")
    p.add_argument("--threads", type=int, default=1, help="intra-op threads per rank")
    p.add_argument("--name", default="", help="workload name in the JSON (default: the config's file name)")
    p.add_argument("--dump-shapes", metavar="FILE", help="write G's and D's parameter and buffer shapes (JSON)")
    p.add_argument("--grad-sync", choices=("ddp", "manual"), default="ddp", help="gradient all-reduce on N ranks")
    p.add_argument("--profile", metavar="FILE", help="Chrome trace of the timed steps (rank 0; torch.profiler, CPU)")
    p.add_argument("--bind-core", action="store_true", help="pin rank r to core r (as launch/mpirun.sh --bind-to core)")
    p.add_argument("--device", choices=("cpu", "cuda"), default="cpu", help="cuda: one GPU per rank (cuda:LOCAL_RANK)")
    return p.parse_args()


def run(args, rank, world):
    if args.warmup < 0 or args.steps < 0 or args.threads < 1:
        raise BadInput("--warmup and --steps must be >= 0, --threads >= 1")
    cfg = load_config(args.config, args.set)
    check_supported(cfg, world)
    torch.set_num_threads(args.threads)
    torch.set_num_interop_threads(1)
    torch.set_flush_denormal(True)  # gantry does the same (denormals are ~100× slower on x86)
    if args.bind_core:
        cores = sorted(os.sched_getaffinity(0))
        os.sched_setaffinity(0, {cores[int(os.environ.get("LOCAL_RANK", 0)) % len(cores)]})
    device = torch.device("cpu")
    if args.device == "cuda":
        if not torch.cuda.is_available():
            raise BadInput("--device cuda but torch sees no GPU")
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
        torch.cuda.set_device(device)
    images = None if args.steps == 0 else load_images(cfg, args.synthetic, args.synthetic_count).to(device)

    sync_group = None
    if world > 1:
        import torch.distributed as dist

        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
        if cfg["model"]["sync_batch_norm"] and "bn" in (cfg["model"]["g_norm"], cfg["model"]["d_norm"]):
            sync_group = dist.new_group(backend="nccl" if device.type == "cuda" else "gloo")
    t = cfg["train"]
    torch.manual_seed(t["seed"])  # same initial weights on every rank (DDP broadcasts rank 0's anyway)
    g, d = models.build(cfg["model"], sync_group)
    g_ema, _ = models.build(cfg["model"], None)
    g, d, g_ema = g.to(device), d.to(device), g_ema.to(device)
    if t["channels_last"]:  # NHWC 4-D parameters (gantry's use_channels_last), before DDP sees them
        for net in (g, d, g_ema):
            net.to(memory_format=torch.channels_last)
    if args.dump_shapes and rank == 0:
        with open(args.dump_shapes, "w") as f:
            json.dump({"G": models.named_shapes(g), "D": models.named_shapes(d)}, f)
    if args.steps == 0:
        return None

    batches = Batches(images, cfg["data"]["batch"], rank, world, t["seed"], cfg["data"]["hflip"])
    trainer = Trainer(cfg, g, d, g_ema, batches, world, rank, args.grad_sync if world > 1 else "none", device)

    def barrier():
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        if world > 1:
            torch.distributed.barrier()

    for s in range(args.warmup):
        trainer.step(s)
    trainer.times = dict.fromkeys(trainer.times, 0.0)
    barrier()
    global PROFILING
    PROFILING = bool(args.profile) and rank == 0
    profiler = (torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) if PROFILING
                else contextlib.nullcontext())
    start = time.perf_counter()
    with profiler:
        for s in range(args.warmup, args.warmup + args.steps):
            trainer.step(s)
        barrier()
    seconds = time.perf_counter() - start
    if PROFILING:
        profiler.export_chrome_trace(args.profile)
    for p in g.parameters():  # a diverged run would be a wrong workload, not a fast one
        if not torch.isfinite(p).all():
            raise RuntimeError("G's parameters became non-finite during the benchmark")
    n = args.steps
    return {
        "impl": "torch_reference",
        "workload": args.name or os.path.splitext(os.path.basename(args.config))[0],
        "ranks": world,
        "threads": args.threads,
        "warmup_steps": args.warmup,
        "steps": n,
        "img_s": n * t["n_dis"] * cfg["data"]["batch"] / seconds,
        "s_per_step": seconds / n,
        "phase_s_per_step": {k: v / n for k, v in trainer.times.items()},  # rank 0's, no barriers inside
        "arch": cfg["model"]["arch"],
        "resolution": cfg["model"]["resolution"],
        "batch": cfg["data"]["batch"],
        "g_batch": t["g_batch"],
        "n_dis": t["n_dis"],
        "loss": t["loss"],
        "grad_norm": cfg["reg"]["grad_norm"],
        "grad_sync": trainer.grad_sync,
        "precision": t["precision"],
        "channels_last": t["channels_last"],
        "sync_bn": sync_group is not None,
        "data": "synthetic" if args.synthetic else cfg["data"]["path"],
        # Σ|θ| at the end: equal across --grad-sync modes and rank counts up to float noise (a sanity check).
        "param_l1": {"G": sum(p.abs().sum().item() for p in g.parameters()),
                     "D": sum(p.abs().sum().item() for p in d.parameters())},
        "torch": torch.__version__,
        "device": str(device),
        "peak_gpu_mb": torch.cuda.max_memory_allocated(device) / 2**20 if device.type == "cuda" else 0,
    }


def main():
    args = parse_args()
    rank, world = int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1))
    try:
        result = run(args, rank, world)
    except BadInput as e:
        if rank == 0:
            print(f"torch_reference: {e}", file=sys.stderr)
        sys.exit(2)
    if result is not None and rank == 0:
        print(json.dumps(result), flush=True)
    if world > 1:
        torch.distributed.destroy_process_group()


if __name__ == "__main__":
    main()
