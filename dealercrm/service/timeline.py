"""Service entries on the customer 360 timeline: appointments, repair orders, recall notices,
rescues. One query per provider (the 360 page's query count stays fixed)."""
