"""Data in and data quality: imports, duplicates and merges, the OEM's audit, exports."""

from .audit import AuditPolicy, DealerAuditScore, RebateBand
from .duplicates import DedupSettings, DuplicateCandidate, DuplicateStatus, MergeRecord
from .exports import ExportFormat, ExportJob, ExportKind, ExportStatus
from .imports import (
    ImportKind,
    ImportMapping,
    ImportOutcome,
    ImportRowIssue,
    ImportRun,
    ImportStatus,
)

__all__ = [
    "AuditPolicy",
    "DealerAuditScore",
    "DedupSettings",
    "DuplicateCandidate",
    "DuplicateStatus",
    "ExportFormat",
    "ExportJob",
    "ExportKind",
    "ExportStatus",
    "ImportKind",
    "ImportMapping",
    "ImportOutcome",
    "ImportRowIssue",
    "ImportRun",
    "ImportStatus",
    "MergeRecord",
    "RebateBand",
]
