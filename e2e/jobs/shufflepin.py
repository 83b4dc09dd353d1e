"""One shuffle, then idle: shows what keeps executors that ran shuffle map tasks.

A single Spark job counts keys over --partitions map tasks (a reduceByKey: one shuffle), so
every executor that registered runs shuffle map tasks. The job's RDD stays referenced on the
driver afterwards, so the ContextCleaner never removes the shuffle: under shuffle tracking
Spark's ExecutorMonitor keeps those executors, otherwise they go after executorIdleTimeout.

Printed for the test: EVENT shuffle_done (with the key count, checked against the expected
--keys), then, with --hold, the application stays until standard input closes.
"""

import time

import jobcommon


def main():
    p = jobcommon.base_parser(__doc__)
    p.add_argument("--partitions", type=int, default=8)
    p.add_argument("--rows", type=int, default=200_000)
    p.add_argument("--keys", type=int, default=100)
    p.add_argument("--task-seconds", type=float, default=1.5,
                   help="each map task sleeps this long, so the backlog lasts and DRA adds executors")
    args = p.parse_args()
    spark = jobcommon.session(args)
    sc = spark.sparkContext
    jobcommon.event("started", app_id=sc.applicationId)

    keys, pause = args.keys, args.task_seconds

    def slow(it):
        time.sleep(pause)
        return it

    counts = (sc.parallelize(range(args.rows), args.partitions).mapPartitions(slow)
              .map(lambda x: (x % keys, 1)).reduceByKey(lambda a, b: a + b, args.partitions))
    n = counts.count()
    jobcommon.event("shuffle_done", keys=n, ok=(n == keys))
    jobcommon.finish(spark, args)  # `counts` stays referenced until here: the shuffle is not cleaned


if __name__ == "__main__":
    main()
