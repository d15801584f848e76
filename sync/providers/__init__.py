"""Provider adapters, one per WhatsApp provider, behind one Protocol."""
