"""A throwaway one-node SLURM cluster for the tests: munged, slurmctld and slurmd on this machine.

``start_cluster()`` installs Debian's ``slurm-wlm`` and ``munge`` when their daemons are absent,
writes ``/etc/slurm/slurm.conf`` and ``gres.conf`` (marked with ``MARKER``), backs two fake GPUs
with character devices, starts the three daemons in the foreground as children of this process and
waits until the node is idle. Every piece of state (spool, state save, PID and log files, the
munge socket) lives in one temporary directory. ``stop_cluster()`` cancels the cluster's jobs,
stops exactly the daemons it started (by PID), and removes the configuration, the device nodes it
created and the temporary directory, so that a second run starts from the same place.

It needs root and refuses to touch a SLURM configuration it did not write: a reason this machine
cannot host the cluster is raised as ``ClusterUnavailable`` with a message saying why (the tests
skip on it); a cluster that does not come up once installed and configured raises
``ClusterStartFailed`` with the daemons' logs (the tests fail on it). Partitions: ``cpu`` (the
default) and ``gpu``, both on the one node, which has ``CPUs`` =
the usable cores, memory a little below the machine's and GRES ``gpu:fake:2``.
"""

import ctypes
import os
import re
import shutil
import signal
import socket
import stat
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

MARKER = "# Written by tests/slurm_cluster.py (exp2simgan test cluster); removed on teardown."
SLURM_DIR = Path("/etc/slurm")
SLURM_CONF = SLURM_DIR / "slurm.conf"
GRES_CONF = SLURM_DIR / "gres.conf"
MUNGE_KEY = Path("/etc/munge/munge.key")
PACKAGES = ("slurm-wlm", "munge")
BINARIES = ("munged", "mungekey", "slurmctld", "slurmd", "sbatch", "squeue", "sinfo", "scontrol")
CPU_PARTITION = "cpu"
GPU_PARTITION = "gpu"
GPU_TYPE = "fake"
N_GPUS = 2
NVIDIA_MAJOR = 195  # character-device major number of /dev/nvidia*; nothing drives it here
MIN_JOB_AGE_S = 300  # finished jobs stay visible to squeue (the plugin's status query) this long
MEMORY_MARGIN = 0.9  # RealMemory: this fraction of the machine's memory (slurmd drains above it)
APT_TIMEOUT_S = 900
START_TIMEOUT_S = 60
STOP_TIMEOUT_S = 20
ACTIVE_STATES = ("PENDING", "CONFIGURING", "RUNNING", "COMPLETING")
PR_SET_PDEATHSIG = 1


class ClusterUnavailable(RuntimeError):
    """This machine cannot host the test cluster (not Linux or not root, another SLURM set up,
    no packages and no apt, no device for the fake GPU); the message says why. Tests skip."""


class ClusterStartFailed(RuntimeError):
    """A failure of the set-up the tests rely on, not of the machine: apt-get knows none of our
    package names after updating its index, the packages installed leave programs missing, or
    the cluster configured does not come up. Tests fail."""


@dataclass
class Cluster:
    """A running test cluster and what was created for it (for the teardown)."""

    node: str
    cpus: int
    real_memory_mb: int
    state_dir: Path
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)
    created_devices: list[Path] = field(default_factory=list)

    def log_tail(self, name: str, n_lines: int = 15) -> str:
        """The last lines of a daemon's log and console output (munged, slurmctld, slurmd)."""
        tails = []
        for path in (self.state_dir / f"{name}.log", self.state_dir / f"{name}.out"):
            if path.exists() and path.stat().st_size:
                lines = path.read_text(errors="replace").splitlines()[-n_lines:]
                tails.append(f"{path}:\n" + "\n".join(f"    {line}" for line in lines))
        return "\n".join(tails) or f"{name}: no output in {self.state_dir}"

    def jobs(self) -> list[dict[str, str]]:
        """Every job slurmctld still knows (finished ones for MIN_JOB_AGE_S), oldest first."""
        fields = ("id", "name", "state", "partition", "comment")
        out = run(["squeue", "--noheader", "--states=all", "--format=%i|%j|%T|%P|%k"])
        rows = [dict(zip(fields, line.split("|"), strict=True)) for line in out.splitlines()]
        return sorted(rows, key=lambda row: int(row["id"]))

    def show_job(self, job_id: str) -> dict[str, str]:
        """``scontrol show job`` as {key: value} (e.g. Partition, TresPerJob, JobState)."""
        text = run(["scontrol", "show", "job", "--oneliner", job_id])
        return dict(re.findall(r"(\S+?)=(\S*)", text))


def run(command: list[str], timeout: float = 30) -> str:
    """Run a command and return its stdout; CalledProcessError carries its stderr."""
    result = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=True)
    return result.stdout


def _die_with_parent() -> None:
    """In a child before exec: receive SIGTERM if this test process dies (no orphan daemons)."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def _running_daemons() -> dict[int, str]:
    """{pid: name} of the slurmctld, slurmd and slurmdbd processes on this machine."""
    running = {}
    for comm in Path("/proc").glob("[0-9]*/comm"):
        try:
            name = comm.read_text().strip()
        except OSError:  # the process ended meanwhile
            continue
        if name in ("slurmctld", "slurmd", "slurmdbd"):
            running[int(comm.parent.name)] = name
    return running


def _check_can_run() -> None:
    if os.name != "posix" or not Path("/proc").is_dir():
        raise ClusterUnavailable("the test cluster needs Linux")
    if os.geteuid() != 0:
        raise ClusterUnavailable(
            f"the test cluster needs root (to install packages, write /etc/slurm and start "
            f"munged, slurmctld and slurmd); running as uid {os.geteuid()}"
        )
    if os.environ.get("SLURM_CONF"):
        raise ClusterUnavailable(
            f"SLURM_CONF={os.environ['SLURM_CONF']} is set: this machine is set up for another "
            "SLURM cluster; not starting a test cluster beside it"
        )
    running = _running_daemons()
    if running:
        raise ClusterUnavailable(
            f"SLURM daemons already run here ({running}): not starting a test cluster beside them"
        )
    for path in (SLURM_CONF, GRES_CONF):
        if path.exists() and MARKER not in path.read_text(errors="replace"):
            raise ClusterUnavailable(
                f"{path} exists and was not written by tests/slurm_cluster.py: a real SLURM "
                "installation is configured on this machine; not overwriting it"
            )


def _install() -> None:
    """Install slurm-wlm and munge with apt-get when any of their programs is missing."""
    missing = [name for name in BINARIES if shutil.which(name) is None]
    if not missing:
        return
    if shutil.which("apt-get") is None:
        raise ClusterUnavailable(f"{', '.join(missing)} not installed and apt-get not available")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = ["apt-get", "install", "-y", "-qq", "--no-install-recommends", *PACKAGES]
    for command in (["apt-get", "update", "-qq"], install):
        try:
            subprocess.run(
                command, capture_output=True, text=True, timeout=APT_TIMEOUT_S, env=env, check=True
            )
        except subprocess.CalledProcessError as error:
            if command is install and "Unable to locate package" in error.stderr:
                # the package index was just updated: our package list is wrong, not the machine
                raise ClusterStartFailed(
                    f"apt-get knows no package among {PACKAGES}: {error.stderr.strip()[-1500:]}"
                ) from error
            raise ClusterUnavailable(
                f"`{' '.join(command)}` failed (exit {error.returncode}): "
                f"{error.stderr.strip()[-1500:]}"
            ) from error
        except subprocess.TimeoutExpired as error:
            raise ClusterUnavailable(
                f"`{' '.join(command)}` took more than {APT_TIMEOUT_S} s"
            ) from error
    still_missing = [name for name in BINARIES if shutil.which(name) is None]
    if still_missing:
        raise ClusterStartFailed(f"installed {PACKAGES} but {still_missing} are not on PATH")


def _ensure_munge_key() -> None:
    """Create the munge key with ``mungekey -c`` if missing; owner munge, mode 0600."""
    if not MUNGE_KEY.exists():
        MUNGE_KEY.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        try:
            run(["mungekey", "--create", f"--keyfile={MUNGE_KEY}"])
        except subprocess.CalledProcessError as error:
            raise ClusterStartFailed(f"mungekey -c failed: {error.stderr.strip()}") from error
    shutil.chown(MUNGE_KEY.parent, "munge", "munge")
    shutil.chown(MUNGE_KEY, "munge", "munge")
    MUNGE_KEY.chmod(0o600)


def _memory_mb() -> int:
    """Total memory of this machine in MiB (the unit of SLURM's RealMemory and --mem)."""
    meminfo = Path("/proc/meminfo").read_text()
    return int(re.search(r"MemTotal:\s+(\d+) kB", meminfo).group(1)) // 1024


def _fake_gpu_devices(cluster: Cluster) -> list[Path]:
    """Character devices /dev/fakegpuN for gres.conf (slurmd drops GPUs without a File=)."""
    devices = [Path(f"/dev/fakegpu{i}") for i in range(N_GPUS)]
    for minor, device in enumerate(devices):
        if device.exists():
            if not device.is_char_device():
                raise ClusterUnavailable(f"{device} exists and is not a character device")
            continue
        try:
            os.mknod(device, 0o600 | stat.S_IFCHR, os.makedev(NVIDIA_MAJOR, minor))
        except OSError as error:
            raise ClusterUnavailable(f"cannot create {device} for a fake GPU: {error}") from error
        cluster.created_devices.append(device)
    return devices


def slurm_conf(cluster: Cluster, munge_socket: Path) -> str:
    """The text of slurm.conf: one node, partitions cpu (default) and gpu, no accounting."""
    state = cluster.state_dir
    return f"""{MARKER}
ClusterName=exp2simgan-test
SlurmctldHost={cluster.node}(127.0.0.1)
SlurmUser=root
MailProg=/bin/true
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket={munge_socket}
StateSaveLocation={state}/slurmctld
SlurmdSpoolDir={state}/slurmd
SlurmctldPidFile={state}/slurmctld.pid
SlurmdPidFile={state}/slurmd.pid
SlurmctldLogFile={state}/slurmctld.log
SlurmdLogFile={state}/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
MpiDefault=none
SwitchType=switch/none
ReturnToService=2
MinJobAge={MIN_JOB_AGE_S}
GresTypes=gpu
NodeName={cluster.node} NodeAddr=127.0.0.1 CPUs={cluster.cpus} \
RealMemory={cluster.real_memory_mb} Gres=gpu:{GPU_TYPE}:{N_GPUS} State=UNKNOWN
PartitionName={CPU_PARTITION} Nodes={cluster.node} Default=YES MaxTime=INFINITE State=UP
PartitionName={GPU_PARTITION} Nodes={cluster.node} Default=NO MaxTime=INFINITE State=UP
"""


def gres_conf(cluster: Cluster, devices: list[Path]) -> str:
    """The text of gres.conf: the fake GPUs of the node, each backed by a device file."""
    lines = [MARKER, "AutoDetect=off"]
    lines += [
        f"NodeName={cluster.node} Name=gpu Type={GPU_TYPE} File={device}" for device in devices
    ]
    return "\n".join(lines) + "\n"


def _start(cluster: Cluster, name: str, command: list[str], **kwargs) -> None:
    log = open(cluster.state_dir / f"{name}.out", "w")  # noqa: SIM115 - closed by the child
    with log:
        cluster.processes[name] = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            preexec_fn=_die_with_parent,
            **kwargs,
        )


def _wait_for(cluster: Cluster, what: str, ready, timeout: float = START_TIMEOUT_S) -> None:
    """Poll ``ready()`` until true; raise ClusterStartFailed with the daemons' logs if not."""
    deadline = time.monotonic() + timeout
    exited = {}
    while time.monotonic() < deadline and not exited:
        try:
            if ready():
                return
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired):
            pass
        time.sleep(0.5)
        exited = {
            name: p.returncode for name, p in cluster.processes.items() if p.poll() is not None
        }
    reason = f"daemons exited (exit codes {exited})" if exited else f"none after {timeout:.0f} s"
    logs = "\n".join(cluster.log_tail(name) for name in ("munged", "slurmctld", "slurmd"))
    raise ClusterStartFailed(f"{what}: {reason}\n{logs}")


def _node_idle(cluster: Cluster) -> bool:
    states = run(["sinfo", "--noheader", "--Node", "--format=%N %t %P"], timeout=10).split()
    return states[:2] == [cluster.node, "idle"]


def start_cluster() -> Cluster:
    """Install, configure and start the cluster. Raises ClusterUnavailable when this machine
    cannot host it and ClusterStartFailed when it does not come up (see the module docstring)."""
    _check_can_run()
    _install()
    _ensure_munge_key()
    state_dir = Path(tempfile.mkdtemp(prefix="exp2simgan-slurm-"))
    state_dir.chmod(0o755)  # munged runs as the munge user and needs to reach its socket
    cluster = Cluster(
        node=socket.gethostname().split(".")[0],
        cpus=len(os.sched_getaffinity(0)),
        real_memory_mb=int(MEMORY_MARGIN * _memory_mb()),
        state_dir=state_dir,
    )
    try:
        munge_dir = state_dir / "munge"
        munge_dir.mkdir(mode=0o755)
        shutil.chown(munge_dir, "munge", "munge")
        munge_socket = munge_dir / "munge.socket"
        _start(
            cluster,
            "munged",
            [
                "munged",
                "--foreground",
                f"--socket={munge_socket}",
                f"--pid-file={munge_dir / 'munged.pid'}",
                f"--seed-file={munge_dir / 'munged.seed'}",
            ],
            user="munge",
            group="munge",
            extra_groups=[],
        )
        _wait_for(cluster, f"munged socket {munge_socket}", munge_socket.exists)
        devices = _fake_gpu_devices(cluster)
        SLURM_DIR.mkdir(exist_ok=True)
        SLURM_CONF.write_text(slurm_conf(cluster, munge_socket))
        GRES_CONF.write_text(gres_conf(cluster, devices))
        _start(cluster, "slurmctld", ["slurmctld", "-D", "-i"])
        _start(cluster, "slurmd", ["slurmd", "-D"])
        _wait_for(cluster, f"node {cluster.node} idle in sinfo", lambda: _node_idle(cluster))
    except BaseException:
        stop_cluster(cluster)
        raise
    return cluster


def stop_cluster(cluster: Cluster) -> None:
    """Cancel the cluster's jobs, stop the daemons started here and remove what was created."""
    slurmctld = cluster.processes.get("slurmctld")
    if slurmctld is not None and slurmctld.poll() is None:
        try:
            active = [job["id"] for job in cluster.jobs() if job["state"] in ACTIVE_STATES]
            if active:
                run(["scancel", *active])
                time.sleep(2)  # let slurmd end the job steps before it stops
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired):
            pass
    for name in ("slurmd", "slurmctld", "munged"):
        process = cluster.processes.get(name)
        if process is None or process.poll() is not None:
            continue
        process.terminate()
        try:
            process.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    for path in (SLURM_CONF, GRES_CONF):
        if path.exists() and MARKER in path.read_text(errors="replace"):
            path.unlink()
    for device in cluster.created_devices:
        device.unlink(missing_ok=True)
    shutil.rmtree(cluster.state_dir, ignore_errors=True)
