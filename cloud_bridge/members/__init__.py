"""Members: registration from the mini-program, levels by growth, points, member codes."""
