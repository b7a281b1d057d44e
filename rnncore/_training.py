"""What the training loops of the models share: a random generator from a seed, and a progress bar."""
import sys

import numpy as np

# The course's text bars: on stdout, without timings, so a notebook stores the same last line every run.
BAR_FORMAT = "{desc}: {percentage:3.0f}%|{bar:20}| {n_fmt}/{total_fmt}{postfix}"


def as_rng(rng):
    """A numpy Generator from a Generator or an integer seed."""
    if isinstance(rng, np.random.Generator):
        return rng
    if isinstance(rng, (int, np.integer)):
        return np.random.default_rng(rng)
    raise ValueError(f"rng must be a numpy Generator or an integer seed, got {type(rng).__name__}")


def progress_bar(total, enabled, unit):
    """A tqdm bar of `total` steps on stdout (None when not enabled); a string `enabled` is the bar's label."""
    if not enabled:
        return None
    from tqdm import tqdm                         # a text bar: notebooks store it as plain text
    label = enabled if isinstance(enabled, str) else "training"
    return tqdm(total=total, desc=label, unit=unit, file=sys.stdout, bar_format=BAR_FORMAT)
