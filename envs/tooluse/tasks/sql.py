"""ToolSQL: questions over a generated relational database, answered with read-only SQL.

Each task generates a small database in one of two themes (``shop``: customers, products, orders,
order items; ``library``: authors, books, members, loans), with table and column names drawn from
synonyms so the agent has to discover the schema (``SELECT name, sql FROM sqlite_master``): the question
speaks of customers and orders, never of tables or columns. Difficulty 1 asks a single-table aggregate,
2 needs one join, 3 a join with ``GROUP BY`` and ``HAVING`` or ``ORDER BY``. The gold answer is the
result of the intended query (``meta["sql"]``) run with ``sqlite3`` on the generated script; questions
whose answer would be empty, zero or tied are redrawn.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Generator
from typing import Any

import numpy as np

from turngym.envs.tooluse.base import Answer, Task, ToolCall, ToolResult
from turngym.envs.tooluse.tasks.common import mentions, split_of, task_id, task_rng
from turngym.envs.tooluse.tasks.names import NameGen

INTEGER = "an integer"
DECIMAL = "a decimal rounded to 2 places"
THEMES = ("shop", "library")
SCHEMA_QUERY = "SELECT name, sql FROM sqlite_master WHERE type = 'table'"
CATEGORIES = ("Garden", "Kitchen", "Toys", "Office", "Sports", "Audio", "Bath")
PRODUCT_NOUNS = ("Lamp", "Kettle", "Chair", "Speaker", "Ball", "Planter", "Stapler", "Towel", "Blender", "Kite")
GENRES = ("Mystery", "Fantasy", "History", "Poetry", "Science", "Romance", "Travel")
TITLE_NOUNS = ("Harbor", "Garden", "Letters", "River", "Winter", "Mirror", "Lantern", "Orchard", "Voyage", "Archive")
TITLE_ADJS = ("Silent", "Last", "Hidden", "Golden", "Broken", "Distant", "Quiet", "Burning", "Lost", "Northern")
#: Synonyms the table and column names are drawn from (logical name -> choices).
SHOP_NAMES = {
    "customers": ("customers", "clients"), "products": ("products", "catalog"),
    "orders": ("orders", "purchases"), "items": ("order_items", "order_lines"),
    "cname": ("name", "full_name"), "city": ("city", "home_city"), "joined": ("joined_year", "signup_year"),
    "pname": ("name", "title"), "category": ("category", "department"), "price": ("unit_price", "price"),
    "date": ("order_date", "placed_on"), "qty": ("quantity", "qty"),
}
LIBRARY_NAMES = {
    "authors": ("authors", "writers"), "books": ("books", "titles"), "members": ("members", "patrons"),
    "loans": ("loans", "checkouts"), "aname": ("name", "full_name"), "country": ("country", "nationality"),
    "title": ("title", "book_title"), "genre": ("genre", "category"), "year": ("published_year", "pub_year"),
    "pages": ("pages", "page_count"), "mname": ("name", "member_name"), "city": ("city", "home_city"),
    "mjoined": ("joined_year", "member_since"), "date": ("loan_date", "borrowed_on"),
}


def _q(value: Any) -> str:
    """A SQL literal."""
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    return repr(value)


def _choice(rng: np.random.Generator, items: Any) -> Any:
    items = list(items)
    return items[int(rng.integers(len(items)))]


def _date(rng: np.random.Generator) -> str:
    return f"{int(rng.integers(2021, 2025))}-{int(rng.integers(1, 13)):02d}-{int(rng.integers(1, 29)):02d}"


def _script(tables: list[tuple[str, str, list[tuple[Any, ...]]]]) -> str:
    """``CREATE TABLE`` and ``INSERT`` statements for (name, column definitions, rows)."""
    out = []
    for name, columns, rows in tables:
        out.append(f"CREATE TABLE {name} ({columns});")
        out += [f"INSERT INTO {name} VALUES ({', '.join(_q(v) for v in row)});" for row in rows]
    return "\n".join(out) + "\n"


def _pick_names(rng: np.random.Generator, table: dict[str, tuple[str, str]]) -> dict[str, str]:
    return {k: _choice(rng, v) for k, v in table.items()}


# ----------------------------------------------------------------------------------------------- shop
def _shop_db(rng: np.random.Generator, d: int) -> tuple[dict[str, Any], str]:
    n = _pick_names(rng, SHOP_NAMES)
    gen = NameGen(rng)
    cities = [gen.city() for _ in range(4 + d)]
    customers = [(i + 1, gen.person(), _choice(rng, cities), int(rng.integers(2015, 2025)))
                 for i in range(int(rng.integers(15, 25)) + 5 * d)]
    cats = list(rng.choice(CATEGORIES, size=4 + d, replace=False))
    products = []
    for i in range(int(rng.integers(12, 18)) + 4 * d):
        name = f"{gen.word()} {_choice(rng, PRODUCT_NOUNS)}"
        products.append((i + 1, name, str(_choice(rng, cats)), int(rng.integers(199, 9999)) / 100))
    orders, items = [], []
    for i in range(int(rng.integers(40, 60)) + 30 * d):
        status = _choice(rng, ["delivered"] * 7 + ["shipped"] * 2 + ["cancelled"] * 2)
        orders.append((i + 1, int(rng.integers(1, len(customers) + 1)), _date(rng), status))
        for p in rng.choice(len(products), size=int(rng.integers(1, 5)), replace=False):
            items.append((i + 1, int(p) + 1, int(rng.integers(1, 6))))
    script = _script([
        (n["customers"], f"customer_id INTEGER PRIMARY KEY, {n['cname']} TEXT NOT NULL, {n['city']} TEXT, "
                         f"{n['joined']} INTEGER", customers),
        (n["products"], f"product_id INTEGER PRIMARY KEY, {n['pname']} TEXT NOT NULL, {n['category']} TEXT, "
                        f"{n['price']} REAL", products),
        (n["orders"], f"order_id INTEGER PRIMARY KEY, customer_id INTEGER REFERENCES {n['customers']}(customer_id), "
                      f"{n['date']} TEXT, status TEXT", orders),
        (n["items"], f"order_id INTEGER REFERENCES {n['orders']}(order_id), product_id INTEGER REFERENCES "
                     f"{n['products']}(product_id), {n['qty']} INTEGER", items),
    ])
    data = {"n": n, "cities": cities, "customers": customers, "cats": cats, "products": products, "orders": orders}
    return data, script


def _shop_question(rng: np.random.Generator, d: int, data: dict[str, Any]) -> tuple[str, str, str, str]:
    """(question, sql, answer kind, answer format) for one shop template of difficulty ``d``."""
    n = data["n"]
    c, p, o, i = n["customers"], n["products"], n["orders"], n["items"]
    city = _choice(rng, data["cities"])
    cat = _choice(rng, data["cats"])
    year = int(rng.integers(2021, 2025))
    revenue = f"SUM(i.{n['qty']} * p.{n['price']})"
    t = int(rng.integers(4))
    if d == 1:
        if t == 0:
            y = int(rng.integers(2016, 2024))
            return (f"How many customers from {city} joined in {y} or later?",
                    f"SELECT COUNT(*) FROM {c} WHERE {n['city']} = {_q(city)} AND {n['joined']} >= {y}", "int", INTEGER)
        if t == 1:
            return (f"What is the average price of the products in the {cat} category?",
                    f"SELECT ROUND(AVG({n['price']}), 2) FROM {p} WHERE {n['category']} = {_q(cat)}", "dec", DECIMAL)
        if t == 2:
            return (f"Which product in the {cat} category is the most expensive?",
                    f"SELECT {n['pname']}, {n['price']} FROM {p} WHERE {n['category']} = {_q(cat)} "
                    f"ORDER BY {n['price']} DESC", "name", "a product name")
        status = _choice(rng, ["cancelled", "shipped", "delivered"])
        return (f"How many orders placed in {year} have the status '{status}'?",
                f"SELECT COUNT(*) FROM {o} WHERE substr({n['date']}, 1, 4) = '{year}' AND status = {_q(status)}",
                "int", INTEGER)
    if d == 2:
        if t == 0:
            return (f"How many orders were placed by customers from {city}?",
                    f"SELECT COUNT(*) FROM {o} o JOIN {c} c ON o.customer_id = c.customer_id "
                    f"WHERE c.{n['city']} = {_q(city)}", "int", INTEGER)
        if t == 1:
            prod = _choice(rng, data["products"])[1]
            return (f"How many units of the {prod} have been ordered in total, over all orders?",
                    f"SELECT SUM(i.{n['qty']}) FROM {i} i JOIN {p} p ON i.product_id = p.product_id "
                    f"WHERE p.{n['pname']} = {_q(prod)}", "int", INTEGER)
        if t == 2:
            oid = int(rng.integers(1, len(data["orders"]) + 1))
            return (f"What is the total value (price times quantity, summed over its items) of order number {oid}?",
                    f"SELECT ROUND({revenue}, 2) FROM {i} i JOIN {p} p ON i.product_id = p.product_id "
                    f"WHERE i.order_id = {oid}", "dec", DECIMAL)
        cust = _choice(rng, data["customers"])[1]
        return (f"How many orders has {cust} placed?",
                f"SELECT COUNT(*) FROM {o} o JOIN {c} c ON o.customer_id = c.customer_id "
                f"WHERE c.{n['cname']} = {_q(cust)}", "int", INTEGER)
    if t == 0:
        return (f"Which customer spent the most money (price times quantity) on delivered orders placed in {year}?",
                f"SELECT c.{n['cname']}, ROUND({revenue}, 2) AS spent FROM {c} c "
                f"JOIN {o} o ON o.customer_id = c.customer_id JOIN {i} i ON i.order_id = o.order_id "
                f"JOIN {p} p ON p.product_id = i.product_id WHERE o.status = 'delivered' "
                f"AND substr(o.{n['date']}, 1, 4) = '{year}' GROUP BY c.customer_id ORDER BY spent DESC",
                "name", "a customer's full name")
    if t == 1:
        k = int(rng.integers(2, 5))
        return (f"How many customers from {city} have placed at least {k} orders?",
                f"SELECT COUNT(*) FROM (SELECT c.customer_id FROM {c} c JOIN {o} o ON o.customer_id = c.customer_id "
                f"WHERE c.{n['city']} = {_q(city)} GROUP BY c.customer_id HAVING COUNT(*) >= {k})", "int", INTEGER)
    if t == 2:
        return (f"Which product category brought in the most revenue (price times quantity) from delivered "
                f"orders placed in {year}?",
                f"SELECT p.{n['category']}, ROUND({revenue}, 2) AS revenue FROM {o} o "
                f"JOIN {i} i ON i.order_id = o.order_id JOIN {p} p ON p.product_id = i.product_id "
                f"WHERE o.status = 'delivered' AND substr(o.{n['date']}, 1, 4) = '{year}' "
                f"GROUP BY p.{n['category']} ORDER BY revenue DESC", "name", "a category name")
    return (f"Customers from which city placed the most orders in {year}?",
            f"SELECT c.{n['city']}, COUNT(*) AS orders FROM {o} o JOIN {c} c ON o.customer_id = c.customer_id "
            f"WHERE substr(o.{n['date']}, 1, 4) = '{year}' GROUP BY c.{n['city']} ORDER BY orders DESC",
            "name", "a city name")


# -------------------------------------------------------------------------------------------- library
def _library_db(rng: np.random.Generator, d: int) -> tuple[dict[str, Any], str]:
    n = _pick_names(rng, LIBRARY_NAMES)
    gen = NameGen(rng)
    countries = [gen.country() for _ in range(3 + d)]
    cities = [gen.city() for _ in range(3 + d)]
    authors = [(i + 1, gen.person(), _choice(rng, countries)) for i in range(int(rng.integers(8, 12)) + 2 * d)]
    genres = list(rng.choice(GENRES, size=3 + d, replace=False))
    books, titles = [], set()
    while len(books) < int(rng.integers(25, 35)) + 8 * d:
        title = f"The {_choice(rng, TITLE_ADJS)} {_choice(rng, TITLE_NOUNS)} of {gen.word()}"
        if title in titles:
            continue
        titles.add(title)
        books.append((len(books) + 1, title, int(rng.integers(1, len(authors) + 1)), str(_choice(rng, genres)),
                      int(rng.integers(1950, 2024)), int(rng.integers(90, 900))))
    members = [(i + 1, gen.person(), _choice(rng, cities), int(rng.integers(2012, 2025)))
               for i in range(int(rng.integers(15, 25)) + 5 * d)]
    loans = [(i + 1, int(rng.integers(1, len(books) + 1)), int(rng.integers(1, len(members) + 1)), _date(rng),
              int(rng.random() < 0.8)) for i in range(int(rng.integers(50, 80)) + 40 * d)]
    script = _script([
        (n["authors"], f"author_id INTEGER PRIMARY KEY, {n['aname']} TEXT NOT NULL, {n['country']} TEXT", authors),
        (n["books"], f"book_id INTEGER PRIMARY KEY, {n['title']} TEXT NOT NULL, author_id INTEGER REFERENCES "
                     f"{n['authors']}(author_id), {n['genre']} TEXT, {n['year']} INTEGER, {n['pages']} INTEGER", books),
        (n["members"], f"member_id INTEGER PRIMARY KEY, {n['mname']} TEXT NOT NULL, {n['city']} TEXT, "
                       f"{n['mjoined']} INTEGER", members),
        (n["loans"], f"loan_id INTEGER PRIMARY KEY, book_id INTEGER REFERENCES {n['books']}(book_id), member_id "
                     f"INTEGER REFERENCES {n['members']}(member_id), {n['date']} TEXT, returned INTEGER", loans),
    ])
    data = {"n": n, "cities": cities, "countries": countries, "authors": authors, "genres": genres,
            "books": books, "members": members}
    return data, script


def _library_question(rng: np.random.Generator, d: int, data: dict[str, Any]) -> tuple[str, str, str, str]:
    """(question, sql, answer kind, answer format) for one library template of difficulty ``d``."""
    n = data["n"]
    a, b, m, ln = n["authors"], n["books"], n["members"], n["loans"]
    genre = _choice(rng, data["genres"])
    city = _choice(rng, data["cities"])
    year = int(rng.integers(2021, 2025))
    t = int(rng.integers(3))
    if d == 1:
        if t == 0:
            y = int(rng.integers(1970, 2015))
            return (f"How many {genre} books were published before {y}?",
                    f"SELECT COUNT(*) FROM {b} WHERE {n['genre']} = {_q(genre)} AND {n['year']} < {y}", "int", INTEGER)
        if t == 1:
            return (f"What is the average number of pages of the {genre} books?",
                    f"SELECT ROUND(AVG({n['pages']}), 2) FROM {b} WHERE {n['genre']} = {_q(genre)}", "dec", DECIMAL)
        return (f"Which {genre} book has the most pages?",
                f"SELECT {n['title']}, {n['pages']} FROM {b} WHERE {n['genre']} = {_q(genre)} "
                f"ORDER BY {n['pages']} DESC", "name", "a book title")
    if d == 2:
        if t == 0:
            author = _choice(rng, data["authors"])[1]
            return (f"How many books by {author} does the library have?",
                    f"SELECT COUNT(*) FROM {b} b JOIN {a} a ON b.author_id = a.author_id "
                    f"WHERE a.{n['aname']} = {_q(author)}", "int", INTEGER)
        if t == 1:
            return (f"How many loans were made by members who live in {city}?",
                    f"SELECT COUNT(*) FROM {ln} l JOIN {m} m ON l.member_id = m.member_id "
                    f"WHERE m.{n['city']} = {_q(city)}", "int", INTEGER)
        title = _choice(rng, data["books"])[1]
        return (f"How many times has \"{title}\" been borrowed?",
                f"SELECT COUNT(*) FROM {ln} l JOIN {b} b ON l.book_id = b.book_id "
                f"WHERE b.{n['title']} = {_q(title)}", "int", INTEGER)
    if t == 0:
        return (f"Whose books (which author's) were borrowed the most times in {year}?",
                f"SELECT a.{n['aname']}, COUNT(*) AS times FROM {ln} l JOIN {b} b ON l.book_id = b.book_id "
                f"JOIN {a} a ON a.author_id = b.author_id WHERE substr(l.{n['date']}, 1, 4) = '{year}' "
                f"GROUP BY a.author_id ORDER BY times DESC",
                "name", "an author's full name")
    if t == 1:
        k = int(rng.integers(2, 4))
        return (f"How many members from {city} borrowed at least {k} books in {year}?",
                f"SELECT COUNT(*) FROM (SELECT m.member_id FROM {m} m JOIN {ln} l ON l.member_id = m.member_id "
                f"WHERE m.{n['city']} = {_q(city)} AND substr(l.{n['date']}, 1, 4) = '{year}' "
                f"GROUP BY m.member_id HAVING COUNT(*) >= {k})", "int", INTEGER)
    return (f"Which genre did members from {city} borrow most often?",
            f"SELECT b.{n['genre']}, COUNT(*) AS times FROM {ln} l JOIN {m} m ON l.member_id = m.member_id "
            f"JOIN {b} b ON b.book_id = l.book_id WHERE m.{n['city']} = {_q(city)} "
            f"GROUP BY b.{n['genre']} ORDER BY times DESC", "name", "a genre name")


_THEMES: dict[str, tuple[Callable[..., tuple[dict[str, Any], str]], Callable[..., tuple[str, str, str, str]]]] = {
    "shop": (_shop_db, _shop_question), "library": (_library_db, _library_question)}


def format_value(value: Any, kind: str) -> str | None:
    """A query result cell written canonically for ``kind`` (``int``, ``dec``, ``name``); None if unusable."""
    if value is None:
        return None
    try:
        if kind == "int":
            return str(int(float(value)))
        if kind == "dec":
            return f"{float(value):.2f}"
    except (TypeError, ValueError):
        return None
    return str(value).strip()


def run_sql(script: str, sql: str) -> list[tuple[Any, ...]]:
    """Builds the database from ``script`` in memory and returns all rows of ``sql``."""
    con = sqlite3.connect(":memory:")
    try:
        con.executescript(script)
        return list(con.execute(sql).fetchall())
    finally:
        con.close()


def _gold(script: str, sql: str, kind: str) -> str | None:
    rows = run_sql(script, sql)
    if not rows or rows[0][0] is None:
        return None
    if kind == "name":
        if len(rows) > 1 and rows[1][1] == rows[0][1]:
            return None  # tied top: the question would have two right answers
        return str(rows[0][0])
    answer = format_value(rows[0][0], kind)
    return None if answer in (None, "0", "0.00") else answer


def generate_sql(seed: int, difficulty: int = 1) -> Task:
    """One ToolSQL task, a function of ``(seed, difficulty)`` only.

    Args:
        seed: Non-negative task seed.
        difficulty: 1 single-table aggregate, 2 one join, 3 join + group by + having/order.

    Returns:
        A ``Task`` with ``tools=("sql",)``, the database script in ``database`` and ``meta`` =
        ``{"theme", "sql" (the intended query; its first cell of the first row is the answer), "kind"
        ("int", "dec" or "name"), "tables"}``.
    """
    rng = task_rng("sql", seed, difficulty)
    theme = THEMES[int(rng.integers(len(THEMES)))]
    make_db, make_question = _THEMES[theme]
    while True:
        data, script = make_db(rng, difficulty)
        for _ in range(20):
            question, sql, kind, fmt = make_question(rng, difficulty, data)
            if kind == "name":
                sql += " LIMIT 2"
            answer = _gold(script, sql, kind)
            if answer is not None and not mentions(question, answer):
                break
        else:
            continue
        break
    if kind == "name":
        sql = sql[: -len(" LIMIT 2")] + " LIMIT 1"
    return Task(
        task_id=task_id("sql", seed, difficulty),
        family="sql",
        question=question,
        answer=answer,
        answer_format=fmt,
        tools=("sql",),
        difficulty=difficulty,
        seed=seed,
        split=split_of(seed),
        database=script,
        meta={"theme": theme, "sql": sql, "kind": kind, "tables": sorted(v for k, v in data["n"].items()
                                                                          if k in _TABLE_KEYS)},
    )


_TABLE_KEYS = {"customers", "products", "orders", "items", "authors", "books", "members", "loans"}


def parse_rows(output: str) -> list[list[str]]:
    """The data rows of the ``sql`` tool's output (first line: column names; cells joined by ``" | "``)."""
    lines = [line for line in (output or "").splitlines() if line.strip()]
    # Status lines the tool appends: "(0 rows)" and "[more than N rows; ...]".
    return [line.split(" | ") for line in lines[1:] if line != "(0 rows)" and not line.startswith("[more than ")]


def expert_sql(task: Task) -> Generator[ToolCall | Answer, ToolResult, None]:
    """Scripted expert: looks at the schema, runs the intended query, reads the first cell of its output."""
    yield ToolCall("sql", {"query": SCHEMA_QUERY})
    result = yield ToolCall("sql", {"query": str(task.meta.get("sql", ""))})
    rows = parse_rows(result.output) if result.ok else []
    cell = rows[0][0] if rows and rows[0] else None
    answer = format_value(cell, str(task.meta.get("kind", "name"))) if cell not in (None, "NULL", "None") else None
    yield Answer(answer if answer is not None else "unknown")
