"""A real, local, single-node Apache Kafka broker for development and tests, without Docker.

The broker is one JVM in KRaft mode acting as both broker and controller on 127.0.0.1. Its jars
come from Maven Central through ``scripts/kafka/pom.xml`` and are cached outside the repository
(``$DRIFTLINE_CACHE_DIR/kafka-<version>/libs``, by default under ``~/.cache/driftline``), so the
first start needs Maven and later ones need only Java 17+.

Everything about one broker lives in its data dir::

    server.properties   generated on every start from the ports below
    kraft/              the log dirs (topics and the metadata log), formatted once
    broker.log          the JVM's stdout and stderr (log4j2 writes there, see kafka/log4j2.xml)
    broker.pid          the JVM's pid while it runs (also its process group id)

Stopping and starting again on the same data dir keeps every topic and message: the storage is
formatted only once, and the ports of a formatted data dir cannot change.

As a library (the test suite's ``kafka_broker`` fixture uses it this way)::

    with LocalBroker(data_dir=tmp_path / "kafka", port=19092, controller_port=19093) as broker:
        producer = KafkaProducer(bootstrap_servers=broker.bootstrap_servers)

As a command line::

    python scripts/local_broker.py start     # fetches the jars once, then waits until ready
    python scripts/local_broker.py status
    python scripts/local_broker.py stop
"""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import functools
import hashlib
import logging
import os
import re
import shutil
import signal
import socket
import subprocess
import time
import uuid
import xml.etree.ElementTree as ET
from collections import deque
from pathlib import Path
from types import TracebackType
from typing import Annotated, Self

import tenacity
import typer
from kafka import KafkaAdminClient
from kafka.errors import KafkaError

__all__ = [
    "DEFAULT_CONTROLLER_PORT",
    "DEFAULT_PORT",
    "BrokerError",
    "LocalBroker",
    "default_cache_dir",
    "kafka_version",
]

log = logging.getLogger(__name__)

KAFKA_DIR = Path(__file__).resolve().parent / "kafka"
POM = KAFKA_DIR / "pom.xml"
LOG4J2_CONFIG = KAFKA_DIR / "log4j2.xml"

DEFAULT_PORT = 9092
DEFAULT_CONTROLLER_PORT = 9093
#: The broker's maximum heap. Kafka's scripts default to 1 GiB; half of it is plenty for tests
#: and leaves room on a 2-core / small-memory machine.
DEFAULT_HEAP = "512m"
#: Kafka 4.x needs Java 17 or newer (Kafka 4.0 quickstart).
MIN_JAVA_MAJOR = 17
#: A warm start (jars cached, storage formatted) takes a few seconds; leave room for slow CI.
START_TIMEOUT_S = 60.0
#: SIGTERM makes the broker shut down cleanly (flush, close the metadata log); a single node
#: needs a few seconds. After this, SIGKILL.
STOP_TIMEOUT_S = 30.0
#: How often readiness is probed while the broker starts.
PROBE_INTERVAL_S = 0.25
#: One readiness probe's budget once the port accepts connections (the broker then answers
#: within ~50 ms here); bounded so that a JVM dying at that moment is still noticed soon.
PROBE_TIMEOUT_MS = 10_000
#: broker.log is set aside as broker.log.1 at start once it is this big.
LOG_ROTATE_BYTES = 10 * 1024 * 1024
#: How many lines of broker.log an error message quotes.
LOG_TAIL_LINES = 40

#: The one node of the cluster: broker and controller in one JVM.
NODE_ID = 1
#: Where to read the jar set's completeness and which pom produced it.
_FETCH_MARKER = ".complete"


class BrokerError(RuntimeError):
    """The local broker cannot be fetched, started or stopped; the message says why."""


def default_cache_dir() -> Path:
    """Where downloaded jars and the CLI's broker live: ``$DRIFTLINE_CACHE_DIR``, else
    ``~/.cache/driftline``. Never inside the repository."""
    configured = os.environ.get("DRIFTLINE_CACHE_DIR")
    return Path(configured).expanduser() if configured else Path.home() / ".cache" / "driftline"


@functools.cache
def kafka_version() -> str:
    """The Kafka release pinned by ``scripts/kafka/pom.xml`` (its ``kafka.version`` property).

    Examples
    --------
    >>> kafka_version().split(".")[0]
    '4'
    """
    namespace = {"m": "http://maven.apache.org/POM/4.0.0"}
    version = ET.parse(POM).getroot().findtext("m:properties/m:kafka.version", namespaces=namespace)
    if not version:
        raise BrokerError(f"{POM.name} has no <kafka.version> property")
    return version.strip()


def new_cluster_id() -> str:
    """A KRaft cluster id: a random UUID as 22 characters of unpadded URL-safe base64.

    Like Kafka's ``Uuid.randomUuid()`` it never starts with ``-``, which a command line would
    read as an option.

    Examples
    --------
    >>> len(new_cluster_id())
    22
    """
    while True:
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not cluster_id.startswith("-"):
            return cluster_id


@functools.cache
def _java() -> str:
    """The ``java`` executable, checked to be version 17 or newer."""
    java = shutil.which("java")
    if java is None:
        raise BrokerError(
            f"Java {MIN_JAVA_MAJOR}+ is needed to run the local Kafka broker, and `java` is not "
            "on PATH (Debian: apt-get install openjdk-17-jre-headless)."
        )
    banner = subprocess.run(
        [java, "-version"], capture_output=True, text=True, check=False
    ).stderr.strip()
    # `openjdk version "17.0.15" 2025-04-15`; Java 8 and older spell it "1.8.0_392".
    match = re.search(r'version "(?:1\.)?(\d+)', banner)
    if match is None or int(match.group(1)) < MIN_JAVA_MAJOR:
        first_line = banner.splitlines()[0] if banner else "no version banner"
        raise BrokerError(
            f"Kafka {kafka_version()} needs Java {MIN_JAVA_MAJOR}+; {java} is: {first_line}"
        )
    return java


def _read_properties(path: Path) -> dict[str, str]:
    """The ``key=value`` lines of a Java properties file we wrote ourselves."""
    properties = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            key, _, value = line.partition("=")
            properties[key.strip()] = value.strip()
    return properties


def _port_accepts(port: int) -> bool:
    """Whether something accepts TCP connections on 127.0.0.1:port."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


class _NotReady(Exception):
    """The broker is alive but does not answer metadata requests yet (retried)."""


@dataclasses.dataclass
class LocalBroker:
    """One local Kafka broker (KRaft broker+controller) whose state lives in ``data_dir``.

    ``start()`` and ``stop()`` are idempotent and may be called any number of times, from this
    object or another one on the same data dir (``is_running()`` reads the pid file), which is
    what the command line and a broker-fault test need.

    Parameters
    ----------
    data_dir
        Holds the configuration, the topics, the log and the pid file. Created if missing.
    port
        The PLAINTEXT listener clients connect to, on 127.0.0.1.
    controller_port
        The KRaft controller listener, on 127.0.0.1.
    heap
        The JVM's maximum heap, as for ``-Xmx``.
    cache_dir
        Where the jars are cached (``<cache_dir>/kafka-<version>/libs``).
    """

    data_dir: Path
    port: int = DEFAULT_PORT
    controller_port: int = DEFAULT_CONTROLLER_PORT
    heap: str = DEFAULT_HEAP
    cache_dir: Path = dataclasses.field(default_factory=default_cache_dir)
    _process: subprocess.Popen[bytes] | None = dataclasses.field(
        default=None, init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        self.data_dir = Path(self.data_dir).expanduser().resolve()
        self.cache_dir = Path(self.cache_dir).expanduser()
        if self.port == self.controller_port:
            raise BrokerError(f"port and controller_port must differ (both are {self.port})")

    # -- where things are -------------------------------------------------------------------

    @property
    def bootstrap_servers(self) -> str:
        """``host:port`` for Kafka clients."""
        return f"127.0.0.1:{self.port}"

    @property
    def libs_dir(self) -> Path:
        """The cached jars of the pinned Kafka release."""
        return self.cache_dir / f"kafka-{kafka_version()}" / "libs"

    @property
    def properties_file(self) -> Path:
        return self.data_dir / "server.properties"

    @property
    def log_dirs(self) -> Path:
        return self.data_dir / "kraft"

    @property
    def log_file(self) -> Path:
        return self.data_dir / "broker.log"

    @property
    def pid_file(self) -> Path:
        return self.data_dir / "broker.pid"

    # -- lifecycle --------------------------------------------------------------------------

    def fetch_jars(self) -> Path:
        """Copy Kafka's runtime jars from Maven Central into the cache; skip if already there.

        The jar set is complete when its marker file names the sha256 of the pom that produced
        it, so editing the pom (a new Kafka release) fetches again. Returns the libs dir.
        """
        libs = self.libs_dir
        digest = hashlib.sha256(POM.read_bytes()).hexdigest()
        if self._jars_present(libs, digest):
            return libs
        mvn = shutil.which("mvn")
        if mvn is None:
            raise BrokerError(
                f"Maven is needed once to fetch the Kafka {kafka_version()} jars from Maven "
                "Central, and `mvn` is not on PATH (Debian: apt-get install maven)."
            )
        partial = libs.with_name(f"libs.partial-{os.getpid()}")
        shutil.rmtree(partial, ignore_errors=True)
        log.info("fetching Kafka %s jars into %s", kafka_version(), libs)
        started = time.monotonic()
        fetched = subprocess.run(
            [
                mvn,
                "-q",
                "-B",
                "-Dstyle.color=never",
                "-f",
                str(POM),
                "dependency:copy-dependencies",
                "-DincludeScope=runtime",
                f"-DoutputDirectory={partial}",
            ],
            capture_output=True,
            text=True,
            check=False,
            cwd=KAFKA_DIR,
        )
        if fetched.returncode != 0:
            shutil.rmtree(partial, ignore_errors=True)
            raise BrokerError(
                f"mvn could not fetch the Kafka jars (exit {fetched.returncode}):\n"
                f"{fetched.stdout}{fetched.stderr}"
            )
        (partial / _FETCH_MARKER).write_text(digest + "\n")
        if self._jars_present(libs, digest):  # another process finished first
            shutil.rmtree(partial, ignore_errors=True)
        else:
            shutil.rmtree(libs, ignore_errors=True)
            partial.rename(libs)
        log.info("fetched Kafka jars in %.1fs", time.monotonic() - started)
        return libs

    def start(self, timeout: float = START_TIMEOUT_S) -> None:
        """Start the broker and return once it answers metadata requests.

        If a broker already runs on this data dir, only wait for it to be ready. Raises
        :class:`BrokerError` with the tail of ``broker.log`` if the JVM exits or the broker is
        not ready within ``timeout`` seconds (the JVM is then stopped).
        """
        if self.is_running():
            self._check_recorded_ports()
            log.info(
                "Kafka broker already running on %s (pid %s)",
                self.bootstrap_servers,
                self._read_pid(),
            )
            self._wait_ready(timeout)
            return
        java = _java()
        libs = self.fetch_jars()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._write_properties()
        if not (self.log_dirs / "meta.properties").exists():
            self._format_storage(java, libs)
        for port in (self.port, self.controller_port):
            if _port_accepts(port):
                raise BrokerError(f"port {port} on 127.0.0.1 is already in use by another process")
        self._rotate_log()
        command = [
            *self._jvm_options(java, libs, heap=self.heap),
            "kafka.Kafka",
            str(self.properties_file),
        ]
        log.info(
            "starting Kafka %s on %s (data dir %s)",
            kafka_version(),
            self.bootstrap_servers,
            self.data_dir,
        )
        with self.log_file.open("ab") as output:
            # A session of its own: Ctrl-C in the terminal or pytest does not reach the JVM, and
            # stop() can signal the whole process group.
            self._process = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
                cwd=self.data_dir,
                start_new_session=True,
            )
        self.pid_file.write_text(f"{self._process.pid}\n")
        try:
            self._wait_ready(timeout)
        except BaseException:
            self.stop()
            raise

    def stop(self, timeout: float = STOP_TIMEOUT_S) -> bool:
        """Stop the broker (SIGTERM, then SIGKILL after ``timeout`` seconds).

        Returns whether a broker was running. Topics and messages stay in the data dir.
        ``stop(timeout=0)`` kills at once, much like a crash (for fault tests).
        """
        pid = self._read_pid()
        was_running = pid is not None and self.is_running()
        if pid is not None and was_running:
            log.info("stopping Kafka broker on %s (pid %s)", self.bootstrap_servers, pid)
            self._signal_group(pid, signal.SIGTERM)
            if not self._wait_exit(pid, timeout):
                log.warning("Kafka broker did not stop within %.0fs; killing it", timeout)
                self._signal_group(pid, signal.SIGKILL)
                if not self._wait_exit(pid, STOP_TIMEOUT_S):
                    raise BrokerError(f"Kafka broker (pid {pid}) survived SIGKILL")
        if self._process is not None:
            self._process.wait()  # reap our child, if it was ours
            self._process = None
        self.pid_file.unlink(missing_ok=True)
        return was_running

    def is_running(self) -> bool:
        """Whether this data dir's broker JVM is alive (ready or not)."""
        pid = self._read_pid()
        if pid is None:
            return False
        if self._process is not None and self._process.pid == pid:
            return self._process.poll() is None
        return self._is_our_jvm(pid)

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    # -- helpers ----------------------------------------------------------------------------

    def _jars_present(self, libs: Path, digest: str) -> bool:
        marker = libs / _FETCH_MARKER
        return marker.is_file() and marker.read_text().strip() == digest

    def _jvm_options(self, java: str, libs: Path, heap: str) -> list[str]:
        return [
            java,
            f"-Xmx{heap}",
            # Kafka's kafka-run-class.sh defaults.
            "-XX:+UseG1GC",
            "-XX:MaxGCPauseMillis=20",
            "-XX:InitiatingHeapOccupancyPercent=35",
            "-XX:+ExplicitGCInvokesConcurrent",
            "-XX:+ExitOnOutOfMemoryError",
            "-Djava.awt.headless=true",
            f"-Dlog4j2.configurationFile={LOG4J2_CONFIG}",
            f"-Dkafka.logs.dir={self.data_dir}",
            "-cp",
            f"{libs}{os.sep}*",  # the JVM expands the wildcard itself
        ]

    def _write_properties(self) -> None:
        """Write server.properties for these ports; a formatted data dir keeps its ports."""
        if (self.log_dirs / "meta.properties").exists():
            self._check_recorded_ports()
        properties = {
            "process.roles": "broker,controller",
            "node.id": NODE_ID,
            "controller.quorum.bootstrap.servers": f"127.0.0.1:{self.controller_port}",
            "listeners": (
                f"PLAINTEXT://127.0.0.1:{self.port},CONTROLLER://127.0.0.1:{self.controller_port}"
            ),
            "inter.broker.listener.name": "PLAINTEXT",
            "controller.listener.names": "CONTROLLER",
            "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
            "log.dirs": self.log_dirs,
            # One node: every internal topic has one replica.
            "offsets.topic.replication.factor": 1,
            "transaction.state.log.replication.factor": 1,
            "transaction.state.log.min.isr": 1,
            "share.coordinator.state.topic.replication.factor": 1,
            "share.coordinator.state.topic.min.isr": 1,
            # Topics are created explicitly (the service, the producer and the tests' new_topic),
            # so a typo in a topic name fails instead of creating an empty topic.
            "auto.create.topics.enable": "false",
            "num.partitions": 1,
            # Speed for tests: no 3 s wait before the first rebalance, few internal partitions to
            # create on first use, and short consumer session timeouts allowed.
            "group.initial.rebalance.delay.ms": 0,
            "offsets.topic.num.partitions": 1,
            "transaction.state.log.num.partitions": 1,
            "group.min.session.timeout.ms": 1000,
            # Retention is checked every minute instead of every 5, so a test of retention
            # settings does not wait long; still cheap for a broker with few segments.
            "log.retention.check.interval.ms": 60_000,
            # Fewer threads and a smaller log cleaner buffer (default 128 MiB) suit a small heap.
            "num.network.threads": 2,
            "num.io.threads": 2,
            "log.cleaner.dedupe.buffer.size": 16 * 1024 * 1024,
            # Not Kafka settings (Kafka ignores unknown keys): the ports this dir was made for.
            "driftline.port": self.port,
            "driftline.controller.port": self.controller_port,
        }
        lines = [f"# Written by scripts/local_broker.py for Kafka {kafka_version()}; do not edit."]
        lines += [f"{key}={value}" for key, value in properties.items()]
        self.properties_file.write_text("\n".join(lines) + "\n")

    def _check_recorded_ports(self) -> None:
        """Refuse ports other than those the data dir's broker was configured with."""
        if not self.properties_file.exists():
            return
        previous = _read_properties(self.properties_file)
        recorded = (
            int(previous.get("driftline.port", self.port)),
            int(previous.get("driftline.controller.port", self.controller_port)),
        )
        if recorded != (self.port, self.controller_port):
            raise BrokerError(
                f"{self.data_dir} belongs to a broker on port {recorded[0]} (controller "
                f"{recorded[1]}); use those ports or another data dir"
            )

    def _format_storage(self, java: str, libs: Path) -> None:
        """Format the log dirs once, as a single-voter (``--standalone``) KRaft quorum."""
        cluster_id = new_cluster_id()
        log.info("formatting %s (cluster id %s)", self.log_dirs, cluster_id)
        command = [
            *self._jvm_options(java, libs, heap="256m"),
            "kafka.tools.StorageTool",
            "format",
            "--standalone",
            "-t",
            cluster_id,
            "-c",
            str(self.properties_file),
        ]
        formatted = subprocess.run(command, capture_output=True, text=True, check=False)
        if formatted.returncode != 0:
            raise BrokerError(
                f"formatting the broker storage failed (exit {formatted.returncode}):\n"
                f"{formatted.stdout}{formatted.stderr}"
            )

    def _wait_ready(self, timeout: float) -> None:
        retrying = tenacity.Retrying(
            stop=tenacity.stop_after_delay(timeout),
            wait=tenacity.wait_fixed(PROBE_INTERVAL_S),
            retry=tenacity.retry_if_exception_type(_NotReady),
            reraise=True,
        )
        started = time.monotonic()
        try:
            retrying(self._probe)
        except _NotReady as exc:
            raise BrokerError(
                f"Kafka broker on {self.bootstrap_servers} not ready after {timeout:.0f}s "
                f"({exc}); end of {self.log_file}:\n{self._log_tail()}"
            ) from exc
        log.info(
            "Kafka broker ready on %s after %.1fs",
            self.bootstrap_servers,
            time.monotonic() - started,
        )

    def _probe(self) -> None:
        """Pass if the JVM is alive and answers a metadata request; raise _NotReady if not yet."""
        if not self.is_running():
            code = self._process.poll() if self._process is not None else None
            raise BrokerError(
                f"Kafka broker exited during start (exit code {code}); end of "
                f"{self.log_file}:\n{self._log_tail()}"
            )
        # Connect with TCP first: a KafkaAdminClient that fails to bootstrap leaves its
        # network thread and sockets behind (kafka-python 3.0.12).
        if not _port_accepts(self.port):
            raise _NotReady(f"port {self.port} closed")
        try:
            admin = KafkaAdminClient(
                bootstrap_servers=self.bootstrap_servers,
                client_id="driftline-local-broker",
                bootstrap_timeout_ms=PROBE_TIMEOUT_MS,
                request_timeout_ms=PROBE_TIMEOUT_MS,
            )
        except KafkaError as exc:
            raise _NotReady(f"bootstrap failed: {exc}") from exc
        try:
            admin.list_topics()
        except KafkaError as exc:
            raise _NotReady(f"metadata request failed: {exc}") from exc
        finally:
            admin.close()

    @property
    def pid(self) -> int | None:
        """The JVM's pid from the pid file (it may have died since); None when stopped."""
        return self._read_pid()

    def _read_pid(self) -> int | None:
        try:
            return int(self.pid_file.read_text().strip())
        except (FileNotFoundError, ValueError):
            return None

    def _is_our_jvm(self, pid: int) -> bool:
        """Whether ``pid`` is alive and is this data dir's broker (not a reused pid)."""
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True  # alive, but someone else's: cannot be more precise
        proc = Path("/proc") / str(pid)
        if not proc.exists():
            return True  # no procfs (macOS): trust the pid file
        try:
            status = (proc / "stat").read_text()
            arguments = (proc / "cmdline").read_bytes().split(b"\0")
        except OSError:
            return False
        if status.rpartition(")")[2].split()[0] == "Z":  # exited, not yet reaped
            return False
        return b"kafka.Kafka" in arguments and os.fsencode(self.properties_file) in arguments

    def _signal_group(self, pid: int, signum: signal.Signals) -> None:
        # start() made the JVM a session (and process group) leader: its pgid is its pid.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signum)

    def _wait_exit(self, pid: int, timeout: float) -> bool:
        if self._process is not None and self._process.pid == pid:
            try:
                self._process.wait(timeout)
            except subprocess.TimeoutExpired:
                return False
            return True
        deadline = time.monotonic() + timeout
        while self._is_our_jvm(pid):
            if time.monotonic() > deadline:
                return False
            time.sleep(0.1)
        return True

    def _rotate_log(self) -> None:
        if self.log_file.exists() and self.log_file.stat().st_size > LOG_ROTATE_BYTES:
            self.log_file.replace(self.log_file.with_name(self.log_file.name + ".1"))

    def _log_tail(self) -> str:
        try:
            with self.log_file.open(errors="replace") as lines:
                return "".join(deque(lines, maxlen=LOG_TAIL_LINES)) or "(empty)"
        except FileNotFoundError:
            return "(no log file)"


# -- command line ---------------------------------------------------------------------------

app = typer.Typer(
    help="Run a local single-node Apache Kafka broker (KRaft) from Maven Central jars.",
    no_args_is_help=True,
    add_completion=False,
)

_DEFAULT_CACHE_DIR = default_cache_dir()
CacheDirOption = Annotated[
    Path,
    typer.Option(
        envvar="DRIFTLINE_CACHE_DIR", help="Cache for the Kafka jars and the default data dir."
    ),
]
DataDirOption = Annotated[
    Path | None,
    typer.Option(
        envvar="DRIFTLINE_BROKER_DIR",
        help="The broker's data dir.",
        show_default="<cache-dir>/broker",
    ),
]
PortOption = Annotated[
    int | None,
    typer.Option(
        envvar="DRIFTLINE_BROKER_PORT",
        help="Client (PLAINTEXT) port on 127.0.0.1.",
        show_default=f"the data dir's, else {DEFAULT_PORT}",
    ),
]
ControllerPortOption = Annotated[
    int | None,
    typer.Option(
        envvar="DRIFTLINE_BROKER_CONTROLLER_PORT",
        help="KRaft controller port on 127.0.0.1.",
        show_default=f"the data dir's, else {DEFAULT_CONTROLLER_PORT}",
    ),
]


def _broker(
    cache_dir: Path,
    data_dir: Path | None,
    port: int | None,
    controller_port: int | None,
    heap: str = DEFAULT_HEAP,
) -> LocalBroker:
    """The CLI's broker: ports not given come from the data dir's server.properties."""
    data_dir = data_dir or cache_dir / "broker"
    recorded: dict[str, str] = {}
    if (data_dir / "server.properties").exists():
        recorded = _read_properties(data_dir / "server.properties")
    return LocalBroker(
        data_dir=data_dir,
        port=port or int(recorded.get("driftline.port", DEFAULT_PORT)),
        controller_port=controller_port
        or int(recorded.get("driftline.controller.port", DEFAULT_CONTROLLER_PORT)),
        heap=heap,
        cache_dir=cache_dir,
    )


def _fail(exc: BrokerError) -> typer.Exit:
    typer.echo(f"error: {exc}", err=True)
    return typer.Exit(1)


@app.callback()
def _configure_logging() -> None:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    # kafka-python narrates every connection of the readiness probe at INFO.
    logging.getLogger("kafka").setLevel(logging.WARNING)


@app.command()
def fetch(cache_dir: CacheDirOption = _DEFAULT_CACHE_DIR) -> None:
    """Fetch the Kafka jars from Maven Central into the cache (once)."""
    try:
        libs = LocalBroker(data_dir=cache_dir / "broker", cache_dir=cache_dir).fetch_jars()
    except BrokerError as exc:
        raise _fail(exc) from exc
    typer.echo(f"Kafka {kafka_version()} jars in {libs}")


@app.command()
def start(
    cache_dir: CacheDirOption = _DEFAULT_CACHE_DIR,
    data_dir: DataDirOption = None,
    port: PortOption = None,
    controller_port: ControllerPortOption = None,
    heap: Annotated[str, typer.Option(help="JVM maximum heap (-Xmx).")] = DEFAULT_HEAP,
    timeout: Annotated[float, typer.Option(help="Seconds to wait until ready.")] = START_TIMEOUT_S,
) -> None:
    """Start the broker in the background and wait until it answers metadata requests."""
    broker = _broker(cache_dir, data_dir, port, controller_port, heap)
    try:
        broker.start(timeout=timeout)
    except BrokerError as exc:
        raise _fail(exc) from exc
    typer.echo(f"running: bootstrap servers {broker.bootstrap_servers}, data dir {broker.data_dir}")


@app.command()
def stop(
    cache_dir: CacheDirOption = _DEFAULT_CACHE_DIR,
    data_dir: DataDirOption = None,
) -> None:
    """Stop the broker; its topics and messages stay in the data dir."""
    broker = _broker(cache_dir, data_dir, None, None)
    try:
        was_running = broker.stop()
    except BrokerError as exc:
        raise _fail(exc) from exc
    typer.echo("stopped" if was_running else "not running")


@app.command()
def status(
    cache_dir: CacheDirOption = _DEFAULT_CACHE_DIR,
    data_dir: DataDirOption = None,
) -> None:
    """Say whether the broker runs; exit status 1 when it does not."""
    broker = _broker(cache_dir, data_dir, None, None)
    if broker.is_running():
        typer.echo(f"running: bootstrap servers {broker.bootstrap_servers} (pid {broker.pid})")
    else:
        typer.echo(f"not running (data dir {broker.data_dir})")
        raise typer.Exit(1)


if __name__ == "__main__":
    app()
