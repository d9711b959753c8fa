"""Shared builders of the shop tests."""

from __future__ import annotations

from html.parser import HTMLParser

from turngym.envs.web.shop.types import Goal, Product

FIXTURES = __import__("pathlib").Path(__file__).parent / "fixtures" / "webshop"


def product(**kw) -> Product:
    base = dict(asin="B0TEST0001", title="Kovaro Running Shoes", category="fashion", query="running shoes",
                product_category="Clothing › Men › Shoes", bullets=("NON SLIP - grips wet floors",),
                description="Shoes with breathable mesh.", attributes=("non slip", "rubber sole"),
                options={"color": ("black", "navy blue"), "size": ("8", "9")}, price=39.99, price_tag="$39.99",
                rating="4.5")
    base.update(kw)
    return Product(**base)


def goal(**kw) -> Goal:
    base = dict(asin="B0TEST0001", instruction="i need non slip running shoes", query="running shoes",
                product_category="Clothing › Men › Shoes", name="Kovaro Running Shoes",
                attributes=("non slip", "breathable mesh"), options=("navy blue", "9"), price_upper=60.0)
    base.update(kw)
    return Goal(**base)


class VisibleText(HTMLParser):
    """The visible text nodes of a page, stripped (WebShop's ``tag_visible`` skips head, title, script, style)."""

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.texts: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag not in ("br", "input", "meta", "link", "img"):
            self.stack.append(tag)

    def handle_endtag(self, tag):
        if tag in self.stack:
            while self.stack and self.stack.pop() != tag:
                pass

    def handle_data(self, data):
        if data.strip() and not {"head", "title", "script", "style"} & set(self.stack):
            self.texts.append(data.strip())


def visible_text(html: str) -> list[str]:
    parser = VisibleText()
    parser.feed(html)
    return parser.texts
