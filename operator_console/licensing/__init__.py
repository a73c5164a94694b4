"""Licensing in the console: usage (the ledger), contracts, invoices and licences — the
vendor's pages over every city and a city operator's pages over its own."""
