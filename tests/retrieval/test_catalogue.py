from __future__ import annotations

import json

import pytest

from retrieval import CatalogueError, read_catalogue


def write(tmp_path, lines):
    p = tmp_path / "cat.jsonl"
    p.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return p


def test_reads_fields_and_metadata(tiny_listings):
    assert len(tiny_listings) == 20
    first = tiny_listings[0]
    assert first.id == "1" and first.brand == "nike" and first.price == 10.0
    assert first.metadata == {"seller": "user0"}


def test_integer_ids_and_blank_lines(tmp_path):
    p = write(tmp_path, [json.dumps({"id": 7, "title": "Red dress"}), "", json.dumps({"id": "8", "title": "Hat"})])
    assert [x.id for x in read_catalogue(p)] == ["7", "8"]


def test_other_names_for_the_fields_are_read(tmp_path):
    """US spelling, marketplace exports and ESCI's own columns; our names win where both are given."""
    rows = [
        {"id": 1, "name": "Levi's 501 jeans", "color": "blue", "designer": "Levi's", "price": 25},
        {"id": 2, "product_title": "Kindle case", "product_brand": "Fintie", "product_color": "black",
         "product_text": "fits paperwhite"},
        {"id": 3, "title": "Red dress", "colour": "red", "color": "crimson"},
    ]
    a, b, c = read_catalogue(write(tmp_path, [json.dumps(r) for r in rows]))
    assert (a.title, a.colour, a.brand, a.price) == ("Levi's 501 jeans", "blue", "Levi's", 25.0)
    assert (b.title, b.brand, b.colour, b.description) == ("Kindle case", "Fintie", "black", "fits paperwhite")
    assert c.colour == "red" and c.metadata == {"color": "crimson"}


@pytest.mark.parametrize(
    ("lines", "line", "words"),
    [
        (['{"id": "1", "title": "a"}', '{"id": "2", "title": '], 2, "bad JSON"),
        (['{"id": "1", "title": "a"}', '{"title": "b"}'], 2, "missing 'id'"),
        (['{"id": "1", "title": "  "}'], 1, "no 'title'"),
        (
            ['{"id": "1", "title": "a"}', '{"id": "2", "title": "b"}', '{"id": "1", "title": "c"}'],
            3,
            "duplicate id '1' (first on line 1)",
        ),
        (["[1, 2]"], 1, "expected a JSON object"),
        (['{"id": "1", "title": "a", "price": "cheap"}'], 1, "'price' must be a number"),
    ],
)
def test_bad_lines_name_the_line(tmp_path, lines, line, words):
    p = write(tmp_path, lines)
    with pytest.raises(CatalogueError) as e:
        read_catalogue(p)
    assert e.value.line == line
    assert f"line {line}" in str(e.value) and words in str(e.value)


def test_missing_file(tmp_path):
    with pytest.raises(CatalogueError, match="no such file"):
        read_catalogue(tmp_path / "nope.jsonl")


def test_bytes_that_are_not_utf8_name_the_line(tmp_path):
    p = tmp_path / "cat.jsonl"
    p.write_bytes(b'{"id": "1", "title": "Caf\xc3\xa9 tee"}\n{"id": "2", "title": "Caf\xe9 tee"}\n')
    with pytest.raises(CatalogueError) as e:
        read_catalogue(p)
    assert e.value.line == 2
    assert str(e.value) == f"{p}, line 2: not valid UTF-8 (byte 0xe9 at column 26)"
    p.write_bytes(b'{"id": "1", "title": "Caf\xc3\xa9 tee"}\n')
    assert read_catalogue(p)[0].title == "Café tee"
