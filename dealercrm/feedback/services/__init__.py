"""Writes of complaints and surveys, one module per topic:

- intake.py: `complaint_open` (every channel, the OEM's hotline routing, surveys and care calls)
- sla.py: the two clocks' deadlines (wall clock or opening hours) and the sweep that warns and
  escalates
- handling.py: contact log, solution, root cause and actions, assignment, the closing follow-up
- questionnaires.py: the builder and its versions
- survey_links.py: the personal link's token
- invitations.py: triggers (delivery, repair order, complaint, ad-hoc lists), sending
- answering.py: recording a response (online or by phone), validated as a whole
- alerts.py: a low answer opens a complaint or a recovery task
- scores.py: the rollup the dashboard reads
"""

from .intake import complaint_open

__all__ = ["complaint_open"]
