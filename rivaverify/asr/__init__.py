"""ASR helpers: Riva client calls, audio loading, WER and latency statistics."""
