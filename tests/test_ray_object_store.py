"""The Ray dataset output with its inputs and its output in an object store: the moto S3 server and bucket of
`tests/test_object_store.py`, on the session's local Ray. A module of its own: Ray, once started in the test
process, stays there, and the tests of other modules that signal or fork workers must run before it."""

from __future__ import annotations

import json

import pytest

# The object-store tests' fixtures, for pytest to find here.
from tests.test_object_store import BUCKET, digits, endpoint, store  # noqa: F401
from toolkit.predict.options import PredictOptions
from toolkit.predict.runner import run


@pytest.mark.slow
def test_ray_workers_read_the_bucket_and_write_the_dataset_into_it(ray_session, tmp_path, request):
    """Inputs and output both in the store: the Ray workers read the objects and PUT the shards, each whole;
    the storage options, credentials included, travel with the run to every worker (the session's Ray workers
    started without them in their environment)."""
    from toolkit.predict import shards

    fs, address = request.getfixturevalue("store"), request.getfixturevalue("endpoint")
    storage = [f"endpoint_url={address}", "key=testing", "secret=testing"]
    options = PredictOptions(storage_options=storage, shard_size=4)
    summary = run([f"s3://{BUCKET}/batch/"], options, out=f"s3://{BUCKET}/results/", engine="ray")
    assert (summary.files, summary.ok, summary.exit_code) == (12, 12, 0)
    fs.invalidate_cache()
    done = json.loads(fs.cat_file(f"{BUCKET}/results/{shards.SUCCESS}"))
    records = [
        json.loads(line)
        for name in done["shards"]
        for line in fs.cat_file(f"{BUCKET}/results/{name}.jsonl").decode().splitlines()
    ]
    assert sorted(r["path"] for r in records) == sorted(
        fs.unstrip_protocol(p) for p in fs.glob(f"{BUCKET}/batch/**/*.png")
    )
    assert not fs.exists(f"{BUCKET}/results/{shards.TEMPORARY}")

    again = run([f"s3://{BUCKET}/batch/"], options, out=f"s3://{BUCKET}/results/", engine="ray", resume=True)
    assert (again.files, again.resumed_records) == (0, 12)
