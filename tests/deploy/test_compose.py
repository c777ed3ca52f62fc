"""docker-compose.yaml and the Dockerfile: valid, pinned, and consistent with the code.

No Docker engine is needed: the compose file is validated against the Compose
Specification's JSON schema as vendored by the check-jsonschema package, and its contents
are checked against the repository (paths, settings, ports, topics, the producer's CLI).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tomllib
import xml.etree.ElementTree as ET
from importlib import resources
from pathlib import Path, PurePosixPath
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from service.config import Settings
from tests.deploy.sources import (
    COMPOSE,
    DASHBOARD_PROVIDERS,
    DASHBOARDS_DIR,
    DATASOURCES,
    DOCKERFILE,
    DOCKERIGNORE,
    PROMETHEUS_CONFIG,
    ROOT,
    compose,
    interpolate,
    load_yaml,
)

MAVEN = "http://maven.apache.org/POM/4.0.0"
SERVICE = "service"  # the compose service running Driftline
PRODUCER = "producer"


def compose_schema() -> dict[str, Any]:
    """The Compose Specification schema shipped inside the check-jsonschema package."""
    vendor = resources.files("check_jsonschema.builtin_schemas.vendor")
    schema: dict[str, Any] = json.loads((vendor / "compose-spec.json").read_text())
    return schema


def services() -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = compose()["services"]
    return found


# What README tells users to export before `docker compose up` (besides Grafana's password).
HOST_ENVIRONMENT = {"DRIFTLINE_CHECKPOINT_KEY": "a-key-the-user-chose-0123456789"}


def environment(service: str) -> dict[str, str]:
    """A service's environment as the container sees it with only the required host variables."""
    env = services()[service].get("environment", {})
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {key: interpolate(str(value), HOST_ENVIRONMENT) for key, value in env.items()}


def command(service: str) -> list[str]:
    raw = services()[service]["command"]
    assert isinstance(raw, list), f"{service}: write the command as a list"
    return [interpolate(str(part)) for part in raw]


def option(args: list[str], name: str) -> str:
    return args[args.index(name) + 1]


def container_port(mapping: str) -> int:
    """The container side of a short-syntax port mapping ``[ip:]host:container``."""
    return int(mapping.rsplit(":", 1)[1])


def mounts(service: str) -> dict[PurePosixPath, str]:
    """``{container path: host path}`` of a service's bind mounts (short syntax)."""
    found = {}
    for volume in services()[service].get("volumes", []):
        source, target, *_ = volume.split(":")
        if source.startswith((".", "/")):
            found[PurePosixPath(target)] = source
    return found


def host_path(service: str, container_path: str) -> Path:
    """Where a container path of ``service`` is in the checkout, through its bind mounts."""
    path = PurePosixPath(container_path)
    for target, source in mounts(service).items():
        if path == target or target in path.parents:
            return (ROOT / source / path.relative_to(target)).resolve()
    raise AssertionError(f"{container_path} is not mounted into {service}")


# --- the file itself ------------------------------------------------------------------------


def test_compose_file_follows_the_compose_specification() -> None:
    schema = compose_schema()
    Draft202012Validator.check_schema(schema)
    errors = sorted(
        Draft202012Validator(schema).iter_errors(compose()), key=lambda error: error.json_path
    )
    assert not errors, "\n".join(f"{error.json_path}: {error.message}" for error in errors)


def test_the_schema_refuses_an_unknown_key() -> None:
    """The schema is strict enough to matter: a misspelt key fails it."""
    document = compose()
    broken = {**document, "services": {**document["services"], "kafka": {"imagee": "x"}}}
    assert list(Draft202012Validator(compose_schema()).iter_errors(broken))


def test_compose_file_is_compose_specification_not_legacy() -> None:
    assert COMPOSE.name == "docker-compose.yaml"
    assert "version" not in compose()


def test_every_image_is_pinned() -> None:
    for name, service in services().items():
        image = service.get("image")
        assert image, f"{name} has no image"
        if "build" in service:
            continue  # built here, tagged locally
        repository, _, tag = image.rpartition(":")
        assert repository and tag, f"{name}: {image} has no tag"
        assert tag != "latest" and re.search(r"\d+\.\d+\.\d+", tag), f"{name}: pin {image}"


def test_kafka_image_is_the_local_brokers_version() -> None:
    pom = ET.parse(ROOT / "scripts" / "kafka" / "pom.xml")
    version = pom.findtext("m:properties/m:kafka.version", namespaces={"m": MAVEN})
    assert version, "scripts/kafka/pom.xml has no kafka.version"
    major_minor = ".".join(version.split(".")[:2])
    for name in ("kafka", "topics"):
        image = services()[name]["image"]
        assert image.startswith("apache/kafka:"), image
        assert image.split(":")[1].startswith(f"{major_minor}."), (image, major_minor)


def test_bind_mounts_and_build_context_exist() -> None:
    for name, service in services().items():
        for target, source in mounts(name).items():
            assert (ROOT / source).exists(), f"{name} mounts missing {source} at {target}"
        if "build" in service:
            build = service["build"]
            context = ROOT / (build if isinstance(build, str) else build.get("context", "."))
            dockerfile = (
                build.get("dockerfile", "Dockerfile") if isinstance(build, dict) else "Dockerfile"
            )
            assert (context / dockerfile).is_file(), f"{name}: no {dockerfile} in {context}"


# --- Kafka, topics, service, producer -------------------------------------------------------


def test_kafka_is_health_checked_and_waited_for() -> None:
    kafka = services()["kafka"]
    test = " ".join(kafka["healthcheck"]["test"])
    assert "/opt/kafka/bin/kafka-broker-api-versions.sh" in test
    assert services()["topics"]["depends_on"]["kafka"]["condition"] == "service_healthy"
    for name in (SERVICE, PRODUCER):
        assert services()[name]["depends_on"]["topics"]["condition"] == (
            "service_completed_successfully"
        )


def test_kafka_listens_where_the_service_connects() -> None:
    kafka_env = {key: str(value) for key, value in services()["kafka"]["environment"].items()}
    advertised = kafka_env["KAFKA_ADVERTISED_LISTENERS"].split(",")
    bootstrap = environment(SERVICE)["DRIFTLINE_BOOTSTRAP_SERVERS"]
    assert any(listener.endswith(f"//{bootstrap}") for listener in advertised), advertised
    host, _ = bootstrap.split(":")
    assert host in services()
    assert kafka_env["KAFKA_PROCESS_ROLES"] == "broker,controller"  # KRaft, one node
    assert re.fullmatch(r"[A-Za-z0-9_-]{22}", kafka_env["CLUSTER_ID"])


def test_service_environment_names_real_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every DRIFTLINE_* variable is a Settings field, and the values are valid."""
    env = environment(SERVICE)
    fields = {f"DRIFTLINE_{name.upper()}" for name in Settings.model_fields}
    unknown = sorted(set(env) - fields)
    assert not unknown, f"not Settings fields: {unknown}"
    for key in os.environ:
        if key.startswith("DRIFTLINE_"):
            monkeypatch.delenv(key)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    settings = Settings()
    assert settings.host == "0.0.0.0"
    assert not settings.create_topics, "the topics service owns the topics"


def test_service_port_is_published_and_matches_settings() -> None:
    port = int(environment(SERVICE)["DRIFTLINE_PORT"])
    assert port == Settings.model_fields["port"].default
    assert [container_port(p) for p in services()[SERVICE]["ports"]] == [port]
    dockerfile = DOCKERFILE.read_text()
    assert re.search(rf"^EXPOSE {port}$", dockerfile, re.MULTILINE)
    assert f"DRIFTLINE_PORT={port}" in dockerfile


def test_topics_service_creates_the_topics_the_service_reads_and_writes() -> None:
    env = environment(SERVICE)
    script = " ".join(command("topics"))
    created = re.findall(r"--create\b.*?--topic (\S+)", script)
    assert sorted(created) == sorted([env["DRIFTLINE_TOPIC"], env["DRIFTLINE_DEAD_LETTER_TOPIC"]])
    assert script.count("--if-not-exists") == len(created), "re-running must not fail"
    assert (
        re.findall(r"--bootstrap-server (\S+)", script) == [env["DRIFTLINE_BOOTSTRAP_SERVERS"]] * 2
    )


def test_producer_writes_the_service_topic_at_a_configurable_rate() -> None:
    env = environment(SERVICE)
    args = command(PRODUCER)
    assert args[0] == "driftline-producer"
    assert option(args, "--topic") == env["DRIFTLINE_TOPIC"]
    assert option(args, "--bootstrap-servers") == env["DRIFTLINE_BOOTSTRAP_SERVERS"]
    raw_rate = services()[PRODUCER]["command"][args.index("--rate") + 1]
    assert raw_rate == "${PRODUCER_RATE:-50}"
    assert interpolate(raw_rate, {"PRODUCER_RATE": "7"}) == "7"
    assert services()[PRODUCER]["restart"] in {"on-failure", "unless-stopped", "always"}
    assert services()[PRODUCER]["image"] == services()[SERVICE]["image"]


def test_producer_command_is_accepted_by_the_producer_cli() -> None:
    """The compose command parses: every option exists (``--help`` stops before running)."""
    args = command(PRODUCER)
    result = subprocess.run(
        [sys.executable, "-m", "producer", *args[1:], "--help"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        env={**os.environ, "COLUMNS": "200"},  # wide enough that no option name is cut
    )
    assert result.returncode == 0, result.stdout + result.stderr
    for name in (arg for arg in args if arg.startswith("--")):
        assert re.search(rf"{re.escape(name)}\b", result.stdout), f"{name} not in:\n{result.stdout}"


def test_commands_are_installed_scripts() -> None:
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert command(PRODUCER)[0] in scripts
    cmd = re.search(r"^CMD (.+)$", DOCKERFILE.read_text(), re.MULTILINE)
    assert cmd is not None
    assert json.loads(cmd.group(1))[0] in scripts


# --- Dockerfile -----------------------------------------------------------------------------


def test_dockerfile_runs_as_non_root_with_a_health_check() -> None:
    text = DOCKERFILE.read_text()
    assert re.search(r"^FROM python:3\.11-slim", text, re.MULTILINE)
    users = re.findall(r"^USER (\S+)$", text, re.MULTILINE)
    assert users and users[-1] not in {"root", "0"}
    healthcheck = re.search(r"^HEALTHCHECK .*?CMD (.+)$", text, re.MULTILINE | re.DOTALL)
    assert healthcheck is not None
    assert "urllib.request" in healthcheck.group(1) and "/health" in healthcheck.group(1)
    assert "pip install" in text


def test_dockerignore_keeps_what_the_image_copies() -> None:
    ignore = DOCKERIGNORE.read_text().split()
    for copied in ("pyproject.toml", "README.md", "service/", "producer/"):
        assert f"!{copied}" in ignore, copied


def test_producer_does_not_inherit_the_service_health_check() -> None:
    assert services()[PRODUCER]["healthcheck"] == {"disable": True}


# --- Prometheus and Grafana wiring ----------------------------------------------------------


def test_prometheus_scrapes_the_service() -> None:
    config = load_yaml(PROMETHEUS_CONFIG)
    port = int(environment(SERVICE)["DRIFTLINE_PORT"])
    targets = [
        target
        for job in config["scrape_configs"]
        for static in job["static_configs"]
        for target in static["targets"]
    ]
    assert targets == [f"{SERVICE}:{port}"]
    (job,) = config["scrape_configs"]
    assert job.get("metrics_path", "/metrics") == "/metrics"
    assert config["global"]["scrape_interval"] == "5s"


def test_prometheus_container_reads_this_config_and_its_rules() -> None:
    flags = dict(arg.split("=", 1) for arg in services()["prometheus"]["command"])
    assert host_path("prometheus", flags["--config.file"]) == PROMETHEUS_CONFIG.resolve()
    for rule_file in load_yaml(PROMETHEUS_CONFIG)["rule_files"]:
        assert not PurePosixPath(rule_file).is_absolute(), "relative to the config file"
        assert (PROMETHEUS_CONFIG.parent / rule_file).is_file()


def test_grafana_provisioning_and_dashboards_are_mounted_where_grafana_reads() -> None:
    provisioning = "/etc/grafana/provisioning"  # where the image reads provisioning files
    assert host_path("grafana", f"{provisioning}/datasources") == DATASOURCES.parent.resolve()
    assert (
        host_path("grafana", f"{provisioning}/dashboards") == DASHBOARD_PROVIDERS.parent.resolve()
    )
    for provider in load_yaml(DASHBOARD_PROVIDERS)["providers"]:
        assert provider["type"] == "file"
        assert host_path("grafana", provider["options"]["path"]) == DASHBOARDS_DIR.resolve()
    home = services()["grafana"]["environment"]["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]
    assert host_path("grafana", home).is_file()


def test_grafana_datasource_points_at_the_prometheus_service() -> None:
    (datasource,) = load_yaml(DATASOURCES)["datasources"]
    match = re.fullmatch(r"http://([a-z0-9_-]+):(\d+)", datasource["url"])
    assert match, datasource["url"]
    host, port = match.groups()
    assert host == "prometheus" and host in services()
    assert int(port) in [container_port(p) for p in services()[host]["ports"]]


def test_grafana_anonymous_viewers_and_a_required_admin_password() -> None:
    env = services()["grafana"]["environment"]
    assert env["GF_AUTH_ANONYMOUS_ENABLED"] == "true"
    assert env["GF_AUTH_ANONYMOUS_ORG_ROLE"] == "Viewer"
    assert re.fullmatch(r"\$\{GRAFANA_ADMIN_PASSWORD:\?.+\}", env["GF_SECURITY_ADMIN_PASSWORD"])
    with pytest.raises(KeyError, match="GRAFANA_ADMIN_PASSWORD"):
        interpolate(env["GF_SECURITY_ADMIN_PASSWORD"])


def test_checkpoints_live_in_a_volume_and_need_a_key_from_the_host() -> None:
    service = services()["service"]
    env = service["environment"]
    assert re.fullmatch(r"\$\{DRIFTLINE_CHECKPOINT_KEY:\?.+\}", env["DRIFTLINE_CHECKPOINT_KEY"])
    with pytest.raises(KeyError, match="DRIFTLINE_CHECKPOINT_KEY"):
        interpolate(env["DRIFTLINE_CHECKPOINT_KEY"])
    volume = next(v for v in service["volumes"] if v.endswith(":" + env["DRIFTLINE_STATE_DIR"]))
    assert volume.split(":")[0] in compose()["volumes"]


def test_published_ports_listen_on_loopback_only() -> None:
    for name, service in services().items():
        for mapping in service.get("ports", []):
            assert str(mapping).startswith("127.0.0.1:"), f"{name}: {mapping}"
