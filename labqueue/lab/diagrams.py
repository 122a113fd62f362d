"""The chapter's ASCII diagrams, to show next to what labqueue actually sends.

From the chapter (shared/seed/job-queues-chapter.fr.md): its use cases, the simple queue (LPUSH /
BRPOP), the lost-job problem and the reliable queue (atomic move + LREM on ack). Each name
(`diagrams.SIMPLE_QUEUE`...) gives the diagram in the language in use (labqueue.lab.i18n): in French,
the chapter's own diagram, verbatim; in English, the same with its few French words in English.
`diagram(name, lang)` names the language.
"""

from __future__ import annotations

from .i18n import LANGUAGES, language

ENGLISH = {
    "IMAGE_UPLOAD": r"""
Scenario: Image upload and processing

Without a queue (synchronous):
User uploads image (5MB)
    ↓
Server processes:
  - Resize image (2s)
  - Generate thumbnails (3s)
  - Apply filters (2s)
  - Upload to CDN (3s)
    ↓
Response after 10 seconds ❌
Poor user experience

With a queue (asynchronous):
User uploads image
    ↓
Add job to queue (50ms)
    ↓
Response immediately ✅
Good user experience
    ↓
Workers process in background
""",

    "PEAK_SHAVING": r"""
Scenario: Black Friday - 10,000 orders/minute

Without a queue:
Orders → Direct processing
         ↓
         Database overload ❌
         System crash

With a queue:
Orders → Queue (buffer)
         ↓
         Workers process at sustainable rate
         (100 orders/minute per worker)
         ↓
         System stable ✅
""",

    "TASK_DISTRIBUTION": r"""
Scenario: Video encoding with 10 workers

                  Queue
                    │
        ┌───────────┼───────────┐
        │           │           │
    Worker 1    Worker 2    Worker 3
    (Idle)      (Busy)      (Idle)
        │                       │
        └───── Get next job ────┘
               from queue
""",

    "RETRY": r"""
Scenario: Email sending with failures

Direct send → SMTP timeout → Lost ❌

Queue send → Failed → Retry (3 attempts) → Success ✅
""",

    "SIMPLE_QUEUE": r"""
┌─────────────────────────────────────────────────────────────┐
│                    SIMPLE QUEUE (LIST)                      │
└─────────────────────────────────────────────────────────────┘

Producer                  Redis LIST                  Consumer
   │                    queue:jobs                        │
   │                                                      │
   │  LPUSH job1                                          │
   ├──────────────────> [job1]                            │
   │                                                      │
   │  LPUSH job2                                          │
   ├──────────────────> [job2, job1]                      │
   │                                                      │
   │  LPUSH job3                                          │
   ├──────────────────> [job3, job2, job1]                │
   │                                                      │
   │                    [job3, job2, job1]                │
   │                                       BRPOP ─────────┤
   │                    [job3, job2] <────────────────────┤
   │                                     (got job1)       │
   │                                                      │
   │                    [job3, job2]                      │
   │                                       BRPOP ─────────┤
   │                    [job3] <──────────────────────────┤
   │                                     (got job2)       │

Operations:
- LPUSH queue:jobs job_data  → Add job (Producer)
- BRPOP queue:jobs timeout   → Get job (Consumer, blocking)
- LLEN queue:jobs            → Queue size
""",

    "LOST_JOB": r"""
PROBLEM: a job is lost if the worker crashes

Worker                    Queue                   Processing
  │                    [job3, job2, job1]              │
  │                                                    │
  │  BRPOP                                             │
  ├──────────────────> [job3, job2]                    │
  │                                                    │
  │  Got job1                                          │
  │                                                    │
  │  Start processing ───────────────────────────────> │
  │                                                    │
  💥 CRASH!                                            │
  │                                                    │
  ❌ job1 is LOST                                      │
  (removed from queue but not processed)

Solution: BRPOPLPUSH (atomic move)
""",

    "RELIABLE_QUEUE": r"""
┌─────────────────────────────────────────────────────────────┐
│              RELIABLE QUEUE (BRPOPLPUSH)                    │
└─────────────────────────────────────────────────────────────┘

Operation: BRPOPLPUSH source destination timeout

Worker              Queue                Processing Queue
  │              queue:jobs              queue:processing
  │           [job3, job2, job1]               []
  │                                             │
  │  BRPOPLPUSH queue:jobs queue:processing     │
  ├─────────────────────────────────────────────────────>
  │                                             │
  │           [job3, job2]                 [job1]
  │                                             │
  │  Processing job1...                         │
  │                                             │
  │  ✓ Success                                  │
  │                                             │
  │  LREM queue:processing job1 ────────────────┤
  │                                        []   │

If worker crashes:
  💥 CRASH during processing

  Recovery worker checks queue:processing
  ├─ Finds unfinished job1
  └─ Re-enqueue to queue:jobs ✅
""",
}

# The chapter's own text, verbatim (tests/test_lab_i18n_panels.py compares it with the chapter); the
# diagrams the chapter writes without a French word are the same in both languages.
FRENCH = {**ENGLISH,
    "IMAGE_UPLOAD": r"""
Scénario : Upload et traitement d'image

Sans queue (synchrone):
User uploads image (5MB)
    ↓
Server processes:
  - Resize image (2s)
  - Generate thumbnails (3s)
  - Apply filters (2s)
  - Upload to CDN (3s)
    ↓
Response after 10 seconds ❌
Poor user experience

Avec queue (asynchrone):
User uploads image
    ↓
Add job to queue (50ms)
    ↓
Response immediately ✅
Good user experience
    ↓
Workers process in background
""",
    "PEAK_SHAVING": r"""
Scénario : Black Friday - 10,000 orders/minute

Sans queue:
Orders → Direct processing
         ↓
         Database overload ❌
         System crash

Avec queue:
Orders → Queue (buffer)
         ↓
         Workers process at sustainable rate
         (100 orders/minute per worker)
         ↓
         System stable ✅
""",
    "TASK_DISTRIBUTION": r"""
Scénario : Video encoding avec 10 workers

                  Queue
                    │
        ┌───────────┼───────────┐
        │           │           │
    Worker 1    Worker 2    Worker 3
    (Idle)      (Busy)      (Idle)
        │                       │
        └───── Get next job ────┘
               from queue
""",
    "RETRY": r"""
Scénario : Email sending avec failures

Direct send → SMTP timeout → Lost ❌

Queue send → Failed → Retry (3 attempts) → Success ✅
""",
    "LOST_JOB": r"""
PROBLÈME : Job perdu si le worker crash

Worker                    Queue                   Processing
  │                    [job3, job2, job1]              │
  │                                                    │
  │  BRPOP                                             │
  ├──────────────────> [job3, job2]                    │
  │                                                    │
  │  Got job1                                          │
  │                                                    │
  │  Start processing ───────────────────────────────> │
  │                                                    │
  💥 CRASH!                                            │
  │                                                    │
  ❌ job1 is LOST                                      │
  (removed from queue but not processed)

Solution: BRPOPLPUSH (atomic move)
""",
}

NAMES = tuple(ENGLISH)


def diagram(name: str, lang: str | None = None) -> str:
    """Diagram `name` (`"SIMPLE_QUEUE"`...) in `lang` ('en' or 'fr'; default: the language in use)."""
    if name not in ENGLISH:
        raise ValueError(f"no diagram named {name!r}; diagrams: {', '.join(NAMES)}")
    lang = language() if lang is None else lang
    if lang not in LANGUAGES:
        raise ValueError(f"unknown language {lang!r}; the lab speaks {', '.join(LANGUAGES)}")
    return (FRENCH if lang == "fr" else ENGLISH)[name]


def __getattr__(name: str) -> str:
    """`diagrams.SIMPLE_QUEUE` and the others: the diagram in the language in use, looked up on each access."""
    if name in ENGLISH:
        return diagram(name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["IMAGE_UPLOAD", "PEAK_SHAVING", "TASK_DISTRIBUTION", "RETRY", "SIMPLE_QUEUE", "LOST_JOB", "RELIABLE_QUEUE",
           "diagram"]
