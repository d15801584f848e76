"""TRANSITIONAL: the demo corpus moved to ``sync.providers.demo.corpus``.

Two importers live in another branch's files and still name this module:
``sync/engine/demo_workspace.py`` (line 17) and ``tests/sync/store/local/test_bulk.py``
(line 251). Delete this file once they import ``sync.providers.demo.corpus``.
"""

from sync.providers.demo.corpus import PROFILES, DemoCustomer, generate_history

__all__ = ["PROFILES", "DemoCustomer", "generate_history"]
