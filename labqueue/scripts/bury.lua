-- bury.lua: put one entry (a job, or one that is no job, byte for byte) in the dead-letter queue,
-- stamped with the server's clock (a worker's clock may be off by hours: dead_letters() sorts by it).
-- An earlier dead letter of the same id stays: this one goes under '<n>:<id>' (dead_letter.lua).
-- KEYS[1] dlq  KEYS[2] dlq:meta
-- ARGV[1] id  ARGV[2] the entry  ARGV[3] reason (a JSON string)  ARGV[4] attempts (an integer)
-- Returns the DLQ id the entry was stored under.
--- @include clock
--- @include dead_letter
return dead_letter(KEYS[1], KEYS[2], ARGV[1], micros(), ARGV[2], ARGV[3], clock(''), ARGV[4])
