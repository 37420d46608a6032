"""The demo catalogue builder (preloved.catalogue) on a few rows in the source's own format."""

from __future__ import annotations

from preloved.catalogue import iter_listings

HEADER = "id,gender,masterCategory,subCategory,articleType,baseColour,season,year,usage,productDisplayName\n"
ROWS = [
    "1,Men,Footwear,Shoes,Casual Shoes,Brown,Fall,2012,Casual,Rockport Men D2N Desert Boot Dark Brown Shoe",
    "2,Women,Footwear,Shoes,Flats,Black,Winter,2012,Casual,Carlton London Women Black Boots",
    "3,Men,Footwear,Shoes,Casual Shoes,White,Summer,2012,Casual,Nike Men White Casual Shoes",
    "4,Unisex,Footwear,Shoes,Shoe Accessories,Black,Fall,2012,Casual,Timberland Unisex Boot Lace Shoe Accessories",
    "5,Boys,Footwear,Shoes,Booties,White,Fall,2012,Casual,Madagascar 3 Infants Boys White Booties",
    "6,Women,Apparel,Bottomwear,Jeans,Blue,Fall,2012,Casual,Roadster Women Blue Bootcut Jeans",
    "7,Men,Footwear,Shoes,Casual Shoes,Brown,Fall,2012,Casual,Clarks Men Brown Leather Boat Shoes",
    "8,Women,Footwear,Shoes,Heels,Black,Fall,2012,Casual,Catwalk Women Moccasin Black Heels",
    # sandals are flats or heels too; the source's "slippers" are flip flops
    "9,Women,Footwear,Shoes,Flats,Brown,Summer,2012,Casual,Portia Women Copper-Toned & Brown Sandals",
    "10,Men,Footwear,Flip Flops,Flip Flops,Black,Summer,2012,Casual,Fila Men Cush Flex Black Slippers",
]


def test_footwear_filed_under_another_type_is_what_its_title_says(tmp_path):
    styles = tmp_path / "styles.csv"
    styles.write_text(HEADER + "\n".join(ROWS) + "\n")
    brands = tmp_path / "brands.csv"
    brands.write_text("brand_candidate\nRockport\nCarlton London\nNike\nTimberland\n")
    got = {x["id"]: x["category"] for x in iter_listings(styles, brands)}
    assert got == {"1": "boots", "2": "boots", "3": "trainers", "4": "shoes", "5": "boots", "6": "jeans",
                   "7": "flats", "8": "flats", "9": "flats", "10": "flip flops"}
