"""The training harness: configs, the train loop, SFT warm start, evaluation, logging, checkpoints."""

from turngym.agents.llm.train.config import (
    AlgoConfig,
    EnvConfig,
    ModelConfig,
    OptimConfig,
    RolloutConfig,
    SFTConfig,
    TrainConfig,
)

__all__ = ["AlgoConfig", "EnvConfig", "ModelConfig", "OptimConfig", "RolloutConfig", "SFTConfig", "TrainConfig"]
