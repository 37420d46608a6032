"""One router per resource: search (and parse, rerank), listings, health, the demo page."""
