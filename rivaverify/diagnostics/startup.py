"""Signatures of a start that fails: the launcher, models that do not load, GPU and container, NGC and NIM."""

from __future__ import annotations

from rivaverify.diagnostics.catalogue import WARN, sig

GH = "https://github.com/"
NIM_DEBUG = "https://docs.nvidia.com/nim/riva/asr/latest/debugging-guide.html"

STARTUP = (
    sig("no-model-repository", r"--model-repository must be specified",
        "start-riva started tritonserver without --model-repository (the launcher bug of riva-speech 2.15-2.19).",
        "tritonserver started without --model-repository: the shim is not first on PATH. Put the DIR/bin of "
        "`rivaverify shim install DIR --model-repository REPO` first on PATH (docker: mount it read-only "
        "and overlay PATH), or run with the shim enabled (RIVA__SHIM=true)",
        "Triton's own check (server.cc); deployment notes quoting it (code index id 33448218787)",
        "error: creating server: Invalid argument - --model-repository must be specified"),
    sig("engine-other-gpu", r"engine plan file is generated on an incompatible device|Invalid TensorRT engine",
        "The TensorRT engines were built on another GPU than this one.",
        "the TensorRT engines were built on another GPU (in `expecting compute X got compute Y`, X is this GPU, Y "
        "the one they were built on; often a repository cached from an H100 run on a T4): riva-deploy the .rmir "
        "again on this GPU (`riva-deploy -f MODEL.rmir /data/models`), or stage a repository built for it",
        GH + "NVIDIA/TensorRT/issues/564; davidbmar/nvidia-parakeet-ver-5 T4 README (code index id 33867294888)",
        "The engine plan file is generated on an incompatible device, expecting compute 6.1 got compute 7.5, "
        "please rebuild."),
    sig("engine-other-tensorrt", r"engine plan file is not compatible with this version of TensorRT",
        "The engines were built with another TensorRT than the server's (an image upgraded, engines kept).",
        "the engines were built with another TensorRT (the image was upgraded, the engines kept): riva-deploy the "
        ".rmir again with this image",
        GH + "triton-inference-server/server/issues/317",
        "E0530 23:11:46.299486 1 logging.cc:43] The engine plan file is not compatible with this version of "
        "TensorRT, expecting library version 5.1.2 got 5.1.5, please rebuild."),
    sig("engine-other-device", r"Using an engine plan file across different models of devices is not recommended",
        "The engines were built on another model of GPU: they run, but figures are not comparable.",
        "the engines were built on another model of GPU: they run, but latency and capacity figures are not "
        "comparable; riva-deploy on this GPU model for figures that are",
        "TensorRT's runtime warning (NVIDIA/TensorRT); in a Triton log (" + GH
        + "triton-inference-server/server/issues/5677)",
        "Using an engine plan file across different models of devices is not recommended and is likely to affect "
        "performance or even cause errors.", in_logs=WARN),
    sig("onnx-ir-too-new", r"Unsupported model IR version: \d+, max supported IR version: \d+"
        r"|Opset \d+ is under development",
        "An ONNX model was exported with a newer onnx (IR version or opset) than the server's onnxruntime reads.",
        "export the model with the onnx the image supports (Riva 2.13/2.14: onnx 1.13.0 before nemo2riva) or a "
        "lower --onnx_opset, or build a TensorRT engine instead (riva-build without --nn.use_onnx_runtime)",
        GH + "nvidia-riva/nemo2riva/issues/36",
        "UNAVAILABLE: Internal: onnx runtime error 1: Load model from /data/models/streaming/1/model.onnx failed "
        ":... Unsupported model IR version: 9, max supported IR version: 8"),
    sig("missing-library",
        r"unable to load shared library|GLIBCXX_[\d.]+'? not found|cannot open shared object file",
        "A backend needs a shared library the container lacks or has too old (e.g. an L4T image on another "
        "JetPack).",
        "use the image built for this platform (Jetson: the riva-speech L4T image for this JetPack; "
        "`cat /etc/nv_tegra_release`), or install the library the line names",
        GH + "dusty-nv/jetson-containers/issues/450",
        "failed to load 'tts_postprocessor-English-US' version 1: Not found: unable to load shared library: "
        "/lib/aarch64-linux-gnu/libstdc++.so.6: version `GLIBCXX_3.4.29' not found"),
    sig("ensemble-dependency",
        r"ensemble '(?P<ensemble>[^']+)' depends on '(?P<model>[^']+)' which has no loaded version",
        "An ensemble failed because a model under it did not load.",
        "the model {model} did not load, and the ensemble {ensemble} fails because of it: read {model}'s own load "
        "error in the Triton log (the line that says it failed to load {model}) and fix {model}, not the ensemble",
        GH + "dusty-nv/jetson-containers/issues/450",
        "Invalid argument: ensemble 'conformer-en-US-asr-streaming' depends on "
        "'riva-trt-conformer-en-US-asr-streaming-am-streaming' which has no loaded version"),
    sig("model-unavailable",
        r"^\|\s*(?P<model>[^|\s][^|]*?)\s*\|\s*\d+\s*\|\s*UNAVAILABLE:?\s*(?P<reason>[^|]*)",
        "Triton's model table lists a model it could not load, with its reason.",
        "the model {model} did not load: fix what the reason in its row names (a signature on the same line names a "
        "known cause), then the Triton log's line that says it failed to load {model} for the rest",
        GH + "aws/sagemaker-python-sdk/issues/2801",
        "| pre_multi_skin         | 1       | UNAVAILABLE: Internal: Unable to initialize shared memory key ..."),
    sig("model-load-failed", r"failed to load all models|failed to load '",
        "A model failed to load.",
        "a model failed to load: run phase 030 (`pytest suites/ -m modelrepo`) and read the model's load "
        "error in the Triton log (the line with \"failed to load\")",
        GH + "nvidia-riva/nemo2riva/issues/38",
        "E0304 06:27:44.583484 102 model_lifecycle.cc:596] failed to load 'riva-onnx-fastpitch_encoder-Jaz_v1' "
        "version 1: Internal: onnx runtime error 1: ..."),
    sig("cuda-driver-too-old", r"CUDA driver version is insufficient for CUDA runtime version",
        "The NVIDIA driver is older than the CUDA the image was built with.",
        "the NVIDIA driver is older than the image's CUDA needs: `nvidia-smi` shows the driver; upgrade it to the "
        "image's minimum (its release notes) or use an image built for this driver", GH +
        "dusty-nv/jetson-containers/issues/450",
        "Unable to allocate pinned system memory, pinned memory pool will not be available: CUDA driver version is "
        "insufficient for CUDA runtime version", gpu_only=True),
    sig("container-cli-requirement", r"nvidia-container-cli: requirement error",
        "The host driver is older than the image's CUDA: the container toolkit refused to start it.",
        "upgrade the host's NVIDIA driver to one that supports the CUDA the condition names (`nvidia-smi` shows "
        "the driver's CUDA version), or use an image built for an older CUDA",
        GH + "NVIDIA/nvidia-docker/issues/1442",
        "nvidia-container-cli: requirement error: unsatisfied condition: cuda>=11.0, please update your driver to a "
        "newer version, or use an earlier cuda container: unknown."),
    sig("nvml-failed", r"Failed to initialize NVML|nvml error",
        "The NVIDIA driver's user library and kernel module disagree (often a driver upgraded without a reboot).",
        "reboot the host (or reload the nvidia kernel modules) after a driver upgrade; `nvidia-smi` on the host "
        "must work before any container can use the GPU",
        GH + "NVIDIA/nvidia-container-toolkit/issues/394",
        "nvidia-container-cli: initialization error: nvml error: driver/library version mismatch: unknown.",
        gpu_only=True),  # a CPU tritonserver (riva-lite's image) logs `Error: Failed to initialize NVML` as it starts
    sig("kind-gpu-no-gpu", r"has kind KIND_GPU but (no GPUs are available|server does not support GPUs)",
        "A model asks for a GPU and tritonserver sees none.",
        "a model asks for a GPU (instance_group KIND_GPU) and tritonserver sees none: give the container GPUs "
        "(`docker run --gpus`, RIVA__DOCKER_GPUS; the NVIDIA Container Toolkit), and check `nvidia-smi` inside it",
        GH + "dusty-nv/jetson-containers/issues/450",
        "instance group spectrogram_chunker-English-US_0 of model spectrogram_chunker-English-US has kind KIND_GPU "
        "but no GPUs are available"),
    sig("no-gpu", r"no CUDA-capable device|CUDA_ERROR_NO_DEVICE|could not select device driver|NVIDIA driver.*not",
        "No usable GPU is visible.",
        "no usable GPU: check `nvidia-smi` on the host and the NVIDIA Container Toolkit for containers",
        "CUDA's and Docker's wording (NVIDIA Container Toolkit documentation)",
        "docker: Error response from daemon: could not select device driver \"\" with capabilities: [[gpu]].",
        gpu_only=True),
    sig("python-backend-import", r"ModuleNotFoundError|No module named",
        "A Python-backend model imports a module its Python cannot find (a package, or the model's own model.py).",
        "a Python-backend model misses a module: install it where the backend stub's python3 finds it (or ship an "
        "EXECUTION_ENV_PATH environment); `No module named 'model'` means the stub did not find the model's own "
        "model.py: check the model directory and the Triton build (the official image loads it)",
        "Python's wording; a Triton model table (" + GH + "triton-inference-server/server/issues/7410)",
        "ModuleNotFoundError: No module named 'numpy'"),
    sig("frames-mismatch", r"Frames expected \d+ got \d+",
        "The pipeline was built with a --ms_per_timestep that does not match the acoustic model.",
        "the pipeline was built with a --ms_per_timestep that does not match the acoustic model (40 for Conformer, "
        "80 for Parakeet/FastConformer): riva-build again with the model's value, then riva-deploy",
        "RIVA-FACTS (operators' signatures); a Riva 2.19 deployment's notes (code index id 14850434466)",
        "Frames expected 51 got 101"),
    sig("nim-profile-not-found", r"NIMProfileIDNotFound|Could not match a profile in manifest",
        "NIM_TAGS_SELECTOR (or NIM_MODEL_PROFILE) matches no profile of this NIM for this GPU.",
        "NIM_TAGS_SELECTOR matches no profile of this NIM for this GPU: list them (`docker run --rm -e "
        "NGC_API_KEY IMAGE list-model-profiles`) and pick one: for the suite RIVA__NIM_TAGS_SELECTOR="
        "name=...,mode=ofl|str (passed to the NIM as NIM_TAGS_SELECTOR), by hand `docker run -e "
        "NIM_TAGS_SELECTOR=name=...,mode=ofl|str`; or leave it unset for automatic selection",
        "a user's note (code index id 57374222433); " + GH + "NVIDIA-AI-Blueprints/nemotron-voice-agent/pull/89",
        "NIMProfileIDNotFound — no matching profile"),
    sig("nimcache-no-profile",
        r"Failed to match profiles for given model parameters|no profiles are selected for caching"
        r"|Not all of the provided profiles are supported|Unknown profiles provided",
        "A NIMCache's model parameters (or profiles) match no profile of the NIM's manifest for the cluster's GPUs, "
        "or name a profile the manifest does not have.",
        "`kubectl describe nimcache NAME`; list the NIM's profiles (`docker run --rm -e NGC_API_KEY IMAGE "
        "list-model-profiles`) and name one in spec.source.ngc.model.profiles, or loosen precision, engine, "
        "tensorParallelism or gpus so one matches",
        GH + "NVIDIA/k8s-nim-operator internal/controller/nimcache_controller.go (the operator's own messages); "
        "a NIMCache job's log (" + GH + "NVIDIA/k8s-nim-operator/issues/407)",
        "no profiles are selected for caching"),
    sig("image-pull-refused",
        r'"code": ?"DENIED"|registry 402 \(Payment Required\)|proxy_auth\?\S*: 403 Forbidden|ErrImagePull'
        r"|ImagePullBackOff",
        "The registry (nvcr.io) refused the image: no login, a name or tag it does not have, or an account without "
        "access to it (402 Payment Required: not entitled).",
        "the image itself was refused (not the model): `docker login nvcr.io -u '$oauthtoken'` with an NGC API key "
        "whose org can see the image, check the name and tag in NGC's catalog (a NIM is published under one exact "
        "name), and on Kubernetes give the pod an imagePullSecret (docker-registry, server nvcr.io) in its namespace",
        GH + "dusty-nv/jetson-inference/issues/1939 (Docker's `denied`); " + GH + "NVIDIA-AI-Blueprints/"
        "3d-guided-genai-rtx/issues/6 (a NIM image, 402); " + GH + "NVIDIA/nvcf/issues/40 (kubelet, 403 on "
        "nvcr.io/proxy_auth); ImagePullBackOff: Kubernetes' image pull reason",
        'Error response from daemon: Head "https://nvcr.io/v2/nvidia/jetson-inference/manifests/latest": denied: '
        '{"errors": [{"code": "DENIED", "message": "Access Denied"}]}'),
    sig("nim-download-failed", r"errors fetching files",
        "A NIM could not download its model files (nim_sdk's hub): the lines after it say why.",
        "the NIM's model download failed: the lines after `errors fetching files` give the HTTP status (401/403: "
        "NGC_API_KEY; 451: NGC does not serve this region); check the container reaches api.ngc.nvidia.com (a proxy: "
        "HTTPS_PROXY) and that the cache (/opt/nim/.cache) is writable and has room",
        GH + "Clarifai/clarifai-python/pull/444 (an LLM NIM's log: the same nim_sdk download)",
        "[11-19 13:21:06.914 ERROR  nim_sdk::hub::repo  rust/nim-sdk/src/hub/repo.rs:117] One or more errors fetching "
        "files:"),
    sig("ngc-region-refused", r"\b451 Unavailable For Legal Reasons",
        "NGC's model API refused the download from this network or region (HTTP 451); the image pulled fine.",
        "NGC will not serve the model here (HTTP 451, not an image problem: pulling again does not help): fill the "
        "NIM's cache (/opt/nim/.cache) on a host NGC serves, with the same image and GPU class, and mount it here "
        "(as NIM's air-gap deployment does), or attach to a hosted endpoint (RIVA__TARGET=endpoint)",
        GH + "NVIDIA-AI-Blueprints/video-search-and-summarization/issues/1470 (NVIDIA's answer: the NIM container's "
        "model download from NGC's API returned 451); docs.nvidia.com/nim/large-language-models/latest/deployment/"
        "air-gap-deployment.html",
        "HTTP status client error (451 Unavailable For Legal Reasons) for url (https://api.ngc.nvidia.com/v2/org/nim/"
        "team/nvidia/models/nvidia-nemotron-nano-9b-v2/v1.2.2-ga/files)"),
    sig("ngc-auth", r"Authentication Error|\b401 Unauthorized|\b403 Forbidden",  # any case: NGC's CLI says FORBIDDEN
        "NGC refused a download: no valid API key (a NIM's NGC_API_KEY, or the NGC CLI's that riva_init.sh uses).",
        "NGC refused the download: a NIM needs NGC_API_KEY in the container's environment, a valid key with access to "
        "the model: for the suite set RIVA__NGC_API_KEY (or NGC_API_KEY), which it passes in; by hand `docker run -e "
        "NGC_API_KEY` (`docker login nvcr.io` covers the image, not the model). The NGC CLI (riva_init.sh, quick-start "
        "downloads) needs `ngc config set` with an nvapi- key (a guest gets `403 FORBIDDEN ... not Guest accessible`)",
        GH + "NVIDIA/NemoClaw/issues/3333; the NGC CLI's refusal of a guest (a user's notes, code index id 8893751162)",
        "Client Error: 403 Response: 403 FORBIDDEN, ProblemDetail [type= 'urn: kaizen :problem-details: forbidden'"),
)
