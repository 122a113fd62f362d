"""The chapter's own lines behind each pitfall of the lab, quoted as the chapter has them (in French).

The chapter is `job-queues-chapter.fr.md` ("6.8 Files d'attente et Job Queues"); each excerpt gives its
section and line numbers, and tests/test_lab_sources.py checks every excerpt against the chapter, line
for line. `show_chapter(key)` displays one pitfall next to the lesson that runs it:

    from labqueue.lab.chapter import show_chapter
    show_chapter("ack_bug")  # the chapter's dequeue and ack, highlighted, and why they break

The excerpts and section names are the chapter's own (French) text, in every language; the titles,
the reasons and the captions are in the language in use (labqueue.lab.i18n).
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from typing import Any

from .i18n import N_, _
from .i18n import _ as _lookup  # a title or reason marked with N_() below, translated where shown

CHAPTER = "job-queues-chapter.fr.md"


@dataclass(frozen=True)
class Excerpt:
    """Lines `first`..`last` (1-based, inclusive) of the chapter, verbatim."""

    first: int
    last: int
    text: str


@dataclass(frozen=True)
class Pitfall:
    """A bug of the chapter's code, the notebook that runs it, and the chapter's lines that cause it."""

    key: str
    title: str
    section: str
    notebook: str
    excerpts: tuple[Excerpt, ...]
    why: str

    def lines(self) -> str:
        """The line ranges quoted, as the caption shows them (`lines 537-541, 552-555`)."""
        ranges = [f"{e.first}" if e.first == e.last else f"{e.first}-{e.last}" for e in self.excerpts]
        one = len(ranges) == 1 and "-" not in ranges[0]
        return (_("line {ranges}") if one else _("lines {ranges}")).format(ranges=", ".join(ranges))


PITFALLS: dict[str, Pitfall] = {p.key: p for p in (
    Pitfall('lost_job', N_('A job lost when its worker dies'), 'Pattern 1: Simple Queue (FIFO) › Implémentation Python', '01', (
        Excerpt(186, 188, """        if timeout > 0:
            # BRPOP = Blocking Right POP (from right/tail)
            result = self.redis.brpop(self.queue_name, timeout=timeout)"""),
        Excerpt(266, 271, """        while self.running:
            # Attendre un job (bloquant, timeout 5s)
            job = self.queue.dequeue(timeout=5)

            if job:
                self.process_job(job)"""),
    ), N_('BRPOP removes the job from the list the moment the worker takes it. If the worker dies before '
        'process_job ends, no key in Redis holds the job any more: nobody can retry it.')),
    Pitfall('ack_bug', N_('An ack that never removes the job'), 'Pattern 2: Reliable Queue (BRPOPLPUSH) › Implémentation Python', '02a', (
        Excerpt(537, 541, """        job = json.loads(result)

        # Ajouter metadata du worker
        job['worker_id'] = self.worker_id
        job['started_at'] = time.time()"""),
        Excerpt(552, 555, """        job_json = json.dumps(job)

        # Supprimer de la processing queue
        removed = self.redis.lrem(self.processing_name, 1, job_json)"""),
    ), N_('dequeue adds worker_id and started_at to its own copy after BRPOPLPUSH stored the job; ack then '
        'asks LREM to remove json.dumps of that modified copy, a string the list does not hold: 0 '
        'removed, and every acked job stays in processing for ever.')),
    Pitfall('recovery_bug', N_('A recovery that re-queues the jobs of live workers'), 'Pattern 2: Reliable Queue (BRPOPLPUSH) › Implémentation Python', '02b', (
        Excerpt(609, 614, """        for job_json in processing_jobs:
            job = json.loads(job_json)
            started_at = job.get('started_at', 0)

            # Si le job tourne depuis trop longtemps
            if (now - started_at) > timeout_seconds:"""),
        Excerpt(651, 652, """        # Récupérer les jobs bloqués au démarrage
        self.queue.recover_stale_jobs()"""),
    ), N_("started_at was only added to the worker's copy (dequeue), never stored in Redis: "
        "job.get('started_at', 0) is 0, every job in processing looks as if it started in 1970, and every "
        'worker start re-queues the jobs that live workers are still running.')),
    Pitfall('nack_no_backoff', N_('A retry with no wait'), 'Pattern 2: Reliable Queue (BRPOPLPUSH) › Implémentation Python', '06', (
        Excerpt(571, 582, """        job_json_old = json.dumps(job)

        # Supprimer de processing
        self.redis.lrem(self.processing_name, 1, job_json_old)

        if requeue and job.get('attempts', 0) < job.get('max_attempts', 3):
            # Incrémenter attempts
            job['attempts'] = job.get('attempts', 0) + 1
            job['last_error_at'] = time.time()

            # Remettre dans la queue
            self.redis.lpush(self.queue_name, json.dumps(job))"""),
    ), N_('The LREM misses as in ack, so the failed job also stays in processing; its copy goes straight '
        'back to the queue: a failing job is retried at once, with no backoff.')),
    Pitfall('priority_ties', N_('No FIFO among equal priorities'), 'Pattern 3: Priority Queue › Implémentation Python', '03', (
        Excerpt(805, 805, """        job_id = str(uuid.uuid4())"""),
        Excerpt(819, 820, """        # Ajouter à la sorted set avec priorité comme score
        self.redis.zadd(self.queue_name, {job_id: priority})"""),
    ), N_('Every job of one priority gets the same score; Redis orders equal scores by member, here a '
        'random uuid: among equals the order is random, not arrival order.')),
    Pitfall('priority_ttl', N_('A job dropped when its data expires'), 'Pattern 3: Priority Queue › Implémentation Python', '03', (
        Excerpt(814, 817, """        # Stocker les données du job
        job_key = f"{self.data_prefix}{job_id}"
        self.redis.set(job_key, json.dumps(job))
        self.redis.expire(job_key, 3600)  # 1 hour TTL"""),
        Excerpt(853, 859, """        # Récupérer les données du job
        job_key = f"{self.data_prefix}{job_id}"
        job_json = self.redis.get(job_key)

        if not job_json:
            print(f"⚠️  Job data not found: {job_id}")
            return None"""),
    ), N_("The job's data expires after 1 h while its id stays in the sorted set: a job that waited longer "
        'is popped, its data is gone, and dequeue returns None: the job is dropped without a trace.')),
    Pitfall('delayed_polling', N_('A scheduler that polls every second'), 'Pattern 4: Delayed/Scheduled Jobs › Implémentation Python', '04', (
        Excerpt(1094, 1101, """        def scheduler_loop():
            print(f"🕐 Scheduler started (interval: {interval}s)")
            while True:
                try:
                    self.process_delayed_jobs()
                except Exception as e:
                    print(f"⚠️  Scheduler error: {e}")
                time.sleep(interval)"""),
    ), N_('One pass per interval: a job due just after a pass waits almost a whole interval, and the loop '
        'makes 86,400 passes a day even when nothing is due.')),
    Pitfall('delayed_move', N_('A move in two commands, and a data key that expires'), 'Pattern 4: Delayed/Scheduled Jobs › Implémentation Python', '04', (
        Excerpt(1008, 1010, """        job_key = f"{self.data_prefix}{job_id}"
        self.redis.set(job_key, json.dumps(job))
        self.redis.expire(job_key, delay_seconds + 3600)"""),
        Excerpt(1070, 1077, """        for job_id in ready_job_ids:
            # Supprimer de delayed queue
            removed = self.redis.zrem(self.delayed_queue, job_id)

            if removed:
                # Ajouter à ready queue
                self.redis.lpush(self.ready_queue, job_id)
                moved += 1"""),
    ), N_('The `if removed:` guard means each due job is moved once, even with two schedulers. The risks '
        'are elsewhere: a crash between ZREM and LPUSH loses the job, and its data key expires delay + 1 '
        'h after the enqueue, so a job still waiting then is lost too.')),
    Pitfall('drifting_size', N_('A size counter beside the list'), 'Monitoring et Observability › Métriques importantes', '07', (
        Excerpt(1534, 1546, '    def record_enqueue(self):\n        """Enregistre un job ajouté"""\n        pipe = self.redis.pipeline()\n        pipe.hincrby(self.metrics_key, \'total_enqueued\', 1)\n        pipe.hincrby(self.metrics_key, \'current_size\', 1)\n        pipe.execute()\n\n    def record_dequeue(self):\n        """Enregistre un job retiré"""\n        pipe = self.redis.pipeline()\n        pipe.hincrby(self.metrics_key, \'total_dequeued\', 1)\n        pipe.hincrby(self.metrics_key, \'current_size\', -1)\n        pipe.execute()'),
    ), N_('current_size is a second count kept beside the list with +1 / -1 calls; any path that changes '
        'the list without them (a retry, a crash, a clear) makes it drift for good. LLEN is the size.')),
    Pitfall('non_idempotent', N_('A payment charged twice'), 'Bonnes pratiques › Anti-patterns à éviter', '09', (
        Excerpt(1705, 1713, """# ❌ BAD: Jobs non-idempotents
def process_payment(amount):
    charge_credit_card(amount)  # Appelé 2x si retry!

# ✅ GOOD: Jobs idempotents
def process_payment(payment_id):
    if not already_processed(payment_id):
        charge_credit_card(payment_id)
        mark_as_processed(payment_id)"""),
    ), N_('A reliable queue delivers at least once: a job whose worker died before the ack runs again. The '
        'first handler charges twice; the second still does if the crash falls between the charge and the '
        'mark.')),
)}


def excerpt_html(pitfall: Pitfall) -> str:
    """One pitfall as HTML: its title, the chapter's section and lines, the excerpts highlighted, why it breaks."""
    from .lua import BOX, highlight

    parts = [highlight(e.text, "python") for e in pitfall.excerpts]
    gap = "<div style='color:#6e7781;padding-left:1em'>...</div>"
    heading = _("the chapter's own code: {title}").format(title=_lookup(pitfall.title))
    caption = _("section \u00ab {section} \u00bb, {lines}").format(section=pitfall.section, lines=pitfall.lines())
    why = _("why it breaks:")
    return ("<div class='lq-chapter'>"
            f"<b>{html.escape(heading)}</b><br>"
            f"<small>{html.escape(caption)}</small>"
            f"<div style='{BOX}'>{gap.join(parts)}</div>"
            f"<div><b>{html.escape(why)}</b> {html.escape(_lookup(pitfall.why))}</div></div>")


def show_chapter(key: str) -> Any:
    """Display the chapter's lines behind pitfall `key` (see PITFALLS), highlighted, with the reason."""
    from IPython.display import HTML

    if key not in PITFALLS:
        raise ValueError(f"no pitfall named {key!r}; pitfalls: {', '.join(PITFALLS)}")
    return HTML(excerpt_html(PITFALLS[key]))


__all__ = ["CHAPTER", "PITFALLS", "Excerpt", "Pitfall", "excerpt_html", "show_chapter"]
