from __future__ import annotations

import threading

import numpy as np
import pytest

from retrieval import CatalogueError, Index, Listing


def ids(r):
    return [h.id for h in r.hits]


def test_delete_is_invisible_to_the_next_query_and_durable(writable_index, embedder):
    idx = writable_index
    assert "1" in ids(idx.search("nike air max", k=5))
    assert idx.delete(["1", "nope"]) == 1
    for stage in ("bm25", "dense", "hybrid"):
        assert "1" not in ids(idx.search("nike air max", k=20, stage=stage))
    assert idx.get("1") is None and len(idx) == 19
    assert idx.delete(["1"]) == 0
    again = Index.load(idx.root, embedder=embedder)
    assert again.get("1") is None and len(again) == 19


def test_upsert_adds_and_updates_searchably_and_durably(writable_index, embedder):
    idx = writable_index
    new = Listing(id="21", title="Stone Island Men Khaki Overshirt", brand="stone island", size="l")
    assert idx.upsert([new]) == 1
    for stage in ("bm25", "dense", "hybrid"):
        assert ids(idx.search("stone island overshirt", k=3, stage=stage))[0] == "21"
    # update an on-disk listing: the old version disappears, the new one is found
    idx.upsert([{"id": "9", "title": "Zara Women Yellow Satin Slip Dress", "brand": "zara"}])
    assert idx.get("9").title.startswith("Zara Women Yellow")
    r = idx.search("red floral midi dress", k=20, stage="bm25")
    assert "9" not in ids(r) or "floral" not in idx.get("9").title.lower()
    assert ids(idx.search("yellow satin slip dress", k=1, stage="bm25")) == ["9"]
    assert len(idx) == 21
    again = Index.load(idx.root, embedder=embedder)
    assert len(again) == 21 and again.get("21") == new
    assert ids(again.search("yellow satin slip dress", k=1)) == ["9"]


def test_compaction_folds_changes_and_keeps_results(writable_index, embedder):
    idx = writable_index
    idx.upsert([Listing(id="21", title="Stone Island Men Khaki Overshirt")])
    idx.delete(["3"])
    before = ids(idx.search("overshirt trainers", k=10))
    idx.compact()
    assert idx.pending_changes == 0 and len(idx) == 20
    gens = sorted(p.name for p in idx.root.iterdir() if p.name.startswith("gen-"))
    assert gens == ["gen-000002"]
    assert set(ids(idx.search("overshirt trainers", k=10))) == set(before)
    again = Index.load(idx.root, embedder=embedder)
    assert again.get("3") is None and again.get("21") is not None


def test_background_compaction_keeps_writes_made_meanwhile(writable_index):
    idx = writable_index
    idx.delete(["2"])
    t = idx.compact(background=True)
    idx.upsert([Listing(id="22", title="Acne Studios Pink Scarf")])
    idx.wait_for_compaction(60)  # the documented way to wait for it
    assert not t.is_alive()
    assert idx.get("22") is not None and idx.get("2") is None
    assert ids(idx.search("acne pink scarf", k=1)) == ["22"]


def test_concurrent_search_with_writes(writable_index):
    """Searches in three threads while listings are added and deleted: none fails, none begun after a
    delete returned shows the deleted listing, and none begun after an upsert returned misses the
    new one (k is above the catalogue size, and dense search ranks every live listing, so a hybrid
    search returns them all)."""
    idx = writable_index
    lock = threading.Condition()
    deleted: set[str] = set()  # ids whose delete has returned
    live = {x.id for x in idx.listings()}  # ids whose upsert has returned and whose delete has not begun
    checked: dict[str, int] = {}  # per deleted id: searches begun after its delete returned
    errors: list[BaseException] = []
    stop = threading.Event()

    def reader():
        while not stop.is_set():
            with lock:
                gone, there = set(deleted), set(live)
            try:
                found = set(ids(idx.search("black jeans", k=50)))
            except Exception as e:  # noqa: BLE001 - collected and re-raised below
                errors.append(e)
                return
            with lock:
                if found & gone:
                    errors.append(AssertionError(f"found {sorted(found & gone)} after the delete returned"))
                missing = (there & live) - found  # still live when the search ended
                if missing:
                    errors.append(AssertionError(f"missed {sorted(missing)} after the upsert returned"))
                for i in gone:
                    checked[i] = checked.get(i, 0) + 1
                lock.notify_all()

    threads = [threading.Thread(target=reader) for _ in range(3)]
    for t in threads:
        t.start()
    try:
        for i in range(10):
            idx.upsert([Listing(id=f"n{i}", title=f"Black jeans number {i}")])
            gone = f"n{i - 1}" if i else "5"
            with lock:
                live.add(f"n{i}")
                live.discard(gone)
            assert idx.delete([gone]) == 1
            with lock:
                deleted.add(gone)
                # a search begun after this delete must have run before the next write
                assert lock.wait_for(lambda g=gone: checked.get(g, 0) >= 1 or bool(errors), timeout=60)
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert not errors, errors[:3]
    assert all(checked[i] >= 1 for i in deleted) and len(deleted) == 10
    assert len(idx) == 20  # 20 - "5" + n9
    assert "5" not in ids(idx.search("black skinny jeans", k=20))


def test_rebuild_reuses_cached_embeddings(tmp_path, embedder, tiny_listings):
    out = tmp_path / "i"
    Index.build(tiny_listings, out, embedder=embedder, show_progress=False)
    changed = [*tiny_listings[:-1], tiny_listings[-1].model_copy(update={"title": "Burberry Beige Trench"})]
    idx = Index.build(changed, out, embedder=embedder, show_progress=False)
    assert idx.last_build == {"listings": 20, "embedded": 1}
    assert ids(idx.search("burberry trench", k=1)) == ["20"]


def test_failed_build_leaves_previous_index_usable(tmp_path, embedder, tiny_listings, monkeypatch):
    out = tmp_path / "i"
    Index.build(tiny_listings[:5], out, embedder=embedder, show_progress=False)
    import retrieval.index as mod

    def boom(*a, **k):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(mod.AttributeColumns, "build", boom)
    with pytest.raises(RuntimeError):
        Index.build(tiny_listings, out, embedder=embedder, show_progress=False)
    monkeypatch.undo()
    idx = Index.load(out, embedder=embedder)
    assert len(idx) == 5
    assert not [p for p in out.iterdir() if p.name.startswith(".")]
    with pytest.raises(CatalogueError, match="duplicate id '1'"):
        Index.build([tiny_listings[0], tiny_listings[0]], tmp_path / "j", embedder=embedder)
    assert not (tmp_path / "j").exists()


def test_torn_log_tail_is_dropped(writable_index, embedder):
    idx = writable_index
    idx.upsert([Listing(id="21", title="Stone Island Overshirt")])
    log = idx.root / idx.manifest["generation"] / "delta.log"
    with open(log, "ab") as f:
        f.write(b'{"op": "delete", "ids": ["1"')  # a crash mid-append
    again = Index.load(idx.root, embedder=embedder)
    assert again.get("21") is not None and again.get("1") is not None
    assert np.isclose(len(again), 21)


def test_upserting_an_unchanged_delta_listing_again(tmp_path, embedder):
    """Found by the API fuzz run: re-upserting a listing identical to one already in the delta."""
    from retrieval import Index, Listing

    ix = Index.build([Listing(id="z", title="zz top tee")], tmp_path / "i", embedder=embedder, show_progress=False)
    ix.upsert([Listing(id="a", title="red dress")])
    ix.upsert([Listing(id="b", title="blue jeans")])
    ix.upsert([Listing(id="a", title="red dress")])
    assert len(ix) == 3
    assert ix.search("red dress", k=1, stage="bm25").hits[0].id == "a"


def test_a_crashed_write_does_not_block_the_next(writable_index, embedder, tiny_listings, tmp_path):
    """A process killed mid-compaction or mid-build leaves its temporary folder behind (the cleanup
    never ran): the index still loads, and the next compaction or build writes over it."""
    idx = writable_index
    root = idx.root
    stale = root / ".gen-000002.tmp"  # the folder the next compaction writes into
    stale.mkdir()
    (stale / "ids.json").write_text('["half', encoding="utf-8")
    again = Index.load(root, embedder=embedder)
    assert len(again) == 20 and ids(again.search("nike air max", k=1)) == ["1"]
    idx.upsert([Listing(id="21", title="Stone Island Men Khaki Overshirt")])
    idx.delete(["3"])
    idx.compact()
    assert idx.manifest["generation"] == "gen-000002"
    assert sorted(p.name for p in root.iterdir() if "gen-" in p.name) == ["gen-000002"]
    assert ids(idx.search("stone island overshirt", k=1)) == ["21"]
    again = Index.load(root, embedder=embedder)
    assert len(again) == 20 and again.get("3") is None and again.get("21") is not None
    # a rebuild (Index.build over an existing index) meets the same leftover
    (root / ".gen-000003.tmp").mkdir()
    rebuilt = Index.build(tiny_listings, root, embedder=embedder, show_progress=False)
    assert rebuilt.manifest["generation"] == "gen-000003" and len(rebuilt) == 20
    assert not [p for p in root.iterdir() if p.name.startswith(".")]
    # a first build killed before its rename leaves a hidden sibling of the index folder
    left = tmp_path / ".fresh.tmp-0badf00d" / "gen-000001"
    left.mkdir(parents=True)
    fresh = Index.build(tiny_listings[:3], tmp_path / "fresh", embedder=embedder, show_progress=False)
    assert len(fresh) == 3
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".fresh.tmp-")]


def test_replaying_a_long_log_builds_the_delta_once(writable_index, embedder, monkeypatch):
    """300 single-listing upserts and 100 deletes, then a reload: the replay builds the delta segment
    once (not once per record), and the reloaded index answers exactly as before the reload."""
    import retrieval.index as mod

    idx = writable_index
    colours = ("black", "red", "blue", "green", "white")
    kinds = ("jeans", "dress", "trainers", "jacket", "hoodie", "scarf")
    for i in range(300):
        c, kind = colours[i % len(colours)], kinds[i % len(kinds)]
        idx.upsert([Listing(id=f"r{i}", title=f"{c.title()} {kind} lot {i}", colour=c, size=("s", "m", "l")[i % 3])])
        if i % 3 == 2:  # delete ten listings of the main segment, then earlier new ones
            j = i // 3
            assert idx.delete([str(1 + j) if j < 10 else f"r{i - 2}"]) == 1
    idx.upsert([Listing(id="4", title="Levi's Men Blue 501 Jeans Dark Wash", brand="levi's")])  # deleted, back
    assert idx._log.records == 401
    queries = [
        ("black jeans", {}),
        ("red dress lot 7", {}),
        ("levis 501", {}),
        ("hoodie", {"colour": "green"}),
        ("trainers", {"size": "m"}),
    ]
    before = {
        (q, stage): [(h.id, h.score) for h in idx.search(q, k=30, stage=stage, filters=f or None).hits]
        for q, f in queries
        for stage in ("bm25", "dense", "hybrid")
    }
    builds = []
    real = mod._delta_segment
    monkeypatch.setattr(mod, "_delta_segment", lambda *a, **k: builds.append(1) or real(*a, **k))
    again = Index.load(idx.root, embedder=embedder)
    assert len(builds) == 1
    assert len(again) == len(idx) == 20 - 10 + 300 - 90 + 1
    assert [x.id for x in again.listings()] == [x.id for x in idx.listings()]
    assert again.get("4").title == "Levi's Men Blue 501 Jeans Dark Wash" and again.get("r30") is None
    after = {
        (q, stage): [(h.id, h.score) for h in again.search(q, k=30, stage=stage, filters=f or None).hits]
        for q, f in queries
        for stage in ("bm25", "dense", "hybrid")
    }
    assert after == before
