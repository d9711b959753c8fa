"""Docstring pieces shared by the card-game env classes."""

SINGLE_ARGS = """        opponents: agent objects (or ``"random"``) for the other seats; default random-legal.
        seat (int | str): the learner's seat, or ``"random"`` (drawn from the env RNG at reset).
"""
AEC_ARGS = """        chance (str): ``"sample"`` (default) or ``"explicit"``: solvers resolve chance events themselves
            through ``chance_outcomes()`` / ``apply_chance()``.
"""
