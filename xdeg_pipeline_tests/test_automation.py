"""The sensor and schedule: their run requests launch a build over every shard that succeeds,
and a second evaluation with nothing changed requests nothing."""

from __future__ import annotations

from pathlib import Path

from dagster import (
    DagsterInstance,
    RunRequest,
    SkipReason,
    build_schedule_context,
    build_sensor_context,
)

from xdeg_pipeline.core.storage.state import read_state
from xdeg_pipeline.definitions import defs
from xdeg_pipeline.partitions import SHARD_KEYS
from xdeg_pipeline.resources import XdegResource
from xdeg_pipeline.schedules import refresh_schedule
from xdeg_pipeline.sensors import collection_sensor
from xdeg_pipeline_tests.helpers.collections import make_image


def _run(instance: DagsterInstance, tags: dict[str, str]):
    job = defs.resolve_job_def("build")
    return job.execute_in_process(instance=instance, tags=tags)


def test_sensor_request_builds_every_shard_then_skips(xdeg_env: dict[str, Path]) -> None:
    with DagsterInstance.get() as instance:
        ctx = build_sensor_context(instance=instance, resources={"xdeg": XdegResource()})
        request = collection_sensor(ctx)
        assert isinstance(request, RunRequest)
        result = _run(instance, request.tags)
        assert result.success
        state = read_state(xdeg_env["home"], "image_features")
        assert state["images"] == 24 and state["stale_shards"] == []
        # the UI's partition view: every shard of image_features is materialised
        materialized = instance.get_materialized_partitions(
            defs.resolve_assets_def("image_features").key
        )
        assert materialized == set(SHARD_KEYS)

        again = build_sensor_context(
            instance=instance, cursor=ctx.cursor, resources={"xdeg": XdegResource()}
        )
        assert isinstance(collection_sensor(again), SkipReason)
        make_image(xdeg_env["images"] / "new" / "added.png", seed=999)
        changed = build_sensor_context(
            instance=instance, cursor=ctx.cursor, resources={"xdeg": XdegResource()}
        )
        assert isinstance(collection_sensor(changed), RunRequest)


def test_schedule_run_covers_every_shard(xdeg_env: dict[str, Path]) -> None:
    with DagsterInstance.get() as instance:
        request = refresh_schedule(build_schedule_context(instance=instance))
        result = _run(instance, request.tags)
        assert result.success
        assert read_state(xdeg_env["home"], "image_features")["stale_shards"] == []


def test_declarative_automation_follows_upstream(xdeg_env: dict[str, Path]) -> None:
    """After a build, an update of raw_images makes the eager conditions request the assets
    downstream of it (and nothing is requested while nothing changes)."""
    from dagster import AssetKey, evaluate_automation_conditions, materialize

    from xdeg_pipeline.assets import BUILD_ASSETS

    with DagsterInstance.get() as instance:
        assert _run(instance, refresh_schedule(build_schedule_context(instance)).tags).success
        first = evaluate_automation_conditions(defs=defs, instance=instance)
        quiet = evaluate_automation_conditions(defs=defs, instance=instance, cursor=first.cursor)
        assert quiet.total_requested == 0
        make_image(xdeg_env["images"] / "new" / "added.png", seed=999)
        raw = [a for a in BUILD_ASSETS if a.key == AssetKey("raw_images")]
        assert materialize(raw, instance=instance, resources={"xdeg": XdegResource()}).success
        after = evaluate_automation_conditions(defs=defs, instance=instance, cursor=quiet.cursor)
        # every shard of image_features (the new image's shard is stale), nothing else yet:
        # the stages after it follow once it is materialised
        assert after.get_num_requested(AssetKey("image_features")) == 16
        assert after.get_num_requested(AssetKey("pca_features")) == 0


def test_sensor_notices_a_changed_url_manifest(tmp_path: Path, monkeypatch) -> None:
    manifest = tmp_path / "manifest.csv"
    manifest.write_text("url\nhttp://127.0.0.1:9/a.png\n")
    monkeypatch.setenv("XDEG_HOME", str(tmp_path / "home"))
    resource = XdegResource(manifest=str(manifest))
    with DagsterInstance.ephemeral() as instance:
        first = build_sensor_context(instance=instance, resources={"xdeg": resource})
        assert isinstance(collection_sensor(first), RunRequest)
        same = build_sensor_context(
            instance=instance, cursor=first.cursor, resources={"xdeg": resource}
        )
        assert isinstance(collection_sensor(same), SkipReason)
        manifest.write_text("url\nhttp://127.0.0.1:9/a.png\nhttp://127.0.0.1:9/b.png\n")
        grown = build_sensor_context(
            instance=instance, cursor=first.cursor, resources={"xdeg": resource}
        )
        assert isinstance(collection_sensor(grown), RunRequest)


def test_sensor_notices_a_changed_iiif_collection(tmp_path: Path, monkeypatch) -> None:
    from xdeg_pipeline_tests.helpers.iiif_server import IIIFServer

    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    monkeypatch.setenv("XDEG_HOME", str(tmp_path / "home"))
    with IIIFServer(tmp_path) as server, DagsterInstance.ephemeral() as instance:
        server.docs["c.json"] = {"id": server.doc_url("c.json"), "type": "Collection",
                                 "items": [{"id": server.doc_url("m1.json"), "type": "Manifest"}]}
        resource = XdegResource(iiif=server.doc_url("c.json"))
        first = build_sensor_context(instance=instance, resources={"xdeg": resource})
        request = collection_sensor(first)
        assert isinstance(request, RunRequest) and request.tags["xdeg/manifests"] == "1"
        same = build_sensor_context(
            instance=instance, cursor=first.cursor, resources={"xdeg": resource}
        )
        assert isinstance(collection_sensor(same), SkipReason)
        assert not any(p.startswith("/docs/m1") for p in server.hits)  # manifests: not read
        server.docs["c.json"]["items"].append({"id": server.doc_url("m2.json"),
                                               "type": "Manifest"})
        grown = build_sensor_context(
            instance=instance, cursor=first.cursor, resources={"xdeg": resource}
        )
        assert isinstance(collection_sensor(grown), RunRequest)
        gone = XdegResource(iiif=server.doc_url("nothing.json"))
        skipped = collection_sensor(build_sensor_context(instance=instance,
                                                         resources={"xdeg": gone}))
        assert isinstance(skipped, SkipReason) and "http_404" in str(skipped.skip_message)
