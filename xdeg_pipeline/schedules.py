"""A periodic refresh of the graph (cron from $XDEG_REFRESH_CRON, nightly by default)."""

import os

from dagster import DefaultScheduleStatus, RunRequest, ScheduleEvaluationContext, schedule

from xdeg_pipeline.jobs import build_job
from xdeg_pipeline.partitions import all_shards_tags


@schedule(
    name="refresh_schedule",
    job=build_job,
    cron_schedule=os.environ.get("XDEG_REFRESH_CRON", "0 3 * * *"),
    default_status=DefaultScheduleStatus.STOPPED,
    description="Rebuilds what changed, every shard in one run; unchanged stages reuse their "
    "outputs.",
)
def refresh_schedule(context: ScheduleEvaluationContext) -> RunRequest:
    return RunRequest(tags={"xdeg/source": "schedule", **all_shards_tags()})
