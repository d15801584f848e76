"""Where providers reach Caixa: the webhook receiver (solo and team) and, later, the sync API."""
