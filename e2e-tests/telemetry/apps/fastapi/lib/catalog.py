"""Found through the pod's own PYTHONPATH (/app/lib), which the policy must keep when it wraps it."""

ITEMS = {"42": "towel", "7": "lamp"}


def describe(item_id: str) -> str:
    return ITEMS.get(item_id, "unknown")
