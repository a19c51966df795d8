"""Facts a log states about the stack: versions, GPUs, architectures, CUDA error numbers.

Each fact remembers the line it came from, so a conclusion drawn from it can show that line as
evidence. Extraction finds candidate lines with a cheap folded-text search first and runs a
regular expression only on those lines (every pattern uses bounded repetition), which keeps a
10 MB log fast and hostile input harmless.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from gpu_preflight.core.errors import UsageError
from gpu_preflight.core.versions import Version, VersionError, parse_cuda_int, variant_cuda
from gpu_preflight.explain.logtext import LogText
from gpu_preflight.knowledge.arch_list import ArchList, ArchListError
from gpu_preflight.probe.smi_text import classify_smi_error, parse_smi_banner

# The CUDA error numbers that point at one cause (cuda-facts.md sections 6 and 9).
KNOWN_CUDA_ERRORS = frozenset({35, 100, 222, 802, 803, 804})


T = TypeVar("T")


@dataclass(frozen=True)
class OomMemory:
    """The GPU's memory as an out-of-memory message states it, in MiB."""

    total: float
    free: float
    own: float  # what this process holds (PyTorch: reserved, or "this process has ... in use")

    @property
    def held_elsewhere(self) -> bool:
        """Almost nothing is free yet this process holds little: another process has the memory."""
        return self.total > 0 and self.free < 0.1 * self.total and self.own < 0.25 * self.total


@dataclass(frozen=True)
class Fact(Generic[T]):
    value: T
    line: int  # index into LogText.lines


@dataclass(frozen=True)
class GpuSeen:
    name: str | None
    cc: Version | None
    line: int


@dataclass
class LogFacts:
    driver: Fact[Version] | None = None  # driver version as the log states it
    driver_cuda: Fact[Version] | None = None  # the driver's highest CUDA (nvidia-smi, "found version N")
    kernel_module: Fact[Version] | None = None  # /proc/driver/nvidia/version (NVRM)
    torch: Fact[str] | None = None  # "2.4.1+cu121"
    torch_cuda: Fact[Version] | None = None  # the CUDA torch was built for
    cpu_build: Fact[str] | None = None  # a build without CUDA said so
    toolkit_cuda: Fact[Version] | None = None  # nvcc / "CUDA runtime version"
    image_cuda: Fact[Version] | None = None  # the container image's CUDA
    required: Fact[str] | None = None  # an NVIDIA_REQUIRE_* condition as text ("cuda>=12.8")
    required_cuda: Fact[Version] | None = None
    require_expression: Fact[str] | None = None  # a whole NVIDIA_REQUIRE_CUDA value the log shows
    gpus: list[GpuSeen] = field(default_factory=list)
    archs: Fact[ArchList] | None = None  # ArchList the build reports it has
    min_cc: Fact[Version] | None = None  # "The minimum cuda capability supported by this library is 3.7"
    cuda_errors: dict[int, int] = field(default_factory=dict)  # error number -> line
    smi_error: Fact[str] | None = None  # classify_smi_error's class
    container: Fact[str] | None = None  # a hint that the log comes from a container
    docker_runs: list[Fact[bool]] = field(default_factory=list)  # `docker run ...` lines: value = has GPU flags
    cuda_available: Fact[bool] | None = None  # collect_env "Is CUDA available"
    no_gpu_collected: Fact[str] | None = None  # collect_env could not see a driver or GPU
    other_process: Fact[tuple[str, str]] | None = None  # (pid, "71.62 GiB") holding GPU memory
    oom_memory: Fact[OomMemory] | None = None  # what an allocator's out-of-memory message says of the GPU
    nvcc_arch: Fact[Version] | None = None  # nvcc: "Unsupported gpu architecture 'compute_XX'"
    wheel_variant: Fact[str] | None = None  # a torch CUDA variant asked of pip ("cu122"), as written
    # GPU product names anywhere in the text ("on my GTX 1080 Ti"): weaker than the GPUs above, which
    # a tool printed as the one in use; read only where the GPU's generation is the question
    mentioned_gpus: list[GpuSeen] = field(default_factory=list)
    built_ccs: list[Fact[str]] = field(default_factory=list)  # torch's "- 7.5 which supports hardware CC" rows
    wheel_torch: Fact[str] | None = None  # the torch release pinned with it ("2.6.0" of torch==2.6.0+cu121)
    missing_library: Fact[str] | None = None  # "libcudart.so.11.0"
    old_library: Fact[str] | None = None  # "libcublasLt.so.11"
    driver_symbol: Fact[str] | None = None  # a driver-API symbol libcuda lacks ("cuDevicePrimaryCtxSetFlags_v2")
    toolkit_dirs: dict[str, int] = field(default_factory=dict)  # "11.0" -> line of /usr/local/cuda-11.0
    free_fraction: Fact[float] | None = None  # the GPU's free memory / total, as a failing library reports it
    cudnn: Fact[tuple[str, str]] | None = None  # (found, built) as text
    versions: dict[str, Fact[str]] = field(default_factory=dict)  # package -> version text (vllm, jax...)
    mentions: frozenset[str] = frozenset()  # tools the log comes from (vllm, ollama, jax...)

    def summary(self) -> dict[str, object]:
        """The facts worth showing (JSON output), as plain values."""
        out: dict[str, object] = {}
        for name in (
            "driver",
            "driver_cuda",
            "kernel_module",
            "torch",
            "torch_cuda",
            "toolkit_cuda",
            "image_cuda",
            "required",
        ):
            fact = getattr(self, name)
            if fact is not None:
                out[name] = str(fact.value)
        if self.gpus:
            out["gpus"] = [{"name": g.name, "compute_capability": str(g.cc) if g.cc else None} for g in self.gpus]
        if self.archs is not None:
            out["archs"] = str(self.archs.value)
        if self.cuda_errors:
            out["cuda_errors"] = sorted(self.cuda_errors)
        if self.versions:
            out["versions"] = {k: str(v.value) for k, v in self.versions.items()}
        return out


_V = r"(\d{1,4}(?:\.\d{1,6}){0,3})"  # a dotted version, bounded
_NAME = r"([A-Za-z][\w .()/+-]{1,60}?)"  # a GPU name as logs print it


def _version(text: str) -> Version | None:
    try:
        return Version.parse(text)
    except VersionError:
        return None


def _cuda_from_variant(variant: str) -> Version | None:
    """``cu121`` -> 12.1, ``cu92`` -> 9.2; None for what is not a CUDA wheel variant: a log
    may print anything after the ``+``."""
    try:
        return variant_cuda(variant)
    except UsageError:
        return None


def _cc(major: str, minor: str) -> Version | None:
    return Version.of(int(major), int(minor)) if major.isdigit() and minor.isdigit() else None


def _sm(digits: str) -> Version | None:
    """``86`` -> 8.6, ``120`` -> 12.0."""
    return Version.of(int(digits[:-1]), int(digits[-1])) if digits.isdigit() and len(digits) >= 2 else None


Extractor = Callable[[LogFacts, "re.Match[str]", int, LogText], None]  # (facts, match, line index, log)


@dataclass(frozen=True)
class _Rule:
    needle: str  # folded fragment that must be on the line (cheap pre-filter)
    pattern: re.Pattern[str]
    apply: Extractor


_RULES: list[_Rule] = []


def _rule(needle: str, pattern: str, flags: int = re.I) -> Callable[[Extractor], Extractor]:
    def register(func: Extractor) -> Extractor:
        _RULES.append(_Rule(needle, re.compile(pattern, flags), func))
        return func

    return register


def _first(current: Fact[T] | None, value: T | None, line: int) -> Fact[T] | None:
    """The first statement of a fact wins: later lines are usually echoes or other machines."""
    if current is not None or value is None:
        return current
    return Fact(value, line)


# --- driver ------------------------------------------------------------------------------------


@_rule("found version", r"found version (\d{3,6})")
def _found_version(facts: LogFacts, m: re.Match[str], line: int, *_: object) -> None:
    try:
        facts.driver_cuda = _first(facts.driver_cuda, parse_cuda_int(int(m[1])), line)  # 11040 -> 11.4
    except VersionError:
        pass


@_rule("nvidia driver version", r"Nvidia driver version:\s*" + _V)
def _collect_env_driver(facts: LogFacts, m: re.Match[str], line: int, *_: object) -> None:
    facts.driver = _first(facts.driver, _version(m[1]), line)


@_rule("driver version", r"\bDriver Version\s*:\s*" + _V)
def _driver_version(facts: LogFacts, m: re.Match[str], line: int, *_: object) -> None:
    facts.driver = _first(facts.driver, _version(m[1]), line)


@_rule("kernel module", r"Kernel Module\s+" + _V)
def _kernel_module(facts: LogFacts, m: re.Match[str], line: int, *_: object) -> None:
    facts.kernel_module = _first(facts.kernel_module, _version(m[1]), line)


@_rule("nvml library version", r"NVML library version:\s*" + _V)
def _nvml_library(facts: LogFacts, m: re.Match[str], line: int, *_: object) -> None:
    facts.driver = _first(facts.driver, _version(m[1]), line)


@_rule("unsupported cuda version", r"unsupported CUDA version: driver " + _V + r" < image " + _V)
def _nvidia_docker_v1(facts: LogFacts, m: re.Match[str], line: int, *_: object) -> None:
    facts.driver_cuda = _first(facts.driver_cuda, _version(m[1]), line)
    facts.image_cuda = _first(facts.image_cuda, _version(m[2]), line)


# --- torch, toolkit, image -------------------------------------------------------------------


@_rule("pytorch version", r"PyTorch version\s*[:：]\s*([\w.+-]{3,40})")
def _torch_collect_env(facts: LogFacts, m: re.Match[str], line: int, *_: object) -> None:
    _torch(facts, m[1], line)


@_rule(
    "torch",
    r"(?:^|[\s\[(\"'/])(?:py)?torch(?:==|-(?=\d)|\s{1,30}|\s*version\s*[:：]?\s*|[:：]\s*|\.__version__:?\s*'?)(\d{1,2}\.\d{1,3}(?:\.\d{1,3})?(?:[a-z]{1,5}\d{0,8})?(?:\+[\w.]{2,20})?)",
)
def _torch_version(facts: LogFacts, m: re.Match[str], line: int, *_: object) -> None:
    _torch(facts, m[1], line)


def _torch(facts: LogFacts, text: str, line: int) -> None:
    facts.torch = _first(facts.torch, text, line)
    _, _, local = text.partition("+")
    if local.startswith("cu"):
        facts.torch_cuda = _first(facts.torch_cuda, _cuda_from_variant(local.split(".")[0]), line)
    elif local.startswith("cpu"):
        facts.cpu_build = _first(facts.cpu_build, f"torch {text}", line)


@_rule("torch version cuda", r"torch\.version\.cuda\)?\s*[:=,]?\s*'?(\d{1,2}\.\d{1,2}|None\b)?")
def _torch_version_cuda(facts: LogFacts, m: re.Match[str], line: int, log: LogText) -> None:
    """``torch.version.cuda`` and its value, on the same line or the next (a REPL paste). None is
    what a build without CUDA answers."""
    text = m[1]
    if text is None and line + 1 < len(log.lines):
        following = re.fullmatch(r"\s*(?:>>>\s*)?'?(\d{1,2}\.\d{1,2}|None)'?\s*", log.lines[line + 1][:40])
        text = following[1] if following else None
    if text == "None":
        facts.cpu_build = _first(facts.cpu_build, "torch.version.cuda: None", line)
    elif text is not None:
        facts.torch_cuda = _first(facts.torch_cuda, _version(text), line)


@_rule("cuda used to build pytorch", r"CUDA used to build PyTorch:\s*(\S{1,20})")
def _torch_build_cuda(facts: LogFacts, m: re.Match[str], line: int, *_: object) -> None:
    if m[1].lower() == "none":
        facts.cpu_build = _first(facts.cpu_build, "CUDA used to build PyTorch: None", line)
    else:
        facts.torch_cuda = _first(facts.torch_cuda, _version(m[1]), line)


@_rule("compilation tools", r"Cuda compilation tools, release " + _V)
def _nvcc(facts: LogFacts, m: re.Match[str], line: int, *_: object) -> None:
    facts.toolkit_cuda = _first(facts.toolkit_cuda, _version(m[1]), line)


@_rule("cudatoolkit", r"^\s*cudatoolkit\s{1,40}(\d{1,2}\.\d{1,2})(?:\.\d{1,3})?\s")
def _conda_cudatoolkit(facts: LogFacts, m: re.Match[str], line: int, *_: object) -> None:
    """conda list's cudatoolkit row: the CUDA runtime the conda environment's packages use."""
    facts.toolkit_cuda = _first(facts.toolkit_cuda, _version(m[1]), line)


@_rule("cuda runtime version", r"CUDA runtime version:\s*" + _V)
def _collect_env_runtime(facts: LogFacts, m: re.Match[str], line: int, *_: object) -> None:
    version = _version(m[1])
    facts.toolkit_cuda = _first(facts.toolkit_cuda, version.truncate(2) if version else None, line)


@_rule("cuda version", r"^\s*CUDA Version\s+" + _V + r"\s*$")
def _image_banner(facts: LogFacts, m: re.Match[str], line: int, *_: object) -> None:
    facts.image_cuda = _first(facts.image_cuda, _version(m[1]), line)  # the "== CUDA ==" banner of nvidia/cuda images
    facts.container = _first(facts.container, "nvidia/cuda image banner", line)


@_rule("cuda version", r"\bCUDA_VERSION=" + _V)
def _image_env(facts: LogFacts, m: re.Match[str], line: int, *_: object) -> None:
    facts.image_cuda = _first(facts.image_cuda, _version(m[1]), line)


@_rule("nvidia cuda", r"nvidia/cuda:(\d{1,2}\.\d{1,2}(?:\.\d{1,3})?)-")
def _image_tag(facts: LogFacts, m: re.Match[str], line: int, *_: object) -> None:
    facts.image_cuda = _first(facts.image_cuda, _version(m[1]), line)


@_rule("pytorch pytorch", r"pytorch/pytorch:(\d{1,2}\.\d{1,3}\.\d{1,3})-cuda(\d{1,2}\.\d{1,2})")
def _pytorch_image(facts: LogFacts, m: re.Match[str], line: int, *_: object) -> None:
    facts.torch = _first(facts.torch, m[1], line)
    facts.torch_cuda = _first(facts.torch_cuda, _version(m[2]), line)


@_rule("cuda", r"(?:unsatisfied condition:|NVIDIA_REQUIRE_CUDA=)\s*\"?((?:cuda|CUDA)\s*>=?\s*" + _V + r")")
def _requirement(facts: LogFacts, m: re.Match[str], line: int, *_: object) -> None:
    facts.required = _first(facts.required, m[1].replace(" ", ""), line)
    facts.required_cuda = _first(facts.required_cuda, _version(m[2]), line)


@_rule("nvidia require cuda", r"NVIDIA_REQUIRE_CUDA=\"?([^\"\n]{1,3000})")
def _require_expression(facts: LogFacts, m: re.Match[str], line: int, *_: object) -> None:
    facts.require_expression = _first(facts.require_expression, m[1].strip().strip("'"), line)


# --- GPUs and architectures --------------------------------------------------------------------


@_rule(
    "which is of cuda capability", r"Found GPU\s?\d{1,2}\s+" + _NAME + r"\s+which is of cuda capability (\d{1,2})\.(\d)"
)
def _torch_old_gpu(facts: LogFacts, m: re.Match[str], line: int, *_: object) -> None:
    facts.gpus.append(GpuSeen(m[1].strip(), _cc(m[2], m[3]), line))


@_rule(
    "which is of compute capability",
    r"Found GPU\s?\d{1,2}\s+" + _NAME + r"\s+which is of compute capability \(CC\) (\d{1,2})\.(\d)",
)
def _torch_unsupported_gpu(facts: LogFacts, m: re.Match[str], line: int, *_: object) -> None:
    facts.gpus.append(GpuSeen(m[1].strip(), _cc(m[2], m[3]), line))


@_rule("which supports hardware cc", r"^\W{0,20}(\d{1,2})\.(\d) which supports hardware CC\b")
def _torch_built_cc(facts: LogFacts, m: re.Match[str], line: int, *_: object) -> None:
    """torch's list under "The following list shows the CCs this version of PyTorch was built for"."""
    facts.built_ccs.append(Fact(f"{m[1]}.{m[2]}", line))


_PRODUCT = (
    r"(?<![\w-])((?:NVIDIA\s)?(?:GeForce\s)?(?:GTX|RTX|GT)\s?\d{3,4}(?:\s?Ti\b|\sSUPER\b)?"
    r"|(?:NVIDIA\s)?Tesla\s[KMPVT]\d{1,3}\b|(?:NVIDIA\s)?Quadro\s[A-Z]{0,2}\d{3,5}\b)"
)


def _mentioned_gpu(facts: LogFacts, m: re.Match[str], line: int, *_: object) -> None:
    if len(facts.mentioned_gpus) < 8:
        facts.mentioned_gpus.append(GpuSeen(" ".join(m[1].split()), None, line))


for _needle in ("gtx", "rtx", "gt", "tesla", "quadro"):
    _rule(_needle, _PRODUCT)(_mentioned_gpu)


@_rule("with cuda capability sm", _NAME + r" with CUDA capability sm_(\d{2,3})\b")
def _torch_arch_warning(facts: LogFacts, m: re.Match[str], line: int, *_: object) -> None:
    name = re.sub(r"^.*?(?:UserWarning:\s*|\]\s+)", "", m[1]).strip()
    facts.gpus.append(GpuSeen(name, _sm(m[2]), line))


@_rule("gpu has compute capability", r"Your " + _NAME + r" GPU has compute capability (\d{1,2})\.(\d)")
def _vllm_dtype(facts: LogFacts, m: re.Match[str], line: int, *_: object) -> None:
    facts.gpus.append(GpuSeen(m[1].strip(), _cc(m[2], m[3]), line))


@_rule("compute capability", r"Device \d{1,2}:\s*" + _NAME + r", compute capability (\d{1,2})\.(\d)")
def _ggml_device(facts: LogFacts, m: re.Match[str], line: int, *_: object) -> None:
    facts.gpus.append(GpuSeen(m[1].strip(), _cc(m[2], m[3]), line))


@_rule("compute capability", r"name:\s*" + _NAME + r",.{0,80}?compute capability:\s*(\d{1,2})\.(\d)")
def _tf_device(facts: LogFacts, m: re.Match[str], line: int, *_: object) -> None:
    facts.gpus.append(GpuSeen(m[1].strip(), _cc(m[2], m[3]), line))


@_rule("major", r"name:\s*" + _NAME + r"\s+major:\s*(\d{1,2})\s+minor:\s*(\d)")
def _tf1_device(facts: LogFacts, m: re.Match[str], line: int, *_: object) -> None:
    facts.gpus.append(GpuSeen(m[1].strip(), _cc(m[2], m[3]), line))


@_rule(
    "gpu 0",
    r"(?:^|configuration:)\s*GPU \d{1,2}:\s*((?:NVIDIA|Tesla|GeForce|Quadro|TITAN|A\d{2,3}|H\d{3}|L\d{1,2})[\w .-]{0,"
    r"50}?)\s*(?:\(UUID|$)",
)
def _gpu_list(facts: LogFacts, m: re.Match[str], line: int, *_: object) -> None:
    facts.gpus.append(GpuSeen(m[1].strip(), None, line))  # collect_env, nvidia-smi -L


_SMI_ROW = (
    r"^\|\s{1,6}\d{1,2}\s{1,6}((?:NVIDIA|Tesla|GeForce|Quadro|TITAN|RTX|A\d{2,3}|H\d{3})[\w .-]{1,40}?)"
    r"\s{1,30}(?:On|Off|WDDM|TCC)\s{0,4}\|"
)


def _smi_row(facts: LogFacts, m: re.Match[str], line: int, *_: object) -> None:
    seen = GpuSeen(m[1].rstrip(". "), None, line)
    if seen not in facts.gpus:  # a row with both "Off" and "WDDM" is found under both words
        facts.gpus.append(seen)


# Linux rows say On/Off; Windows rows say WDDM or TCC and may have no "Off" at all.
for _needle in ("off", "wddm", "tcc"):
    _rule(_needle, _SMI_ROW)(_smi_row)


@_rule("supports cuda capabilities", r"supports CUDA capabilities\s+((?:(?:sm|compute)_\d{2,3}[a-z]?\s*){1,30})")
def _torch_archs(facts: LogFacts, m: re.Match[str], line: int, *_: object) -> None:
    try:
        facts.archs = _first(facts.archs, ArchList.parse(m[1].split()), line)
    except ArchListError:
        pass


@_rule(
    "cuda capability",
    r"minimum (?:required )?cuda capability (?:supported by this library |that we support )?is (\d{1,2})\.(\d)",
)
def _torch_min_cc(facts: LogFacts, m: re.Match[str], line: int, *_: object) -> None:
    facts.min_cc = _first(facts.min_cc, _cc(m[1], m[2]), line)


@_rule(
    "compiled for",
    r"no device code compatible with CUDA arch (\d{1,2})(\d)0\b.{0,80}?compiled for:\s*((?:\d{3,4}\s*,?\s*){1,30})",
)
def _ggml_archs(facts: LogFacts, m: re.Match[str], line: int, *_: object) -> None:
    """ggml-cuda: "CUDA kernel X has no device code compatible with CUDA arch 520. ggml-cuda.cu was
    compiled for: 610,700,750" (__CUDA_ARCH__ values: 520 is compute capability 5.2)."""
    facts.gpus.append(GpuSeen(None, _cc(m[1], m[2]), line))
    compiled = [f"{int(a) // 100}.{int(a) // 10 % 10}" for a in re.findall(r"\d{3,4}", m[3])]
    try:
        facts.archs = _first(facts.archs, ArchList.parse(";".join(compiled)), line)
    except ArchListError:
        pass


def _rejected_gpu(facts: LogFacts, m: re.Match[str], line: int, *_: object) -> None:
    """A build that names the GPU it refuses: TensorRT's "Target GPU SM 120 is not supported by
    this TensorRT release", Paddle's "The GPU compute capability in your current machine is 120"."""
    facts.gpus.append(GpuSeen(None, _cc(m[1], m[2]), line))


_rule("target gpu sm", r"Target GPU SM (\d{1,2})(\d) is not supported")(_rejected_gpu)
_rule("current machine is", r"compute capability in your current machine is (\d{1,2})(\d)\b")(_rejected_gpu)


def _wheel_variant(facts: LogFacts, m: re.Match[str], line: int, *_: object) -> None:
    if facts.wheel_variant is None:
        pinned = re.search(r"==\s*(\d{1,2}\.\d{1,3}(?:\.\d{1,3})?)", m[0])
        facts.wheel_torch = Fact(pinned[1], line) if pinned else None
    facts.wheel_variant = _first(facts.wheel_variant, "cu" + (m[1] or m[2]), line)


# pip asked for a torch CUDA variant: "torch==2.1.0+cu122", ".../whl/cu122"
for _needle in ("whl cu", "torch"):
    _rule(_needle, r"\btorch[\w.=<>~!-]{0,30}\+cu(\d{2,3})\b|/whl/cu(\d{2,3})\b")(_wheel_variant)


def _nvcc_arch(facts: LogFacts, m: re.Match[str], line: int, *_: object) -> None:
    facts.nvcc_arch = _first(facts.nvcc_arch, _sm(m[1]), line)


# nvcc "Unsupported gpu architecture 'compute_35'"; nvcc / ptxas "Value 'sm_35' is not defined for
# option 'gpu-architecture'" ('gpu-name' for ptxas, as XLA's ptxas calls print it)
_rule("unsupported gpu architecture", r"Unsupported gpu architecture '?(?:compute|sm)_(\d{2,3})")(_nvcc_arch)
_rule("is not defined for option", r"Value '?(?:compute|sm)_(\d{2,3})[a-z]?'? is not defined for option")(_nvcc_arch)


# conda's pytorch-cuda=12.2: the same question as pip's +cu122 (conda's variants follow the wheels')
@_rule("pytorch cuda", r"\bpytorch-cuda\s{0,2}[=<>]{1,2}\s{0,2}(\d{2})\.(\d)\b")
def _conda_variant(facts: LogFacts, m: re.Match[str], line: int, *_: object) -> None:
    facts.wheel_variant = _first(facts.wheel_variant, f"cu{m[1]}{m[2]}", line)


# --- CUDA errors and tool failures ---------------------------------------------------------------

_CUDA_ERROR_FORMS = (
    r"\berror\s*(?:code\s*)?[:=]?\s*(\d{2,3})\b",  # "Error 804:", "CUDA error 222", "error code 35"
    r"\bcode=(\d{2,3})\b",  # "code=803(cudaErrorSystemDriverMismatch)"
    r"\breturned\s+(\d{2,3})\b",  # "cudaGetDeviceProperties returned 802"
    r"\bfailure:?\s+(\d{2,3})\b",  # "Cuda failure: 222"
    r"\((\d{2,3}) vs\. 0\)",  # caffe "(35 vs. 0)"
    r"runtime error \((\d{2,3})\)",  # torch 1.x "cuda runtime error (802)"
    r"init failure:\s*(\d{2,3})\b",  # Ollama "cuda driver library init failure: 804"
)


@_rule("", "|".join(_CUDA_ERROR_FORMS))
def _cuda_error(facts: LogFacts, m: re.Match[str], line: int, *_: object) -> None:
    number = int(next(group for group in m.groups() if group))
    if number in KNOWN_CUDA_ERRORS:
        facts.cuda_errors.setdefault(number, line)


# "cuInit failed: 100", "cudaSetDevice(0) failed with error 35": a CUDA API name (case kept) that failed
_rule("failed", r"(?-i:\bcu(?:da)?[A-Z]\w{2,40})(?:\(\w{0,20}\))? failed(?: with error)?:?\s+(\d{2,3})\b")(_cuda_error)


@_rule(
    "nvidia",
    r"NVIDIA-SMI has failed|couldn't find libnvidia-ml|Failed to initialize NVML|No devices were found|Unable to "
    r"determine the device handle",
)
def _smi_failure(facts: LogFacts, m: re.Match[str], line: int, *_: object) -> None:
    if facts.smi_error is None:
        kind = classify_smi_error(m.string)
        if kind is not None:
            facts.smi_error = Fact(kind, line)


@_rule(
    "cannot open shared object",
    r"(lib(?:cudart|cublas|cublasLt|cudnn\w{0,20}|cufft|curand|cusparse|cusolver|nvrtc|nvinfer|nccl|nvJitLink)\.so[\d.]{0,12})",
)
def _missing_library(facts: LogFacts, m: re.Match[str], line: int, *_: object) -> None:
    facts.missing_library = _first(facts.missing_library, m[1].rstrip("."), line)


@_rule("usr local cuda", r"/usr/local/cuda-(\d{1,2}\.\d{1,2})\b")
def _toolkit_dir(facts: LogFacts, m: re.Match[str], line: int, *_: object) -> None:
    facts.toolkit_dirs.setdefault(m[1], line)


# the driver API is libcuda's, cu + a capital ("cuCtxCreate_v3"); cudaXxx (the runtime), cublasXxx
# and cudnnXxx are other libraries' symbols
@_rule("undefined symbol", r"undefined symbol:?\s*(?-i:(cu[A-Z]\w{2,60}))")
def _driver_symbol(facts: LogFacts, m: re.Match[str], line: int, *_: object) -> None:
    facts.driver_symbol = _first(facts.driver_symbol, m[1], line)


@_rule("libcublaslt", r"(libcublasLt\.so[\d.]{0,8})")
def _old_cublaslt(facts: LogFacts, m: re.Match[str], line: int, *_: object) -> None:
    if "undefined symbol" in m.string or "not defined in file" in m.string:
        facts.old_library = _first(facts.old_library, m[1].rstrip("."), line)


@_rule("undefined symbol", r"(lib(?:nvJitLink|cusparse|cusolver)\.so[\d.]{0,8}): undefined symbol")
def _old_library(facts: LogFacts, m: re.Match[str], line: int, *_: object) -> None:
    facts.old_library = _first(facts.old_library, m[1].rstrip("."), line)


@_rule(
    "cudnn",
    r"(?:compiled\s+against|built against version)\s+\(?([\d, ]{1,12}|\d{3,6})\)?\s+but (?:found runtime version|"
    r"linked against)\s+\(?([\d, ]{1,12}|\d{3,6})\)?",
)
def _torch_cudnn(facts: LogFacts, m: re.Match[str], line: int, *_: object) -> None:
    facts.cudnn = _first(facts.cudnn, (_cudnn_text(m[2]), _cudnn_text(m[1])), line)


@_rule("cudnn", r"Loaded runtime CuDNN library:\s*" + _V + r" but source was compiled with:\s*" + _V)
def _tf_cudnn(facts: LogFacts, m: re.Match[str], line: int, *_: object) -> None:
    facts.cudnn = _first(facts.cudnn, (m[1], m[2]), line)


@_rule("cudnn version", r"Found cuDNN version (\d{3,6}), but JAX was built against version (\d{3,6})")
def _jax_cudnn(facts: LogFacts, m: re.Match[str], line: int, *_: object) -> None:
    facts.cudnn = _first(facts.cudnn, (_cudnn_text(m[1]), _cudnn_text(m[2])), line)


def _cudnn_text(text: str) -> str:
    """``(8, 5, 0)`` / ``8500`` / ``8906`` -> ``8.5.0`` / ``8.5.0`` / ``8.9.6``."""
    parts = [p for p in re.split(r"[,\s()]+", text) if p]
    if len(parts) > 1:
        return ".".join(parts)
    digits = parts[0] if parts else text
    if len(digits) == 4:  # cuDNN 7/8: MAJOR*1000 + MINOR*100 + PATCH
        return f"{digits[0]}.{digits[1]}.{int(digits[2:])}"
    if len(digits) == 5:  # cuDNN 9: MAJOR*10000 + MINOR*100 + PATCH
        return f"{digits[0]}.{int(digits[1:3])}.{int(digits[3:])}"
    return digits


# --- memory ------------------------------------------------------------------------------------


_SIZE = r"([\d.]{1,10}) ?([KMG]i?B)"


def _mib(number: str, unit: str) -> float | None:
    try:
        value = float(number)
    except ValueError:
        return None
    return value * {"K": 1 / 1024, "M": 1.0, "G": 1024.0}[unit[0].upper()]


# TensorFlow after cuDNN failed to start (cuda_dnn.cc: Memory usage: N bytes free, M bytes total.)
@_rule("bytes total", r"Memory usage: (\d{1,16}) bytes free, (\d{1,16}) bytes total")
def _free_fraction(facts: LogFacts, m: re.Match[str], line: int, *_: object) -> None:
    if int(m[2]) > 0:
        facts.free_fraction = _first(facts.free_fraction, int(m[1]) / int(m[2]), line)


def _oom(facts: LogFacts, line: int, total: float | None, free: float | None, own: float | None) -> None:
    if total is not None and free is not None and own is not None:
        facts.oom_memory = _first(facts.oom_memory, OomMemory(total, free, own), line)


@_rule(
    "total capacity",
    r"\(GPU \d{1,2}; " + _SIZE + r" total capacity; .{0,80}?" + _SIZE + r" free; " + _SIZE + r" reserved",
)
def _torch_oom_old(facts: LogFacts, m: re.Match[str], line: int, *_: object) -> None:
    """torch < 2.1: "(GPU 0; 7.93 GiB total capacity; 130.35 MiB already allocated; 47.06 MiB free;
    188.00 MiB reserved in total by PyTorch)"."""
    _oom(facts, line, _mib(m[1], m[2]), _mib(m[3], m[4]), _mib(m[5], m[6]))


@_rule(
    "total capacity",
    r"total capacity of " + _SIZE + r" of which " + _SIZE + r" is free\.(?: Process \d{1,9} has [\d.]{1,10} ?[KMG]iB "
    r"memory in use\.){0,8} Including non-PyTorch memory, this process has " + _SIZE + r" memory in use",
)
def _torch_oom_new(facts: LogFacts, m: re.Match[str], line: int, *_: object) -> None:
    """torch >= 2.1: "GPU 0 has a total capacity of 23.60 GiB of which 8.22 GiB is free. Including
    non-PyTorch memory, this process has 15.36 GiB memory in use"."""
    _oom(facts, line, _mib(m[1], m[2]), _mib(m[3], m[4]), _mib(m[5], m[6]))


@_rule("memory in use", r"Process (\d{1,9}) has ([\d.]{1,10} [GM]iB) memory in use")
def _other_process(facts: LogFacts, m: re.Match[str], line: int, *_: object) -> None:
    facts.other_process = _first(facts.other_process, (m[1], m[2]), line)


# --- collect_env -------------------------------------------------------------------------------


@_rule("is cuda available", r"Is CUDA available:\s*(\w{2,5})")
def _cuda_available(facts: LogFacts, m: re.Match[str], line: int, *_: object) -> None:
    facts.cuda_available = _first(facts.cuda_available, m[1].lower() in ("true", "yes"), line)


@_rule("nvidia driver version", r"Nvidia driver version:\s*(Could not collect|No CUDA)")
def _no_driver_collected(facts: LogFacts, m: re.Match[str], line: int, *_: object) -> None:
    facts.no_gpu_collected = _first(facts.no_gpu_collected, m[1], line)


# --- containers and the docker command line ------------------------------------------------------


@_rule("docker", r"(?:^|[\s$#>])(?:sudo\s+)?(nvidia-docker|docker|podman)(?:\s+container)?\s+run\s(.{0,3000})")
def _docker_run(facts: LogFacts, m: re.Match[str], line: int, log: LogText) -> None:
    flags = m[2]
    # A command continued over lines with "\" (or PowerShell "`", cmd "^") keeps its flags below.
    following = line
    while flags.rstrip().endswith(("\\", "`", "^")) and following + 1 < len(log.lines) and following - line < 40:
        following += 1
        flags = flags.rstrip()[:-1] + " " + log.lines[following]
    has_gpu = m[1] == "nvidia-docker" or bool(
        re.search(
            r"--gpus\b|--runtime[= ]nvidia|NVIDIA_VISIBLE_DEVICES=(?!void|none)|--device[= ]nvidia\.com/gpu", flags
        )
    )
    facts.docker_runs.append(Fact(has_gpu, line))
    facts.container = _first(facts.container, "docker run", line)


@_rule("", r"(?:^|[\s$#>])(?:sudo\s+)?(singularity|apptainer)\s+(?:exec|run|shell|instance\s+start)\s(.{0,3000})")
def _apptainer_run(facts: LogFacts, m: re.Match[str], line: int, *_: object) -> None:
    """Apptainer / Singularity give a container the GPU only with --nv (or --nvccli)."""
    facts.docker_runs.append(Fact(bool(re.search(r"--nv(?:ccli)?\b", m[2])), line))
    facts.container = _first(facts.container, m[1], line)


@_rule(
    "",
    r"Container image Copyright|== CUDA ==|/\.dockerenv|OCI runtime|nvidia-container-cli|\bkube(?:let|ctl)\b"
    r"|docker: Error response|\bentrypoint\.sh\b|\broot@[0-9a-f]{12}:|/usr/local/nvidia/lib"
    r"|\bdocker(?:-compose| compose| logs| exec| build)\b|\bpodman\b"
    # docker build output (classic "Step 2/9 : RUN", BuildKit "#7 [3/5] RUN"): builds get no GPU
    r"|(?-i:^\s*Step \d{1,3}/\d{1,3} : [A-Z]{3,}\b|^#\d{1,3} \[[\w -]{0,40}\d{1,3}/\d{1,3}\] [A-Z]{3,}\b)"
    # Kubernetes: the device plugin's pod, pod states, the GPU resource name
    r"|nvidia-device-plugin|\bCrashLoopBackOff\b|\bdaemonset\b|\bnvidia\.com/gpu\b"
    # the usual working directories and prefixes of GPU images (NGC: /workspace; conda images)
    r"|\broot@[\w.-]{1,64}:/workspace\b|(?:^|[\s\"'(])/opt/conda/"
    # the official python images install to /usr/local/lib/pythonX.Y/site-packages (Debian and
    # Ubuntu hosts use dist-packages there)
    r"|(?:^|[\s\"'(])/usr/local/lib/python3\.\d{1,2}/site-packages/"
    # Dockerfiles, compose files and the runtime's own settings; Kubernetes pods and events
    r"|\bDockerfile\b|(?-i:^\s*FROM\s+(?!https?:)[\w./-]{1,100}:[\w.-]{1,60})|\bDocker Desktop\b|\bcontainerd\b"
    r"|\bNVIDIA_(?:VISIBLE_DEVICES|DRIVER_CAPABILITIES)\b|\bruntimeClassName\b|\bFailedScheduling\b"
    r"|\bpod/[\w.-]{1,80}|\broot@[a-z0-9-]{1,60}-[a-z0-9]{8,10}-[a-z0-9]{5}:",
)
def _container_hint(facts: LogFacts, m: re.Match[str], line: int, *_: object) -> None:
    facts.container = _first(facts.container, m[0], line)


# --- package versions (for signatures' `versions`) ----------------------------------------------


@_rule("vllm", r"\bvllm(?: API server)?\s*(?:version|==)\s*:?\s*(\d{1,2}\.\d{1,3}\.\d{1,3}[\w.+-]{0,20})")
def _vllm_version(facts: LogFacts, m: re.Match[str], line: int, *_: object) -> None:
    facts.versions.setdefault("vllm", Fact(m[1], line))


_PACKAGE = (
    r"\b(jaxlib|jax|tensorflow|cupy[\w-]{0,12})(?:==|\s+version:?\s*|\s{1,30})(\d{1,2}\.\d{1,3}\.\d{1,3}[\w.+-]{0,30})"
)


def _package_version(facts: LogFacts, m: re.Match[str], line: int, *_: object) -> None:
    facts.versions.setdefault(m[1].lower(), Fact(m[2], line))


for _needle in ("jax", "tensorflow", "cupy"):
    _rule(_needle, _PACKAGE)(_package_version)


@_rule("tensor flow version", r"Tensor ?Flow Version\s*:?\s*(\d{1,2}\.\d{1,3}\.\d{1,3})")
def _tf_version_banner(facts: LogFacts, m: re.Match[str], line: int, *_: object) -> None:
    facts.versions.setdefault("tensorflow", Fact(m[1], line))


# ------------------------------------------------------------------------------------------------

TOOLS = (
    "vllm",
    "sglang",
    "ollama",
    "llama",
    "ggml",
    "jax",
    "jaxlib",
    "tensorflow",
    "torch",
    "pytorch",
    "cupy",
    "docker",
    "kubectl",
)


def extract_facts(log: LogText) -> LogFacts:
    facts = LogFacts(mentions=frozenset(t for t in TOOLS if t.encode() in log.words))
    _smi_banner(facts, log)
    for rule in _RULES:
        for index in _candidates(log, rule.needle):
            line = log.lines[index]
            for match in rule.pattern.finditer(line):
                rule.apply(facts, match, index, log)
    if facts.built_ccs and facts.archs is None:
        try:
            built = ArchList.parse(";".join(f.value for f in facts.built_ccs))
            facts.archs = Fact(built, facts.built_ccs[0].line)
        except ArchListError:
            pass
    if facts.torch is not None:
        facts.versions.setdefault("torch", Fact(str(facts.torch.value).split("+")[0], facts.torch.line))
    return facts


# Needles that must match inside longer words ("pytorch", "jaxlib", "libcudnn", "nvidia-docker",
# "whl/cu122"); every other needle is made of whole words, so a log without them skips the scan.
_SUBSTRING_NEEDLES = frozenset({"torch", "jax", "cupy", "cudnn", "docker", "nvidia", "cuda", "whl cu", "libcublaslt"})


def _candidates(log: LogText, needle: str) -> Iterator[int]:
    if needle:
        yield from log.lines_with(needle, whole=needle not in _SUBSTRING_NEEDLES)
        return
    # Rules without a single keyword (CUDA error forms, container hints): lines that mention
    # one of a few words, still found by the folded search rather than a scan of every line.
    seen: set[int] = set()
    for word in (
        "error",
        "code",
        "returned",
        "failure",
        "vs",
        "runtime",
        "copyright",
        "cuda",
        "dockerenv",
        "oci",
        "nvidia container cli",
        "kubelet",
        "kubectl",
        "docker",
        "entrypoint",
        "root",
        "usr local nvidia",
        "podman",
        "step",
        "run",
        "nvidia device plugin",
        "crashloopbackoff",
        "daemonset",
        "nvidia com gpu",
        "workspace",
        "opt conda",
        "usr local lib python3",
        "dockerfile",
        "from",
        "containerd",
        "nvidia visible devices",
        "nvidia driver capabilities",
        "runtimeclassname",
        "failedscheduling",
        "pod",
        "singularity",
        "apptainer",
    ):
        for index in log.lines_with(word, whole=word not in _SUBSTRING_NEEDLES):
            if index not in seen:
                seen.add(index)
                yield index


def _smi_banner(facts: LogFacts, log: LogText) -> None:
    for index in log.lines_with("nvidia smi", limit=20):
        try:
            banner = parse_smi_banner(log.lines[index])
        except UsageError:
            continue
        facts.driver = _first(facts.driver, _version(banner.driver_version or ""), index)
        if banner.cuda_version:
            facts.driver_cuda = _first(facts.driver_cuda, _version(banner.cuda_version), index)
        return
