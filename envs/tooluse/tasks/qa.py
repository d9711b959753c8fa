"""ToolQA: multi-hop questions over a synthetic knowledge base rendered as a small document corpus.

Each task builds its own fictional world (countries, cities, people, companies, products; names made of
syllables, see ``names.py``), writes one document per entity in natural sentences, adds distractor
documents that share words with the entity documents (festivals, reviews, company histories, family
pages, travel guides; relatives with the same surname; products of the same line), and asks a question
that chains ``hops`` functional relations, e.g. (3 hops) "In which city was the founder of the company
that makes the Zentrix 40 born?". Difficulty ``d`` asks ``d + 1`` hops. Answering needs, per hop,
``search`` for the current entity, ``open`` its document, read the relation, and go on with the value.
"""

from __future__ import annotations

import re
from collections.abc import Generator
from typing import Any

import numpy as np

from turngym.envs.tooluse.base import Answer, Document, Task, ToolCall, ToolResult
from turngym.envs.tooluse.tasks.common import mentions, split_of, task_id, task_rng
from turngym.envs.tooluse.tasks.names import PRODUCT_KINDS, NameGen

#: A proper name as it appears in the documents: capitalized words and numbers ("Zentrix 40").
NAME = r"[A-Z][\w'-]*(?: (?:[A-Z][\w'-]*|\d+))*"
YEAR = r"\d{4}"

#: Functional relations: name -> (source type, target type; "year" for a terminal attribute).
RELATIONS: dict[str, tuple[str, str]] = {
    "maker": ("product", "company"),
    "release_year": ("product", "year"),
    "founder": ("company", "person"),
    "hq": ("company", "city"),
    "founded_year": ("company", "year"),
    "birthplace": ("person", "city"),
    "birth_year": ("person", "year"),
    "employer": ("person", "company"),
    "country": ("city", "country"),
    "mayor": ("city", "person"),
    "city_founded": ("city", "year"),
    "capital": ("country", "city"),
}
OUTGOING = {t: [r for r, (s, _) in RELATIONS.items() if s == t]
            for t in ("product", "company", "person", "city", "country")}

#: Noun phrase for "the entity reached by relation r from phrase p".
PHRASES = {
    "maker": "the company that makes {p}",
    "founder": "the founder of {p}",
    "hq": "the city where {p} is headquartered",
    "birthplace": "the birthplace of {p}",
    "employer": "the employer of {p}",
    "country": "the country in which {p} lies",
    "mayor": "the mayor of {p}",
    "capital": "the capital of {p}",
}
#: The question asked about the last hop.
QUESTIONS = {
    "maker": "Which company makes {p}?",
    "release_year": "In which year was {p} released?",
    "founder": "Who founded {p}?",
    "hq": "In which city is {p} headquartered?",
    "founded_year": "In which year was {p} founded?",
    "birthplace": "In which city was {p} born?",
    "birth_year": "In which year was {p} born?",
    "employer": "Which company does {p} work for?",
    "country": "In which country is {p}?",
    "mayor": "Who is the mayor of {p}?",
    "city_founded": "In which year was {p} founded?",
    "capital": "What is the capital of {p}?",
}
ANSWER_FORMATS = {
    "person": "a person's full name",
    "city": "a city name",
    "company": "a company name",
    "country": "a country name",
    "year": "a year (four digits)",
}
#: Sentence templates per relation ({x}: the entity, {s}: its short form, {v}: the value).
TEMPLATES = {
    "birthplace": ("{x} was born in {v}.", "{s} is a native of {v}.", "Born in {v}, {s} moved away as a young adult."),
    "birth_year": ("{s} was born in the year {v}.", "{s}'s year of birth is {v}."),
    "employer": ("{s} works for {v}.", "{s} is employed by {v}.", "These days {s} works at {v}."),
    "founder": ("{x} was founded by {v}.", "The founder of {x} is {v}.", "{x} owes its existence to its founder, {v}."),
    "founded_year": ("{x} was established in {v}.", "{x} has been in business since {v}."),
    "hq": ("{x} is headquartered in {v}.", "The headquarters of {x} are in {v}.", "{x} has its head office in {v}."),
    "maker": ("It is made by {v}.", "The {x} is manufactured by {v}.", "It is produced by {v}."),
    "release_year": ("It was released in {v}.", "The {x} first went on sale in {v}."),
    "country": ("{x} is a city in {v}.", "{x} is a town in the country of {v}."),
    "mayor": ("The mayor of {x} is {v}.", "{x} is governed by its mayor, {v}."),
    "city_founded": ("{x} was founded in {v}.", "The settlement of {x} dates back to {v}."),
    "capital": ("The capital of {x} is {v}.", "{v} is the capital of {x}."),
}
#: How the expert reads each relation back out of a document (one pattern per template above).
EXTRACT = {
    "birthplace": (rf"was born in ({NAME})", rf"is a native of ({NAME})", rf"Born in ({NAME}),"),
    "birth_year": (rf"born in the year ({YEAR})", rf"year of birth is ({YEAR})"),
    "employer": (rf"works for ({NAME})", rf"is employed by ({NAME})", rf"works at ({NAME})"),
    "founder": (rf"was founded by ({NAME})", rf"The founder of [^.]*? is ({NAME})", rf"its founder, ({NAME})"),
    "founded_year": (rf"was established in ({YEAR})", rf"in business since ({YEAR})"),
    "hq": (rf"is headquartered in ({NAME})", rf"headquarters of [^.]*? are in ({NAME})", rf"head office in ({NAME})"),
    "maker": (rf"(?:made|manufactured|produced) by ({NAME})",),
    "release_year": (rf"was released in ({YEAR})", rf"went on sale in ({YEAR})"),
    "country": (rf"is a city in ({NAME})", rf"in the country of ({NAME})"),
    "mayor": (rf"The mayor of [^.]*? is ({NAME})", rf"by its mayor, ({NAME})"),
    "city_founded": (rf"was founded in ({YEAR})", rf"dates back to ({YEAR})"),
    "capital": (rf"The capital of [^.]*? is ({NAME})", rf"({NAME}) is the capital of"),
}
OCCUPATIONS = ("engineer", "chemist", "architect", "novelist", "economist", "painter", "surgeon", "pilot",
               "botanist", "lawyer")
SECTORS = ("consumer electronics", "machinery", "household goods", "transport", "outdoor equipment",
           "optics", "food processing")
#: Per difficulty: countries, cities, people, companies, product lines, distractor documents.
SIZES = {1: (3, 6, 10, 5, 4, 8), 2: (3, 7, 12, 6, 5, 10), 3: (4, 8, 14, 7, 6, 12)}


class _World:
    """The knowledge base of one task: entities with their type and relation values."""

    def __init__(self) -> None:
        self.types: dict[str, str] = {}
        self.rel: dict[str, dict[str, Any]] = {}
        self.extras: dict[str, list[str]] = {}
        self.kinds: dict[str, str] = {}

    def add(self, name: str, kind: str) -> str:
        self.types[name] = kind
        self.rel[name] = {}
        self.extras[name] = []
        return name

    def of(self, kind: str) -> list[str]:
        return [n for n, k in self.types.items() if k == kind]


def _choice(rng: np.random.Generator, items: list[Any]) -> Any:
    return items[int(rng.integers(len(items)))]


def _build_world(rng: np.random.Generator, difficulty: int) -> _World:
    n_countries, n_cities, n_people, n_companies, n_lines, _ = SIZES[difficulty]
    gen = NameGen(rng)
    w = _World()
    countries = [w.add(gen.country(), "country") for _ in range(n_countries)]
    cities = [w.add(gen.city(), "city") for _ in range(n_cities)]
    people: list[str] = []
    for _ in range(n_people):
        # About a third of the people share a surname with someone earlier: search distractors.
        relative = bool(people) and rng.random() < 0.35
        surname = _choice(rng, people).split(" ", 1)[1] if relative else None
        people.append(w.add(gen.person(surname), "person"))
    companies = [w.add(gen.company(), "company") for _ in range(n_companies)]
    products: list[str] = []
    for _ in range(n_lines):
        line, kind = gen.product_line(), gen.pick(PRODUCT_KINDS)
        numbers = sorted({int(x) for x in rng.choice(np.arange(10, 990), size=int(rng.integers(1, 3)), replace=False)})
        for num in numbers:
            p = w.add(f"{line} {num}", "product")
            w.kinds[p] = kind
            products.append(p)

    for i, c in enumerate(cities):
        # Every country gets at least one city, so every country has a capital.
        w.rel[c]["country"] = countries[i] if i < len(countries) else _choice(rng, countries)
        w.rel[c]["city_founded"] = int(rng.integers(1100, 1900))
    for country in countries:
        w.rel[country]["capital"] = _choice(rng, [c for c in cities if w.rel[c]["country"] == country])
    mayors = rng.permutation(len(people))[: len(cities)]
    for c, m in zip(cities, mayors, strict=True):
        w.rel[c]["mayor"] = people[int(m)]
    for p in people:
        w.rel[p]["birthplace"] = _choice(rng, cities)
        w.rel[p]["birth_year"] = int(rng.integers(1930, 1986))
        w.rel[p]["employer"] = _choice(rng, companies)
    founders = rng.permutation(len(people))[: len(companies)]
    for co, f in zip(companies, founders, strict=True):
        founder = people[int(f)]
        w.rel[co]["founder"] = founder
        w.rel[co]["hq"] = _choice(rng, cities)
        w.rel[co]["founded_year"] = min(2023, w.rel[founder]["birth_year"] + int(rng.integers(24, 45)))
    for p in products:
        w.rel[p]["maker"] = _choice(rng, companies)
        w.rel[p]["release_year"] = int(rng.integers(1995, 2025))
    return w


def _walk(rng: np.random.Generator, w: _World, hops: int) -> tuple[list[str], list[Any]] | None:
    """A random chain of ``hops`` relations through distinct entities: (relations, [start, v1, ..., vh])."""
    kind = _choice(rng, ["product", "company", "person", "city", "country"])
    path: list[Any] = [_choice(rng, w.of(kind))]
    rels: list[str] = []
    for step in range(hops):
        # Years end a chain (they have no outgoing relations); about 30% of chains ask for one.
        want_year = step == hops - 1 and rng.random() < 0.3
        options = [r for r in OUTGOING[w.types[path[-1]]]
                   if RELATIONS[r][1] != "year" and w.rel[path[-1]][r] not in path]
        years = [r for r in OUTGOING[w.types[path[-1]]] if RELATIONS[r][1] == "year"]
        if want_year and years:
            options = years
        if not options:
            return None
        r = _choice(rng, options)
        rels.append(r)
        path.append(w.rel[path[-1]][r])
    return rels, path


def _phrase(w: _World, start: str) -> str:
    return f"the {start}" if w.types[start] == "product" else start


def _question(w: _World, rels: list[str], start: str) -> str:
    p = _phrase(w, start)
    for r in rels[:-1]:
        p = PHRASES[r].format(p=p)
    q = QUESTIONS[rels[-1]].format(p=p)
    return q[0].upper() + q[1:]


def _short(name: str, kind: str) -> str:
    if kind == "person":
        return name.split(" ", 1)[1]
    return f"The {name}" if kind == "product" else name


def _sentence(rng: np.random.Generator, rel: str, x: str, s: str, v: Any) -> str:
    return str(_choice(rng, list(TEMPLATES[rel]))).format(x=x, s=s, v=v)


def _entity_doc(rng: np.random.Generator, w: _World, name: str) -> tuple[str, str]:
    kind = w.types[name]
    short = _short(name, kind)
    others = {k: [n for n in w.of(k) if n != name] for k in ("person", "city", "company", "product", "country")}
    rel = w.rel[name]
    body: list[str] = []
    if kind == "person":
        intro = f"{name} is a {_choice(rng, list(OCCUPATIONS))}."
        body += [_sentence(rng, r, name, short, rel[r]) for r in ("birthplace", "birth_year", "employer")]
        body.append(f"{short} once visited {_choice(rng, others['city'])}.")
        body.append(f"{short} is a friend of {_choice(rng, others['person'])}.")
        body += [f"{short} founded {c}." for c in w.of("company") if w.rel[c]["founder"] == name]
        body += [f"{short} serves as the mayor of {c}." for c in w.of("city") if w.rel[c]["mayor"] == name]
    elif kind == "company":
        intro = f"{name} is a {_choice(rng, list(SECTORS))} company."
        body += [_sentence(rng, r, name, short, rel[r]) for r in ("founder", "founded_year", "hq")]
        branch = _choice(rng, [c for c in others["city"] if c != rel["hq"]])
        body.append(f"It also runs a branch office in {branch}.")
        made = [p for p in w.of("product") if w.rel[p]["maker"] == name]
        if made:
            body.append("Its products include " + " and ".join(f"the {p}" for p in made) + ".")
        body.append(f"Its chief engineer is {_choice(rng, [p for p in others['person'] if p != rel['founder']])}.")
        body.append(f"It competes with {_choice(rng, others['company'])}.")
    elif kind == "product":
        intro = f"The {name} is a {w.kinds[name]}."
        body += [_sentence(rng, r, name, short, rel[r]) for r in ("maker", "release_year")]
        body.append(f"It is popular in {_choice(rng, others['city'])}.")
        body.append(f"Reviewers often compare it with the {_choice(rng, others['product'])}.")
    elif kind == "city":
        intro = _sentence(rng, "country", name, short, rel["country"])
        body += [_sentence(rng, r, name, short, rel[r]) for r in ("mayor", "city_founded")]
        former = _choice(rng, [p for p in others["person"] if p != rel["mayor"]])
        body.append(f"The former mayor, {former}, retired in {int(rng.integers(1990, 2024))}.")
        body.append(f"{name} is twinned with {_choice(rng, others['city'])}.")
        body.append(f"It lies {int(rng.integers(20, 900))} km from {_choice(rng, others['city'])}.")
    else:  # country
        intro = f"{name} is a country."
        body.append(_sentence(rng, "capital", name, short, rel["capital"]))
        body.append(f"{name} borders {_choice(rng, others['country'])}.")
        local = [c for c in w.of("city") if w.rel[c]["country"] == name]
        body.append(f"Its cities include {', '.join(local)}.")
    order = rng.permutation(len(body))
    return name, " ".join([intro] + [body[int(i)] for i in order])


def _distractor_docs(rng: np.random.Generator, w: _World, n: int) -> list[tuple[str, str]]:
    """Documents whose titles and words overlap the entity documents, with true but useless facts."""
    people, cities, companies = w.of("person"), w.of("city"), w.of("company")
    products, countries = w.of("product"), w.of("country")
    surnames: dict[str, list[str]] = {}
    for p in people:
        surnames.setdefault(p.split(" ", 1)[1], []).append(p)
    docs: dict[str, str] = {}
    kinds = ["festival", "review", "history", "family", "guide"]
    tries = 0
    while len(docs) < n and tries < 20 * n:
        tries += 1
        kind = _choice(rng, kinds)
        if kind == "festival":
            c = _choice(rng, cities)
            title = f"{c} Festival"
            text = (f"The {c} Festival takes place every summer in {c}. In {int(rng.integers(1990, 2024))} it "
                    f"was opened by {_choice(rng, people)}, and {_choice(rng, companies)} sponsored it.")
        elif kind == "review":
            p, q = rng.choice(len(products), size=2, replace=False)
            title = f"Review of the {products[int(p)]}"
            text = (f"A magazine from {_choice(rng, cities)} reviewed the {products[int(p)]}. The reviewer "
                    f"preferred it to the {products[int(q)]}, which costs more.")
        elif kind == "history":
            co = _choice(rng, companies)
            a, b = rng.choice(len(cities), size=2, replace=False)
            title = f"History of {co}"
            text = (f"In its early years {co} rented a workshop in {cities[int(a)]}. Later it opened a warehouse "
                    f"in {cities[int(b)]}. {_choice(rng, people)} wrote a book about the company.")
        elif kind == "family":
            families = [s for s, members in surnames.items() if len(members) > 1]
            if not families:
                continue
            s = _choice(rng, families)
            title = f"The {s} family"
            text = (f"The {s} family includes {' and '.join(surnames[s])}. Relatives of the family live in "
                    f"{_choice(rng, cities)}.")
        else:
            co = _choice(rng, countries)
            title = f"Travel guide to {co}"
            text = (f"Visitors to {co} often start their trip in {_choice(rng, cities)}. Many travel with a "
                    f"{_choice(rng, products)}.")
        docs.setdefault(title, text)
    return list(docs.items())


def generate_qa(seed: int, difficulty: int = 1) -> Task:
    """One ToolQA task, a function of ``(seed, difficulty)`` only.

    Args:
        seed: Non-negative task seed.
        difficulty: 1-3; the question chains ``difficulty + 1`` hops.

    Returns:
        A ``Task`` with ``tools=("search", "open")`` and ``meta`` = ``{"hops", "relations", "start",
        "start_type", "path" (the entity chain, gold last), "path_doc_ids", "answer_type"}``.
    """
    rng = task_rng("qa", seed, difficulty)
    hops = difficulty + 1
    while True:
        world = _build_world(rng, difficulty)
        walked = _walk(rng, world, hops)
        if walked is None:
            continue
        rels, path = walked
        question = _question(world, rels, path[0])
        answer = str(path[-1])
        if not mentions(question, answer):
            break
    titled = [_entity_doc(rng, world, n) for n in world.types] + _distractor_docs(rng, world, SIZES[difficulty][5])
    ids = rng.choice(np.arange(100, 10000), size=len(titled), replace=False)
    order = rng.permutation(len(titled))
    corpus = tuple(Document(f"doc{int(ids[i]):04d}", titled[int(i)][0], titled[int(i)][1]) for i in order)
    by_title = {d.title: d.doc_id for d in corpus}
    target = RELATIONS[rels[-1]][1]
    return Task(
        task_id=task_id("qa", seed, difficulty),
        family="qa",
        question=question,
        answer=answer,
        answer_format=ANSWER_FORMATS[target],
        tools=("search", "open"),
        difficulty=difficulty,
        seed=seed,
        split=split_of(seed),
        corpus=corpus,
        meta={"hops": hops, "relations": rels, "start": path[0], "start_type": world.types[path[0]],
              "path": [str(x) for x in path], "path_doc_ids": [by_title[str(x)] for x in path[:-1]],
              "answer_type": target},
    )


def _find_doc(output: str, title: str) -> str | None:
    """The doc id of the search result line whose title is exactly ``title``."""
    for line in (output or "").splitlines():
        parts = [p.strip() for p in line.split("|")]
        if len(parts) >= 2 and parts[1].lower() == title.lower():
            return parts[0]
    return None


def extract(relation: str, text: str) -> str | None:
    """Reads ``relation``'s value out of an entity document (the first template that matches)."""
    for pattern in EXTRACT.get(relation, ()):
        m = re.search(pattern, text or "")
        if m:
            return m.group(1)
    return None


#: Extra words the expert adds to a search query when the bare name does not find the document.
_TYPE_WORDS = {"product": "is a made by", "company": "company founded headquartered",
               "person": "born works", "city": "city mayor founded", "country": "country capital"}


def expert_qa(task: Task) -> Generator[ToolCall | Answer, ToolResult, None]:
    """Scripted expert: per hop, search the current entity, open its document, read the relation.

    Uses ``meta`` only for the start entity and the relation chain; every next entity (and the answer)
    is read from the opened documents.
    """
    name = str(task.meta.get("start", ""))
    kind = str(task.meta.get("start_type", ""))
    for rel in task.meta.get("relations", []):
        doc_id = None
        for query in (name, f"{name} {_TYPE_WORDS.get(kind, '')}".strip()):
            result = yield ToolCall("search", {"query": query})
            doc_id = _find_doc(result.output, name) if result.ok else None
            if doc_id is not None:
                break
        if doc_id is None:
            yield Answer(name)
            return
        result = yield ToolCall("open", {"doc_id": doc_id})
        value = extract(rel, result.output) if result.ok else None
        if value is None:
            yield Answer(name)
            return
        name, kind = value, RELATIONS.get(rel, ("", ""))[1]
    yield Answer(name)
