"""The intake gateway: HTTP API, drop folder and bulk ingest in front of the operational store.

Every input is archived unchanged (by sha256) before it is parsed; parsed records, their versions
and findings are stored in one transaction whose rows are the receipt sent back.
"""
