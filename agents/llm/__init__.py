"""The LLM training pipeline (DESIGN §4): policies, rollouts, the turn batch, advantage estimators, losses, trainers.

``rollout`` -> ``batch`` -> ``estimators`` -> ``losses`` -> ``train``; ``policies`` holds what acts (the
transformers ``LMPolicy`` and the embedded tiny model). Baseline agents (CFR, SB3, heuristics) are in
``turngym.agents.baselines``; the env pools, which step envs and know nothing of agents, are
``turngym.envs.pool``.
"""
