"""What the mini-program shows before an order: the stores and a store's products."""
