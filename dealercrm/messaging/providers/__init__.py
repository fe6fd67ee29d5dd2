"""Channel providers; see base.py for the interface and registry.py for which one a dealer uses.

from dealercrm.messaging.providers import provider_for
provider = provider_for(dealer_id, "sms")
results = provider.send(messages)
"""

from .registry import default_provider, provider_for, provider_for_config

__all__ = ["default_provider", "provider_for", "provider_for_config"]
