"""Shared catalogs: ICD-10, administrative units, facilities, persons."""
