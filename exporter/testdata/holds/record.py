"""Records what Spark's REST API shows about what an executor holds.

Run with PySpark 4.1.4 (make e2e-deps):
    ~/.cache/sparkdra/e2e/venv-pyspark-4.1.4/bin/python exporter/testdata/holds/record.py exporter/testdata/holds

A `local-cluster[2,1,512]` application (two real executor JVMs, no dynamic allocation, so the
executors stay) goes through the phases below; after each, the driver's /executors,
/storage/rdd, /jobs and /stages are written to <out>/<phase>/, plus /applications and the
Spark properties of /environment once.
  fresh            executors registered, no task run yet
  broadcast_only   a job ran with a 2 MB broadcast variable; nothing persisted
  persisted        an RDD persisted MEMORY_ONLY and counted
  persisted_disk   a second RDD persisted DISK_ONLY and counted
  disk_only        the MEMORY_ONLY RDD unpersisted (blocking): only disk blocks are left
  unpersisted      the DISK_ONLY RDD unpersisted too
  shuffle_written  a reduceByKey job ran; its RDD is still referenced
  shuffle_cleaned  the RDD dropped, the driver JVM GC'd, the ContextCleaner removed the shuffle
                   (checked through MapOutputTrackerMaster.containsShuffle)
"""
import gc
import json
import os
import socket
import sys
import time
import urllib.request

from pyspark import SparkConf, SparkContext, StorageLevel


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main(out):
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    port = free_port()
    conf = (SparkConf().setMaster("local-cluster[2,1,512]").setAppName("holds-recording")
            .set("spark.ui.port", str(port)).set("spark.driver.host", "127.0.0.1")
            .set("spark.executor.memory", "512m").set("spark.driver.memory", "512m")
            .set("spark.executor.extraJavaOptions", "-XX:+UseSerialGC -XX:TieredStopAtLevel=1")
            .set("spark.cleaner.referenceTracking.blocking", "true")
            .set("spark.ui.showConsoleProgress", "false"))
    sc = SparkContext(conf=conf)
    sc.setLogLevel("WARN")
    base = "http://127.0.0.1:%d/api/v1/applications/%s" % (port, sc.applicationId)

    def get(path):
        for attempt in range(5):  # a busy machine can stall the UI for a while
            try:
                with urllib.request.urlopen(base + path, timeout=30) as r:
                    return json.load(r)
            except (TimeoutError, OSError):
                if attempt == 4:
                    raise
                time.sleep(2)

    def record(phase):
        time.sleep(3)  # let the executors' block updates and heartbeats reach the driver's store
        d = os.path.join(out, phase)
        os.makedirs(d, exist_ok=True)
        for name, path in [("executors", "/executors"), ("storage_rdd", "/storage/rdd"),
                           ("jobs", "/jobs"), ("stages", "/stages")]:
            with open(os.path.join(d, name + ".json"), "w") as f:
                json.dump(get(path), f, indent=1, sort_keys=True)
                f.write("\n")
        print("recorded", phase, file=sys.stderr)

    deadline = time.time() + 300
    while len([e for e in get("/executors") if e["id"] != "driver"]) < 2:
        if time.time() > deadline:
            raise SystemExit("executors did not register")
        time.sleep(0.5)
    os.makedirs(out, exist_ok=True)
    with urllib.request.urlopen("http://127.0.0.1:%d/api/v1/applications" % port, timeout=30) as r:
        apps = json.load(r)
    with open(os.path.join(out, "applications.json"), "w") as f:
        json.dump(apps, f, indent=1, sort_keys=True)
        f.write("\n")
    with open(os.path.join(out, "environment.json"), "w") as f:
        env = get("/environment")
        json.dump({"sparkProperties": env["sparkProperties"]}, f, indent=1, sort_keys=True)
        f.write("\n")
    record("fresh")

    big = sc.broadcast(list(range(250000)))
    sc.parallelize(range(8), 4).map(lambda x: x + len(big.value)).sum()
    record("broadcast_only")

    cached = sc.parallelize(range(200000), 4).map(lambda x: (x % 97, x)).persist(StorageLevel.MEMORY_ONLY)
    cached.count()
    record("persisted")

    ondisk = sc.parallelize(range(200000), 4).map(lambda x: x * 3).persist(StorageLevel.DISK_ONLY)
    ondisk.count()
    record("persisted_disk")

    cached.unpersist(blocking=True)
    record("disk_only")
    ondisk.unpersist(blocking=True)
    record("unpersisted")

    shuffled = sc.parallelize(range(100000), 4).map(lambda x: (x % 50, 1)).reduceByKey(lambda a, b: a + b, 4)
    shuffled.count()
    tracker = sc._jvm.org.apache.spark.SparkEnv.get().mapOutputTracker()
    ids = [i for i in range(0, 64) if tracker.containsShuffle(i)]
    record("shuffle_written")
    print("shuffles registered before cleanup:", ids, file=sys.stderr)

    del shuffled
    cleaned = False
    for _ in range(60):
        gc.collect()
        sc._jvm.System.gc()
        time.sleep(1)
        if not any(tracker.containsShuffle(i) for i in ids):
            cleaned = True
            break
    if not cleaned:
        raise SystemExit("the ContextCleaner did not remove shuffles %s within 60 s" % ids)
    record("shuffle_cleaned")
    print("shuffles after cleanup:", [i for i in ids if tracker.containsShuffle(i)], file=sys.stderr)
    sc.stop()


if __name__ == "__main__":
    main(sys.argv[1])
