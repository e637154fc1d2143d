"""Small helpers with no shoal dependencies (layer 0): progress bars."""
