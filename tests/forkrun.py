"""Run many short ``fmsmi`` commands (or decode jobs) as separate processes, fast.

Starting ``python -m fmsmi.player.cli`` costs 3-4 s here, most of it importing torch. A
:class:`ForkServer` is a child Python process that imports the heavy modules once and then
forks one process per job: each job still runs in its own process (its own stdin, stdout
and stderr files, its own exit status, killed at its time limit, a crash in libav kills
only it), but starts in milliseconds.

A job runs a module as ``python -m MODULE ARGS...`` would (``runpy``, ``sys.argv``; an
uncaught exception prints its traceback and exits 1; non-daemon threads are joined), or
calls ``module:function(*args)`` and exits 0 (an exception: traceback, exit 1). A job may
carry a file-size limit (RLIMIT_FSIZE), to simulate a full disk without mounting anything.

    with ForkServer(preload=["torch", "fmsmi.player.cli"], env=...) as server:
        results = server.run([Job(argv=[...], cwd=..., timeout=60), ...], parallel=2)
        results[0].returncode, results[0].stderr, results[0].timed_out, results[0].seconds
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Self

TESTS = Path(__file__).resolve().parent
TIME_LIMIT = 90.0          # seconds per fmsmi run in the reliability tests (the slowest takes ~7 s here)
# what the CLI children need, imported once by the server
PRELOAD = ["torch", "fmsmi.player.cli", "fmsmi.player.export", "fmsmi.engine.interpolator",
           "fmsmi.player.live.pipeline"]
_LOG_LINE = re.compile(r"^(DEBUG|INFO|WARNING) [\w.]+: ")


def child_env() -> dict[str, str]:
    """Environment additions for children: the tests folder importable (corpus, test modules)."""
    path = [str(TESTS)] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    return {"PYTHONPATH": os.pathsep.join(path)}


def error_lines(stderr: str) -> list[str]:
    """stderr without the log records (warnings such as 'no trained weights ship')."""
    return [line for line in stderr.splitlines() if line.strip() and not _LOG_LINE.match(line)]


_SERVER = r'''
import json, os, runpy, signal, sys, threading, time, traceback
for name in json.loads(sys.argv[1]):
    __import__(name)
reply = os.fdopen(os.dup(1), "w", buffering=1)
devnull = os.open(os.devnull, os.O_RDWR)
os.dup2(devnull, 1)                      # stray output of the server itself goes nowhere


def child(job):
    code = 1
    try:
        reply.close()
        os.setsid()
        os.chdir(job["cwd"])
        os.environ.update(job["env"])
        for fd, name, flags in ((0, os.devnull, os.O_RDONLY),
                                (1, job["stdout"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC),
                                (2, job["stderr"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC)):
            os.dup2(os.open(name, flags, 0o644), fd)
        sys.stdin = open(0, closefd=False)
        sys.stdout = open(1, "w", closefd=False)
        sys.stderr = open(2, "w", closefd=False)
        if job["fsize_limit"] is not None:       # a full disk, simulated: writes past it fail with EFBIG
            import resource
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
            resource.setrlimit(resource.RLIMIT_FSIZE, (job["fsize_limit"], job["fsize_limit"]))
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGPIPE):
            signal.signal(sig, signal.default_int_handler if sig == signal.SIGINT else signal.SIG_DFL)
        try:
            if job["call"]:
                module, function = job["call"].split(":")
                __import__(module)
                getattr(sys.modules[module], function)(*job["argv"])
                code = 0
            else:
                sys.argv = [job["module"]] + job["argv"]
                sys.modules.pop(job["module"], None)      # runpy warns when it runs a module already imported
                runpy.run_module(job["module"], run_name="__main__", alter_sys=True)
                code = 0
        except SystemExit as exc:
            if exc.code is None:
                code = 0
            elif isinstance(exc.code, int):
                code = exc.code
            else:
                print(exc.code, file=sys.stderr)
                code = 1
        except BaseException:
            traceback.print_exc()
            code = 1
        threading._shutdown()            # as the interpreter does: wait for non-daemon threads
        sys.stdout.flush()
        sys.stderr.flush()
    finally:
        os._exit(code)


for line in sys.stdin:
    request = json.loads(line)
    jobs, parallel = request["jobs"], request["parallel"]
    results = [None] * len(jobs)
    waiting = list(range(len(jobs)))
    running = {}                          # pid -> (index, started, deadline)
    while waiting or running:
        while waiting and len(running) < parallel:
            index = waiting.pop(0)
            started = time.monotonic()
            pid = os.fork()
            if pid == 0:
                child(jobs[index])
            running[pid] = (index, started, started + jobs[index]["timeout"])
        pid, status = os.waitpid(-1, os.WNOHANG)
        now = time.monotonic()
        if pid:
            index, started, _ = running.pop(pid)
            results[index] = {"status": status, "timed_out": False, "seconds": now - started}
            continue
        for pid, (index, started, deadline) in list(running.items()):
            if now > deadline:
                try:
                    os.killpg(pid, signal.SIGKILL)     # the child and anything it started
                except ProcessLookupError:
                    os.kill(pid, signal.SIGKILL)       # not yet its own process group
                os.waitpid(pid, 0)
                running.pop(pid)
                results[index] = {"status": None, "timed_out": True, "seconds": now - started}
        time.sleep(0.005)
    reply.write(json.dumps(results) + "\n")
'''


@dataclass
class Job:
    argv: list[str]
    cwd: str | Path = "."
    timeout: float = 60.0
    module: str = "fmsmi.player.cli"
    call: str = ""                       # "module:function": call it with argv instead of running module
    env: dict[str, str] = field(default_factory=dict)
    fsize_limit: int | None = None       # RLIMIT_FSIZE in bytes (SIGXFSZ ignored: writes fail with EFBIG)
    label: str = ""


@dataclass
class Result:
    job: Job
    returncode: int | None               # None: killed at the time limit; -N: died of signal N
    timed_out: bool
    seconds: float
    stdout: str
    stderr: str

    def describe(self) -> str:
        state = "timed out" if self.timed_out else f"exit {self.returncode}"
        return f"{self.job.label or self.job.argv}: {state} after {self.seconds:.1f} s\n{self.stderr}"


class ForkServer:
    def __init__(self, preload: list[str], env: dict[str, str] | None = None):
        self._folder = tempfile.TemporaryDirectory(prefix="fmsmi-forkrun-")
        self._count = 0
        self.process = subprocess.Popen([sys.executable, "-c", _SERVER, json.dumps(preload)],
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                                        env={**os.environ, **(env or {})})

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.stdin.close()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._folder.cleanup()

    def run(self, jobs: list[Job], parallel: int = 1) -> list[Result]:
        """Run ``jobs``, at most ``parallel`` at a time; results in the jobs' order."""
        files = []
        requests = []
        for job in jobs:
            self._count += 1
            out = Path(self._folder.name) / f"{self._count}.out"
            err = Path(self._folder.name) / f"{self._count}.err"
            files.append((out, err))
            request = asdict(job)
            request.update(cwd=str(job.cwd), stdout=str(out), stderr=str(err))
            requests.append(request)
        self.process.stdin.write(json.dumps({"jobs": requests, "parallel": parallel}) + "\n")
        self.process.stdin.flush()
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError(f"the fork server died (exit {self.process.poll()})")
        results = []
        for job, state, (out, err) in zip(jobs, json.loads(line), files):
            status = state["status"]
            code = None if status is None else os.waitstatus_to_exitcode(status)
            results.append(Result(job, code, state["timed_out"], state["seconds"],
                                  out.read_text(errors="replace") if out.exists() else "",
                                  err.read_text(errors="replace") if err.exists() else ""))
            out.unlink(missing_ok=True)
            err.unlink(missing_ok=True)
        return results
