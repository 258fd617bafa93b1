"""Helpers the tests share: a real Mosquitto on a free port, free ports, waiting."""
