"""The answering-service domain: ledger, queue, routing, accounts. No Flask request state here."""
