"""Reads of complaints and surveys, one module per topic: complaints.py (lists, one complaint),
complaint_stats.py (the archive's figures), questionnaires.py, invitations.py,
survey_scores.py (the satisfaction dashboard)."""

from .complaints import (
    ComplaintFilters,
    complaint_page,
    get_complaint_for_user,
    visible_complaints,
)

__all__ = ["ComplaintFilters", "complaint_page", "get_complaint_for_user", "visible_complaints"]
