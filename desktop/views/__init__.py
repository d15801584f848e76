"""Windows, panes and dialogs, each with its presenter."""
