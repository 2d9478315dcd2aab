"""Parquet: columnar archives of events and evidence, read in batches, bad rows located.

Reading converts each row with ``msgspec.convert`` (Arrow timestamps arrive
as aware datetimes), so a row is validated exactly as a JSON line would be
and a bad one becomes a `Rejected` with its 1-based row number. Writing uses
fixed options (zstd, dictionary encoding, row groups of
`rempart.ingestion.arrow_schema.ARROW_BATCH` rows) and stores no time, so
the same table always gives the same bytes.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO, Final, TypeVar

import msgspec
import pyarrow as pa
import pyarrow.parquet as pq

from rempart.errors import InputError
from rempart.ingestion.arrow_schema import ARROW_BATCH, batch_to_records
from rempart.ingestion.rejected import Rejected
from rempart.progress import Progress, silent

__all__ = ["iter_parquet", "parquet_writer"]

_RecordT = TypeVar("_RecordT", bound=msgspec.Struct)

_COMPRESSION: Final = "zstd"


def iter_parquet(
    path: Path,
    record_type: type[_RecordT],
    rejected: list[Rejected],
    *,
    source: str,
    progress: Progress = silent,
) -> Iterator[_RecordT]:
    """Yield each valid row of a Parquet file; append each bad row to ``rejected``.

    ``progress`` hears the rows consumed of the file's row count (from its
    metadata) once per batch. A file that is not Parquet, or that breaks
    part-way, raises `rempart.errors.InputError` (records yielded before that
    stay valid).
    """
    try:
        with pq.ParquetFile(path) as parquet:
            total = parquet.metadata.num_rows
            progress(0, total)
            first_row = 1
            for batch in parquet.iter_batches(batch_size=ARROW_BATCH):
                yield from batch_to_records(
                    batch, record_type, rejected, source=source, first_row=first_row
                )
                first_row += batch.num_rows
                progress(first_row - 1, total)
    except (OSError, pa.ArrowException) as error:
        raise InputError(f"{source}: cannot read as Parquet: {error}") from error


def parquet_writer(output: BinaryIO, schema: pa.Schema) -> pq.ParquetWriter:
    """A Parquet writer with Rempart's fixed, byte-deterministic options."""
    return pq.ParquetWriter(
        output,
        schema,
        compression=_COMPRESSION,
        use_dictionary=True,
        write_statistics=True,
    )
