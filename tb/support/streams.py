"""cocotb-bus driver and monitor for Amaranth ``stream.Signature`` ports (``<name>__valid``,
``<name>__payload``, ``<name>__ready``), with seeded random idle cycles and back-pressure.

Timing discipline, the same on Icarus and Verilator: every input is written just after a falling
clock edge, and the handshake is read in the ``ReadOnly`` phase that follows, when all
combinational logic has settled. What is read there is exactly what the next rising edge
samples, so no result depends on how a simulator orders its callbacks at the rising edge.
"""

import random

from cocotb.triggers import FallingEdge, ReadOnly
from cocotb.utils import get_sim_time
from cocotb_bus.drivers import BusDriver
from cocotb_bus.monitors import BusMonitor


class StreamSource(BusDriver):
    """Drives a stream input with queued payloads (integers).

    ``idle`` is the probability of inserting an idle cycle (``valid`` low) before each payload,
    drawn from ``random.Random(seed)``. ``accepted`` counts transfers; ``first_transfer`` and
    ``last_transfer`` are the simulation times (in steps) of the first and last ones.
    """

    _signals = ["valid", "payload", "ready"]

    def __init__(self, dut, name, clock, *, idle=0.0, seed=0):
        BusDriver.__init__(self, dut, name, clock, bus_separator="__")
        self.bus.valid.value = 0
        self.bus.payload.value = 0
        self.idle = idle
        self.rng = random.Random(seed)
        self.accepted = 0
        self.first_transfer = self.last_transfer = None
        self._falling = FallingEdge(clock)

    async def _driver_send(self, payload, sync=True, **kwargs):
        if sync:  # first of a batch: align to a falling edge
            await self._falling
        while self.idle and self.rng.random() < self.idle:
            self.bus.valid.value = 0
            await self._falling
        self.bus.payload.value = payload
        self.bus.valid.value = 1
        while True:
            await ReadOnly()
            accepted = bool(self.bus.ready.value)
            await self._falling
            if accepted:
                break
        now = get_sim_time("step")
        self.first_transfer = now if self.first_transfer is None else self.first_transfer
        self.last_transfer = now
        self.accepted += 1
        if not self._sendQ:
            self.bus.valid.value = 0


class StreamSink(BusMonitor):
    """Receives a stream output, driving ``ready`` high with probability ``ready`` each cycle.

    Received payloads go to the monitor's callbacks and to ``received`` (a list of integers).
    """

    _signals = ["valid", "payload", "ready"]

    def __init__(self, dut, name, clock, *, ready=1.0, seed=0, **kwargs):
        self.ready_probability = ready
        self.rng = random.Random(seed)
        self.received = []
        BusMonitor.__init__(self, dut, name, clock, bus_separator="__", **kwargs)
        self.bus.ready.value = 0

    async def _monitor_recv(self):
        falling = FallingEdge(self.clock)
        ready = False
        while True:
            await falling
            now_ready = self.ready_probability >= 1.0 or self.rng.random() < self.ready_probability
            if now_ready != ready:  # writes are the costly part of a cocotb cycle
                ready = now_ready
                self.bus.ready.value = int(ready)
            await ReadOnly()
            if ready and self.bus.valid.value and not self.in_reset:
                payload = int(self.bus.payload.value)
                self.received.append(payload)
                self._recv(payload)
