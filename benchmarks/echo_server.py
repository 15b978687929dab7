"""A Riva-shaped echo server for load-tool benchmarks: every audio chunk is answered at once, no model.

    python benchmarks/echo_server.py PORT [CERT KEY]     # with CERT and KEY (PEM): TLS
"""

from __future__ import annotations

import sys
from concurrent import futures
from pathlib import Path

import grpc
from riva.client.proto import riva_asr_pb2 as rasr
from riva.client.proto import riva_asr_pb2_grpc as rasr_grpc


class Echo(rasr_grpc.RivaSpeechRecognitionServicer):
    def StreamingRecognize(self, request_iterator, context):
        first = next(request_iterator)
        rate = first.streaming_config.config.sample_rate_hertz or 16000
        received = 0
        for req in request_iterator:
            received += len(req.audio_content) // 2
            alt = rasr.SpeechRecognitionAlternative(transcript="echo")
            yield rasr.StreamingRecognizeResponse(results=[rasr.StreamingRecognitionResult(
                alternatives=[alt], audio_processed=received / rate)])
        alt = rasr.SpeechRecognitionAlternative(transcript="echo")
        yield rasr.StreamingRecognizeResponse(results=[rasr.StreamingRecognitionResult(
            alternatives=[alt], is_final=True, audio_processed=received / rate)])


def main() -> None:
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=1000),
                         options=[("grpc.max_concurrent_streams", 10000)])
    rasr_grpc.add_RivaSpeechRecognitionServicer_to_server(Echo(), server)
    address = f"127.0.0.1:{sys.argv[1]}"
    if len(sys.argv) > 3:
        pair = (Path(sys.argv[3]).read_bytes(), Path(sys.argv[2]).read_bytes())
        server.add_secure_port(address, grpc.ssl_server_credentials([pair]))
    else:
        server.add_insecure_port(address)
    server.start()
    print("ready", flush=True)
    server.wait_for_termination()


if __name__ == "__main__":
    main()
