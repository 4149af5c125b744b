#!/usr/bin/env python3
"""bench/scaling_model.py against hand-derived cases: the α-β fit recovers a
known line, buckets merge as GradSync packs them, the overlap replay gives the
exposed time worked out by hand, the NCCL-style cost follows the busbw formula,
and predict() swaps a profile's communication for the modelled one."""
import math
import os
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "bench"))
import scaling_model as m  # noqa: E402

MiB = 1 << 20


class Fit(unittest.TestCase):
    def test_recovers_a_line(self):
        a, b = 150e-6, 1 / 1.1e9  # 150 µs + 1.1 GB/s
        sweep = {"world_size": 2, "raw_sweep": [
            {"bytes": s, "ms": (a + b * s) * 1e3} for s in (4096, 65536, 262144, 1 << 20, 4 << 20, 16 << 20)]}
        fit = m.fit_sweep(sweep)
        self.assertAlmostEqual(fit["a_s"], a, delta=1e-9)
        self.assertAlmostEqual(fit["b_s_per_byte"] * 1e9, b * 1e9, places=6)
        link = m.MeasuredLink(fit)
        self.assertAlmostEqual(link.allreduce(8 << 20, 2), a + b * (8 << 20), places=9)
        self.assertAlmostEqual(link.allreduce(100, 2), (a + b * 4096), places=9)  # the smallest measured size
        with self.assertRaises(SystemExit):
            link.allreduce(1 << 20, 4)  # calibrated at 2 ranks only

    def test_contention_share_of_the_nearest_size(self):
        sweep = {"world_size": 2, "raw_sweep": [{"bytes": s, "ms": 1.0 + s / MiB} for s in (MiB, 4 * MiB)],
                 "contention": [{"bytes": 16 * MiB, "share": 0.6}, {"bytes": MiB, "share": 0.9},
                                {"bytes": 4 * MiB, "share": 0.7}]}
        link = m.MeasuredLink(m.fit_sweep(sweep))
        self.assertEqual(link.share(512 * 1024), 0.9)   # below the smallest: the smallest
        self.assertEqual(link.share(3 * MiB), 0.7)      # log2 distance 0.4 to 4 MiB, 1.6 to 1 MiB
        self.assertEqual(link.share(9 * MiB), 0.6)      # log2 distance 0.83 to 16 MiB, 1.17 to 4 MiB
        self.assertIsNone(m.MeasuredLink(m.fit_sweep({"world_size": 2, "raw_sweep": sweep["raw_sweep"]})).share(MiB))
        with self.assertRaises(SystemExit):
            m.contention_rows({"contention": [{"bytes": MiB}]})

    def test_reads_the_sweep_inside_a_results_file(self):
        sweep = {"world_size": 2, "raw_sweep": [{"bytes": s, "ms": 1.0 + s / MiB} for s in (MiB, 4 * MiB)]}
        self.assertEqual(m.fit_sweep({"sync_bench": {"netns-1gbit": sweep}}), m.fit_sweep(sweep))

    def test_needs_two_sizes(self):
        with self.assertRaises(SystemExit):
            m.fit_sweep({"world_size": 2, "raw_sweep": [{"bytes": 1 << 20, "ms": 1.0}]})


class Buckets(unittest.TestCase):
    def test_first_bucket_small_then_cap(self):
        fine = [(512 * 1024, 0.1), (512 * 1024, 0.2), (2 * MiB, 0.3), (2 * MiB, 0.4), (1 * MiB, None), (3 * MiB, 0.6)]
        got = m.rebucket(fine, 4 * MiB)
        # bucket 0: 0.5+0.5 MiB = 1 MiB (its cap); bucket 1: 2+2 = 4 MiB; bucket 2: 1 (no gradient) + 3 = 4 MiB.
        self.assertEqual(got, [(1 * MiB, 0.2), (4 * MiB, 0.4), (4 * MiB, None)])

    def test_replay(self):
        ar = lambda s: s / MiB * 0.1  # noqa: E731  0.1 s per MiB
        b = [(1 * MiB, 0.2), (2 * MiB, 0.3), (1 * MiB, 0.9)]
        # overlap: 0.2→0.3, 0.3→0.5, 0.9→1.0; backward ends at 1.0: nothing exposed.
        self.assertAlmostEqual(m.exposed(b, 1.0, ar, True), 0.0)
        # backward ends at 0.95: 0.05 exposed.
        self.assertAlmostEqual(m.exposed(b, 0.95, ar, True), 0.05)
        # without overlap everything follows backward: 0.4 s.
        self.assertAlmostEqual(m.exposed(b, 1.0, ar, False), 0.4)
        # a channel busy with a big early bucket delays the later ones: 0→1.0, then 1.0→1.1.
        self.assertAlmostEqual(m.exposed([(10 * MiB, 0.0), (1 * MiB, 0.1)], 0.5, ar, True), 0.6)


class Cluster(unittest.TestCase):
    def test_busbw_formula(self):
        c = m.Cluster("t", 8, 100e9, 0.0, 10e9, 0.0, "")
        s = 1e9
        self.assertAlmostEqual(c.allreduce(s, 8), s * 2 * 7 / 8 / 100e9)
        self.assertAlmostEqual(c.allreduce(s, 64), s * 2 * 63 / 64 / 10e9)  # the network is the bottleneck
        self.assertEqual(c.allreduce(s, 1), 0.0)

    def test_latency_takes_the_cheaper_of_ring_and_tree(self):
        c = m.Cluster("t", 8, 1e30, 1e-6, 1e30, 1e-5, "")
        n = 1024
        ring = 2 * ((n - 128) * 1e-6 + 128 * 1e-5)
        tree = 2 * (3 * 1e-6 + 7 * 1e-5)
        self.assertAlmostEqual(c.allreduce(8, n), min(ring, tree), places=12)
        self.assertLess(tree, ring)


class Predict(unittest.TestCase):
    def run_(self, device):
        return {"workload": "w", "ranks": 1, "overlap": True, "device": device,
                "split": {"step_s": 2.0, "comm_s": 0.25},
                "buckets": {"d": {"phases_per_step": 2, "bucket_bytes": [MiB, 4 * MiB], "bucket_ready_s": [0.1, 0.5],
                                  "backward_s": 0.5, "exposed_s": 0.05, "sync_collectives": 0},
                            "g": {"phases_per_step": 1, "bucket_bytes": [MiB], "bucket_ready_s": [0.3],
                                  "backward_s": 0.3, "exposed_s": 0.05, "sync_collectives": 4,
                                  "sync_collective_bytes": 4000}}}

    link = m.Cluster("t", 8, MiB / 0.1, 0.0, MiB / 0.1, 0.0, "")  # busbw: 0.1 s per MiB; at n = 2, t_ar(S) = S / busbw

    def test_swaps_gradsync_exposure_for_the_replay(self):
        t, parts = m.predict(self.run_("cuda"), self.link, 2)
        # The profile's GradSync exposure (2 × 0.05 + 0.05) leaves; its collectives' blocked time stays.
        self.assertAlmostEqual(parts["compute_and_data_s"], 2.0 - 0.15)
        # D: 0.1→0.2, then 0.5→0.9: 0.4 exposed, twice per step. G: 0.3→0.4: 0.1 exposed.
        # G's 4 collectives of 1000 bytes each, table ×2 at 2 ranks: 4 · 2000 B / busbw.
        coll = 4 * 2000 / (MiB / 0.1)
        self.assertAlmostEqual(parts["comm_s"], 2 * 0.4 + 0.1 + coll)
        self.assertEqual(parts["contention_s"], 0.0)  # a GPU: NCCL does not take the host's cores
        self.assertAlmostEqual(t, 1.85 + parts["comm_s"])
        self.assertAlmostEqual(m.predict(self.run_("cuda"), self.link, 1)[0], 1.85)  # one rank: no communication

    def test_cpu_progress_thread_takes_half_the_core_while_overlapped(self):
        t, parts = m.predict(self.run_("cpu"), self.link, 2)
        # D: in flight 0.1 + 0.4 = 0.5 s of which 0.4 exposed: 0.1 overlapped, half of it lost, twice.
        # G: in flight 0.1, all exposed: nothing overlapped.
        self.assertAlmostEqual(parts["contention_s"], 2 * 0.5 * 0.1)
        self.assertAlmostEqual(t, 1.85 + parts["comm_s"] + 0.1)

    def test_measured_contention_share_per_bucket(self):
        # A link of 0.1 s per MiB at 2 ranks, with measured shares 1.0 (≤ 2 MiB) and 0.25 (4 MiB).
        link = m.MeasuredLink({"a_s": 0.0, "b_s_per_byte": 0.1 / MiB, "n": 2, "small_s": 0.0, "small_bytes": 4096,
                               "contention": [(MiB, 1.0), (4 * MiB, 0.25)]})
        t, parts = m.predict(self.run_("cpu"), link, 2)
        # D: 1 MiB bucket in flight 0.1→0.2, all of it during backward (ends 0.5): 1.0 · 0.1; the 4 MiB
        # bucket starts when backward ends: nothing overlapped. Twice per step. G: nothing overlapped.
        self.assertAlmostEqual(parts["contention_s"], 2 * 1.0 * 0.1)
        # A 4 MiB bucket that overlaps backward for 0.2 s of its 0.4 s costs 0.25 · 0.2.
        run = self.run_("cpu")
        run["buckets"]["d"]["bucket_ready_s"] = [0.1, 0.3]
        self.assertAlmostEqual(m.predict(run, link, 2)[1]["contention_s"], 2 * (0.1 + 0.25 * 0.2))
        # An explicit share overrides the measurement; a GPU run has none.
        self.assertAlmostEqual(m.predict(run, link, 2, progress_share=0.5)[1]["contention_s"], 2 * 0.5 * 0.3)
        self.assertEqual(m.predict(self.run_("cuda"), link, 2)[1]["contention_s"], 0.0)


if __name__ == "__main__":
    unittest.main(verbosity=1)
