"""Board games for self-play: tic-tac-toe and Connect Four (OpenSpiel rules).

Two-player, perfect-information, zero-sum turn-based games with text and vector modes, AEC and single-agent
forms. Each single-agent form names a strong built-in opponent besides ``"random"``: tic-tac-toe's
``"solver"`` plays perfectly, Connect Four's ``"search"`` is a depth-4 alpha-beta search
(``turngym.envs.boardgames.solvers``); the registry names the same agents as the ids' experts.
"""

from turngym.envs.boardgames.connect_four import ConnectFourAEC, ConnectFourEnv, ConnectFourGame
from turngym.envs.boardgames.tictactoe import TicTacToeAEC, TicTacToeEnv, TicTacToeGame
from turngym.envs.core.registry import EnvInfo, register_env

#: Training a single policy on a board game: text, against a uniformly random opponent, in a random seat (so it
#: learns to move first and second).
_BOARD_TRAINING = {"obs_mode": "text", "opponents": ["random"], "seat": "random"}
register_env(EnvInfo("turngym/TicTacToe-v0", "boardgames", TicTacToeEnv, aec=TicTacToeAEC, modes=("text", "vector"),
                     summary="Tic-tac-toe, 2 players (OpenSpiel rules); perfect-play 'solver' opponent",
                     expert="turngym.envs.boardgames.solvers:tictactoe_expert", train_kwargs=_BOARD_TRAINING))
register_env(EnvInfo("turngym/ConnectFour-v0", "boardgames", ConnectFourEnv, aec=ConnectFourAEC,
                     modes=("text", "vector"),
                     summary="Connect Four, 2 players (OpenSpiel rules); alpha-beta 'search' opponent",
                     expert="turngym.envs.boardgames.solvers:connect_four_expert", train_kwargs=_BOARD_TRAINING))

__all__ = ["ConnectFourAEC", "ConnectFourEnv", "ConnectFourGame", "TicTacToeAEC", "TicTacToeEnv", "TicTacToeGame"]
