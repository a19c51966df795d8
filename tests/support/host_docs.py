"""Host documents as `preflight probe --json` writes them, for the fleet tests (synthetic:
made here, never copied from the shared real fixtures)."""

from __future__ import annotations

import json
from pathlib import Path

from gpu_preflight.core.host import Driver, Framework, Gpu, Host

# (name as NVML reports it, compute capability, brand, memory MiB)
H100 = ("NVIDIA H100 80GB HBM3", "9.0", "NVIDIA", 81559)
A100 = ("NVIDIA A100-SXM4-40GB", "8.0", "NVIDIA", 40960)
T4 = ("Tesla T4", "7.5", "NVIDIA", 15360)
K80 = ("Tesla K80", "3.7", "Tesla", 11441)
RTX5090 = ("NVIDIA GeForce RTX 5090", "12.0", "GeForce", 32607)


def host_doc(
    hostname: str | None,
    driver: str | None,
    cuda: str | None,
    *gpus: tuple,
    count: int = 1,
    serial: int = 0,
    used_mib: int = 0,
    env: dict | None = None,
    frameworks: tuple[Framework, ...] = (),
    with_cc: bool = True,
) -> dict:
    """A probe document: ``count`` of each GPU, with per-machine UUIDs, bus ids and memory use."""
    devices = [gpu for gpu in gpus for _ in range(count)]
    host = Host(
        hostname=hostname,
        driver=Driver(
            version=driver, cuda=cuda, source="nvml" if driver else "none", kernel_module=driver, platform="linux"
        ),
        gpus=[
            Gpu(
                index=i,
                name=name,
                compute_capability=cc if with_cc else None,
                compute_capability_source="nvml" if with_cc else None,
                memory_total_mib=memory,
                memory_used_mib=used_mib,
                brand=brand,
                uuid=f"GPU-{serial:08d}-{i:04d}-0000-0000-000000000000",
                pci_bus_id=f"00000000:{16 + i:02X}:00.0",
            )
            for i, (name, cc, brand, memory) in enumerate(devices)
        ],
        frameworks=list(frameworks),
        env={"CUDA_VISIBLE_DEVICES": None, **(env or {})},
        platform={"system": "Linux", "machine": "x86_64", "python": "3.11.9"},
        source="live",
    )
    return json.loads(json.dumps(host.to_dict()))  # exactly what the JSON round trip gives


def write_docs(folder: Path, docs: list[dict]) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for number, doc in enumerate(docs):
        path = folder / f"host-{number:03d}.json"
        path.write_text(json.dumps(doc, indent=2))
        paths.append(path)
    return paths


def write_lines(path: Path, docs: list[dict]) -> Path:
    path.write_text("".join(json.dumps(doc) + "\n" for doc in docs))
    return path
