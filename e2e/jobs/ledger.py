"""Ledger: balances of accounts after a stream of transfers, the Kubernetes tier's PySpark job.

With --scan-partitions N, a first job validates every transfer over N partitions and counts
them (no shuffle): a wide stage that makes DRA ask for many executors, after which the ledger's
stages run on --partitions partitions only, so most executors end idle without shuffle output.

Transfer i (0 <= i < --transfers) moves (i % 97) + 1 units from account (i * 7919 + 13) % A to
account (i * 104729 + 7) % A, A = --accounts. Each transfer is "validated" by --work rounds of
SHA-256 on the executors (the per-record Python work that makes tasks take seconds). Stages:

  1. balances: every transfer becomes a debit and a credit, summed per account (a shuffle);
  2. per tier: balances joined with the accounts' tiers (account % 7) and summed per tier
     (two more shuffles: the join and the sum);
  3. the ten richest accounts (a sort over the balances).

The driver computes the same figures in plain Python and prints one EVENT result line with
ok true/false, plus the sums (balances sum to zero: money is only moved).

Runs under spark-submit (cluster mode on Kubernetes: settings come from spark-submit) or
against a standalone master (--master). With --signal-dir it holds the application between
phases, waiting for files the test creates there (a driver pod runs on the test's machine):
after the stages it keeps the balances RDD, so its shuffle stays referenced, until
<dir>/release exists; with --reread it then reads each of its three shuffles once more (the
balances, the join, the sums per tier); then drops every reference and runs the driver JVM's GC
until the ContextCleaner has removed the shuffles (MapOutputTrackerMaster.containsShuffle),
printing EVENT shuffle_cleaned; then waits for <dir>/finish and stops.

With --occupy-first CORES (and --signal-dir), before the scan the job fills CORES task slots of
the application's first executor (the only one registered then: start the application with one)
with tasks that wait until the ledger's stages are done (the driver creates <dir>/occupied-done;
driver and executors share this machine's file system in the e2e tiers). So none of the ledger's
shuffle map tasks runs on that executor, and the executors that hold its shuffle are the ones
that came later: what the Kubernetes tier's StatefulSet scenario needs to place the shuffle on
the highest ordinals. EVENT occupied_released names the pods ($SPARK_EXECUTOR_POD_NAME) they ran on.
"""

import argparse
import gc
import hashlib
import json
import os
import sys
import threading
import time

from pyspark import SparkConf, SparkContext


def event(kind, **fields):
    """Prints one machine-readable line the test parses: EVENT {json}."""
    fields.update(event=kind, time=round(time.time(), 3))
    print("EVENT " + json.dumps(fields, sort_keys=True), flush=True)


def endpoints(i, accounts):
    return (i * 7919 + 13) % accounts, (i * 104729 + 7) % accounts, (i % 97) + 1


def validate(i, work):
    h = str(i).encode()
    for _ in range(work):
        h = hashlib.sha256(h).digest()
    return h[0] >= 0  # always true: the work is the point


def reference(transfers, accounts, tiers):
    bal = [0] * accounts
    for i in range(transfers):
        src, dst, amt = endpoints(i, accounts)
        bal[src] -= amt
        bal[dst] += amt
    per_tier = [0] * tiers
    for a, b in enumerate(bal):
        per_tier[a % tiers] += b
    richest = sorted(((b, a) for a, b in enumerate(bal)), key=lambda t: (-t[0], t[1]))[:10]
    return {a: b for a, b in enumerate(bal) if b != 0}, per_tier, [(a, b) for b, a in richest]


def wait_for(path, timeout):
    deadline = time.time() + timeout
    while not os.path.exists(path):
        if time.time() > deadline:
            sys.exit(f"waited {timeout}s for {path}")
        time.sleep(0.25)


def occupy(sc, cores, done_file, timeout):
    """Starts a job of cores tasks that wait for done_file, and returns once they all run.

    It returns the thread running the job and the list the job's result (the pods the tasks ran
    on) is put into.
    """
    def hold(_):
        deadline = time.time() + timeout
        while not os.path.exists(done_file) and time.time() < deadline:
            time.sleep(0.2)
        return os.environ.get("SPARK_EXECUTOR_POD_NAME", "")

    pods = []

    def run():
        sc.setJobGroup("occupy-first", "fill the first executor's task slots")
        pods.extend(sc.parallelize(range(cores), cores).map(hold).collect())

    # InheritableThread: PySpark's pinned-thread mode gives it its own JVM thread, so the job
    # group stays its own.
    from pyspark import InheritableThread
    thread = InheritableThread(target=run, daemon=True)
    thread.start()
    tracker = sc.statusTracker()
    deadline = time.time() + timeout
    while True:
        active = 0
        for jid in tracker.getJobIdsForGroup("occupy-first"):
            job = tracker.getJobInfo(jid)
            for sid in (job.stageIds if job else []):
                st = tracker.getStageInfo(sid)
                active += st.numActiveTasks if st else 0
        if active >= cores:
            break
        if time.time() > deadline:
            sys.exit(f"the {cores} occupying tasks did not all run within {timeout}s")
        time.sleep(0.25)
    event("occupied", tasks=cores)
    return thread, pods


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--master", default="", help="spark://host:port (standalone); else spark-submit's")
    p.add_argument("--app-name", default="ledger")
    p.add_argument("--transfers", type=int, default=240_000)
    p.add_argument("--accounts", type=int, default=5_000)
    p.add_argument("--tiers", type=int, default=7)
    p.add_argument("--partitions", type=int, default=12)
    p.add_argument("--scan-partitions", type=int, default=0, help="a first wide job over this many partitions")
    p.add_argument("--work", type=int, default=40, help="SHA-256 rounds per transfer")
    p.add_argument("--signal-dir", default="", help="hold between phases until files appear here")
    p.add_argument("--hold-timeout", type=float, default=900)
    p.add_argument("--reread", action="store_true",
                   help="after <dir>/release, read each held shuffle once more (balances, join, tiers) before dropping them")
    p.add_argument("--occupy-first", type=int, default=0, metavar="CORES",
                   help="fill CORES task slots of the first executor until the ledger's stages are done (needs --signal-dir)")
    p.add_argument("--conf", action="append", default=[], metavar="KEY=VALUE")
    args = p.parse_args()
    if args.occupy_first and not args.signal_dir:
        sys.exit("--occupy-first needs --signal-dir")

    conf = SparkConf().setAppName(args.app_name)
    if args.master:
        conf.setMaster(args.master)
    for kv in args.conf:
        k, sep, v = kv.partition("=")
        if not sep:
            sys.exit(f"--conf {kv!r}: want KEY=VALUE")
        conf.set(k, v)
    sc = SparkContext(conf=conf)
    sc.setLogLevel("WARN")
    event("started", app_id=sc.applicationId, spark_version=sc.version)

    n, accounts, tiers, parts, work = args.transfers, args.accounts, args.tiers, args.partitions, args.work
    occupied = None
    if args.occupy_first:
        occupied = occupy(sc, args.occupy_first, os.path.join(args.signal_dir, "occupied-done"), args.hold_timeout)
    t0 = time.time()
    if args.scan_partitions:
        valid = sc.range(0, n, numSlices=args.scan_partitions).filter(lambda i: validate(i, work)).count()
        event("stage_done", stage="scan", valid=valid, seconds=round(time.time() - t0, 1))
        if valid != n:
            event("result", ok=False, why=f"scan counted {valid} of {n}")
            sys.exit(3)
    transfers = sc.range(0, n, numSlices=parts).filter(lambda i: validate(i, work))

    def legs(i):
        src, dst, amt = endpoints(i, accounts)
        return [(src, -amt), (dst, amt)]

    balances = transfers.flatMap(legs).reduceByKey(lambda a, b: a + b, parts)
    got_balances = {a: b for a, b in balances.collect() if b != 0}
    event("stage_done", stage="balances", seconds=round(time.time() - t0, 1))

    tier_of = sc.range(0, accounts, numSlices=parts).map(lambda a: (a, a % tiers))
    joined = balances.join(tier_of, parts)
    per_tier_rdd = joined.map(lambda kv: (kv[1][1], kv[1][0])).reduceByKey(lambda a, b: a + b, parts)
    got_tiers = [0] * tiers
    for t, b in per_tier_rdd.collect():
        got_tiers[t] = b
    event("stage_done", stage="tiers", seconds=round(time.time() - t0, 1))

    got_richest = [(a, b) for a, b in balances.takeOrdered(10, key=lambda kv: (-kv[1], kv[0]))]
    event("stage_done", stage="richest", seconds=round(time.time() - t0, 1))

    want_balances, want_tiers, want_richest = reference(n, accounts, tiers)
    ok = got_balances == want_balances and got_tiers == want_tiers and got_richest == want_richest
    event("result", ok=ok, accounts_nonzero=len(got_balances), balance_sum=sum(got_balances.values()),
          tiers=got_tiers, richest=got_richest[:3], seconds=round(time.time() - t0, 1))
    if occupied is not None:
        open(os.path.join(args.signal_dir, "occupied-done"), "w").close()
        thread, pods = occupied
        thread.join(args.hold_timeout)
        event("occupied_released", pods=sorted(set(pods)))

    if args.signal_dir:
        tracker = sc._jvm.org.apache.spark.SparkEnv.get().mapOutputTracker()
        ids = [i for i in range(0, 64) if tracker.containsShuffle(i)]
        event("shuffle_held", shuffles=ids)
        wait_for(os.path.join(args.signal_dir, "release"), args.hold_timeout)
        if args.reread:
            t1 = time.time()
            again = [(a, b) for a, b in balances.takeOrdered(10, key=lambda kv: (-kv[1], kv[0]))]
            again_joined = joined.map(lambda kv: (kv[0], kv[1][0])).filter(lambda kv: kv[1] != 0).collectAsMap()
            again_tiers = [0] * tiers
            for t, b in per_tier_rdd.collect():
                again_tiers[t] = b
            same = again == want_richest and again_joined == want_balances and again_tiers == want_tiers
            event("reread", ok=same, seconds=round(time.time() - t1, 1))
            ok = ok and same
        del balances, joined, per_tier_rdd, tier_of, transfers
        for _ in range(120):
            gc.collect()
            sc._jvm.System.gc()
            time.sleep(1)
            if not any(tracker.containsShuffle(i) for i in ids):
                break
        left = [i for i in ids if tracker.containsShuffle(i)]
        event("shuffle_cleaned", ok=not left, left=left)
        wait_for(os.path.join(args.signal_dir, "finish"), args.hold_timeout)
    sc.stop()
    event("stopped")
    if not ok:
        sys.exit(3)


if __name__ == "__main__":
    main()
