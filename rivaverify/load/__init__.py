"""Load with locust: Riva users (streaming at real-time pace, offline Recognize), shapes and thresholds.

Import `rivaverify.load.riva_user` from a locustfile (it patches gRPC for gevent first)."""
