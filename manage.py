#!/usr/bin/env python
"""Django's command-line utility for administrative tasks (an installed wheel: `sf-mongo-sync`)."""
from syncsite.cli import main

if __name__ == "__main__":
    main()
