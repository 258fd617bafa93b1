"""Chain-ready selling: signed staff badges and their revocations (issue 11)."""
