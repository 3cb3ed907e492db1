"""Cassettes: a recorded session with a real provider, as JSON Lines (format version 1).

`format` reads and writes the lines and their bodies; `cassette.schema.json` validates one
line and `check` a whole file (schema per line and the rules across lines); `redaction`
replaces tokens and account ids by stable aliases before anything reaches the disk and
`scan` looks for any secret that slipped through anyway. Plain Python and jsonschema
only: the recorder (in the proxy), the replayer and the tools all read the same code.
"""

from mock_server.cassettes.format import (
    CASSETTE_VERSION,
    Cassette,
    CassetteWriter,
    decode_body,
    encode_body,
    media_folder,
    read_cassette,
)

__all__ = [
    "CASSETTE_VERSION",
    "Cassette",
    "CassetteWriter",
    "decode_body",
    "encode_body",
    "media_folder",
    "read_cassette",
]
