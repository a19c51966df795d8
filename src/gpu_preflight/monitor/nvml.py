"""Sample the GPUs through NVML (the official `nvidia-ml-py` bindings), in one long-lived helper.

Why a child process: an NVML call can hang on a wedged GPU, and a hung C call cannot be
interrupted from Python (not even by Ctrl-C); a child process can be killed.
Why one long-lived child, not one per sample as ``probe/nvml.py`` does for its single query:
starting Python and calling ``nvmlInit`` costs from a tenth of a second to seconds (without
persistence mode) on every sample, and XID errors arrive as events on an event set that must stay
registered between samples.
The protocol: the parent writes one line to the child's stdin per sample wanted; the child answers
with one JSON line. The parent waits at most ``timeout`` for each answer; a child that does not
answer is killed, the read fails with ``SourceError``, and the next read starts a fresh child.
End of stdin tells the child to shut NVML down and exit (so it also ends when the parent dies).

``NvmlReader`` is the child's work and takes the bindings as an argument so tests can hand it a
fake module; the child imports them with ``probe.nvml_bindings.import_bindings`` (which honours
``$GPU_PREFLIGHT_NVML_MODULE``, for tests of the whole process path).
"""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import tempfile
import threading
from collections import defaultdict
from collections.abc import Iterable
from typing import IO, Any

from gpu_preflight.monitor.sample import (
    Sample,
    gpu_from_dict,
    now_iso,
    throttle_reason_names,
)
from gpu_preflight.monitor.source import NvmlUnavailable, SourceError
from gpu_preflight.probe.nvml_bindings import (
    as_text,
    call_or_none,
    cuda_version,
    helper_environment,
    import_bindings,
    mib,
)

MAX_XID_EVENTS_PER_SAMPLE = 256  # a storm of events must not stall a sample


class NvmlReader:
    """Initialise NVML once, then ``read()`` one sample's worth of every GPU as JSON-ready data."""

    def __init__(self, nvml: Any):
        self.nvml = nvml
        nvml.nvmlInit()  # may raise: the caller reports why NVML is unavailable
        self.driver_version = call_or_none(lambda: as_text(nvml.nvmlSystemGetDriverVersion()))
        cuda = call_or_none(nvml.nvmlSystemGetCudaDriverVersion)
        self.cuda_driver_version = cuda_version(cuda) if cuda else None
        count = call_or_none(nvml.nvmlDeviceGetCount) or 0
        self.handles = {
            i: h for i in range(count) if (h := call_or_none(nvml.nvmlDeviceGetHandleByIndex, i)) is not None
        }
        self.static = {i: self._static_fields(h) for i, h in self.handles.items()}
        # Newer bindings renamed "throttle" to "event" reasons; the bits are the same.
        self._throttle = getattr(nvml, "nvmlDeviceGetCurrentClocksEventReasons", None) or getattr(
            nvml, "nvmlDeviceGetCurrentClocksThrottleReasons", None
        )
        self.events, self.xid_watched = self._watch_xids()

    def _static_fields(self, handle: Any) -> dict[str, Any]:
        nvml = self.nvml
        return {
            "name": call_or_none(lambda: as_text(nvml.nvmlDeviceGetName(handle))),
            "uuid": call_or_none(lambda: as_text(nvml.nvmlDeviceGetUUID(handle))),
            "sm_clock_max_mhz": call_or_none(nvml.nvmlDeviceGetMaxClockInfo, handle, nvml.NVML_CLOCK_SM),
            # Deprecated on new drivers and N/A on GeForce: then unknown.
            "sm_clock_base_mhz": call_or_none(
                getattr(nvml, "nvmlDeviceGetDefaultApplicationsClock", None), handle, nvml.NVML_CLOCK_GRAPHICS
            ),
        }

    def _watch_xids(self) -> tuple[Any, set[int]]:
        nvml = self.nvml
        events = call_or_none(getattr(nvml, "nvmlEventSetCreate", None))
        if events is None:
            return None, set()
        watched = set()
        for index, handle in self.handles.items():
            try:
                nvml.nvmlDeviceRegisterEvents(handle, nvml.nvmlEventTypeXidCriticalError, events)
                watched.add(index)
            except Exception:  # noqa: BLE001 - not supported on this GPU, or not permitted
                pass
        return events, watched

    def _drain_xids(self) -> dict[int, list[int]]:
        found: dict[int, list[int]] = defaultdict(list)
        wait = getattr(self.nvml, "nvmlEventSetWait_v2", None) or getattr(self.nvml, "nvmlEventSetWait", None)
        if self.events is None or wait is None:
            return found
        for _ in range(MAX_XID_EVENTS_PER_SAMPLE):
            try:
                event = wait(self.events, 0)
            except Exception:  # noqa: BLE001 - NVML_ERROR_TIMEOUT: nothing more waiting
                break
            if event.eventType & self.nvml.nvmlEventTypeXidCriticalError:
                index = call_or_none(self.nvml.nvmlDeviceGetIndex, event.device)
                if index is not None:
                    found[index].append(int(event.eventData))
        return found

    def read(self) -> dict[str, Any]:
        xids = self._drain_xids()
        return {
            "driver": {"version": self.driver_version, "cuda": self.cuda_driver_version},
            "gpus": [self._gpu(index, handle, xids) for index, handle in self.handles.items()],
        }

    def _gpu(self, index: int, handle: Any, xids: dict[int, list[int]]) -> dict[str, Any]:
        nvml = self.nvml
        util = call_or_none(nvml.nvmlDeviceGetUtilizationRates, handle)
        memory = self._memory(handle)
        power_mw = call_or_none(nvml.nvmlDeviceGetPowerUsage, handle)
        limit_mw = call_or_none(nvml.nvmlDeviceGetEnforcedPowerLimit, handle)
        throttle = call_or_none(self._throttle, handle)
        return {
            "index": index,
            **self.static[index],
            "utilization_gpu_pct": util.gpu if util is not None else None,
            "utilization_memory_pct": util.memory if util is not None else None,
            "memory_used_mib": mib(memory.used) if memory is not None else None,
            "memory_total_mib": mib(memory.total) if memory is not None else None,
            "temperature_c": call_or_none(nvml.nvmlDeviceGetTemperature, handle, nvml.NVML_TEMPERATURE_GPU),
            "power_w": power_mw / 1000 if power_mw is not None else None,
            "power_limit_w": limit_mw / 1000 if limit_mw is not None else None,
            "sm_clock_mhz": call_or_none(nvml.nvmlDeviceGetClockInfo, handle, nvml.NVML_CLOCK_SM),
            "memory_clock_mhz": call_or_none(nvml.nvmlDeviceGetClockInfo, handle, nvml.NVML_CLOCK_MEM),
            "throttle_reasons": throttle_reason_names(int(throttle)) if throttle is not None else None,
            "pcie_rx_kb_s": call_or_none(nvml.nvmlDeviceGetPcieThroughput, handle, nvml.NVML_PCIE_UTIL_RX_BYTES),
            "pcie_tx_kb_s": call_or_none(nvml.nvmlDeviceGetPcieThroughput, handle, nvml.NVML_PCIE_UTIL_TX_BYTES),
            "ecc_errors_corrected": self._ecc(handle, nvml.NVML_MEMORY_ERROR_TYPE_CORRECTED),
            "ecc_errors_uncorrected": self._ecc(handle, nvml.NVML_MEMORY_ERROR_TYPE_UNCORRECTED),
            "xid_errors": xids.get(index, []) if index in self.xid_watched else None,
            "processes": self._processes(handle),
        }

    def _memory(self, handle: Any) -> Any:
        # v2 keeps the driver's reserved memory out of "used", as nvidia-smi does since R510; v1
        # counts it as used. Older bindings or drivers have only v1.
        version = getattr(self.nvml, "nvmlMemory_v2", None)
        memory = call_or_none(self.nvml.nvmlDeviceGetMemoryInfo, handle, version) if version else None
        return memory if memory is not None else call_or_none(self.nvml.nvmlDeviceGetMemoryInfo, handle)

    def _ecc(self, handle: Any, kind: int) -> int | None:
        count = call_or_none(self.nvml.nvmlDeviceGetTotalEccErrors, handle, kind, self.nvml.NVML_VOLATILE_ECC)
        return int(count) if count is not None else None

    def _processes(self, handle: Any) -> list[dict[str, Any]] | None:
        nvml = self.nvml
        lists = [
            call_or_none(nvml.nvmlDeviceGetComputeRunningProcesses, handle),
            call_or_none(nvml.nvmlDeviceGetGraphicsRunningProcesses, handle),
        ]
        if all(found is None for found in lists):
            return None
        by_pid = {p.pid: p for found in lists for p in (found or [])}
        return [
            {
                "pid": int(pid),
                "name": as_text(name)
                if (name := call_or_none(nvml.nvmlSystemGetProcessName, pid)) is not None
                else None,
                # None under Windows WDDM, which does not say
                "memory_used_mib": mib(p.usedGpuMemory) if p.usedGpuMemory is not None else None,
            }
            for pid, p in sorted(by_pid.items())
        ]

    def close(self) -> None:
        if self.events is not None:
            call_or_none(getattr(self.nvml, "nvmlEventSetFree", None), self.events)
        call_or_none(self.nvml.nvmlShutdown)


def serve(nvml: Any, requests: Iterable[str], answers: IO[str]) -> None:
    """The child's loop: a ``ready`` (or ``error``) line, then one sample line per request line."""

    def answer(document: dict[str, Any]) -> None:
        answers.write(json.dumps(document) + "\n")
        answers.flush()

    try:
        reader = NvmlReader(nvml)
    except Exception as exc:  # noqa: BLE001 - NVMLError and its subclasses, or whatever fake bindings raise
        answer({"error": as_text(exc) or type(exc).__name__})
        return
    answer({"ready": True, "gpus": len(reader.handles)})
    try:
        for _request in requests:
            try:
                answer(reader.read())
            except Exception as exc:  # noqa: BLE001 - a bug of ours must not look like a hung GPU
                answer({"error": f"{type(exc).__name__}: {exc}"})
    finally:
        reader.close()


class NvmlSource:
    """Live samples from the NVML helper process. ``read()`` raises ``NvmlUnavailable`` when there
    is no NVML here, ``SourceError`` when the helper hangs or dies."""

    def __init__(self, timeout: float = 10.0, init_timeout: float = 30.0, python: str = sys.executable):
        self.timeout = timeout
        self.init_timeout = max(init_timeout, timeout)  # nvmlInit without persistence mode is slow
        self.python = python
        self._proc: subprocess.Popen[str] | None = None
        self._answers: queue.Queue[str | None] = queue.Queue()

    def read(self) -> Sample:
        if self._proc is None:
            self._start()
        assert self._proc is not None and self._proc.stdin is not None
        try:
            self._proc.stdin.write("sample\n")
            self._proc.stdin.flush()
        except OSError:
            pass  # it died: the answer queue says so below
        answer = self._answer(
            self.timeout, "answer within {timeout:g} s: the GPU or its driver may be hung", SourceError
        )
        if "error" in answer:
            raise SourceError(f"the NVML helper failed: {answer['error']}")
        driver = answer.get("driver") or {}
        return Sample(
            time=now_iso(),
            gpus=[gpu_from_dict(gpu) for gpu in answer.get("gpus", [])],
            source="nvml",
            driver_version=driver.get("version"),
            cuda_driver_version=driver.get("cuda"),
        )

    def _start(self) -> None:
        self._stderr = tempfile.TemporaryFile()  # read after a crash; a file cannot fill up and block the child
        try:
            self._proc = subprocess.Popen(
                [self.python, "-m", "gpu_preflight.monitor.nvml"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=self._stderr,
                env=helper_environment(),
                text=True,
                start_new_session=True,  # Ctrl-C reaches the parent only, which then closes the child
            )
        except OSError as exc:
            self._stderr.close()
            raise NvmlUnavailable(f"the NVML helper could not be started: {exc}") from None
        self._answers = queue.Queue()
        threading.Thread(target=_pump, args=(self._proc.stdout, self._answers), daemon=True).start()
        hello = self._answer(
            self.init_timeout, "initialise within {timeout:g} s: a GPU or the driver may be hung", NvmlUnavailable
        )
        if "error" in hello:
            self.close()
            raise NvmlUnavailable(f"NVML is not available: {hello['error']}")
        if not hello.get("gpus"):
            self.close()
            raise NvmlUnavailable("NVML is loaded but reports no GPU")

    def _answer(self, timeout: float, failure: str, error: type[SourceError]) -> dict[str, Any]:
        try:
            line = self._answers.get(timeout=timeout)
        except queue.Empty:
            self._kill()
            raise error(f"NVML did not {failure.format(timeout=timeout)} (helper killed)") from None
        if line is None:
            why = self._ended()
            raise error(f"the NVML helper ended before answering ({why})")
        try:
            answer = json.loads(line)
        except ValueError:
            self._kill()
            raise error(f"the NVML helper printed something that is not JSON: {line[:120]!r}") from None
        return answer if isinstance(answer, dict) else {"error": "unexpected answer"}

    def _ended(self) -> str:
        assert self._proc is not None
        code = self._proc.wait()
        self._stderr.seek(0)
        last = self._stderr.read().decode(errors="replace").strip().splitlines()[-1:] or [""]
        self._forget()
        if code < 0:
            try:
                return f"killed by {signal.Signals(-code).name}"
            except ValueError:
                return f"killed by signal {-code}"
        return f"exit {code}" + (f": {last[0][:200]}" if last[0] else "")

    def _kill(self) -> None:
        if self._proc is not None:
            try:
                os.killpg(self._proc.pid, signal.SIGKILL)  # its whole group, in case it started others
            except (OSError, AttributeError):  # gone already; or Windows, which has no process groups
                self._proc.kill()
            self._proc.wait()
            self._forget()

    def _forget(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        if proc.stdin is not None:
            try:
                proc.stdin.close()
            except OSError:
                pass
        if proc.stdout is not None:
            proc.stdout.close()  # ends the pump thread's read
        self._stderr.close()

    def close(self) -> None:
        if self._proc is None:
            return
        try:
            if self._proc.stdin is not None:
                self._proc.stdin.close()  # end of requests: the child shuts NVML down and exits
            self._proc.wait(timeout=2)
            self._forget()
        except (OSError, subprocess.TimeoutExpired):
            self._kill()


def _pump(stream: IO[str], answers: queue.Queue[str | None]) -> None:
    """Move the child's answer lines onto a queue, so that the parent can wait with a timeout
    (select() does not work on Windows pipes). ``None`` marks the end."""
    try:
        for line in stream:
            answers.put(line)
    except (OSError, ValueError):  # the parent closed the pipe after killing the child
        pass
    answers.put(None)


def main() -> int:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when to stop
    try:
        nvml = import_bindings()
    except ImportError as exc:
        print(
            json.dumps({"error": f"the NVML bindings could not be imported ({exc}); install nvidia-ml-py"}), flush=True
        )
        return 0
    serve(nvml, sys.stdin, sys.stdout)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
