"""SMS providers behind the :class:`handoff.ports.SmsSender` port (DESIGN.md §9).

One module per provider (``alibaba``, ``tencent``, ``console``), each with pure functions that build
requests and parse responses, a thin client and a status table; ``templates`` holds our template
keys and the Chinese texts; ``wrappers`` adds failover and timing around any sender; ``settings``
reads the ``HANDOFF_*`` variables and builds senders.
"""
