"""Shared start-up for the e2e PySpark jobs.

Every job takes the same command line: where the master is, which port the driver UI binds,
where event logs go, any number of ``--conf key=value`` Spark properties, and ``--hold`` to keep
the application (and so its executors) alive after the last job until standard input closes,
so the test can watch idle executors being released and then end the application itself.
"""

import argparse
import json
import sys
import time

from pyspark.sql import SparkSession


def base_parser(description):
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--master", required=True, help="spark://host:port of the standalone master")
    p.add_argument("--app-name", required=True)
    p.add_argument("--ui-port", type=int, required=True, help="spark.ui.port of the driver")
    p.add_argument("--event-log-dir", default="", help="enables the event log into this directory")
    p.add_argument("--conf", action="append", default=[], metavar="KEY=VALUE",
                   help="a Spark property; repeatable")
    p.add_argument("--pause", type=float, default=20.0,
                   help="seconds of no work between the jobs, so idle release shows")
    p.add_argument("--hold", action="store_true",
                   help="after the last job, keep the application until stdin closes")
    p.add_argument("--seed", type=int, default=20261121)
    return p


def session(args):
    b = (SparkSession.builder.master(args.master).appName(args.app_name)
         .config("spark.driver.host", "127.0.0.1")
         .config("spark.driver.bindAddress", "127.0.0.1")
         .config("spark.ui.port", str(args.ui_port))
         .config("spark.port.maxRetries", "0")
         .config("spark.executor.cores", "1")
         .config("spark.executor.memory", "512m")
         .config("spark.driver.memory", "512m")
         .config("spark.ui.showConsoleProgress", "false")
         # Serial GC: a dozen JVMs share 2 cores in the e2e tier; parallel GC threads only fight.
         .config("spark.executor.extraJavaOptions", "-XX:+UseSerialGC")
         .config("spark.driver.extraJavaOptions", "-XX:+UseSerialGC"))
    if args.event_log_dir:
        # One plain JSON-lines file per application (Spark 4 defaults to rolling, compressed logs),
        # so readers need no codec.
        b = (b.config("spark.eventLog.enabled", "true").config("spark.eventLog.dir", args.event_log_dir)
             .config("spark.eventLog.rolling.enabled", "false").config("spark.eventLog.compress", "false"))
    for kv in args.conf:
        key, sep, value = kv.partition("=")
        if not sep:
            sys.exit(f"--conf {kv!r}: want KEY=VALUE")
        b = b.config(key, value)
    spark = b.getOrCreate()
    spark.sparkContext.setLogLevel("WARN")
    return spark


def event(name, **fields):
    """Prints one machine-readable line the test parses: EVENT {json}."""
    fields.update(event=name, time=round(time.time(), 3))
    print("EVENT " + json.dumps(fields, sort_keys=True), flush=True)


def pause(args, why):
    event("pause", seconds=args.pause, why=why)
    time.sleep(args.pause)


def finish(spark, args):
    event("jobs_done")
    if args.hold:
        sys.stdin.read()  # returns at EOF: the test closes our stdin when it is done watching
    spark.stop()
    event("stopped")
