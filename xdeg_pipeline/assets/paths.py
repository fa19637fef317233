"""requested_paths: the chains asked for in the find_paths job's run config."""

import time

from dagster import AssetExecutionContext, Config, MaterializeResult, MetadataValue, asset
from pydantic import Field

from xdeg_pipeline.assets.common import CODE_VERSION, layout, md_table, path_meta
from xdeg_pipeline.core.atomic import write_parquet
from xdeg_pipeline.core.query import Collection, PathRequest, results_table
from xdeg_pipeline.resources import XdegResource


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


def example_pair(collection: Collection) -> tuple[str, str]:
    """A deterministic pair for a request with no pairs: two images far apart in name order."""
    names = collection.names
    return names[0], names[len(names) // 2]


@asset(
    deps=["similarity_graph"],
    group_name="paths",
    code_version=CODE_VERSION,
    kinds={"parquet", "png", "html"},
    description="Chains between the requested pairs: a table plus a PNG strip and an HTML page "
    "per chain (run the find_paths job with the pairs in its config).",
)
def requested_paths(
    context: AssetExecutionContext, config: FindPathsConfig, xdeg: XdegResource
) -> MaterializeResult:
    files = layout(xdeg)
    root = xdeg.images_path()
    t0 = time.perf_counter()
    collection = Collection(files.home, root)
    pairs = [(p.source, p.target) for p in config.pairs] or [example_pair(collection)]
    attribution = collection.attribution
    results, errors = [], []
    for source, target in pairs:
        request = PathRequest(
            source=source,
            target=target,
            mode=config.mode,
            steps=config.steps,
            alternatives=config.alternatives,
            avoid=tuple(config.avoid),
        )
        try:
            chains = collection.find(request)
        except (LookupError, ValueError) as exc:
            context.log.error(f"path {source!r} -> {target!r}: {exc}")
            errors.append({"source": source, "target": target, "error": str(exc)})
            continue
        for chain in chains:
            collection.render(chain, files.paths_dir, attribution=attribution)
            context.log.info(f"{' -> '.join(chain.path)} (largest step {chain.largest_step:.3f})")
        results.extend(chains)
    table = results_table(results)
    write_parquet(table, files.requested_paths)
    import pandas as pd

    errors_df = pd.DataFrame(errors, columns=["source", "target", "error"])
    write_parquet(errors_df, files.paths_dir / "failed_requests.parquet")
    metadata: dict = {
        "path": path_meta(files.requested_paths),
        "chains": len(results),
        "failed_requests": len(errors),
        "seconds": round(time.perf_counter() - t0, 3),
    }
    if len(table):
        metadata["chains_table"] = md_table(
            table[["chain_id", "source", "target", "mode", "hops", "largest_step"]]
        )
    if errors:
        metadata["errors"] = md_table(errors_df)
    from xdeg_pipeline.core.render import strip_markdown

    for result in results[:10]:
        metadata[f"strip_{result.chain_id}"] = MetadataValue.md(strip_markdown(result.png))
    return MaterializeResult(metadata=metadata)
