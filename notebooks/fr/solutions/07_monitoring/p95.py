buckets = sorted((float(s.labels["le"]), s.value) for fam in text_string_to_metric_families(body)
                 for s in fam.samples if s.name == "queue_processing_duration_seconds_bucket"
                 and s.labels["job_type"] == "send-email")
total = buckets[-1][1]
print(f"{total:.0f} tentatives send-email ; (le, tentatives qui ont duré au plus le secondes) :", buckets)
my_p95_bucket = next(le for le, count in buckets if count >= 0.95 * total)   # la première borne qui atteint 95 %
