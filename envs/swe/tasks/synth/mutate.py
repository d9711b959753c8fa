"""Procedural bug synthesis: small, seeded edits of one function of a library's source, located with ``ast``.

Each candidate is one ``Mutation``: a character span of the original file and the text that replaces it. The
span comes from the AST node's position (and, for operators, from the token between the operands), so the edit
is minimal and every other byte of the file stays as it was (no ``ast.unparse``, which would reformat the
whole file and make the diff useless). Operators (SWE-smith's procedural modifiers, plus dropped statements):

==================  ==============================================================================
``binary_op``       ``+`` <-> ``-``, ``*`` <-> ``//``, ``/`` -> ``//``, ``&`` <-> ``|``, ``<<`` <-> ``>>``
``aug_assign``      ``+=`` <-> ``-=``, ``|=`` <-> ``&=``
``comparison``      ``<`` <-> ``<=``, ``>`` <-> ``>=``, ``==`` <-> ``!=``, ``in`` <-> ``not in``, ``is`` <-> ``is not``
``boolean_op``      ``and`` <-> ``or`` (one of the operators of the expression)
``remove_not``      ``not x`` -> ``x``
``off_by_one``      an integer literal ``n`` -> ``n + 1`` or ``n - 1``
``slice_bound``     a slice bound ``x[:i]`` -> ``x[:i + 1]`` / ``x[:i - 1]`` (names, attributes, calls)
``constant_bool``   ``True`` <-> ``False``
``remove_branch``   the body of an ``if`` -> ``pass``
``remove_elif``     an ``elif`` clause dropped (the clauses after it kept)
``remove_return``   ``return x`` -> ``return``
``swap_args``       two adjacent positional arguments of a call swapped
``drop_statement``  one statement (assignment, call, return, raise, ...) removed
==================  ==============================================================================

Candidates are enumerated in file order; ``sample`` orders them with a ``random.Random(seed)`` (never the
global RNG), so the same seed gives the same candidates in the same order on every machine.
"""

from __future__ import annotations

import ast
import bisect
import difflib
import io
import random
import tokenize
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

OPERATORS = ("binary_op", "aug_assign", "comparison", "boolean_op", "remove_not", "off_by_one", "slice_bound",
             "constant_bool", "remove_branch", "remove_elif", "remove_return", "swap_args", "drop_statement")

_BINOP_FLIP = {ast.Add: ("+", "-"), ast.Sub: ("-", "+"), ast.Mult: ("*", "//"), ast.FloorDiv: ("//", "*"),
               ast.Div: ("/", "//"), ast.BitAnd: ("&", "|"), ast.BitOr: ("|", "&"), ast.LShift: ("<<", ">>"),
               ast.RShift: (">>", "<<")}
_AUG_FLIP = {ast.Add: ("+=", "-="), ast.Sub: ("-=", "+="), ast.BitOr: ("|=", "&="), ast.BitAnd: ("&=", "|=")}
_CMP_FLIP = {ast.Lt: ("<", "<="), ast.LtE: ("<=", "<"), ast.Gt: (">", ">="), ast.GtE: (">=", ">"),
             ast.Eq: ("==", "!="), ast.NotEq: ("!=", "=="), ast.In: ("in", "not in"), ast.NotIn: ("not in", "in"),
             ast.Is: ("is", "is not"), ast.IsNot: ("is not", "is")}
#: Statements ``drop_statement`` may remove (definitions, imports and compound statements are left alone).
_DROPPABLE = (ast.Assign, ast.AugAssign, ast.AnnAssign, ast.Expr, ast.Return, ast.Raise, ast.Delete,
              ast.Continue, ast.Break)
#: Slice bounds ``slice_bound`` shifts: atoms, so ``i + 1`` needs no parentheses.
_ATOMS = (ast.Name, ast.Attribute, ast.Call, ast.Subscript)


@dataclass(frozen=True)
class Mutation:
    """One candidate bug: replace ``source[start:end]`` of ``path`` by ``replacement``.

    Attributes:
        path: The file, relative to the tree (posix).
        function: Qualified name of the function the edit is in (``Class.method``, ``outer.inner``).
        operator: One of ``OPERATORS``.
        start: Character offset where the replaced span starts.
        end: Character offset where it ends (exclusive).
        replacement: The new text of the span.
        line: 1-based line of ``start`` (for reports).
    """

    path: str
    function: str
    operator: str
    start: int
    end: int
    replacement: str
    line: int

    def apply(self, source: str) -> str:
        """``source`` with the span replaced (``source`` must be the file the mutation was found in)."""
        return source[: self.start] + self.replacement + source[self.end:]


class _Positions:
    """Converts ``ast``'s (line, UTF-8 byte column) and tokenize's (line, character column) to string offsets."""

    def __init__(self, source: str):
        self.source = source
        self.starts = [0]
        for i, ch in enumerate(source):
            if ch == "\n":
                self.starts.append(i + 1)
        self._lines = source.split("\n")

    def char(self, lineno: int, col: int) -> int:
        """Offset of a tokenize position (character column)."""
        return self.starts[lineno - 1] + col

    def byte(self, lineno: int, col: int) -> int:
        """Offset of an ``ast`` position (the column counts UTF-8 bytes)."""
        line = self._lines[lineno - 1]
        return self.starts[lineno - 1] + len(line.encode("utf-8")[:col].decode("utf-8", errors="ignore"))

    def span(self, node: ast.AST) -> tuple[int, int]:
        """``(start, end)`` offsets of a node."""
        return self.byte(node.lineno, node.col_offset), self.byte(node.end_lineno, node.end_col_offset)

    def line_of(self, offset: int) -> int:
        """1-based line of an offset."""
        return bisect.bisect_right(self.starts, offset)


@dataclass(frozen=True)
class _Tok:
    start: int
    end: int
    string: str


class _Finder:
    """Enumerates the candidates of one file (see the module docstring for the operators)."""

    def __init__(self, source: str, path: str):
        self.source = source
        self.path = path
        self.pos = _Positions(source)
        self.toks: list[_Tok] = []
        for tok in tokenize.generate_tokens(io.StringIO(source).readline):
            if tok.type in (tokenize.OP, tokenize.NAME):
                self.toks.append(_Tok(self.pos.char(*tok.start), self.pos.char(*tok.end), tok.string))
        self._tok_starts = [t.start for t in self.toks]
        self.out: list[Mutation] = []

    # -- helpers ---------------------------------------------------------------------------------------------
    def _tokens(self, lo: int, hi: int) -> list[_Tok]:
        """Tokens (operators and names) lying wholly inside ``[lo, hi)``."""
        i = bisect.bisect_left(self._tok_starts, lo)
        out = []
        while i < len(self.toks) and self.toks[i].end <= hi:
            out.append(self.toks[i])
            i += 1
        return out

    def _op_between(self, left: ast.AST, right: ast.AST, words: Sequence[str]) -> tuple[int, int] | None:
        """Span of the operator spelled ``words`` (one or two tokens) between two operands, if it is there alone."""
        lo = self.pos.span(left)[1]
        hi = self.pos.span(right)[0]
        toks = [t for t in self._tokens(lo, hi) if t.string not in "()"]
        if [t.string for t in toks] != list(words):
            return None
        return toks[0].start, toks[-1].end

    def _add(self, function: str, operator: str, start: int, end: int, replacement: str) -> None:
        if self.source[start:end] != replacement:
            self.out.append(Mutation(self.path, function, operator, start, end, replacement, self.pos.line_of(start)))

    def _line_is_own(self, node: ast.stmt) -> bool:
        """The statement starts its first line and nothing but a comment follows it on its last line."""
        start, end = self.pos.span(node)
        line_start = self.pos.starts[node.lineno - 1]
        if self.source[line_start:start].strip():
            return False
        rest = self.source[end:].split("\n", 1)[0].strip()
        return not rest or rest.startswith("#")

    def _whole_lines(self, first: int, last: int) -> tuple[int, int]:
        """Span of lines ``first``..``last`` (1-based, inclusive) including the last line's newline."""
        start = self.pos.starts[first - 1]
        end = self.pos.starts[last] if last < len(self.pos.starts) else len(self.source)
        return start, end

    # -- traversal -------------------------------------------------------------------------------------------
    def run(self, tree: ast.Module) -> list[Mutation]:
        self._scope(tree.body, prefix="", function=None)
        return self.out

    def _scope(self, body: Iterable[ast.stmt], prefix: str, function: str | None) -> None:
        """Visits statements; only those inside a function body (``function`` set) yield candidates."""
        for stmt in body:
            if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):
                qual = f"{prefix}{stmt.name}"
                inner = stmt.body
                if (inner and isinstance(inner[0], ast.Expr) and isinstance(inner[0].value, ast.Constant)
                        and isinstance(inner[0].value.value, str)):
                    inner = inner[1:]  # the docstring is documentation, not behaviour
                self._block(stmt.body, qual, skip_first=len(inner) != len(stmt.body))
                self._scope(inner, prefix=f"{qual}.", function=qual)
            elif isinstance(stmt, ast.ClassDef):
                self._scope(stmt.body, prefix=f"{prefix}{stmt.name}.", function=None)
            elif function is not None:
                self._statement(stmt, function)
                for child_body in _child_blocks(stmt):
                    self._block(child_body, function)
                    self._scope(child_body, prefix, function)
            else:
                for child_body in _child_blocks(stmt):  # e.g. functions defined under ``if sys.version...``
                    self._scope(child_body, prefix, None)

    def _block(self, body: list[ast.stmt], function: str, skip_first: bool = False) -> None:
        """Statement-list operators: ``drop_statement`` on each droppable statement of one block."""
        for i, stmt in enumerate(body):
            if (skip_first and i == 0) or not isinstance(stmt, _DROPPABLE) or not self._line_is_own(stmt):
                continue
            if isinstance(stmt, ast.Expr) and not isinstance(stmt.value, (ast.Call, ast.Await, ast.Yield)):
                continue  # a bare constant or name does nothing
            if len(body) == 1 or (len(body) == 2 and skip_first):
                start, end = self.pos.span(stmt)
                self._add(function, "drop_statement", start, end, "pass")
            else:
                start, end = self._whole_lines(stmt.lineno, stmt.end_lineno)
                self._add(function, "drop_statement", start, end, "")

    def _statement(self, stmt: ast.stmt, function: str) -> None:
        """Statement-level operators, then the expression operators of the statement's own expressions."""
        if isinstance(stmt, ast.If) and not _is_guard(stmt.test):
            body = stmt.body
            if not (len(body) == 1 and isinstance(body[0], ast.Pass)):
                start = self.pos.span(body[0])[0]
                end = self.pos.span(body[-1])[1]
                self._add(function, "remove_branch", start, end, "pass")
            if len(stmt.orelse) == 1 and isinstance(stmt.orelse[0], ast.If):
                elif_ = stmt.orelse[0]
                start = self.pos.byte(elif_.lineno, elif_.col_offset)
                if self.source.startswith("elif", start) and self._line_is_own(elif_.body[-1]) and \
                        not self.source[self.pos.starts[elif_.lineno - 1]:start].strip():
                    # the clauses after it (elif/else) then follow the ``if`` directly, which is still valid
                    lo, hi = self._whole_lines(elif_.lineno, elif_.body[-1].end_lineno)
                    self._add(function, "remove_elif", lo, hi, "")
        if isinstance(stmt, ast.Return) and stmt.value is not None and not _is_none(stmt.value):
            keyword_end = self.pos.byte(stmt.lineno, stmt.col_offset) + len("return")
            self._add(function, "remove_return", keyword_end, self.pos.span(stmt)[1], "")
        if isinstance(stmt, ast.AugAssign) and type(stmt.op) in _AUG_FLIP:
            old, new = _AUG_FLIP[type(stmt.op)]
            span = self._op_between(stmt.target, stmt.value, [old])
            if span:
                self._add(function, "aug_assign", *span, new)
        for expr in _own_expressions(stmt):
            for node in _walk_expr(expr):
                self._expression(node, function)

    def _expression(self, node: ast.AST, function: str) -> None:
        if isinstance(node, ast.BinOp) and type(node.op) in _BINOP_FLIP:
            old, new = _BINOP_FLIP[type(node.op)]
            span = self._op_between(node.left, node.right, [old])
            if span:
                self._add(function, "binary_op", *span, new)
        elif isinstance(node, ast.Compare):
            operands = [node.left, *node.comparators]
            for op, left, right in zip(node.ops, operands, operands[1:], strict=False):
                old, new = _CMP_FLIP[type(op)]
                span = self._op_between(left, right, old.split())
                if span:
                    self._add(function, "comparison", *span, new)
        elif isinstance(node, ast.BoolOp):
            old, new = ("and", "or") if isinstance(node.op, ast.And) else ("or", "and")
            for left, right in zip(node.values, node.values[1:], strict=False):
                span = self._op_between(left, right, [old])
                if span:
                    self._add(function, "boolean_op", *span, new)
        elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
            start, _ = self.pos.span(node)
            operand_start = self.pos.span(node.operand)[0]
            toks = self._tokens(start, operand_start)
            if toks and toks[0].string == "not":
                nxt = self._tokens(toks[0].end, operand_start + 1)
                self._add(function, "remove_not", start, nxt[0].start if nxt else operand_start, "")
        elif isinstance(node, ast.Constant) and type(node.value) is bool:
            self._add(function, "constant_bool", *self.pos.span(node), str(not node.value))
        elif isinstance(node, ast.Constant) and type(node.value) is int:
            start, end = self.pos.span(node)
            for delta in (1, -1):
                if node.value + delta >= 0:
                    self._add(function, "off_by_one", start, end, str(node.value + delta))
        elif isinstance(node, ast.Slice):
            for bound in (node.lower, node.upper):
                if isinstance(bound, _ATOMS):
                    start, end = self.pos.span(bound)
                    text = self.source[start:end]
                    if "\n" not in text:
                        for sign in ("+", "-"):
                            self._add(function, "slice_bound", start, end, f"{text} {sign} 1")
        elif isinstance(node, ast.Call):
            args = node.args
            if len(args) >= 2 and not any(isinstance(a, ast.Starred) for a in args):
                for a, b in zip(args, args[1:], strict=False):
                    a_start, a_end = self.pos.span(a)
                    b_start, b_end = self.pos.span(b)
                    gap = self.source[a_end:b_start]
                    a_text, b_text = self.source[a_start:a_end], self.source[b_start:b_end]
                    if gap.strip() == "," and a_text != b_text:
                        self._add(function, "swap_args", a_start, b_end, b_text + gap + a_text)


def _is_none(node: ast.AST) -> bool:
    return isinstance(node, ast.Constant) and node.value is None


def _is_guard(test: ast.AST) -> bool:
    """``if TYPE_CHECKING`` / ``if __name__ == ...`` / version checks: not logic a test exercises."""
    text = ast.dump(test)
    return any(word in text for word in ("TYPE_CHECKING", "__name__", "version_info", "PY3", "PY2"))


def _child_blocks(stmt: ast.stmt) -> Iterator[list[ast.stmt]]:
    """The statement lists nested in a compound statement (bodies, else, finally, except handlers, cases)."""
    for name in ("body", "orelse", "finalbody"):
        block = getattr(stmt, name, None)
        if isinstance(block, list) and block and isinstance(block[0], ast.stmt):
            yield block  # an ``elif`` is an ``If`` alone in ``orelse``: visited like any other statement
    for handler in getattr(stmt, "handlers", ()):
        yield handler.body
    for case in getattr(stmt, "cases", ()):
        yield case.body


def _own_expressions(stmt: ast.stmt) -> Iterator[ast.AST]:
    """The expressions that belong to ``stmt`` itself (not to nested statements, annotations or decorators)."""
    for name, value in ast.iter_fields(stmt):
        if name in ("body", "orelse", "finalbody", "handlers", "cases", "annotation", "returns",
                    "decorator_list", "type_comment"):
            continue
        values = value if isinstance(value, list) else [value]
        for v in values:
            if isinstance(v, ast.expr):
                yield v
            elif isinstance(v, ast.withitem):
                yield v.context_expr


def _walk_expr(expr: ast.AST) -> Iterator[ast.AST]:
    """Every node of an expression, but not inside f-strings (node positions there are unreliable before 3.12)."""
    todo = [expr]
    while todo:
        node = todo.pop()
        yield node
        if isinstance(node, ast.JoinedStr):
            continue
        todo.extend(reversed(list(ast.iter_child_nodes(node))))


def candidates(source: str, path: str) -> list[Mutation]:
    r"""Every candidate mutation of ``source`` (the text of ``path``), in file order, without duplicates.

    Cheap: positions only. Whether an edit leaves valid Python that differs from the original is checked per
    candidate by ``effective`` (parsing the file once per candidate is too slow to do for thousands). Files
    with a lone ``\r`` line break are skipped: ``ast`` and ``tokenize`` count their lines differently.
    """
    if "\r" in source.replace("\r\n", ""):
        return []
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []
    return sorted(set(_Finder(source, path).run(tree)), key=lambda m: (m.start, m.end, m.operator, m.replacement))


def effective(mutation: Mutation, source: str) -> bool:
    """The edit leaves valid Python whose AST differs from the original (a real change, not a reformatting)."""
    try:
        mutated = ast.parse(mutation.apply(source))
    except SyntaxError:
        return False
    return ast.dump(mutated) != ast.dump(ast.parse(source))


def sample(mutations: Sequence[Mutation], seed: int) -> list[Mutation]:
    """The candidates in a seeded order that spreads operators: round-robin over operators, each shuffled.

    Operators with many sites (``off_by_one``) would otherwise crowd out the rare ones (``remove_elif``).
    """
    rng = random.Random(seed)
    by_op: dict[str, list[Mutation]] = {}
    for m in mutations:
        by_op.setdefault(m.operator, []).append(m)
    queues = []
    for op in sorted(by_op):
        items = list(by_op[op])
        rng.shuffle(items)
        queues.append(items)
    order: list[Mutation] = []
    while any(queues):
        for q in queues:
            if q:
                order.append(q.pop())
    return order


def unified_diff(path: str, before: str, after: str) -> str:
    r"""A ``git apply``-able unified diff (``a/``, ``b/`` prefixes, 3 lines of context) from ``before`` to ``after``.

    A last line without a newline gets git's ``\ No newline at end of file`` marker.
    """
    lines = []
    for line in difflib.unified_diff(before.splitlines(keepends=True), after.splitlines(keepends=True),
                                     fromfile=f"a/{path}", tofile=f"b/{path}", n=3):
        lines.append(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n")
    if not lines:
        return ""
    return f"diff --git a/{path} b/{path}\n" + "".join(lines)


def lines_changed(diff: str) -> int:
    """Lines removed plus lines added by a unified diff (headers excluded)."""
    return sum(1 for line in diff.splitlines()
               if line[:1] in "+-" and not line.startswith(("+++ ", "--- ")))
