"""A city's administration: the city home, staff accounts, city settings, the audit log, the
hospital catalogue and its CSV/XLSX import.
"""
