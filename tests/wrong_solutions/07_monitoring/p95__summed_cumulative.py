# expect: inf is not it: each bucket counts the attempts that took at most `le` seconds \(cumulative\)
# Buckets read as if each counted only its own attempts: the cumulative counts summed again (the check
# took this `total` as the truth and crashed on it, min() of an empty list).
buckets = sorted((float(s.labels["le"]), s.value) for fam in text_string_to_metric_families(body)
                 for s in fam.samples if s.name == "queue_processing_duration_seconds_bucket"
                 and s.labels["job_type"] == "send-email")
total = sum(count for le, count in buckets)
running = 0
for le, count in buckets:
    running += count
    if running >= 0.95 * total:
        my_p95_bucket = le
        break
