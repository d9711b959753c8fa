"""Scripted MiniWoB++ solvers that read the observation text and answer with action strings.

A solver sees exactly what an agent sees — the ``Instruction:`` line and the accessibility tree with ids — and
returns one BrowserGym-style call; it never touches the DOM. It is stateless (it reads progress from the tree:
checked boxes, text box values) except where a task leaves no trace in the page (``click-button-sequence``), where
it counts the episode's turns from ``info["turn"]``. Success rates over 50 seeds per task are measured by
``benchmarks/web_browser.py --solvers`` and reported in the README.

This module imports nothing from playwright: the registry reads ``SOLVERS`` to declare experts.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from turngym.envs.core.errors import ConfigError

_LINE = re.compile(r"^(\t*)(?:\[([A-Za-z]{0,3}\d+)\] )?([^\s,]+)(?: '((?:[^'\\]|\\.)*)'| \"((?:[^\"\\]|\\.)*)\")?(.*)$")


@dataclass(frozen=True)
class Node:
    """One line of the tree: depth, id (None for text), role, name and the properties after the name."""

    depth: int
    bid: str | None
    role: str
    name: str
    props: str

    def value(self) -> str:
        """The ``value='...'`` property, or ''."""
        m = re.search(r"value=(['\"])(.*?)\1(?:,|$)", self.props)
        return m.group(2) if m else ""

    @property
    def checked(self) -> bool:
        """Checked (ours prints ``checked``; BrowserGym's flattening prints ``checked='true'``/``'false'``)."""
        return re.search(r"\bchecked(?!='false')", self.props) is not None


def parse_tree(observation: str) -> tuple[str, list[Node]]:
    """(instruction, nodes) of an observation."""
    instruction, nodes = "", []
    for line in observation.splitlines():
        if line.startswith("Instruction: "):
            instruction = line[len("Instruction: "):]
            continue
        m = _LINE.match(line)
        if m is None or line.startswith("Invalid action"):
            continue
        tabs, bid, role, name1, name2, props = m.groups()
        name = name1 if name1 is not None else (name2 or "")
        nodes.append(Node(len(tabs), bid, role, name.replace("\\'", "'"), props))
    return instruction, nodes


def _quoted(instruction: str) -> list[str]:
    return re.findall(r'"([^"]*)"', instruction)


def _first(nodes: list[Node], role: str, name: str | None = None) -> Node | None:
    return next((n for n in nodes if n.role == role and n.bid and (name is None or n.name == name)), None)


def _click(node: Node | None) -> str:
    return f"click({node.bid!r})" if node is not None else "noop()"


def _submit(nodes: list[Node], label: str = "Submit") -> str:
    node = next((n for n in nodes if n.role == "button" and n.name.lower() == label.lower()), None)
    return _click(node or _first(nodes, "button"))


def _filled(box: Node, text: str) -> bool:
    """Whether a text box holds ``text`` (a password box shows one bullet per character instead)."""
    value = box.value()
    return value == text or (len(value) == len(text) > 0 and set(value) == {"\u2022"})


def _fill_then_submit(nodes: list[Node], texts: list[str], submit: str) -> str:
    boxes = [n for n in nodes if n.role == "textbox"]
    for box, text in zip(boxes, texts, strict=False):
        if not _filled(box, text):
            return f"fill({box.bid!r}, {text!r})"
    return _submit(nodes, submit)


def _holder(nodes: list[Node], k: int) -> Node | None:
    """The nearest node with an id above node ``k`` and shallower than it (the element a text belongs to)."""
    depth = nodes[k].depth
    for j in range(k - 1, -1, -1):
        if nodes[j].depth < depth and nodes[j].bid:
            return nodes[j]
    return None


# ------------------------------------------------------------------ one solver per task
def _click_button(instruction: str, nodes: list[Node], turn: int) -> str:
    return _click(_first(nodes, "button", _quoted(instruction)[0]))


def _click_link(instruction: str, nodes: list[Node], turn: int) -> str:
    target = _quoted(instruction)[0]
    link = _first(nodes, "link", target)
    if link is not None:
        return _click(link)
    for k, n in enumerate(nodes):
        if n.role == "StaticText" and n.name == target:
            return _click(_holder(nodes, k))
    return "noop()"


def _enter_text(instruction: str, nodes: list[Node], turn: int) -> str:
    return _fill_then_submit(nodes, [_quoted(instruction)[0]], "Submit")


def _enter_text_2(instruction: str, nodes: list[Node], turn: int) -> str:
    text = _quoted(instruction)[0]
    text = text.upper() if "upper case" in instruction else text.lower()
    return _fill_then_submit(nodes, [text], "Submit")


def _enter_password(instruction: str, nodes: list[Node], turn: int) -> str:
    password = _quoted(instruction)[0]
    return _fill_then_submit(nodes, [password, password], "Submit")


def _login_user(instruction: str, nodes: list[Node], turn: int) -> str:
    user, password = _quoted(instruction)[:2]
    return _fill_then_submit(nodes, [user, password], "Login")


def _focus_text(instruction: str, nodes: list[Node], turn: int) -> str:
    return _click(_first(nodes, "textbox"))


_ORDINAL = {"1st": 0, "2nd": 1, "3rd": 2, "4th": 3, "5th": 4}


def _focus_text_2(instruction: str, nodes: list[Node], turn: int) -> str:
    m = re.search(r"(\d+(?:st|nd|rd|th))", instruction)
    boxes = [n for n in nodes if n.role == "textbox"]
    k = _ORDINAL.get(m.group(1), 0) if m else 0
    return _click(boxes[k] if k < len(boxes) else None)


def _wanted(instruction: str) -> set[str]:
    m = re.search(r"Select (.*) and click Submit", instruction)
    body = (m.group(1) if m else "").strip()
    if body in ("", "nothing"):
        return set()
    return {w.strip() for w in re.split(r",|\band\b", body) if w.strip()}


def _click_checkboxes(instruction: str, nodes: list[Node], turn: int) -> str:
    wanted = _wanted(instruction)
    for n in nodes:
        if n.role == "checkbox" and n.bid and (n.name in wanted) != n.checked:
            return _click(n)
    return _submit(nodes)


def _click_option(instruction: str, nodes: list[Node], turn: int) -> str:
    wanted = _wanted(instruction)
    radio = next((n for n in nodes if n.role == "radio" and n.name in wanted), None)
    if radio is not None and not radio.checked:
        return _click(radio)
    return _submit(nodes)


def _choose_list(instruction: str, nodes: list[Node], turn: int) -> str:
    m = re.search(r"Select (.*) from the list", instruction)
    target = m.group(1).strip() if m else ""
    box = _first(nodes, "combobox")
    if box is not None and box.value() != target:
        return f"select_option({box.bid!r}, {target!r})"
    return _submit(nodes)


def _click_dialog(instruction: str, nodes: list[Node], turn: int) -> str:
    return _click(_first(nodes, "button", "Close"))


def _click_dialog_2(instruction: str, nodes: list[Node], turn: int) -> str:
    label = _quoted(instruction)[0]
    return _click(_first(nodes, "button", "Close" if label == "x" else label))


def _click_tab(instruction: str, nodes: list[Node], turn: int) -> str:
    m = re.search(r"Tab #(\d+)", instruction)
    name = f"Tab #{m.group(1)}" if m else ""
    return _click(_first(nodes, "link", name) or _first(nodes, "tab", name))


def _click_test(instruction: str, nodes: list[Node], turn: int) -> str:
    return _click(_first(nodes, "button"))


def _click_test_2(instruction: str, nodes: list[Node], turn: int) -> str:
    m = re.search(r"button (\w+)", instruction)
    return _press_enter(_first(nodes, "button", m.group(1) if m else None))


def _press_enter(node: Node | None) -> str:
    """Enter on a button clicks exactly that button (a pointer click may hit another button placed over it)."""
    return f"press({node.bid!r}, 'Enter')" if node is not None else "noop()"


def _click_button_sequence(instruction: str, nodes: list[Node], turn: int) -> str:
    # The two buttons are placed at random and may overlap (so may click-test-2's).
    return _press_enter(_first(nodes, "button", "ONE" if turn == 0 else "TWO"))


#: task -> ``solver(instruction, nodes, turn) -> action``.
SOLVERS: dict[str, Callable[[str, list[Node], int], str]] = {
    "click-button": _click_button, "click-link": _click_link, "enter-text": _enter_text, "enter-text-2": _enter_text_2,
    "enter-password": _enter_password, "login-user": _login_user, "focus-text": _focus_text,
    "focus-text-2": _focus_text_2, "click-checkboxes": _click_checkboxes, "click-option": _click_option,
    "choose-list": _choose_list, "click-dialog": _click_dialog, "click-dialog-2": _click_dialog_2,
    "click-tab": _click_tab, "click-test": _click_test, "click-test-2": _click_test_2,
    "click-button-sequence": _click_button_sequence,
}


def solve(task: str, observation: str, turn: int = 0) -> str:
    """The solver's action for an observation of ``task`` (``turn``: actions taken so far this episode).

    Raises:
        ConfigError: The task has no solver.
    """
    if task not in SOLVERS:
        raise ConfigError("MiniWoB task", "a task with a scripted solver", task, SOLVERS)
    instruction, nodes = parse_tree(observation)
    try:
        return SOLVERS[task](instruction, nodes, turn)
    except (IndexError, AttributeError):  # an instruction the solver does not understand: do nothing this turn
        return "noop()"


def miniwob_expert(env_id: str, seed: int | None = None,
                   env_kwargs: dict[str, Any] | None = None) -> Callable[[Any, Any, dict[str, Any]], str]:
    """``EnvInfo.expert`` factory of the MiniWoB++ ids with a solver: ``act(env, observation, info) -> str``.

    The expert reads only the observation (and the turn count), never the page.
    """
    task = env_id.split("/", 1)[-1].removeprefix("MiniWoB-").rsplit("-v", 1)[0]
    if task not in SOLVERS:
        raise ConfigError("expert env id", "a MiniWoB++ id with a scripted solver",
                          env_id, [f"turngym/MiniWoB-{t}-v0" for t in SOLVERS])

    def act(env: Any, observation: Any = None, info: dict[str, Any] | None = None) -> str:
        return solve(task, str(observation or ""), int((info or {}).get("turn", 0)))

    return act
