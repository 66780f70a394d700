"""Read models: one per screen or report, composed from the ledger's one read model (core.ledger.read_model)."""
