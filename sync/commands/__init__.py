"""One module per headless ``caixa`` command: ``add_parser(subparsers)`` and ``run(args)``."""
