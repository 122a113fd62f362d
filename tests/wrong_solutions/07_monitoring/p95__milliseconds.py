# expect: 25 is not it: the bounds `le` are in seconds
# The bound read off the histogram_quantile line above ("inside the bucket (10 ms, 25 ms]"), in milliseconds.
buckets = sorted((float(s.labels["le"]), s.value) for fam in text_string_to_metric_families(body)
                 for s in fam.samples if s.name == "queue_processing_duration_seconds_bucket"
                 and s.labels["job_type"] == "send-email")
total = buckets[-1][1]
my_p95_bucket = 25
