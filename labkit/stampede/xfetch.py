"""XFetch: probabilistic early recompute (Vattani, Chierichetti and Lowenstein, VLDB 2015).

Each reader of a still-fresh value refreshes it early, with a chance that rises as
the expiry nears: it recomputes when ``now - delta * beta * ln(u) >= expiry``, where
``u`` is uniform in (0, 1], ``delta`` is how long the last recompute took and
``beta`` its eagerness (1 is the paper's choice; larger refreshes earlier).  With
enough readers someone refreshes shortly before the expiry, so no reader ever sees
it expire - and no lock is needed.  The same function decides for one reader of the
live herd and, on arrays, for every read of the hour-long simulation.

>>> refresh_early(now=29.99, expires_at=30.0, delta_seconds=0.05, beta=1.0, u=0.5)
True
>>> refresh_early(now=20.0, expires_at=30.0, delta_seconds=0.05, beta=1.0, u=0.5)
False
>>> refresh_early(now=30.0, expires_at=30.0, delta_seconds=0.05, beta=1.0, u=1.0)  # expired: always
True
"""

from __future__ import annotations

import numpy as np

__all__ = ["refresh_early"]


def refresh_early(now, expires_at, delta_seconds, beta, u):
    """Whether a reader at ``now`` recomputes (``u`` uniform in (0, 1]; arrays work too)."""
    early = now - delta_seconds * beta * np.log(u) >= expires_at
    return early if np.ndim(early) else bool(early)
