"""requested_paths: the chains asked for in the find_paths job's run config."""

from dagster import AssetExecutionContext, Config, MaterializeResult, asset
from pydantic import Field

from xdeg_pipeline.assets.common import CODE_VERSION, materialized, pick, plain_faults, reporter
from xdeg_pipeline.assets.metadata import chain_maps, provenance_table, strips
from xdeg_pipeline.core.stages import paths
from xdeg_pipeline.core.stages.paths import example_pair
from xdeg_pipeline.resources import XdegResource

__all__ = ["FindPathsConfig", "PairConfig", "example_pair", "requested_paths"]


class PairConfig(Config):
    """One pair of images, by relative name or unambiguous file-name stem."""

    source: str
    target: str


class FindPathsConfig(Config):
    """Run config of the find_paths job."""

    pairs: list[PairConfig] = Field(
        default_factory=list, description="Pairs to connect. Empty: one example pair."
    )
    mode: str = Field(default="smooth", description="smooth, shortest or steps.")
    steps: int | None = Field(default=None, description="Intermediate images (mode=steps).")
    alternatives: int = Field(default=1, description="Distinct chains per pair.")
    avoid: list[str] = Field(default_factory=list, description="Images no chain may pass.")
    via: list[str] = Field(
        default_factory=list,
        description="Images every chain passes, in this order (with steps: counted among them).",
    )
    where: list[str] = Field(
        default_factory=list,
        description="Filter conditions FIELD OP VALUE (e.g. date<1900, creator~klee; ops = != ~ "
        "< <= > >=): every image of a chain satisfies all of them; a pair with no chain inside "
        "the filter is listed in failed_requests.",
    )

    def options(self) -> dict:
        """The options of every request."""
        return {"mode": self.mode, "steps": self.steps, "alternatives": self.alternatives,
                "avoid": tuple(self.avoid), "via": tuple(self.via), "where": tuple(self.where)}


@asset(
    deps=["similarity_graph"],
    group_name="paths",
    code_version=CODE_VERSION,
    kinds={"parquet", "png", "html"},
    description="Chains between the requested pairs: a table plus a PNG strip and an HTML page "
    "per chain (run the find_paths job with the pairs in its config).",
)
@plain_faults
def requested_paths(
    context: AssetExecutionContext, config: FindPathsConfig, xdeg: XdegResource
) -> MaterializeResult:
    """Find and draw the chains of the pairs in the run config (none: one example pair)."""
    settings = xdeg.settings()
    pairs = [(p.source, p.target) for p in config.pairs]
    result = paths.requested_paths(settings, pairs, config.options(), reporter(context, settings))
    errors = result.facts["errors"]
    return materialized(
        result,
        path=settings.layout.requested_paths,
        **pick(result, "chains", "failed_requests", "earlier_chains_kept",
               "earlier_chains_changed", "chains_table"),
        errors=errors if len(errors) else None,
        provenance=provenance_table(result.facts["results"]),
        **strips(result.facts["ui_strips"]),
        **chain_maps(result.facts["maps"]),
    )
