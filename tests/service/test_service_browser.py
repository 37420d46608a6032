"""The demo page end to end in headless Chromium (Debian's package, driven by Playwright).

Type a query, see the attribute chips and result cards, remove a chip, see the results change;
HTML in queries and listings shows as text. A screenshot is kept in test-artifacts/.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import httpx
import pytest
from svc_support import API_KEY, ARTIFACTS, LiveServer

from service import create_app

CHROMIUM = Path("/usr/bin/chromium")
pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="no /usr/bin/chromium: apt-get install chromium"),
]
# The machine's network is closed: without these Chromium keeps trying to reach Google.
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture
def page(tmp_path):
    sync_api = pytest.importorskip("playwright.sync_api", reason="pip install playwright")
    profile = tempfile.mkdtemp(prefix="chromium-profile-")
    with sync_api.sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            profile, executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS,
            viewport={"width": 1280, "height": 900})
        try:
            pg = context.new_page()
            pg.set_default_timeout(20_000)
            yield pg
        finally:
            context.close()
            shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture
def server(service_settings, strict_pipeline):
    with LiveServer(create_app(service_settings, strict_pipeline)) as s:
        yield s


def wait_for_search(pg, seq: int) -> None:
    pg.wait_for_selector(f"body[data-state='done'][data-seq='{seq}']")


def card_ids(pg) -> list[str]:
    return pg.eval_on_selector_all("#results li.card", "els => els.map(e => e.dataset.id)")


def test_search_chips_and_removing_a_chip(page, server):
    pg = page
    errors: list[str] = []
    pg.on("pageerror", lambda e: errors.append(str(e)))
    pg.goto(server.url + "/")
    pg.fill("#q", "black jackets")
    pg.press("#q", "Enter")
    wait_for_search(pg, 1)

    chips = pg.eval_on_selector_all("#chips .chip:not(.removed)", "els => els.map(e => e.dataset.attribute)")
    assert {"colour", "category"} <= set(chips)
    before = card_ids(pg)
    assert before, "results are shown"
    colours = pg.eval_on_selector_all("#results dd.colour", "els => els.map(e => e.textContent)")
    assert set(colours) == {"black"}
    assert pg.locator("#results li.card h3").first.text_content()
    assert pg.locator("#facets section[data-facet='brand'] button").count() >= 1
    stages = pg.eval_on_selector_all("#timings span", "els => els.map(e => e.dataset.stage)")
    assert {"qu", "retrieval", "total"} <= set(stages)
    assert "ranked by rerank (top 50)" in pg.text_content("#status")  # one search at a time: the full depth
    ARTIFACTS.mkdir(exist_ok=True)
    pg.screenshot(path=str(ARTIFACTS / "service-demo-search.png"), full_page=True)

    pg.click("#chips .chip[data-attribute='colour']:not(.removed) button")
    wait_for_search(pg, 2)
    after = card_ids(pg)
    assert after and after != before, (before, after)
    colours = pg.eval_on_selector_all("#results dd.colour", "els => els.map(e => e.textContent)")
    assert set(colours) - {"black"}, "other colours appear once the colour chip is gone"
    assert pg.locator("#chips .chip.removed[data-attribute='colour']").count() == 1
    assert pg.locator("#chips .chip[data-attribute='category']:not(.removed)").count() == 1
    pg.screenshot(path=str(ARTIFACTS / "service-demo-chip-removed.png"), full_page=True)

    # a facet adds an explicit filter chip; removing it widens the results again
    pg.click("#facets section[data-facet='brand'] button >> nth=0")
    wait_for_search(pg, 3)
    assert pg.locator("#chips .chip.user").count() == 1
    assert len(set(pg.eval_on_selector_all("#results dd.brand", "els => els.map(e => e.textContent)"))) == 1
    assert not errors, errors


def test_more_results_continue_the_list(page, server):
    pg = page
    pg.goto(server.url + "/?q=summer")  # no attribute read: every one of the 20 listings ranks
    wait_for_search(pg, 1)
    first = card_ids(pg)
    assert len(first) == 12 and pg.locator("#more").is_visible()
    facets = pg.inner_text("#facets")
    pg.click("#more")
    wait_for_search(pg, 2)
    ids = card_ids(pg)
    assert ids[:12] == first and len(ids) == 20 and len(set(ids)) == 20  # the next 8, after the first 12
    assert pg.locator("#more").is_hidden()  # fewer than a page came back: there is no more
    assert "20 results" in pg.text_content("#status") and pg.inner_text("#facets") == facets
    pg.fill("#q", "black jackets")  # a new search starts a new list
    pg.press("#q", "Enter")
    wait_for_search(pg, 3)
    assert len(card_ids(pg)) < 12 and pg.locator("#more").is_hidden()


def test_html_in_queries_and_listings_is_shown_as_text(page, server):
    pg = page
    title = "Gucci <img src=x onerror=\"window.__xss=1\"> Loafers <script>window.__xss=2</script>"
    r = httpx.put(server.url + "/listings", json=[{"id": "xss", "title": title, "brand": "<b>gucci</b>"}],
                  headers={"X-API-Key": API_KEY})
    assert r.status_code == 200, r.text
    pg.goto(server.url + "/")
    query = "gucci loafers <img src=x onerror=\"window.__xss=3\">"
    pg.fill("#q", query)
    pg.press("#q", "Enter")
    wait_for_search(pg, 1)
    assert pg.locator("#results li.card[data-id='xss'] h3").text_content() == title
    assert query in pg.text_content("#status")
    assert pg.evaluate("window.__xss") is None
    assert pg.locator("#results img, #results script, #status img").count() == 0


def test_errors_are_shown_not_thrown(page, server):
    pg = page
    pg.goto(server.url + "/?q=" + "x" * 600)
    pg.wait_for_selector("body[data-state='error']")
    assert "512" in pg.text_content("#status")


def test_the_page_says_which_filters_were_widened_and_which_dropped(page, server):
    """A colour no listing has widens to its family and still filters; one with no match in its
    family either is dropped and only ranks. The note under the chips tells the two apart."""
    pg = page
    pg.goto(server.url + "/?q=" + "navy jacket")  # the one blue jacket, no navy one
    wait_for_search(pg, 1)
    notes = pg.text_content("#notes")
    assert "Widened: colour to navy blue, blue" in notes and "Ranked, not filtered" not in notes, notes
    assert card_ids(pg) == ["19"]
    pg.fill("#q", "pink jeans")  # no pink jeans, nor any in pink's family
    pg.press("#q", "Enter")
    wait_for_search(pg, 2)
    notes = pg.text_content("#notes")
    assert "Ranked, not filtered, by: colour" in notes and "Widened" not in notes, notes


def test_the_page_says_what_a_misspelt_query_was_read_as(page, server):
    pg = page
    pg.goto(server.url + "/?q=" + "blackdress")
    wait_for_search(pg, 1)
    assert "Read as: black dress" in pg.text_content("#notes")
    assert pg.locator("#chips .chip[data-attribute='colour']").count() == 1
    pg.fill("#q", "black dress")
    pg.press("#q", "Enter")
    wait_for_search(pg, 2)
    assert "Read as" not in pg.text_content("#notes")


def test_a_colour_the_query_does_not_want_is_a_chip_and_is_excluded(page, server):
    pg = page
    pg.goto(server.url + "/?q=" + "jeans not black")
    wait_for_search(pg, 1)
    assert pg.locator("#chips .chip.negated[data-attribute='colour']").text_content().startswith("not colour: black")
    ids = card_ids(pg)
    assert ids and "5" not in ids  # Levi's black skinny jeans
    pg.click("#chips .chip.negated[data-attribute='colour'] button")
    wait_for_search(pg, 2)
    assert "5" in card_ids(pg)
