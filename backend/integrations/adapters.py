"""Every clinic system plantrack connects, by the name an integration's row gives it."""

from collections.abc import Mapping

from backend.integrations.amocrm import AmoCrm
from backend.integrations.base import Adapter
from backend.integrations.bitrix24 import Bitrix24
from backend.integrations.ident import Ident
from backend.integrations.mis_webhooks import MisWebhooks

ADAPTERS: Mapping[str, Adapter] = {
    adapter.system: adapter for adapter in (Bitrix24(), AmoCrm(), MisWebhooks(), Ident())
}
CRMS = tuple(system for system, adapter in ADAPTERS.items() if adapter.crm)
