"""Huey jobs of surveys: scheduling invitations from their triggers, sending the due ones,
expiring old links, catching missed low-score alerts."""
