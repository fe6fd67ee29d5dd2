"""Writes of the sales pipeline, one module per topic (house style: `<entity>_<verb>`).

leads (create, update, stage moves, duplicates at intake), assignment (rules, reassignment,
the first-response sweep), activities (follow-ups), loss (the 战败 request and the manager's
decision), policy, dispatch (OEM), test_drives, quotes, orders (incl. delivery), funnel.
"""
