"""Outside systems (CRMs, MIS webhooks, plan import): each turns a vendor's payloads
into the same statements the panel makes, through backend.services.recording."""
