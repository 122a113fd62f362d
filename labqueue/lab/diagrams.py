"""The chapter's ASCII diagrams, to show next to what labqueue actually sends.

Copied from the chapter (its few French words in English) (shared/seed/job-queues-chapter.fr.md): its use cases, the simple queue
(LPUSH / BRPOP), the lost-job problem and the reliable queue (atomic move + LREM on ack).
"""

from __future__ import annotations

IMAGE_UPLOAD = r"""
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
"""

PEAK_SHAVING = r"""
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
"""

TASK_DISTRIBUTION = r"""
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
"""

RETRY = r"""
Scenario: Email sending with failures

Direct send → SMTP timeout → Lost ❌

Queue send → Failed → Retry (3 attempts) → Success ✅
"""

SIMPLE_QUEUE = r"""
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
"""

LOST_JOB = r"""
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
"""

RELIABLE_QUEUE = r"""
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
"""

__all__ = ["IMAGE_UPLOAD", "PEAK_SHAVING", "TASK_DISTRIBUTION", "RETRY", "SIMPLE_QUEUE", "LOST_JOB", "RELIABLE_QUEUE"]
