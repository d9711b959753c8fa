"""Web navigation: a WebShop-compatible shop (text and real-browser front ends) and the MiniWoB++ tasks.

``turngym.envs.web.shop`` registers the shop ids, ``turngym.envs.web.miniwob`` one id per MiniWoB++ task. The
text shop needs no optional dependency; every browser id is registered by ``"module:Class"`` name with the
``web`` extra (playwright), so importing this package never imports playwright.
"""

from turngym.envs.web import (
    miniwob,  # noqa: F401  (registers turngym/MiniWoB-<task>-v0)
    shop,  # noqa: F401  (registers the shop's text and browser front ends)
)
