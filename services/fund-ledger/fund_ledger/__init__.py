"""Fund ledger: double-entry books of the residents' medical insurance funds."""
