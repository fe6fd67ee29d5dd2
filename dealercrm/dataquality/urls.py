"""Data-quality pages (mounted at /data/): imports, duplicates and merges, the audit, exports."""

from django.urls import path

from .views import audit, duplicates, exports, imports, merges

app_name = "dataquality"
urlpatterns = [
    # Imports: upload (list page), map and start, watch, the result and its error report.
    path("imports/", imports.import_list, name="import_list"),
    path("imports/<int:run_id>/", imports.import_detail, name="import_detail"),
    path("imports/<int:run_id>/map/", imports.import_map, name="import_map"),
    path("imports/<int:run_id>/progress/", imports.import_progress, name="import_progress"),
    path("imports/<int:run_id>/resume/", imports.import_resume, name="import_resume"),
    # ?format=csv|xlsx
    path("imports/<int:run_id>/errors/", imports.import_errors, name="import_errors"),
    path("imports/<int:run_id>/rows/", imports.import_rows, name="import_rows"),
    # Duplicates: the review queue, a pair side by side, decisions, the dealer's policy.
    path("duplicates/", duplicates.duplicate_list, name="duplicate_list"),
    path("duplicates/scan/", duplicates.duplicate_scan, name="duplicate_scan"),
    path("duplicates/settings/", duplicates.dedup_settings, name="dedup_settings"),
    path("duplicates/<int:candidate_id>/", duplicates.duplicate_detail, name="duplicate_detail"),
    path(
        "duplicates/<int:candidate_id>/decide/",
        duplicates.duplicate_decide,
        name="duplicate_decide",
    ),
    # Merges: merge a pair (field by field), the merge history, undo within 30 days.
    path("duplicates/<int:candidate_id>/merge/", merges.duplicate_merge, name="duplicate_merge"),
    path("merges/", merges.merge_list, name="merge_list"),
    path("merges/<int:merge_id>/", merges.merge_detail, name="merge_detail"),
    path("merges/<int:merge_id>/undo/", merges.merge_undo, name="merge_undo"),
    # The data-quality audit: scores, failing records, the OEM's policy, the rebate table.
    path("quality/", audit.quality_dashboard, name="quality"),
    path("quality/failures/", audit.quality_failures, name="quality_failures"),
    path("quality/policy/", audit.audit_policy, name="audit_policy"),
    path("quality/run/", audit.audit_run, name="audit_run"),
    # ?format=csv|xlsx
    path("quality/rebates/", audit.rebate_export, name="rebate_export"),
    # Exports: my exports with progress, start one, download it.
    path("exports/", exports.export_list, name="export_list"),
    path("exports/new/", exports.export_create, name="export_create"),
    path("exports/<int:export_id>/", exports.export_detail, name="export_detail"),
    path("exports/<int:export_id>/download/", exports.export_download, name="export_download"),
]
