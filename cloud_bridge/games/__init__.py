"""Interactive games (MKT-10): the lucky draw (幸运抽奖), drawn on the server, audited."""
