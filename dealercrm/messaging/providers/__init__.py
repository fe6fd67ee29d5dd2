"""Channel providers; see base.py for the interface. `provider_for` is filled in by registry.py."""
