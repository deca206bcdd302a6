"""items-api: a small FastAPI service served by uvicorn, with no OpenTelemetry in sight."""
import logging

from catalog import describe  # from /app/lib, on the pod's own PYTHONPATH
from fastapi import FastAPI

app = FastAPI()
log = logging.getLogger("items_api")
log.setLevel(logging.INFO)


@app.get("/healthz")
async def healthz():
    return {"status": "ok"}


@app.get("/items/{item_id}")
async def read_item(item_id: str):
    log.info("looked up item %s", item_id)
    return {"item_id": item_id, "name": describe(item_id)}
