"""The WebShop-compatible shop: catalog, search, reward, site, HTTP server and the text front end.

``turngym/WebShop-v0`` is WebShop's text mode (observations, actions and reward are WebShop's; the modules
document the few deviations) over a generated 10,000-product catalog shared by every env of a process, or over
WebShop's own files (``data_dir``). It needs no optional dependency: the HTTP server (``server``, FastAPI and
uvicorn) is imported only by the browser front end and by whoever starts it.
"""

from turngym.envs.core.registry import TEST_SPLIT, EnvInfo, register_env
from turngym.envs.web.shop.text_env import WebShopEnv

# Held-out evaluation uses the test split (goals whose target products no training goal targets).
register_env(EnvInfo("turngym/WebShop-v0", "web", WebShopEnv, modes=("text",),
                     summary="WebShop's text mode: search, open, choose options, buy (10k-product catalog)",
                     expert="turngym.envs.web.shop.experts:shop_expert", eval_kwargs=TEST_SPLIT))
# The same shop in real Chromium: registered by name, so playwright, fastapi and uvicorn load on first make only.
register_env(EnvInfo("turngym/WebShopBrowser-v0", "web", "turngym.envs.web.shop.browser_env:WebShopBrowserEnv",
                     modes=("text",), replayable=False, extra="web", requires=("playwright", "fastapi", "uvicorn"),
                     summary="the same shop in real Chromium: accessibility tree, BrowserGym-style actions",
                     expert="turngym.envs.web.shop.browser_env:browser_shop_expert", eval_kwargs=TEST_SPLIT))

__all__ = ["WebShopEnv"]
