"""Every cap on what preflight will read or compute from user input, in one place.

A hostile or broken input is refused at once with one line (exit 2) rather than read slowly
or without bound. Each limit is far above anything real; the comment says what real looks like.
"""

from __future__ import annotations

MAX_INPUT_BYTES = 64 * 1024 * 1024  # a host document, image config, fleet file or replay
MAX_REQUIREMENTS_BYTES = 1024 * 1024  # a requirements file or pyproject.toml
MAX_INT_DIGITS = 64  # no count, size or version component needs more digits than this
MAX_NESTING = 64  # JSON/TOML depth: real documents nest a handful of levels
MAX_JSON_CONTAINERS = 1_000_000  # objects + arrays in one JSON input: a 1,000-node kubectl list has ~200,000
MAX_JSON_ITEMS = 4_000_000  # values (counted by separators) in one JSON input; 5,000 kubectl nodes have ~2 million
MAX_HOST_GPUS = 1024  # GPUs in one host document or nvidia-smi dump: 8 GPUs x 7 MIG devices is 56
MAX_HOST_LIST = 100_000  # toolkits, frameworks, errors, device files... of one host document
MAX_REPLAY_SAMPLES = 200_000  # samples in one monitor replay: two days at one a second
MAX_TIMEOUT_S = 24 * 3600.0  # --timeout: a probe that needs more than a day is wedged
MAX_INTERVAL_S = 24 * 3600.0  # monitor --interval: a sample a day is the slowest useful cadence
MAX_DOCKERFILE_EXPANSION_BYTES = 4 * 1024 * 1024  # all ${VAR} expansion of one Dockerfile (at most 1 MiB itself)
MAX_LOG_LINES = 200_000  # explain keeps the head and tail of a longer log: a CI log has a few thousand
MAX_SAFETENSORS_HEADER_BYTES = 8 * 1024 * 1024  # a safetensors JSON header: a 1,000-tensor shard has ~100 kB
MAX_GGUF_HEADER_BYTES = 32 * 1024 * 1024  # GGUF metadata + tensor infos: a 262k-token vocabulary with merges is ~12 MB
MAX_GGUF_TENSORS = 1_000_000  # tensor infos in one GGUF file: a 671B MoE has ~1,100, a multimodal file a few thousand
MAX_GGUF_KV = 100_000  # metadata keys in one GGUF file: real files have 20-60
MAX_GGUF_ARRAY_ITEMS = 1024 * 1024  # items of one metadata array: tokenizer vocabularies and merges are up to ~260,000
MAX_GGUF_STRING_BYTES = 16 * 1024 * 1024  # one metadata string: chat templates are tens of kB
MAX_GGUF_DIMENSIONS = 8  # dimensions of one tensor: ggml tensors have at most 4
MAX_GGUF_NESTING = 4  # arrays of arrays in GGUF metadata: real files do not nest them
MAX_XML_TAGS = 2_000_000  # '<' in one nvidia-smi -q -x dump: about 2,000 per GPU
MAX_DOCKERFILE_STAGES = 512  # FROM lines in one Dockerfile: real multi-stage builds have a handful, rarely 50
MAX_DOCKERFILE_COPIES_SEARCHED = 256  # the latest COPYs (and sources of one) such a look-up walks
MAX_DOCKERFILE_REQUIREMENTS = 16  # requirements files read from the build context for one Dockerfile (pip install -r)
MAX_DOCKERFILE_INHERITED = 1_000_000  # ENV entries copied from stage to stage (FROM an earlier stage), in all
MAX_LOG_KEPT_CHARS = 12 * 1024 * 1024  # explain keeps the head and tail of a larger log: CI logs are < 10 MB
MAX_MEMORY_MIB = 64 * 1024 * 1024  # GPU memory in MiB: 64 TiB, no GPU comes near
MAX_GPU_INDEX = 65535  # a GPU or MIG device index
MAX_RUNTIME_CONFIG_BYTES = 1024 * 1024  # nvidia-container-runtime's config.toml: the shipped file is a few KiB
MAX_SMI_XML_BYTES = 64 * 1024 * 1024  # an nvidia-smi -q -x dump
MAX_IMAGE_CONFIG_BYTES = 16 * 1024 * 1024  # an image config: real ones are a few kB; a huge image's history < 1 MiB
MAX_MODEL_CONFIG_BYTES = 4 * 1024 * 1024  # a model's config.json
MAX_DOCKERFILE_BYTES = 1024 * 1024  # a Dockerfile
MAX_LOG_BYTES = 32 * 1024 * 1024  # a log given to explain
MAX_REPLAY_BYTES = 512 * 1024 * 1024  # a monitor recording
MAX_K8S_NODES = 50_000  # Kubernetes supports 5,000 nodes per cluster
MAX_K8S_LABELS = 100_000  # labels of one node: GFD writes about 40
MAX_K8S_TEXT_LINES = 3_000_000  # pasted label text: kubectl -o yaml of 5,000 nodes is about 1.5 million lines
MAX_SPEC_CHARS = 200  # a --torch / --cuda value
MAX_INCLUDE_DEPTH = 10  # -r/-c includes nested in requirements files
