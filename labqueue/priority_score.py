"""The priority score, one scheme for every labqueue queue (and BullMQ's): priority * 2**32 + sequence.

A sorted set pops its lowest score first (ZPOPMIN). A ready job's score puts its priority above
2**32 and its queue's arrival number (a Redis counter, INCR, modulo 2**32) below: a lower priority
number comes first, and among equal priorities the job that arrived first. Used by the PriorityQueue (notebook
03: priority_push.lua, replay.lua) and the JobQueue (`prio`: jq_lib.lua's ready()); the Lua side is
labqueue/scripts/priority_score.lua (`--- @include priority_score`), with the same numbers.

Limits. Redis stores a score as a double, exact for every integer up to 2**53. With priorities
0..MAX_PRIORITY (2**21 - 1) and sequences below 2**32 the highest score is
(2**21 - 1) * 2**32 + 2**32 - 1 = 2**53 - 1: every score is exact and no two jobs ever tie. At
priority 2**21 the scores would be 2**53 + sequence, where doubles step by 2: two jobs would share a
score and come out in member order, not arrival order, so 2**21 is refused.

The wrap. The sequence is the arrival counter modulo 2**32, as BullMQ's (`prioCounter % 0x100000000`):
every score stays exact and inside its priority's band [priority * 2**32, (priority + 1) * 2**32),
however many jobs the queue has seen. Unwrapped, the 2**32-th arrival scored as the next priority's
first ones (a priority-3 job after a waiting priority-4 one) and the top priorities' scores passed
2**53. The price: once every 2**32 arrivals, FIFO within a priority is inverted once: the jobs
numbered 0, 1, ... after the wrap come before the jobs still waiting with the last numbers below 2**32.
The order between priorities never changes. A counter holding junk (no integer, or at INCR's limit)
restarts at 1, the same one-time inversion, and no job is refused (priority_score.lua's next_arrival,
jq_lib.lua's incr).
Before issue 14 the PriorityQueue scored priority * 10**11 + sequence: exact only up to a priority
of about 90,000 (it allowed 0..10,000), and not the JobQueue's scheme.
"""

from __future__ import annotations

LEVEL = 2**32  # one priority's scores: priority * LEVEL + sequence, the sequence from 0 to LEVEL - 1
MAX_PRIORITY = 2**21 - 1  # the highest priority whose every score is exact in a double (below 2**53)
MAX_SEQUENCE = LEVEL - 1
WHY = "a score is priority * 2**32 + arrival number, exact in a double only below 2**53"


def score(priority: int, seq: int) -> int:
    """The score of the `seq`-th job (the queue's arrival counter, taken modulo 2**32) ready at `priority`."""
    return priority * LEVEL + seq % LEVEL


def band(priority: int) -> tuple[int, str]:
    """The scores of one priority level, as ZCOUNT / ZRANGEBYSCORE bounds: (min, exclusive max)."""
    return priority * LEVEL, f"({(priority + 1) * LEVEL}"

