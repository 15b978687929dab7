"""rivagateway: a WebSocket gateway in front of Riva ASR.

Clients send a JSON start message, binary audio frames and a stop message; the gateway streams them to
Riva's StreamingRecognize over a pooled grpc.aio channel and sends JSON events back (partial, final, error).
API keys, per-key rate limits, /ping, /health, /metrics, TLS. Run it with `rivagateway --help`.
"""
