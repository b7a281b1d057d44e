"""What the training loops of the models share: a random generator from a seed, and a progress bar."""
import numpy as np


def as_rng(rng):
    """A numpy Generator from a Generator or an integer seed."""
    if isinstance(rng, np.random.Generator):
        return rng
    if isinstance(rng, (int, np.integer)):
        return np.random.default_rng(rng)
    raise ValueError(f"rng must be a numpy Generator or an integer seed, got {type(rng).__name__}")


def progress_bar(total, enabled, unit):
    """A tqdm bar of `total` steps (None when not enabled)."""
    if not enabled:
        return None
    from tqdm import tqdm                         # a text bar: notebooks store it as plain text
    return tqdm(total=total, desc="training", unit=unit)
