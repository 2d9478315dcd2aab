"""The scope's SQL runs unchanged on Spark (local mode) and finds exactly DuckDB's scope.

The Spark prelude below is the one docs/forensics.md gives for a cluster: the
only engine-specific SQL is reading the files and flattening the list columns.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from rempart.forensics import investigate
from rempart.forensics.queries import STATEMENTS
from rempart.ingestion.archive import EventArchive
from tests.system_tools import require_program

from .truth import compromised_accounts

pytestmark = pytest.mark.slow

SPARK_PRELUDE = (
    """CREATE OR REPLACE TEMPORARY VIEW read_persons AS
    SELECT event_id, subject AS person, 'read' AS via FROM events
    WHERE kind = 'record_view' AND outcome = 'success' AND subject IS NOT NULL
    UNION ALL
    SELECT event_id, person, 'search' AS via FROM events
    LATERAL VIEW explode(results) r AS person
    WHERE kind = 'search' AND outcome = 'success'""",
    """CREATE OR REPLACE TEMPORARY VIEW read_categories AS
    SELECT event_id, category FROM events LATERAL VIEW explode(categories) c AS category
    WHERE outcome = 'success' AND ((kind = 'record_view' AND subject IS NOT NULL)
                                   OR kind = 'search')""",
)


@pytest.fixture(scope="module")
def spark() -> Iterator[object]:
    """A local Spark session on one core, no UI, times in UTC."""
    require_program("java", "default-jre-headless")
    from pyspark.sql import SparkSession

    session = (
        SparkSession.builder.master("local[1]")
        .appName("rempart-forensics-test")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.shuffle.partitions", "4")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


@pytest.mark.parametrize("label", ["incident-2022", "search-harvest", "owner-pc-malware"])
def test_spark_scope_equals_duckdb_scope(
    spark: object, world: Path, archive: EventArchive, label: str
) -> None:
    """Spark, given the same files and the same statements, finds the same persons."""
    from pyspark.sql import SparkSession

    assert isinstance(spark, SparkSession)
    accounts = compromised_accounts(world, label)
    spark.read.parquet(str(archive.root)).drop("day").createOrReplaceTempView("events")
    spark.read.parquet(str(world / "evidence.parquet")).createOrReplaceTempView("evidence")
    spark.read.json(str(world / "world" / "accounts.jsonl")).createOrReplaceTempView("directory")
    spark.createDataFrame([(a,) for a in accounts], "account string").createOrReplaceTempView(
        "compromised"
    )
    for statement in (*SPARK_PRELUDE, *STATEMENTS):
        spark.sql(statement)
    on_spark = {row.person for row in spark.sql("SELECT person FROM scope").collect()}
    undetermined = {row.person for row in spark.sql("SELECT person FROM undetermined").collect()}
    duck = investigate(
        archive,
        evidence=world / "evidence.parquet",
        accounts_file=world / "world" / "accounts.jsonl",
        compromised=accounts,
    )
    assert on_spark == duck.scope_persons()
    assert undetermined == duck.undetermined_persons()
    assert on_spark or undetermined
