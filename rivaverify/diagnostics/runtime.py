"""Signatures of a running deployment: processes that die, resources, readiness, requests, S3."""

from __future__ import annotations

from rivaverify.diagnostics.catalogue import SKIP, WARN, sig

GH = "https://github.com/"
NIM_DEBUG = "https://docs.nvidia.com/nim/riva/asr/latest/debugging-guide.html"
QUICKSTART = "NVIDIA's Riva quick start, riva_start.sh"

RUNTIME = (
    sig("triton-died-before-ready", r"Triton server died before reaching ready state",
        "tritonserver exited while it loaded the models.",
        "tritonserver exited while it loaded the models: read the lines above it; on a cached repository the "
        "usual cause is engines built on another GPU or TensorRT (riva-deploy again on this GPU with this image)",
        "davidbmar/nvidia-parakeet-ver-5 scripts/NIM-direct-Nvidia-deployment-T4/README.md (code index id "
        "33867294888)",
        "Triton server died before reaching ready state. Terminating Riva startup."),
    sig("segfault", r"Caught signal 11|Segmentation fault|Signal \(11\) received|\bSIGSEGV\b",
        "A process crashed (signal 11); in a NIM it is often UCX probing RDMA on a host without InfiniBand.",
        "read the backtrace under the line: in a NIM whose backtrace names libucs (UCX), run it with "
        "`-e UCX_TLS=cuda_ipc,sm,tcp`; otherwise report the backtrace with the image's version",
        "a deployment's troubleshooting page (code index id 56731792895)",
        "[pod:34398:0:34398] Caught signal 11 (Segmentation fault: address not mapped to object)"),
    sig("process-exited", r"(One of the processes|\w+ process) has exited unexpectedly",
        "The launcher stopped the container because tritonserver or the Riva server died.",
        "the launcher stopped because tritonserver or the Riva server died: read the log lines above it (a "
        "segfault, a model that failed to load, out of memory)",
        "start-riva in a riva-speech log (code index id 34072191386); a NIM's log (code index id 56731792895)",
        "tritonserver process has exited unexpectedly. Stopping container."),
    sig("bad-server-flag", r"illegal value '[^']*' specified for \w+ flag",
        "riva_server refused a command-line flag: riva_start.sh passed an empty service_enabled_* from config.sh.",
        "set service_enabled_asr, service_enabled_nlp and service_enabled_tts to true or false in config.sh "
        "(riva_start.sh passes them as --asr_service=...); by hand, give start-riva every --*_service flag a value",
        "a riva-speech log and its fix published in a public repository (code index id 34072191386)",
        "ERROR: illegal value '' specified for bool flag 'asr_service'"),
    sig("health-check-failed", r"Health ready check failed",
        "riva_start.sh gave up: the server never answered SERVING within its retries.",
        "riva_start.sh waited 30 x 10 s and the server never reached SERVING: read the container's log "
        "(`docker logs riva-speech`, or `rivaverify diagnose --container riva-speech`) for why it did not load",
        QUICKSTART + " `block_until_server_alive`, its own echo, the same in the 2021 script and a 2.17 one (code "
        "index ids 19676539935, 52277898669); no published run reaching it found", "Health ready check failed."),
    sig("port-in-use", r"already in use|failed to (?:start|bind)[^|]*port",
        "A port the server needs is taken by another process.",
        "a port is taken: `ss -ltnp` shows by whom; stop it or set RIVA__HOST / RIVA__TRITON_*_PORT",
        GH + "triton-inference-server/pytriton/issues/1",
        "E0118 08:25:14.316508 570 main.cc:245] failed to start GRPC service: Unavailable - Socket "
        "'0.0.0.0:2222' already in use"),
    sig("out-of-memory", r"out of memory|CUDA_ERROR_OUT_OF_MEMORY|std::bad_alloc|MemoryError",
        "The GPU (or the host) ran out of memory.",
        "out of memory: free GPU memory (`nvidia-smi`), lower streams or batch size, or use a larger GPU",
        GH + "triton-inference-server/server/issues/1705",
        "failed to allocate 4.00G (4294967296 bytes) from device: CUDA_ERROR_OUT_OF_MEMORY: out of memory"),
    sig("shm-too-small", r"Unable to initialize shared memory key|Failed to increase the shared memory pool size",
        "The container's /dev/shm is too small for the Python backend (Docker's default is 64 MB).",
        "give the container more shared memory: `docker run --shm-size=8GB` (as NVIDIA runs a NIM; Kubernetes: an "
        "emptyDir with medium Memory on /dev/shm)",
        GH + "triton-inference-server/server/issues/3036",
        "failed to load 'add_sub' version 1: Internal: Unable to initialize shared memory key '/add_sub_0_CPU_0' to "
        "requested size (67108864 bytes)."),
    sig("too-many-open-files", r"Too many open files",
        "A process ran out of file descriptors.",
        "a process ran out of file descriptors: raise the limit (a NIM: `docker run --ulimit nofile=2048:2048`, "
        "as NVIDIA runs it; local processes: `ulimit -n`)",
        NIM_DEBUG + " (Q2)", "OSError: [Errno 24] Too many open files: '/tmp/tmp64in_90a'"),
    sig("disk-full", r"No space left on device|Errno 28",
        "A filesystem is full: the disk, or /dev/shm (where Python's multiprocessing and Triton's Python backend "
        "keep their shared memory).",
        "a filesystem is full: `df -h` and `df -h /dev/shm` (inside the container) say which; the disk: free space "
        "where RIVA__WORK_DIR (and the staging's work dir) points, or point RIVA__WORK_DIR at a larger disk (a rerun "
        "resumes what was verified); /dev/shm: give the container more (`docker run --shm-size=8GB`; Kubernetes: an "
        "emptyDir with medium Memory on /dev/shm)",
        "the operating system's wording; a Triton Python-backend model on Kubernetes ("
        + GH + "triton-inference-server/server/issues/5868); " + GH + "python/cpython/issues/93253 (multiprocessing's "
        "Errno 28 reproduced with `--shm-size=1m`)",
        "OSError: [Errno 28] No space left on device"),
    sig("no-offline-models", r"No Offline ASR models found",
        "This NIM serves streaming models only: offline Recognize and /v1/audio/transcriptions have none.",
        "a fact, not a fault: use streaming (or the realtime WebSocket); for offline transcription pick a profile "
        "with mode=ofl or mode=all (NIM_TAGS_SELECTOR)",
        "a NIM 2.25 log (code index id 51787747742)", "WARNING:riva_http_server:No Offline ASR models found",
        in_logs=WARN),
    sig("sequence-idle", r"must specify the START flag on the first request of the sequence",
        "A stream was idle longer than max_sequence_idle_microseconds and Triton dropped its sequence.",
        "a stream sent nothing for longer than the acoustic model's max_sequence_idle_microseconds (60 s by "
        "default) and Triton dropped its sequence: keep sending audio at real-time pace, close idle streams, or "
        "raise max_sequence_idle_microseconds in the model's config.pbtxt",
        NIM_DEBUG + " (Q1); " + GH + "triton-inference-server/server/issues/3747 (a client); "
        + GH + "triton-inference-server/server/issues/3406 (Triton's own log)",
        "inference request for sequence 7 to model 'riva-trt-parakeet-am-streaming' must specify the START flag on "
        "the first request of the sequence", in_logs=WARN),
    sig("inference-failed", r"Triton model failed during inference",
        "A Triton model failed on a request.",
        "a Triton model failed on a request: read the server log around the line, and check whether tritonserver "
        "restarted (the container's restart count, `docker inspect`; a crash after the first request)",
        GH + "dusty-nv/jetson-containers/issues/510", "details = \"Error: Triton model failed during inference.",
        in_logs=WARN),
    sig("unavailable-model", r"Unavailable model requested",
        "Riva has no model for the language, rate or type the request asked for.",
        "Riva has no model for the language or type asked: compare RIVA__LANGUAGE_CODE and "
        "RIVA__MODEL_NAME with the models `transcribe_file.py --list-models` shows", GH +
        "nvidia-riva/tutorials/issues/78", "RPC failed: Error: Unavailable model requested. Lang: en-US, Type: offline",
        in_logs=SKIP),
    sig("audio-encoding-mismatch",
        r"config format doesn't match with header format|could not detect encoding from audio content",
        "The request's encoding or sample rate disagrees with the audio.",
        "the request's encoding or sample rate disagrees with the audio: send the WAV header's encoding and rate "
        "(or leave the rate 0 for the header to decide), or LINEAR_PCM at the audio's real rate for raw audio",
        GH + "nvidia-riva/tutorials/issues/149", "details = \"Error: config format doesn't match with header format\"",
        in_logs=SKIP),
    sig("critical-log-line",
        r"failed to load model|BACKEND_FAILED|CUDA_ERROR(?!_NO_DEVICE|_OUT_OF_MEMORY)|CUBLAS_STATUS_(?!SUCCESS)"
        r"|CUDNN_STATUS_(?!SUCCESS)|UNAVAILABLE: all backends failed",
        "The server logged a critical error (a backend, CUDA, cuBLAS or cuDNN failure).",
        "the server logged a critical error (a model that failed to load, a backend or CUDA/cuBLAS/cuDNN failure): "
        "read the lines around it in the log; a phase that passed with it is not a healthy deployment",
        "the seed's validation script (the strings it grepped); a Triton log (" + GH
        + "triton-inference-server/server/issues/4766)", "cublas call failed: CUBLAS_STATUS_EXECUTION_FAILED"),
    sig("deadline-exceeded", r"DEADLINE_EXCEEDED",
        "Riva did not answer within the deadline.",
        "Riva did not answer within the deadline: a server or Triton that hangs (a stopped process: `ps -o "
        "pid,stat,cmd -C tritonserver`; a stuck GPU: `nvidia-smi`), or a bound too tight for this machine "
        "(RIVA__MAX_RESPONSE_S)", "gRPC's status code", "StatusCode.DEADLINE_EXCEEDED", in_logs=SKIP),
    sig("s3-server-error",
        r"\b5\d\d Internal Server Error|\b5\d\d Service Unavailable|\b5\d\d Bad Gateway|\b5\d\d Gateway Timeout"
        r"|\bInternalError\b|\bServiceUnavailable\b|\bSlowDown\b",
        "The S3 server failed (HTTP 5xx).",
        "the S3 server failed (HTTP 5xx, after retries): check the endpoint's health and logs "
        "(RIVA__S3_ENDPOINT_URL, or AWS's status page), then rerun: staging resumes and verifies what it had",
        "S3's error codes (AWS documentation)", "An error occurred (SlowDown) when calling the PutObject operation",
        in_logs=SKIP),
)
