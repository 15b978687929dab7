"""Load with locust: Riva users (streaming at real-time pace, offline Recognize), shapes and thresholds.

Import `rivaverify.load.riva_user` from a locustfile; its gRPC calls run on `rivaverify.load.engine`."""
