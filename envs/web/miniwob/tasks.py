"""The MiniWoB++ task list (no imports: the registry reads it without playwright or miniwob installed).

``TASKS`` is every task the ``miniwob`` package (1.x) registers (``miniwob.registration``): the single-page tasks
under ``html/miniwob/<task>.html`` and the three ``flight.*`` tasks (``html/flight/<site>/wrapper.html``, the site
in an iframe). Five HTML files the package ships without registering them (``button-delay``, ``chase-circle``,
``hover-shape``, ``moving-items``, ``simon-says``) are left out, as the package leaves them out.
"""

from __future__ import annotations

TASKS: tuple[str, ...] = (
    "bisect-angle", "book-flight", "book-flight-nodelay", "choose-date", "choose-date-easy", "choose-date-medium",
    "choose-date-nodelay", "choose-list", "circle-center", "click-button", "click-button-sequence",
    "click-checkboxes", "click-checkboxes-large", "click-checkboxes-soft", "click-checkboxes-transfer",
    "click-collapsible", "click-collapsible-2", "click-collapsible-2-nodelay", "click-collapsible-nodelay",
    "click-color", "click-dialog", "click-dialog-2", "click-link", "click-menu", "click-menu-2", "click-option",
    "click-pie", "click-pie-nodelay", "click-scroll-list", "click-shades", "click-shape", "click-tab", "click-tab-2",
    "click-tab-2-easy", "click-tab-2-hard", "click-tab-2-medium", "click-test", "click-test-2",
    "click-test-transfer", "click-widget", "copy-paste", "copy-paste-2", "count-shape", "count-sides", "drag-box",
    "drag-circle", "drag-cube", "drag-items", "drag-items-grid", "drag-shapes", "drag-sort-numbers", "email-inbox",
    "email-inbox-delete", "email-inbox-forward", "email-inbox-forward-nl", "email-inbox-forward-nl-turk",
    "email-inbox-important", "email-inbox-nl-turk", "email-inbox-noscroll", "email-inbox-reply",
    "email-inbox-star-reply", "enter-date", "enter-password", "enter-text", "enter-text-2", "enter-text-dynamic",
    "enter-time", "find-midpoint", "find-word", "focus-text", "focus-text-2", "grid-coordinate", "guess-number",
    "highlight-text", "highlight-text-2", "identify-shape", "login-user", "login-user-popup", "multi-layouts",
    "multi-orderings", "navigate-tree", "number-checkboxes", "read-table", "read-table-2", "resize-textarea",
    "right-angle", "scroll-text", "scroll-text-2", "search-engine", "simple-algebra", "simple-arithmetic",
    "social-media", "social-media-all", "social-media-some", "terminal", "text-editor", "text-transform",
    "tic-tac-toe", "unicode-test", "use-autocomplete", "use-autocomplete-nodelay", "use-colorwheel",
    "use-colorwheel-2", "use-slider", "use-slider-2", "use-spinner", "visual-addition", "flight.Alaska",
    "flight.Alaska-auto", "flight.AA", "ascending-numbers", "buy-ticket", "daily-calendar", "drag-shapes-2",
    "drag-single-shape", "draw-circle", "draw-line", "find-greatest", "form-sequence", "form-sequence-2",
    "form-sequence-3", "generate-number", "hot-cold", "odd-or-even", "order-food", "phone-book", "sign-agreement",
    "stock-market",
)


def class_name(task: str) -> str:
    """The env class of a task (``click-button`` -> ``MiniWoBClickButtonEnv``, ``flight.AA`` -> ``…FlightAAEnv``)."""
    words = task.replace(".", "-").split("-")
    return "MiniWoB" + "".join(w[:1].upper() + w[1:] for w in words) + "Env"


def env_id(task: str) -> str:
    """The registered id of a task (``turngym/MiniWoB-click-button-v0``)."""
    return f"turngym/MiniWoB-{task}-v0"


def page_path(task: str) -> str:
    """The task page's path under the package's ``html`` directory."""
    if task.startswith("flight."):
        return "flight/" + task.split(".", 1)[1] + "/wrapper.html"
    return f"miniwob/{task}.html"
