"""The product taxonomy the catalog generator draws from: WebShop's five categories and their product types.

WebShop's products were scraped from Amazon under five categories (beauty, food, fashion, furniture,
electronics) with 313 search queries; each product keeps the query that found it and Amazon's category path
(``product_category``, segments joined by " › "). This module is plain data in that shape: for every product
type, its title noun, the queries that find it, its category path, its attribute pool (WebShop's attributes
are short phrases such as "gluten free" or "machine washable"), its option groups (name -> value pool) and
its price range. ``turngym.envs.web.shop.catalog`` turns it into products and goals.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class OptionSpec:
    """One option group of a product type.

    Attributes:
        name: The option name as WebShop shows it (lowercase: ``size``, ``color``, ``flavor name``).
        values: The pool of values; a product offers a contiguous-looking random subset.
        min_count: Fewest values a product offers.
        max_count: Most values a product offers.
    """

    name: str
    values: tuple[str, ...]
    min_count: int = 2
    max_count: int = 5


@dataclass(frozen=True)
class ProductType:
    """One kind of product (WebShop's unit of a search query).

    Attributes:
        category: WebShop's top-level category (``beauty``, ``food``, ``fashion``, ``furniture``, ``electronics``).
        noun: The title noun phrase (``Running Shoes``).
        queries: Searches that find it (a product keeps one, as WebShop's ``query`` field).
        path: The category path segments (``product_category`` joins them with " › ").
        attributes: Attribute phrases a product of this type may have.
        options: Option groups.
        price: (low, high) price range in dollars.
        adjectives: Title words placed before the noun.
    """

    category: str
    noun: str
    queries: tuple[str, ...]
    path: tuple[str, ...]
    attributes: tuple[str, ...]
    options: tuple[OptionSpec, ...]
    price: tuple[float, float]
    adjectives: tuple[str, ...]


_SIZES = ("x-small", "small", "medium", "large", "x-large", "xx-large", "3x-large")
_COLORS = (
    "black",
    "white",
    "navy blue",
    "grey",
    "red",
    "light blue",
    "beige",
    "olive green",
    "burgundy",
    "pink",
    "brown",
    "khaki",
    "charcoal",
    "teal",
    "purple",
    "mustard yellow",
)
_SHOE_SIZES = ("6", "6.5", "7", "7.5", "8", "8.5", "9", "9.5", "10", "10.5", "11", "12", "13")
_PACKS = ("pack of 1", "pack of 2", "pack of 3", "pack of 4", "pack of 6", "pack of 12", "pack of 24")
_FLAVORS = (
    "sea salt",
    "original",
    "honey roasted",
    "dark chocolate",
    "vanilla",
    "strawberry",
    "cinnamon",
    "peanut butter",
    "lemon",
    "barbecue",
    "sour cream and onion",
    "mixed berry",
    "caramel",
    "mint",
)
_SCENTS = ("lavender", "unscented", "coconut", "eucalyptus", "rose", "citrus", "sandalwood", "green tea")
_VOLUMES = ("1 fl oz", "2 fl oz", "3.4 fl oz", "8 fl oz", "16 fl oz", "32 fl oz")
_WEIGHTS = ("4 ounce", "8 ounce", "12 ounce", "16 ounce", "1 pound", "2 pound", "5 pound")
_FINISHES = ("natural wood", "espresso", "walnut", "white oak", "matte black", "grey wash", "cherry")
_BED_SIZES = ("twin", "full", "queen", "king", "california king")
_CAPACITY = ("32gb", "64gb", "128gb", "256gb", "512gb", "1tb")
_LENGTHS = ("3 ft", "6 ft", "10 ft", "15 ft", "25 ft")
_WATCH_SIZES = ("38mm", "40mm", "41mm", "42mm", "44mm", "45mm")

_CLOTHING_ATTRS = (
    "machine washable",
    "quick drying",
    "moisture wicking",
    "long sleeve",
    "short sleeve",
    "relaxed fit",
    "slim fit",
    "button closure",
    "elastic waist",
    "cotton spandex",
    "polyester",
    "hand wash",
    "tumble dry",
    "classic fit",
)
_SHOE_ATTRS = (
    "non slip",
    "rubber sole",
    "arch support",
    "memory foam",
    "lace up",
    "breathable mesh",
    "lightweight",
    "slip on",
    "wide width",
    "water resistant",
    "ankle strap",
    "round toe",
)
_FOOD_ATTRS = (
    "gluten free",
    "non gmo",
    "low sugar",
    "low carb",
    "high protein",
    "keto friendly",
    "sugar free",
    "plant based",
    "dairy free",
    "kosher certified",
    "usda organic",
    "individually wrapped",
    "natural ingredients",
    "low calorie",
)
_BEAUTY_ATTRS = (
    "paraben free",
    "cruelty free",
    "sulfate free",
    "natural ingredients",
    "long lasting",
    "dermatologist tested",
    "fragrance free",
    "alcohol free",
    "travel size",
    "easy to use",
    "sensitive skin",
    "dry skin",
    "vegan",
    "tea tree",
    "hyaluronic acid",
)
_FURNITURE_ATTRS = (
    "easy assembly",
    "solid wood",
    "space saving",
    "storage space",
    "living room",
    "bedroom",
    "mid century",
    "engineered wood",
    "metal frame",
    "easy clean",
    "high density foam",
    "assembly required",
    "heavy duty",
)
_ELECTRONICS_ATTRS = (
    "high definition",
    "fast charging",
    "noise cancelling",
    "easy install",
    "plug and play",
    "usb port",
    "long battery life",
    "bluetooth",
    "dual band",
    "wall mount",
    "high speed",
    "aluminum alloy",
    "water resistant",
    "easy carry",
)

_B = "Beauty & Personal Care"
_G = "Grocery & Gourmet Food"
_C = "Clothing, Shoes & Jewelry"
_H = "Home & Kitchen"
_E = "Electronics"


def _t(
    category: str,
    noun: str,
    queries: tuple[str, ...],
    path: tuple[str, ...],
    attributes: tuple[str, ...],
    options: tuple[OptionSpec, ...],
    price: tuple[float, float],
    adjectives: tuple[str, ...],
) -> ProductType:
    return ProductType(category, noun, queries, path, attributes, options, price, adjectives)


#: Every product type of the generated catalog (the catalog draws a type per product, uniformly).
PRODUCT_TYPES: tuple[ProductType, ...] = (
    # ---------------------------------------------------------------- beauty
    _t(
        "beauty",
        "Shampoo",
        ("shampoo", "shampoo for dry hair"),
        (_B, "Hair Care", "Shampoo & Conditioner", "Shampoos"),
        _BEAUTY_ATTRS + ("argan oil", "color safe", "hair growth"),
        (OptionSpec("size", _VOLUMES), OptionSpec("scent", _SCENTS, 1, 4)),
        (6, 45),
        ("Moisturizing", "Clarifying", "Volumizing", "Repairing", "Daily"),
    ),
    _t(
        "beauty",
        "Face Moisturizer",
        ("face moisturizer", "moisturizer for sensitive skin"),
        (_B, "Skin Care", "Face", "Creams & Moisturizers"),
        _BEAUTY_ATTRS + ("anti aging", "spf 30"),
        (OptionSpec("size", _VOLUMES, 1, 3),),
        (9, 70),
        ("Hydrating", "Lightweight", "Overnight", "Daily", "Firming"),
    ),
    _t(
        "beauty",
        "Lipstick",
        ("lipstick", "matte lipstick"),
        (_B, "Makeup", "Lips", "Lipstick"),
        _BEAUTY_ATTRS + ("highly pigmented", "matte finish"),
        (OptionSpec("color", ("ruby red", "nude", "berry", "coral", "mauve", "plum", "rose pink", "brick")),),
        (5, 35),
        ("Matte", "Velvet", "Creamy", "Satin", "Liquid"),
    ),
    _t(
        "beauty",
        "Hair Extensions",
        ("hair extensions", "clip in hair extensions"),
        (_B, "Hair Care", "Hair Extensions, Wigs & Accessories", "Extensions"),
        (
            "natural looking",
            "high quality",
            "easy to use",
            "long lasting",
            "heat resistant",
            "human hair",
            "synthetic hair",
        ),
        (
            OptionSpec("color", ("natural black", "dark brown", "light brown", "ash blonde", "honey blonde", "auburn")),
            OptionSpec("size", ("14 inch", "16 inch", "18 inch", "20 inch", "22 inch", "24 inch")),
        ),
        (15, 120),
        ("Clip In", "Straight", "Wavy", "Curly", "Seamless"),
    ),
    _t(
        "beauty",
        "Body Wash",
        ("body wash", "natural body wash"),
        (_B, "Skin Care", "Body", "Cleansers", "Body Washes"),
        _BEAUTY_ATTRS + ("essential oils",),
        (OptionSpec("scent", _SCENTS), OptionSpec("size", _PACKS[:5], 1, 3)),
        (5, 30),
        ("Refreshing", "Exfoliating", "Gentle", "Hydrating", "Foaming"),
    ),
    _t(
        "beauty",
        "Nail Polish",
        ("nail polish", "gel nail polish"),
        (_B, "Foot, Hand & Nail Care", "Nail Art & Polish", "Nail Polish"),
        _BEAUTY_ATTRS + ("quick drying", "high gloss", "non toxic"),
        (OptionSpec("color", ("cherry red", "baby pink", "navy", "lilac", "gold glitter", "black", "nude")),),
        (4, 25),
        ("Gel", "Glossy", "Chip Resistant", "Shimmer", "Classic"),
    ),
    _t(
        "beauty",
        "Electric Toothbrush",
        ("electric toothbrush",),
        (_B, "Oral Care", "Toothbrushes & Accessories", "Electric Toothbrushes"),
        (
            "rechargeable",
            "long battery life",
            "easy to use",
            "travel case",
            "sensitive teeth",
            "smart timer",
            "waterproof",
        ),
        (OptionSpec("color", ("white", "black", "pink", "blue", "mint green")),),
        (20, 150),
        ("Sonic", "Rechargeable", "Whitening", "Smart"),
    ),
    # ---------------------------------------------------------------- food
    _t(
        "food",
        "Dark Chocolate Bar",
        ("dark chocolate", "chocolate bars"),
        (_G, "Snacks & Sweets", "Chocolate", "Chocolate Bars"),
        _FOOD_ATTRS + ("fair trade",),
        (OptionSpec("flavor name", _FLAVORS), OptionSpec("size", _PACKS)),
        (4, 45),
        ("Organic", "Artisan", "Single Origin", "Premium", "Smooth"),
    ),
    _t(
        "food",
        "Protein Bars",
        ("protein bars", "keto protein bars"),
        (_G, "Snacks & Sweets", "Bars", "Protein Bars"),
        _FOOD_ATTRS,
        (OptionSpec("flavor name", _FLAVORS), OptionSpec("size", _PACKS[2:])),
        (10, 60),
        ("Chewy", "Crunchy", "Whole Food", "Meal Replacement", "Low Sugar"),
    ),
    _t(
        "food",
        "Ground Coffee",
        ("ground coffee", "organic coffee"),
        (_G, "Beverages", "Coffee, Tea & Cocoa", "Coffee", "Ground Coffee"),
        _FOOD_ATTRS + ("medium roast", "dark roast", "fair trade"),
        (
            OptionSpec(
                "flavor name", ("french roast", "colombian", "hazelnut", "breakfast blend", "decaf", "espresso")
            ),
            OptionSpec("size", _WEIGHTS),
        ),
        (7, 50),
        ("Bold", "Smooth", "Rich", "Arabica", "Small Batch"),
    ),
    _t(
        "food",
        "Green Tea",
        ("green tea", "herbal tea bags"),
        (_G, "Beverages", "Coffee, Tea & Cocoa", "Tea", "Green Tea"),
        _FOOD_ATTRS + ("caffeine free",),
        (
            OptionSpec("flavor name", ("jasmine", "matcha", "peppermint", "lemon ginger", "honey", "original")),
            OptionSpec("size", _PACKS[:5]),
        ),
        (4, 35),
        ("Loose Leaf", "Organic", "Japanese", "Antioxidant", "Calming"),
    ),
    _t(
        "food",
        "Potato Chips",
        ("potato chips", "kettle chips"),
        (_G, "Snacks & Sweets", "Chips & Crisps", "Potato Chips"),
        _FOOD_ATTRS + ("baked", "kettle cooked"),
        (OptionSpec("flavor name", _FLAVORS), OptionSpec("size", _PACKS)),
        (3, 40),
        ("Kettle Cooked", "Crunchy", "Thin", "Ridged", "Baked"),
    ),
    _t(
        "food",
        "Almond Flour",
        ("almond flour", "gluten free flour"),
        (_G, "Pantry Staples", "Cooking & Baking", "Flours & Meals", "Almond Flour"),
        _FOOD_ATTRS + ("blanched", "finely ground"),
        (OptionSpec("size", _WEIGHTS),),
        (6, 40),
        ("Blanched", "Super Fine", "Organic", "Paleo", "Baking"),
    ),
    _t(
        "food",
        "Beef Jerky",
        ("beef jerky", "high protein jerky"),
        (_G, "Snacks & Sweets", "Jerky & Dried Meats", "Beef Jerky"),
        _FOOD_ATTRS + ("grass fed", "ready to eat"),
        (
            OptionSpec("flavor name", ("teriyaki", "original", "peppered", "sweet and spicy", "barbecue", "smoky")),
            OptionSpec("size", _WEIGHTS[:5]),
        ),
        (7, 55),
        ("Tender", "Smoked", "Grass Fed", "Thick Cut", "Craft"),
    ),
    _t(
        "food",
        "Olive Oil",
        ("olive oil", "extra virgin olive oil"),
        (_G, "Pantry Staples", "Cooking & Baking", "Oils", "Olive Oil"),
        _FOOD_ATTRS + ("cold pressed", "first cold press"),
        (OptionSpec("size", ("250 ml", "500 ml", "750 ml", "1 liter", "3 liter")),),
        (8, 60),
        ("Extra Virgin", "Cold Pressed", "Italian", "Greek", "Unfiltered"),
    ),
    _t(
        "food",
        "Gummy Candy",
        ("gummy candy", "sugar free gummies"),
        (_G, "Snacks & Sweets", "Candy & Chocolate", "Gummy Candy"),
        _FOOD_ATTRS + ("fruit flavored",),
        (
            OptionSpec("flavor name", ("mixed fruit", "sour", "strawberry", "cherry", "peach", "watermelon")),
            OptionSpec("size", _PACKS),
        ),
        (3, 30),
        ("Chewy", "Sour", "Fruity", "Vegan", "Party"),
    ),
    # ---------------------------------------------------------------- fashion
    _t(
        "fashion",
        "Running Shoes",
        ("running shoes", "men's running shoes"),
        (_C, "Men", "Shoes", "Athletic", "Running"),
        _SHOE_ATTRS,
        (OptionSpec("color", _COLORS, 2, 6), OptionSpec("size", _SHOE_SIZES, 3, 8)),
        (25, 140),
        ("Lightweight", "Breathable", "Cushioned", "Trail", "Road"),
    ),
    _t(
        "fashion",
        "Women's Sneakers",
        ("women's sneakers", "walking shoes for women"),
        (_C, "Women", "Shoes", "Fashion Sneakers"),
        _SHOE_ATTRS,
        (OptionSpec("color", _COLORS, 2, 6), OptionSpec("size", _SHOE_SIZES, 3, 8)),
        (20, 110),
        ("Casual", "Canvas", "Platform", "Knit", "Walking"),
    ),
    _t(
        "fashion",
        "Men's T-Shirt",
        ("men's t-shirt", "graphic tees"),
        (_C, "Men", "Clothing", "Shirts", "T-Shirts"),
        _CLOTHING_ATTRS,
        (OptionSpec("color", _COLORS, 2, 7), OptionSpec("size", _SIZES, 3, 7)),
        (8, 40),
        ("Crew Neck", "Cotton", "Graphic", "Athletic", "Vintage"),
    ),
    _t(
        "fashion",
        "Women's Dress",
        ("women's dress", "summer dress"),
        (_C, "Women", "Clothing", "Dresses", "Casual"),
        _CLOTHING_ATTRS + ("v neck", "flowy"),
        (OptionSpec("color", _COLORS, 2, 6), OptionSpec("size", _SIZES, 3, 6)),
        (18, 90),
        ("Floral", "Maxi", "Midi", "Wrap", "Boho"),
    ),
    _t(
        "fashion",
        "Hoodie",
        ("hoodie", "pullover hoodie"),
        (_C, "Men", "Clothing", "Fashion Hoodies & Sweatshirts"),
        _CLOTHING_ATTRS + ("fleece lined", "drawstring closure"),
        (OptionSpec("color", _COLORS, 2, 7), OptionSpec("size", _SIZES, 3, 7)),
        (15, 70),
        ("Fleece", "Zip Up", "Oversized", "Heavyweight", "Classic"),
    ),
    _t(
        "fashion",
        "Yoga Pants",
        ("yoga pants", "high waist leggings"),
        (_C, "Women", "Clothing", "Active", "Active Pants"),
        _CLOTHING_ATTRS + ("high waist", "tummy control", "butt lift"),
        (OptionSpec("color", _COLORS, 2, 7), OptionSpec("size", _SIZES, 3, 6)),
        (12, 55),
        ("High Waisted", "Seamless", "Workout", "Stretch", "Flare"),
    ),
    _t(
        "fashion",
        "Jeans",
        ("jeans", "men's jeans"),
        (_C, "Men", "Clothing", "Jeans"),
        _CLOTHING_ATTRS + ("straight leg", "stretch denim", "zipper closure"),
        (
            OptionSpec("color", ("dark wash", "light wash", "black", "medium wash", "grey")),
            OptionSpec("size", ("28w x 30l", "30w x 30l", "32w x 32l", "34w x 32l", "36w x 34l", "38w x 34l"), 3, 6),
        ),
        (20, 90),
        ("Slim", "Straight", "Relaxed", "Bootcut", "Tapered"),
    ),
    _t(
        "fashion",
        "Wrist Watch",
        ("wrist watch", "men's watch"),
        (_C, "Men", "Watches", "Wrist Watches"),
        (
            "stainless steel",
            "water resistant",
            "quartz movement",
            "leather band",
            "easy to read",
            "date display",
            "scratch resistant",
        ),
        (OptionSpec("color", ("silver", "gold", "black", "rose gold", "brown leather")),),
        (20, 250),
        ("Analog", "Chronograph", "Minimalist", "Dress", "Sport"),
    ),
    _t(
        "fashion",
        "Backpack",
        ("backpack", "laptop backpack"),
        (_C, "Luggage & Travel Gear", "Backpacks", "Casual Daypacks"),
        (
            "water resistant",
            "usb charging port",
            "anti theft",
            "large capacity",
            "padded straps",
            "laptop compartment",
            "lightweight",
        ),
        (OptionSpec("color", _COLORS, 2, 6),),
        (18, 90),
        ("Travel", "Slim", "Rolltop", "Everyday", "Commuter"),
    ),
    # ---------------------------------------------------------------- furniture
    _t(
        "furniture",
        "Office Chair",
        ("office chair", "ergonomic desk chair"),
        (_H, "Furniture", "Home Office Furniture", "Home Office Chairs", "Desk Chairs"),
        _FURNITURE_ATTRS + ("lumbar support", "adjustable height", "swivel"),
        (OptionSpec("color", ("black", "grey", "white", "blue", "pink")),),
        (60, 400),
        ("Ergonomic", "Mesh", "Executive", "Swivel", "Task"),
    ),
    _t(
        "furniture",
        "Coffee Table",
        ("coffee table", "living room table"),
        (_H, "Furniture", "Living Room Furniture", "Tables", "Coffee Tables"),
        _FURNITURE_ATTRS,
        (OptionSpec("color", _FINISHES),),
        (50, 350),
        ("Rustic", "Modern", "Lift Top", "Round", "Farmhouse"),
    ),
    _t(
        "furniture",
        "Bookshelf",
        ("bookshelf", "bookcase"),
        (_H, "Furniture", "Home Office Furniture", "Bookcases"),
        _FURNITURE_ATTRS,
        (OptionSpec("color", _FINISHES), OptionSpec("size", ("3 tier", "4 tier", "5 tier", "6 tier"), 1, 3)),
        (40, 300),
        ("Industrial", "Ladder", "Corner", "Open", "Tall"),
    ),
    _t(
        "furniture",
        "Bed Frame",
        ("bed frame", "platform bed"),
        (_H, "Furniture", "Bedroom Furniture", "Beds, Frames & Bases", "Bed Frames"),
        _FURNITURE_ATTRS + ("noise free", "underbed storage"),
        (OptionSpec("size", _BED_SIZES, 2, 5), OptionSpec("color", ("black", "white", "grey", "walnut"), 1, 3)),
        (90, 700),
        ("Platform", "Upholstered", "Metal", "Wooden", "Low Profile"),
    ),
    _t(
        "furniture",
        "TV Stand",
        ("tv stand", "entertainment center"),
        (_H, "Furniture", "Living Room Furniture", "TV & Media Furniture", "Television Stands"),
        _FURNITURE_ATTRS,
        (OptionSpec("color", _FINISHES),),
        (60, 450),
        ("Modern", "Farmhouse", "Corner", "Floating", "Low"),
    ),
    _t(
        "furniture",
        "Throw Pillow Covers",
        ("throw pillow covers", "decorative pillow covers"),
        (_H, "Home Décor Products", "Decorative Pillows, Inserts & Covers", "Throw Pillow Covers"),
        ("machine washable", "hidden zipper", "soft velvet", "living room", "double sided", "linen"),
        (
            OptionSpec("color", _COLORS, 2, 6),
            OptionSpec("size", ("16 x 16 inch", "18 x 18 inch", "20 x 20 inch", "12 x 20 inch"), 1, 3),
        ),
        (8, 40),
        ("Velvet", "Boho", "Farmhouse", "Striped", "Solid"),
    ),
    _t(
        "furniture",
        "Bar Stools",
        ("bar stools", "counter height stools"),
        (_H, "Furniture", "Kitchen & Dining Room Furniture", "Bar Stools"),
        _FURNITURE_ATTRS + ("footrest", "swivel"),
        (
            OptionSpec("color", ("black", "white", "grey", "brown", "natural wood")),
            OptionSpec("size", ("24 inch", "26 inch", "30 inch"), 1, 3),
        ),
        (50, 300),
        ("Counter Height", "Swivel", "Backless", "Industrial", "Upholstered"),
    ),
    # ---------------------------------------------------------------- electronics
    _t(
        "electronics",
        "Wireless Earbuds",
        ("wireless earbuds", "bluetooth headphones"),
        (_E, "Headphones, Earbuds & Accessories", "Earbuds"),
        _ELECTRONICS_ATTRS + ("charging case", "in ear"),
        (OptionSpec("color", ("black", "white", "navy blue", "rose gold", "green")),),
        (15, 180),
        ("True Wireless", "Sport", "Noise Cancelling", "Compact", "Hi-Fi"),
    ),
    _t(
        "electronics",
        "Phone Case",
        ("phone case", "iphone case"),
        (_E, "Cell Phones & Accessories", "Cases, Holsters & Sleeves", "Basic Cases"),
        (
            "shockproof",
            "slim fit",
            "wireless charging",
            "screen protector",
            "raised edges",
            "easy install",
            "anti scratch",
        ),
        (
            OptionSpec("color", ("clear", "black", "purple", "navy blue", "pink", "green")),
            OptionSpec("size", ("iphone 13", "iphone 14", "iphone 14 pro", "iphone 15", "galaxy s23"), 2, 5),
        ),
        (6, 35),
        ("Slim", "Rugged", "Clear", "Silicone", "Wallet"),
    ),
    _t(
        "electronics",
        "USB C Cable",
        ("usb c cable", "fast charging cable"),
        (_E, "Computers & Accessories", "Computer Accessories & Peripherals", "Cables & Accessories", "USB Cables"),
        _ELECTRONICS_ATTRS + ("braided nylon",),
        (OptionSpec("size", _LENGTHS), OptionSpec("color", ("black", "white", "grey", "red"), 1, 3)),
        (5, 25),
        ("Braided", "Fast Charging", "Right Angle", "Durable", "Short"),
    ),
    _t(
        "electronics",
        "Security Camera",
        ("security camera", "wifi camera"),
        (_E, "Camera & Photo", "Video Surveillance", "Surveillance Cameras", "Dome Cameras"),
        _ELECTRONICS_ATTRS + ("night vision", "motion detection", "two way audio"),
        (OptionSpec("size", ("1 camera", "2 cameras", "4 cameras"), 1, 3),),
        (25, 200),
        ("Outdoor", "Indoor", "Wireless", "Pan Tilt", "Solar"),
    ),
    _t(
        "electronics",
        "Memory Card",
        ("memory card", "micro sd card"),
        (_E, "Computers & Accessories", "Data Storage", "Micro SD Cards"),
        ("high speed", "waterproof", "shockproof", "adapter included", "4k video", "class 10"),
        (OptionSpec("size", _CAPACITY),),
        (6, 90),
        ("Ultra", "Extreme", "Pro", "High Endurance", "Plus"),
    ),
    _t(
        "electronics",
        "Smart Watch Band",
        ("smart watch band", "apple watch band"),
        (_E, "Wearable Technology", "Accessories", "Smartwatch Bands"),
        ("soft silicone", "stainless steel", "quick release", "sweat resistant", "adjustable", "breathable"),
        (OptionSpec("color", _COLORS, 2, 6), OptionSpec("size", _WATCH_SIZES, 2, 4)),
        (6, 40),
        ("Sport", "Magnetic", "Braided", "Leather", "Slim"),
    ),
    _t(
        "electronics",
        "Laptop Stand",
        ("laptop stand", "adjustable laptop riser"),
        (_E, "Computers & Accessories", "Laptop Accessories", "Lap Desks & Stands"),
        _ELECTRONICS_ATTRS + ("foldable", "heat dissipation"),
        (OptionSpec("color", ("silver", "space grey", "black", "rose gold")),),
        (15, 80),
        ("Ergonomic", "Portable", "Adjustable", "Aluminum", "Foldable"),
    ),
)

#: Brand syllables: brands are two of these joined (``Vel`` + ``ora`` = ``Velora``), as many Amazon brands look.
BRAND_HEADS = (
    "Vel",
    "Kor",
    "Lum",
    "Zen",
    "Aur",
    "Nov",
    "Bri",
    "Cal",
    "Dex",
    "Ev",
    "Fyn",
    "Gal",
    "Hal",
    "Ix",
    "Jor",
    "Kal",
    "Lex",
    "Mir",
    "Nor",
    "Or",
    "Pax",
    "Quin",
    "Ros",
    "Sol",
    "Tav",
    "Ul",
    "Vox",
    "Wyn",
)
BRAND_TAILS = ("ora", "ix", "ana", "ell", "ico", "umi", "eo", "ara", "ent", "ova", "ius", "aro", "en", "ify")

#: Phrases that open a bullet point; the attribute (or a feature) follows.
BULLET_OPENERS = (
    "Designed with",
    "Made with",
    "Features",
    "Built for",
    "Enjoy",
    "Comes with",
    "Perfect choice:",
    "Quality you can trust:",
    "Everyday use:",
    "Thoughtful design:",
)
#: Sentences the description is assembled from ({noun} and {brand} are filled in).
DESCRIPTION_SENTENCES = (
    "The {brand} {noun} is made for everyday use at home, at work and on the go.",
    "Every {noun} is inspected before it ships, so you get consistent quality every time.",
    "Our team spent months testing materials to make this {noun} last.",
    "A practical gift for family and friends who appreciate well made things.",
    "Backed by {brand} customer support: contact us with any question and we will respond within 24 hours.",
    "Compare it with other {noun} options and you will notice the difference in the details.",
    "Simple to care for and built to keep its look after months of use.",
)
#: Reviews of the Reviews sub-page: (title, body) pairs with a score each.
REVIEW_TEXTS = (
    ("Exactly as described", "Arrived quickly and works as expected. Would buy again.", 5),
    ("Good value", "Does the job for the price. Nothing fancy but solid.", 4),
    ("Okay", "It is fine, but the quality could be better.", 3),
    ("Not for me", "Did not meet my expectations; returned it.", 2),
    ("Love it", "Great quality and looks even better in person.", 5),
    ("Pretty good", "Minor issues, overall happy with the purchase.", 4),
)
#: How a goal sentence opens (WebShop's human instructions mostly start like this).
GOAL_OPENERS = (
    "i need",
    "i am looking for",
    "i want",
    "i'm looking for",
    "find me",
    "i would like",
    "get me",
    "i'd like to buy",
    "looking for",
    "i want to buy",
)

__all__ = [
    "BRAND_HEADS",
    "BRAND_TAILS",
    "BULLET_OPENERS",
    "DESCRIPTION_SENTENCES",
    "GOAL_OPENERS",
    "PRODUCT_TYPES",
    "REVIEW_TEXTS",
    "OptionSpec",
    "ProductType",
]
