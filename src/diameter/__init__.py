"""diameter: a Diameter (RFC 6733) stack, a drop-in superset of python-diameter 0.9.0.

Packages, from the bottom up:

- ``diameter.codec``: the wire codec (header, AVP framing, value types), standard library only.
- ``diameter.dictionary``: the dictionary as data (AVPs, applications, commands) and its generator.
- ``diameter.message``: python-diameter's message API: ``Message.from_bytes``, ``as_bytes``,
  ``dump``, the typed command classes (``diameter.message.commands``), ``constants``.
- ``diameter.validation``: checks a message against its command's grammar and flag rules.
- ``diameter.node``: peers, watchdog, routing; ``diameter.node.aio.DiameterNode`` (asyncio)
  and python-diameter's threaded ``Node``.

Start with README.md and docs/*.md; the command line is ``python -m diameter --help``.
"""

__version__ = "0.1.0"
