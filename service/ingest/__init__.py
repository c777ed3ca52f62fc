"""The ingest wing: from the event topic to the learner, one record at a time, in order.

``fetcher`` (the fetch process on the other core) polls and decodes, in the merge order of
``ordering``, and sends records over the pipe in the format of ``wire``; the ``worker`` thread
learns them, sends what was refused to the dead-letter topic (``dead_letters``), and commits
through ``kafka`` (clients, positions and retries); ``status`` is what it publishes for the API
and the metrics. Nothing here is imported by the package itself: the producer uses ``topics``
without loading the rest.
"""
