"""The platform vendor's pages across cities: every city, opening a city, the installed plugins."""
