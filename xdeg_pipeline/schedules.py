"""A periodic refresh of the graph (cron: the ``refresh_cron`` setting, nightly by default)."""

from dagster import DefaultScheduleStatus, RunRequest, ScheduleEvaluationContext, schedule

from xdeg_pipeline.core.settings import Settings
from xdeg_pipeline.jobs import build_job
from xdeg_pipeline.partitions import all_shards_tags


@schedule(
    name="refresh_schedule",
    job=build_job,
    cron_schedule=Settings.from_env().refresh_cron,
    default_status=DefaultScheduleStatus.STOPPED,
    description="Rebuilds what changed, every shard in one run; unchanged stages reuse their "
    "outputs.",
)
def refresh_schedule(context: ScheduleEvaluationContext) -> RunRequest:
    """One build over every shard."""
    return RunRequest(tags={"xdeg/source": "schedule", **all_shards_tags()})
