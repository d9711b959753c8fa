r"""Chromium's accessibility tree as text with element ids, in BrowserGym's convention.

Every element of the page gets an id stamped into the DOM as a ``bid`` attribute (``stamp_ids``; child frames get
a letter prefix, ``a12``), the way BrowserGym marks elements, so an action names its target by id and the id
stays on the element while the page lives. The tree itself is Chromium's own (CDP ``Accessibility.getFullAXTree``:
computed roles and accessible names), joined to the ids through ``DOMSnapshot.captureSnapshot`` (backend node id ->
``bid`` attribute), and printed one node a line, indented by depth::

    RootWebArea 'Click Button Task', focused
    \t[14] button 'Submit'
    \tStaticText 'Click the button.'

Nodes the tree marks ignored (hidden, ``aria-hidden``) are left out with their subtrees' ignored parts; unnamed
``generic``/``none`` containers are left out but their children are kept, unless Chromium reports them clickable
(``DOMSnapshot`` ``isClickable``: a ``<span onclick>``), which BrowserGym marks the same way; a ``StaticText`` that
repeats its parent's name (or a text box's value) is left out (BrowserGym's ``remove_redundant_static_text``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

#: JavaScript: stamps a ``bid`` on every element of the document that has none. Ids are ``prefix + counter``; the
#: counter lives on the window, so elements created later get fresh ids and old ids never move.
STAMP_JS = """(prefix) => {
  if (window.__tgNextBid === undefined) window.__tgNextBid = 1;
  const els = document.querySelectorAll('*:not([bid])');
  for (const el of els) el.setAttribute('bid', prefix + String(window.__tgNextBid++));
  return els.length;
}"""

#: Roles an agent acts on: their ids are offered as example actions, and solvers look for them.
INTERACTIVE = frozenset({
    "button", "link", "checkbox", "radio", "textbox", "searchbox", "combobox", "listbox", "option", "MenuListOption",
    "menuitem", "menuitemcheckbox", "menuitemradio", "tab", "spinbutton", "slider", "switch", "treeitem",
    "ListBoxOption", "PopUpButton", "MenuListPopup",
})
_SKIP = frozenset({"InlineTextBox", "LineBreak", "none", "presentation", "Ignored"})
_FLAGS = ("focused", "required", "disabled", "readonly", "multiselectable")
_VALUED = ("checked", "selected", "expanded", "pressed")
#: Longest name or value printed for one node (a page may hold megabytes of text).
MAX_NAME_CHARS = 300


@dataclass(frozen=True)
class Element:
    """One element of the observation: its id, role and accessible name."""

    bid: str
    role: str
    name: str
    props: tuple[str, ...] = ()


@dataclass
class Tree:
    """The printed tree and the elements it names (by id, in page order)."""

    text: str
    elements: dict[str, Element] = field(default_factory=dict)


def bid_map(snapshot: dict[str, Any]) -> tuple[dict[int, str], set[int]]:
    """The ids and the clickable nodes of a ``DOMSnapshot.captureSnapshot`` result (every document).

    Returns:
        backend node id -> ``bid`` attribute, and the backend node ids Chromium reports as clickable (a click
        listener, or a link).
    """
    strings = snapshot.get("strings", [])
    try:
        bid_index = strings.index("bid")
    except ValueError:
        return {}, set()
    out: dict[int, str] = {}
    clickable: set[int] = set()
    for doc in snapshot.get("documents", []):
        nodes = doc.get("nodes", {})
        backends = nodes.get("backendNodeId", [])
        for backend, attrs in zip(backends, nodes.get("attributes", []), strict=False):
            for k in range(0, len(attrs) - 1, 2):
                if attrs[k] == bid_index:
                    out[backend] = strings[attrs[k + 1]]
                    break
        for k in nodes.get("isClickable", {}).get("index", []):
            if 0 <= k < len(backends):
                clickable.add(backends[k])
    return out, clickable


def _clip(text: str) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= MAX_NAME_CHARS else text[:MAX_NAME_CHARS] + "…"


def _props(node: dict[str, Any]) -> tuple[str, ...]:
    out = []
    value = node.get("value", {}).get("value")
    if value not in (None, ""):
        out.append(f"value={_clip(value)!r}")
    for prop in node.get("properties", []):
        name, val = prop.get("name"), prop.get("value", {}).get("value")
        if name in _FLAGS and val:
            out.append(name)
        elif name in _VALUED and val not in (None, "false", False):
            out.append(f"{name}={val!r}" if not isinstance(val, bool) else name)
    return tuple(out)


def render(frames: list[tuple[list[dict[str, Any]], str | None]], bids: dict[int, str],
           clickable: set[int] = frozenset()) -> Tree:
    """Prints the trees of the page's frames (the main frame first) as one text.

    Args:
        frames: Per frame, the ``nodes`` of ``Accessibility.getFullAXTree`` and the bid of the ``<iframe>``
            element that holds it (None for the main frame): a child frame is printed under its ``<iframe>``.
        bids: backend node id -> bid (``bid_map``).
        clickable: Backend node ids with a click listener: an unnamed container among them is printed
            (``[15] generic, clickable``) so that a ``<span onclick>`` can be clicked by id.

    Returns:
        The text and the elements it names.
    """
    tree = Tree("")
    lines: list[str] = []
    children_of_iframe: dict[str, list[dict[str, Any]]] = {}
    for nodes, host in frames[1:]:
        if host is not None:
            children_of_iframe[host] = nodes
    if not frames:
        return tree

    def walk(nodes: list[dict[str, Any]]) -> None:
        by_id = {n["nodeId"]: n for n in nodes}
        roots = [n for n in nodes if not n.get("parentId") or n.get("parentId") not in by_id]
        stack: list[tuple[dict[str, Any], int, str]] = [(r, 0, "") for r in reversed(roots)]
        while stack:
            node, depth, parent_name = stack.pop()
            role = str(node.get("role", {}).get("value", ""))
            name = _clip(node.get("name", {}).get("value", "") or "")
            bid = bids.get(node.get("backendDOMNodeId", -1))
            props = _props(node)
            if node.get("backendDOMNodeId") in clickable and role not in INTERACTIVE:
                props = ("clickable", *props)
            shown = not node.get("ignored") and role not in _SKIP
            if role in ("generic", "paragraph", "group", "Section", "div") and not name and not props:
                shown = False
            if role == "StaticText" and (not name or name == parent_name):
                shown = False
            child_depth = depth
            if shown:
                head = f"[{bid}] " if bid is not None and role != "StaticText" else ""
                text = f"{role} {name!r}" if name else role
                lines.append("\t" * depth + head + text + (", " + ", ".join(props) if props else ""))
                if bid is not None and role != "StaticText":
                    tree.elements[bid] = Element(bid, role, name, props)
                child_depth = depth + 1
            if bid is not None and bid in children_of_iframe:
                sub = children_of_iframe.pop(bid)
                walk_at = len(lines)
                walk(sub)
                lines[walk_at:] = ["\t" * child_depth + ln for ln in lines[walk_at:]]
            kids = [by_id[c] for c in node.get("childIds", []) if c in by_id]
            value = _clip(node.get("value", {}).get("value", "") or "")
            next_parent = (name or value if role != "RootWebArea" else "") if shown else parent_name
            stack.extend((k, child_depth, next_parent) for k in reversed(kids))

    walk(frames[0][0])
    tree.text = "\n".join(lines)
    return tree
