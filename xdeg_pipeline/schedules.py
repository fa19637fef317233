"""A periodic refresh of the graph (cron from $XDEG_REFRESH_CRON, nightly by default)."""

import os

from dagster import DefaultScheduleStatus, ScheduleDefinition

from xdeg_pipeline.jobs import build_job

refresh_schedule = ScheduleDefinition(
    name="refresh_schedule",
    job=build_job,
    cron_schedule=os.environ.get("XDEG_REFRESH_CRON", "0 3 * * *"),
    default_status=DefaultScheduleStatus.STOPPED,
    description="Rebuilds what changed; unchanged stages reuse their outputs.",
)
