"""Public JSON API v1 routes (filled in by the API modules)."""


def api_routes() -> list:
    return []
