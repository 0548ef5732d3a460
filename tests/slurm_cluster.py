"""A real single-node SLURM cluster on this machine, for the tests: Debian's `slurm-wlm` daemons
(slurmctld, slurmd, slurmdbd), `munge` for their authentication and a MariaDB for slurmdbd.

Why slurmdbd and a database: submitit watches its jobs with `sacct`, and `sacct` answers only
from SLURM's accounting database. Without it every job stays UNKNOWN to submitit, so a job the
scheduler kills (leaving no result) would be waited for forever.

Everything lives in one scratch folder (configs, keys, sockets, state, logs) and on loopback
addresses and free ports; every daemon runs in the foreground as a child of the test process
and is stopped by its pid. Nothing is installed or changed outside the scratch folder, and no
systemd. Jobs run as root (SlurmUser=root), with the environment of the process that submits
them (sbatch's default), so they use this venv's Python.
"""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from tests.conftest import free_port

CLUSTER, PARTITION = "rnnsuite", "rnn"
DAEMONS = ("munged", "mariadbd", "mariadb-install-db", "slurmdbd", "slurmctld", "slurmd", "sbatch", "sacct")


def missing() -> str | None:
    """Why no cluster can be started here, or None."""
    if os.geteuid() != 0:
        return "the SLURM daemons run as root here (SlurmUser=root); not root"
    absent = [name for name in DAEMONS if shutil.which(name, path=f"{os.environ['PATH']}:/usr/sbin:/usr/bin") is None]
    if absent:
        return (f"not installed: {', '.join(absent)} "
                "(Debian: apt-get install slurm-wlm slurmdbd munge mariadb-server; .ci/run does it as root)")
    try:
        import pwd

        pwd.getpwnam("munge")
    except KeyError:
        return "no `munge` user (Debian's munge package creates it)"
    return None


def wait_until(what: str, ready, timeout: float, proc: subprocess.Popen | None = None, log: Path | None = None):
    """Poll `ready()` until it is true; fail naming `what` (and the log's tail) when the daemon
    exits or the time is up. Returns the seconds it took."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if proc is not None and proc.poll() is not None:
            break
        if ready():
            return time.monotonic() - started
        time.sleep(0.2)
    tail = log.read_text(errors="replace")[-2000:] if log is not None and log.exists() else ""
    state = f"exited with {proc.returncode}" if proc is not None and proc.poll() is not None else "did not get ready"
    raise RuntimeError(f"{what} {state} within {timeout:.0f} s\n{tail}")


def port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


class SlurmCluster:
    """Start with start(), stop with stop(); `env` is what a process needs to use the cluster
    (SLURM_CONF), `started_s` how long each daemon took to answer."""

    def __init__(self, root: Path | None = None):
        self.root = Path(root or tempfile.mkdtemp(prefix="rnn-suite-slurm-"))
        self.root.chmod(0o755)  # munged, which runs as `munge`, must reach its folder inside
        self.conf = self.root / "slurm.conf"
        self.env = {**os.environ, "SLURM_CONF": str(self.conf)}
        self.procs: dict[str, subprocess.Popen] = {}
        self.started_s: dict[str, float] = {}
        self.ports = {name: free_port() for name in ("slurmctld", "slurmd", "slurmdbd", "mariadb")}
        self.host = socket.gethostname().split(".")[0]  # SLURM wants the short name, as `hostname -s`

    # -- the daemons, in the order they need each other -------------------------------------
    def start(self) -> "SlurmCluster":
        try:
            self._munge()
            self._mariadb()
            self._write_confs()
            self._daemon("slurmdbd", ["slurmdbd", "-D"], lambda: port_open(self.ports["slurmdbd"]))
            self._daemon("slurmctld", ["slurmctld", "-D", "-f", str(self.conf)],
                         lambda: self._ok(["scontrol", "ping"], "UP"))
            self._daemon("slurmd", ["slurmd", "-D", "-f", str(self.conf)],
                         lambda: self._ok(["sinfo", "-h", "-n", self.host, "-o", "%T"], "idle"))
            # The cluster registers itself with slurmdbd; sacct answers once it has.
            wait_until("the cluster in slurmdbd",
                       lambda: self._ok(["sacctmgr", "-n", "-P", "show", "cluster", "format=cluster"], CLUSTER), 60)
        except BaseException:
            self.stop()
            raise
        return self

    def _munge(self) -> None:
        folder = self.root / "munge"
        folder.mkdir()
        folder.chmod(0o711)  # munged wants its socket folder reachable by all, the key its own
        key = folder / "munge.key"
        key.write_bytes(os.urandom(1024))  # a key of its own: the machine's /etc/munge is left alone
        key.chmod(0o400)
        shutil.chown(folder, "munge", "munge")
        shutil.chown(key, "munge", "munge")
        self.munge_socket = folder / "munge.socket"
        self._daemon("munged", ["munged", "-F", f"--socket={self.munge_socket}", f"--key-file={key}",
                                f"--pid-file={folder}/munged.pid", f"--seed-file={folder}/munged.seed",
                                f"--log-file={folder}/munged.log"],
                     lambda: self.munge_socket.exists(), user="munge", log=folder / "munged.log")

    def _mariadb(self) -> None:
        data, port = self.root / "mariadb", self.ports["mariadb"]
        started = time.monotonic()
        init = subprocess.run(["mariadb-install-db", "--no-defaults", f"--datadir={data}", "--user=root",
                               "--skip-test-db", "--auth-root-authentication-method=normal"],
                              capture_output=True, text=True, timeout=120)
        if init.returncode != 0:
            raise RuntimeError(f"mariadb-install-db failed: {init.stderr[-2000:]}")
        self.started_s["mariadb-install-db"] = time.monotonic() - started
        # No passwords on a throw-away database that only answers on loopback.
        self._daemon("mariadb", ["mariadbd", "--no-defaults", f"--datadir={data}", "--user=root",
                                 f"--port={port}", "--bind-address=127.0.0.1", f"--socket={self.root}/mariadb.sock",
                                 f"--pid-file={self.root}/mariadb.pid", "--skip-grant-tables",
                                 f"--log-error={self.root}/mariadb.log"],
                     lambda: port_open(port), log=self.root / "mariadb.log")

    def _write_confs(self) -> None:
        node = subprocess.run(["slurmd", "-C"], capture_output=True, text=True, timeout=30).stdout.splitlines()[0]
        # `slurmd -C`: this machine's real CPUs and memory, e.g. NodeName=vm CPUs=2 ... RealMemory=24105
        auth = f"AuthType=auth/munge\nAuthInfo=socket={self.munge_socket}\n"
        r, p = self.root, self.ports
        for sub in ("state", "spool"):
            (r / sub).mkdir()
        self.conf.write_text(f"""\
ClusterName={CLUSTER}
SlurmctldHost={self.host}(127.0.0.1)
SlurmctldPort={p['slurmctld']}
SlurmdPort={p['slurmd']}
SlurmUser=root
SlurmdUser=root
{auth}StateSaveLocation={r}/state
SlurmdSpoolDir={r}/spool
SlurmctldPidFile={r}/slurmctld.pid
SlurmdPidFile={r}/slurmd.pid
SlurmctldLogFile={r}/slurmctld.log
SlurmdLogFile={r}/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
# Start a job as soon as another ends (no 30-s backfill cycle); a job's --time is not extended.
# KillWait (SIGTERM, then SIGKILL this many seconds later) stays at SLURM's default: a stopped job ends its
# run KILLED and writes its result in a second or two, but on a loaded machine (the tests run in parallel)
# 5 s was once too short, SIGKILL left no result and the launcher stopped the sweep. A job that ends on
# SIGTERM does not wait for it.
SchedulerType=sched/builtin
KillWait=30
OverTimeLimit=0
MessageTimeout=10
ReturnToService=2
AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=localhost
AccountingStoragePort={p['slurmdbd']}
AccountingStoragePass={self.munge_socket}
MailProg=/bin/true
{node.replace(f'NodeName={self.host}', f'NodeName={self.host} NodeAddr=127.0.0.1')} State=UNKNOWN
PartitionName={PARTITION} Nodes={self.host} Default=YES MaxTime=INFINITE State=UP
""")
        dbd = self.root / "slurmdbd.conf"  # slurmdbd reads it beside $SLURM_CONF; it must be 600
        dbd.write_text(f"""\
{auth}DbdHost=localhost
DbdPort={p['slurmdbd']}
SlurmUser=root
PidFile={r}/slurmdbd.pid
LogFile={r}/slurmdbd.log
StorageType=accounting_storage/mysql
StorageHost=127.0.0.1
StoragePort={p['mariadb']}
StorageUser=root
StorageLoc=slurm_acct_db
""")
        dbd.chmod(0o600)

    def _daemon(self, name: str, cmd: list[str], ready, user: str | None = None, log: Path | None = None,
                timeout: float = 60) -> None:
        out = open(self.root / f"{name}.out", "w")
        started = time.monotonic()
        self.procs[name] = subprocess.Popen(cmd, env=self.env, cwd=self.root, stdout=out, stderr=subprocess.STDOUT,
                                            start_new_session=True, user=user)
        wait_until(name, ready, timeout, self.procs[name], log or self.root / f"{name}.log")
        self.started_s[name] = time.monotonic() - started

    def _ok(self, cmd: list[str], expect: str) -> bool:
        proc = subprocess.run(cmd, env=self.env, capture_output=True, text=True, timeout=30)
        return proc.returncode == 0 and expect in proc.stdout

    # -- using it -------------------------------------------------------------------------
    def run(self, *cmd: str, check: bool = True) -> str:
        """A SLURM command (squeue, sacct, scancel, scontrol) against this cluster; its stdout."""
        proc = subprocess.run(cmd, env=self.env, capture_output=True, text=True, timeout=60)
        if check and proc.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)}: {proc.stderr.strip()}")
        return proc.stdout

    def jobs(self, *job_ids: str) -> list[dict[str, str]]:
        """sacct's record of these jobs (every array task, no steps): JobID, JobName, State, Start, End, Reason."""
        fields = "JobID,JobName,State,Start,End,Elapsed,Timelimit,ExitCode"
        out = self.run("sacct", "-X", "--parsable2", "-o", fields, *[a for j in job_ids for a in ("-j", j)])
        lines = out.splitlines()
        names = lines[0].split("|")
        return [dict(zip(names, line.split("|"))) for line in lines[1:]]

    def cancel_all(self) -> None:
        """Cancel every job and wait until none is left (before the daemons stop)."""
        self.run("scancel", "--user=root", check=False)
        wait_until("the jobs' end", lambda: not self.run("squeue", "-h", check=False).strip(), 60)

    def stop(self) -> None:
        """Stop every daemon by its pid, the last started first, then remove the scratch folder."""
        if "slurmd" in self.procs and self.procs["slurmd"].poll() is None:
            try:
                self.cancel_all()
            except (RuntimeError, subprocess.SubprocessError):
                pass
        for name, proc in reversed(list(self.procs.items())):
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(30)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(10)
        self.procs.clear()

    def remove(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)
