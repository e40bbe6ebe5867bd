"""One rule for turning an identifier (a job id, a record key) into a path component.

Why: ids come from data (Silver rows, model answers, CLI arguments) and a path built from
one unescaped can leave its folder (``../x``, ``/abs``), fail to exist (a NUL, a 300-digit
id beyond the file-name limit) or mean another id's file. Every place that names a file or
folder after an id goes through :func:`path_component`; nothing else joins an id to a path.
"""

from __future__ import annotations

import hashlib
import re

#: Characters kept as they are: ids made only of them (the job ids of LinkedIn postings,
#: cache digests) keep their readable, recorded names.
_PLAIN = re.compile(r"[A-Za-z0-9_.-]{1,100}")
#: Escaped names start with this character, which a plain name never contains, so an
#: escaped name can never equal another id's plain name.
ESCAPE_MARK = "~"


def path_component(identifier: str) -> str:
    """``identifier`` itself when it is a plain, short name (letters, digits, ``_.-``, at
    most 100 characters, not ``.`` or ``..``); otherwise ``~`` and the SHA-256 of its UTF-8
    bytes. Always one safe, bounded component, and distinct ids give distinct names."""
    text = str(identifier)
    if _PLAIN.fullmatch(text) and text not in {".", ".."}:
        return text
    encoded = text.encode("utf-8", "surrogatepass")
    return ESCAPE_MARK + hashlib.sha256(encoded).hexdigest()
