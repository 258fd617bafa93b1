"""Small plumbing shared by every program: config loading, CLI builder, sdnotify, version.

With :mod:`contract`, the only package that the kiosk agent, drivers, cloud bridge and
TUI may all import (``tests/test_layers.py`` enforces it).
"""
