"""Request and response models at the API edge (what /docs shows)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from preloved.settings import Settings
from qu.types import ATTRIBUTES
from retrieval.attributes import FILTER_NAMES as RETRIEVAL_FILTER_NAMES

Stages = Literal["bm25", "dense", "hybrid", "rerank"]
DEFAULT_STAGES = Settings.model_fields["default_stages"].default
# What retrieval can filter on; qu's `style` is not among them (no listing field): only a boost.
FILTER_NAMES: tuple[str, ...] = tuple(a for a in ATTRIBUTES if a in RETRIEVAL_FILTER_NAMES)
EXCLUDE_NAMES: tuple[str, ...] = (*ATTRIBUTES, "price")
MAX_K = 100

FilterText = Annotated[str, Field(min_length=1, max_length=100)]
FilterValue = FilterText | Annotated[list[FilterText], Field(min_length=1, max_length=20)] | float
QueryText = Annotated[str, Field(min_length=1, max_length=10_000, description="What to search for")]


def check_filter_names(filters: dict[str, Any]) -> dict[str, Any]:
    unknown = sorted(set(filters) - set(FILTER_NAMES))
    if unknown:
        names = ", ".join(map(repr, unknown))
        boosts = [n for n in unknown if n in ATTRIBUTES]
        note = f" ({', '.join(boosts)}: read from the query as a boost only, never a filter)" if boosts else ""
        raise ValueError(f"unknown filter {names}: choose from {', '.join(FILTER_NAMES)}{note}")
    for name in ("price_min", "price_max"):
        if name in filters and not isinstance(filters[name], int | float):
            raise ValueError(f"filter {name} takes a number, got {filters[name]!r}")
    return filters


def check_exclude_names(names: list[str]) -> list[str]:
    unknown = sorted(set(names) - set(EXCLUDE_NAMES))
    if unknown:
        given = ", ".join(map(repr, unknown))
        raise ValueError(f"cannot exclude {given}: choose from {', '.join(EXCLUDE_NAMES)}")
    return names


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SearchRequest(_Strict):
    query: QueryText
    k: int = Field(10, ge=1, le=MAX_K, strict=True, description="How many results, 1..100")
    offset: int = Field(0, ge=0, le=MAX_K - 1, strict=True,
                        description="How many results to skip first (the next page: offset + k); offset + k is "
                                    f"at most {MAX_K}")
    filters: dict[str, FilterValue] = Field(
        default_factory=dict, max_length=len(FILTER_NAMES),
        description="Explicit attribute filters; they override what was read from the query for the same "
                    f"attribute and add the others. Names: {', '.join(FILTER_NAMES)}.")
    exclude: list[str] = Field(
        default_factory=list, max_length=len(EXCLUDE_NAMES),
        description="Attributes read from the query to ignore (a removed chip on the demo page).")
    stages: Stages | None = Field(None, description="Stop after this stage; default: settings.default_stages "
                                                    f"({DEFAULT_STAGES}); rerank needs a loaded reranker")
    rerank_depth: int | None = Field(None, ge=1, le=1000, description="How many hits the reranker rescores")
    debug: bool = Field(False, description="Return per-stage scores and matched attributes per result")
    use_parsed: bool = Field(True, description="Use the attributes read from the query as filters and boosts")

    @field_validator("filters")
    @classmethod
    def _known_filters(cls, v: dict[str, Any]) -> dict[str, Any]:
        return check_filter_names(v)

    @field_validator("exclude")
    @classmethod
    def _known_excludes(cls, v: list[str]) -> list[str]:
        return check_exclude_names(v)

    @model_validator(mode="after")
    def _within_the_deepest_result(self) -> SearchRequest:
        if self.offset + self.k > MAX_K:
            raise ValueError(f"offset + k is {self.offset + self.k}: a search returns its first {MAX_K} results at "
                             f"most, so choose offset + k <= {MAX_K}")
        return self


class ParseRequest(_Strict):
    query: QueryText


class ListingIn(BaseModel):
    """One listing to index; keys beyond these are kept as metadata. A number given for a text field or the id
    is read as text (`"id": 77`, `"size": 10`), as the catalogue reader does."""

    model_config = ConfigDict(extra="allow", coerce_numbers_to_str=True)

    id: Annotated[str, Field(min_length=1, max_length=256)]
    title: Annotated[str, Field(min_length=1, max_length=2000)]
    brand: str | None = None
    category: str | None = None
    colour: str | None = None
    size: str | None = None
    gender: str | None = None
    condition: str | None = None
    price: float | None = Field(None, ge=0, allow_inf_nan=False)
    description: Annotated[str, Field(max_length=20_000)] | None = None


class RerankListingIn(ListingIn):
    """A listing given in full to `/rerank`: only scored, never stored, so a long title is accepted
    and truncated by the reranker (to its model's token limit) rather than refused."""

    title: Annotated[str, Field(min_length=1)]


class RerankRequest(_Strict):
    query: QueryText
    ids: list[Annotated[str, Field(min_length=1, max_length=256)]] | None = Field(
        None, max_length=200, description="Ids of indexed listings to score (empty: nothing to score)")
    listings: list[RerankListingIn] | None = Field(
        None, max_length=200, description="Listings to score, given in full (a repeated id keeps its first)")


class RerankedItem(BaseModel):
    id: str
    score: float | None
    title: str | None = None


class RerankResponse(BaseModel):
    query: str
    results: list[RerankedItem]
    timings_ms: dict[str, float]


class SearchResponse(BaseModel):
    query: str
    parsed: dict[str, Any] = Field(description="What query understanding read: attributes, spans with their "
                                               "source layer, residual text")
    results: list[dict[str, Any]] = Field(description="Listing fields, `id`, `score`; with debug, per-stage "
                                                      "`scores` and `matched`")
    timings_ms: dict[str, float]
    filters: dict[str, Any] = Field(description="The explicit filters of the request")
    excluded: list[str]
    applied_filters: dict[str, Any]
    relaxed_filters: list[str]
    facets: dict[str, dict[str, int]] = Field(description="Counts of attribute values among the results")
    stages: str
    k: int
    offset: int = Field(0, description="How many results were skipped before these")
    rerank_depth: int | None = Field(None, description="How many hits the reranker rescored (fewer than the "
                                                       "default while the server is busy); null: no rerank")
    cached: bool = Field(False, description="Served from the result cache (send `Cache-Control: no-cache` "
                                            "to bypass it); emptied by every write")
    request_id: str | None = None


class UpsertResponse(BaseModel):
    upserted: int
    ids: list[str]
    index_size: int | None = None


class DeleteResponse(BaseModel):
    deleted: str


class ErrorResponse(BaseModel):
    detail: str
    code: str
    request_id: str | None = None
    errors: list[dict[str, Any]] | None = None
