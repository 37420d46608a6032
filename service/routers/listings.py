"""`/listings`: bulk upsert, fetch, delete (sold). Writes need the API key and are durable on return."""

from __future__ import annotations

import json
from typing import Annotated, Any

import anyio
from fastapi import APIRouter, HTTPException, Path, Request
from pydantic import ValidationError

from retrieval.catalogue import coerce_fields
from retrieval.types import Listing
from service._errors import _clean
from service.deps import PipelineDep, StateDep, WriteAccess
from service.schemas import DeleteResponse, ErrorResponse, ListingIn, UpsertResponse

router = APIRouter(prefix="/listings", tags=["listings"],
                   responses={404: {"model": ErrorResponse}, 422: {"model": ErrorResponse}})

UPSERT_CHUNK = 256  # listings per delta-log record: bounded memory per write, progress on a crash
# Routed as `{listing_id:path}`: an id may contain "/" (PUT takes any id), sent raw or as %2F.
ListingId = Annotated[str, Path(min_length=1, max_length=256)]
_Scalar = str | int | float | bool | None


def _metadata_value(value: Any) -> bool:
    if isinstance(value, list):
        return len(value) <= 100 and all(isinstance(v, _Scalar) for v in value)
    return isinstance(value, _Scalar)


def to_listing(item: ListingIn) -> Listing:
    data = item.model_dump(exclude_unset=False)
    extra = dict(item.model_extra or {})
    given = extra.pop("metadata", None)
    metadata = {**(given if isinstance(given, dict) else {}), **extra}
    bad = [k for k, v in metadata.items() if not _metadata_value(v)]
    if bad:
        raise ValueError(f"extra field {bad[0]!r} must be a string, number, boolean, null "
                         "or a flat list of them")
    return Listing(**{k: v for k, v in data.items() if k in Listing.model_fields}, metadata=metadata)


def parse_listings(body: bytes) -> list[Listing]:
    """A JSON array of listings, or JSON lines (one listing per line). Raises HTTPException."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as e:
        raise HTTPException(400, f"the body is not valid UTF-8 (byte {e.start})") from None
    stripped = text.strip()
    if not stripped:
        raise HTTPException(422, "no listings in the body: send a JSON array or JSON lines")
    try:
        if stripped.startswith("["):
            items = [(f"item {i}", x) for i, x in enumerate(json.loads(stripped))]
        else:
            items = [(f"line {n}", json.loads(line)) for n, line in enumerate(text.splitlines(), 1)
                     if line.strip()]
    except json.JSONDecodeError as e:
        raise HTTPException(422, f"the body is not a JSON array or JSON lines: {e.msg} "
                                 f"(line {e.lineno}, column {e.colno})") from None
    except RecursionError:
        raise HTTPException(422, "the body nests JSON too deeply") from None
    listings: dict[str, Listing] = {}  # the last line for an id wins
    errors: list[dict] = []
    for where, item in items:
        if not isinstance(item, dict):
            errors.append({"loc": [where], "msg": f"expected a JSON object, got {type(item).__name__}",
                           "type": "type_error"})
            continue
        try:
            listing = to_listing(ListingIn.model_validate(coerce_fields(item)))
        except ValidationError as e:
            errors.extend({**_clean(err), "loc": [where, *map(str, err["loc"])]} for err in e.errors())
            continue
        except ValueError as e:
            errors.append({"loc": [where], "msg": str(e), "type": "value_error"})
            continue
        listings[listing.id] = listing
    if not items:
        raise HTTPException(422, "no listings in the body: send a JSON array or JSON lines")
    if errors:
        first = errors[0]
        raise HTTPException(422, f"{len(errors)} invalid listing field(s); first: {' '.join(first['loc'])}: "
                                 f"{first['msg']}; nothing was written")
    return list(listings.values())


# ListingIn's schema inline: no route declares ListingIn itself, so a `$ref` to it would dangle
# (schemathesis then finds no usable body for this route).
_UPSERT_BODY = {
    "required": True,
    "content": {
        "application/json": {"schema": {"type": "array", "items": ListingIn.model_json_schema(), "minItems": 1}},
        "application/x-ndjson": {"schema": {"type": "string", "description": "one listing object per line"}},
    },
}


@router.put("", response_model=UpsertResponse, dependencies=[WriteAccess],
            responses={401: {"model": ErrorResponse}, 413: {"model": ErrorResponse}},
            openapi_extra={"requestBody": _UPSERT_BODY},
            summary="Bulk upsert: a JSON array or JSON lines; answered once every listing is durable")
async def upsert(request: Request, state: StateDep, pipeline: PipelineDep) -> UpsertResponse:
    listings = parse_listings(await request.body())
    index = pipeline.index

    def write() -> None:
        # The index swaps in a new state atomically, so searches need not wait while listings are
        # embedded; a search that started before sees the old version of a listing, never a gap.
        for i in range(0, len(listings), UPSERT_CHUNK):
            # A listing identical to the stored one is already durable: skip it (this also avoids
            # retrieval's Index.upsert failing on an unchanged re-upsert; see docs/service.md).
            changed = [x for x in listings[i:i + UPSERT_CHUNK] if index.get(x.id) != x]
            if changed:
                index.upsert(changed)
                state.cache.invalidate()

    # No timeout here: answering 504 while the write goes on would leave the client unsure.
    await anyio.to_thread.run_sync(write)
    state.metrics.writes.labels(op="upsert").inc(len(listings))
    return UpsertResponse(upserted=len(listings), ids=[x.id for x in listings],
                          index_size=int(state.index_size()))


@router.get("/{listing_id:path}", response_model=dict, summary="One indexed listing")
def get_listing(listing_id: ListingId, state: StateDep, pipeline: PipelineDep) -> dict:
    with state.lock.read():
        try:
            listing = pipeline.index.get(listing_id)
        except (KeyError, LookupError):
            listing = None
    if listing is None:
        raise HTTPException(404, f"no listing with id {listing_id!r}")
    return listing.model_dump(mode="json")


@router.delete("/{listing_id:path}", response_model=DeleteResponse, dependencies=[WriteAccess],
               responses={401: {"model": ErrorResponse}},
               summary="Remove a listing (sold); searches after the answer never return it")
def delete_listing(listing_id: ListingId, state: StateDep, pipeline: PipelineDep) -> DeleteResponse:
    with state.lock.write():
        removed = pipeline.index.delete([listing_id])
        if removed:
            state.cache.invalidate()
    if not removed:
        raise HTTPException(404, f"no listing with id {listing_id!r}")
    state.metrics.writes.labels(op="delete").inc(removed)
    return DeleteResponse(deleted=listing_id)
