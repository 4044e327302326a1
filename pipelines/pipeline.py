"""The dlt pipeline that every command shares: name, destination and dataset."""

from __future__ import annotations

import argparse

import dlt
from dlt.common.pipeline import SupportsPipeline

PIPELINE_NAME = "sprout"
DEFAULT_DATASET = "sprout"
DEFAULT_DESTINATION = "duckdb"


def add_destination_arguments(parser: argparse.ArgumentParser) -> None:
    """Add ``--destination`` and ``--dataset``, which every warehouse command takes."""
    parser.add_argument(
        "--destination",
        default=DEFAULT_DESTINATION,
        help="any dlt destination (default: duckdb, the file sprout.duckdb)",
    )
    parser.add_argument(
        "--dataset", default=DEFAULT_DATASET, help="dataset (schema) name (default: sprout)"
    )


def make_pipeline(
    destination: str = DEFAULT_DESTINATION,
    dataset: str = DEFAULT_DATASET,
    pipelines_dir: str | None = None,
) -> SupportsPipeline:
    """The ``sprout`` pipeline for a destination and dataset.

    DuckDB writes ``sprout.duckdb`` in the working directory unless
    ``DESTINATION__DUCKDB__CREDENTIALS`` points elsewhere.
    """
    if pipelines_dir is None:
        return dlt.pipeline(
            pipeline_name=PIPELINE_NAME,
            destination=destination,
            dataset_name=dataset,
            progress="log",
        )
    return dlt.pipeline(
        pipeline_name=PIPELINE_NAME,
        destination=destination,
        dataset_name=dataset,
        pipelines_dir=pipelines_dir,
        progress="log",
    )
