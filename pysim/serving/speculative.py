"""Speculative decoding (Leviathan, Kalman & Matias, "Fast Inference from Transformers via
Speculative Decoding", ICML 2023; Chen et al., "Accelerating Large Language Model Decoding
with Speculative Sampling", 2023).

Each decode step, a small draft model proposes ``gamma`` tokens (gamma decode steps of the
draft), and the target model verifies them in one forward pass over gamma + 1 positions per
sequence (priced as a decode whose sequences each run gamma + 1 query tokens over their cache
plus those tokens, with the LM head over every position). Each draft token is accepted with
probability ``alpha``, independently (the i.i.d. assumption of Leviathan et al., section 3.1);
the first rejection ends the step, and the target's own token at that position (or after the
last draft token when all are accepted) is kept, so a sequence advances by accepted + 1
tokens. Their mean (Leviathan et al., equation 1) is (1 - alpha^(gamma+1)) / (1 - alpha), and
with c the draft's step time over the target's, the walltime improvement is
(1 - alpha^(gamma+1)) / ((1 - alpha)(gamma c + 1)) (Theorem 3.8, section 3.3).

The draft prefills every prompt beside the target, keeps its own KV cache (its bytes per token
are added to every KV block) and its weights sit beside the target's.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pysim.errors import ConfigError
from pysim.serving.model import LLMSpec, model


@dataclass(frozen=True)
class SpeculativeConfig:
    """``draft``: the draft model (a name in MODELS or an LLMSpec); ``gamma``: tokens it
    proposes per step (>= 1); ``alpha``: the probability each is accepted, in [0, 1)."""

    draft: str | LLMSpec = "llama_68m"
    gamma: int = 4
    alpha: float = 0.7

    def __post_init__(self) -> None:
        g = self.gamma
        if isinstance(g, bool) or not isinstance(g, int) or g < 1:
            raise ConfigError(f"speculative: gamma must be an int >= 1, got {g!r}")
        a = self.alpha
        if isinstance(a, bool) or not isinstance(a, (int, float)) or not 0 <= a < 1:
            raise ConfigError(f"speculative: alpha must be a number in [0, 1), got {a!r}")
        try:
            model(self.draft)
        except Exception as err:  # an unknown name: say which field it came from
            raise ConfigError(f"speculative: draft: {err}") from None

    @property
    def spec(self) -> LLMSpec:
        return model(self.draft)

    @property
    def expected_tokens(self) -> float:
        return expected_tokens(self.gamma, self.alpha)

    def tokens(self, rng: np.random.Generator, sequences: int) -> np.ndarray:
        """Tokens each of ``sequences`` sequences gains in one step: accepted drafts + 1."""
        return step_tokens(rng, sequences, self.gamma, self.alpha)


def expected_tokens(gamma: int, alpha: float) -> float:
    """Mean tokens per step, (1 - alpha^(gamma+1)) / (1 - alpha) (Leviathan et al., eq. 1)."""
    return (1 - alpha ** (gamma + 1)) / (1 - alpha)


def tokens_variance(gamma: int, alpha: float) -> float:
    """Variance of the tokens per step: P(k) = alpha^(k-1) (1 - alpha) for k = 1..gamma,
    P(gamma + 1) = alpha^gamma."""
    k = np.arange(1, gamma + 2)
    p = np.append(alpha ** (k[:-1] - 1) * (1 - alpha), alpha ** gamma)
    mean = float(np.sum(k * p))
    return float(np.sum(k * k * p) - mean * mean)


def step_tokens(rng: np.random.Generator, sequences: int, gamma: int,
                alpha: float) -> np.ndarray:
    """One step's tokens per sequence: 1 + the number of leading accepted draft tokens, each
    accepted with probability ``alpha`` independently."""
    accepted = rng.random((sequences, gamma)) < alpha
    return np.cumprod(accepted, axis=1).sum(axis=1) + 1


def speedup(gamma: int, alpha: float, c: float) -> float:
    """Leviathan et al.'s expected walltime improvement (Theorem 3.8)."""
    return expected_tokens(gamma, alpha) / (gamma * c + 1)


__all__ = ["SpeculativeConfig", "expected_tokens", "speedup", "step_tokens",
           "tokens_variance"]
