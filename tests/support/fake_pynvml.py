"""A stand-in for the `pynvml` bindings: the calls the monitor makes, on two GPUs.

GPU 0 is a busy H100 at its power cap with one process; GPU 1 is an old T4 on which most calls
are not supported, and which reports XID 79 once. Used in-process (``FakeNVML()``) and, for the
helper-process path, imported by the child as a module (``$GPU_PREFLIGHT_NVML_MODULE=fake_pynvml``),
where ``$FAKE_NVML_SCENARIO`` picks a failure: no-library, no-gpus, hang-init, hang-sample,
crash-sample.
"""

from __future__ import annotations

import os
import time
from types import SimpleNamespace

MIB = 1024 * 1024


class NVMLError(Exception):
    pass


class FakeNVML:
    NVML_CLOCK_GRAPHICS, NVML_CLOCK_SM, NVML_CLOCK_MEM = 0, 1, 2
    NVML_TEMPERATURE_GPU = 0
    NVML_PCIE_UTIL_TX_BYTES, NVML_PCIE_UTIL_RX_BYTES = 0, 1
    NVML_MEMORY_ERROR_TYPE_CORRECTED, NVML_MEMORY_ERROR_TYPE_UNCORRECTED = 0, 1
    NVML_VOLATILE_ECC = 0
    nvmlEventTypeXidCriticalError = 0x8

    def __init__(self, scenario: str = "ok"):
        self.scenario = scenario
        self.pending_xids = [SimpleNamespace(device=("gpu", 1), eventType=0x8, eventData=79)]
        self.shut_down = False
        self.events_freed = False

    def _supported(self, handle):
        if handle[1] == 1:
            raise NVMLError("Not Supported")

    def nvmlInit(self):
        if self.scenario == "no-library":
            raise NVMLError("NVML Shared Library Not Found")
        if self.scenario == "hang-init":
            time.sleep(600)

    def nvmlShutdown(self):
        self.shut_down = True

    def nvmlSystemGetDriverVersion(self):
        return b"550.54.15"

    def nvmlSystemGetCudaDriverVersion(self):
        return 12040

    def nvmlDeviceGetCount(self):
        return 0 if self.scenario == "no-gpus" else 2

    def nvmlDeviceGetHandleByIndex(self, index):
        return ("gpu", index)

    def nvmlDeviceGetIndex(self, handle):
        return handle[1]

    def nvmlDeviceGetName(self, handle):
        return ["NVIDIA H100 80GB HBM3", "Tesla T4"][handle[1]]

    def nvmlDeviceGetUUID(self, handle):
        return f"GPU-{handle[1]:08d}-fake"

    def nvmlDeviceGetUtilizationRates(self, handle):
        if self.scenario == "hang-sample":
            time.sleep(600)
        if self.scenario == "crash-sample":
            os._exit(3)
        self._supported(handle)
        return SimpleNamespace(gpu=97, memory=45)

    nvmlMemory_v2 = 0x02000028
    RESERVED_MIB = 400  # counted as used by the v1 call, apart from it by v2

    def nvmlDeviceGetMemoryInfo(self, handle, version=None):
        used, total = [(61234, 81559), (300, 15360)][handle[1]]
        if not version:
            used += self.RESERVED_MIB
        return SimpleNamespace(used=used * MIB, total=total * MIB, free=(total - used) * MIB)

    def nvmlDeviceGetTemperature(self, handle, sensor):
        return [63, 40][handle[1]]

    def nvmlDeviceGetPowerUsage(self, handle):
        self._supported(handle)
        return 612_345  # mW

    def nvmlDeviceGetEnforcedPowerLimit(self, handle):
        self._supported(handle)
        return 700_000

    def nvmlDeviceGetClockInfo(self, handle, clock):
        return {self.NVML_CLOCK_SM: [1980, 585][handle[1]], self.NVML_CLOCK_MEM: [2619, 5000][handle[1]]}[clock]

    def nvmlDeviceGetMaxClockInfo(self, handle, clock):
        return [1980, 1590][handle[1]]

    def nvmlDeviceGetDefaultApplicationsClock(self, handle, clock):
        self._supported(handle)
        return 1590

    def nvmlDeviceGetCurrentClocksEventReasons(self, handle):
        self._supported(handle)
        return 0x4  # sw_power_cap

    def nvmlDeviceGetPcieThroughput(self, handle, counter):
        self._supported(handle)
        return {self.NVML_PCIE_UTIL_RX_BYTES: 12345, self.NVML_PCIE_UTIL_TX_BYTES: 4567}[counter]

    def nvmlDeviceGetTotalEccErrors(self, handle, kind, counter):
        self._supported(handle)
        return 0

    def nvmlDeviceGetComputeRunningProcesses(self, handle):
        self._supported(handle)
        return [SimpleNamespace(pid=4242, usedGpuMemory=61000 * MIB)]

    def nvmlDeviceGetGraphicsRunningProcesses(self, handle):
        self._supported(handle)
        return [SimpleNamespace(pid=4343, usedGpuMemory=None)]  # WDDM: usage unknown

    def nvmlSystemGetProcessName(self, pid):
        if pid == 4343:
            raise NVMLError("Not Found")  # another pid namespace
        return b"python3"

    def nvmlEventSetCreate(self):
        return "event-set"

    def nvmlDeviceRegisterEvents(self, handle, types, event_set):
        pass

    def nvmlEventSetWait_v2(self, event_set, timeout_ms):
        if self.pending_xids:
            return self.pending_xids.pop(0)
        raise NVMLError("Timeout")

    def nvmlEventSetFree(self, event_set):
        self.events_freed = True


_instance = FakeNVML(os.environ.get("FAKE_NVML_SCENARIO", "ok"))


def __getattr__(name):  # the module stands in for pynvml: its functions are the instance's
    return getattr(_instance, name)
