"""PageRank over a generated graph: the e2e main job.

The graph is generated on the executors from a seed, so the run is repeatable and nothing large
crosses the driver: node i links to i+1 (a ring, so every node has an out-link and an in-link)
and to --edges-per-node - 1 further nodes drawn from a generator seeded by (seed, i).

Spark jobs, separated by --pause seconds of no work:
  1. build and cache the link lists (one shuffle: partitionBy; the cached dataset);
  2. --iterations of PageRank (each a join and a reduceByKey: two shuffles) and collect the ranks;
  3. a summary job over the final ranks (sum, top nodes).

Checks printed as EVENT lines for the test:
  - mass: with no dangling nodes and every node receiving, the ranks sum to the node count;
  - reference: the same iterations in pure Python on the driver over the same generated graph
    (only for graphs up to --reference-max-edges edges), largest absolute difference per node.
"""

import operator
import random

from pyspark import StorageLevel

import jobcommon


def out_links(seed, n, k, i):
    rng = random.Random(seed * 1_000_003 + i)
    dsts = [(i + 1) % n]
    dsts.extend(rng.randrange(n) for _ in range(k - 1))
    return dsts


def reference_ranks(seed, n, k, iterations):
    links = [out_links(seed, n, k, i) for i in range(n)]
    ranks = [1.0] * n
    for _ in range(iterations):
        acc = [0.0] * n
        for i, dsts in enumerate(links):
            share = ranks[i] / len(dsts)
            for d in dsts:
                acc[d] += share
        ranks = [0.15 + 0.85 * a for a in acc]
    return ranks


def main():
    p = jobcommon.base_parser(__doc__)
    p.add_argument("--nodes", type=int, default=60000)
    p.add_argument("--edges-per-node", type=int, default=12)
    p.add_argument("--partitions", type=int, default=12)
    p.add_argument("--iterations", type=int, default=4)
    p.add_argument("--reference-max-edges", type=int, default=2_000_000)
    args = p.parse_args()
    spark = jobcommon.session(args)
    sc = spark.sparkContext
    seed, n, k, parts = args.seed, args.nodes, args.edges_per_node, args.partitions

    def gen(part):
        for i in range(part, n, parts):
            yield i, out_links(seed, n, k, i)

    jobcommon.event("job_start", job="build_links")
    links = (sc.parallelize(range(parts), parts).flatMap(gen)
             .partitionBy(parts).persist(StorageLevel.MEMORY_AND_DISK))
    edges = links.map(lambda kv: len(kv[1])).sum()
    jobcommon.event("job_end", job="build_links", nodes=links.count(), edges=edges)
    jobcommon.pause(args, "after build_links")

    jobcommon.event("job_start", job="pagerank")
    ranks = links.mapValues(lambda _: 1.0)
    for _ in range(args.iterations):
        contribs = links.join(ranks, parts).flatMap(
            lambda kv: [(d, kv[1][1] / len(kv[1][0])) for d in kv[1][0]])
        ranks = contribs.reduceByKey(operator.add, parts).mapValues(lambda r: 0.15 + 0.85 * r)
    ranks = ranks.persist(StorageLevel.MEMORY_AND_DISK)
    got = dict(ranks.collect())
    jobcommon.event("job_end", job="pagerank", ranked=len(got))
    jobcommon.pause(args, "after pagerank")

    jobcommon.event("job_start", job="summary")
    total = ranks.values().sum()
    top = ranks.takeOrdered(5, key=lambda kv: -kv[1])
    jobcommon.event("job_end", job="summary")
    result = {"nodes": n, "edges": edges, "rank_sum": total, "top": top}
    if n * k <= args.reference_max_edges:
        ref = reference_ranks(seed, n, k, args.iterations)
        result["reference_max_abs_diff"] = max(abs(got.get(i, float("nan")) - ref[i]) for i in range(n))
        result["reference_missing"] = sum(1 for i in range(n) if i not in got)
    jobcommon.event("result", job="pagerank", **result)
    jobcommon.finish(spark, args)


if __name__ == "__main__":
    main()
