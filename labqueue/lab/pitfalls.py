"""THE CHAPTER'S OWN RELIABLE QUEUE, BUGS INCLUDED, kept for the lessons of notebooks 02a and 02b. Do not use.

A faithful Python port of `ReliableQueue` from the chapter (section "Pattern 2: Reliable Queue",
"Implémentation Python"). Only its prints became `self.messages` (notebook workers run in threads,
which must not print) and it gained `size`, `processing_size` and `clear` so a notebook can look at
it (the chapter's example calls `queue.size()`, which its class lacks). Its two bugs are kept:

1. `dequeue` adds `worker_id` and `started_at` to the job *after* BRPOPLPUSH stored it, so `ack`,
   which deletes `json.dumps(job)` with LREM, looks for a string that is not in the processing list:
   LREM removes 0 entries and every acked job stays in `processing` forever. `nack` has the same
   flaw: its LREM misses too, so the failed job stays in `processing` *and* a copy is re-queued.
2. `recover_stale_jobs` reads `started_at` from the job in the processing list, where it was never
   stored, so it sees 0 ("started in 1970") and re-queues every job in processing, including the
   jobs that live workers are still working on: they run twice.

labqueue's ReliableQueue acks by job id (`inflight` hash) and keeps lease deadlines in a sorted set,
so neither happens. Keys: the chapter's `queue:{name}`, `queue:{name}:processing`, `queue:{name}:dlq`.
Its `messages` are the chapter's own prints, word for word, in every language of the lab.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any


class ChapterReliableQueue:
    """The chapter's ReliableQueue (BRPOPLPUSH, ack by LREM of a re-serialised job): a pitfall."""

    def __init__(self, redis_client: Any, queue_name: str = "jobs") -> None:
        self.redis = redis_client
        self.queue_name = f"queue:{queue_name}"
        self.processing_name = f"queue:{queue_name}:processing"
        self.worker_id = str(uuid.uuid4())[:8]
        self.messages: list[str] = []  # the chapter prints these

    def _print(self, message: str) -> None:
        self.messages.append(message)

    def enqueue(self, job_data: dict[str, Any]) -> str:
        """Add a job (LPUSH), as the chapter does."""
        job_id = str(uuid.uuid4())
        job = {
            "id": job_id,
            "data": job_data,
            "enqueued_at": time.time(),
            "attempts": 0,
            "max_attempts": 3,
        }
        self.redis.lpush(self.queue_name, json.dumps(job))
        self._print(f"✓ Job enqueued: {job_id}")
        return job_id

    def dequeue(self, timeout: float = 0) -> dict[str, Any] | None:
        """Move a job to processing (BRPOPLPUSH / RPOPLPUSH), then modify it in Python only (bug 1)."""
        if timeout > 0:
            result = self.redis.brpoplpush(self.queue_name, self.processing_name, timeout=timeout)
        else:
            result = self.redis.rpoplpush(self.queue_name, self.processing_name)
        if not result:
            return None
        job: dict[str, Any] = json.loads(result)
        # Ajouter metadata du worker -- only to this dict: the entry in Redis does not change.
        job["worker_id"] = self.worker_id
        job["started_at"] = time.time()
        self._print(f"✓ Job dequeued: {job['id']} by {self.worker_id}")
        return job

    def ack(self, job: dict[str, Any]) -> bool:
        """LREM of `json.dumps(job)`: never matches, since the job was modified after the move (bug 1)."""
        job_json = json.dumps(job)
        removed = self.redis.lrem(self.processing_name, 1, job_json)
        if removed:
            self._print(f"✓ Job acknowledged: {job['id']}")
        else:
            self._print(f"⚠️  Job not found in processing queue: {job['id']}")
        return bool(removed > 0)

    def nack(self, job: dict[str, Any], requeue: bool = True) -> None:
        """LREM (misses, bug 1) then LPUSH a copy with attempts + 1, or LPUSH to the DLQ list."""
        job_json_old = json.dumps(job)
        self.redis.lrem(self.processing_name, 1, job_json_old)
        if requeue and job.get("attempts", 0) < job.get("max_attempts", 3):
            job["attempts"] = job.get("attempts", 0) + 1
            job["last_error_at"] = time.time()
            self.redis.lpush(self.queue_name, json.dumps(job))
            self._print(f"⚠️  Job requeued: {job['id']} (attempt {job['attempts']})")
        else:
            self._print(f"✗ Job failed permanently: {job['id']}")
            self._move_to_dlq(job)

    def _move_to_dlq(self, job: dict[str, Any]) -> None:
        dlq_name = f"{self.queue_name}:dlq"
        self.redis.lpush(dlq_name, json.dumps(job))
        self._print("  ➜ Moved to DLQ")

    def recover_stale_jobs(self, timeout_seconds: float = 300) -> int:
        """Re-queue jobs of processing that look stale; `started_at` is never in Redis (bug 2)."""
        self._print("\n🔍 Checking for stale jobs...")
        processing_jobs = self.redis.lrange(self.processing_name, 0, -1)
        recovered = 0
        now = time.time()
        for job_json in processing_jobs:
            job = json.loads(job_json)
            started_at = job.get("started_at", 0)  # never stored: always 0
            if (now - started_at) > timeout_seconds:
                self._print(f"  Found stale job: {job['id']}")
                self.redis.lrem(self.processing_name, 1, job_json)
                job["attempts"] = job.get("attempts", 0) + 1
                if job["attempts"] < job.get("max_attempts", 3):
                    self.redis.lpush(self.queue_name, json.dumps(job))
                    recovered += 1
                    self._print("    ↻ Recovered and requeued")
                else:
                    self._move_to_dlq(job)
                    self._print("    ✗ Max attempts reached, moved to DLQ")
        self._print(f"✓ Recovered {recovered} stale jobs\n")
        return recovered

    # -- added for the notebook (not in the chapter) -------------------------------------------
    def size(self) -> int:
        """Jobs waiting (LLEN)."""
        return int(self.redis.llen(self.queue_name))

    def processing_size(self) -> int:
        """Jobs in the processing list (LLEN)."""
        return int(self.redis.llen(self.processing_name))

    def dlq_size(self) -> int:
        """Jobs in the chapter's dead-letter list (LLEN)."""
        return int(self.redis.llen(f"{self.queue_name}:dlq"))

    def clear(self) -> int:
        """Delete this queue's three keys (DEL)."""
        return int(self.redis.delete(self.queue_name, self.processing_name, f"{self.queue_name}:dlq"))
