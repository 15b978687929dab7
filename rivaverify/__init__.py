"""riva-verify's library: what the fixtures, the console scripts and the locust users call; no pytest."""

import os

# gRPC's fork support restarts its poller in a forked child, where close_fds has closed its epoll fd: the child
# aborts before exec ("Epoll1Poller encountered epoll_wait error: Bad file descriptor", grpc/grpc#43055). Python
# forks (rather than vforks) for every Popen with a preexec_fn, as docker's ssh:// transport does. Nothing here
# forks a process that goes on using gRPC, so the support is off; set before any module imports grpc.
os.environ.setdefault("GRPC_ENABLE_FORK_SUPPORT", "false")
