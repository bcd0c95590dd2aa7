"""Dataset adapters: what writes a dataset into the landing zone, and its landing contract.

Platform code (`core/`, `components/`, `serving/`) never names a dataset; each adapter here
declares its `SourceSpec`s and writes `landing/<YYYY-MM-DD>/<source>.csv` files through the
shared `landing_writer`. Importing this package imports nothing heavy.
"""
