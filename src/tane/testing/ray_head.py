"""A local Ray instance in a child process, for tests and benchmarks of the Ray runner.

``RayHead`` starts Ray with ``ray.init`` in a Python child process and gives
its address; drivers (``tane run --runner ray --address ADDRESS``) connect to
it as to any cluster. Closing it shuts Ray down from that process, which stops
every Ray process it started and nothing else (unlike ``ray stop``, which stops
every Ray process of the machine)::

    with RayHead(num_cpus=2) as head:
        subprocess.run(["tane", "run", "--runner", "ray"], env={**os.environ, **head.env})
"""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any

_SCRIPT = """
import sys
import ray

ray.init(num_cpus=int(sys.argv[1]), include_dashboard=False, logging_level="ERROR")
print(ray.get_runtime_context().gcs_address, flush=True)
sys.stdin.read()  # until the parent closes it (or dies)
ray.shutdown()
"""


class RayHead:
    """A Ray instance with ``num_cpus`` CPUs, alive until :meth:`close`."""

    def __init__(self, num_cpus: int = 2, timeout: float = 120.0) -> None:
        self.num_cpus = num_cpus
        self.timeout = timeout
        self.address = ""
        self._proc: subprocess.Popen[str] | None = None

    @property
    def env(self) -> dict[str, str]:
        """What a driver's environment needs to connect: the address, and token auth on.

        Ray 2.5x turns token authentication on for a new local instance (the token
        is in ~/.ray/auth_token), and a driver given an explicit address uses it
        only when ``RAY_AUTH_MODE=token``.
        """
        return {"RAY_ADDRESS": self.address, "RAY_AUTH_MODE": "token"}

    def start(self) -> RayHead:
        env = {**os.environ}
        env.pop("RAY_ADDRESS", None)
        self._proc = subprocess.Popen(
            [sys.executable, "-c", _SCRIPT, str(self.num_cpus)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )
        assert self._proc.stdout is not None
        line = self._proc.stdout.readline().strip()
        if not line:
            code = self._proc.wait(self.timeout)
            raise RuntimeError(f"Ray did not start (exit code {code}): is ray installed?")
        self.address = line
        return self

    def close(self) -> None:
        """Shut Ray down and wait for it (about 2 s)."""
        proc, self._proc = self._proc, None
        if proc is None:
            return
        assert proc.stdin is not None and proc.stdout is not None
        proc.stdin.close()
        try:
            proc.wait(self.timeout)
        except subprocess.TimeoutExpired:
            proc.terminate()
            proc.wait(10)
        proc.stdout.close()

    def __enter__(self) -> RayHead:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.close()
