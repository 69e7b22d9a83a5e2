"""A Ray cluster on this machine for the scale tests, in a process of its own: a head node without CPUs (so
all the work lands on worker nodes) and `--workers` worker nodes of one CPU each (`ray.cluster_utils.Cluster`).

    python tests/ray_cluster.py --workers 2

prints the cluster's address on its first line, then takes commands on stdin, one a line: `kill` removes the
first worker node at once, as a machine that dies (its raylet and workers are killed, not drained), and answers
`killed`; end of input shuts the cluster down."""

from __future__ import annotations

import argparse
import sys


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    from ray.cluster_utils import Cluster

    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 0, "include_dashboard": False})
    workers = [cluster.add_node(num_cpus=1) for _ in range(args.workers)]
    cluster.wait_for_nodes()
    print(cluster.address, flush=True)
    try:
        for line in sys.stdin:
            if line.strip() == "kill" and workers:
                cluster.remove_node(workers.pop(0), allow_graceful=False)
                print("killed", flush=True)
    finally:
        cluster.shutdown()


if __name__ == "__main__":
    main()
