"""``python -m producer`` / ``driftline-producer``: post events to a Kafka topic.

One subcommand per kind of source (``dataset``, ``synth``, ``scenario``, ``file``), the same
delivery options on each, and ``list`` to see what there is. ``--dry-run`` prints the messages
as JSON Lines instead of sending them, which needs no broker. Errors in what was asked for (an
unknown name, a missing file, a bad column) exit with status 2, failures to deliver with 1.
"""

from __future__ import annotations

import itertools
import logging.config
import os
import sys
import time
from collections.abc import Iterable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, BinaryIO, NoReturn

import typer
from kafka.errors import KafkaError
from rich.console import Console
from rich.table import Table

from producer.messages import Example, to_messages, to_questions_and_answers
from producer.publish import PublishError, publish, write_jsonl
from producer.scenarios import DEFAULT_N, DEFAULT_NOISE, SCENARIOS, make_scenario
from producer.scenarios import DEFAULT_WIDTH as SCENARIO_WIDTH
from producer.sources import (
    DATASETS,
    DEFAULT_POSITION,
    DEFAULT_SEED,
    DEFAULT_WIDTH,
    STREAMS,
    SourceError,
    dataset,
    dataset_info,
    read_file,
    synth,
)

__all__ = ["app", "main"]

PROG = "driftline-producer"
DEFAULT_BOOTSTRAP_SERVERS = "localhost:9092"
DEFAULT_TOPIC = "driftline.events"
# Exit statuses: what was asked for is wrong (as click does for bad usage), or delivery failed.
EXIT_BAD_REQUEST = 2
EXIT_NOT_DELIVERED = 1
EXIT_INTERRUPTED = 130

LOGGING: dict[str, Any] = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": f"{PROG}: %(levelname)s %(name)s: %(message)s"}},
    "handlers": {
        "stderr": {
            "class": "logging.StreamHandler",
            "formatter": "plain",
            "stream": "ext://sys.stderr",
        }
    },
    "root": {"handlers": ["stderr"], "level": "WARNING"},
    # kafka-python logs every reconnection attempt; the CLI reports the outcome in one line.
    "loggers": {"kafka": {"level": "ERROR"}},
}


# One paragraph per scenario, so that rich's help keeps them apart.
_SCENARIO_LIST = "\n\n".join(
    f"[bold]{name}[/bold]: {description}" for name, description in SCENARIOS.items()
)

app = typer.Typer(
    name=PROG,
    help=(
        "Post events to a Kafka topic in Driftline's event format: River's bundled datasets, "
        "its synthetic streams, drift scenarios with known change points, or your own CSV or "
        f"JSON Lines file. See '{PROG} list' for every dataset and stream."
    ),
    epilog=f"[bold]Scenarios[/bold] ({PROG} scenario NAME):\n\n{_SCENARIO_LIST}",
    no_args_is_help=True,
    rich_markup_mode="rich",
    pretty_exceptions_enable=False,
    add_completion=False,
)

_DELIVERY = "Delivery"
Topic = Annotated[
    str,
    typer.Option(envvar="DRIFTLINE_TOPIC", help="Topic to post to.", rich_help_panel=_DELIVERY),
]
BootstrapServers = Annotated[
    str,
    typer.Option(
        envvar="DRIFTLINE_BOOTSTRAP_SERVERS",
        help="Kafka bootstrap servers, comma-separated host:port.",
        rich_help_panel=_DELIVERY,
    ),
]
Partitions = Annotated[
    int,
    typer.Option(
        min=1,
        envvar="DRIFTLINE_TOPIC_PARTITIONS",
        help="Partitions of the topic if it has to be created; an existing topic keeps its own.",
        rich_help_panel=_DELIVERY,
    ),
]
Rate = Annotated[
    float,
    typer.Option(
        min=0.0, help="Events per second; 0 sends as fast as possible.", rich_help_panel=_DELIVERY
    ),
]
Limit = Annotated[
    int | None,
    typer.Option(min=0, help="Send at most this many events.", rich_help_panel=_DELIVERY),
]
Ids = Annotated[
    bool,
    typer.Option(
        "--ids",
        help="Give event i the id 'i' (from 0), which is also its message key.",
        rich_help_panel=_DELIVERY,
    ),
]
Delay = Annotated[
    int | None,
    typer.Option(
        min=0,
        help=(
            "Send each event as a question (id and features) now and its answer (id and label) "
            "this many events later, in the order River's stream.simulate_qa gives; ids are "
            "'0', '1', ... and key their messages."
        ),
        rich_help_panel=_DELIVERY,
    ),
]
DelaySeconds = Annotated[
    float | None,
    typer.Option(
        min=0.0,
        help=(
            "As --delay, but the answer comes this many seconds after its question, by event "
            "times: question i is stamped ts = start + i / rate (needs --rate), its answer "
            "ts + this."
        ),
        rich_help_panel=_DELIVERY,
    ),
]
FeedbackTopic = Annotated[
    str | None,
    typer.Option(
        envvar="DRIFTLINE_FEEDBACK_TOPIC",
        help=(
            "With --delay or --delay-seconds: send the answers to this topic, the questions to "
            "--topic (the service reads both with DRIFTLINE_FEEDBACK_TOPIC). Records are "
            "stamped with strictly increasing times so the service merges them in send order."
        ),
        rich_help_panel=_DELIVERY,
    ),
]
Quiet = Annotated[
    bool,
    typer.Option(
        "--quiet", "-q", help="No progress bar and no summary.", rich_help_panel=_DELIVERY
    ),
]
DryRun = Annotated[
    bool,
    typer.Option(
        "--dry-run",
        help="Print the messages to stdout as JSON Lines instead of sending them.",
        rich_help_panel=_DELIVERY,
    ),
]
Output = Annotated[
    str | None,
    typer.Option(
        "--output",
        "-o",
        metavar="PATH",
        help="Write the messages as JSON Lines to PATH ('-' for stdout) instead of Kafka.",
        rich_help_panel=_DELIVERY,
    ),
]
Seed = Annotated[int, typer.Option(help="Seed of every random draw: same seed, same events.")]
Position = Annotated[
    int, typer.Option(min=1, help="Index (from 0) of the first event after the change.")
]


@app.command("list")
def list_sources() -> None:
    """List the datasets, synthetic streams and scenarios, with what each one is."""
    console = Console()
    for title, entries in (
        ("Datasets (dataset NAME)", {name: info.description for name, info in DATASETS.items()}),
        ("Synthetic streams (synth NAME)", {n: info.description for n, info in STREAMS.items()}),
        ("Scenarios (scenario NAME)", dict(SCENARIOS)),
    ):
        table = Table(title=title, title_justify="left", show_header=False, box=None)
        table.add_column(style="bold", no_wrap=True)
        table.add_column()
        for name, description in entries.items():
            table.add_row(name, description)
        console.print(table)
        console.print()


@app.command("dataset")
def dataset_command(
    name: Annotated[str, typer.Argument(metavar="NAME", help=f"One of: {', '.join(DATASETS)}.")],
    topic: Topic = DEFAULT_TOPIC,
    bootstrap_servers: BootstrapServers = DEFAULT_BOOTSTRAP_SERVERS,
    partitions: Partitions = 1,
    rate: Rate = 0.0,
    limit: Limit = None,
    ids: Ids = False,
    delay: Delay = None,
    delay_seconds: DelaySeconds = None,
    feedback_topic: FeedbackTopic = None,
    quiet: Quiet = False,
    dry_run: DryRun = False,
    output: Output = None,
) -> None:
    """Post one of River's bundled datasets, in its file's order (no download needed)."""
    delivery = _Delivery(
        topic=topic,
        bootstrap_servers=bootstrap_servers,
        partitions=partitions,
        rate=rate,
        limit=limit,
        ids=ids,
        delay=delay,
        delay_seconds=delay_seconds,
        feedback_topic=feedback_topic,
        quiet=quiet,
        dry_run=dry_run,
        output=output,
    )
    with _reported_errors():
        _deliver(dataset(name), dataset_info(name).size, delivery)


@app.command("synth")
def synth_command(
    name: Annotated[str, typer.Argument(metavar="NAME", help=f"One of: {', '.join(STREAMS)}.")],
    seed: Seed = DEFAULT_SEED,
    position: Position = DEFAULT_POSITION,
    width: Annotated[
        int, typer.Option(min=1, help="Events over which a drifting stream changes (1: abrupt).")
    ] = DEFAULT_WIDTH,
    concept: Annotated[
        int | None,
        typer.Option(help="Concept before the change: SEA's variant, Agrawal's function, ..."),
    ] = None,
    drift_concept: Annotated[
        int | None, typer.Option(help="Concept after the change, for the *-drift streams.")
    ] = None,
    topic: Topic = DEFAULT_TOPIC,
    bootstrap_servers: BootstrapServers = DEFAULT_BOOTSTRAP_SERVERS,
    partitions: Partitions = 1,
    rate: Rate = 0.0,
    limit: Limit = None,
    ids: Ids = False,
    delay: Delay = None,
    delay_seconds: DelaySeconds = None,
    feedback_topic: FeedbackTopic = None,
    quiet: Quiet = False,
    dry_run: DryRun = False,
    output: Output = None,
) -> None:
    """Post one of River's synthetic streams. They never end: stop them with --limit."""
    delivery = _Delivery(
        topic=topic,
        bootstrap_servers=bootstrap_servers,
        partitions=partitions,
        rate=rate,
        limit=limit,
        ids=ids,
        delay=delay,
        delay_seconds=delay_seconds,
        feedback_topic=feedback_topic,
        quiet=quiet,
        dry_run=dry_run,
        output=output,
    )
    with _reported_errors():
        examples = synth(
            name,
            seed=seed,
            position=position,
            width=width,
            concept=concept,
            drift_concept=drift_concept,
        )
        _deliver(examples, None, delivery)


@app.command("scenario", epilog=_SCENARIO_LIST)
def scenario_command(
    name: Annotated[str, typer.Argument(metavar="NAME", help=f"One of: {', '.join(SCENARIOS)}.")],
    n: Annotated[int, typer.Option("--n", "-n", min=1, help="Number of events.")] = DEFAULT_N,
    position: Annotated[
        int | None,
        typer.Option(
            min=1,
            help="Index (from 0) of the first event after the change; for recurring, the "
            "period. Default: half of --n (a quarter for recurring).",
            show_default=False,
        ),
    ] = None,
    width: Annotated[
        int, typer.Option(min=1, help="Events over which the gradual scenario changes.")
    ] = SCENARIO_WIDTH,
    noise: Annotated[
        float, typer.Option(min=0.0, max=1.0, help="Fraction of labels flipped at random.")
    ] = DEFAULT_NOISE,
    seed: Seed = DEFAULT_SEED,
    topic: Topic = DEFAULT_TOPIC,
    bootstrap_servers: BootstrapServers = DEFAULT_BOOTSTRAP_SERVERS,
    partitions: Partitions = 1,
    rate: Rate = 0.0,
    limit: Limit = None,
    ids: Ids = False,
    delay: Delay = None,
    delay_seconds: DelaySeconds = None,
    feedback_topic: FeedbackTopic = None,
    quiet: Quiet = False,
    dry_run: DryRun = False,
    output: Output = None,
) -> None:
    """Post a drift scenario: features x0..x4, a linear concept, and a change at a known place."""
    delivery = _Delivery(
        topic=topic,
        bootstrap_servers=bootstrap_servers,
        partitions=partitions,
        rate=rate,
        limit=limit,
        ids=ids,
        delay=delay,
        delay_seconds=delay_seconds,
        feedback_topic=feedback_topic,
        quiet=quiet,
        dry_run=dry_run,
        output=output,
    )
    with _reported_errors():
        scenario = make_scenario(name, n=n, position=position, width=width, seed=seed, noise=noise)
        _deliver(scenario.events(), scenario.n, delivery)


@app.command("file")
def file_command(
    path: Annotated[Path, typer.Argument(metavar="PATH", help="A .csv, .jsonl or .ndjson file.")],
    label_column: Annotated[
        str | None,
        typer.Option(help="Column holding the label; every other column is a feature."),
    ] = None,
    topic: Topic = DEFAULT_TOPIC,
    bootstrap_servers: BootstrapServers = DEFAULT_BOOTSTRAP_SERVERS,
    partitions: Partitions = 1,
    rate: Rate = 0.0,
    limit: Limit = None,
    ids: Ids = False,
    delay: Delay = None,
    delay_seconds: DelaySeconds = None,
    feedback_topic: FeedbackTopic = None,
    quiet: Quiet = False,
    dry_run: DryRun = False,
    output: Output = None,
) -> None:
    """Post the rows of a CSV or JSON Lines file, one event per row, in file order.

    CSV cells that read as numbers become floats, true/false become bools, anything else a
    string; empty cells are left out.
    """
    delivery = _Delivery(
        topic=topic,
        bootstrap_servers=bootstrap_servers,
        partitions=partitions,
        rate=rate,
        limit=limit,
        ids=ids,
        delay=delay,
        delay_seconds=delay_seconds,
        feedback_topic=feedback_topic,
        quiet=quiet,
        dry_run=dry_run,
        output=output,
    )
    with _reported_errors():
        _deliver(read_file(path, label_column=label_column), None, delivery)


@dataclass(frozen=True, slots=True)
class _Delivery:
    """Where and how to send, as every command's delivery options say."""

    topic: str
    bootstrap_servers: str
    partitions: int
    rate: float
    limit: int | None
    ids: bool
    quiet: bool
    dry_run: bool
    output: str | None
    delay: int | None = None
    delay_seconds: float | None = None
    feedback_topic: str | None = None


def _deliver(examples: Iterable[Example], total: int | None, delivery: _Delivery) -> None:
    """Send the events where the options say, and tell how it went on stderr."""
    limit = delivery.limit
    questions = delivery.delay is not None or delivery.delay_seconds is not None
    if delivery.feedback_topic is not None:
        if not questions:
            raise typer.BadParameter(
                "--feedback-topic is for answers: give --delay or --delay-seconds"
            )
        if delivery.dry_run or delivery.output is not None:
            raise typer.BadParameter(
                "--feedback-topic sends to Kafka: not with --output or --dry-run"
            )
        if delivery.feedback_topic == delivery.topic:
            raise typer.BadParameter("--feedback-topic must not be --topic")
    if questions:
        if delivery.delay is not None and delivery.delay_seconds is not None:
            raise typer.BadParameter("give --delay or --delay-seconds, not both")
        if delivery.delay_seconds is not None and delivery.rate <= 0:
            raise typer.BadParameter("--delay-seconds needs a --rate to stamp event times")
        if limit is not None:  # a limit counts events: each is a question and an answer
            examples, total, limit = itertools.islice(examples, limit), limit, None
        messages = to_questions_and_answers(
            examples,
            delay=delivery.delay,
            delay_seconds=delivery.delay_seconds,
            rate=delivery.rate,
            start=time.time(),
        )
        total = None if total is None else 2 * total
    else:
        messages = to_messages(examples, ids=delivery.ids)
    target = "-" if delivery.dry_run and delivery.output is None else delivery.output
    progress = not delivery.quiet
    with ExitStack() as stack:
        if target is None:
            summary = publish(
                messages,
                topic=delivery.topic,
                feedback_topic=delivery.feedback_topic,
                bootstrap_servers=delivery.bootstrap_servers,
                partitions=delivery.partitions,
                rate=delivery.rate,
                limit=limit,
                total=total,
                progress=progress,
            )
        else:
            to_stdout = target == "-"
            stream: BinaryIO = (
                sys.stdout.buffer if to_stdout else stack.enter_context(Path(target).open("wb"))
            )
            summary = write_jsonl(
                messages,
                stream,
                rate=delivery.rate,
                limit=limit,
                total=total,
                progress=progress,
                destination="stdout" if to_stdout else target,
            )
    if delivery.quiet:
        return
    if summary.created_topic:
        typer.echo(f"created topic {summary.destination}", err=True)
    typer.echo(
        f"sent {summary.sent:,} events to {summary.destination} in {summary.seconds:.2f} s "
        f"({summary.rate:,.0f} events/s)",
        err=True,
    )


@contextmanager
def _reported_errors() -> Iterator[None]:
    """Turn the errors a user can act on into one line on stderr and an exit status."""
    try:
        yield
    except SourceError as error:
        _fail(str(error), EXIT_BAD_REQUEST)
    except (PublishError, KafkaError) as error:
        _fail(str(error), EXIT_NOT_DELIVERED)
    except OSError as error:
        if isinstance(error, BrokenPipeError):
            _stop_writing_stdout()
            raise typer.Exit(0) from None
        _fail(str(error), EXIT_NOT_DELIVERED)
    except KeyboardInterrupt:
        _fail("interrupted", EXIT_INTERRUPTED)


def _stop_writing_stdout() -> None:
    """Whoever read stdout has had enough (``| head``): keep Python from complaining again
    when it flushes stdout at exit."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # stdout is not a real file (tests, embedding)
        pass


def _fail(message: str, status: int) -> NoReturn:
    typer.echo(f"{PROG}: error: {message}", err=True)
    raise typer.Exit(status)


def main() -> None:
    """Entry point of ``driftline-producer``."""
    logging.config.dictConfig(LOGGING)
    app(prog_name=PROG)


if __name__ == "__main__":
    main()
