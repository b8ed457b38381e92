"""The formats khoyte reads and writes: QĐ 130/4750 and QĐ 4210 claim XML.

Pure functions: bytes in, records out. No database, no network.
"""
