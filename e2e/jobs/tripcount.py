"""Trip counts over a generated trips table: the second e2e job (DataFrame API).

The trips table is generated on the executors from spark.range: trip i starts in zone
(i * 7919 + 13) % --zones and ends in zone (i * 104729 + 7) % --zones, at hour i % 24; its
distance comes from a seeded random column. A Python UDF prices each trip (the per-row Python
work that makes PySpark tasks take seconds).

Spark jobs, separated by --pause seconds of no work:
  1. price and cache the trips table (the cached dataset), count it;
  2. trips per pickup zone (a shuffle), checked against the closed form below;
  3. the busiest routes (pickup, dropoff) and revenue per hour (two more shuffles and a sort).

Checks printed as EVENT lines for the test: total trips; per-zone counts equal the closed form
(7919 is coprime with the zone count, so each block of --zones consecutive trips visits every
zone once; the last partial block is counted directly); per-hour counts likewise; the routes
sum to the trip count.
"""

from pyspark import StorageLevel
from pyspark.sql import functions as F
from pyspark.sql.types import DoubleType

import jobcommon


def fare(distance, hour):
    base = 2.5 + 1.75 * distance
    if hour < 6 or hour >= 22:
        base *= 1.2
    for _ in range(8):  # rounding in small steps like a meter does
        base = round(base + 0.0001, 4)
    return base


def expected_counts(n, modulus, mul, add):
    full, rest = divmod(n, modulus)
    counts = [full] * modulus
    for i in range(full * modulus, n):
        counts[(i * mul + add) % modulus] += 1
    return counts


def main():
    p = jobcommon.base_parser(__doc__)
    p.add_argument("--trips", type=int, default=1_500_000)
    p.add_argument("--zones", type=int, default=263)
    p.add_argument("--partitions", type=int, default=12)
    args = p.parse_args()
    spark = jobcommon.session(args)
    n, zones, parts = args.trips, args.zones, args.partitions
    spark.conf.set("spark.sql.shuffle.partitions", str(parts))
    spark.conf.set("spark.sql.adaptive.enabled", "false")  # keep the stage shapes fixed
    price = F.udf(fare, DoubleType())

    jobcommon.event("job_start", job="build_trips")
    trips = (spark.range(0, n, 1, parts)
             .withColumn("pickup", ((F.col("id") * 7919 + 13) % zones).cast("int"))
             .withColumn("dropoff", ((F.col("id") * 104729 + F.floor(F.col("id") / 7) + 7) % zones).cast("int"))
             .withColumn("hour", (F.col("id") % 24).cast("int"))
             .withColumn("distance", F.round(F.rand(args.seed) * 20, 2))
             .withColumn("fare", price(F.col("distance"), F.col("hour")))
             .persist(StorageLevel.MEMORY_AND_DISK))
    total = trips.count()
    jobcommon.event("job_end", job="build_trips", trips=total)
    jobcommon.pause(args, "after build_trips")

    jobcommon.event("job_start", job="per_zone")
    per_zone = {r["pickup"]: r["trips"] for r in
                trips.groupBy("pickup").agg(F.count("*").alias("trips")).collect()}
    jobcommon.event("job_end", job="per_zone", zones=len(per_zone))
    jobcommon.pause(args, "after per_zone")

    jobcommon.event("job_start", job="routes")
    routes = (trips.groupBy("pickup", "dropoff")
              .agg(F.count("*").alias("trips"), F.sum("fare").alias("revenue"))
              .orderBy(F.desc("trips"), "pickup", "dropoff"))
    route_rows = routes.collect()
    per_hour = {r["hour"]: r["trips"] for r in
                trips.groupBy("hour").agg(F.count("*").alias("trips")).collect()}
    jobcommon.event("job_end", job="routes", routes=len(route_rows))

    want_zone = expected_counts(n, zones, 7919, 13)
    want_hour = expected_counts(n, 24, 1, 0)
    jobcommon.event(
        "result", job="tripcount", trips=total,
        zone_mismatches=sum(1 for z in range(zones) if per_zone.get(z, 0) != want_zone[z]),
        hour_mismatches=sum(1 for h in range(24) if per_hour.get(h, 0) != want_hour[h]),
        route_trip_sum=sum(r["trips"] for r in route_rows),
        busiest_route=[route_rows[0]["pickup"], route_rows[0]["dropoff"], route_rows[0]["trips"]],
    )
    jobcommon.finish(spark, args)


if __name__ == "__main__":
    main()
