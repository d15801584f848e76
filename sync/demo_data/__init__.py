"""The demo workspace's content as data: businesses, their lines, customers' names, in JSON.

``corpus.json`` holds what the demo's fictitious customers and agents say and who they are;
``sync/providers/demo/corpus.py`` turns it into conversations. Text lives here, away from the
code, so that editing a line or adding a business is a data change. The file ships inside the
package (a wheel or an installer) and is read with ``importlib.resources``, never by a path.
"""

from __future__ import annotations

import json
from importlib import resources
from typing import Any


def load_corpus() -> dict[str, Any]:
    """The parsed ``corpus.json``: plain JSON values, checked and typed by its one reader."""
    data: dict[str, Any] = json.loads(
        resources.files(__name__).joinpath("corpus.json").read_bytes()
    )
    return data
