"""The generator's set-based writes: moved to dealercrm.core.bulk (imports use them too)."""

from dealercrm.core.bulk import (
    BulkWriter,
    IdAllocator,
    TableSpec,
    indexes_deferred,
    restore_indexes,
    to_db,
)

__all__ = ["BulkWriter", "IdAllocator", "TableSpec", "indexes_deferred", "restore_indexes", "to_db"]
