"""Creating the topics the service reads and writes, when they do not exist yet."""

from __future__ import annotations

import logging

from kafka.admin import KafkaAdminClient, NewTopic
from kafka.errors import TopicAlreadyExistsError

__all__ = ["ensure_topics"]

log = logging.getLogger(__name__)


def ensure_topics(
    admin: KafkaAdminClient, topics: dict[str, int], replication_factor: int = 1
) -> list[str]:
    """Create each ``{name: partitions}`` topic that is missing; return the names created.

    Topics that already exist keep their partitions: the service never repartitions a topic
    under its users' feet.
    """
    existing = set(admin.list_topics())
    missing = [
        NewTopic(name, num_partitions=partitions, replication_factor=replication_factor)
        for name, partitions in topics.items()
        if name not in existing
    ]
    created = []
    for topic in missing:
        try:
            admin.create_topics([topic])
            created.append(topic.name)
            log.info("created topic %s with %d partition(s)", topic.name, topic.num_partitions)
        except TopicAlreadyExistsError:
            log.info("topic %s was created concurrently", topic.name)
    return created
