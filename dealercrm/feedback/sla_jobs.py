"""Huey jobs of the complaint SLA: the sweep that warns before a breach and escalates after."""
